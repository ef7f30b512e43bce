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

/** Bytes of framing a body's buffer may hold beside it and still be handed over whole (gRPC's 5-byte message prefix). */
const MAX_FRAMING_BYTES = 16;

/**
 * True when `body`'s ArrayBuffer holds nothing else of note (a received message, its framing at
 * most): it is transferred to the worker rather than copied, which saves the event loop a copy
 * and, more, the garbage collections that each 250 KiB of external memory brings nearer. A view
 * into a shared pool or a larger buffer is copied.
 */
function ownsItsBuffer(body: Uint8Array): boolean {
  return body.buffer instanceof ArrayBuffer && body.buffer.byteLength - body.byteLength <= MAX_FRAMING_BYTES;
}

interface WorkerAnswer {
  id: number;
  spanCount?: number;
  invalid?: InvalidSpans[];
  packed?: ArrayBuffer;
  error?: string;
  invalidArgument?: boolean;
}

/**
 * Young generation of a decode worker: a decode's garbage dies within its export, so a small one
 * is enough. Left to V8, it is 48 MiB on Node 20 and 192 MiB on Node 24 (semi-spaces scaled to the
 * machine's memory), which the workers fill before collecting: peak RSS then grows by that much per
 * worker, and decoding gains nothing from it (docs/design.md, "Young generations").
 */
const DECODER_YOUNG_GENERATION_MB = 32;

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
            workerOptions: () => ({ resourceLimits: { maxYoungGenerationSizeMb: DECODER_YOUNG_GENERATION_MB } }),
            post: (worker, id, body) => {
              const transferable = ownsItsBuffer(body) ? body : new Uint8Array(body);
              worker.postMessage({ id, body: transferable }, [transferable.buffer as ArrayBuffer]);
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

  /** Splits `body`, which may be detached (transferred to a worker) when this returns. */
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
