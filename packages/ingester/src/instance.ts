// One tenant's data in one ingester: the head block (a WAL file plus an in-memory index of its
// trace segments), blocks being completed (cut, waiting for their backend write) and recently
// flushed blocks (named to every reader for complete_block_timeout, so none misses them while
// blocklists catch up). A segment is held in memory only until its WAL write is done; from then on
// it is read back from the file, in every block, the head included.
//
// A block changes hands head -> completing -> flushed; each hand-over makes the new place visible
// in the same synchronous step in which the old one lets go, so a read never finds it in neither.

import {
  bytesToHex,
  combineTraces,
  countSpans,
  decodeTrace,
  emptySearchMetrics,
  topSearchResults,
  collectTagNames,
  collectTagValues,
  type CompiledSearch,
  type SearchPartial,
  type TagRef,
  type SpanSelection,
  type TagScope,
  type TagValue,
  type TagsPartial,
  type TagValuesPartial,
  type SearchRequest,
  type TraceSearchMetadata,
  type BlockMeta,
  type IngesterTrace,
  type Logger,
  type PushResult,
  type TenantLimits,
  type Trace,
  type TraceSegment,
  type MetricsJob,
  type MetricsPartial,
  inTokenRanges,
  tokenForTraceId,
} from '@andante/model';
import { MAY_MATCH, compileSegmentFilter } from './segment-filter.js';
import { observeSegments } from './metrics-query.js';
import type { Backend } from '@andante/backend';
import {
  newBlockId,
  writeEncodedBlock,
  type BlockConfig,
  type BlockEncoderPool,
  splitTraces,
  type Wal,
  ReadArena,
  WalReader,
  type WalFile,
  type WalRecord,
} from '@andante/storage';
import type { IngesterConfig } from './config.js';
import type { IngesterMetrics } from './metrics.js';
import type { UnflushedBytes } from './unflushed-bytes.js';

/**
 * A cut block at least twice this large is written as several blocks, one per encoder worker, so
 * every core helps with it (a worker encodes ~50k spans/s; 32 MiB of OTLP is ~65k spans).
 */
export const MIN_SPLIT_PART_BYTES = 32 * 1024 * 1024;

interface TraceEntry {
  traceId: Uint8Array;
  /** The block whose WAL file `ranges` point into. */
  home: SegmentBlock;
  /**
   * The last `segments.length` of the trace's segments, in memory: those whose WAL write is not
   * done yet (all of them in a block without a reader). The ones before are read from the file.
   */
  segments: Uint8Array[];
  /** [offset, length] of each of the trace's segments in its home's WAL file, in order. */
  ranges: number[];
  bytes: number;
  lastAppendMs: number;
  /** Still receiving spans: counts against max_traces_per_user and follows the head on rotation. */
  live: boolean;
}

/**
 * Trace segments in one WAL file until they are written as a block: each is held in memory until
 * its append is written, then read back from the file.
 */
class SegmentBlock {
  readonly traces = new Map<string, TraceEntry>();
  bytes = 0;
  /** Set while its backend write is in progress. */
  flushing: Promise<BlockMeta | null> | null = null;
  /**
   * Block IDs of the parts it is written as (a large block is split so every encoder worker
   * helps), fixed at the first attempt so a retry overwrites the same blocks.
   */
  partIds: string[] | null = null;
  failedAtMs = 0;
  /**
   * Reads its WAL file: the segments whose writes are done, and every segment once the block is
   * sealed. Null for a block held in memory (its file could not be opened, or a write to it failed).
   * Retired once the block is flushed; reads already begun finish first.
   */
  reader: WalReader | null = null;
  /** While set, segments stay in memory once written (a cut is reading its live traces to carry them). */
  holdInMemory = false;

  constructor(
    readonly id: string,
    readonly createdMs: number,
    /**
     * Open while appends may still reach the block (the head, and a cut block until its WAL is
     * closed); null once sealed, and for a block recovered from a WAL. Only sealed blocks flush.
     */
    public wal: WalFile | null,
    readonly walPath: string,
  ) {}

