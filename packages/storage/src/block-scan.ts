// Search over one block with the query's conditions pushed down (Tempo's FetchSpansRequest):
// row groups whose statistics rule a condition out are skipped, only the columns the conditions
// name are read, each condition is tested once per distinct value (dictionaries) and then per row
// by code. What survives is a set of candidate traces, which are read whole, most recent first,
// and handed to the engine until `limit` of them match. Pruning is only ever conservative: a
// condition storage cannot evaluate here keeps every row, and the engine decides on whole traces.

import type { FileMetaData, RowGroup, SchemaElement } from 'hyparquet';
import { getSchemaPath } from 'hyparquet/src/schema.js';
import type { AnyValue, FetchCondition, FetchSpansRequest, Trace, TraceSearchMetadata } from '@andante/model';
import { compareSearchResults, fetchConditionTest as conditionTest, type FetchTest } from '@andante/model';
import { decodeKeyValues } from './binary-codec.js';
import type { BlockTables } from './block-decode.js';
import { RESOURCE_DEDICATED, SPAN_DEDICATED } from './block-schema.js';
import { decodeColumnChunk, decodeRequiredNumbers, type DecodedChunk, type Int64As, type LeafColumn, type ScanValue } from './column-chunk.js';

export interface BlockSearchOptions {
  /** Stop after this many matching traces, the most recent first. */
  limit: number;
  /** Unix seconds; 0 = unbounded. */
  startSeconds: number;
  endSeconds: number;
  /** Aborts when nobody waits for the answer: the scan stops at the next row group or batch. */
  signal?: AbortSignal;
}

export interface BlockSearchResult {
  traces: TraceSearchMetadata[];
  inspectedTraces: number;
  inspectedSpans: number;
  inspectedBytes: number;
}

/** What the scan needs from a block reader. */
export interface ScanSource {
  metadata: FileMetaData;
  tables: BlockTables;
  readRange(start: number, end: number): Promise<Uint8Array>;
  /**
   * Hands `visit` each trace whose rows are [rowStart, rowEnd) (block row numbers), or found by ID
   * when `whole` (the rows may continue in a neighbouring row group), with its index in `wanted`
   * (null: not found), one at a time as it is built, in an order fixed by `wanted`. A trace is
   * valid during its visit only and read-only: its IDs and resources are the block's own.
   */
  readTraces(wanted: readonly TraceRows[], visit: (index: number, trace: Trace | null) => void): Promise<void>;
}

/** Per-row "may match" flags of one row group; null means every row may. */
type Mask = Uint8Array | null;

type Test = FetchTest;

const INTRINSIC_COLUMNS: Readonly<Record<string, string>> = {
  name: 'name',
  status: 'status_code',
  statusMessage: 'status_message',
  duration: 'duration_nano',
  kind: 'kind',
  rootName: 'trace_root_span_name',
  rootServiceName: 'trace_root_service_name',
  'instrumentation:name': 'scope_name',
  'instrumentation:version': 'scope_version',
};

const SPAN_DEDICATED_BY_KEY = new Map(SPAN_DEDICATED.map((d) => [d.key, d]));
const RESOURCE_SERVICE = RESOURCE_DEDICATED[0]!;

/** A plain scan value for an OTLP AnyValue (resource and scope tables). */
export function anyToScan(v: AnyValue): ScanValue {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  return undefined;
}

