// Block encoding (decode segments, combine, Parquet-encode) is the CPU-heavy part of a flush or a
// compaction. It runs on a pool of worker threads so the event loop keeps acknowledging pushes
// and answering queries while a large block is written.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { combineTraces, decodeTrace } from '@andante/model';
import type { BlockConfig } from './block-config.js';
import { encodeBlock, type EncodedBlock, type TraceEntry } from './block-encode.js';

/** One trace as an ingester holds it: tempopb.Trace segments, concatenable. */
export interface SegmentTrace {
  traceId: Uint8Array;
  segments: Uint8Array[];
}

export interface EncodeJob {
  tenantId: string;
  blockId: string;
  /** Sorted ascending by trace ID, each ID once. */
  traces: SegmentTrace[];
  cfg: Partial<BlockConfig>;
  compactionLevel: number;
}

function* combinedTraces(traces: readonly SegmentTrace[]): Iterable<TraceEntry> {
  for (const t of traces) {
    const bytes = t.segments.length === 1 ? t.segments[0]! : Buffer.concat(t.segments);
    yield { traceId: t.traceId, trace: combineTraces([decodeTrace(bytes)]) };
  }
}

/** The encoding itself; runs in a worker, or inline when no worker is available. */
export function encodeSegmentBlock(job: EncodeJob): EncodedBlock {
  return encodeBlock(job.tenantId, job.blockId, combinedTraces(job.traces), job.cfg, job.compactionLevel);
}

interface Pending {
  resolve: (b: EncodedBlock) => void;
  reject: (e: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  busy: boolean;
  pending: Map<number, Pending>;
}

// Running from TypeScript sources (tests) there is no compiled worker script: encode inline.
const WORKER_URL = import.meta.url.endsWith('.ts') ? null : new URL('./block-encoder-worker.js', import.meta.url);

export class BlockEncoderPool {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: { job: EncodeJob; pending: Pending }[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly size: number = Math.max(1, availableParallelism() - 1)) {}

  /** True when jobs run on worker threads (false from TypeScript sources). */
  get threaded(): boolean {
    return WORKER_URL !== null && this.size > 0;
  }

  encode(job: EncodeJob): Promise<EncodedBlock> {
    if (this.closed) return Promise.reject(new Error('block encoder pool is closed'));
    if (!this.threaded) {
      try {
        return Promise.resolve(encodeSegmentBlock(job));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    return new Promise<EncodedBlock>((resolve, reject) => {
      this.queue.push({ job, pending: { resolve, reject } });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let w = this.workers.find((x) => !x.busy);
      if (!w && this.workers.length < this.size) w = this.spawn();
      if (!w) return;
      const { job, pending } = this.queue.shift()!;
      const id = this.nextId++;
      w.busy = true;
      w.pending.set(id, pending);
      w.worker.postMessage({ id, job });
    }
  }

  private spawn(): PoolWorker {
    const w: PoolWorker = { worker: new Worker(WORKER_URL!), busy: false, pending: new Map() };
    w.worker.unref();
    w.worker.on('message', (msg: { id: number; block?: EncodedBlock; error?: string }) => {
      const p = w.pending.get(msg.id);
      w.pending.delete(msg.id);
      w.busy = false;
      if (msg.block) p?.resolve(msg.block);
      else p?.reject(new Error(msg.error ?? 'block encoding failed'));
      this.dispatch();
    });
    const fail = (err: Error): void => {
      for (const p of w.pending.values()) p.reject(err);
      this.workers.splice(this.workers.indexOf(w), 1);
      this.dispatch();
    };
    w.worker.on('error', fail);
    w.worker.on('exit', (code) => {
      if (w.pending.size > 0) fail(new Error(`block encoder worker exited with code ${code}`));
      else if (this.workers.includes(w)) this.workers.splice(this.workers.indexOf(w), 1);
    });
    this.workers.push(w);
    return w;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }
}