  add(seg: TraceSegment, nowMs: number): TraceEntry {
    const entry = this.entry(seg.traceId, nowMs);
    entry.segments.push(seg.bytes);
    entry.bytes += seg.bytes.byteLength;
    this.bytes += seg.bytes.byteLength;
    return entry;
  }

  /** A segment already in the block's WAL file (a replayed one), known by its place there. */
  addWritten(traceId: Uint8Array, offset: number, length: number, nowMs: number): TraceEntry {
    const entry = this.entry(traceId, nowMs);
    entry.ranges.push(offset, length);
    entry.bytes += length;
    this.bytes += length;
    return entry;
  }

  private entry(traceId: Uint8Array, nowMs: number): TraceEntry {
    const key = bytesToHex(traceId);
    let entry = this.traces.get(key);
    if (!entry) {
      // A copy: the pushed ID is a view into the export's buffer, which it would keep alive after the
      // block's segments leave memory.
      entry = { traceId: Uint8Array.prototype.slice.call(traceId), home: this, segments: [], ranges: [], bytes: 0, lastAppendMs: nowMs, live: true };
      this.traces.set(key, entry);
    }
    entry.lastAppendMs = nowMs;
    entry.live = true;
    return entry;
  }
}

/**
 * An entry's segments as of one synchronous step: the ranges of those to read from its file with
 * `reader` (acquired by the caller), then those in memory.
 */
interface TakenSegments {
  reader: WalReader | null;
  ranges: number[];
  memory: Uint8Array[];
}

function takeSegments(entry: TraceEntry): TakenSegments {
  const reader = entry.home.reader;
  const onDisk = entry.ranges.length / 2 - entry.segments.length;
  return {
    reader,
    ranges: reader !== null && onDisk > 0 ? entry.ranges.slice(0, 2 * onDisk) : NO_RANGES,
    // A copy: a later push appends to the entry's own array.
    memory: entry.segments.length === 0 ? NO_SEGMENTS : entry.segments.slice(),
  };
}

const NO_RANGES: number[] = [];
const NO_SEGMENTS: Uint8Array[] = [];

/**
 * The segments of each trace's taken parts (one list per trace, read ones before those in memory
 * within a part). The reads of all traces go to each file together, so close ones are coalesced.
 */
async function readTaken(traces: readonly (readonly TakenSegments[])[], arena?: ReadArena): Promise<Uint8Array[][]> {
  const byReader = new Map<WalReader, number[]>();
  for (const parts of traces) {
    for (const t of parts) {
      if (t.ranges.length === 0) continue;
      let list = byReader.get(t.reader!);
      if (!list) byReader.set(t.reader!, (list = []));
      for (const n of t.ranges) list.push(n);
    }
  }
  const read = new Map<WalReader, { segments: Uint8Array[]; next: number }>();
  await Promise.all([...byReader].map(async ([reader, ranges]) => read.set(reader, { segments: await reader.readMany(ranges, arena), next: 0 })));
  return traces.map((parts) => {
    const out: Uint8Array[] = [];
    for (const t of parts) {
      if (t.ranges.length > 0) {
        // Taken in the order they were listed above.
        const r = read.get(t.reader!)!;
        for (let k = 0; k < t.ranges.length / 2; k++) out.push(r.segments[r.next++]!);
      }
      for (const m of t.memory) out.push(m);
    }
    return out;
  });
}

/**
 * Lets go of an entry's segments whose WAL write is done (they are read from the file from now on),
 * in one synchronous step: a reader that took the in-memory ones keeps its copy of the list.
 */
function releaseWritten(entry: TraceEntry): void {
  const home = entry.home;
  if (home.reader === null || home.holdInMemory || home.wal === null) return;
  const written = home.wal.written;
  const firstInMemory = entry.ranges.length / 2 - entry.segments.length;
  let release = 0;
  while (release < entry.segments.length) {
    const at = 2 * (firstInMemory + release);
    if (entry.ranges[at]! + entry.ranges[at + 1]! > written) break;
    release++;
  }
  if (release > 0) entry.segments = entry.segments.slice(release);
}

