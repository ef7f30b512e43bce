import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, emptySearchMetrics, type BlockMeta, type SearchPartial } from '@andante/model';
import {
  decodeSearchRecentRequest,
  decodeSearchRecentResponse,
  decodeSearchTagValuesRecentRequest,
  decodeSearchTagValuesRecentResponse,
  decodeSearchTagsRecentRequest,
  decodeSearchTagsRecentResponse,
  encodeSearchRecentRequest,
  encodeSearchRecentResponse,
  encodeSearchTagValuesRecentRequest,
  encodeSearchTagValuesRecentResponse,
  encodeSearchTagsRecentRequest,
  encodeSearchTagsRecentResponse,
} from './recent-codec.js';

const meta: BlockMeta = {
  format: 'vAndante2', blockID: 'b-1', tenantID: 't', startTime: '2026-01-01T00:00:00Z', endTime: '2026-01-01T00:00:01Z',
  totalObjects: 1, totalSpans: 2, size: 10, compactionLevel: 0, totalRecords: 1, bloomShards: 1, footerSize: 5, minID: 'AA==', maxID: 'AA==',
};

describe('ingester recent-data codecs', () => {
  it('round-trips a search request and a response with results, metrics and flushed blocks', () => {
    const req = { query: '{ .a = "b" }', startSeconds: 1_700_000_000, endSeconds: 1_700_003_600, limit: 20, spss: 3 };
    expect(decodeSearchRecentRequest(encodeSearchRecentRequest({ tenantId: 'tenant-1', req }))).toEqual({ tenantId: 'tenant-1', req });
    const metrics = { ...emptySearchMetrics(), inspectedTraces: 7, inspectedBytes: 12345n, inspectedSpans: 99n };
    const partial: SearchPartial = {
      traces: [
        {
          traceID: '0102030405060708090a0b0c0d0e0f10', rootServiceName: 'svc', rootTraceName: 'GET /', startTimeUnixNano: 1_700_000_000_123_456_789n, durationMs: 42,
          spanSets: [{ spans: [{ spanID: '0102030405060708', name: 'op', startTimeUnixNano: 1_700_000_000_123_456_789n, durationNanos: 5_000_000n, attributes: [{ key: 'a', value: { stringValue: 'b' } }] }], matched: 1, attributes: [] }],
          serviceStats: { svc: { spanCount: 3, errorCount: 1 } },
        },
      ],
      metrics,
      flushedBlocks: [meta],
    };
    const back = decodeSearchRecentResponse(encodeSearchRecentResponse(partial));
    expect(back.flushedBlocks).toEqual([meta]);
    expect(back.metrics).toMatchObject({ inspectedTraces: 7, inspectedBytes: 12345n, inspectedSpans: 99n });
    expect(back.traces).toHaveLength(1);
    expect(back.traces[0]).toMatchObject({ traceID: partial.traces[0]!.traceID, rootServiceName: 'svc', startTimeUnixNano: 1_700_000_000_123_456_789n, durationMs: 42, serviceStats: { svc: { spanCount: 3, errorCount: 1 } } });
    expect(back.traces[0]!.spanSets[0]!.spans[0]).toMatchObject({ spanID: '0102030405060708', durationNanos: 5_000_000n });
  });

  it('round-trips tag names and tag values with their inspected bytes', () => {
    const window = { query: '{ }', startSeconds: 10, endSeconds: 20 };
    expect(decodeSearchTagsRecentRequest(encodeSearchTagsRecentRequest({ tenantId: 't', req: window }))).toEqual({ tenantId: 't', req: window });
    const vreq = { ...window, tag: 'resource.service.name', v2: true };
    expect(decodeSearchTagValuesRecentRequest(encodeSearchTagValuesRecentRequest({ tenantId: 't', req: vreq }))).toEqual({ tenantId: 't', req: vreq });
    const names = { names: { span: ['http.method', 'db.system'], resource: ['service.name'] }, inspectedBytes: 2n ** 40n, flushedBlocks: [meta] };
    expect(decodeSearchTagsRecentResponse(encodeSearchTagsRecentResponse(names))).toEqual(names);
    const values = { values: [{ type: 'string' as const, value: 'frontend' }, { type: 'int' as const, value: '200' }], inspectedBytes: 77n, flushedBlocks: [] };
    expect(decodeSearchTagValuesRecentResponse(encodeSearchTagValuesRecentResponse(values))).toEqual(values);
  });

  it.each([
    ['garbage', () => decodeSearchRecentRequest(Uint8Array.of(0xff, 0xff, 0xff))],
    ['a search without tenant', () => decodeSearchRecentRequest(encodeSearchRecentRequest({ tenantId: '', req: { query: '{ }', startSeconds: 0, endSeconds: 0, limit: 20, spss: 3 } }))],
    ['a search with limit 0', () => decodeSearchRecentRequest(encodeSearchRecentRequest({ tenantId: 't', req: { query: '{ }', startSeconds: 0, endSeconds: 0, limit: 0, spss: 3 } }))],
    ['a truncated search', () => decodeSearchRecentRequest(encodeSearchRecentRequest({ tenantId: 't', req: { query: '{ .a = "long value" }', startSeconds: 0, endSeconds: 0, limit: 20, spss: 3 } }).slice(0, 8))],
    ['a query sent as a varint', () => decodeSearchRecentRequest(Uint8Array.of(0x0a, 0x01, 0x74, 0x10, 0x05))],
    ['tag values without a tag', () => decodeSearchTagValuesRecentRequest(encodeSearchTagsRecentRequest({ tenantId: 't', req: { query: '', startSeconds: 0, endSeconds: 0 } }))],
    ['tag names without tenant', () => decodeSearchTagsRecentRequest(encodeSearchTagsRecentRequest({ tenantId: '', req: { query: '', startSeconds: 0, endSeconds: 0 } }))],
    ['an unknown tag scope', () => decodeSearchTagsRecentResponse(encodeSearchTagsRecentResponse({ names: { ['nope' as 'span']: ['x'] }, inspectedBytes: 0n }))],
    ['an unknown value type', () => decodeSearchTagValuesRecentResponse(encodeSearchTagValuesRecentResponse({ values: [{ type: 'blob' as 'string', value: 'x' }], inspectedBytes: 0n }))],
    ['a search response without results', () => decodeSearchRecentResponse(Uint8Array.of())],
  ])('refuses %s with InvalidArgumentError', (_what, decode) => {
    expect(decode).toThrow(InvalidArgumentError);
  });

  it('refuses a negative or fractional window before sending it', () => {
    expect(() => encodeSearchRecentRequest({ tenantId: 't', req: { query: '{ }', startSeconds: -1, endSeconds: 0, limit: 1, spss: 1 } })).toThrow(/not a uint32/);
  });
});
