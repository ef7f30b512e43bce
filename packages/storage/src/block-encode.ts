// Traces -> block objects (vAndante2). Pure CPU work with no I/O, so it can run in a worker thread;
// writeBlock puts the objects into a backend.
//
// Memory is bounded by a row group, not by the block: traces are taken from the iterable one at a
// time, their spans go into a row-group buffer (typed arrays for numbers; strings shared with the
// decoded spans, attribute keys and attribute orders shared across spans), and a full buffer is
// written as one Parquet row group and emptied. Parquet bytes go to a list of per-row-group chunks
// (no whole-file buffer that doubles and copies), joined once at the end. What grows with the
// block is only its bytes and 16 bytes per trace ID (the bloom filter is sized from the trace
// count, known only at the end).
//
// Two column writers produce the same bytes: ours (ColumnarRowGroup's leaf arrays into
// column-writer.ts, the default) and hyparquet-writer's generic one (RowGroupBuffer's row values,
// kept for A/B runs and as the reference column-writer.test.ts compares with).

import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { ColumnSource } from 'hyparquet-writer';
import type { CompressionCodec, DecodedArray } from 'hyparquet';
import {
  InvalidArgumentError,
  TRACE_ID_BYTES,
  bytesToHex,
  compareBytes,
  validateTenantId,
} from '@andante/model';
import type { KeyValue, ResourceSpans, ScopeSpans, Span, Trace } from '@andante/model';
import { encodeEvents, encodeKeyValues, encodeLinks } from './binary-codec.js';
import { WRITE_COMPRESSORS, ZSTD_AVAILABLE, brotliCompressorAt, zstdCompressorAt } from './block-codecs.js';
import type { Compressor } from './block-codecs.js';
import { resolveBlockConfig } from './block-config.js';
import type { BlockConfig } from './block-config.js';
import { encodeBlockIndex } from './block-index.js';
import type { RowGroupIndex } from './block-index.js';
import {
  DATA_NAME,
  INDEX_NAME,
  META_NAME,
  bloomName,
  bytesToBase64,
  encodeBlockMeta,
  isBlockId,
  rfc3339Nano,
} from './block-meta.js';
import type { BlockMeta } from './block-meta.js';
import {
  AttrSlot,
  BLOCK_CODEC,
  BLOCK_SCHEMA,
  COLUMN_KINDS,
  COLUMN_NAMES,
  COLUMN_WRITE,
  BLOCK_ZSTD_LEVEL,
  ZSTD_LEAF_CODECS,
  CURRENT_FORMAT,
  FORMAT_V1,
  RESOURCE_DEDICATED,
  RESOURCE_TABLE_KEY,
  SCOPE_TABLE_KEY,
  SPAN_DEDICATED,
  STATS_COLUMNS,
} from './block-schema.js';
import type { ColumnWrite } from './block-schema.js';
import { TableBuilder, encodeResourceEntry, encodeScopeEntry } from './block-tables.js';
import { ColumnFileWriter, leafSpecs } from './column-writer.js';
import type { LeafChunk, LeafSpec, LeafValues, LeafWrite } from './column-writer.js';
import { buildBloomShards } from './bloom.js';
import type { TraceIdSet } from './bloom.js';
import { assignNestedSet, isRootSpan } from './nested-set.js';

export interface BlockObject {
  name: string;
  data: Uint8Array;
}

export interface EncodedBlock {
  meta: BlockMeta;
  /** data.parquet, bloom-0..N-1, index, and meta.json last: write them in this order. */
  objects: BlockObject[];
}

export interface TraceEntry {
  traceId: Uint8Array;
  trace: Trace;
}

/**
 * How the Parquet file is written; encodeBlock uses the current format's. Other values are for
 * tests (writing a vAndante1 block) and benchmarks (trying codecs and encodings).
 */
export interface EncodeTuning {
  format: string;
  codec: CompressionCodec;
  compressors: Partial<Record<CompressionCodec, Compressor>>;
  columns: Readonly<Record<string, ColumnWrite>>;
  /**
   * Which column writer: ours (ColumnFileWriter, leaves straight from the row-group buffer) or
   * hyparquet-writer's generic one. Both write the same bytes for the same rows.
   */
  writer: ColumnWriterKind;
  /**
   * Whether BROTLI pages take their column's `brotliQuality`, or ZSTD_LEAF_CODECS where `zstd`
   * (our writer only; hyparquet-writer has one compressor per codec, so comparing the two writers
   * turns this off).
   */
  columnQualities: boolean;
  /** Whether leaves take ZSTD_LEAF_CODECS (ZSTD for most): this Node has zstd (>= 22.15). */
  zstd: boolean;
}

export type ColumnWriterKind = 'andante' | 'hyparquet-writer';

/** ZSTD columns where this Node has zstd; ANDANTE_BLOCK_ZSTD=0 keeps every column BROTLI (A/B runs). */
const WRITE_ZSTD = ZSTD_AVAILABLE && process.env['ANDANTE_BLOCK_ZSTD'] !== '0';

/** The default column writer; ANDANTE_COLUMN_WRITER=hyparquet-writer picks the generic one (A/B runs). */
export const DEFAULT_COLUMN_WRITER: ColumnWriterKind = process.env['ANDANTE_COLUMN_WRITER'] === 'hyparquet-writer' ? 'hyparquet-writer' : 'andante';

