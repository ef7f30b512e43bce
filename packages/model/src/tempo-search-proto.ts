// tempopb.SearchResponse, the answer of Tempo's StreamingQuerier Search and of Andante's recent-search
// call to the ingesters (grafana/tempo pkg/tempopb/tempo.proto, checked at main ad33aa8f, same
// numbers in v2.10), shared by the query-frontend and ingester-client; and the protobufjs-based
// helpers (flat-message schemas, field visitors) that the query-frontend's own Tempo API codecs
// (requests, tags, query_range) build on, through `@andante/model/wire`:
//
//   SearchResponse: 1 traces TraceSearchMetadata, 2 metrics SearchMetrics.
//   TraceSearchMetadata: 1 traceID, 2 rootServiceName, 3 rootTraceName (strings), 4 startTimeUnixNano
//     u64, 5 durationMs u32, 6 spanSet (deprecated single), 7 spanSets, 8 serviceStats
//     map<string, ServiceStats{1 spanCount u32, 2 errorCount u32}>.
//   SpanSet: 1 spans, 2 matched u32, 3 attributes KeyValue. Span: 1 spanID, 2 name, 3
//     startTimeUnixNano u64, 4 durationNanos u64, 5 attributes KeyValue.
//   SearchMetrics: 1 inspectedTraces u32, 2 inspectedBytes u64, 3 totalBlocks u32, 4 completedJobs
//     u32, 5 totalJobs u32, 6 totalBlockBytes u64, 7 inspectedSpans u64 (8-10 newer: not sent).
// KeyValue is OTLP's common.v1 (Tempo vendors it as tempopb.common.v1), shared with trace-codec.

import protobuf from 'protobufjs/minimal.js';
import { emptySearchMetrics, type SearchMetrics, type SearchResponse, type SearchSpan, type SearchSpanSet, type ServiceStats, type TraceSearchMetadata } from './search.js';
import type { KeyValue } from './trace.js';
import { LEN, Reader, VARINT, asInvalidArgument, checkEnd, lenEnd, otherField, readInt64, readUint32 } from './proto-wire.js';
import { decodeKeyValueMessage, encodeKeyValueMessage, str } from './trace-codec.js';

// ---------------------------------------------------------------------------------------------
// Writing (protobufjs Writer; proto3: zero values are not written)

export type MessageWriter = protobuf.Writer;
type Writer = MessageWriter;
export const newMessageWriter = (): Writer => protobuf.Writer.create();
export const lenTag = (field: number): number => (field << 3) | LEN;
export const varintTag = (field: number): number => (field << 3) | VARINT;

export function putString(w: Writer, field: number, s: string): void {
  if (s) w.uint32(lenTag(field)).string(s);
}

export function putUint32(w: Writer, field: number, v: number): void {
  if (v >>> 0 !== 0) w.uint32(varintTag(field)).uint32(v >>> 0);
}

export function putUint64(w: Writer, field: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  if (u === 0n) return;
  // protobufjs takes 64-bit values as {low, high} (a string would lose precision without Long).
  const bits = { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: true };
  w.uint32(varintTag(field)).uint64(bits as unknown as number);
}

export function putMessage(w: Writer, field: number, body: (w: Writer) => void): void {
  w.uint32(lenTag(field)).fork();
  body(w);
  w.ldelim();
}

export function putKeyValues(w: Writer, field: number, kvs: readonly KeyValue[]): void {
  for (const kv of kvs) w.uint32(lenTag(field)).bytes(encodeKeyValueMessage(kv));
}

export const finish = (w: Writer): Uint8Array => w.finish();

/** Scalar fields of a message as [field number, property, kind]: one table drives both directions. */
export type FlatSchema<T> = readonly (readonly [field: number, key: keyof T & string, kind: 'string' | 'uint32' | 'uint64'])[];

export function putFlat<T>(w: Writer, schema: FlatSchema<T>, value: T): void {
  for (const [field, key, kind] of schema) {
    const v = value[key];
    if (kind === 'string') putString(w, field, v as string);
    else if (kind === 'uint32') putUint32(w, field, v as number);
    else putUint64(w, field, v as bigint);
  }
}

export const SEARCH_METRICS: FlatSchema<SearchMetrics> = [
  [1, 'inspectedTraces', 'uint32'],
  [2, 'inspectedBytes', 'uint64'],
  [3, 'totalBlocks', 'uint32'],
  [4, 'completedJobs', 'uint32'],
  [5, 'totalJobs', 'uint32'],
  [6, 'totalBlockBytes', 'uint64'],
  [7, 'inspectedSpans', 'uint64'],
];

function putSpan(w: Writer, s: SearchSpan): void {
  putString(w, 1, s.spanID);
  putString(w, 2, s.name);
  putUint64(w, 3, s.startTimeUnixNano);
  putUint64(w, 4, s.durationNanos);
  putKeyValues(w, 5, s.attributes);
}

