// Traces -> vAndante1 block objects. Pure CPU work with no I/O, so it can run in a worker thread;
// writeBlock puts the objects into a backend.

import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import type { ColumnSource } from 'hyparquet-writer';
import {
  InvalidArgumentError,
  TRACE_ID_BYTES,
  bytesToHex,
  compareBytes,
  validateTenantId,
} from '@andante/model';
import type { AnyValue, KeyValue, ScopeSpans, ResourceSpans, Span, Trace } from '@andante/model';
import { encodeAnyValue } from './any-value-codec.js';
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
  AttrType,
  BLOCK_SCHEMA,
  COLUMN_NAMES,
  FORMAT_V1,
  LIST_COLUMNS,
  RESOURCE_DEDICATED,
  SPAN_DEDICATED,
} from './block-schema.js';
import type { AttrRecord, DedicatedColumn } from './block-schema.js';
import { buildBloomShards } from './bloom.js';
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

type AttrOut = Partial<AttrRecord> & { key: string; type: number };
type DedicatedValue = string | bigint | null;

interface EncodedAttrs {
  attrs: AttrOut[];
  dedicated: DedicatedValue[];
}

interface ResourceEnc extends EncodedAttrs {
  dropped: number;
  schemaUrl: string;
}

interface ScopeEnc {
  name: string;
  version: string;
  attrs: AttrOut[];
  dropped: number;
  schemaUrl: string;
}

interface SpanRow {
  span: Span;
  res: ResourceEnc;
  scope: ScopeEnc;
  rsIndex: number;
  ssIndex: number;
  spanIndex: number;
  left: number;
  right: number;
  parentId: number;
}

const RESOURCE_KEYS = new Map(RESOURCE_DEDICATED.map((d, i) => [d.key, i]));
const SPAN_KEYS = new Map(SPAN_DEDICATED.map((d, i) => [d.key, i]));

function encodeValue(key: string, v: AnyValue): AttrOut {
  if ('stringValue' in v) return { key, type: AttrType.STRING, str: v.stringValue };
  if ('intValue' in v) return { key, type: AttrType.INT, int: v.intValue };
  if ('doubleValue' in v) {
    // A dictionary keys values with SameValueZero and would turn -0 into 0; keep its bits exactly.
    if (Object.is(v.doubleValue, -0)) return { key, type: AttrType.DOUBLE, raw: encodeAnyValue(v) };
    return { key, type: AttrType.DOUBLE, dbl: v.doubleValue };
  }
  if ('boolValue' in v) return { key, type: AttrType.BOOL, bool: v.boolValue };
  if ('bytesValue' in v) return { key, type: AttrType.BYTES, raw: v.bytesValue };
  if ('arrayValue' in v) return { key, type: AttrType.ARRAY, raw: encodeAnyValue(v) };
  if ('kvlistValue' in v) return { key, type: AttrType.KVLIST, raw: encodeAnyValue(v) };
  return { key, type: AttrType.EMPTY };
}

export function encodeAttrs(kvs: readonly KeyValue[]): AttrOut[] {
  return kvs.map((kv) => encodeValue(kv.key, kv.value));
}

/**
 * Generic attribute list plus dedicated column values. The first attribute of a dedicated key
 * with the column's type moves to the column and leaves a DEDICATED placeholder, which keeps the
 * attribute's position so the list reads back in its original order.
 */
function encodeWithDedicated(kvs: readonly KeyValue[], table: readonly DedicatedColumn[], keys: Map<string, number>): EncodedAttrs {
  const dedicated: DedicatedValue[] = table.map(() => null);
  const attrs = kvs.map((kv): AttrOut => {
    const d = keys.get(kv.key);
    if (d !== undefined && dedicated[d] === null) {
      const v = kv.value;
      if (table[d]!.type === 'string' && 'stringValue' in v) {
        dedicated[d] = v.stringValue;
        return { key: kv.key, type: AttrType.DEDICATED };
      }
      if (table[d]!.type === 'int' && 'intValue' in v) {
        dedicated[d] = v.intValue;
        return { key: kv.key, type: AttrType.DEDICATED };
      }
    }
    return encodeValue(kv.key, kv.value);
  });
  return { attrs, dedicated };
}

function encodeResource(rs: ResourceSpans): ResourceEnc {
  return {
    ...encodeWithDedicated(rs.resource.attributes, RESOURCE_DEDICATED, RESOURCE_KEYS),
    dropped: rs.resource.droppedAttributesCount | 0,
    schemaUrl: rs.schemaUrl,
  };
}

