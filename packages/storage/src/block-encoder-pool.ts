// Block encoding (decode segments, combine, Parquet-encode) is the CPU-heavy part of a flush or a
// compaction. It runs on a pool of worker threads so the event loop keeps acknowledging pushes
// and answering queries while a large block is written.

import { availableParallelism } from 'node:os';
import { TraceDecodeCache, combineTraces, compareBytes, decodeTrace } from '@andante/model';
import type { BlockConfig } from './block-config.js';
import { encodeBlock, type EncodedBlock, type TraceEntry } from './block-encode.js';
import { WorkerPool } from '@andante/model';
import type { Worker } from 'node:worker_threads';

/** One trace as an ingester holds it: tempopb.Trace segments, concatenable. */
export interface SegmentTrace {
  traceId: Uint8Array;
  segments: Uint8Array[];
}

export interface EncodeJob {
  tenantId: string;
  blockId: string;
  /** Each trace ID once, in any order: the encoder sorts them (on its worker). */
  traces: SegmentTrace[];
  cfg: Partial<BlockConfig>;
  compactionLevel: number;
}

function* combinedTraces(traces: readonly SegmentTrace[]): Iterable<TraceEntry> {
  // One block's traces share few resources and scopes: decode each once, key it once.
  const decodeCache = new TraceDecodeCache();
  const combineKeys = new WeakMap<object, string>();
  for (const t of traces) {
    const bytes = t.segments.length === 1 ? t.segments[0]! : Buffer.concat(t.segments);
    yield { traceId: t.traceId, trace: combineTraces([decodeTrace(bytes, decodeCache)], combineKeys) };
  }
}

/** The traces in ascending ID order (the same array when they already are). */
function sortedById(traces: SegmentTrace[]): SegmentTrace[] {
  for (let i = 1; i < traces.length; i++) {
    if (compareBytes(traces[i - 1]!.traceId, traces[i]!.traceId) > 0) return [...traces].sort((a, b) => compareBytes(a.traceId, b.traceId));
  }
  return traces;
}

/** The encoding itself; runs in a worker, or inline when no worker is available. */
export function encodeSegmentBlock(job: EncodeJob): EncodedBlock {
  return encodeBlock(job.tenantId, job.blockId, combinedTraces(sortedById(job.traces)), job.cfg, job.compactionLevel);
}

/**
 * Packs traces `start` to `end` of a job into one ArrayBuffer that is transferred to the worker,
 * not cloned: structured cloning thousands of small buffers costs two copies and much heap.
 * Layout: u32 trace count; per trace: u32 ID length + ID, u32 segment count, per segment u32 length + bytes.
 */
export function packTraces(traces: readonly SegmentTrace[], start = 0, end = traces.length): ArrayBuffer {
  let size = 4;
  for (let i = start; i < end; i++) size += packedSize(traces[i]!);
  const buf = new ArrayBuffer(size);
  const view = new DataView(buf);
  const bytes = new Uint8Array(buf);
  let pos = 0;
  const u32 = (v: number): void => {
    view.setUint32(pos, v, true);
    pos += 4;
  };
  const raw = (b: Uint8Array): void => {
    u32(b.byteLength);
    bytes.set(b, pos);
    pos += b.byteLength;
  };
  u32(end - start);
  for (let i = start; i < end; i++) {
    const t = traces[i]!;
    raw(t.traceId);
    u32(t.segments.length);
    for (const s of t.segments) raw(s);
  }
  return buf;
}

function packedSize(t: SegmentTrace): number {
  let size = 4 + t.traceId.byteLength + 4;
  for (const s of t.segments) size += 4 + s.byteLength;
  return size;
}

/**
 * Bytes of segments copied per event-loop turn when a job is sent to a worker. Packing a 50 MB
 * block in one go held the event loop 100-350 ms, 200 MB 2.8 s (measured, docs/design.md); a
 * MiB costs ~0.8 ms of CPU, and each chunk is transferred as soon as it is packed.
 */
export const PACK_CHUNK_BYTES = 1024 * 1024;

/**
 * The [start, end) runs of `traces` packed per message, found as they are sent (no pass over the
 * whole block in one turn): about `chunkBytes` each, a trace never cut (one larger than a chunk
 * is a chunk of its own), at least one run (possibly empty).
 */
export function* packChunks(traces: readonly SegmentTrace[], chunkBytes: number): Generator<[number, number]> {
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < traces.length; i++) {
    bytes += packedSize(traces[i]!);
    if (bytes >= chunkBytes) {
      yield [start, i + 1];
      start = i + 1;
      bytes = 0;
    }
  }
  if (start < traces.length || traces.length === 0) yield [start, traces.length];
}

/** One message of a job to an encoder worker; the job's other fields ride on the first. */
export interface EncodeJobMessage {
  id: number;
  job?: Omit<EncodeJob, 'traces'>;
  packed: ArrayBuffer;
  last: boolean;
}

/**
 * Sends a job to a worker in chunks of packed traces, yielding to the event loop between
 * chunks so pushes and reads are served while a large block is handed over.
 */
async function postInChunks(worker: Worker, id: number, job: EncodeJob, chunkBytes: number): Promise<void> {
  const { traces, ...rest } = job;
  let first = true;
  // One run ahead, so the last message says it is the last.
  const runs = packChunks(traces, chunkBytes);
  for (let next = runs.next(); !next.done; ) {
    const run = next.value;
    next = runs.next();
    const packed = packTraces(traces, run[0], run[1]);
    const msg: EncodeJobMessage = { id, packed, last: next.done === true };
    if (first) msg.job = rest;
    first = false;
    worker.postMessage(msg, [packed]);
    if (!next.done) await new Promise((r) => setImmediate(r));
  }
}