function putSpanSet(w: Writer, s: SearchSpanSet): void {
  for (const span of s.spans) putMessage(w, 1, (x) => putSpan(x, span));
  putUint32(w, 2, s.matched);
  putKeyValues(w, 3, s.attributes);
}

function putTrace(w: Writer, t: TraceSearchMetadata): void {
  putString(w, 1, t.traceID);
  putString(w, 2, t.rootServiceName);
  putString(w, 3, t.rootTraceName);
  putUint64(w, 4, t.startTimeUnixNano);
  putUint32(w, 5, t.durationMs);
  // The deprecated single spanset mirrors the first, as Tempo still fills it (and the JSON does).
  if (t.spanSets.length > 0) putMessage(w, 6, (x) => putSpanSet(x, t.spanSets[0]!));
  for (const set of t.spanSets) putMessage(w, 7, (x) => putSpanSet(x, set));
  for (const name of Object.keys(t.serviceStats).sort()) {
    const stats = t.serviceStats[name]!;
    putMessage(w, 8, (e) => {
      putString(e, 1, name);
      putMessage(e, 2, (v) => {
        putUint32(v, 1, stats.spanCount);
        putUint32(v, 2, stats.errorCount);
      });
    });
  }
}

export function encodeSearchResponse(r: SearchResponse): Uint8Array {
  const w = newMessageWriter();
  for (const t of r.traces) putMessage(w, 1, (x) => putTrace(x, t));
  // Always present (possibly empty), as Tempo's frontend always sets it.
  putMessage(w, 2, (x) => putFlat(x, SEARCH_METRICS, r.metrics));
  return finish(w);
}

// ---------------------------------------------------------------------------------------------
// Reading (protobufjs Reader with the bounds checks of proto-wire; unknown fields are skipped)

/** Field-number bit masks, so a known field with the wrong wire type is an error. */
export const fields = (...numbers: number[]): number => numbers.reduce((m, n) => m | (1 << n), 0);

/**
 * Runs `visit` for each field of the message spanning r.pos..end; `visit` returns false for a
 * field it does not read, which is then skipped (or refused, when a known field has the wrong type).
 */
export function readFields(r: Reader, end: number, message: string, known: number, visit: (tag: number, end: number) => boolean): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (!visit(tag, end)) otherField(r, tag, end, message, known);
  }
  checkEnd(r, end, message);
}

export function nested<T>(r: Reader, end: number, what: string, read: (end: number) => T): T {
  return read(lenEnd(r, end, what));
}

export const u64 = (r: Reader, end: number, what: string): bigint => BigInt.asUintN(64, readInt64(r, end, what));

export const schemaFields = <T>(schema: FlatSchema<T>): number => fields(...schema.map(([field]) => field));

/** Reads the field whose tag was just read into `into` if `schema` has it (right wire type); false otherwise. */
export function readFlatField<T>(r: Reader, tag: number, end: number, message: string, schema: FlatSchema<T>, into: T): boolean {
  const entry = schema.find(([field]) => field === tag >>> 3);
  if (!entry) return false;
  const [, key, kind] = entry;
  const what = `${message}.${key}`;
  if (kind === 'string') {
    if ((tag & 7) !== LEN) return false;
    (into[key] as string) = str(r, end, what);
  } else {
    if ((tag & 7) !== VARINT) return false;
    if (kind === 'uint32') (into[key] as number) = readUint32(r, end, what);
    else (into[key] as bigint) = u64(r, end, what);
  }
  return true;
}

/** A message of scalar fields only, decoded over `initial` (the zero values). */
export function readFlat<T>(r: Reader, end: number, message: string, schema: FlatSchema<T>, initial: T): T {
  readFields(r, end, message, schemaFields(schema), (tag, e) => readFlatField(r, tag, e, message, schema, initial));
  return initial;
}

