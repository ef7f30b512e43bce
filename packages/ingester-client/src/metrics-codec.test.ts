import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, type MetricsPartial, type MetricsRequest } from '@andante/model';
import { decodeMetricsPartial, decodeMetricsRequest, encodeMetricsPartial, encodeMetricsRequest } from './metrics-codec.js';

const req: MetricsRequest = {
  query: '{ } | rate() by (resource.service.name)',
  startNs: 1_700_000_000_000_000_000n,
  endNs: 1_700_000_360_000_000_000n,
  stepNs: 60_000_000_000n,
  instant: false,
  exemplars: 5,
  windowStartNs: 1_700_000_060_000_000_000n,
  windowEndNs: 1_700_000_120_000_000_000n,
  tokenRanges: [0, 99, 1000, 0xffff_ffff],
};

describe('ingester metrics codec', () => {
  it('round-trips a request with its time window and token ranges', () => {
    expect(decodeMetricsRequest(encodeMetricsRequest({ tenantId: 't', req }))).toEqual({ tenantId: 't', req });
    const plain = { query: req.query, startNs: 0n, endNs: 10n, stepNs: 10n, instant: true, exemplars: 0 };
    expect(decodeMetricsRequest(encodeMetricsRequest({ tenantId: 't', req: plain }))).toEqual({ tenantId: 't', req: plain });
  });

  it('round-trips a partial exactly: counts, nullable sums, distributions, exemplars (NaN values), blocks', () => {
    const partial: MetricsPartial = {
      leaves: [
        {
          series: [
            {
              key: 'svc=a', labels: [{ key: 'resource.service.name', value: { stringValue: 'a' } }],
              count: Float64Array.of(1, 0, 3.5), sum: Float64Array.of(0.1, 0, -2), min: null, max: Float64Array.of(Infinity, 0, 7),
              dist: [Float64Array.of(1, 2, 3, 4), null, Float64Array.of()],
              exemplars: [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), timestampMs: 1_700_000_000_123, value: Number.NaN }],
            },
          ],
        },
        { series: [] },
      ],
      inspectedTraces: 10, inspectedSpans: 2 ** 40, inspectedBytes: 123456,
      flushedBlocks: [{ format: 'vAndante2', blockID: 'b', tenantID: 't', startTime: 'x', endTime: 'y', totalObjects: 1, totalSpans: 1, size: 1, compactionLevel: 0, totalRecords: 1, bloomShards: 1, footerSize: 1, minID: '', maxID: '' }],
      coveredBlocks: ['c-1', 'c-2'],
    };
    const back = decodeMetricsPartial(encodeMetricsPartial(partial));
    expect(back).toEqual(partial);
    expect(Number.isNaN(back.leaves[0]!.series[0]!.exemplars[0]!.value)).toBe(true);
    // Decoded arrays are copies (aligned), not views of the message.
    expect(back.leaves[0]!.series[0]!.count.byteOffset).toBe(0);
  });

  it.each([
    ['garbage', Uint8Array.of(0xff, 0xff, 0xff)],
    ['no tenant', encodeMetricsRequest({ tenantId: '', req })],
    ['no query', encodeMetricsRequest({ tenantId: 't', req: { ...req, query: '' } })],
    ['step 0', encodeMetricsRequest({ tenantId: 't', req: { ...req, stepNs: 0n } })],
    ['end before start', encodeMetricsRequest({ tenantId: 't', req: { ...req, endNs: 1n } })],
    ['an odd number of token range bounds', Uint8Array.of(0x0a, 0x01, 0x74, 0x52, 0x04, 1, 0, 0, 0)],
    ['an empty token range', encodeMetricsRequest({ tenantId: 't', req: { ...req, tokenRanges: [5, 4] } })],
    ['a truncated fixed64', encodeMetricsRequest({ tenantId: 't', req }).slice(0, 60)],
  ])('refuses a request with %s with InvalidArgumentError', (_what, buf) => {
    expect(() => decodeMetricsRequest(buf)).toThrow(InvalidArgumentError);
  });

  it('refuses a partial whose arrays disagree on the interval count, or whose doubles are cut', () => {
    const series = { key: 'k', labels: [], count: Float64Array.of(1, 2), sum: Float64Array.of(1), min: null, max: null, dist: null, exemplars: [] };
    expect(() => decodeMetricsPartial(encodeMetricsPartial({ leaves: [{ series: [series] }], inspectedTraces: 0, inspectedSpans: 0, inspectedBytes: 0 }))).toThrow(/sum has 1 intervals, count has 2/);
    const ok = encodeMetricsPartial({ leaves: [{ series: [{ ...series, sum: null }] }], inspectedTraces: 0, inspectedSpans: 0, inspectedBytes: 0 });
    // Leaf(len) > Series(len) > key, then count: shorten the count field's length by one byte.
    const cut = Buffer.from(ok);
    const at = cut.indexOf(Buffer.from([0x1a, 16]));
    expect(at).toBeGreaterThan(0);
    cut[at + 1] = 15;
    expect(() => decodeMetricsPartial(cut)).toThrow(InvalidArgumentError);
  });
});
