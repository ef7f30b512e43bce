import { describe, expect, it } from 'vitest';
import { emptySearchMetrics, searchResponseToJson } from './search.js';

describe('searchResponseToJson', () => {
  it('writes Tempo jsonpb: lowerCamel, 64-bit ints as strings, zero values omitted, spanSet mirrors spanSets[0]', () => {
    const json = searchResponseToJson({
      traces: [
        {
          traceID: '2f3e0cee77ae5dc9c17ade3689eb2e54',
          rootServiceName: 'shop-backend',
          rootTraceName: 'update-billing',
          startTimeUnixNano: 1684778327699392724n,
          durationMs: 557,
          spanSets: [
            {
              spans: [
                {
                  spanID: '563d623c76514f8e',
                  name: 'update',
                  startTimeUnixNano: 1684778327699392724n,
                  durationNanos: 446979497n,
                  attributes: [{ key: 'status', value: { stringValue: 'error' } }],
                },
              ],
              matched: 1,
              attributes: [],
            },
          ],
          serviceStats: { 'shop-backend': { spanCount: 3, errorCount: 0 } },
        },
      ],
      metrics: { ...emptySearchMetrics(), inspectedTraces: 3, inspectedBytes: 3811736n, totalBlocks: 2 },
    });
    const set =
      '{"spans":[{"spanID":"563d623c76514f8e","name":"update","startTimeUnixNano":"1684778327699392724","durationNanos":"446979497","attributes":[{"key":"status","value":{"stringValue":"error"}}]}],"matched":1}';
    expect(json).toBe(
      '{"traces":[{"traceID":"2f3e0cee77ae5dc9c17ade3689eb2e54","rootServiceName":"shop-backend","rootTraceName":"update-billing",' +
        `"startTimeUnixNano":"1684778327699392724","durationMs":557,"spanSet":${set},"spanSets":[${set}],` +
        '"serviceStats":{"shop-backend":{"spanCount":3}}}],' +
        '"metrics":{"inspectedTraces":3,"inspectedBytes":"3811736","totalBlocks":2}}',
    );
    expect(JSON.parse(json).traces[0].durationMs).toBe(557);
  });

  it('omits empty traces and zero metrics entirely', () => {
    expect(searchResponseToJson({ traces: [], metrics: emptySearchMetrics() })).toBe('{"metrics":{}}');
  });
});
