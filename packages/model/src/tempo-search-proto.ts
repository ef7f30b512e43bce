// tempopb search and tag messages, the payloads of Tempo's StreamingQuerier gRPC service
// (grafana/tempo pkg/tempopb/tempo.proto, checked at main ad33aa8f, same numbers in v2.10):
//
//   SearchRequest: 1 Tags map<string,string>, 2 MinDurationMs u32, 3 MaxDurationMs u32, 4 Limit u32,
//     5 start u32, 6 end u32, 8 Query string, 9 SpansPerSpanSet u32 (10 RF1After, 11
//     skipASTTransformations: skipped).
//   SearchResponse: 1 traces TraceSearchMetadata, 2 metrics SearchMetrics.
//   TraceSearchMetadata: 1 traceID, 2 rootServiceName, 3 rootTraceName (strings), 4 startTimeUnixNano
//     u64, 5 durationMs u32, 6 spanSet (deprecated single), 7 spanSets, 8 serviceStats
//     map<string, ServiceStats{1 spanCount u32, 2 errorCount u32}>.
//   SpanSet: 1 spans, 2 matched u32, 3 attributes KeyValue. Span: 1 spanID, 2 name, 3
//     startTimeUnixNano u64, 4 durationNanos u64, 5 attributes KeyValue.
//   SearchMetrics: 1 inspectedTraces u32, 2 inspectedBytes u64, 3 totalBlocks u32, 4 completedJobs
//     u32, 5 totalJobs u32, 6 totalBlockBytes u64, 7 inspectedSpans u64 (8-10 newer: not sent).
//   SearchTagsRequest: 1 scope, 2 query, 3 start u32, 4 end u32, 5 maxTagsPerScope u32,
//     6 staleValuesThreshold u32. SearchTagValuesRequest: 1 tagName, 2 query, 4 start, 5 end,
//     6 maxTagValues, 7 staleValueThreshold.
//   SearchTagsResponse: 1 tagNames, 2 metrics. SearchTagsV2Response: 1 scopes {1 name, 2 tags},
//   2 metrics. SearchTagValuesResponse: 1 tagValues (strings), 2 metrics. SearchTagValuesV2Response:
//   1 tagValues TagValue{1 type, 2 value}, 2 metrics. MetadataMetrics: 1 inspectedBytes u64 (the
//   rest is not filled by Andante).
// KeyValue is OTLP's common.v1 (Tempo vendors it as tempopb.common.v1), shared with trace-codec.

import protobuf from 'protobufjs/minimal.js';
import { emptySearchMetrics, type SearchMetrics, type SearchResponse, type SearchSpan, type SearchSpanSet, type ServiceStats, type TraceSearchMetadata } from './search.js';
import type { TagValue, TagValueType } from './tags.js';
import type { KeyValue } from './trace.js';
import type { InstantSeries, MetricsSeries } from './metrics-query.js';
import { LEN, Reader, VARINT, asInvalidArgument, checkEnd, lenEnd, malformed, otherField, readInt64, readUint32 } from './proto-wire.js';
import { decodeKeyValueMessage, encodeKeyValueMessage, str } from './trace-codec.js';

/** tempopb.SearchRequest. `start`/`end` are unix seconds (0 = unset); 0 for limit/spss means the default. */
export interface TempoSearchRequest {
  tags: Record<string, string>;
  minDurationMs: number;
  maxDurationMs: number;
  limit: number;
  start: number;
  end: number;
  query: string;
  spansPerSpanSet: number;
}

export interface TempoSearchTagsRequest {
  scope: string;
  query: string;
  start: number;
  end: number;
  maxTagsPerScope: number;
  staleValuesThreshold: number;
}

export interface TempoSearchTagValuesRequest {
  tagName: string;
  query: string;
  start: number;
  end: number;
  maxTagValues: number;
  staleValueThreshold: number;
}

/** tempopb.MetadataMetrics, as far as Andante fills it. */
export interface MetadataMetrics {
  inspectedBytes: bigint;
}

export interface TempoSearchTagsResponse {
  tagNames: string[];
  metrics: MetadataMetrics;
}

export interface TempoSearchTagsV2Response {
  scopes: { name: string; tags: string[] }[];
  metrics: MetadataMetrics;
}

export interface TempoSearchTagValuesResponse {
  tagValues: string[];
  metrics: MetadataMetrics;
}

export interface TempoSearchTagValuesV2Response {
  tagValues: TagValue[];
  metrics: MetadataMetrics;
}

// ---------------------------------------------------------------------------------------------
// Writing (protobufjs Writer; proto3: zero values are not written)

