// tempopb request, tag and TraceQL metrics messages of Tempo's StreamingQuerier gRPC service, which
// the query-frontend serves (grafana/tempo pkg/tempopb/tempo.proto, checked at main ad33aa8f, same
// numbers in v2.10). SearchResponse, shared with ingester-client, is in @andante/model; the helpers
// come from `@andante/model/wire`.
//
//   SearchRequest: 1 Tags map<string,string>, 2 MinDurationMs u32, 3 MaxDurationMs u32, 4 Limit u32,
//     5 start u32, 6 end u32, 8 Query string, 9 SpansPerSpanSet u32 (10 RF1After, 11
//     skipASTTransformations: skipped).
//   SearchTagsRequest: 1 scope, 2 query, 3 start u32, 4 end u32, 5 maxTagsPerScope u32,
//     6 staleValuesThreshold u32. SearchTagValuesRequest: 1 tagName, 2 query, 4 start, 5 end,
//     6 maxTagValues, 7 staleValueThreshold.
//   SearchTagsResponse: 1 tagNames, 2 metrics. SearchTagsV2Response: 1 scopes {1 name, 2 tags},
//   2 metrics. SearchTagValuesResponse: 1 tagValues (strings), 2 metrics. SearchTagValuesV2Response:
//   1 tagValues TagValue{1 type, 2 value}, 2 metrics. MetadataMetrics: 1 inspectedBytes u64 (the
//   rest is not filled by Andante).

import type { InstantSeries, MetricsSeries, SearchMetrics, TagValue, TagValueType } from '@andante/model';
import {
  SEARCH_METRICS,
  decodeMessage,
  fields,
  finish,
  lenTag,
  malformed,
  nested,
  newMessageWriter,
  putFlat,
  putKeyValues,
  putMessage,
  putString,
  readFields,
  readFlat,
  readFlatField,
  readStringPair,
  readUint32,
  schemaFields,
  str,
  varintTag,
  type FlatSchema,
  type MessageWriter,
  type Reader,
} from '@andante/model/wire';

type Writer = MessageWriter;

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

const SEARCH_REQUEST_SCALARS: FlatSchema<TempoSearchRequest> = [
  [2, 'minDurationMs', 'uint32'],
  [3, 'maxDurationMs', 'uint32'],
  [4, 'limit', 'uint32'],
  [5, 'start', 'uint32'],
  [6, 'end', 'uint32'],
  [8, 'query', 'string'],
  [9, 'spansPerSpanSet', 'uint32'],
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
  const w = newMessageWriter();
  for (const [key, value] of Object.entries(req.tags)) {
    putMessage(w, 1, (e) => {
      putString(e, 1, key);
      putString(e, 2, value);
    });
  }
  putFlat(w, SEARCH_REQUEST_SCALARS, req);
  return finish(w);
}

function encodeFlat<T>(schema: FlatSchema<T>, value: T): Uint8Array {
  const w = newMessageWriter();
  putFlat(w, schema, value);
  return finish(w);
}

export const encodeSearchTagsRequest = (req: TempoSearchTagsRequest): Uint8Array => encodeFlat(SEARCH_TAGS_REQUEST, req);
export const encodeSearchTagValuesRequest = (req: TempoSearchTagValuesRequest): Uint8Array => encodeFlat(SEARCH_TAG_VALUES_REQUEST, req);

function putMetadataMetrics(w: Writer, m: MetadataMetrics): void {
  putMessage(w, 2, (x) => putFlat(x, METADATA_METRICS, m));
}

export function encodeSearchTagsResponse(r: TempoSearchTagsResponse): Uint8Array {
  const w = newMessageWriter();
  for (const name of r.tagNames) w.uint32(lenTag(1)).string(name);
  putMetadataMetrics(w, r.metrics);
  return finish(w);
}

export function encodeSearchTagsV2Response(r: TempoSearchTagsV2Response): Uint8Array {
  const w = newMessageWriter();
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
  const w = newMessageWriter();
  for (const value of r.tagValues) w.uint32(lenTag(1)).string(value);
  putMetadataMetrics(w, r.metrics);
  return finish(w);
}

export function encodeSearchTagValuesV2Response(r: TempoSearchTagValuesV2Response): Uint8Array {
  const w = newMessageWriter();
  for (const v of r.tagValues) {
    putMessage(w, 1, (x) => {
      putString(x, 1, v.type);
      putString(x, 2, v.value);
    });
  }
  putMetadataMetrics(w, r.metrics);
  return finish(w);
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
  const w = newMessageWriter();
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
  const w = newMessageWriter();
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
  const w = newMessageWriter();
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
  const w = newMessageWriter();
  for (const s of series) {
    putMessage(w, 1, (t) => {
      putKeyValues(t, 1, s.labels);
      putDouble(t, 2, s.value);
    });
  }
  putMetricsEnvelope(w, metrics, partial);
  return finish(w);
}