export function tuningFor(format: string, writer: ColumnWriterKind = DEFAULT_COLUMN_WRITER, columnQualities = writer === 'andante'): EncodeTuning {
  if (format === FORMAT_V1) return { format, codec: 'SNAPPY', compressors: {}, columns: {}, writer, columnQualities: false, zstd: false };
  if (format === CURRENT_FORMAT) return { format, codec: BLOCK_CODEC, compressors: WRITE_COMPRESSORS, columns: COLUMN_WRITE, writer, columnQualities, zstd: columnQualities && WRITE_ZSTD };
  throw new InvalidArgumentError(`cannot write block format ${JSON.stringify(format)}`);
}

interface ResourceRef {
  ref: number;
  /** Values of the RESOURCE_DEDICATED columns: the first string value of each key. */
  dedicated: (string | null)[];
}

interface ScopeRef {
  ref: number;
  name: string;
  version: string;
}

interface SpanRow {
  span: Span;
  res: ResourceRef;
  scope: ScopeRef;
  rsIndex: number;
  ssIndex: number;
  spanIndex: number;
  left: number;
  right: number;
  parentId: number;
}

interface KeyedValue<T> {
  key: string;
  value: T;
}

/**
 * Shares equal values across spans (attribute keys, attribute orders): one object per distinct
 * value instead of one per span, which shrinks a row group's heap and makes dictionary lookups hit
 * by identity. Bounded, so a block of unusual keys costs no more than not sharing.
 */
class Interner<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly limit: number) {}

  get(key: K, make: (key: K) => V): V {
    let v = this.map.get(key);
    if (v === undefined) {
      v = make(key);
      if (this.map.size < this.limit) this.map.set(key, v);
    }
    return v;
  }
}

const CREATED_BY = 'andante';
const SPAN_KEYS = new Map(SPAN_DEDICATED.map((d, i) => [d.key, i]));
const identity = (s: string): string => s;
const orderBytes = (codes: string): Uint8Array => {
  const out = new Uint8Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = codes.charCodeAt(i);
  return out;
};
const EMPTY = new Uint8Array(0);

function resourceDedicated(kvs: readonly KeyValue[]): (string | null)[] {
  return RESOURCE_DEDICATED.map((d) => {
    for (const kv of kvs) if (kv.key === d.key && 'stringValue' in kv.value) return kv.value.stringValue;
    return null;
  });
}

const u64ToI64 = (v: bigint): bigint => BigInt.asIntN(64, v);

interface TraceRows {
  rows: SpanRow[];
  rootServiceName: string;
  rootSpanName: string;
  start: bigint;
  end: bigint;
}

/**
 * The block's resource and scope tables, with each entry's ref remembered by (object, schema URL):
 * traces decoded with a shared TraceDecodeCache hold the same resource objects, so a resource is
 * encoded into its table entry once per block instead of once per trace.
 */
class BlockTables {
  readonly resources = new TableBuilder();
  readonly scopes = new TableBuilder();
  private readonly resourceRefs = new WeakMap<object, Map<string, ResourceRef>>();
  private readonly scopeRefs = new WeakMap<object, Map<string, ScopeRef>>();

  resource(rs: ResourceSpans): ResourceRef {
    let bySchema = this.resourceRefs.get(rs.resource);
    if (!bySchema) this.resourceRefs.set(rs.resource, (bySchema = new Map()));
    let ref = bySchema.get(rs.schemaUrl);
    if (!ref) {
      ref = { ref: this.resources.add(encodeResourceEntry(rs)), dedicated: resourceDedicated(rs.resource.attributes) };
      bySchema.set(rs.schemaUrl, ref);
    }
    return ref;
  }

  scope(ss: ScopeSpans): ScopeRef {
    let bySchema = this.scopeRefs.get(ss.scope);
    if (!bySchema) this.scopeRefs.set(ss.scope, (bySchema = new Map()));
    let ref = bySchema.get(ss.schemaUrl);
    if (!ref) {
      ref = { ref: this.scopes.add(encodeScopeEntry(ss)), name: ss.scope.name, version: ss.scope.version };
      bySchema.set(ss.schemaUrl, ref);
    }
    return ref;
  }
}

/** Flattens one trace to span rows sorted by start time, with nested-set numbers and trace summary. */
function traceRows(trace: Trace, tables: BlockTables): TraceRows {
  const rows: SpanRow[] = [];
  let spanIndex = 0;
  trace.resourceSpans.forEach((rs, rsIndex) => {
    if (rs.scopeSpans.every((ss) => ss.spans.length === 0)) return;
    const res = tables.resource(rs);
    rs.scopeSpans.forEach((ss, ssIndex) => {
      if (ss.spans.length === 0) return;
      const scope = tables.scope(ss);
      for (const span of ss.spans) {
        rows.push({ span, res, scope, rsIndex, ssIndex, spanIndex: spanIndex++, left: 0, right: 0, parentId: 0 });
      }
    });
  });

  const ns = assignNestedSet(rows.map((r) => r.span));
  let start = -1n;
  let end = -1n;
  let root: SpanRow | undefined;
  rows.forEach((r, i) => {
    r.left = ns.left[i]!;
    r.right = ns.right[i]!;
    r.parentId = ns.parentId[i]!;
    const s = r.span;
    if (start < 0n || s.startTimeUnixNano < start) start = s.startTimeUnixNano;
    if (s.endTimeUnixNano > end) end = s.endTimeUnixNano;
    // Root span: the earliest-starting span without a parent.
    if (isRootSpan(s.parentSpanId) && (!root || s.startTimeUnixNano < root.span.startTimeUnixNano)) root = r;
  });
  rows.sort((a, b) =>
    a.span.startTimeUnixNano < b.span.startTimeUnixNano ? -1 : a.span.startTimeUnixNano > b.span.startTimeUnixNano ? 1 : a.spanIndex - b.spanIndex,
  );
  return {
    rows,
    rootServiceName: root?.res.dedicated[0] ?? '',
    rootSpanName: root?.span.name ?? '',
    start: start < 0n ? 0n : start,
    end: end < 0n ? 0n : end,
  };
}

