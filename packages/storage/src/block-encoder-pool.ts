// Block encoding (decode segments, combine, Parquet-encode) is the CPU-heavy part of a flush or a
// compaction. It runs on a pool of worker threads so the event loop keeps acknowledging pushes
// and answering queries while a large block is written.

import { closeSync, openSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { TraceDecodeCache, combineTraces, compareBytes, decodeTrace } from '@andante/model';
import type { BlockConfig } from './block-config.js';
import { BlockWriter, encodeBlock, type EncodedBlock, type TraceEntry } from './block-encode.js';
import { WorkerPool } from '@andante/model';
import { sortedByIdInTurns } from './trace-order.js';
import { readRangesSync } from './wal.js';
import type { Worker } from 'node:worker_threads';

/** One trace as an ingester holds it: tempopb.Trace segments, concatenable. */
export interface SegmentTrace {
  traceId: Uint8Array;
  /** Empty when they are not in memory: `ranges` says where they are in the job's `walPath`. */
  segments: Uint8Array[];
  /** [offset, length] of each segment in the job's WAL file, read by the encoder when `segments` is empty. */
  ranges?: number[];
}

export interface EncodeJob {
  tenantId: string;
  blockId: string;
  /** Each trace ID once, in any order: the encoder sorts them (on its worker). */
  traces: SegmentTrace[];
  cfg: Partial<BlockConfig>;
  compactionLevel: number;
  /** Written into the block's meta (copies of each trace across blocks; 0: left out). Default 1. */
  replicationFactor?: number;
  /** The WAL file of a sealed block whose traces come as `ranges`: the encoder reads them there, off the event loop. */
  walPath?: string;
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

/** Where a stream's traces are decoded and written: a worker's, or the pool's when it runs inline. */
export class SegmentBlockWriter {
  private readonly writer: BlockWriter;
  private readonly decodeCache = new TraceDecodeCache();
  private readonly combineKeys = new WeakMap<object, string>();

  /** The job's WAL file, opened at the first trace that comes as ranges (synchronous reads: this runs on a worker). */
  private wal: number | null = null;

  constructor(private readonly header: EncodeStreamHeader) {
    this.writer = new BlockWriter(header.tenantId, header.blockId, header.cfg, header.compactionLevel, undefined, header.replicationFactor);
  }

  /** Segment bytes of the traces in the row group being filled (not yet encoded). */
  openBytes = 0;

  add(t: SegmentTrace): void {
    const bytes = t.segments.length === 0 && t.ranges !== undefined ? this.read(t.ranges) : t.segments.length === 1 ? t.segments[0]! : Buffer.concat(t.segments);
    const before = this.writer.encodedBytes;
    this.writer.add(t.traceId, combineTraces([decodeTrace(bytes, this.decodeCache)], this.combineKeys));
    // A row group was encoded during this add: the trace opens (or ends) the next one.
    this.openBytes = (this.writer.encodedBytes === before ? this.openBytes : 0) + bytes.byteLength;
  }

  get encodedBytes(): number {
    return this.writer.encodedBytes;
  }

  finish(): EncodedBlock {
    this.close();
    return this.writer.finish();
  }

  /** Lets the WAL file go (a finished or failed job). */
  close(): void {
    if (this.wal !== null) closeSync(this.wal);
    this.wal = null;
  }

  /** The trace's segments, concatenated, from the WAL file. */
  private read(ranges: readonly number[]): Uint8Array {
    if (this.header.walPath === undefined) throw new Error('a trace came as WAL ranges for a job without a WAL file');
    this.wal ??= openSync(this.header.walPath, 'r');
    return readRangesSync(this.wal, this.header.walPath, ranges);
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
  return encodeBlock(job.tenantId, job.blockId, combinedTraces(sortedById(job.traces)), job.cfg, job.compactionLevel, job.replicationFactor);
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
    if (comesAsRanges(t)) {
      // Ranges instead of bytes: a count with the top bit set, then [f64 offset, u32 length] each.
      u32((t.ranges.length / 2) | RANGES_FLAG);
      for (let k = 0; k < t.ranges.length; k += 2) {
        view.setFloat64(pos, t.ranges[k]!, true);
        pos += 8;
        u32(t.ranges[k + 1]!);
      }
      continue;
    }
    u32(t.segments.length);
    for (const s of t.segments) raw(s);
  }
  return buf;
}

const RANGES_FLAG = 0x80000000;

function comesAsRanges(t: SegmentTrace): t is SegmentTrace & { ranges: number[] } {
  return t.segments.length === 0 && t.ranges !== undefined;
}

function packedSize(t: SegmentTrace): number {
  let size = 4 + t.traceId.byteLength + 4;
  if (comesAsRanges(t)) return size + (t.ranges.length / 2) * 12;
  for (const s of t.segments) size += 4 + s.byteLength;
  return size;
}

/** Segment bytes a trace stands for, in memory or as ranges. */
function segmentBytes(t: SegmentTrace): number {
  let n = 0;
  if (comesAsRanges(t)) for (let k = 1; k < t.ranges.length; k += 2) n += t.ranges[k]!;
  else for (const s of t.segments) n += s.byteLength;
  return n;
}

/**
 * Bytes of segments packed per message to a worker. Packing a 50 MB block in one go held the
 * event loop 100-350 ms, 200 MB 2.8 s (measured, docs/design.md); a MiB costs ~0.8 ms of CPU,
 * and each chunk is transferred as soon as it is packed.
 */
export const PACK_CHUNK_BYTES = 1024 * 1024;

/** One message of a job to an encoder worker; the job's other fields ride on the first. */
export interface EncodeJobMessage {
  id: number;
  job?: Omit<EncodeJob, 'traces'>;
  packed: ArrayBuffer;
  last: boolean;
}

/** A worker's acknowledgement of a stream's chunk, with the Parquet bytes written so far. */
export interface EncodeStreamAck {
  ack: number;
  encodedBytes: number;
  /** Segment bytes of the traces in the worker's open row group. */
  openBytes: number;
}

/** The block a stream writes: EncodeJob without its traces, which come one by one. */
export type EncodeStreamHeader = Omit<EncodeJob, 'traces'>;

/**
 * Chunks a stream keeps posted to its worker and not yet acknowledged, plus at most one packed
 * and waiting: with 1 MiB chunks the traces between the producer and the encoder stay ~3 MiB,
 * whatever the block's size, while the worker always has the next chunk at hand.
 */
const STREAM_CHUNKS_IN_FLIGHT = 2;

/**
 * A block written trace by trace (ascending trace IDs) while the encoder works: each full row
 * group is encoded and compressed as it fills, so what the block costs in memory is one row group,
 * the chunks in flight (STREAM_CHUNKS_IN_FLIGHT) and the Parquet bytes so far (`encodedBytes`),
 * not its traces. `write` returns a promise only when the producer must wait for the encoder.
 */
export interface BlockEncodeStream {
  write(trace: SegmentTrace): Promise<void> | undefined;
  /** Parquet bytes of the row groups encoded so far (as last reported by the encoder). */
  readonly encodedBytes: number;
  /**
   * Bytes this block holds in memory now: its Parquet bytes so far, plus the segment bytes of the
   * traces written and not yet in an encoded row group (queued for the encoder or in its open row
   * group). What a producer cuts a block at.
   */
  readonly heldBytes: number;
  finish(): Promise<EncodedBlock>;
  /** Gives the block up (the producer failed): frees the encoder, drops what it wrote. */
  abort(): void;
}

/** The stream of an inline pool (no worker thread): encodes on the caller's thread as it writes. */
class InlineEncodeStream implements BlockEncodeStream {
  private readonly writer: SegmentBlockWriter;

  constructor(header: EncodeStreamHeader) {
    this.writer = new SegmentBlockWriter(header);
  }

  write(trace: SegmentTrace): undefined {
    this.writer.add(trace);
    return undefined;
  }

  get encodedBytes(): number {
    return this.writer.encodedBytes;
  }

  get heldBytes(): number {
    return this.writer.encodedBytes + this.writer.openBytes;
  }

  finish(): Promise<EncodedBlock> {
    try {
      return Promise.resolve(this.writer.finish());
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  abort(): void {
    this.writer.close();
  }
}

/** The stream of a threaded pool: traces are packed into chunks and posted as the worker takes them. */
class WorkerEncodeStream implements BlockEncodeStream {
  private pending: SegmentTrace[] = [];
  private pendingBytes = 0;
  /** Packed chunks not yet posted (the last one flagged). */
  private readonly packed: { buf: ArrayBuffer; bytes: number; last: boolean }[] = [];
  private inFlightBytes: number[] = [];
  private worker: Worker | null = null;
  private id = -1;
  private first = true;
  private waiter: (() => void) | null = null;
  private error: Error | null = null;
  private ended = false;
  encodedBytes = 0;
  private openBytes = 0;
  readonly result: Promise<EncodedBlock>;

  constructor(
    readonly header: EncodeStreamHeader,
    run: (stream: WorkerEncodeStream) => Promise<EncodedBlock>,
    private readonly chunkBytes: number,
  ) {
    this.result = run(this);
    // The producer learns of a failure from write/finish; never an unhandled rejection here.
    this.result.catch((err: Error) => {
      this.error = err;
      this.wake();
    });
  }

  get heldBytes(): number {
    let n = this.encodedBytes + this.openBytes + this.pendingBytes;
    for (const c of this.packed) n += c.bytes;
    for (const b of this.inFlightBytes) n += b;
    return n;
  }

  write(trace: SegmentTrace): Promise<void> | undefined {
    if (this.error) return Promise.reject(this.error);
    if (this.ended) return Promise.reject(new Error('block encode stream is finished'));
    this.pending.push(trace);
    this.pendingBytes += segmentBytes(trace);
    if (this.pendingBytes < this.chunkBytes) return undefined;
    this.pack(false);
    this.send();
    if (this.packed.length === 0) return undefined;
    // The worker has its chunks and one more is waiting: wait until it takes it.
    return new Promise<void>((resolve) => (this.waiter = resolve)).then(() => {
      if (this.error) throw this.error;
    });
  }

  async finish(): Promise<EncodedBlock> {
    if (this.error) throw this.error;
    if (!this.ended) {
      this.ended = true;
      this.pack(true);
      this.send();
    }
    return this.result;
  }

  abort(): void {
    // The worker ends the job at the last chunk (with a block or an error, both dropped here).
    this.finish().catch(() => undefined);
  }

  /** Called by the pool when the job reaches a worker. */
  attach(worker: Worker, id: number): void {
    this.worker = worker;
    this.id = id;
    this.send();
  }

  onAck(ack: EncodeStreamAck): void {
    this.inFlightBytes.shift();
    this.encodedBytes = ack.encodedBytes;
    this.openBytes = ack.openBytes;
    this.send();
  }

  private pack(last: boolean): void {
    const traces = this.pending;
    this.packed.push({ buf: packTraces(traces), bytes: this.pendingBytes, last });
    this.pending = [];
    this.pendingBytes = 0;
  }

  private send(): void {
    if (!this.worker) return;
    while (this.packed.length > 0 && this.inFlightBytes.length < STREAM_CHUNKS_IN_FLIGHT) {
      const c = this.packed.shift()!;
      const msg: EncodeJobMessage = { id: this.id, packed: c.buf, last: c.last };
      if (this.first) {
        msg.job = this.header;
        this.first = false;
      }
      this.worker.postMessage(msg, [c.buf]);
      if (!c.last) this.inFlightBytes.push(c.bytes);
    }
    if (this.packed.length === 0) this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
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
    const count = u32();
    if (count & RANGES_FLAG) {
      const ranges: number[] = [];
      for (let k = 0; k < (count & ~RANGES_FLAG); k++) {
        ranges.push(view.getFloat64(pos, true), view.getUint32(pos + 8, true));
        pos += 12;
      }
      traces[i] = { traceId, segments: [], ranges };
      continue;
    }
    const segments: Uint8Array[] = new Array(count);
    for (let j = 0; j < segments.length; j++) segments[j] = raw();
    traces[i] = { traceId, segments };
  }
  return traces;
}

// Running from TypeScript sources (tests) there is no compiled worker script: encode inline.
const WORKER_URL = import.meta.url.endsWith('.ts') ? null : new URL('./block-encoder-worker.js', import.meta.url);

/**
 * Young generation of an encoder worker. 192 MiB (64 MiB semi-spaces) cut an encode's time ~10 %
 * alone on a thread, but in the running server, with decode workers and the event loop on the same
 * cores, 32 MiB writes blocks as fast or faster and peaks 200-300 MiB lower (docs/design.md, "Young
 * generations").
 */
const ENCODER_YOUNG_GENERATION_MB = 32;

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
  let total = 0;
  for (const t of traces) total += segmentBytes(t);
  const n = Math.max(1, Math.min(parts, Math.floor(total / Math.max(1, minPartBytes)), traces.length));
  if (n === 1) return [traces.slice()];
  const step = Math.max(1, Math.floor(traces.length / SPLIT_SAMPLE));
  const sample: SegmentTrace[] = [];
  for (let i = 0; i < traces.length; i += step) sample.push(traces[i]!);
  sample.sort((a, b) => compareBytes(a.traceId, b.traceId));
  let sampleTotal = 0;
  for (const t of sample) sampleTotal += segmentBytes(t);
  // cuts[k]: the first trace ID of part k + 1; a part closes once it holds its share of what is left.
  const cuts: Uint8Array[] = [];
  let bytes = 0;
  let done = 0;
  for (let i = 0; i < sample.length - 1 && cuts.length < n - 1; i++) {
    bytes += segmentBytes(sample[i]!);
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
  /**
   * Workers, started on first use, one set per use: a compaction's stream holds its worker for as
   * long as its producer takes to merge, mostly waiting, and must not keep a flush from a worker
   * meanwhile. Their CPU competes for the cores.
   */
  private readonly streamPools = new Map<StreamUse, WorkerPool<WorkerEncodeStream, EncodedBlock>>();
  private closed = false;

  /**
   * One worker per core (per use): while encoders run, the event loop mostly waits on the WAL's
   * fsync and the network, and with fewer workers than cores a large block leaves a core idle.
   */
  constructor(private readonly size: number = availableParallelism()) {}

  /** True when jobs run on worker threads (false from TypeScript sources). */
  get threaded(): boolean {
    return WORKER_URL !== null && this.size > 0;
  }

  /** How many jobs run at once: a caller may split a large block into this many parts. */
  get parallelism(): number {
    return this.threaded ? this.size : 1;
  }

  /**
   * Encodes a flush's traces (any order) as a stream on the flush workers: sorted on this thread
   * a run per turn of the event loop and sent a chunk at a time as the encoder takes them, so the
   * worker never holds a copy of the whole block (it used to hold its part whole to sort it: at
   * Tempo's 500 MB blocks the peak RSS was 100-300 MiB higher).
   */
  async encode(job: EncodeJob): Promise<EncodedBlock> {
    const { traces, ...header } = job;
    const stream = this.openStream(header, 'flush');
    try {
      for (const t of await sortedByIdInTurns(traces)) {
        const wait = stream.write(t);
        if (wait) await wait;
      }
      return await stream.finish();
    } catch (err) {
      stream.abort();
      throw err;
    }
  }

  /**
   * Opens a block that is written trace by trace in ascending ID order (a compaction's merge, or a
   * flush handing its traces over sorted) and encoded while it is written: memory stays one row
   * group, the chunks in flight and the Parquet bytes so far, never a copy of the block's traces.
   */
  openStream(header: EncodeStreamHeader, use: StreamUse = 'compaction'): BlockEncodeStream {
    if (this.closed) throw new Error('block encoder pool is closed');
    if (!this.threaded) return new InlineEncodeStream(header);
    let pool = this.streamPools.get(use);
    if (!pool) this.streamPools.set(use, (pool = newStreamPool(WORKER_URL!, `block encoder (${use} streams)`, this.size)));
    const streamPool = pool;
    return new WorkerEncodeStream(header, (stream) => streamPool.run(stream), PACK_CHUNK_BYTES);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.streamPools.values()].map((p) => p.close()));
  }
}

/** What a stream is for; each use has workers of its own (BlockEncoderPool.openStream). */
export type StreamUse = 'compaction' | 'flush';

function newStreamPool(url: URL, name: string, size: number): WorkerPool<WorkerEncodeStream, EncodedBlock> {
  /** Streams on a worker, by job ID, for their acknowledgements. */
  const streams = new Map<number, WorkerEncodeStream>();
  return new WorkerPool<WorkerEncodeStream, EncodedBlock>({
    name,
    url,
    size,
    workerOptions: () => ({ resourceLimits: { maxYoungGenerationSizeMb: ENCODER_YOUNG_GENERATION_MB } }),
    post: (worker, id, stream) => {
      streams.set(id, stream);
      stream.attach(worker, id);
    },
    done: (msg) => {
      const done = blockDone(msg);
      if (done) streams.delete(done.id);
      return done;
    },
    onOther: (_worker, msg) => {
      const ack = msg as EncodeStreamAck;
      streams.get(ack.ack)?.onAck(ack);
    },
  });
}

/** A worker's final message of a job (its block or its error); null for a stream's acknowledgement. */
function blockDone(msg: unknown): { id: number; result?: EncodedBlock; error?: Error } | null {
  const m = msg as { id?: number; block?: EncodedBlock; error?: string };
  if (m.id === undefined) return null;
  return m.block ? { id: m.id, result: m.block } : { id: m.id, error: new Error(m.error ?? 'block encoding failed') };
}
