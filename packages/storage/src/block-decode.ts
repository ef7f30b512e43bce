// vAndante1 span rows (as row-pages.ts reads them) -> the OTLP trace they came from.

import type { AnyValue, KeyValue, ResourceSpans, ScopeSpans, Span, Trace } from '@andante/model';
import { decodeEvents, decodeKeyValues, decodeLinks } from './binary-codec.js';
import { AttrSlot, SPAN_DEDICATED, TRACE_COLUMNS } from './block-schema.js';
import type { ResourceEntry, ScopeEntry } from './block-tables.js';

/**
 * One span row: the values of TRACE_COLUMNS, in that order (readRowsByPages). Not objects keyed
 * by column, as hyparquet's rows are: it adds their 32 properties by computed keys, which leaves
 * each row a dictionary-mode object (several KB, slow to read); a compaction reads every row of a block.
 */
export type SpanRowData = unknown[];

/** The position of a TRACE_COLUMNS column in a SpanRowData. */
function traceColumn(name: string): number {
  const i = TRACE_COLUMNS.indexOf(name);
  if (i < 0) throw new Error(`${name} is not a trace column`);
  return i;
}

const TRACE_ID = traceColumn('trace_id');
const RS_INDEX = traceColumn('rs_index');
const SS_INDEX = traceColumn('ss_index');
const SPAN_INDEX = traceColumn('span_index');
const RESOURCE_REF = traceColumn('resource_ref');
const SCOPE_REF = traceColumn('scope_ref');
const SPAN_ID = traceColumn('span_id');
const PARENT_SPAN_ID = traceColumn('parent_span_id');
const NAME = traceColumn('name');
const KIND = traceColumn('kind');
const START = traceColumn('start_time_unix_nano');
const DURATION = traceColumn('duration_nano');
const STATUS_CODE = traceColumn('status_code');
const STATUS_MESSAGE = traceColumn('status_message');
const TRACE_STATE = traceColumn('trace_state');
const FLAGS = traceColumn('flags');
const ATTRS_STR = traceColumn('attrs_str');
const ATTRS_INT = traceColumn('attrs_int');
const ATTRS_DBL = traceColumn('attrs_dbl');
const ATTRS_BOOL = traceColumn('attrs_bool');
const ATTRS_OTHER = traceColumn('attrs_other');
const ATTRS_ORDER = traceColumn('attrs_order');
const DROPPED_ATTRIBUTES = traceColumn('dropped_attributes_count');
const EVENTS = traceColumn('events');
const DROPPED_EVENTS = traceColumn('dropped_events_count');
const LINKS = traceColumn('links');
const DROPPED_LINKS = traceColumn('dropped_links_count');
const DEDICATED = SPAN_DEDICATED.map((d) => traceColumn(d.column));

/** A row's trace ID (a view into the page it was read from). */
export const rowTraceId = (row: SpanRowData): Uint8Array => row[TRACE_ID] as Uint8Array;

export interface BlockTables {
  resources: ResourceEntry[];
  scopes: ScopeEntry[];
}

const u32 = (v: unknown): number => (v as number) >>> 0;
const i32 = (v: unknown): number => v as number;
const str = (v: unknown): string => v as string;
const i64 = (v: unknown): bigint => v as bigint;

type Keyed<T> = { key: string; value: T }[];

/** Puts the typed lists back in the original attribute order. */
function decodeSpanAttrs(row: SpanRowData): KeyValue[] {
  const order = row[ATTRS_ORDER] as Uint8Array;
  if (order.length === 0) return [];
  const strs = row[ATTRS_STR] as Keyed<string>;
  const ints = row[ATTRS_INT] as Keyed<bigint>;
  const dbls = row[ATTRS_DBL] as Keyed<number>;
  const bools = row[ATTRS_BOOL] as Keyed<boolean>;
  const other = row[ATTRS_OTHER] ? decodeKeyValues(row[ATTRS_OTHER] as Uint8Array) : [];
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
      const v = row[DEDICATED[slot & ~AttrSlot.DEDICATED]!];
      const value: AnyValue = typeof v === 'bigint' ? { intValue: v } : typeof v === 'string' ? { stringValue: v } : {};
      kv = { key: d.key, value };
    }
    if (!kv) throw new Error('attribute order names more values than the span stores');
    out[i] = kv;
  }
  return out;
}