type Column = unknown[] | Int32Array | BigInt64Array;

/**
 * One row group's columns. Numeric columns are typed arrays allocated once and reused; the others
 * are fresh arrays per row group. hyparquet-writer copies what it reads, so reuse is safe.
 */
class RowGroupBuffer {
  length = 0;
  private readonly cols: Record<string, Column> = {};
  private readonly i32: Record<string, Int32Array> = {};
  private readonly i64: Record<string, BigInt64Array> = {};
  private readonly keys = new Interner<string, string>(4096);
  private readonly orders = new Interner<string, Uint8Array>(4096);
  // The current trace's summary values, converted once per trace rather than once per span.
  private traceStart = 0n;
  private traceEnd = 0n;

  constructor(readonly capacity: number) {
    for (const name of COLUMN_NAMES) {
      const kind = COLUMN_KINDS[name];
      if (kind === 'i32') this.i32[name] = new Int32Array(capacity);
      else if (kind === 'i64') this.i64[name] = new BigInt64Array(capacity);
    }
    this.reset();
  }

  reset(): void {
    this.length = 0;
    for (const name of COLUMN_NAMES) {
      this.cols[name] = this.i32[name] ?? this.i64[name] ?? [];
    }
  }

  /** The columns of the rows added since the last reset, for hyparquet-writer. */
  columnData(tuning: EncodeTuning): ColumnSource[] {
    const n = this.length;
    return COLUMN_NAMES.map((name) => {
      const c = this.cols[name]!;
      const data = (Array.isArray(c) ? c : c.subarray(0, n)) as DecodedArray;
      const w = tuning.columns[name];
      return { name, data, statistics: STATS_COLUMNS.has(name), ...(w?.encoding ? { encoding: w.encoding } : {}), ...(w?.codec ? { codec: w.codec } : {}) };
    });
  }

  startTrace(t: TraceRows): void {
    this.traceStart = u64ToI64(t.start);
    this.traceEnd = u64ToI64(t.end);
  }

  push(traceId: Uint8Array, t: TraceRows, r: SpanRow): void {
    const i = this.length++;
    const c = this.cols;
    const i32 = this.i32;
    const i64 = this.i64;
    const s = r.span;
    (c['trace_id'] as unknown[]).push(traceId);
    (c['trace_root_service_name'] as unknown[]).push(t.rootServiceName);
    (c['trace_root_span_name'] as unknown[]).push(t.rootSpanName);
    i64['trace_start_time_unix_nano']![i] = this.traceStart;
    i64['trace_end_time_unix_nano']![i] = this.traceEnd;
    i32['rs_index']![i] = r.rsIndex;
    i32['ss_index']![i] = r.ssIndex;
    i32['span_index']![i] = r.spanIndex;
    i32['resource_ref']![i] = r.res.ref;
    i32['scope_ref']![i] = r.scope.ref;
    (c['resource_service_name'] as unknown[]).push(r.res.dedicated[0] ?? '');
    for (let d = 1; d < RESOURCE_DEDICATED.length; d++) (c[RESOURCE_DEDICATED[d]!.column] as unknown[]).push(r.res.dedicated[d]);
    (c['scope_name'] as unknown[]).push(r.scope.name);
    (c['scope_version'] as unknown[]).push(r.scope.version);
    (c['span_id'] as unknown[]).push(s.spanId);
    (c['parent_span_id'] as unknown[]).push(s.parentSpanId.length === 0 ? EMPTY : s.parentSpanId);
    i32['parent_id']![i] = r.parentId;
    i32['nested_set_left']![i] = r.left;
    i32['nested_set_right']![i] = r.right;
    (c['name'] as unknown[]).push(s.name);
    i32['kind']![i] = s.kind | 0;
    i64['start_time_unix_nano']![i] = u64ToI64(s.startTimeUnixNano);
    i64['duration_nano']![i] = u64ToI64(s.endTimeUnixNano - s.startTimeUnixNano);
    i32['status_code']![i] = s.status.code | 0;
    (c['status_message'] as unknown[]).push(s.status.message);
    (c['trace_state'] as unknown[]).push(s.traceState);
    i32['flags']![i] = s.flags | 0;
    this.pushAttributes(s.attributes);
    i32['dropped_attributes_count']![i] = s.droppedAttributesCount | 0;
    (c['events'] as unknown[]).push(s.events.length > 0 ? encodeEvents(s.events, s.startTimeUnixNano) : null);
    i32['dropped_events_count']![i] = s.droppedEventsCount | 0;
    (c['links'] as unknown[]).push(s.links.length > 0 ? encodeLinks(s.links) : null);
    i32['dropped_links_count']![i] = s.droppedLinksCount | 0;
  }

