import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { OTLP_PROTO } from './test-fixtures.js';
import { emptySearchMetrics, type SearchResponse } from './search.js';
import { decodeSearchResponse, encodeSearchResponse } from './tempo-search-proto.js';

// An independent codec: protobufjs reflection over the messages as grafana/tempo's
// pkg/tempopb/tempo.proto declares them (field names and numbers transcribed from it).
const SEARCH_PROTO = `
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
`;
const root = protobuf.parse(OTLP_PROTO + SEARCH_PROTO).root;
const type = (name: string): protobuf.Type => root.lookupType(`oracle.${name}`);
const toObject = (name: string, bytes: Uint8Array): Record<string, unknown> =>
  type(name).toObject(type(name).decode(bytes), { longs: String, defaults: false }) as Record<string, unknown>;
const fromObject = (name: string, obj: Record<string, unknown>): Uint8Array => type(name).encode(type(name).fromObject(obj)).finish();

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
