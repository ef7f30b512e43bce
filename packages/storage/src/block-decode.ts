// vAndante1 span rows (as hyparquet returns them) -> the OTLP trace they came from.

import type { AnyValue, KeyValue, ResourceSpans, ScopeSpans, Span, Trace } from '@andante/model';
import { decodeEvents, decodeKeyValues, decodeLinks } from './binary-codec.js';
import { AttrSlot, SPAN_DEDICATED } from './block-schema.js';
import type { ResourceEntry, ScopeEntry } from './block-tables.js';

/** One span row; fields are the top-level column names. */
export type SpanRowData = Record<string, unknown>;

export interface BlockTables {
  resources: ResourceEntry[];
  scopes: ScopeEntry[];
}

const u32 = (v: unknown): number => (v as number) >>> 0;
const i32 = (v: unknown): number => v as number;
const str = (v: unknown): string => v as string;
const i64 = (v: unknown): bigint => v as bigint;
const bytes = (v: unknown): Uint8Array => (v as Uint8Array).slice();

type Keyed<T> = { key: string; value: T }[];

/** Puts the typed lists back in the original attribute order. */
function decodeSpanAttrs(row: SpanRowData): KeyValue[] {
  const order = row['attrs_order'] as Uint8Array;
  if (order.length === 0) return [];
  const strs = row['attrs_str'] as Keyed<string>;
  const ints = row['attrs_int'] as Keyed<bigint>;
  const dbls = row['attrs_dbl'] as Keyed<number>;
  const bools = row['attrs_bool'] as Keyed<boolean>;
  const other = row['attrs_other'] ? decodeKeyValues(row['attrs_other'] as Uint8Array) : [];
  let si = 0;
  let ii = 0;
  let di = 0;
  let bi = 0;
  let oi = 0;
  const out: KeyValue[] = new Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const slot = order[i]!;
    let kv: KeyValue;
    if (slot === AttrSlot.STRING) {
      const e = strs[si++]!;
      kv = { key: e.key, value: { stringValue: e.value } };
    } else if (slot === AttrSlot.INT) {
      const e = ints[ii++]!;
      kv = { key: e.key, value: { intValue: e.value } };
    } else if (slot === AttrSlot.DOUBLE) {
      const e = dbls[di++]!;
      kv = { key: e.key, value: { doubleValue: e.value } };
    } else if (slot === AttrSlot.BOOL) {
      const e = bools[bi++]!;
      kv = { key: e.key, value: { boolValue: e.value } };
    } else if (slot === AttrSlot.OTHER) {
      kv = other[oi++]!;
    } else {
      const d = SPAN_DEDICATED[slot & ~AttrSlot.DEDICATED];
      if (!d) throw new Error(`unknown attribute slot ${slot}`);
      const v = row[d.column];
      const value: AnyValue = typeof v === 'bigint' ? { intValue: v } : typeof v === 'string' ? { stringValue: v } : {};
      kv = { key: d.key, value };
    }
    if (!kv) throw new Error('attribute order names more values than the span stores');
    out[i] = kv;
  }
  return out;
}

function decodeSpan(row: SpanRowData, traceId: Uint8Array): Span {
  const start = BigInt.asUintN(64, i64(row['start_time_unix_nano']));
  return {
    traceId: traceId.slice(),
    spanId: bytes(row['span_id']),
    traceState: str(row['trace_state']),
    parentSpanId: bytes(row['parent_span_id']),
    flags: u32(row['flags']),
    name: str(row['name']),
    kind: i32(row['kind']),
    startTimeUnixNano: start,
    endTimeUnixNano: BigInt.asUintN(64, start + i64(row['duration_nano'])),
    attributes: decodeSpanAttrs(row),
    droppedAttributesCount: u32(row['dropped_attributes_count']),
    events: row['events'] ? decodeEvents(row['events'] as Uint8Array, start) : [],
    droppedEventsCount: u32(row['dropped_events_count']),
    links: row['links'] ? decodeLinks(row['links'] as Uint8Array) : [],
    droppedLinksCount: u32(row['dropped_links_count']),
    status: { message: str(row['status_message']), code: i32(row['status_code']) },
  };
}

function tableEntry<T>(table: T[], ref: unknown, what: string): T {
  const e = table[i32(ref)];
  if (!e) throw new Error(`span row references ${what} ${String(ref)}, but the block's table has ${table.length}`);
  return e;
}

/** Rebuilds a trace from all of its span rows (any order). */
export function rowsToTrace(traceId: Uint8Array, rows: SpanRowData[], tables: BlockTables): Trace {
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
      // Each ResourceSpans gets its own copy: callers may mutate what they get back.
      const r = tableEntry(tables.resources, row['resource_ref'], 'resource');
      rs = {
        resource: { attributes: structuredClone(r.attributes), droppedAttributesCount: r.droppedAttributesCount },
        scopeSpans: [],
        schemaUrl: r.schemaUrl,
      };
      resourceSpans.push(rs);
    }
    if (!ss || i32(row['ss_index']) !== ssIndex) {
      ssIndex = i32(row['ss_index']);
      const s = tableEntry(tables.scopes, row['scope_ref'], 'scope');
      ss = {
        scope: { name: s.name, version: s.version, attributes: structuredClone(s.attributes), droppedAttributesCount: s.droppedAttributesCount },
        spans: [],
        schemaUrl: s.schemaUrl,
      };
      rs.scopeSpans.push(ss);
    }
    ss.spans.push(decodeSpan(row, traceId));
  }
  return { resourceSpans };
}