type Writer = protobuf.Writer;
const newWriter = (): Writer => protobuf.Writer.create();
const lenTag = (field: number): number => (field << 3) | LEN;
const varintTag = (field: number): number => (field << 3) | VARINT;

function putString(w: Writer, field: number, s: string): void {
  if (s) w.uint32(lenTag(field)).string(s);
}

function putUint32(w: Writer, field: number, v: number): void {
  if (v >>> 0 !== 0) w.uint32(varintTag(field)).uint32(v >>> 0);
}

function putUint64(w: Writer, field: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  if (u === 0n) return;
  // protobufjs takes 64-bit values as {low, high} (a string would lose precision without Long).
  const bits = { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: true };
  w.uint32(varintTag(field)).uint64(bits as unknown as number);
}

function putMessage(w: Writer, field: number, body: (w: Writer) => void): void {
  w.uint32(lenTag(field)).fork();
  body(w);
  w.ldelim();
}

function putKeyValues(w: Writer, field: number, kvs: readonly KeyValue[]): void {
  for (const kv of kvs) w.uint32(lenTag(field)).bytes(encodeKeyValueMessage(kv));
}

const finish = (w: Writer): Uint8Array => w.finish();

/** Scalar fields of a message as [field number, property, kind]: one table drives both directions. */
type FlatSchema<T> = readonly (readonly [field: number, key: keyof T & string, kind: 'string' | 'uint32' | 'uint64'])[];

function putFlat<T>(w: Writer, schema: FlatSchema<T>, value: T): void {
  for (const [field, key, kind] of schema) {
    const v = value[key];
    if (kind === 'string') putString(w, field, v as string);
    else if (kind === 'uint32') putUint32(w, field, v as number);
    else putUint64(w, field, v as bigint);
  }
}

const SEARCH_REQUEST_SCALARS: FlatSchema<TempoSearchRequest> = [
  [2, 'minDurationMs', 'uint32'],
  [3, 'maxDurationMs', 'uint32'],
  [4, 'limit', 'uint32'],
  [5, 'start', 'uint32'],
  [6, 'end', 'uint32'],
  [8, 'query', 'string'],
  [9, 'spansPerSpanSet', 'uint32'],
];
const SEARCH_METRICS: FlatSchema<SearchMetrics> = [
  [1, 'inspectedTraces', 'uint32'],
  [2, 'inspectedBytes', 'uint64'],
  [3, 'totalBlocks', 'uint32'],
  [4, 'completedJobs', 'uint32'],
  [5, 'totalJobs', 'uint32'],
  [6, 'totalBlockBytes', 'uint64'],
  [7, 'inspectedSpans', 'uint64'],
];
const SEARCH_TAGS_REQUEST: FlatSchema<TempoSearchTagsRequest> = [
  [1, 'scope', 'string'],
  [2, 'query', 'string'],
  [3, 'start', 'uint32'],
  [4, 'end', 'uint32'],
  [5, 'maxTagsPerScope', 'uint32'],
  [6, 'staleValuesThreshold', 'uint32'],
];
const SEARCH_TAG_VALUES_REQUEST: FlatSchema<TempoSearchTagValuesRequest> = [
  [1, 'tagName', 'string'],
  [2, 'query', 'string'],
  [4, 'start', 'uint32'],
  [5, 'end', 'uint32'],
  [6, 'maxTagValues', 'uint32'],
  [7, 'staleValueThreshold', 'uint32'],
];
const METADATA_METRICS: FlatSchema<MetadataMetrics> = [[1, 'inspectedBytes', 'uint64']];

export function encodeSearchRequest(req: TempoSearchRequest): Uint8Array {
  const w = newWriter();
  for (const [key, value] of Object.entries(req.tags)) {
    putMessage(w, 1, (e) => {
      putString(e, 1, key);
      putString(e, 2, value);
    });
  }
  putFlat(w, SEARCH_REQUEST_SCALARS, req);
  return finish(w);
}

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
  const w = newWriter();
  for (const t of r.traces) putMessage(w, 1, (x) => putTrace(x, t));
  // Always present (possibly empty), as Tempo's frontend always sets it.
  putMessage(w, 2, (x) => putFlat(x, SEARCH_METRICS, r.metrics));
  return finish(w);
}

function encodeFlat<T>(schema: FlatSchema<T>, value: T): Uint8Array {
  const w = newWriter();
  putFlat(w, schema, value);
  return finish(w);
}

export const encodeSearchTagsRequest = (req: TempoSearchTagsRequest): Uint8Array => encodeFlat(SEARCH_TAGS_REQUEST, req);
export const encodeSearchTagValuesRequest = (req: TempoSearchTagValuesRequest): Uint8Array => encodeFlat(SEARCH_TAG_VALUES_REQUEST, req);