function encodeScope(ss: ScopeSpans): ScopeEnc {
  return {
    name: ss.scope.name,
    version: ss.scope.version,
    attrs: encodeAttrs(ss.scope.attributes),
    dropped: ss.scope.droppedAttributesCount | 0,
    schemaUrl: ss.schemaUrl,
  };
}

const u64ToI64 = (v: bigint): bigint => BigInt.asIntN(64, v);

interface TraceRows {
  rows: SpanRow[];
  rootServiceName: string;
  rootSpanName: string;
  start: bigint;
  end: bigint;
}

/** Flattens one trace to span rows sorted by start time, with nested-set numbers and trace summary. */
function traceRows(trace: Trace): TraceRows {
  const rows: SpanRow[] = [];
  let spanIndex = 0;
  trace.resourceSpans.forEach((rs, rsIndex) => {
    const res = encodeResource(rs);
    rs.scopeSpans.forEach((ss, ssIndex) => {
      const scope = encodeScope(ss);
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
    rootServiceName: root ? ((root.res.dedicated[0] as string | null) ?? '') : '',
    rootSpanName: root?.span.name ?? '',
    start: start < 0n ? 0n : start,
    end: end < 0n ? 0n : end,
  };
}

type Columns = Record<string, unknown[]>;

function newColumns(): Columns {
  return Object.fromEntries(COLUMN_NAMES.map((n) => [n, []]));
}

function pushRow(c: Columns, traceId: Uint8Array, t: TraceRows, r: SpanRow): void {
  const s = r.span;
  c['trace_id']!.push(traceId);
  c['trace_root_service_name']!.push(t.rootServiceName);
  c['trace_root_span_name']!.push(t.rootSpanName);
  c['trace_start_time_unix_nano']!.push(u64ToI64(t.start));
  c['trace_end_time_unix_nano']!.push(u64ToI64(t.end));
  c['rs_index']!.push(r.rsIndex);
  c['ss_index']!.push(r.ssIndex);
  c['span_index']!.push(r.spanIndex);
  c['resource_service_name']!.push(r.res.dedicated[0] ?? '');
  for (let d = 1; d < RESOURCE_DEDICATED.length; d++) c[RESOURCE_DEDICATED[d]!.column]!.push(r.res.dedicated[d]);
  c['resource_attrs']!.push(r.res.attrs);
  c['resource_dropped_attributes_count']!.push(r.res.dropped);
  c['resource_schema_url']!.push(r.res.schemaUrl);
  c['scope_name']!.push(r.scope.name);
  c['scope_version']!.push(r.scope.version);
  c['scope_attrs']!.push(r.scope.attrs);
  c['scope_dropped_attributes_count']!.push(r.scope.dropped);
  c['scope_schema_url']!.push(r.scope.schemaUrl);
  c['span_id']!.push(s.spanId);
  c['parent_span_id']!.push(s.parentSpanId);
  c['parent_id']!.push(r.parentId);
  c['nested_set_left']!.push(r.left);
  c['nested_set_right']!.push(r.right);
  c['name']!.push(s.name);
  c['kind']!.push(s.kind | 0);
  c['start_time_unix_nano']!.push(u64ToI64(s.startTimeUnixNano));
  c['duration_nano']!.push(u64ToI64(s.endTimeUnixNano - s.startTimeUnixNano));
  c['status_code']!.push(s.status.code | 0);
  c['status_message']!.push(s.status.message);
  c['trace_state']!.push(s.traceState);
  c['flags']!.push(s.flags | 0);
  const sd = encodeWithDedicated(s.attributes, SPAN_DEDICATED, SPAN_KEYS);
  for (let d = 0; d < SPAN_DEDICATED.length; d++) c[SPAN_DEDICATED[d]!.column]!.push(sd.dedicated[d]);
  c['attrs']!.push(sd.attrs);
  c['dropped_attributes_count']!.push(s.droppedAttributesCount | 0);
  c['events']!.push(
    s.events.map((e) => ({
      time_since_start_nano: u64ToI64(e.timeUnixNano - s.startTimeUnixNano),
      name: e.name,
      attrs: encodeAttrs(e.attributes),
      dropped_attributes_count: e.droppedAttributesCount | 0,
    })),
  );
  c['dropped_events_count']!.push(s.droppedEventsCount | 0);
  c['links']!.push(
    s.links.map((l) => ({
      trace_id: l.traceId,
      span_id: l.spanId,
      trace_state: l.traceState,
      attrs: encodeAttrs(l.attributes),
      dropped_attributes_count: l.droppedAttributesCount | 0,
      flags: l.flags | 0,
    })),
  );
  c['dropped_links_count']!.push(s.droppedLinksCount | 0);
}

function validateTraceId(id: Uint8Array): void {
  if (!(id instanceof Uint8Array) || id.length !== TRACE_ID_BYTES) {
    throw new InvalidArgumentError(`trace ID must be ${TRACE_ID_BYTES} bytes, got ${id?.length}`);
  }
}

/**
 * Encodes traces (sorted ascending by trace ID, each ID once, each trace already combined) into
 * the objects of one block. ResourceSpans and ScopeSpans without spans carry nothing to store
 * and are dropped; a span's traceId is stored once per row as the trace's ID.
 */
export function encodeBlock(
  tenantId: string,
  blockId: string,
  traces: Iterable<TraceEntry>,
  cfg: Partial<BlockConfig> = {},
  compactionLevel = 0,
): EncodedBlock {
  validateTenantId(tenantId);
  if (!isBlockId(blockId)) throw new InvalidArgumentError(`block ID ${JSON.stringify(blockId)} is not a UUID`);
  const config = resolveBlockConfig(cfg);

  const writer = new ByteWriter(1 << 20);
  const pq = new ParquetWriter({
    writer,
    schema: BLOCK_SCHEMA,
    codec: 'SNAPPY',
    createdBy: 'andante',
    kvMetadata: [{ key: 'andante.format', value: FORMAT_V1 }],
  });

  const traceIds: Uint8Array[] = [];
  const rowGroups: RowGroupIndex[] = [];
  let cols = newColumns();
  let buffered = 0;
  let groupMin: Uint8Array | undefined;
  let groupMax: Uint8Array | undefined;
  let totalRows = 0;
  let minStart: bigint | undefined;
  let maxEnd: bigint | undefined;

  const flush = (): void => {
    if (buffered === 0) return;
    const columnData: ColumnSource[] = COLUMN_NAMES.map((name) => ({
      name,
      data: cols[name]!,
      statistics: !LIST_COLUMNS.has(name),
    }));
    void pq.write({ columnData, rowGroupSize: buffered, pageSize: config.pageSizeBytes });
    rowGroups.push({ minID: groupMin!, maxID: groupMax!, rowStart: totalRows, rowCount: buffered });
    totalRows += buffered;
    buffered = 0;
    groupMin = groupMax = undefined;
    cols = newColumns();
  };

  let prev: Uint8Array | undefined;
  for (const { traceId, trace } of traces) {
    validateTraceId(traceId);
    if (prev && compareBytes(prev, traceId) >= 0) {
      throw new InvalidArgumentError(
        `traces must be sorted by ascending trace ID without repeats: ${bytesToHex(traceId)} follows ${bytesToHex(prev)}`,
      );
    }
    prev = traceId;
    const t = traceRows(trace);
    if (t.rows.length === 0) continue;
    const id = traceId.slice();
    traceIds.push(id);
    if (minStart === undefined || t.start < minStart) minStart = t.start;
    if (maxEnd === undefined || t.end > maxEnd) maxEnd = t.end;

    // Keep a trace in one row group when it fits, so a lookup decodes one group.
    if (buffered > 0 && buffered + t.rows.length > config.rowGroupSpans) flush();
    for (const r of t.rows) {
      pushRow(cols, id, t, r);
      buffered++;
      groupMin ??= id;
      groupMax = id;
      if (buffered >= config.rowGroupSpans) flush();
    }
  }
  flush();
  if (totalRows === 0) throw new InvalidArgumentError('a block needs at least one span');
  void pq.finish();
  const data = writer.getBytes().slice();
  const footerSize = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(data.byteLength - 8, true);

  const blooms = buildBloomShards(traceIds, config.bloomFalsePositive, config.bloomShardSizeBytes);
  const meta: BlockMeta = {
    format: FORMAT_V1,
    blockID: blockId,
    tenantID: tenantId,
    startTime: rfc3339Nano(minStart!),
    endTime: rfc3339Nano(maxEnd!),
    totalObjects: traceIds.length,
    totalSpans: totalRows,
    size: data.byteLength,
    compactionLevel,
    totalRecords: rowGroups.length,
    bloomShards: blooms.length,
    footerSize,
    minID: bytesToBase64(traceIds[0]!),
    maxID: bytesToBase64(traceIds[traceIds.length - 1]!),
    replicationFactor: 1,
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
