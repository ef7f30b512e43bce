import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { OTLP_PROTO } from './test-fixtures.js';
import { InvalidArgumentError } from './errors.js';
import { emptySearchMetrics, type SearchResponse } from './search.js';
import {
  decodeSearchRequest,
  decodeSearchResponse,
  decodeSearchTagValuesRequest,
  decodeSearchTagValuesResponse,
  decodeSearchTagValuesV2Response,
  decodeSearchTagsRequest,
  decodeSearchTagsResponse,
  decodeSearchTagsV2Response,
  encodeSearchRequest,
  encodeSearchResponse,
  encodeSearchTagValuesRequest,
  encodeSearchTagValuesResponse,
  encodeSearchTagValuesV2Response,
  encodeSearchTagsRequest,
  encodeSearchTagsResponse,
  encodeSearchTagsV2Response,
  type TempoSearchRequest,
} from './tempo-search-proto.js';

// An independent codec: protobufjs reflection over the messages as grafana/tempo's
// pkg/tempopb/tempo.proto declares them (field names and numbers transcribed from it).
const SEARCH_PROTO = `
message SearchRequest {
  map<string, string> Tags = 1; uint32 MinDurationMs = 2; uint32 MaxDurationMs = 3; uint32 Limit = 4;
  uint32 start = 5; uint32 end = 6; string Query = 8; uint32 SpansPerSpanSet = 9; repeated string skipASTTransformations = 11;
}
message SearchResponse { repeated TraceSearchMetadata traces = 1; SearchMetrics metrics = 2; }
message TraceSearchMetadata {
  string traceID = 1; string rootServiceName = 2; string rootTraceName = 3; uint64 startTimeUnixNano = 4;
  uint32 durationMs = 5; SpanSet spanSet = 6; repeated SpanSet spanSets = 7; map<string, ServiceStats> serviceStats = 8;
}
message ServiceStats { uint32 spanCount = 1; uint32 errorCount = 2; }
message SpanSet { repeated SearchSpan spans = 1; uint32 matched = 2; repeated KeyValue attributes = 3; }
message SearchSpan { string spanID = 1; string name = 2; uint64 startTimeUnixNano = 3; uint64 durationNanos = 4; repeated KeyValue attributes = 5; }
message SearchMetrics {
  uint32 inspectedTraces = 1; uint64 inspectedBytes = 2; uint32 totalBlocks = 3; uint32 completedJobs = 4;
  uint32 totalJobs = 5; uint64 totalBlockBytes = 6; uint64 inspectedSpans = 7; uint64 backendReads = 8;
}
message SearchTagsRequest { string scope = 1; string query = 2; uint32 start = 3; uint32 end = 4; uint32 maxTagsPerScope = 5; uint32 staleValuesThreshold = 6; }
message SearchTagValuesRequest { string tagName = 1; string query = 2; uint32 start = 4; uint32 end = 5; uint32 maxTagValues = 6; uint32 staleValueThreshold = 7; }
message MetadataMetrics { uint64 inspectedBytes = 1; uint32 totalJobs = 2; }
message SearchTagsResponse { repeated string tagNames = 1; MetadataMetrics metrics = 2; }
message SearchTagsV2Response { repeated SearchTagsV2Scope scopes = 1; MetadataMetrics metrics = 2; }
message SearchTagsV2Scope { string name = 1; repeated string tags = 2; }
message SearchTagValuesResponse { repeated string tagValues = 1; MetadataMetrics metrics = 2; }
message TagValue { string type = 1; string value = 2; }
message SearchTagValuesV2Response { repeated TagValue tagValues = 1; MetadataMetrics metrics = 2; }
`;
const root = protobuf.parse(OTLP_PROTO + SEARCH_PROTO).root;
const type = (name: string): protobuf.Type => root.lookupType(`oracle.${name}`);
const toObject = (name: string, bytes: Uint8Array): Record<string, unknown> =>
  type(name).toObject(type(name).decode(bytes), { longs: String, defaults: false }) as Record<string, unknown>;
const fromObject = (name: string, obj: Record<string, unknown>): Uint8Array => type(name).encode(type(name).fromObject(obj)).finish();

const REQUEST: TempoSearchRequest = {
  tags: { 'service.name': 'shop', 'http.status_code': '500' },
  minDurationMs: 100,
  maxDurationMs: 5000,
  limit: 20,
  start: 1_700_000_000,
  end: 4_000_000_000, // above 2^31: must survive as uint32
  query: '{ resource.service.name = "shop" }',
  spansPerSpanSet: 3,
};