function putMetadataMetrics(w: Writer, m: MetadataMetrics): void {
  putMessage(w, 2, (x) => putFlat(x, METADATA_METRICS, m));
}

export function encodeSearchTagsResponse(r: TempoSearchTagsResponse): Uint8Array {
  const w = newWriter();
  for (const name of r.tagNames) w.uint32(lenTag(1)).string(name);
  putMetadataMetrics(w, r.metrics);
  return finish(w);
}

export function encodeSearchTagsV2Response(r: TempoSearchTagsV2Response): Uint8Array {
  const w = newWriter();
  for (const scope of r.scopes) {
    putMessage(w, 1, (x) => {
      putString(x, 1, scope.name);
      for (const tag of scope.tags) x.uint32(lenTag(2)).string(tag);
    });
  }
  putMetadataMetrics(w, r.metrics);
  return finish(w);
}

export function encodeSearchTagValuesResponse(r: TempoSearchTagValuesResponse): Uint8Array {
  const w = newWriter();
  for (const value of r.tagValues) w.uint32(lenTag(1)).string(value);
  putMetadataMetrics(w, r.metrics);
  return finish(w);
}

export function encodeSearchTagValuesV2Response(r: TempoSearchTagValuesV2Response): Uint8Array {
  const w = newWriter();
  for (const v of r.tagValues) {
    putMessage(w, 1, (x) => {
      putString(x, 1, v.type);
      putString(x, 2, v.value);
    });
  }
  putMetadataMetrics(w, r.metrics);
  return finish(w);
}

// ---------------------------------------------------------------------------------------------
// Reading (protobufjs Reader with the bounds checks of proto-wire; unknown fields are skipped)

/** Field-number bit masks, so a known field with the wrong wire type is an error. */
const fields = (...numbers: number[]): number => numbers.reduce((m, n) => m | (1 << n), 0);

/**
 * Runs `visit` for each field of the message spanning r.pos..end; `visit` returns false for a
 * field it does not read, which is then skipped (or refused, when a known field has the wrong type).
 */
function readFields(r: Reader, end: number, message: string, known: number, visit: (tag: number, end: number) => boolean): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (!visit(tag, end)) otherField(r, tag, end, message, known);
  }
  checkEnd(r, end, message);
}

function nested<T>(r: Reader, end: number, what: string, read: (end: number) => T): T {
  return read(lenEnd(r, end, what));
}

const u64 = (r: Reader, end: number, what: string): bigint => BigInt.asUintN(64, readInt64(r, end, what));

const schemaFields = <T>(schema: FlatSchema<T>): number => fields(...schema.map(([field]) => field));