/** Whether [min, max] statistics allow the test to hold (false only when they surely rule it out). */
export function statsAllow(c: FetchCondition, rg: RowGroup, column: string): boolean {
  const chunk = rg.columns.find((x) => x.meta_data?.path_in_schema.length === 1 && x.meta_data.path_in_schema[0] === column);
  const st = chunk?.meta_data?.statistics;
  if (!st || st.min_value === undefined || st.max_value === undefined || st.min_value === null || st.max_value === null) return true;
  const norm = (x: unknown): unknown => (typeof x === 'bigint' ? Number(x) : x);
  const min = norm(st.min_value);
  const max = norm(st.max_value);
  const lit = c.value;
  if (typeof lit !== typeof min || typeof lit !== typeof max || (typeof lit !== 'string' && typeof lit !== 'number')) return true;
  const l = lit as string | number;
  const lo = min as string | number;
  const hi = max as string | number;
  switch (c.op) {
    case '=':
      return lo <= l && l <= hi;
    case '<':
      return lo < l;
    case '<=':
      return lo <= l;
    case '>':
      return hi > l;
    case '>=':
      return hi >= l;
    default:
      return true;
  }
}

/** Column chunks closer than this are fetched in one read (a request costs more than the bytes between). */
const COALESCE_GAP_BYTES = 256 * 1024;

export class RowGroupScan {
  private readonly chunks = new Map<string, Promise<DecodedChunk>>();
  private readonly fetched: { start: number; end: number; bytes: Promise<Uint8Array> }[] = [];
  bytesRead = 0;

  constructor(
    private readonly src: Pick<ScanSource, 'readRange'>,
    private readonly schema: SchemaElement[],
    readonly rg: RowGroup,
    readonly rowStart: number,
    readonly rows: number,
    private readonly int64: Int64As = 'number',
  ) {}

  private chunkRange(path: readonly string[]): { start: number; end: number } | null {
    const key = path.join('.');
    const meta = this.rg.columns.find((c) => c.meta_data?.path_in_schema.join('.') === key)?.meta_data;
    if (!meta) return null;
    const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
    return { start, end: start + Number(meta.total_compressed_size) };
  }