/** The inverse of packTraces: views into the buffer, no copies. */
export function unpackTraces(buf: ArrayBuffer): SegmentTrace[] {
  const view = new DataView(buf);
  let pos = 0;
  const u32 = (): number => {
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const raw = (): Uint8Array => {
    const len = u32();
    const out = new Uint8Array(buf, pos, len);
    pos += len;
    return out;
  };
  const traces: SegmentTrace[] = new Array(u32());
  for (let i = 0; i < traces.length; i++) {
    const traceId = raw();
    const segments: Uint8Array[] = new Array(u32());
    for (let j = 0; j < segments.length; j++) segments[j] = raw();
    traces[i] = { traceId, segments };
  }
  return traces;
}

// Running from TypeScript sources (tests) there is no compiled worker script: encode inline.
const WORKER_URL = import.meta.url.endsWith('.ts') ? null : new URL('./block-encoder-worker.js', import.meta.url);

/**
 * Young generation of an encoder worker. An encode allocates short-lived objects per span (decoded
 * spans, row values, hyparquet's level arrays); V8's default (16 MiB semi-spaces) scavenges them
 * several times per row group. 64 MiB semi-spaces (3 x 64 young) cut encode time ~10% (measured,
 * docs/block-format.md) for ~150 MiB more peak RSS per busy worker.
 */
const ENCODER_YOUNG_GENERATION_MB = 192;

/** Traces a split looks at to place its cuts: sorting them costs the event loop a few ms. */
const SPLIT_SAMPLE = 4096;

/**
 * Splits a block's traces (any order) into at most `parts` contiguous trace-ID ranges of about
 * equal bytes, each at least `minPartBytes`, so several workers can encode one large block as
 * several blocks whose ID ranges do not overlap (a lookup opens one; a trace is never split).
 * The cuts are placed on an evenly spaced sample of the traces, sorted, and every trace then
 * goes to its range: no sort of the whole block on the event loop (100k traces took ~250 ms
 * there); each part is sorted by its encoder. Parts keep the input's order.
 */
export function splitTraces(traces: readonly SegmentTrace[], parts: number, minPartBytes: number): SegmentTrace[][] {
  const traceBytes = (t: SegmentTrace): number => {
    let n = 0;
    for (const s of t.segments) n += s.byteLength;
    return n;
  };
  let total = 0;
  for (const t of traces) total += traceBytes(t);
  const n = Math.max(1, Math.min(parts, Math.floor(total / Math.max(1, minPartBytes)), traces.length));
  if (n === 1) return [traces.slice()];
  const step = Math.max(1, Math.floor(traces.length / SPLIT_SAMPLE));
  const sample: SegmentTrace[] = [];
  for (let i = 0; i < traces.length; i += step) sample.push(traces[i]!);
  sample.sort((a, b) => compareBytes(a.traceId, b.traceId));
  let sampleTotal = 0;
  for (const t of sample) sampleTotal += traceBytes(t);
  // cuts[k]: the first trace ID of part k + 1; a part closes once it holds its share of what is left.
  const cuts: Uint8Array[] = [];
  let bytes = 0;
  let done = 0;
  for (let i = 0; i < sample.length - 1 && cuts.length < n - 1; i++) {
    bytes += traceBytes(sample[i]!);
    if (bytes - done >= (sampleTotal - done) / (n - cuts.length)) {
      cuts.push(sample[i + 1]!.traceId);
      done = bytes;
    }
  }
  const out: SegmentTrace[][] = Array.from({ length: cuts.length + 1 }, () => []);
  for (const t of traces) {
    let part = 0;
    while (part < cuts.length && compareBytes(t.traceId, cuts[part]!) >= 0) part++;
    out[part]!.push(t);
  }
  return out.filter((p) => p.length > 0);
}

export class BlockEncoderPool {
  private readonly pool: WorkerPool<EncodeJob, EncodedBlock> | null;
  private closed = false;

  /**
   * One worker per core: while encoders run, the event loop mostly waits on the WAL's fsync and
   * the network, and with fewer workers than cores a large block leaves a core idle.
   */
  constructor(private readonly size: number = availableParallelism()) {
    this.pool =
      WORKER_URL === null || size <= 0
        ? null
        : new WorkerPool<EncodeJob, EncodedBlock>({
            name: 'block encoder',
            url: WORKER_URL,
            size,
            workerOptions: () => ({ resourceLimits: { maxYoungGenerationSizeMb: ENCODER_YOUNG_GENERATION_MB } }),
            // A worker that dies mid-job fails it through the pool; later chunks go nowhere.
            post: (worker, id, job) => void postInChunks(worker, id, job, PACK_CHUNK_BYTES),
            done: (msg) => {
              const m = msg as { id: number; block?: EncodedBlock; error?: string };
              return m.block ? { id: m.id, result: m.block } : { id: m.id, error: new Error(m.error ?? 'block encoding failed') };
            },
          });
  }

  /** True when jobs run on worker threads (false from TypeScript sources). */
  get threaded(): boolean {
    return this.pool !== null;
  }

  /** How many jobs run at once: a caller may split a large block into this many parts. */
  get parallelism(): number {
    return this.threaded ? this.size : 1;
  }

  encode(job: EncodeJob): Promise<EncodedBlock> {
    if (this.closed) return Promise.reject(new Error('block encoder pool is closed'));
    if (!this.pool) {
      try {
        return Promise.resolve(encodeSegmentBlock(job));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    return this.pool.run(job);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.close();
  }
}