/** Traces whose reads a scan over the blocks starts together (coalesced where they lie close in a file). */
const READ_BATCH_TRACES = 256;

function segmentsToTrace(segments: readonly Uint8Array[]): Trace {
  // Segments are tempopb.Trace messages: their concatenation is one valid message.
  return combineTraces([decodeTrace(Buffer.concat(segments))]);
}

export interface InstanceDeps {
  tenantId: string;
  cfg: IngesterConfig;
  blockConfig: Partial<BlockConfig>;
  encoder: BlockEncoderPool;
  minSplitPartBytes: number;
  wal: Wal;
  backend: Backend;
  metrics: IngesterMetrics;
  logger: Logger;
  limits: () => TenantLimits;
  /** Shared by every tenant of the ingester. */
  unflushed: UnflushedBytes;
  onBlockFlushed?: ((meta: BlockMeta) => void) | undefined;
  /** Written into every block's meta: readers of replicated blocks (not 1) count each span once. */
  replicationFactor: number;
}

/** A block this ingester wrote; readers are told of it until complete_block_timeout has passed. */
interface FlushedBlock {
  meta: BlockMeta;
  flushedMs: number;
  /** Its record in the WAL folder (so a restart still names it), once written. */
  recordPath?: string;
}

export class TenantInstance {
  private head!: SegmentBlock;
  private readonly completing: SegmentBlock[] = [];
  private readonly flushed: FlushedBlock[] = [];
  private liveCount = 0;
  private cutting: Promise<void> = Promise.resolve();

  private constructor(private readonly deps: InstanceDeps) {}

  static async create(deps: InstanceDeps): Promise<TenantInstance> {
    const inst = new TenantInstance(deps);
    inst.head = await inst.newHead();
    return inst;
  }

  get tenantId(): string {
    return this.deps.tenantId;
  }

  private async newHead(): Promise<SegmentBlock> {
    const id = newBlockId();
    const wal = await this.deps.wal.create(this.deps.tenantId, id);
    const block = new SegmentBlock(id, Date.now(), wal, wal.path);
    block.reader = await this.openReader(block);
    return block;
  }

  private async openReader(block: SegmentBlock): Promise<WalReader | null> {
    try {
      return await WalReader.open(block.walPath);
    } catch (err) {
      this.deps.logger.warn('could not open a WAL file for reads; its block is held in memory', { tenant: this.tenantId, block: block.id, err });
      return null;
    }
  }

  /**
   * Adds a block recovered from a WAL file; it is completed and flushed like any cut block, under
   * a new block ID: the previous run may have written (part of) it already, and a reader may hold
   * that block's footer, so its objects are never rewritten with other bytes.
   */
  async recover(walPath: string, records: readonly WalRecord[]): Promise<void> {
    const block = new SegmentBlock(newBlockId(), Date.now(), null, walPath);
    // Read from its file, as any sealed block: none of it is held in memory. A file that cannot be
    // opened fails the start (the WAL is kept for the next).
    block.reader = await WalReader.open(walPath);
    const now = Date.now();
    for (const rec of records) block.addWritten(rec.traceId, rec.offset, rec.length, now).live = false;
    this.deps.unflushed.add(block.bytes);
    this.completing.push(block);
  }