function decodeSpan(row: SpanRowData, traceId: Uint8Array, shared: boolean): Span {
  const start = BigInt.asUintN(64, i64(row[START]));
  const spanId = row[SPAN_ID] as Uint8Array;
  const parentSpanId = row[PARENT_SPAN_ID] as Uint8Array;
  return {
    traceId: shared ? traceId : traceId.slice(),
    spanId: shared ? spanId : spanId.slice(),
    traceState: str(row[TRACE_STATE]),
    parentSpanId: shared ? parentSpanId : parentSpanId.slice(),
    flags: u32(row[FLAGS]),
    name: str(row[NAME]),
    kind: i32(row[KIND]),
    startTimeUnixNano: start,
    endTimeUnixNano: BigInt.asUintN(64, start + i64(row[DURATION])),
    attributes: decodeSpanAttrs(row),
    droppedAttributesCount: u32(row[DROPPED_ATTRIBUTES]),
    events: row[EVENTS] ? decodeEvents(row[EVENTS] as Uint8Array, start) : [],
    droppedEventsCount: u32(row[DROPPED_EVENTS]),
    links: row[LINKS] ? decodeLinks(row[LINKS] as Uint8Array) : [],
    droppedLinksCount: u32(row[DROPPED_LINKS]),
    status: { message: str(row[STATUS_MESSAGE]), code: i32(row[STATUS_CODE]) },
  };
}

function tableEntry<T>(table: T[], ref: unknown, what: string): T {
  const e = table[i32(ref)];
  if (!e) throw new Error(`span row references ${what} ${String(ref)}, but the block's table has ${table.length}`);
  return e;
}

/**
 * Rebuilds a trace from all of its span rows (any order). The trace is the caller's to keep and
 * modify, unless `shared`: then its IDs are views into the rows' pages and its resource and scope
 * attributes are the block tables' own, for a reader that only reads the trace and lets it go
 * (the compactor's merge: no copies to make and collect for every span).
 */
export function rowsToTrace(traceId: Uint8Array, rows: SpanRowData[], tables: BlockTables, shared = false): Trace {
  const ordered = rows.slice().sort((a, b) => i32(a[SPAN_INDEX]) - i32(b[SPAN_INDEX]));
  const resourceSpans: ResourceSpans[] = [];
  let rs: ResourceSpans | undefined;
  let ss: ScopeSpans | undefined;
  let rsIndex = -1;
  let ssIndex = -1;
  for (const row of ordered) {
    if (!rs || i32(row[RS_INDEX]) !== rsIndex) {
      rsIndex = i32(row[RS_INDEX]);
      ssIndex = -1;
      // Each ResourceSpans gets its own copy (unless shared): callers may mutate what they get back.
      const r = tableEntry(tables.resources, row[RESOURCE_REF], 'resource');
      rs = {
        resource: { attributes: shared ? r.attributes : structuredClone(r.attributes), droppedAttributesCount: r.droppedAttributesCount },
        scopeSpans: [],
        schemaUrl: r.schemaUrl,
      };
      resourceSpans.push(rs);
    }
    if (!ss || i32(row[SS_INDEX]) !== ssIndex) {
      ssIndex = i32(row[SS_INDEX]);
      const s = tableEntry(tables.scopes, row[SCOPE_REF], 'scope');
      ss = {
        scope: { name: s.name, version: s.version, attributes: shared ? s.attributes : structuredClone(s.attributes), droppedAttributesCount: s.droppedAttributesCount },
        spans: [],
        schemaUrl: s.schemaUrl,
      };
      rs.scopeSpans.push(ss);
    }
    ss.spans.push(decodeSpan(row, traceId, shared));
  }
  return { resourceSpans };
}
