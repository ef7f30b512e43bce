// vAndante1 span rows (as hyparquet returns them) -> the OTLP trace they came from.

import type { AnyValue, KeyValue, ResourceSpans, ScopeSpans, Span, Trace } from '@andante/model';
import { decodeAnyValue } from './any-value-codec.js';
import { AttrType, RESOURCE_DEDICATED, SPAN_DEDICATED } from './block-schema.js';
import type { AttrRecord, DedicatedColumn } from './block-schema.js';

/** One span row; fields are the top-level column names. */
export type SpanRowData = Record<string, unknown>;

const RESOURCE_COLUMNS = new Map(RESOURCE_DEDICATED.map((d) => [d.key, d]));
const SPAN_COLUMNS = new Map(SPAN_DEDICATED.map((d) => [d.key, d]));

const copy = (b: unknown): Uint8Array => (b as Uint8Array).slice();
const u32 = (v: unknown): number => (v as number) >>> 0;
const i32 = (v: unknown): number => v as number;
const str = (v: unknown): string => v as string;
const i64 = (v: unknown): bigint => v as bigint;

function decodeValue(a: AttrRecord): AnyValue {
  switch (a.type) {
    case AttrType.STRING:
      return { stringValue: a.str ?? '' };
    case AttrType.INT:
      return { intValue: a.int ?? 0n };
    case AttrType.DOUBLE:
      return a.raw ? decodeAnyValue(a.raw) : { doubleValue: a.dbl ?? 0 };
    case AttrType.BOOL:
      return { boolValue: a.bool ?? false };
    case AttrType.BYTES:
      return { bytesValue: a.raw ? a.raw.slice() : new Uint8Array(0) };
    case AttrType.ARRAY:
    case AttrType.KVLIST:
      return decodeAnyValue(a.raw ?? new Uint8Array([0]));
    default:
      return {};
  }
}

function decodeAttrs(list: unknown, row?: SpanRowData, dedicated?: Map<string, DedicatedColumn>): KeyValue[] {
  return (list as AttrRecord[]).map((a) => {
    if (a.type === AttrType.DEDICATED && row && dedicated) {
      const d = dedicated.get(a.key);
      const v = d ? row[d.column] : undefined;
      if (d?.type === 'int' && typeof v === 'bigint') return { key: a.key, value: { intValue: v } };
      if (typeof v === 'string') return { key: a.key, value: { stringValue: v } };
      return { key: a.key, value: {} };
    }
    return { key: a.key, value: decodeValue(a) };
  });
}

function decodeSpan(row: SpanRowData, traceId: Uint8Array): Span {
  const start = BigInt.asUintN(64, i64(row['start_time_unix_nano']));
  const events = (row['events'] as Record<string, unknown>[]).map((e) => ({
    timeUnixNano: BigInt.asUintN(64, start + i64(e['time_since_start_nano'])),
    name: str(e['name']),
    attributes: decodeAttrs(e['attrs']),
    droppedAttributesCount: u32(e['dropped_attributes_count']),
  }));
  const links = (row['links'] as Record<string, unknown>[]).map((l) => ({
    traceId: copy(l['trace_id']),
    spanId: copy(l['span_id']),
    traceState: str(l['trace_state']),
    attributes: decodeAttrs(l['attrs']),
    droppedAttributesCount: u32(l['dropped_attributes_count']),
    flags: u32(l['flags']),
  }));
  return {
    traceId: traceId.slice(),
    spanId: copy(row['span_id']),
    traceState: str(row['trace_state']),
    parentSpanId: copy(row['parent_span_id']),
    flags: u32(row['flags']),
    name: str(row['name']),
    kind: i32(row['kind']),
    startTimeUnixNano: start,
    endTimeUnixNano: BigInt.asUintN(64, start + i64(row['duration_nano'])),
    attributes: decodeAttrs(row['attrs'], row, SPAN_COLUMNS),
    droppedAttributesCount: u32(row['dropped_attributes_count']),
    events,
    droppedEventsCount: u32(row['dropped_events_count']),
    links,
    droppedLinksCount: u32(row['dropped_links_count']),
    status: { message: str(row['status_message']), code: i32(row['status_code']) },
  };
}

/** Rebuilds a trace from all of its span rows (any order). */
export function rowsToTrace(traceId: Uint8Array, rows: SpanRowData[]): Trace {
  const ordered = rows.slice().sort((a, b) => i32(a['span_index']) - i32(b['span_index']));
  const resourceSpans: ResourceSpans[] = [];
  let rs: ResourceSpans | undefined;
  let ss: ScopeSpans | undefined;
  let rsIndex = -1;
  let ssIndex = -1;
  for (const row of ordered) {
    if (!rs || i32(row['rs_index']) !== rsIndex) {
      rsIndex = i32(row['rs_index']);
      ssIndex = -1;
      rs = {
        resource: {
          attributes: decodeAttrs(row['resource_attrs'], row, RESOURCE_COLUMNS),
          droppedAttributesCount: u32(row['resource_dropped_attributes_count']),
        },
        scopeSpans: [],
        schemaUrl: str(row['resource_schema_url']),
      };
      resourceSpans.push(rs);
    }
    if (!ss || i32(row['ss_index']) !== ssIndex) {
      ssIndex = i32(row['ss_index']);
      ss = {
        scope: {
          name: str(row['scope_name']),
          version: str(row['scope_version']),
          attributes: decodeAttrs(row['scope_attrs']),
          droppedAttributesCount: u32(row['scope_dropped_attributes_count']),
        },
        spans: [],
        schemaUrl: str(row['scope_schema_url']),
      };
      rs.scopeSpans.push(ss);
    }
    ss.spans.push(decodeSpan(row, traceId));
  }
  return { resourceSpans };
}
