// Reader for vAndante1 and vAndante2 blocks (one schema; v2 adds BROTLI pages and other column
// encodings, which hyparquet reads given READ_DECOMPRESSORS). Trace by ID: bloom shard -> index
// (row groups whose ID range holds the ID) -> the trace_id column of those row groups (binary
// search: rows are sorted) -> all columns of just those rows. hyparquet's own `filter` cannot
// prune on a binary trace ID (its statistics come back as strings), so the pruning is ours and
// the read uses rowStart/rowEnd.

import { parquetMetadata, parquetRead } from 'hyparquet';
import type { AsyncBuffer, FileMetaData, RowGroup } from 'hyparquet';
import type { Backend, KeyPath } from '@andante/backend';
import { bytesEqual, compareBytes } from '@andante/model';
import type { SpanColumnBatch, SpanColumnsRequest, FetchSpansRequest, TagRef, TagScope, TagValue, Trace, TraceSearchMetadata } from '@andante/model';
import { blockTagNames, blockTagValues, type TagSource } from './block-tags.js';
import { searchBlockColumns } from './block-scan.js';
import { canScanColumns, scanSpanColumns, type ScanDedup, type SpanColumnsResult } from './block-metrics-scan.js';
import type { BlockSearchOptions, BlockSearchResult, TraceRows } from './block-scan.js';
import { PrefetchedBuffer, backendAsyncBuffer } from './async-buffer.js';
import { READ_DECOMPRESSORS } from './block-codecs.js';
import { rowTraceId, rowsToTrace } from './block-decode.js';
import { readRowSource, readRowsByPages, type RowSource } from './row-pages.js';
import type { BlockTables, SpanRowData } from './block-decode.js';
import type { TraceEntry } from './block-encode.js';
import { decodeBlockIndex } from './block-index.js';
import type { RowGroupIndex } from './block-index.js';
import { DATA_NAME, INDEX_NAME, base64ToBytes, bloomName } from './block-meta.js';
import type { BlockMeta } from './block-meta.js';
import { RESOURCE_TABLE_KEY, SCOPE_TABLE_KEY, TRACE_COLUMNS } from './block-schema.js';
import { decodeResourceTable, decodeScopeTable } from './block-tables.js';
import { bloomShardFor, bloomShardTest } from './bloom.js';

/**
 * Trace IDs from `from` (inclusive) up to `to` (exclusive; absent: to the end), compared as bytes.
 * `onBytes` hears the bytes of each row group read for the range.
 */
export interface TraceIdRange {
  from: Uint8Array;
  to?: Uint8Array;
  onBytes?: (bytes: number) => void;
}

/** How iterateTraces hands traces out. */
export interface IterateOptions {
  /**
   * The caller only reads each trace and lets it go (the compactor's merge): traces share their
   * IDs' bytes with the block's pages and their resource and scope attributes with the block's
   * tables (rowsToTrace's `shared`), and must not be modified.
   */
  shared?: boolean;
}

export interface BlockReader {
  findTraceById(traceId: Uint8Array): Promise<Trace | null>;
  /** False when the block surely lacks the trace (ID range, bloom filter); no data is read. */
  mayContain(traceId: Uint8Array): Promise<boolean>;
  iterateTraces(range?: TraceIdRange, opts?: IterateOptions): AsyncIterable<TraceEntry>;
  search(
    fetch: FetchSpansRequest | undefined,
    opts: BlockSearchOptions,
    evaluate: (trace: Trace) => TraceSearchMetadata | null,
  ): Promise<BlockSearchResult>;
  tagNames(into: Map<TagScope, Set<string>>): Promise<void>;
  tagValues(ref: TagRef, into: Map<string, TagValue>): Promise<boolean>;
  scanSpanColumns(req: SpanColumnsRequest, visit: (batch: SpanColumnBatch) => Promise<void>, dedup?: ScanDedup): Promise<SpanColumnsResult | null>;
  canScanColumns(req: SpanColumnsRequest): Promise<boolean>;
}

interface Footer {
  metadata: FileMetaData;
  tables: BlockTables;
}

interface ByteRange {
  start: number;
  end: number;
}

