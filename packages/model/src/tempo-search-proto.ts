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

export function encodeSearchRequest(req: TempoSearchRequest): Uint8Array {
  const w = newWriter();
  for (const [key, value] of Object.entries(req.tags)) {
    putMessage(w, 1, (e) => {
      putString(e, 1, key);
      putString(e, 2, value);
    });
  }
  putUint32(w, 2, req.minDurationMs);
  putUint32(w, 3, req.maxDurationMs);
  putUint32(w, 4, req.limit);
  putUint32(w, 5, req.start);
  putUint32(w, 6, req.end);
  putString(w, 8, req.query);
  putUint32(w, 9, req.spansPerSpanSet);
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

function putSearchMetrics(w: Writer, m: SearchMetrics): void {
  putUint32(w, 1, m.inspectedTraces);
  putUint64(w, 2, m.inspectedBytes);
  putUint32(w, 3, m.totalBlocks);
  putUint32(w, 4, m.completedJobs);
  putUint32(w, 5, m.totalJobs);
  putUint64(w, 6, m.totalBlockBytes);
  putUint64(w, 7, m.inspectedSpans);
}

export function encodeSearchResponse(r: SearchResponse): Uint8Array {
  const w = newWriter();
  for (const t of r.traces) putMessage(w, 1, (x) => putTrace(x, t));
  // Always present (possibly empty), as Tempo's frontend always sets it.
  putMessage(w, 2, (x) => putSearchMetrics(x, r.metrics));
  return finish(w);
}

export function encodeSearchTagsRequest(req: TempoSearchTagsRequest): Uint8Array {
  const w = newWriter();
  putString(w, 1, req.scope);
  putString(w, 2, req.query);
  putUint32(w, 3, req.start);
  putUint32(w, 4, req.end);
  putUint32(w, 5, req.maxTagsPerScope);
  putUint32(w, 6, req.staleValuesThreshold);
  return finish(w);
}

export function encodeSearchTagValuesRequest(req: TempoSearchTagValuesRequest): Uint8Array {
  const w = newWriter();
  putString(w, 1, req.tagName);
  putString(w, 2, req.query);
  putUint32(w, 4, req.start);
  putUint32(w, 5, req.end);
  putUint32(w, 6, req.maxTagValues);
  putUint32(w, 7, req.staleValueThreshold);
  return finish(w);
}

function putMetadataMetrics(w: Writer, m: MetadataMetrics): void {
  putMessage(w, 2, (x) => putUint64(x, 1, m.inspectedBytes));
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
    const u32Fields: Record<number, keyof TempoSearchRequest> = { 2: 'minDurationMs', 3: 'maxDurationMs', 4: 'limit', 5: 'start', 6: 'end', 9: 'spansPerSpanSet' };
    readFields(r, end, 'SearchRequest', fields(1, 2, 3, 4, 5, 6, 8, 9), (tag, e) => {
      const field = tag >>> 3;
      if (tag === lenTag(1)) {
        const [k, v] = nested(r, e, 'SearchRequest.Tags', (x) => readStringPair(r, x, 'SearchRequest.TagsEntry'));
        req.tags[k] = v;
      } else if (tag === lenTag(8)) req.query = str(r, e, 'SearchRequest.Query');
      else if ((tag & 7) === VARINT && u32Fields[field]) (req[u32Fields[field]] as number) = readUint32(r, e, `SearchRequest field ${field}`);
      else return false;
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

function readSearchMetrics(r: Reader, end: number): SearchMetrics {
  const m = emptySearchMetrics();
  readFields(r, end, 'SearchMetrics', fields(1, 2, 3, 4, 5, 6, 7), (tag, e) => {
    switch (tag) {
      case varintTag(1): m.inspectedTraces = readUint32(r, e, 'SearchMetrics.inspectedTraces'); break;
      case varintTag(2): m.inspectedBytes = u64(r, e, 'SearchMetrics.inspectedBytes'); break;
      case varintTag(3): m.totalBlocks = readUint32(r, e, 'SearchMetrics.totalBlocks'); break;
      case varintTag(4): m.completedJobs = readUint32(r, e, 'SearchMetrics.completedJobs'); break;
      case varintTag(5): m.totalJobs = readUint32(r, e, 'SearchMetrics.totalJobs'); break;
      case varintTag(6): m.totalBlockBytes = u64(r, e, 'SearchMetrics.totalBlockBytes'); break;
      case varintTag(7): m.inspectedSpans = u64(r, e, 'SearchMetrics.inspectedSpans'); break;
      default: return false;
    }
    return true;
  });
  return m;
}

export function decodeSearchResponse(buf: Uint8Array): SearchResponse {
  return decodeMessage(buf, 'SearchResponse', (r, end) => {
    const out: SearchResponse = { traces: [], metrics: emptySearchMetrics() };
    readFields(r, end, 'SearchResponse', fields(1, 2), (tag, e) => {
      if (tag === lenTag(1)) out.traces.push(nested(r, e, 'SearchResponse.traces', (x) => readTrace(r, x)));
      else if (tag === lenTag(2)) out.metrics = nested(r, e, 'SearchResponse.metrics', (x) => readSearchMetrics(r, x));
      else return false;
      return true;
    });
    return out;
  });
}

export function decodeSearchTagsRequest(buf: Uint8Array): TempoSearchTagsRequest {
  return decodeMessage(buf, 'SearchTagsRequest', (r, end) => {
    const req: TempoSearchTagsRequest = { scope: '', query: '', start: 0, end: 0, maxTagsPerScope: 0, staleValuesThreshold: 0 };
    readFields(r, end, 'SearchTagsRequest', fields(1, 2, 3, 4, 5, 6), (tag, e) => {
      switch (tag) {
        case lenTag(1): req.scope = str(r, e, 'SearchTagsRequest.scope'); break;
        case lenTag(2): req.query = str(r, e, 'SearchTagsRequest.query'); break;
        case varintTag(3): req.start = readUint32(r, e, 'SearchTagsRequest.start'); break;
        case varintTag(4): req.end = readUint32(r, e, 'SearchTagsRequest.end'); break;
        case varintTag(5): req.maxTagsPerScope = readUint32(r, e, 'SearchTagsRequest.maxTagsPerScope'); break;
        case varintTag(6): req.staleValuesThreshold = readUint32(r, e, 'SearchTagsRequest.staleValuesThreshold'); break;
        default: return false;
      }
      return true;
    });
    return req;
  });
}

export function decodeSearchTagValuesRequest(buf: Uint8Array): TempoSearchTagValuesRequest {
  return decodeMessage(buf, 'SearchTagValuesRequest', (r, end) => {
    const req: TempoSearchTagValuesRequest = { tagName: '', query: '', start: 0, end: 0, maxTagValues: 0, staleValueThreshold: 0 };
    readFields(r, end, 'SearchTagValuesRequest', fields(1, 2, 4, 5, 6, 7), (tag, e) => {
      switch (tag) {
        case lenTag(1): req.tagName = str(r, e, 'SearchTagValuesRequest.tagName'); break;
        case lenTag(2): req.query = str(r, e, 'SearchTagValuesRequest.query'); break;
        case varintTag(4): req.start = readUint32(r, e, 'SearchTagValuesRequest.start'); break;
        case varintTag(5): req.end = readUint32(r, e, 'SearchTagValuesRequest.end'); break;
        case varintTag(6): req.maxTagValues = readUint32(r, e, 'SearchTagValuesRequest.maxTagValues'); break;
        case varintTag(7): req.staleValueThreshold = readUint32(r, e, 'SearchTagValuesRequest.staleValueThreshold'); break;
        default: return false;
      }
      return true;
    });
    return req;
  });
}

function readMetadataMetrics(r: Reader, end: number): MetadataMetrics {
  const m: MetadataMetrics = { inspectedBytes: 0n };
  readFields(r, end, 'MetadataMetrics', fields(1), (tag, e) => {
    if (tag !== varintTag(1)) return false;
    m.inspectedBytes = u64(r, e, 'MetadataMetrics.inspectedBytes');
    return true;
  });
  return m;
}

/** The common shape of the tag responses: repeated field 1 of some item, field 2 MetadataMetrics. */
function decodeTagsResponse<T>(buf: Uint8Array, message: string, readItem: (r: Reader, end: number) => T): { items: T[]; metrics: MetadataMetrics } {
  return decodeMessage(buf, message, (r, end) => {
    const items: T[] = [];
    let metrics: MetadataMetrics = { inspectedBytes: 0n };
    readFields(r, end, message, fields(1, 2), (tag, e) => {
      if (tag === lenTag(1)) items.push(readItem(r, e));
      else if (tag === lenTag(2)) metrics = nested(r, e, `${message}.metrics`, (x) => readMetadataMetrics(r, x));
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