const RESPONSE: SearchResponse = {
  traces: [
    {
      traceID: '2f3e0cee77ae5dc9c17ade3689eb2e54',
      rootServiceName: 'shop-backend',
      rootTraceName: 'update-billing',
      startTimeUnixNano: 18_446_744_073_709_551_615n, // the largest uint64
      durationMs: 557,
      spanSets: [
        {
          spans: [
            {
              spanID: '563d623c76514f8e',
              name: 'update',
              startTimeUnixNano: 1684778327699392724n,
              durationNanos: 446979497n,
              attributes: [
                { key: 'status', value: { stringValue: 'error' } },
                { key: 'http.status_code', value: { intValue: -1n } },
                { key: 'ratio', value: { doubleValue: 0.25 } },
              ],
            },
          ],
          matched: 7,
          attributes: [{ key: 'by(resource.service.name)', value: { stringValue: 'shop-backend' } }],
        },
        { spans: [], matched: 1, attributes: [{ key: 'flag', value: { boolValue: true } }] },
      ],
      serviceStats: { 'shop-backend': { spanCount: 3, errorCount: 1 }, db: { spanCount: 2, errorCount: 0 } },
    },
    { traceID: 'aa', rootServiceName: '', rootTraceName: '', startTimeUnixNano: 0n, durationMs: 0, spanSets: [], serviceStats: {} },
  ],
  metrics: { inspectedTraces: 3, inspectedBytes: 3811736n, totalBlocks: 2, completedJobs: 3, totalJobs: 4, totalBlockBytes: 1n << 40n, inspectedSpans: 12n },
};

describe('tempopb.SearchRequest', () => {
  it('round-trips, and the oracle reads every field under Tempo’s numbers', () => {
    const bytes = encodeSearchRequest(REQUEST);
    expect(decodeSearchRequest(bytes)).toEqual(REQUEST);
    expect(toObject('SearchRequest', bytes)).toEqual({
      Tags: REQUEST.tags,
      MinDurationMs: 100,
      MaxDurationMs: 5000,
      Limit: 20,
      start: 1_700_000_000,
      end: 4_000_000_000,
      Query: REQUEST.query,
      SpansPerSpanSet: 3,
    });
  });

  it('reads what another encoder wrote, skipping fields it does not use', () => {
    const bytes = fromObject('SearchRequest', { Query: '{ }', Limit: 1, start: 10, end: 20, skipASTTransformations: ['x'] });
    expect(decodeSearchRequest(bytes)).toEqual({ tags: {}, minDurationMs: 0, maxDurationMs: 0, limit: 1, start: 10, end: 20, query: '{ }', spansPerSpanSet: 0 });
  });

  it('refuses malformed input with an InvalidArgumentError naming the message', () => {
    expect(() => decodeSearchRequest(Uint8Array.from([0x42, 0x05, 0x61]))).toThrow(InvalidArgumentError);
    expect(() => decodeSearchRequest(Uint8Array.from([0x42, 0x05, 0x61]))).toThrow(/SearchRequest/);
    // Limit (4) sent length-delimited: a known field with the wrong wire type.
    expect(() => decodeSearchRequest(Uint8Array.from([0x22, 0x00]))).toThrow(/wire type/);
  });
});