  /** Fetches the chunks of these leaf columns, neighbours in one read, before they are decoded. */
  prefetch(paths: readonly (readonly string[])[]): void {
    const ranges = paths
      .map((p) => this.chunkRange(p))
      .filter((r): r is { start: number; end: number } => r !== null && !this.fetchHolding(r.start, r.end))
      .sort((a, b) => a.start - b.start);
    const merged: { start: number; end: number }[] = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last && r.start - last.end <= COALESCE_GAP_BYTES) last.end = Math.max(last.end, r.end);
      else merged.push({ ...r });
    }
    for (const { start, end } of merged) {
      const bytes = this.src.readRange(start, end);
      bytes.then((b) => (this.bytesRead += b.byteLength), () => undefined);
      this.fetched.push({ start, end, bytes });
    }
  }

  /** The fetch holding [start, end), if any (a lookup only: no promise is derived from it). */
  private fetchHolding(start: number, end: number): { start: number; end: number; bytes: Promise<Uint8Array> } | undefined {
    return this.fetched.find((x) => start >= x.start && end <= x.end);
  }

  /**
   * The bytes [start, end) from a fetch that holds them, or null. The promise it returns must be
   * awaited: a failed fetch rejects it.
   */
  private covering(start: number, end: number): Promise<Uint8Array> | null {
    const f = this.fetchHolding(start, end);
    return f ? f.bytes.then((b) => b.subarray(start - f.start, end - f.start)) : null;
  }

  /** The decoded leaf column at `path` (e.g. ['name'] or ['attrs_str','list','element','key']), read once. */
  column(path: readonly string[], int64: Int64As = this.int64): Promise<DecodedChunk> | null {
    const name = path.join('.');
    const key = typeof int64 === 'object' ? `${name}@${int64.offsetFrom}` : name;
    let pending = this.chunks.get(key);
    if (pending) return pending;
    const range = this.chunkRange(path);
    if (!range) return null;
    const meta = this.rg.columns.find((c) => c.meta_data?.path_in_schema.join('.') === name)!.meta_data!;
    const leaf: LeafColumn = { schemaPath: getSchemaPath(this.schema, [...path]), meta };
    this.prefetch([path]);
    pending = this.covering(range.start, range.end)!.then((bytes) => decodeColumnChunk(bytes, leaf, int64));
    this.chunks.set(key, pending);
    return pending;
  }

  /** A flat required numeric column as one float64 per row (see decodeRequiredNumbers), or null. */
  async numbers(path: readonly string[], int64: Int64As = this.int64): Promise<Float64Array | null> {
    const name = path.join('.');
    const range = this.chunkRange(path);
    if (!range) return null;
    const meta = this.rg.columns.find((c) => c.meta_data?.path_in_schema.join('.') === name)!.meta_data!;
    const leaf: LeafColumn = { schemaPath: getSchemaPath(this.schema, [...path]), meta };
    this.prefetch([path]);
    const fast = decodeRequiredNumbers(await this.covering(range.start, range.end)!, leaf, this.rows, int64);
    if (fast) return fast;
    const { codes, values } = (await this.column(path, int64))!;
    const out = new Float64Array(this.rows);
    for (let r = 0; r < out.length; r++) out[r] = codes[r]! < 0 ? NaN : (values[codes[r]!] as number);
    return out;
  }

  /** Rows where the flat column's value passes `test` (each distinct value tested once). */
  async flatMask(column: string, test: Test): Promise<Mask> {
    const pending = this.column([column]);
    if (!pending) return null;
    const { codes, values } = await pending;
    const ok = new Uint8Array(values.length);
    let any = false;
    for (let i = 0; i < values.length; i++) if ((ok[i] = test(values[i]) ? 1 : 0)) any = true;
    const nullOk = test(undefined) ? 1 : 0;
    const mask = new Uint8Array(this.rows);
    if (!any && !nullOk) return mask;
    for (let r = 0; r < codes.length; r++) {
      const c = codes[r]!;
      mask[r] = c < 0 ? nullOk : ok[c]!;
    }
    return mask;
  }

  /** Rows with an element of a key/value list whose key is `key` and whose value passes `test`. */
  async listMask(list: string, key: string, test: Test, into: Uint8Array): Promise<void> {
    const keys = this.column([list, 'list', 'element', 'key']);
    if (!keys) return;
    const k = await keys;
    const keyOk = k.values.map((x) => x === key);
    if (!keyOk.includes(true)) return; // the key is not in this row group: its values need no decoding
    const vals = this.column([list, 'list', 'element', 'value']);
    if (!vals) return;
    const v = await vals;
    const valOk = v.values.map((x) => test(x));
    if (!valOk.includes(true)) return;
    const rowOf = k.rowOf!;
    for (let i = 0; i < k.codes.length; i++) if (keyOk[k.codes[i]!] && valOk[v.codes[i]!]) into[rowOf[i]!] = 1;
  }

  /** Rows whose table entry (resource_ref / scope_ref) passes. */
  async refMask(column: string, entryOk: boolean[]): Promise<Mask> {
    if (!entryOk.includes(true)) return new Uint8Array(this.rows);
    return this.flatMask(column, (v) => typeof v === 'number' && entryOk[v] === true);
  }
}

function or(a: Mask, b: Mask): Mask {
  if (a === null || b === null) return null;
  for (let i = 0; i < a.length; i++) a[i]! |= b[i]!;
  return a;
}

function isEmpty(m: Mask): boolean {
  if (m === null) return false;
  for (let i = 0; i < m.length; i++) if (m[i]) return false;
  return true;
}

function attrEntryOk(attrs: readonly { key: string; value: AnyValue }[], name: string, test: Test): boolean {
  const kv = attrs.find((a) => a.key === name);
  return test(kv ? anyToScan(kv.value) : undefined);
}

const LIST_LEAVES = (list: string): string[][] => [
  [list, 'list', 'element', 'key'],
  [list, 'list', 'element', 'value'],
];

