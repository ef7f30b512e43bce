// Decoding an export and cutting its trace segments is most of the distributor's CPU. On worker
// threads it runs on every core while the event loop only moves bytes: it receives requests,
// appends to the WAL and answers. Small exports are split inline, where a round trip to a worker
// would cost the event loop more than the decode.

import { availableParallelism } from 'node:os';
import { InvalidArgumentError, WorkerPool } from '@andante/model';
import { splitExportRequest, unpackSegments, type InvalidSpans, type SplitExport } from './split-export.js';

/** Bodies below this are split on the event loop (decoding 16 KiB costs about a worker round trip). */
export const INLINE_BELOW_BYTES = 16 * 1024;

/**
 * Jobs queued per worker: with one, a worker idles while its result crosses to the main thread
 * and the next body crosses back.
 */
const JOBS_PER_WORKER = 4;

// Running from TypeScript sources (tests) there is no compiled worker script: split inline.
const WORKER_URL = import.meta.url.endsWith('.ts') ? null : new URL('./decoder-worker.js', import.meta.url);

interface WorkerAnswer {
  id: number;
  spanCount?: number;
  invalid?: InvalidSpans[];
  packed?: ArrayBuffer;
  error?: string;
  invalidArgument?: boolean;
}

export class ExportDecoderPool {
  private readonly pool: WorkerPool<Uint8Array, SplitExport> | null;

  /** `size` workers (0: everything inline), started when the first large export arrives. */
  constructor(size: number = availableParallelism()) {
    this.pool =
      WORKER_URL === null || size <= 0
        ? null
        : new WorkerPool<Uint8Array, SplitExport>({
            name: 'export decoder',
            url: WORKER_URL,
            size,
            jobsPerWorker: JOBS_PER_WORKER,
            post: (worker, id, body) => {
              // A copy the worker owns: the caller's buffer may be a view into a pool or a larger message.
              const own = new Uint8Array(body);
              worker.postMessage({ id, body: own }, [own.buffer]);
            },
            done: (msg) => {
              const m = msg as WorkerAnswer;
              if (m.packed) return { id: m.id, result: { spanCount: m.spanCount!, invalid: m.invalid!, segments: unpackSegments(m.packed) } };
              const message = m.error ?? 'export decoding failed';
              return { id: m.id, error: m.invalidArgument ? new InvalidArgumentError(message) : new Error(message) };
            },
          });
  }

  /** True when large exports are split on worker threads (false from TypeScript sources). */
  get threaded(): boolean {
    return this.pool !== null;
  }

  split(body: Uint8Array): Promise<SplitExport> {
    if (this.pool && body.byteLength >= INLINE_BELOW_BYTES) return this.pool.run(body);
    try {
      return Promise.resolve(splitExportRequest(body));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}
