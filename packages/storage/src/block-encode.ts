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
import type { KeyValue, Span, Trace } from '@andante/model';
import { encodeEvents, encodeKeyValues, encodeLinks } from './binary-codec.js';
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
  BLOCK_SCHEMA,
  COLUMN_NAMES,
  FORMAT_V1,
  RESOURCE_DEDICATED,
  RESOURCE_TABLE_KEY,
  SCOPE_TABLE_KEY,
  SPAN_DEDICATED,
  STATS_COLUMNS,
} from './block-schema.js';
import { TableBuilder, encodeResourceEntry, encodeScopeEntry } from './block-tables.js';
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

/** A span's attributes split into dense typed lists plus the order that puts them back together. */
interface SpanAttrs {
  str: KeyedValue<string>[];
  int: KeyedValue<bigint>[];
  dbl: KeyedValue<number>[];
  bool: KeyedValue<boolean>[];
  other: KeyValue[];
  order: Uint8Array;
  dedicated: (string | bigint | null)[];
}

const SPAN_KEYS = new Map(SPAN_DEDICATED.map((d, i) => [d.key, i]));

function splitSpanAttrs(kvs: readonly KeyValue[]): SpanAttrs {
  const out: SpanAttrs = {
    str: [],
    int: [],
    dbl: [],
    bool: [],
    other: [],
    order: new Uint8Array(kvs.length),
    dedicated: SPAN_DEDICATED.map(() => null),
  };
  for (let i = 0; i < kvs.length; i++) {
    const { key, value: v } = kvs[i]!;
    // The first attribute of a dedicated key with the column's type moves to the column.
    const d = SPAN_KEYS.get(key);
    if (d !== undefined && out.dedicated[d] === null) {
      const type = SPAN_DEDICATED[d]!.type;
      if ((type === 'string' && 'stringValue' in v) || (type === 'int' && 'intValue' in v)) {
        out.dedicated[d] = 'stringValue' in v ? v.stringValue : (v as { intValue: bigint }).intValue;
        out.order[i] = AttrSlot.DEDICATED | d;
        continue;
      }
    }
    if ('stringValue' in v) {
      out.str.push({ key, value: v.stringValue });
      out.order[i] = AttrSlot.STRING;
    } else if ('intValue' in v) {
      out.int.push({ key, value: v.intValue });
      out.order[i] = AttrSlot.INT;
    } else if ('doubleValue' in v && !Object.is(v.doubleValue, -0)) {
      out.dbl.push({ key, value: v.doubleValue });
      out.order[i] = AttrSlot.DOUBLE;
    } else if ('boolValue' in v) {
      out.bool.push({ key, value: v.boolValue });
      out.order[i] = AttrSlot.BOOL;
    } else {
      out.other.push(kvs[i]!);
      out.order[i] = AttrSlot.OTHER;
    }
  }
  return out;
}

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

/** Flattens one trace to span rows sorted by start time, with nested-set numbers and trace summary. */
function traceRows(trace: Trace, resources: TableBuilder, scopes: TableBuilder): TraceRows {
  const rows: SpanRow[] = [];
  let spanIndex = 0;
  trace.resourceSpans.forEach((rs, rsIndex) => {
    if (rs.scopeSpans.every((ss) => ss.spans.length === 0)) return;
    const res: ResourceRef = { ref: resources.add(encodeResourceEntry(rs)), dedicated: resourceDedicated(rs.resource.attributes) };
    rs.scopeSpans.forEach((ss, ssIndex) => {
      if (ss.spans.length === 0) return;
      const scope: ScopeRef = { ref: scopes.add(encodeScopeEntry(ss)), name: ss.scope.name, version: ss.scope.version };
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
  c['resource_ref']!.push(r.res.ref);
  c['scope_ref']!.push(r.scope.ref);
  c['resource_service_name']!.push(r.res.dedicated[0] ?? '');
  for (let d = 1; d < RESOURCE_DEDICATED.length; d++) c[RESOURCE_DEDICATED[d]!.column]!.push(r.res.dedicated[d]);
  c['scope_name']!.push(r.scope.name);
  c['scope_version']!.push(r.scope.version);
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
  const a = splitSpanAttrs(s.attributes);
  for (let d = 0; d < SPAN_DEDICATED.length; d++) c[SPAN_DEDICATED[d]!.column]!.push(a.dedicated[d]);
  c['attrs_str']!.push(a.str);
  c['attrs_int']!.push(a.int);
  c['attrs_dbl']!.push(a.dbl);
  c['attrs_bool']!.push(a.bool);
  c['attrs_other']!.push(a.other.length > 0 ? encodeKeyValues(a.other) : null);
  c['attrs_order']!.push(a.order);
  c['dropped_attributes_count']!.push(s.droppedAttributesCount | 0);
  c['events']!.push(s.events.length > 0 ? encodeEvents(s.events, s.startTimeUnixNano) : null);
  c['dropped_events_count']!.push(s.droppedEventsCount | 0);
  c['links']!.push(s.links.length > 0 ? encodeLinks(s.links) : null);
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
  });

  const resources = new TableBuilder();
  const scopes = new TableBuilder();
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
      statistics: STATS_COLUMNS.has(name),
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
    const t = traceRows(trace, resources, scopes);
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
  pq.kvMetadata = [
    { key: 'andante.format', value: FORMAT_V1 },
    { key: RESOURCE_TABLE_KEY, value: Buffer.from(resources.encode()).toString('base64') },
    { key: SCOPE_TABLE_KEY, value: Buffer.from(scopes.encode()).toString('base64') },
  ];
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