/** Decodes a whole message; malformed input becomes an InvalidArgumentError naming the message. */
export function decodeMessage<T>(buf: Uint8Array, message: string, read: (r: Reader, end: number) => T): T {
  const r = new Reader(buf instanceof Buffer ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  try {
    return read(r, buf.length);
  } catch (err) {
    throw asInvalidArgument(err, message);
  }
}

export function readStringPair(r: Reader, end: number, message: string): [string, string] {
  let key = '';
  let value = '';
  readFields(r, end, message, fields(1, 2), (tag, e) => {
    if (tag === lenTag(1)) key = str(r, e, `${message}.key`);
    else if (tag === lenTag(2)) value = str(r, e, `${message}.value`);
    else return false;
    return true;
  });
  return [key, value];
}

function pushKeyValue(r: Reader, end: number, into: KeyValue[], what: string): void {
  into.push(nested(r, end, what, (e) => decodeKeyValueMessage(r, e)));
}

function readSpan(r: Reader, end: number): SearchSpan {
  const s: SearchSpan = { spanID: '', name: '', startTimeUnixNano: 0n, durationNanos: 0n, attributes: [] };
  readFields(r, end, 'Span', fields(1, 2, 3, 4, 5), (tag, e) => {
    if (tag === lenTag(1)) s.spanID = str(r, e, 'Span.spanID');
    else if (tag === lenTag(2)) s.name = str(r, e, 'Span.name');
    else if (tag === varintTag(3)) s.startTimeUnixNano = u64(r, e, 'Span.startTimeUnixNano');
    else if (tag === varintTag(4)) s.durationNanos = u64(r, e, 'Span.durationNanos');
    else if (tag === lenTag(5)) pushKeyValue(r, e, s.attributes, 'Span.attributes');
    else return false;
    return true;
  });
  return s;
}

function readSpanSet(r: Reader, end: number): SearchSpanSet {
  const s: SearchSpanSet = { spans: [], matched: 0, attributes: [] };
  readFields(r, end, 'SpanSet', fields(1, 2, 3), (tag, e) => {
    if (tag === lenTag(1)) s.spans.push(nested(r, e, 'SpanSet.spans', (x) => readSpan(r, x)));
    else if (tag === varintTag(2)) s.matched = readUint32(r, e, 'SpanSet.matched');
    else if (tag === lenTag(3)) pushKeyValue(r, e, s.attributes, 'SpanSet.attributes');
    else return false;
    return true;
  });
  return s;
}

function readServiceStatsEntry(r: Reader, end: number): [string, ServiceStats] {
  let name = '';
  const stats: ServiceStats = { spanCount: 0, errorCount: 0 };
  readFields(r, end, 'ServiceStatsEntry', fields(1, 2), (tag, e) => {
    if (tag === lenTag(1)) name = str(r, e, 'ServiceStatsEntry.key');
    else if (tag === lenTag(2)) {
      nested(r, e, 'ServiceStats', (x) =>
        readFields(r, x, 'ServiceStats', fields(1, 2), (t, y) => {
          if (t === varintTag(1)) stats.spanCount = readUint32(r, y, 'ServiceStats.spanCount');
          else if (t === varintTag(2)) stats.errorCount = readUint32(r, y, 'ServiceStats.errorCount');
          else return false;
          return true;
        }),
      );
    } else return false;
    return true;
  });
  return [name, stats];
}

function readTrace(r: Reader, end: number): TraceSearchMetadata {
  const t: TraceSearchMetadata = { traceID: '', rootServiceName: '', rootTraceName: '', startTimeUnixNano: 0n, durationMs: 0, spanSets: [], serviceStats: {} };
  let deprecatedSpanSet: SearchSpanSet | null = null;
  readFields(r, end, 'TraceSearchMetadata', fields(1, 2, 3, 4, 5, 6, 7, 8), (tag, e) => {
    if (tag === lenTag(1)) t.traceID = str(r, e, 'TraceSearchMetadata.traceID');
    else if (tag === lenTag(2)) t.rootServiceName = str(r, e, 'TraceSearchMetadata.rootServiceName');
    else if (tag === lenTag(3)) t.rootTraceName = str(r, e, 'TraceSearchMetadata.rootTraceName');
    else if (tag === varintTag(4)) t.startTimeUnixNano = u64(r, e, 'TraceSearchMetadata.startTimeUnixNano');
    else if (tag === varintTag(5)) t.durationMs = readUint32(r, e, 'TraceSearchMetadata.durationMs');
    else if (tag === lenTag(6)) deprecatedSpanSet = nested(r, e, 'TraceSearchMetadata.spanSet', (x) => readSpanSet(r, x));
    else if (tag === lenTag(7)) t.spanSets.push(nested(r, e, 'TraceSearchMetadata.spanSets', (x) => readSpanSet(r, x)));
    else if (tag === lenTag(8)) {
      const [name, stats] = nested(r, e, 'TraceSearchMetadata.serviceStats', (x) => readServiceStatsEntry(r, x));
      t.serviceStats[name] = stats;
    } else return false;
    return true;
  });
  // Senders older than spanSets fill only the deprecated field.
  if (t.spanSets.length === 0 && deprecatedSpanSet) t.spanSets.push(deprecatedSpanSet);
  return t;
}

export function decodeSearchResponse(buf: Uint8Array): SearchResponse {
  return decodeMessage(buf, 'SearchResponse', (r, end) => {
    const out: SearchResponse = { traces: [], metrics: emptySearchMetrics() };
    readFields(r, end, 'SearchResponse', fields(1, 2), (tag, e) => {
      if (tag === lenTag(1)) out.traces.push(nested(r, e, 'SearchResponse.traces', (x) => readTrace(r, x)));
      else if (tag === lenTag(2)) out.metrics = nested(r, e, 'SearchResponse.metrics', (x) => readFlat(r, x, 'SearchMetrics', SEARCH_METRICS, emptySearchMetrics()));
      else return false;
      return true;
    });
    return out;
  });
}