  /**
   * Splits a span's attributes into the dedicated columns and dense typed lists, plus the order
   * codes that put them back together (AttrSlot).
   */
  private pushAttributes(kvs: readonly KeyValue[]): void {
    const str: KeyedValue<string>[] = [];
    const int: KeyedValue<bigint>[] = [];
    const dbl: KeyedValue<number>[] = [];
    const bool: KeyedValue<boolean>[] = [];
    let other: KeyValue[] | undefined;
    let order = '';
    const dedicated: (string | bigint | null)[] = SPAN_DEDICATED.map(() => null);
    for (let i = 0; i < kvs.length; i++) {
      const { key: rawKey, value: v } = kvs[i]!;
      // The first attribute of a dedicated key with the column's type moves to the column.
      const d = SPAN_KEYS.get(rawKey);
      if (d !== undefined && dedicated[d] === null) {
        const type = SPAN_DEDICATED[d]!.type;
        if ((type === 'string' && 'stringValue' in v) || (type === 'int' && 'intValue' in v)) {
          dedicated[d] = 'stringValue' in v ? v.stringValue : (v as { intValue: bigint }).intValue;
          order += String.fromCharCode(AttrSlot.DEDICATED | d);
          continue;
        }
      }
      const key = this.keys.get(rawKey, identity);
      if ('stringValue' in v) {
        str.push({ key, value: v.stringValue });
        order += '\x01';
      } else if ('intValue' in v) {
        int.push({ key, value: v.intValue });
        order += '\x02';
      } else if ('doubleValue' in v && !Object.is(v.doubleValue, -0)) {
        dbl.push({ key, value: v.doubleValue });
        order += '\x03';
      } else if ('boolValue' in v) {
        bool.push({ key, value: v.boolValue });
        order += '\x04';
      } else {
        (other ??= []).push(kvs[i]!);
        order += '\x05';
      }
    }
    const c = this.cols;
    for (let d = 0; d < SPAN_DEDICATED.length; d++) (c[SPAN_DEDICATED[d]!.column] as unknown[]).push(dedicated[d]);
    (c['attrs_str'] as unknown[]).push(str);
    (c['attrs_int'] as unknown[]).push(int);
    (c['attrs_dbl'] as unknown[]).push(dbl);
    (c['attrs_bool'] as unknown[]).push(bool);
    (c['attrs_other'] as unknown[]).push(other ? encodeKeyValues(other) : null);
    (c['attrs_order'] as unknown[]).push(this.orders.get(order, orderBytes));
  }
}

/** A growable typed array of one leaf's slots. */
class Grow<A extends Int32Array | BigInt64Array | Float64Array | Uint8Array> {
  n = 0;
  constructor(
    public data: A,
    private readonly make: (n: number) => A,
  ) {}

  ensure(extra: number): void {
    if (this.n + extra <= this.data.length) return;
    const next = this.make(Math.max(this.data.length * 2, this.n + extra));
    (next as Uint8Array).set(this.data as Uint8Array);
    this.data = next;
  }

  view(): A {
    return this.data.subarray(0, this.n) as A;
  }
}

/** The leaves of one attrs_* list: levels shared by key and value, then the values. */
class ListLeaves {
  readonly rep = new Grow(new Uint8Array(1024), (n) => new Uint8Array(n));
  readonly def = new Grow(new Uint8Array(1024), (n) => new Uint8Array(n));
  keys: (string | undefined)[] = [];
  /** Elements of the current row so far. */
  inRow = 0;

  /** Starts an element (or the empty-list slot) and returns its slot. */
  slot(present: boolean): number {
    const i = this.rep.n;
    this.rep.ensure(1);
    this.def.ensure(1);
    this.rep.data[i] = present && this.inRow > 0 ? 1 : 0;
    this.def.data[i] = present ? 1 : 0;
    this.rep.n++;
    this.def.n++;
    if (present) this.inRow++;
    return i;
  }

  reset(): void {
    this.rep.n = 0;
    this.def.n = 0;
    this.keys = [];
    this.inRow = 0;
  }
}

const LEAVES = leafSpecs(BLOCK_SCHEMA);

/**
 * One row group's leaf columns for our column writer (ColumnFileWriter): flat numeric columns in
 * typed arrays allocated once, strings and byte strings in one array per leaf, the attribute
 * lists as flat key/value leaves with their repetition and definition levels, built as spans are
 * added. No per-span objects for attributes (the generic writer needed a {key, value} object per
 * attribute and a Dremel pass over them).
 */
class ColumnarRowGroup {
  length = 0;
  private readonly i32: Record<string, Int32Array> = {};
  private readonly i64: Record<string, BigInt64Array> = {};
  private readonly defs: Record<string, Uint8Array> = {};
  private arrays: Record<string, unknown[]> = {};
  private readonly strList = new ListLeaves();
  private strValues: (string | undefined)[] = [];
  private readonly intList = new ListLeaves();
  private readonly intValues = new Grow(new BigInt64Array(1024), (n) => new BigInt64Array(n));
  private readonly dblList = new ListLeaves();
  private readonly dblValues = new Grow(new Float64Array(1024), (n) => new Float64Array(n));
  private readonly boolList = new ListLeaves();
  private readonly boolValues = new Grow(new Uint8Array(1024), (n) => new Uint8Array(n));
  private readonly keys = new Interner<string, string>(4096);
  private readonly orders = new Interner<string, Uint8Array>(4096);
  private traceStart = 0n;
  private traceEnd = 0n;