describe('tempopb.SearchResponse', () => {
  it('round-trips traces, spansets, attributes, service stats and 64-bit metrics', () => {
    expect(decodeSearchResponse(encodeSearchResponse(RESPONSE))).toEqual(RESPONSE);
  });

  it('is what the oracle reads: spanSet mirrors spanSets[0], uint64 exact, zero values absent', () => {
    const obj = toObject('SearchResponse', encodeSearchResponse(RESPONSE)) as {
      traces: Record<string, unknown>[];
      metrics: Record<string, unknown>;
    };
    const first = obj.traces[0]!;
    expect(first.traceID).toBe('2f3e0cee77ae5dc9c17ade3689eb2e54');
    expect(first.startTimeUnixNano).toBe('18446744073709551615');
    expect(first.spanSet).toEqual((first.spanSets as unknown[])[0]);
    expect(first.serviceStats).toEqual({ 'shop-backend': { spanCount: 3, errorCount: 1 }, db: { spanCount: 2 } });
    expect((first.spanSets as { spans: { attributes: unknown[] }[] }[])[0]!.spans[0]!.attributes[1]).toEqual({
      key: 'http.status_code',
      value: { intValue: '-1' },
    });
    expect(obj.traces[1]).toEqual({ traceID: 'aa' });
    expect(obj.metrics).toEqual({
      inspectedTraces: 3,
      inspectedBytes: '3811736',
      totalBlocks: 2,
      completedJobs: 3,
      totalJobs: 4,
      totalBlockBytes: String(1n << 40n),
      inspectedSpans: '12',
    });
  });

  it('always carries metrics, and reads an old sender’s deprecated spanSet as spanSets', () => {
    expect(Object.keys(toObject('SearchResponse', encodeSearchResponse({ traces: [], metrics: emptySearchMetrics() })))).toEqual(['metrics']);
    const old = fromObject('SearchResponse', { traces: [{ traceID: 'bb', spanSet: { matched: 2, spans: [{ spanID: '01', name: 'n' }] } }] });
    const decoded = decodeSearchResponse(old);
    expect(decoded.traces[0]!.spanSets).toEqual([{ spans: [{ spanID: '01', name: 'n', startTimeUnixNano: 0n, durationNanos: 0n, attributes: [] }], matched: 2, attributes: [] }]);
    expect(decoded.metrics).toEqual(emptySearchMetrics());
  });
});

describe('tempopb tag requests and responses', () => {
  it('round-trip the requests under Tempo’s numbers (SearchTagValuesRequest skips 3)', () => {
    const tags = { scope: 'resource', query: '{ }', start: 1, end: 2, maxTagsPerScope: 10, staleValuesThreshold: 5 };
    expect(decodeSearchTagsRequest(encodeSearchTagsRequest(tags))).toEqual(tags);
    expect(toObject('SearchTagsRequest', encodeSearchTagsRequest(tags))).toEqual(tags);
    const values = { tagName: 'resource.service.name', query: '{ .a = 1 }', start: 3, end: 4, maxTagValues: 7, staleValueThreshold: 9 };
    expect(decodeSearchTagValuesRequest(encodeSearchTagValuesRequest(values))).toEqual(values);
    expect(toObject('SearchTagValuesRequest', encodeSearchTagValuesRequest(values))).toEqual(values);
  });

  it('round-trip the four responses, and the oracle agrees', () => {
    const metrics = { inspectedBytes: 42n };
    const v1 = { tagNames: ['a', 'b'], metrics };
    expect(decodeSearchTagsResponse(encodeSearchTagsResponse(v1))).toEqual(v1);
    expect(toObject('SearchTagsResponse', encodeSearchTagsResponse(v1))).toEqual({ tagNames: ['a', 'b'], metrics: { inspectedBytes: '42' } });

    const v2 = { scopes: [{ name: 'resource', tags: ['service.name'] }, { name: 'span', tags: [] }], metrics: { inspectedBytes: 0n } };
    expect(decodeSearchTagsV2Response(encodeSearchTagsV2Response(v2))).toEqual(v2);
    expect(toObject('SearchTagsV2Response', encodeSearchTagsV2Response(v2))).toEqual({ scopes: [{ name: 'resource', tags: ['service.name'] }, { name: 'span' }], metrics: {} });

    const values = { tagValues: ['x', 'y'], metrics };
    expect(decodeSearchTagValuesResponse(encodeSearchTagValuesResponse(values))).toEqual(values);

    const typed = { tagValues: [{ type: 'string' as const, value: 'shop' }, { type: 'int' as const, value: '200' }], metrics };
    expect(decodeSearchTagValuesV2Response(encodeSearchTagValuesV2Response(typed))).toEqual(typed);
    expect(toObject('SearchTagValuesV2Response', encodeSearchTagValuesV2Response(typed))).toEqual({
      tagValues: [{ type: 'string', value: 'shop' }, { type: 'int', value: '200' }],
      metrics: { inspectedBytes: '42' },
    });
  });

  it('refuses a TagValue type Tempo does not have', () => {
    const bytes = fromObject('SearchTagValuesV2Response', { tagValues: [{ type: 'blob', value: 'x' }] });
    expect(() => decodeSearchTagValuesV2Response(bytes)).toThrow(/TagValue.type "blob"/);
  });
});