/** The typed lists a span attribute with this condition's literal can sit in. */
function attrLists(c: FetchCondition): string[] {
  if (c.op === 'exists') return ['attrs_str', 'attrs_int', 'attrs_dbl', 'attrs_bool'];
  if (typeof c.value === 'string') return ['attrs_str'];
  if (typeof c.value === 'number') return ['attrs_int', 'attrs_dbl'];
  return ['attrs_bool'];
}

/** The leaf columns conditionMask reads for a condition (so they can be fetched together). */
function conditionColumns(c: FetchCondition, rg: RowGroup): string[][] {
  switch (c.scope) {
    case 'intrinsic': {
      const column = INTRINSIC_COLUMNS[c.name];
      return column && statsAllow(c, rg, column) ? [[column]] : [];
    }
    case 'resource':
      return c.name === RESOURCE_SERVICE.key && typeof c.value === 'string' ? [[RESOURCE_SERVICE.column]] : [['resource_ref']];
    case 'span':
    case 'none': {
      const dedicated = SPAN_DEDICATED_BY_KEY.get(c.name);
      const span = [...(dedicated ? [[dedicated.column]] : []), ...attrLists(c).flatMap(LIST_LEAVES), ['attrs_other']];
      return c.scope === 'span' ? span : [...span, ...conditionColumns({ ...c, scope: 'resource' }, rg)];
    }
    case 'instrumentation':
      return [['scope_ref']];
    default:
      return [[c.scope === 'event' ? 'events' : 'links']];
  }
}

/** Which rows of the row group may satisfy one condition. */
async function conditionMask(scan: RowGroupScan, tables: BlockTables, c: FetchCondition, test: Test): Promise<Mask> {
  if (c.scope === 'intrinsic') {
    const column = INTRINSIC_COLUMNS[c.name];
    if (!column) return null;
    if (!statsAllow(c, scan.rg, column)) return new Uint8Array(scan.rows);
    return scan.flatMask(column, test);
  }
  if (c.scope === 'resource' || c.scope === 'none') {
    // The service column holds "" for a missing or non-string service.name: only string tests may use it.
    const resourceMask =
      c.name === RESOURCE_SERVICE.key && typeof c.value === 'string'
        ? scan.flatMask(RESOURCE_SERVICE.column, test)
        : scan.refMask('resource_ref', tables.resources.map((r) => attrEntryOk(r.attributes, c.name, test)));
    if (c.scope === 'resource') return resourceMask;
    return or(await resourceMask, await spanAttrMask(scan, c, test));
  }
  if (c.scope === 'span') return spanAttrMask(scan, c, test);
  if (c.scope === 'instrumentation') return scan.refMask('scope_ref', tables.scopes.map((s) => attrEntryOk(s.attributes, c.name, test)));
  // event. and link. attributes live in per-span blobs: rows that have any may match.
  return scan.flatMask(c.scope === 'event' ? 'events' : 'links', (v) => v !== undefined);
}

/** Span attribute: its dedicated column, the typed lists that can hold the literal's type, and rows with array/bytes values. */
async function spanAttrMask(scan: RowGroupScan, c: FetchCondition, test: Test): Promise<Mask> {
  const mask = new Uint8Array(scan.rows);
  const dedicated = SPAN_DEDICATED_BY_KEY.get(c.name);
  if (dedicated) {
    const m = await scan.flatMask(dedicated.column, test);
    if (m === null) return null;
    mask.set(m);
  }
  await Promise.all(attrLists(c).map((l) => scan.listMask(l, c.name, test, mask)));
  // Arrays, bytes and maps sit in a blob; TraceQL may match inside arrays, so a row whose blob
  // holds the key may match.
  const other = await scan.flatMask('attrs_other', (v) => v instanceof Uint8Array && decodeKeyValues(v).some((kv) => kv.key === c.name));
  return or(mask, other);
}

export interface TraceRows {
  traceId: Uint8Array;
  rowStart: number;
  rowEnd: number;
  whole: boolean;
}