  constructor(readonly capacity: number) {
    for (const leaf of LEAVES) {
      if (leaf.path.length !== 1) continue;
      const e = leaf.element;
      if (e.type === 'INT32') this.i32[leaf.key] = new Int32Array(capacity);
      else if (e.type === 'INT64') this.i64[leaf.key] = new BigInt64Array(capacity);
      if (e.repetition_type === 'OPTIONAL') this.defs[leaf.key] = new Uint8Array(capacity);
    }
    this.reset();
  }

  reset(): void {
    this.length = 0;
    this.arrays = {};
    for (const leaf of LEAVES) {
      const e = leaf.element;
      if (leaf.path.length === 1 && e.type !== 'INT32' && e.type !== 'INT64') this.arrays[leaf.key] = [];
    }
    for (const l of [this.strList, this.intList, this.dblList, this.boolList]) l.reset();
    this.strValues = [];
    this.intValues.n = 0;
    this.dblValues.n = 0;
    this.boolValues.n = 0;
  }

  startTrace(t: TraceRows): void {
    this.traceStart = u64ToI64(t.start);
    this.traceEnd = u64ToI64(t.end);
  }

  private optional(column: string, i: number, value: unknown): void {
    const present = value !== null && value !== undefined;
    this.defs[column]![i] = present ? 1 : 0;
    this.arrays[column]!.push(present ? value : undefined);
  }

  push(traceId: Uint8Array, t: TraceRows, r: SpanRow): void {
    const i = this.length++;
    const a = this.arrays;
    const i32 = this.i32;
    const i64 = this.i64;
    const s = r.span;
    a['trace_id']!.push(traceId);
    a['trace_root_service_name']!.push(t.rootServiceName);
    a['trace_root_span_name']!.push(t.rootSpanName);
    i64['trace_start_time_unix_nano']![i] = this.traceStart;
    i64['trace_end_time_unix_nano']![i] = this.traceEnd;
    i32['rs_index']![i] = r.rsIndex;
    i32['ss_index']![i] = r.ssIndex;
    i32['span_index']![i] = r.spanIndex;
    i32['resource_ref']![i] = r.res.ref;
    i32['scope_ref']![i] = r.scope.ref;
    a['resource_service_name']!.push(r.res.dedicated[0] ?? '');
    for (let d = 1; d < RESOURCE_DEDICATED.length; d++) this.optional(RESOURCE_DEDICATED[d]!.column, i, r.res.dedicated[d]);
    a['scope_name']!.push(r.scope.name);
    a['scope_version']!.push(r.scope.version);
    a['span_id']!.push(s.spanId);
    a['parent_span_id']!.push(s.parentSpanId.length === 0 ? EMPTY : s.parentSpanId);
    i32['parent_id']![i] = r.parentId;
    i32['nested_set_left']![i] = r.left;
    i32['nested_set_right']![i] = r.right;
    a['name']!.push(s.name);
    i32['kind']![i] = s.kind | 0;
    i64['start_time_unix_nano']![i] = u64ToI64(s.startTimeUnixNano);
    i64['duration_nano']![i] = u64ToI64(s.endTimeUnixNano - s.startTimeUnixNano);
    i32['status_code']![i] = s.status.code | 0;
    a['status_message']!.push(s.status.message);
    a['trace_state']!.push(s.traceState);
    i32['flags']![i] = s.flags | 0;
    this.pushAttributes(i, s.attributes);
    i32['dropped_attributes_count']![i] = s.droppedAttributesCount | 0;
    this.optional('events', i, s.events.length > 0 ? encodeEvents(s.events, s.startTimeUnixNano) : null);
    i32['dropped_events_count']![i] = s.droppedEventsCount | 0;
    this.optional('links', i, s.links.length > 0 ? encodeLinks(s.links) : null);
    i32['dropped_links_count']![i] = s.droppedLinksCount | 0;
  }