  /**
   * Checks limits, indexes the accepted segments and appends them to the WAL; resolves once
   * they are durable. Segments are visible to queries from the moment they are indexed.
   */
  async push(segments: readonly TraceSegment[]): Promise<PushResult> {
    const limits = this.deps.limits();
    const now = Date.now();
    const head = this.head;
    const accepted: TraceSegment[] = [];
    const entries: TraceEntry[] = [];
    const result: PushResult = { rejected: [] };
    for (const seg of segments) {
      const entry = head.traces.get(bytesToHex(seg.traceId));
      const isNewLive = !entry || !entry.live;
      if (limits.maxBytesPerTrace > 0 && (entry?.bytes ?? 0) + seg.bytes.byteLength > limits.maxBytesPerTrace) {
        result.rejected.push({
          traceId: seg.traceId,
          spanCount: seg.spanCount,
          reason: 'trace_too_large',
          message: `TRACE_TOO_LARGE: max size of trace (${limits.maxBytesPerTrace}) exceeded while adding ${seg.bytes.byteLength} bytes to trace ${bytesToHex(seg.traceId)} for tenant ${this.tenantId}; consider raising global.max_bytes_per_trace`,
        });
        continue;
      }
      if (isNewLive && limits.maxTracesPerUser > 0 && this.liveCount >= limits.maxTracesPerUser) {
        result.rejected.push({
          traceId: seg.traceId,
          spanCount: seg.spanCount,
          reason: 'live_traces_exceeded',
          message: `LIVE_TRACES_EXCEEDED: max live traces per tenant exceeded: per-user traces limit (local: ${limits.maxTracesPerUser}) exceeded for tenant ${this.tenantId}; consider raising ingestion.max_traces_per_user`,
        });
        continue;
      }
      if (!entry) this.deps.metrics.tracesCreated.inc({ tenant: this.tenantId });
      if (isNewLive) this.liveCount++;
      entries.push(head.add(seg, now));
      accepted.push(seg);
    }
    this.deps.metrics.liveTraces.set({ tenant: this.tenantId }, this.liveCount);
    if (accepted.length > 0) {
      const bytes = accepted.reduce((n, s) => n + s.bytes.byteLength, 0);
      this.deps.unflushed.add(bytes);
      this.deps.metrics.bytesReceived.inc({ tenant: this.tenantId }, bytes);
      // Where each segment lands in the file is known as the append is queued (in this same step as
      // the index took it, so the two agree).
      const offsets: number[] = [];
      const durable = head.wal!.append(accepted, offsets);
      accepted.forEach((seg, i) => entries[i]!.ranges.push(offsets[i]!, seg.bytes.byteLength));
      await durable;
      for (const entry of entries) releaseWritten(entry);
    }
    return result;
  }

  /** Traces idle for trace_idle_period stop being live: they stay in the head block. */
  cutIdleTraces(nowMs: number, all = false): void {
    for (const entry of this.head.traces.values()) {
      if (entry.live && (all || nowMs - entry.lastAppendMs >= this.deps.cfg.traceIdlePeriodMs)) {
        entry.live = false;
        this.liveCount--;
      }
    }
    this.deps.metrics.liveTraces.set({ tenant: this.tenantId }, this.liveCount);
  }

  headIsDue(nowMs: number): boolean {
    const head = this.head;
    if (head.traces.size === 0) return false;
    return nowMs - head.createdMs >= this.deps.cfg.maxBlockDurationMs || head.bytes >= this.deps.cfg.maxBlockBytes || this.headHoldsBudgetShare();
  }

  /**
   * The head holds its share of max_unflushed_bytes: it is cut whole, live traces included (they
   * continue in the next block and reads combine them), because carrying them over would keep
   * their bytes unflushed.
   */
  headHoldsBudgetShare(): boolean {
    return this.head.bytes >= this.deps.unflushed.headCutBytes;
  }

  /**
   * Cuts the head block: a new head takes over, and traces still live move with it (their
   * segments are re-appended to the new WAL first) so a trace is usually written whole in one block.
   * Live traces stay in the cut block when they hold more than half of it: at an ingest rate where
   * trace_idle_period spans most of a block, carrying them would re-write most of the block to the
   * new WAL at every cut and keep it unflushed (reads combine a trace split over blocks).
   */
  cutHead(carryLive: boolean): Promise<void> {
    // One cut at a time: a sweep and /flush racing would both cut the same head (and close its WAL twice).
    const cut = this.cutting.then(() => this.cutHeadNow(carryLive));
    this.cutting = cut.catch(() => undefined);
    return cut;
  }