interface Candidate {
  traceId: Uint8Array;
  /** Trace start, ns (approximate above 2^53, exact enough to order and to stop early). */
  start: number;
  rowStart: number;
  rowEnd: number;
  /** The trace's rows may continue into a neighbouring row group. */
  edge: boolean;
}

/** Batches read in start-time order (25, 50, 100 traces for limit 20) before the rest is read in row order. */
const SEARCH_TIME_ORDER_ROUNDS = 3;
/** Rows of candidate traces read in one row-order batch. */
const SEARCH_BATCH_ROWS = 16_384;

/** Slack on approximate (float64) nanosecond comparisons: 2^62 ns has a 1 µs ulp. */
const NS_SLACK = 4096;

/** Searches one block; `evaluate` is the engine on a whole trace (null: no match). */
export async function searchBlockColumns(
  src: ScanSource,
  fetch: FetchSpansRequest | undefined,
  opts: BlockSearchOptions,
  evaluate: (trace: Trace) => TraceSearchMetadata | null,
): Promise<BlockSearchResult> {
  const schema = src.metadata.schema;
  const prune = fetch?.prune ?? 'none';
  const tested = prune === 'none' ? [] : (fetch?.conditions ?? []).flatMap((c) => {
    const test = conditionTest(c);
    return test ? [{ c, test }] : [];
  });
  const windowStart = opts.startSeconds > 0 && opts.endSeconds > 0 ? opts.startSeconds * 1e9 - NS_SLACK : -Infinity;
  const windowEnd = opts.startSeconds > 0 && opts.endSeconds > 0 ? (opts.endSeconds + 1) * 1e9 + NS_SLACK : Infinity;

  const candidates: Candidate[] = [];
  let inspectedSpans = 0;
  let inspectedBytes = 0;
  let rowStart = 0;
  for (const rg of src.metadata.row_groups) {
    opts.signal?.throwIfAborted();
    const rows = Number(rg.num_rows);
    const scan = new RowGroupScan(src, schema, rg, rowStart, rows);
    rowStart += rows;
    inspectedSpans += rows;
    let mask: Mask = null;
    scan.prefetch(tested.flatMap(({ c }) => conditionColumns(c, rg)));
    if (prune === 'all') {
      for (const { c, test } of tested) {
        const m = await conditionMask(scan, src.tables, c, test);
        if (m === null) continue;
        if (mask === null) mask = m;
        else for (let i = 0; i < mask.length; i++) mask[i]! &= m[i]!;
        if (isEmpty(mask)) break;
      }
    } else if (prune === 'any' && tested.length > 0 && tested.length === (fetch?.conditions.filter((c) => c.op !== null).length ?? 0)) {
      mask = new Uint8Array(rows);
      for (const { c, test } of tested) {
        mask = or(mask, await conditionMask(scan, src.tables, c, test));
        if (mask === null) break;
      }
    }
    if (!isEmpty(mask)) await collectCandidates(scan, mask, windowStart, windowEnd, candidates);
    inspectedBytes += scan.bytesRead;
  }

  // Most recent first; ties by trace ID like the final merge, so equal inputs give equal answers.
  candidates.sort((a, b) => b.start - a.start || compareIds(a.traceId, b.traceId));
  const found: TraceSearchMetadata[] = [];
  const seenEdges = new Set<string>();
  // `| count() > N`: a trace with fewer rows in the block has no spanset that large. (A trace
  // across row groups has only part of its rows here: it is read whole, unjudged.)
  const minSpans = fetch?.minSpans ?? 0;
  const queue = candidates.filter((cand) => {
    // A trace across row groups is a candidate in each; it is read whole once.
    if (!cand.edge) return cand.rowEnd - cand.rowStart >= minSpans;
    const key = Buffer.from(cand.traceId).toString('hex');
    if (seenEdges.has(key)) return false;
    seenEdges.add(key);
    return true;
  });
  let inspectedTraces = 0;
  let next = 0;
  const mayStillRank = (cand: Candidate): boolean => {
    if (found.length < opts.limit) return true;
    found.sort(compareSearchResults);
    found.length = opts.limit; // only the best `limit` are answered; fewer to sort next time
    return cand.start >= Number(found[opts.limit - 1]!.startTimeUnixNano) - NS_SLACK;
  };
  const evaluateBatch = async (batch: Candidate[]): Promise<void> => {
    opts.signal?.throwIfAborted();
    // Each trace is evaluated as soon as it is built, so traces die young (built for a whole batch
    // first, they outlived young-generation collections: a third of a full evaluation's CPU was GC).
    await src.readTraces(
      batch.map((c) => ({ traceId: c.traceId, rowStart: c.rowStart, rowEnd: c.rowEnd, whole: c.edge })),
      (i, trace) => {
        if (!mayStillRank(batch[i]!)) return;
        inspectedTraces++;
        const m = trace ? evaluate(trace) : null;
        if (m) found.push(m);
      },
    );
  };
  // Most recent first, reading what is still missing and a quarter more (candidates mostly match).
  for (let round = 0; round < SEARCH_TIME_ORDER_ROUNDS && next < queue.length && mayStillRank(queue[next]!); round++) {
    const missing = Math.max(0, opts.limit - found.length);
    const batch = queue.slice(next, next + Math.max(4, missing + Math.ceil(missing / 4)) * 2 ** round);
    next += batch.length;
    await evaluateBatch(batch);
  }
  // Candidates keep failing (a query the columns could not narrow, like a structural one): read the
  // rest in row order, in runs of adjacent rows, so each page is decoded once. Read in time order,
  // a batch's traces lie all over the row group and every batch decoded every page again.
  const rest = queue.slice(next).sort((a, b) => a.rowStart - b.rowStart);
  for (let k = 0; k < rest.length; ) {
    const batch: Candidate[] = [];
    for (let rows = 0; k < rest.length && (batch.length === 0 || rows < SEARCH_BATCH_ROWS); k++) {
      if (!mayStillRank(rest[k]!)) continue;
      batch.push(rest[k]!);
      rows += rest[k]!.rowEnd - rest[k]!.rowStart;
    }
    if (batch.length > 0) await evaluateBatch(batch);
  }
  found.sort(compareSearchResults);
  return { traces: found.slice(0, opts.limit), inspectedTraces, inspectedSpans, inspectedBytes };
}