  /** As RowGroupBuffer.pushAttributes, straight into the list leaves. */
  private pushAttributes(row: number, kvs: readonly KeyValue[]): void {
    const { strList, intList, dblList, boolList } = this;
    strList.inRow = intList.inRow = dblList.inRow = boolList.inRow = 0;
    let other: KeyValue[] | undefined;
    let order = '';
    let d0: string | bigint | null = null;
    let d1: string | bigint | null = null;
    let d2: string | bigint | null = null;
    let d3: string | bigint | null = null;
    let d4: string | bigint | null = null;
    for (let k = 0; k < kvs.length; k++) {
      const { key: rawKey, value: v } = kvs[k]!;
      const d = SPAN_KEYS.get(rawKey);
      if (d !== undefined && (d === 0 ? d0 : d === 1 ? d1 : d === 2 ? d2 : d === 3 ? d3 : d4) === null) {
        const type = SPAN_DEDICATED[d]!.type;
        if ((type === 'string' && 'stringValue' in v) || (type === 'int' && 'intValue' in v)) {
          const x = 'stringValue' in v ? v.stringValue : (v as { intValue: bigint }).intValue;
          if (d === 0) d0 = x;
          else if (d === 1) d1 = x;
          else if (d === 2) d2 = x;
          else if (d === 3) d3 = x;
          else d4 = x;
          order += String.fromCharCode(AttrSlot.DEDICATED | d);
          continue;
        }
      }
      const key = this.keys.get(rawKey, identity);
      if ('stringValue' in v) {
        strList.slot(true);
        strList.keys.push(key);
        this.strValues.push(v.stringValue);
        order += '\x01';
      } else if ('intValue' in v) {
        const j = intList.slot(true);
        intList.keys.push(key);
        this.intValues.ensure(1);
        this.intValues.data[j] = v.intValue;
        this.intValues.n = j + 1;
        order += '\x02';
      } else if ('doubleValue' in v && !Object.is(v.doubleValue, -0)) {
        const j = dblList.slot(true);
        dblList.keys.push(key);
        this.dblValues.ensure(1);
        this.dblValues.data[j] = v.doubleValue;
        this.dblValues.n = j + 1;
        order += '\x03';
      } else if ('boolValue' in v) {
        const j = boolList.slot(true);
        boolList.keys.push(key);
        this.boolValues.ensure(1);
        this.boolValues.data[j] = v.boolValue ? 1 : 0;
        this.boolValues.n = j + 1;
        order += '\x04';
      } else {
        (other ??= []).push(kvs[k]!);
        order += '\x05';
      }
    }
    // An empty list is one slot with definition level 0.
    if (strList.inRow === 0) {
      strList.slot(false);
      strList.keys.push(undefined);
      this.strValues.push(undefined);
    }
    if (intList.inRow === 0) {
      const j = intList.slot(false);
      intList.keys.push(undefined);
      this.intValues.ensure(1);
      this.intValues.n = j + 1;
    }
    if (dblList.inRow === 0) {
      const j = dblList.slot(false);
      dblList.keys.push(undefined);
      this.dblValues.ensure(1);
      this.dblValues.n = j + 1;
    }
    if (boolList.inRow === 0) {
      const j = boolList.slot(false);
      boolList.keys.push(undefined);
      this.boolValues.ensure(1);
      this.boolValues.n = j + 1;
    }
    const ded = [d0, d1, d2, d3, d4];
    for (let d = 0; d < SPAN_DEDICATED.length; d++) {
      const c = SPAN_DEDICATED[d]!;
      if (c.type === 'int') {
        const x = ded[d] as bigint | null;
        this.defs[c.column]![row] = x === null ? 0 : 1;
        this.i64[c.column]![row] = x ?? 0n;
      } else {
        this.optional(c.column, row, ded[d]);
      }
    }
    this.optional('attrs_other', row, other ? encodeKeyValues(other) : null);
    this.arrays['attrs_order']!.push(this.orders.get(order, orderBytes));
  }

  /** Every leaf of the rows added since the last reset, in file order, for ColumnFileWriter. */
  leaves(tuning: EncodeTuning): { leaf: LeafSpec; chunk: LeafChunk; write: LeafWrite }[] {
    const n = this.length;
    const lists: Record<string, [ListLeaves, LeafValues]> = {
      attrs_str: [this.strList, { kind: 'str', data: this.strValues }],
      attrs_int: [this.intList, { kind: 'i64', data: this.intValues.view() }],
      attrs_dbl: [this.dblList, { kind: 'f64', data: this.dblValues.view() }],
      attrs_bool: [this.boolList, { kind: 'bool', data: this.boolValues.view() }],
    };
    return LEAVES.map((leaf) => {
      const top = leaf.path[0]!;
      const w = tuning.columns[top];
      const own = tuning.columns[leaf.key];
      let codec = w?.codec ?? tuning.codec;
      let compressor: Compressor | undefined;
      const pick = tuning.zstd && codec === 'BROTLI' ? (ZSTD_LEAF_CODECS[leaf.key] ?? { codec: 'ZSTD', level: BLOCK_ZSTD_LEVEL }) : undefined;
      if (pick?.codec === 'ZSTD') {
        codec = 'ZSTD';
        compressor = zstdCompressorAt(pick.level);
      } else if (pick) {
        compressor = brotliCompressorAt(pick.quality);
      } else {
        const quality = tuning.columnQualities && codec === 'BROTLI' ? (own?.brotliQuality ?? w?.brotliQuality) : undefined;
        if (quality !== undefined) compressor = brotliCompressorAt(quality);
        if (codec === 'BROTLI' && own?.compressor) compressor = own.compressor;
      }
      const write: LeafWrite = {
        codec,
        statistics: STATS_COLUMNS.has(top),
        ...(w?.encoding ? { encoding: w.encoding } : {}),
        ...(compressor ? { compressor } : {}),
      };
      const list = lists[top];
      if (list) {
        const [l, values] = list;
        const isKey = leaf.path[leaf.path.length - 1] === 'key';
        return {
          leaf,
          write,
          chunk: { values: isKey ? { kind: 'str', data: l.keys } : values, n: l.rep.n, rep: l.rep.view(), def: l.def.view() },
        };
      }
      const def = this.defs[top]?.subarray(0, n) ?? null;
      const e = leaf.element;
      const values: LeafValues =
        e.type === 'INT32'
          ? { kind: 'i32', data: this.i32[top]!.subarray(0, n) }
          : e.type === 'INT64'
            ? { kind: 'i64', data: this.i64[top]!.subarray(0, n) }
            : e.converted_type === 'UTF8'
              ? { kind: 'str', data: this.arrays[top] as string[] }
              : { kind: 'bytes', data: this.arrays[top] as Uint8Array[] };
      return { leaf, write, chunk: { values, n, def, rep: null } };
    });
  }
}