/** The bytes of a row group's column chunks (contiguous: a writer emits one group at a time). */
function rowGroupRange(rg: RowGroup): ByteRange {
  let start = Infinity;
  let end = 0;
  for (const c of rg.columns) {
    const m = c.meta_data;
    if (!m) continue;
    const s = Number(m.dictionary_page_offset || m.data_page_offset);
    start = Math.min(start, s);
    end = Math.max(end, s + Number(m.total_compressed_size));
  }
  return { start, end };
}

/**
 * Where the offset indexes of every row group are: the writer puts them together after the last
 * row group, so one read (cached per block) serves every lookup's page selection.
 */
function offsetIndexRegion(metadata: FileMetaData): ByteRange {
  let start = Infinity;
  let end = 0;
  for (const rg of metadata.row_groups) {
    for (const c of rg.columns) {
      if (c.offset_index_offset === undefined || !c.offset_index_length) continue;
      const s = Number(c.offset_index_offset);
      start = Math.min(start, s);
      end = Math.max(end, s + c.offset_index_length);
    }
  }
  return { start, end };
}

interface FetchedRegion {
  start: number;
  bytes: Uint8Array;
}

function lowerBound(ids: Uint8Array[], id: Uint8Array, upper: boolean): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareBytes(ids[mid]!, id);
    if (c < 0 || (upper && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Row groups a search keeps fetched while it reads candidate traces (they come in time order, not row order). */
const SEARCH_CACHED_GROUPS = 4;

/** Rows between two wanted traces of one row group below which they are read as one run. */
const RUN_GAP_ROWS = 512;

/**
 * Ranges sorted by rowStart grouped into runs [from, to) whose gaps are at most `gap` rows; `end`
 * is the run's last row + 1.
 */
function coalesceRowRanges(ranges: readonly { rowStart: number; rowEnd: number }[], gap: number): { from: number; to: number; end: number }[] {
  const runs: { from: number; to: number; end: number }[] = [];
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    const last = runs[runs.length - 1];
    if (last && r.rowStart - last.end <= gap) {
      last.to = i + 1;
      last.end = Math.max(last.end, r.rowEnd);
    } else {
      runs.push({ from: i, to: i + 1, end: r.rowEnd });
    }
  }
  return runs;
}

/**
 * The last few row groups read whole (data and offset indexes, one request each), so reading many
 * traces of one group costs one fetch instead of two small reads per column per trace.
 */
class RowGroupCache {
  private readonly buffers = new Map<number, Promise<PrefetchedBuffer>>();
  private readonly starts: number[] = [];

  constructor(
    private readonly metadata: FileMetaData,
    private readonly file: AsyncBuffer,
    private readonly offsetIndexes: FetchedRegion | null,
    private readonly capacity: number,
  ) {
    let row = 0;
    for (const rg of metadata.row_groups) {
      this.starts.push(row);
      row += Number(rg.num_rows);
    }
  }

  /** The first block row of row group `i`. */
  startOf(i: number): number {
    return this.starts[i]!;
  }

  /** The row group holding block row `row`. */
  groupOf(row: number): number {
    return Math.max(0, lowerBoundNumber(this.starts, row + 1) - 1);
  }

  /** The buffer holding the row group of block row `row`. */
  bufferFor(row: number): Promise<PrefetchedBuffer> {
    const i = this.groupOf(row);
    let pending = this.buffers.get(i);
    if (pending) {
      this.buffers.delete(i); // re-insert: most recently used last
      this.buffers.set(i, pending);
      return pending;
    }
    const rg = this.metadata.row_groups[i]!;
    const buf = new PrefetchedBuffer(this.file);
    const data = rowGroupRange(rg);
    if (this.offsetIndexes) buf.add(this.offsetIndexes.start, this.offsetIndexes.bytes);
    pending = buf.prefetch(data.start, data.end).then(() => buf);
    this.buffers.set(i, pending);
    if (this.buffers.size > this.capacity) this.buffers.delete(this.buffers.keys().next().value!);
    return pending;
  }
}

function lowerBoundNumber(xs: number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class ParquetV1Reader implements BlockReader {
  private readonly keypath: KeyPath;
  private readonly minId: Uint8Array;
  private readonly maxId: Uint8Array;
  private footer?: Promise<Footer>;
  private index?: Promise<RowGroupIndex[]>;
  private offsetIndexes?: Promise<FetchedRegion | null>;
  private readonly bloomShards = new Map<number, Promise<Uint8Array>>();

  constructor(
    private readonly backend: Backend,
    private readonly meta: BlockMeta,
  ) {
    this.keypath = [meta.tenantID, meta.blockID];
    this.minId = base64ToBytes(meta.minID);
    this.maxId = base64ToBytes(meta.maxID);
  }

  async mayContain(traceId: Uint8Array): Promise<boolean> {
    if (traceId.length !== this.minId.length) return false;
    if (compareBytes(traceId, this.minId) < 0 || compareBytes(traceId, this.maxId) > 0) return false;
    return this.bloomMayContain(traceId);
  }

  async findTraceById(traceId: Uint8Array): Promise<Trace | null> {
    if (!(await this.mayContain(traceId))) return null;
    const [index, { metadata, tables }] = await Promise.all([this.loadIndex(), this.loadFooter()]);
    const candidates = index
      .map((g, i) => ({ g, i }))
      .filter(({ g }) => compareBytes(g.minID, traceId) <= 0 && compareBytes(traceId, g.maxID) <= 0);
    if (candidates.length === 0) return null;

    const file = new PrefetchedBuffer(await this.dataFile());
    const [offsetIndexes] = await Promise.all([
      this.loadOffsetIndexes(metadata),
      ...candidates.map(({ i }) => {
        const data = rowGroupRange(metadata.row_groups[i]!);
        return file.prefetch(data.start, data.end);
      }),
    ]);
    if (offsetIndexes) file.add(offsetIndexes.start, offsetIndexes.bytes);

    // Rows of the trace: a contiguous run, possibly across neighbouring row groups.
    let first = -1;
    let last = -1;
    for (const { g } of candidates) {
      const ids = await readTraceIds(file, metadata, g.rowStart, g.rowStart + g.rowCount);
      const lo = lowerBound(ids, traceId, false);
      const hi = lowerBound(ids, traceId, true);
      if (hi > lo) {
        if (first < 0) first = g.rowStart + lo;
        last = g.rowStart + hi;
      }
    }
    if (first < 0) return null;
    // Only the pages holding the rows, per row group the trace spans.
    const rows: SpanRowData[] = [];
    for (const { g, i } of candidates) {
      const lo = Math.max(first, g.rowStart);
      const hi = Math.min(last, g.rowStart + g.rowCount);
      if (lo < hi) rows.push(...(await readRowsByPages(file, metadata, metadata.row_groups[i]!, g.rowStart, TRACE_COLUMNS, lo, hi)));
    }
    return rowsToTrace(traceId, rows, tables);
  }

  async *iterateTraces(range?: TraceIdRange, opts: IterateOptions = {}): AsyncIterable<TraceEntry> {
    const shared = opts.shared === true;
    if (range) {
      yield* this.iterateRange(range, shared);
      return;
    }
    const { metadata, tables } = await this.loadFooter();
    const inner = await this.dataFile();
    let pendingId: Uint8Array | undefined;
    let pending: SpanRowData[] = [];
    let rowStart = 0;
    // One request per row group; the page reader's slices of it are then served from memory. The
    // next group's request goes out while this group's rows are decoded and handed out, so an
    // object store's latency is not paid between groups (a compaction reads every group in turn).
    const groups = metadata.row_groups;
    const fetchGroup = (rg: RowGroup): Promise<PrefetchedBuffer> => {
      const file = new PrefetchedBuffer(inner);
      const range = rowGroupRange(rg);
      const fetched = file.prefetch(range.start, range.end).then(() => file);
      // Awaited in its turn; a reader that stops early leaves it unawaited, never unhandled.
      fetched.catch(() => undefined);
      return fetched;
    };
    let next = groups.length > 0 ? fetchGroup(groups[0]!) : undefined;
    for (let g = 0; g < groups.length; g++) {
      const rg = groups[g]!;
      const rowEnd = rowStart + Number(rg.num_rows);
      const file = await next!;
      next = g + 1 < groups.length ? fetchGroup(groups[g + 1]!) : undefined;
      const rows = await this.groupRows(file, metadata, rg, rowStart, rowStart, rowEnd);
      for (let i = 0; i < rows.length; i++) {
        const row = rows.row(i);
        const id = rowTraceId(row);
        if (pendingId && !bytesEqual(pendingId, id)) {
          yield { traceId: pendingId, trace: rowsToTrace(pendingId, pending, tables, shared) };
          pending = [];
        }
        if (pending.length === 0) pendingId = id.slice();
        pending.push(row);
      }
      rowStart = rowEnd;
    }
    if (pendingId && pending.length > 0) yield { traceId: pendingId, trace: rowsToTrace(pendingId, pending, tables, shared) };
  }

  /**
   * The traces whose IDs fall in the range, in ID order: the index skips row groups wholly
   * outside it; a group wholly inside is read whole, a group the range cuts has its trace_id
   * column read and only the pages holding the range's rows decoded.
   */
  private async *iterateRange(range: TraceIdRange, shared: boolean): AsyncIterable<TraceEntry> {
    const [index, { metadata, tables }] = await Promise.all([this.loadIndex(), this.loadFooter()]);
    const inner = await this.dataFile();
    const inRange = (id: Uint8Array): boolean => compareBytes(id, range.from) >= 0 && (!range.to || compareBytes(id, range.to) < 0);
    const byStart = new Map(index.map((g) => [g.rowStart, g]));
    let pendingId: Uint8Array | undefined;
    let pending: SpanRowData[] = [];
    let rowStart = 0;
    for (const rg of metadata.row_groups) {
      const groupStart = rowStart;
      const rowEnd = rowStart + Number(rg.num_rows);
      rowStart = rowEnd;
      const g = byStart.get(groupStart);
      // Without an index entry for the group (an index of another layout), it is read and filtered.
      if (g && (compareBytes(g.maxID, range.from) < 0 || (range.to && compareBytes(g.minID, range.to) >= 0))) continue;
      const whole = g !== undefined && inRange(g.minID) && inRange(g.maxID);
      const file = new PrefetchedBuffer(inner);
      const bytes = rowGroupRange(rg);
      await file.prefetch(bytes.start, bytes.end);
      range.onBytes?.(bytes.end - bytes.start);
      let rows: RowSource;
      if (whole) {
        rows = await this.groupRows(file, metadata, rg, groupStart, groupStart, rowEnd);
      } else {
        const ids = await readTraceIds(file, metadata, groupStart, rowEnd);
        const lo = lowerBound(ids, range.from, false);
        const hi = range.to ? lowerBound(ids, range.to, false) : ids.length;
        if (hi <= lo) continue;
        rows = await this.groupRows(file, metadata, rg, groupStart, groupStart + lo, groupStart + hi);
      }
      for (let i = 0; i < rows.length; i++) {
        const row = rows.row(i);
        const id = rowTraceId(row);
        if (!inRange(id)) continue;
        if (pendingId && !bytesEqual(pendingId, id)) {
          yield { traceId: pendingId, trace: rowsToTrace(pendingId, pending, tables, shared) };
          pending = [];
        }
        if (pending.length === 0) pendingId = id.slice();
        pending.push(row);
      }
    }
    if (pendingId && pending.length > 0) yield { traceId: pendingId, trace: rowsToTrace(pendingId, pending, tables, shared) };
  }

  async search(
    fetch: FetchSpansRequest | undefined,
    opts: BlockSearchOptions,
    evaluate: (trace: Trace) => TraceSearchMetadata | null,
  ): Promise<BlockSearchResult> {
    const { metadata, tables } = await this.loadFooter();
    const groups = new RowGroupCache(metadata, await this.dataFile(), await this.loadOffsetIndexes(metadata), SEARCH_CACHED_GROUPS);
    return searchBlockColumns(
      {
        metadata,
        tables,
        readRange: (start, end) => this.backend.readRange(this.keypath, DATA_NAME, start, end - start),
        readTraces: (wanted, visit) => this.readTraceRows(wanted, metadata, tables, groups, visit),
      },
      fetch,
      opts,
      evaluate,
    );
  }

  async scanSpanColumns(req: SpanColumnsRequest, visit: (batch: SpanColumnBatch) => Promise<void>, dedup?: ScanDedup): Promise<SpanColumnsResult | null> {
    const src = await this.tagSource();
    return scanSpanColumns(src, req, visit, dedup ? { ...dedup, index: await this.loadIndex() } : undefined);
  }

  async canScanColumns(req: SpanColumnsRequest): Promise<boolean> {
    return canScanColumns((await this.loadFooter()).tables, req);
  }

  async tagNames(into: Map<TagScope, Set<string>>): Promise<void> {
    return blockTagNames(await this.tagSource(), into);
  }

  async tagValues(ref: TagRef, into: Map<string, TagValue>): Promise<boolean> {
    return blockTagValues(await this.tagSource(), ref, into);
  }

  private async tagSource(): Promise<TagSource> {
    const { metadata, tables } = await this.loadFooter();
    return { metadata, tables, readRange: (start, end) => this.backend.readRange(this.keypath, DATA_NAME, start, end - start) };
  }

  /**
   * Traces by their row ranges: only the pages holding their rows are decoded, and once per call:
   * ranges of one row group that lie close together are read as one run (a page holds thousands of
   * rows, so reading each trace of a full scan alone decoded every page once per trace in it).
   */
  private async readTraceRows(
    wanted: readonly TraceRows[],
    metadata: FileMetaData,
    tables: BlockTables,
    groups: RowGroupCache,
    visit: (index: number, trace: Trace | null) => void,
  ): Promise<void> {
    const byGroup = new Map<number, number[]>();
    const whole = new Map<number, Promise<Trace | null>>();
    wanted.forEach((w, i) => {
      if (w.whole) {
        whole.set(i, this.findTraceById(w.traceId));
        return;
      }
      const g = groups.groupOf(w.rowStart);
      const list = byGroup.get(g) ?? [];
      list.push(i);
      byGroup.set(g, list);
    });
    // Every run's pages are fetched and decoded at once (an object store's requests overlap); the
    // traces are then built and visited one at a time, in the order asked (the search's pruning
    // depends on it: most recent first).
    const runOf: ({ lo: number; rows: Promise<RowSource> } | undefined)[] = new Array(wanted.length);
    for (const [g, indexes] of byGroup) {
      indexes.sort((a, b) => wanted[a]!.rowStart - wanted[b]!.rowStart);
      for (const run of coalesceRowRanges(indexes.map((i) => wanted[i]!), RUN_GAP_ROWS)) {
        const lo = wanted[indexes[run.from]!]!.rowStart;
        const rows = groups.bufferFor(lo).then((file) => readRowSource(file, metadata, metadata.row_groups[g]!, groups.startOf(g), TRACE_COLUMNS, lo, run.end, true));
        // Awaited in turn below; one failing must not leave the others' rejections unhandled.
        rows.catch(() => undefined);
        for (let k = run.from; k < run.to; k++) runOf[indexes[k]!] = { lo, rows };
      }
    }
    for (const p of whole.values()) p.catch(() => undefined);
    for (let i = 0; i < wanted.length; i++) {
      const found = whole.get(i);
      if (found) {
        visit(i, await found);
        continue;
      }
      const run = runOf[i]!;
      const rows = await run.rows;
      const w = wanted[i]!;
      const from = w.rowStart - run.lo;
      visit(i, rowsToTrace(w.traceId, Array.from({ length: w.rowEnd - w.rowStart }, (_, j) => rows.row(from + j)), tables, true));
    }
  }

  private async bloomMayContain(traceId: Uint8Array): Promise<boolean> {
    const shards = this.meta.bloomShards;
    if (shards <= 0) return true;
    // Shards are immutable and small: keep them, so a lookup of an ID the block does not hold costs
    // no request (and needs no backend at all, e.g. while S3 is down).
    const index = bloomShardFor(traceId, shards);
    let shard = this.bloomShards.get(index);
    if (!shard) {
      const pending = this.backend.read(this.keypath, bloomName(index));
      this.bloomShards.set(index, pending);
      pending.catch(() => this.bloomShards.delete(index));
      shard = pending;
    }
    return bloomShardTest(await shard, traceId);
  }

  private dataFile(): Promise<AsyncBuffer> {
    return backendAsyncBuffer(this.backend, this.keypath, DATA_NAME, this.meta.size);
  }

  /** Parsed Parquet footer and tables, read once with one explicit range (meta.size and meta.footerSize). */
  private loadFooter(): Promise<Footer> {
    this.footer ??= (async () => {
      const length = this.meta.footerSize + 8;
      const bytes = await this.backend.readRange(this.keypath, DATA_NAME, this.meta.size - length, length);
      const metadata = parquetMetadata(bytes);
      const kv = new Map((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value ?? '']));
      const table = (key: string): Uint8Array => {
        const v = kv.get(key);
        if (v === undefined) throw new Error(`block ${this.meta.tenantID}/${this.meta.blockID}: footer lacks ${key}`);
        return new Uint8Array(Buffer.from(v, 'base64'));
      };
      return {
        metadata,
        tables: { resources: decodeResourceTable(table(RESOURCE_TABLE_KEY)), scopes: decodeScopeTable(table(SCOPE_TABLE_KEY)) },
      };
    })();
    this.footer.catch(() => (this.footer = undefined));
    return this.footer;
  }

  /**
   * Block rows [from, to) of the row group `rg` (its first row is block row `groupStart`), from a
   * file holding the group's bytes, for a reader that passes over each group once: decoded page by
   * page by our page reader (~11 % less CPU per compacted span than hyparquet's assembly of the
   * attribute lists), the chunks' layouts not kept, so memory does not grow with the block. Each
   * row is assembled as it is taken: a whole block iterates ~45 % faster than with the group's rows
   * built up front, which outlived young-generation collections.
   */
  private async groupRows(file: PrefetchedBuffer, metadata: FileMetaData, rg: RowGroup, groupStart: number, from: number, to: number): Promise<RowSource> {
    const offsetIndexes = await this.loadOffsetIndexes(metadata);
    if (offsetIndexes) file.add(offsetIndexes.start, offsetIndexes.bytes);
    return readRowSource(file, metadata, rg, groupStart, TRACE_COLUMNS, from, to, false);
  }

  /** Every row group's offset indexes, read once (null when the block has none). */
  private loadOffsetIndexes(metadata: FileMetaData): Promise<FetchedRegion | null> {
    this.offsetIndexes ??= (async () => {
      const { start, end } = offsetIndexRegion(metadata);
      if (end <= start) return null;
      return { start, bytes: await this.backend.readRange(this.keypath, DATA_NAME, start, end - start) };
    })();
    this.offsetIndexes.catch(() => (this.offsetIndexes = undefined));
    return this.offsetIndexes;
  }

  private loadIndex(): Promise<RowGroupIndex[]> {
    this.index ??= this.backend.read(this.keypath, INDEX_NAME).then(decodeBlockIndex);
    this.index.catch(() => (this.index = undefined));
    return this.index;
  }
}

/** The trace_id column for rows [rowStart, rowEnd), without building row objects. */
async function readTraceIds(file: AsyncBuffer, metadata: FileMetaData, rowStart: number, rowEnd: number): Promise<Uint8Array[]> {
  const out = new Array<Uint8Array>(rowEnd - rowStart);
  await parquetRead({
    file,
    metadata,
    columns: ['trace_id'],
    rowStart,
    rowEnd,
    utf8: false,
    compressors: READ_DECOMPRESSORS,
    onChunk: ({ columnData, rowStart: chunkStart }) => {
      for (let i = 0; i < columnData.length; i++) {
        const row = chunkStart + i;
        if (row >= rowStart && row < rowEnd) out[row - rowStart] = columnData[i] as Uint8Array;
      }
    },
  });
  return out;
}