function compareIds(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The traces of the masked rows, with their row ranges and start times. */
async function collectCandidates(scan: RowGroupScan, mask: Mask, windowStart: number, windowEnd: number, out: Candidate[]): Promise<void> {
  const columns = [['trace_id'], ['trace_start_time_unix_nano'], ['trace_end_time_unix_nano']];
  scan.prefetch(columns);
  const [ids, starts, ends] = await Promise.all(columns.map((c) => scan.column(c)));
  if (!ids || !starts || !ends) throw new Error('block lacks the trace columns');
  const { codes, values } = ids;
  const rows = codes.length;
  let r = 0;
  while (r < rows) {
    // Rows are sorted by trace ID: one run of equal codes is one trace.
    const code = codes[r]!;
    const id = values[code] as Uint8Array;
    let end = r + 1;
    // Equal codes are equal IDs; a chunk without a dictionary gives each row its own code.
    while (end < rows && (codes[end] === code || compareIds(values[codes[end]!] as Uint8Array, id) === 0)) end++;
    let hit = mask === null;
    for (let i = r; !hit && i < end; i++) hit = mask![i] === 1;
    if (hit) {
      const start = starts.values[starts.codes[r]!] as number;
      const stop = ends.values[ends.codes[r]!] as number;
      if (stop >= windowStart && start <= windowEnd) {
        out.push({ traceId: id, start, rowStart: scan.rowStart + r, rowEnd: scan.rowStart + end, edge: r === 0 || end === rows });
      }
    }
    r = end;
  }
}