// The codes pushAttributes writes as characters must be AttrSlot's.
if (AttrSlot.STRING !== 1 || AttrSlot.INT !== 2 || AttrSlot.DOUBLE !== 3 || AttrSlot.BOOL !== 4 || AttrSlot.OTHER !== 5) {
  throw new Error('AttrSlot codes changed; update pushAttributes');
}

/**
 * A hyparquet-writer output that moves each row group's bytes out to a chunk list (so its working
 * buffer stays about one row group large, instead of doubling and copying the whole file as it
 * grows) and joins the chunks once at the end. (A resizable ArrayBuffer that grows in place was
 * tried too: it never copies, yet peaked 10-30% higher in RSS in the 600k-span benchmark.)
 */
class ChunkedWriter extends ByteWriter {
  private readonly chunks: Uint8Array[] = [];

  constructor() {
    super(1 << 20);
  }

  /** Bytes written so far (ByteWriter's `offset` counts them across flushes). */
  get bytes(): number {
    return this.offset;
  }

  /** Called by ParquetWriter after each row group. */
  flush(): void {
    if (this.index === 0) return;
    this.chunks.push(new Uint8Array(this.buffer.slice(0, this.index)));
    this.index = 0;
  }

  /** The whole file in one exactly-sized buffer. */
  override getBytes(): Uint8Array<ArrayBuffer> {
    this.flush();
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.byteLength, 0));
    let pos = 0;
    for (const c of this.chunks) {
      out.set(c, pos);
      pos += c.byteLength;
    }
    this.chunks.length = 0;
    return out;
  }
}

/** Trace IDs in one flat buffer (16 bytes each, no object per ID) for the bloom filter. */
class TraceIdList implements TraceIdSet {
  private buf = new Uint8Array(TRACE_ID_BYTES * 1024);
  count = 0;

  push(id: Uint8Array): void {
    const at = this.count * TRACE_ID_BYTES;
    if (at + TRACE_ID_BYTES > this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf.set(id, at);
    this.count++;
  }

  at(i: number): Uint8Array {
    return this.buf.subarray(i * TRACE_ID_BYTES, (i + 1) * TRACE_ID_BYTES);
  }

  forEach(fn: (id: Uint8Array) => void): void {
    for (let i = 0; i < this.count; i++) fn(this.at(i));
  }
}

function validateTraceId(id: Uint8Array): void {
  if (!(id instanceof Uint8Array) || id.length !== TRACE_ID_BYTES) {
    throw new InvalidArgumentError(`trace ID must be ${TRACE_ID_BYTES} bytes, got ${id?.length}`);
  }
}

/**
 * Encodes traces (sorted ascending by trace ID, each ID once, each trace already combined) into
 * the objects of one block. ResourceSpans and ScopeSpans without spans carry nothing to store
 * and are dropped; a span's traceId is stored once per row as the trace's ID. `traces` is read
 * once, lazily: a generator that decodes trace by trace keeps memory to about one row group.
 */
export function encodeBlock(
  tenantId: string,
  blockId: string,
  traces: Iterable<TraceEntry>,
  cfg: Partial<BlockConfig> = {},
  compactionLevel = 0,
  replicationFactor = 1,
): EncodedBlock {
  const w = new BlockWriter(tenantId, blockId, cfg, compactionLevel, tuningFor(CURRENT_FORMAT), replicationFactor);
  for (const { traceId, trace } of traces) w.add(traceId, trace);
  return w.finish();
}

/** encodeBlock with explicit Parquet settings (tests and benchmarks). */
export function encodeBlockWith(
  tenantId: string,
  blockId: string,
  traces: Iterable<TraceEntry>,
  cfg: Partial<BlockConfig>,
  compactionLevel: number,
  tuning: EncodeTuning,
): EncodedBlock {
  const w = new BlockWriter(tenantId, blockId, cfg, compactionLevel, tuning);
  for (const { traceId, trace } of traces) w.add(traceId, trace);
  return w.finish();
}

/**
 * Writes one block incrementally: traces are added one at a time in ascending ID order, each full
 * row group is encoded and compressed at once, so the writer holds one row group of spans and the
 * Parquet bytes written so far (`encodedBytes`), never the block's traces. A compaction streams
 * its merge through one of these; encodeBlock is add() in a loop.
 */
export class BlockWriter {
  private readonly config: BlockConfig;
  private readonly writer = new ChunkedWriter();
  /** hyparquet-writer (tuning.writer 'hyparquet-writer') or ours. */
  private readonly pq: ParquetWriter | null = null;
  private readonly columns: ColumnFileWriter | null = null;
  private readonly tables = new BlockTables();
  private readonly traceIds = new TraceIdList();
  private readonly rowGroups: RowGroupIndex[] = [];
  private readonly buffer: RowGroupBuffer | ColumnarRowGroup;
  private groupMin: Uint8Array | undefined;
  private groupMax: Uint8Array | undefined;
  private totalRows = 0;
  private minStart: bigint | undefined;
  private maxEnd: bigint | undefined;
  private prev: Uint8Array | undefined;
  private finished = false;