  private async cutHeadNow(carryLive: boolean): Promise<void> {
    const old = this.head;
    if (old.traces.size === 0) return;
    const next = await this.newHead();
    let liveBytes = 0;
    for (const entry of old.traces.values()) if (entry.live) liveBytes += entry.bytes;
    // Live traces' segments already written are read back first, while the old head still takes
    // pushes; what it takes meanwhile stays in memory, so each carried trace is whole at the hand-over.
    let carried: [string, TraceEntry][] = [];
    let written: Uint8Array[][] = [];
    if (carryLive && liveBytes <= old.bytes / 2) {
      old.holdInMemory = true;
      carried = [...old.traces].filter(([, entry]) => entry.live);
      try {
        written = await readTaken(carried.map(([, entry]) => [{ ...takeSegments(entry), memory: NO_SEGMENTS }]));
      } catch (err) {
        this.deps.logger.warn('could not read live traces back to carry them to the next head; they stay in the cut block', { tenant: this.tenantId, block: old.id, err });
        carried = [];
      }
    }
    // The old head joins `completing` in the same step as it stops being the head: readers find it
    // there while its carried traces are re-appended and its WAL closes (it flushes once sealed).
    this.head = next;
    this.completing.push(old);
    if (carried.length > 0) {
      const segments: TraceSegment[] = [];
      carried.forEach(([key, entry], i) => {
        old.traces.delete(key);
        old.bytes -= entry.bytes;
        next.traces.set(key, entry);
        next.bytes += entry.bytes;
        entry.home = next;
        // Nothing was let go since the read: the rest of its segments are in memory.
        entry.segments = [...written[i]!, ...entry.segments];
        for (const bytes of entry.segments) segments.push({ traceId: entry.traceId, bytes, spanCount: 0, startTimeUnixNano: 0n, endTimeUnixNano: 0n });
      });
      // The carried segments' places in the new file, in the order they were queued.
      const offsets: number[] = [];
      const durable = next.wal!.append(segments, offsets);
      let k = 0;
      for (const [, entry] of carried) entry.ranges = entry.segments.flatMap((b) => [offsets[k++]!, b.byteLength]);
      await durable;
      for (const [, entry] of carried) releaseWritten(entry);
    }
    // Traces left in the cut block stop counting as live; a new span makes one live again in the new head.
    for (const entry of old.traces.values()) {
      if (!entry.live) continue;
      entry.live = false;
      this.liveCount--;
    }
    this.deps.metrics.liveTraces.set({ tenant: this.tenantId }, this.liveCount);
    // Waits for appends already queued on the old WAL: the block must hold all of them.
    const wal = old.wal!;
    await wal.close();
    if (old.traces.size === 0) {
      old.wal = null;
      this.completing.splice(this.completing.indexOf(old), 1);
      void old.reader?.retire();
      await this.deps.wal.removeFile(old.walPath);
      return;
    }
    if (!(await this.seal(old, wal.intact))) return;
    // Sealed: flushable from here on (never while its segments change hands).
    old.wal = null;
  }

  /**
   * Lets a cut block's segments go from memory once its WAL is closed: all of them are read from
   * the file from now on. After a failed write the file past it cannot be trusted: the block is
   * then held in memory whole, the segments already let go read back first. False if that read
   * fails too: the block is left unflushed (its WAL is replayed at the next start).
   */
  private async seal(block: SegmentBlock, intact: boolean): Promise<boolean> {
    const reader = block.reader;
    if (reader === null) return true;
    if (intact) {
      for (const entry of block.traces.values()) entry.segments = [];
      return true;
    }
    const entries = [...block.traces.values()];
    let segments: Uint8Array[][];
    try {
      segments = await readTaken(entries.map((entry) => [takeSegments(entry)]));
    } catch (err) {
      this.deps.logger.error('a WAL write failed and its written segments cannot be read back; the block is left to the WAL replay at the next start', { tenant: this.tenantId, block: block.id, err });
      return false;
    }
    entries.forEach((entry, i) => (entry.segments = segments[i]!));
    block.reader = null;
    void reader.retire();
    return true;
  }