/** Reads the field whose tag was just read into `into` if `schema` has it (right wire type); false otherwise. */
function readFlatField<T>(r: Reader, tag: number, end: number, message: string, schema: FlatSchema<T>, into: T): boolean {
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
function readFlat<T>(r: Reader, end: number, message: string, schema: FlatSchema<T>, initial: T): T {
  readFields(r, end, message, schemaFields(schema), (tag, e) => readFlatField(r, tag, e, message, schema, initial));
  return initial;
}

/** Decodes a whole message; malformed input becomes an InvalidArgumentError naming the message. */
function decodeMessage<T>(buf: Uint8Array, message: string, read: (r: Reader, end: number) => T): T {
  const r = new Reader(buf instanceof Buffer ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  try {
    return read(r, buf.length);
  } catch (err) {
    throw asInvalidArgument(err, message);
  }
}

function readStringPair(r: Reader, end: number, message: string): [string, string] {
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

export function decodeSearchRequest(buf: Uint8Array): TempoSearchRequest {
  return decodeMessage(buf, 'SearchRequest', (r, end) => {
    const req: TempoSearchRequest = { tags: {}, minDurationMs: 0, maxDurationMs: 0, limit: 0, start: 0, end: 0, query: '', spansPerSpanSet: 0 };
    readFields(r, end, 'SearchRequest', fields(1) | schemaFields(SEARCH_REQUEST_SCALARS), (tag, e) => {
      if (tag !== lenTag(1)) return readFlatField(r, tag, e, 'SearchRequest', SEARCH_REQUEST_SCALARS, req);
      const [k, v] = nested(r, e, 'SearchRequest.Tags', (x) => readStringPair(r, x, 'SearchRequest.TagsEntry'));
      req.tags[k] = v;
      return true;
    });
    return req;
  });
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

export const decodeSearchTagsRequest = (buf: Uint8Array): TempoSearchTagsRequest =>
  decodeMessage(buf, 'SearchTagsRequest', (r, end) =>
    readFlat(r, end, 'SearchTagsRequest', SEARCH_TAGS_REQUEST, { scope: '', query: '', start: 0, end: 0, maxTagsPerScope: 0, staleValuesThreshold: 0 }),
  );

export const decodeSearchTagValuesRequest = (buf: Uint8Array): TempoSearchTagValuesRequest =>
  decodeMessage(buf, 'SearchTagValuesRequest', (r, end) =>
    readFlat(r, end, 'SearchTagValuesRequest', SEARCH_TAG_VALUES_REQUEST, { tagName: '', query: '', start: 0, end: 0, maxTagValues: 0, staleValueThreshold: 0 }),
  );

/** The common shape of the tag responses: repeated field 1 of some item, field 2 MetadataMetrics. */
function decodeTagsResponse<T>(buf: Uint8Array, message: string, readItem: (r: Reader, end: number) => T): { items: T[]; metrics: MetadataMetrics } {
  return decodeMessage(buf, message, (r, end) => {
    const items: T[] = [];
    let metrics: MetadataMetrics = { inspectedBytes: 0n };
    readFields(r, end, message, fields(1, 2), (tag, e) => {
      if (tag === lenTag(1)) items.push(readItem(r, e));
      else if (tag === lenTag(2)) metrics = nested(r, e, `${message}.metrics`, (x) => readFlat(r, x, 'MetadataMetrics', METADATA_METRICS, { inspectedBytes: 0n }));
      else return false;
      return true;
    });
    return { items, metrics };
  });
}

export function decodeSearchTagsResponse(buf: Uint8Array): TempoSearchTagsResponse {
  const { items, metrics } = decodeTagsResponse(buf, 'SearchTagsResponse', (r, e) => str(r, e, 'SearchTagsResponse.tagNames'));
  return { tagNames: items, metrics };
}

export function decodeSearchTagValuesResponse(buf: Uint8Array): TempoSearchTagValuesResponse {
  const { items, metrics } = decodeTagsResponse(buf, 'SearchTagValuesResponse', (r, e) => str(r, e, 'SearchTagValuesResponse.tagValues'));
  return { tagValues: items, metrics };
}

export function decodeSearchTagsV2Response(buf: Uint8Array): TempoSearchTagsV2Response {
  const { items, metrics } = decodeTagsResponse(buf, 'SearchTagsV2Response', (r, e) =>
    nested(r, e, 'SearchTagsV2Response.scopes', (end) => {
      const scope = { name: '', tags: [] as string[] };
      readFields(r, end, 'SearchTagsV2Scope', fields(1, 2), (tag, x) => {
        if (tag === lenTag(1)) scope.name = str(r, x, 'SearchTagsV2Scope.name');
        else if (tag === lenTag(2)) scope.tags.push(str(r, x, 'SearchTagsV2Scope.tags'));
        else return false;
        return true;
      });
      return scope;
    }),
  );
  return { scopes: items, metrics };
}

const TAG_VALUE_TYPES: readonly string[] = ['string', 'int', 'float', 'bool', 'keyword'] satisfies TagValueType[];

export function decodeSearchTagValuesV2Response(buf: Uint8Array): TempoSearchTagValuesV2Response {
  const { items, metrics } = decodeTagsResponse(buf, 'SearchTagValuesV2Response', (r, e) =>
    nested(r, e, 'SearchTagValuesV2Response.tagValues', (end) => {
      const [type, value] = readStringPair(r, end, 'TagValue');
      if (!TAG_VALUE_TYPES.includes(type)) throw malformed(`TagValue.type ${JSON.stringify(type)} is not one of ${TAG_VALUE_TYPES.join(', ')}`);
      return { type: type as TagValueType, value };
    }),
  );
  return { tagValues: items, metrics };
}

// ---------------------------------------------------------------------------------------------
// TraceQL metrics (tempo.proto at v2.10.8): QueryRangeRequest 1 query, 2 start u64, 3 end u64,
// 4 step u64 (ns), 16 exemplars u32, 18 optional bool instant (7-15, 17: frontend-to-querier
// fields, skipped); QueryInstantRequest 1 query, 2 start, 3 end. QueryRangeResponse 1 series
// TimeSeries{1 labels KeyValue, 2 samples Sample{2 timestamp_ms i64, 1 value double}, 4 exemplars
// Exemplar{1 labels, 2 value double, 3 timestamp_ms i64}}, 2 metrics, 3 status (PARTIAL = 1),
// 4 message. QueryInstantResponse 1 series InstantSeries{1 labels, 2 value double}, 2-4 likewise.

export interface TempoQueryRangeRequest {
  query: string;
  start: bigint;
  end: bigint;
  step: bigint;
  exemplars: number;
  /** undefined when the field is absent (Tempo then infers it from end - start == step). */
  instant?: boolean;
}

const QUERY_RANGE_SCALARS: FlatSchema<TempoQueryRangeRequest> = [
  [1, 'query', 'string'],
  [2, 'start', 'uint64'],
  [3, 'end', 'uint64'],
  [4, 'step', 'uint64'],
  [16, 'exemplars', 'uint32'],
];

export function decodeQueryRangeRequest(buf: Uint8Array): TempoQueryRangeRequest {
  return decodeMessage(buf, 'QueryRangeRequest', (r, end) => {
    const req: TempoQueryRangeRequest = { query: '', start: 0n, end: 0n, step: 0n, exemplars: 0 };
    readFields(r, end, 'QueryRangeRequest', schemaFields(QUERY_RANGE_SCALARS) | fields(18), (tag, e) => {
      if (tag === varintTag(18)) {
        req.instant = readUint32(r, e, 'QueryRangeRequest.instant') !== 0;
        return true;
      }
      return readFlatField(r, tag, e, 'QueryRangeRequest', QUERY_RANGE_SCALARS, req);
    });
    return req;
  });
}

export function encodeQueryRangeRequest(req: TempoQueryRangeRequest): Uint8Array {
  const w = newWriter();
  putFlat(w, QUERY_RANGE_SCALARS, req);
  if (req.instant !== undefined) w.uint32(varintTag(18)).bool(req.instant);
  return finish(w);
}

export function decodeQueryInstantRequest(buf: Uint8Array): Pick<TempoQueryRangeRequest, 'query' | 'start' | 'end'> {
  return decodeMessage(buf, 'QueryInstantRequest', (r, end) =>
    readFlat(r, end, 'QueryInstantRequest', QUERY_RANGE_SCALARS.slice(0, 3) as FlatSchema<Pick<TempoQueryRangeRequest, 'query' | 'start' | 'end'>>, { query: '', start: 0n, end: 0n }),
  );
}

export function encodeQueryInstantRequest(req: Pick<TempoQueryRangeRequest, 'query' | 'start' | 'end'>): Uint8Array {
  const w = newWriter();
  putFlat(w, QUERY_RANGE_SCALARS.slice(0, 3) as FlatSchema<Pick<TempoQueryRangeRequest, 'query' | 'start' | 'end'>>, req);
  return finish(w);
}

const doubleTag = (field: number): number => (field << 3) | 1;

function putDouble(w: Writer, field: number, v: number): void {
  if (v !== 0 || Object.is(v, -0)) w.uint32(doubleTag(field)).double(v);
}

function putInt64(w: Writer, field: number, v: bigint): void {
  if (v === 0n) return;
  const u = BigInt.asUintN(64, v);
  w.uint32(varintTag(field)).uint64({ low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: false } as unknown as number);
}

function putMetricsEnvelope(w: Writer, metrics: SearchMetrics, partial?: { message: string }): void {
  putMessage(w, 2, (m) => putFlat(m, SEARCH_METRICS, metrics));
  if (partial) {
    w.uint32(varintTag(3)).int32(1);
    putString(w, 4, partial.message);
  }
}

export function encodeQueryRangeResponse(series: readonly MetricsSeries[], metrics: SearchMetrics, partial?: { message: string }): Uint8Array {
  const w = newWriter();
  for (const s of series) {
    putMessage(w, 1, (t) => {
      putKeyValues(t, 1, s.labels);
      for (const x of s.samples) {
        putMessage(t, 2, (m) => {
          putDouble(m, 1, x.value);
          putInt64(m, 2, x.timestampMs);
        });
      }
      for (const e of s.exemplars) {
        putMessage(t, 4, (m) => {
          putKeyValues(m, 1, e.labels);
          putDouble(m, 2, e.value);
          putInt64(m, 3, e.timestampMs);
        });
      }
    });
  }
  putMetricsEnvelope(w, metrics, partial);
  return finish(w);
}

export function encodeQueryInstantResponse(series: readonly InstantSeries[], metrics: SearchMetrics, partial?: { message: string }): Uint8Array {
  const w = newWriter();
  for (const s of series) {
    putMessage(w, 1, (t) => {
      putKeyValues(t, 1, s.labels);
      putDouble(t, 2, s.value);
    });
  }
  putMetricsEnvelope(w, metrics, partial);
  return finish(w);
}