  constructor(
    private readonly tenantId: string,
    private readonly blockId: string,
    cfg: Partial<BlockConfig> = {},
    private readonly compactionLevel = 0,
    private readonly tuning: EncodeTuning = tuningFor(CURRENT_FORMAT),
    /** Tempo's meta field: copies of each trace across blocks (an RF 3 ingester's flush: 3); 0 leaves it out. */
    private readonly replicationFactor = 1,
  ) {
    validateTenantId(tenantId);
    if (!isBlockId(blockId)) throw new InvalidArgumentError(`block ID ${JSON.stringify(blockId)} is not a UUID`);
    this.config = resolveBlockConfig(cfg);
    if (tuning.writer === 'hyparquet-writer') {
      this.pq = new ParquetWriter({
        writer: this.writer,
        schema: BLOCK_SCHEMA,
        codec: tuning.codec,
        compressors: tuning.compressors,
        createdBy: CREATED_BY,
      });
      this.buffer = new RowGroupBuffer(this.config.rowGroupSpans);
    } else {
      this.columns = new ColumnFileWriter(this.writer, BLOCK_SCHEMA, tuning.compressors, CREATED_BY);
      this.buffer = new ColumnarRowGroup(this.config.rowGroupSpans);
    }
  }

  /** Parquet bytes written so far (complete row groups). */
  get encodedBytes(): number {
    return this.writer.bytes;
  }

  /** Adds one trace; IDs must ascend strictly. A trace without spans is left out. */
  add(traceId: Uint8Array, trace: Trace): void {
    if (this.finished) throw new Error('block writer is finished');
    validateTraceId(traceId);
    if (this.prev && compareBytes(this.prev, traceId) >= 0) {
      throw new InvalidArgumentError(
        `traces must be sorted by ascending trace ID without repeats: ${bytesToHex(traceId)} follows ${bytesToHex(this.prev)}`,
      );
    }
    const t = traceRows(trace, this.tables);
    const id = traceId.slice();
    this.prev = id;
    if (t.rows.length === 0) return;
    this.traceIds.push(id);
    if (this.minStart === undefined || t.start < this.minStart) this.minStart = t.start;
    if (this.maxEnd === undefined || t.end > this.maxEnd) this.maxEnd = t.end;

    // Keep a trace in one row group when it fits, so a lookup decodes one group.
    const buffer = this.buffer;
    if (buffer.length > 0 && buffer.length + t.rows.length > this.config.rowGroupSpans) this.flush();
    buffer.startTrace(t);
    for (const r of t.rows) {
      buffer.push(id, t, r);
      this.groupMin ??= id;
      this.groupMax = id;
      if (buffer.length >= this.config.rowGroupSpans) this.flush();
    }
  }

  private flush(): void {
    const rows = this.buffer.length;
    if (rows === 0) return;
    if (this.buffer instanceof ColumnarRowGroup) this.columns!.writeRowGroup(this.buffer.leaves(this.tuning), rows, this.config.pageSizeBytes);
    else void this.pq!.write({ columnData: this.buffer.columnData(this.tuning), rowGroupSize: rows, pageSize: this.config.pageSizeBytes });
    this.rowGroups.push({ minID: this.groupMin!, maxID: this.groupMax!, rowStart: this.totalRows, rowCount: rows });
    this.totalRows += rows;
    this.groupMin = this.groupMax = undefined;
    this.buffer.reset();
  }

  /** The block's objects (meta.json last); the writer cannot be used afterwards. */
  finish(): EncodedBlock {
    if (this.finished) throw new Error('block writer is finished');
    this.flush();
    this.finished = true;
    const { tables, traceIds, rowGroups, totalRows, tuning, config, pq, writer } = this;
    if (totalRows === 0) throw new InvalidArgumentError('a block needs at least one span');
    const kvMetadata = [
      { key: 'andante.format', value: tuning.format },
      { key: RESOURCE_TABLE_KEY, value: Buffer.from(tables.resources.encode()).toString('base64') },
      { key: SCOPE_TABLE_KEY, value: Buffer.from(tables.scopes.encode()).toString('base64') },
    ];
    if (pq) {
      pq.kvMetadata = kvMetadata;
      void pq.finish();
    } else {
      this.columns!.finish(kvMetadata);
    }
    const data = writer.getBytes();
    const footerSize = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(data.byteLength - 8, true);

    const blooms = buildBloomShards(traceIds, config.bloomFalsePositive, config.bloomShardSizeBytes);
    const meta: BlockMeta = {
      format: tuning.format,
      blockID: this.blockId,
      tenantID: this.tenantId,
      startTime: rfc3339Nano(this.minStart!),
      endTime: rfc3339Nano(this.maxEnd!),
      totalObjects: traceIds.count,
      totalSpans: totalRows,
      size: data.byteLength,
      compactionLevel: this.compactionLevel,
      totalRecords: rowGroups.length,
      bloomShards: blooms.length,
      footerSize,
      minID: bytesToBase64(traceIds.at(0)),
      maxID: bytesToBase64(traceIds.at(traceIds.count - 1)),
      ...(this.replicationFactor > 0 ? { replicationFactor: this.replicationFactor } : {}),
    };
    return {
      meta,
      objects: [
        { name: DATA_NAME, data },
        ...blooms.map((b, i) => ({ name: bloomName(i), data: b })),
        { name: INDEX_NAME, data: encodeBlockIndex(rowGroups) },
        { name: META_NAME, data: encodeBlockMeta(meta) },
      ],
    };
  }
}