  /** Sealed blocks waiting for their backend write whose retry backoff has passed. */
  flushableBlocks(nowMs: number): SegmentBlock[] {
    return this.completing.filter((b) => b.wal === null && !b.flushing && nowMs - b.failedAtMs >= this.deps.cfg.flushRetryMs);
  }

  flushBlock(block: SegmentBlock): Promise<BlockMeta | null> {
    block.flushing ??= this.writeBlock(block).finally(() => (block.flushing = null));
    return block.flushing;
  }

  /** Writes every waiting block, waiting for writes already in progress; failures are retried later. */
  async flushPending(): Promise<void> {
    await Promise.all(this.completing.filter((b) => b.wal === null).map((b) => this.flushBlock(b)));
  }

  private async writeBlock(block: SegmentBlock): Promise<BlockMeta | null> {
    const timer = this.deps.metrics.flushDuration.startTimer();
    let metas: BlockMeta[];
    try {
      const encoder = this.deps.encoder;
      // A sealed block's traces go to the encoder as ranges of its WAL file, which it reads itself.
      const walPath = block.reader === null ? {} : { walPath: block.walPath };
      const parts = splitTraces([...block.traces.values()], encoder.parallelism, this.deps.minSplitPartBytes);
      if (block.partIds?.length !== parts.length) block.partIds = parts.map((_, i) => (i === 0 ? block.id : newBlockId()));
      const partIds = block.partIds;
      // Every part is written before the WAL goes: a failed part retries the whole block.
      metas = await Promise.all(
        parts.map(async (traces, i) => {
          // The ring's factor goes into the meta as it is encoded: no RF 3 block ever claims 1.
          const job = { tenantId: this.tenantId, blockId: partIds[i]!, traces, cfg: this.deps.blockConfig, compactionLevel: 0, replicationFactor: this.deps.replicationFactor, ...walPath };
          return writeEncodedBlock(this.deps.backend, await encoder.encode(job));
        }),
      );
    } catch (err) {
      block.failedAtMs = Date.now();
      this.deps.metrics.failedFlushes.inc();
      this.deps.logger.error('block flush failed; the WAL is kept and the flush retried', { tenant: this.tenantId, block: block.id, err });
      return null;
    }
    // The hand-over, in one synchronous step: the written blocks are named to readers before the
    // segments leave memory.
    const flushedMs = Date.now();
    const flushed = metas.map((meta): FlushedBlock => ({ meta, flushedMs }));
    this.flushed.push(...flushed);
    this.completing.splice(this.completing.indexOf(block), 1);
    // Reads that found the block before this step finish on the open file; no new one starts.
    void block.reader?.retire();
    for (const meta of metas) this.deps.onBlockFlushed?.(meta);
    this.deps.unflushed.release(block.bytes);
    try {
      // Remembered before the WAL goes, so an ingester restarted at any moment still names it.
      for (const f of flushed) f.recordPath = await this.deps.wal.recordFlushed(f.meta, f.flushedMs);
      await this.deps.wal.removeFile(block.walPath);
    } catch (err) {
      // The block is written: a WAL file left behind is replayed into a duplicate block, which reads combine.
      this.deps.logger.warn('could not record a flushed block or remove its WAL', { tenant: this.tenantId, block: block.id, err });
    }
    // Counted once the flush is done, WAL released included.
    for (const meta of metas) {
      this.deps.metrics.blocksFlushed.inc();
      this.deps.logger.info('block flushed', { tenant: this.tenantId, block: meta.blockID, traces: meta.totalObjects, bytes: meta.size });
    }
    timer();
    return metas[0]!;
  }

  /** A block flushed by a previous run, still within complete_block_timeout. */
  restoreFlushed(meta: BlockMeta, flushedMs: number, recordPath: string): void {
    this.flushed.push({ meta, flushedMs, recordPath });
  }

  /** Stops naming blocks flushed complete_block_timeout ago (blocklists have listed them since). */
  async expireFlushedBlocks(nowMs: number): Promise<void> {
    for (let i = this.flushed.length - 1; i >= 0; i--) {
      const f = this.flushed[i]!;
      if (nowMs - f.flushedMs < this.deps.cfg.completeBlockTimeoutMs) continue;
      this.flushed.splice(i, 1);
      if (f.recordPath) await this.deps.wal.removeFile(f.recordPath);
    }
  }

  private flushedBlocks(): BlockMeta[] {
    return this.flushed.map((f) => f.meta);
  }

  get pendingBlocks(): number {
    return this.completing.length;
  }

  /**
   * The trace's spans held by this ingester (in memory or in sealed blocks' WAL files), and the
   * blocks flushed recently (read by the caller), as of one instant.
   */
  async findTraceById(traceId: Uint8Array): Promise<IngesterTrace> {
    const key = bytesToHex(traceId);
    const { blocks, release } = this.holdBlocks();
    const parts: TakenSegments[] = [];
    for (const block of blocks) {
      const entry = block.traces.get(key);
      if (entry) parts.push(takeSegments(entry));
    }
    const flushedBlocks = this.flushedBlocks();
    try {
      const [segments] = await readTaken([parts]);
      return { trace: segments.length > 0 ? segmentsToTrace(segments) : null, flushedBlocks };
    } finally {
      release();
    }
  }

  /**
   * The blocks holding traces now (cut ones, then the head), the readers of sealed ones acquired:
   * in this step they are all still in `completing`, so none is retired, and their files stay open
   * until `release` (once the caller's reads are done).
   */
  private holdBlocks(): { blocks: SegmentBlock[]; release: () => void } {
    const blocks = [...this.completing, this.head];
    const readers = blocks.flatMap((b) => (b.reader?.acquire() ? [b.reader] : []));
    return { blocks, release: () => readers.forEach((r) => r.release()) };
  }

  /**
   * Visits every trace this ingester holds (head and cut blocks, in memory or sealed), each whole;
   * the traces are gathered before the first await. Yields to the event loop now and then: a head block can be large.
   */
  private async forEachTrace(visit: (trace: Trace, bytes: number) => void, signal?: AbortSignal): Promise<void> {
    await this.forEachTraceSegments((segments, bytes) => visit(segmentsToTrace(segments), bytes), signal);
  }

  /**
   * Every trace this ingester holds, as its segments (not decoded; a sealed block's read from its file). Stops (rejects) when `signal` aborts:
   * the caller went away. `keep` picks traces by ID (hex) before anything else is done with them.
   */
  private async forEachTraceSegments(visit: (segments: Uint8Array[], bytes: number) => void, signal?: AbortSignal, keep?: (key: string) => boolean): Promise<void> {
    signal?.throwIfAborted();
    // Per trace: its parts in each block, taken now (read in batches below).
    const byTrace = new Map<string, TakenSegments[]>();
    const { blocks, release } = this.holdBlocks();
    for (const block of blocks) {
      for (const [key, entry] of block.traces) {
        if (keep && !keep(key)) continue;
        const parts = byTrace.get(key);
        if (parts) parts.push(takeSegments(entry));
        else byTrace.set(key, [takeSegments(entry)]);
      }
    }
    const traces = [...byTrace.values()];
    // Two batches in turn: one read ahead while the other is visited. Visitors keep no segment
    // past their call, so a batch's memory is reused once it is visited.
    const arenas = [new ReadArena(), new ReadArena()];
    const readBatch = (at: number): Promise<Uint8Array[][]> | null => {
      if (at >= traces.length) return null;
      const arena = arenas[(at / READ_BATCH_TRACES) % 2]!;
      arena.reset();
      return readTaken(traces.slice(at, at + READ_BATCH_TRACES), arena);
    };
    let next: Promise<Uint8Array[][]> | null = null;
    try {
      next = readBatch(0);
      for (let at = 0; next !== null; at += READ_BATCH_TRACES) {
        const batch = await next;
        // The next batch's reads go on while this one is visited.
        next = readBatch(at + READ_BATCH_TRACES);
        for (const segments of batch) visit(segments, segments.reduce((sum, s) => sum + s.byteLength, 0));
        if (next !== null) {
          await new Promise((r) => setImmediate(r));
          signal?.throwIfAborted();
        }
      }
    } finally {
      // A read started ahead finishes before the files may close (a stop, a caller gone away).
      await next?.catch(() => undefined);
      release();
    }
  }

  async search(req: SearchRequest, query: CompiledSearch, signal?: AbortSignal): Promise<SearchPartial> {
    const metrics = emptySearchMetrics();
    const matches: TraceSearchMetadata[] = [];
    // Judged on the segment bytes first: only traces that may match are decoded for the engine.
    const judge = compileSegmentFilter(query.fetch);
    // Taken in the same step as the traces in memory (before forEachTraceSegments' first await).
    const flushedBlocks = this.flushedBlocks();
    await this.forEachTraceSegments((segments, bytes) => {
      metrics.inspectedTraces++;
      metrics.inspectedBytes += BigInt(bytes);
      const judged = judge ? judge(segments) : MAY_MATCH;
      if (judged !== MAY_MATCH) {
        metrics.inspectedSpans += BigInt(judged);
        return;
      }
      const trace = segmentsToTrace(segments);
      metrics.inspectedSpans += BigInt(countSpans(trace));
      const m = query.match(trace, req, req.spss);
      if (m) matches.push(m);
    }, signal);
    return { traces: topSearchResults(matches, req.limit), metrics, flushedBlocks };
  }

  /**
   * A metrics query's part over memory, with the blocks flushed recently (to be read by the
   * caller) and the blocks being written now (the caller must not read them from the blocklist:
   * their spans are counted here), all taken at one instant.
   */
  async metricsQueryRange(job: MetricsJob, tokenRanges?: readonly number[], signal?: AbortSignal, skipMemory = false): Promise<MetricsPartial> {
    const flushedBlocks = this.flushedBlocks();
    const coveredBlocks = this.completing.flatMap((b) => [b.id, ...(b.partIds ?? [])]);
    // At RF > 1 the querier gives each replica its share of the ring, so a trace is counted once.
    const keep = tokenRanges ? (key: string) => inTokenRanges(tokenRanges, tokenForTraceId(Buffer.from(key, 'hex'))) : undefined;
    if (!skipMemory) await this.forEachTraceSegments(observeSegments(job), signal, keep);
    return { ...job.partial(), flushedBlocks, coveredBlocks };
  }

  async searchTags(select: (trace: Trace) => SpanSelection, signal?: AbortSignal): Promise<TagsPartial> {
    const names = new Map<TagScope, Set<string>>();
    let inspectedBytes = 0n;
    const flushedBlocks = this.flushedBlocks();
    await this.forEachTrace((trace, bytes) => {
      inspectedBytes += BigInt(bytes);
      collectTagNames(trace, names, select(trace));
    }, signal);
    return { names: Object.fromEntries([...names].map(([k, v]) => [k, [...v]])), inspectedBytes, flushedBlocks };
  }

  async searchTagValues(ref: TagRef, select: (trace: Trace) => SpanSelection, signal?: AbortSignal): Promise<TagValuesPartial> {
    const values = new Map<string, TagValue>();
    let inspectedBytes = 0n;
    const flushedBlocks = this.flushedBlocks();
    await this.forEachTrace((trace, bytes) => {
      inspectedBytes += BigInt(bytes);
      collectTagValues(trace, ref, values, select(trace));
    }, signal);
    return { values: [...values.values()], inspectedBytes, flushedBlocks };
  }

  async close(): Promise<void> {
    await this.head.wal?.close();
    await Promise.all([this.head, ...this.completing].map((b) => b.reader?.retire()));
  }
}
