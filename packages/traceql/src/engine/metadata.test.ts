import { searchResponseToJson } from '@andante/model';
import { describe, expect, it } from 'vitest';
import { compileSearch, searchCompiler } from './engine.js';
import { buildEvalTrace } from './eval-trace.js';
import { BASE_TIME, makeTrace } from './fixtures-cases.js';

const MS = 1_000_000n;

const raw = makeTrace(
  [
    { id: 1, service: 'frontend', name: 'GET /checkout', kind: 2, start: 0n, duration: 3000n * MS },
    { id: 2, parent: 1, service: 'checkout', name: 'POST /checkout', kind: 2, status: 2, statusMessage: 'boom', start: 100n * MS, duration: 2500n * MS, attrs: { 'http.method': 'POST', 'http.status_code': 500n } },
    { id: 3, parent: 2, service: 'checkout', name: 'db', kind: 3, status: 2, start: 200n * MS, duration: 2100n * MS, attrs: { 'db.system': 'postgresql' } },
    { id: 4, parent: 2, service: 'payments', name: 'charge', kind: 3, status: 1, start: 300n * MS, duration: 50n * MS },
  ],
  0x1234,
);
const trace = buildEvalTrace(raw);

const common = {
  traceID: '00000000000000000000000000001234',
  rootServiceName: 'frontend',
  rootTraceName: 'GET /checkout',
  startTimeUnixNano: BASE_TIME,
  durationMs: 3000,
  serviceStats: {
    frontend: { spanCount: 1, errorCount: 0 },
    checkout: { spanCount: 2, errorCount: 2 },
    payments: { spanCount: 1, errorCount: 0 },
  },
};

function run(q: string, spss: number) {
  const query = compileSearch(q);
  return query.toSearchMetadata(trace, query.evaluate(trace), { spss });
}

describe('toSearchMetadata', () => {
  it('names the attributes and intrinsics the query used; duration stays a field', () => {
    expect(run('{ resource.service.name = "checkout" && duration > 2s && status = error }', 3)).toEqual({
      ...common,
      spanSets: [
        {
          spans: [
            {
              spanID: '0000000000000002',
              name: 'POST /checkout',
              startTimeUnixNano: BASE_TIME + 100n * MS,
              durationNanos: 2500n * MS,
              attributes: [
                { key: 'service.name', value: { stringValue: 'checkout' } },
                { key: 'status', value: { stringValue: 'error' } },
              ],
            },
            {
              spanID: '0000000000000003',
              name: 'db',
              startTimeUnixNano: BASE_TIME + 200n * MS,
              durationNanos: 2100n * MS,
              attributes: [
                { key: 'service.name', value: { stringValue: 'checkout' } },
                { key: 'status', value: { stringValue: 'error' } },
              ],
            },
          ],
          matched: 2,
          attributes: [],
        },
      ],
    });
  });

  it('cuts spans to spss, counts all matched, and shows select()ed fields', () => {
    expect(run('{ } | select(span.http.method, span:parentID, kind)', 2)).toEqual({
      ...common,
      spanSets: [
        {
          spans: [
            { spanID: '0000000000000001', name: 'GET /checkout', startTimeUnixNano: BASE_TIME, durationNanos: 3000n * MS, attributes: [{ key: 'kind', value: { stringValue: 'server' } }] },
            {
              spanID: '0000000000000002',
              name: 'POST /checkout',
              startTimeUnixNano: BASE_TIME + 100n * MS,
              durationNanos: 2500n * MS,
              attributes: [
                { key: 'http.method', value: { stringValue: 'POST' } },
                { key: 'span:parentID', value: { stringValue: '0000000000000001' } },
                { key: 'kind', value: { stringValue: 'server' } },
              ],
            },
          ],
          matched: 4,
          attributes: [],
        },
      ],
    });
    // spss 0 keeps every span
    expect(run('{ }', 0).spanSets[0]!.spans).toHaveLength(4);
  });

  it('gives each by() group its spanset, with the group value and aggregates as attributes', () => {
    expect(run('{ } | by(resource.service.name) | avg(duration) > 1s', 1)).toEqual({
      ...common,
      spanSets: [
        {
          spans: [{ spanID: '0000000000000001', name: 'GET /checkout', startTimeUnixNano: BASE_TIME, durationNanos: 3000n * MS, attributes: [{ key: 'service.name', value: { stringValue: 'frontend' } }] }],
          matched: 1,
          attributes: [
            { key: 'by(resource.service.name)', value: { stringValue: 'frontend' } },
            { key: 'avg(duration)', value: { stringValue: '3s' } },
          ],
        },
        {
          spans: [
            {
              spanID: '0000000000000002',
              name: 'POST /checkout',
              startTimeUnixNano: BASE_TIME + 100n * MS,
              durationNanos: 2500n * MS,
              attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }],
            },
          ],
          matched: 2,
          attributes: [
            { key: 'by(resource.service.name)', value: { stringValue: 'checkout' } },
            { key: 'avg(duration)', value: { stringValue: '2.3s' } },
          ],
        },
      ],
    });
  });

  it('serialises through the model as Tempo JSON', () => {
    const json = JSON.parse(
      searchResponseToJson({
        traces: [run('{ status = error } | count() > 1', 3)],
        metrics: { inspectedTraces: 1, inspectedBytes: 0n, totalBlocks: 0, completedJobs: 1, totalJobs: 1, totalBlockBytes: 0n, inspectedSpans: 4n },
      }),
    ) as { traces: { spanSets: { matched: number; attributes: unknown[]; spans: { attributes: unknown[] }[] }[] }[] };
    const ss = json.traces[0]!.spanSets[0]!;
    expect(ss.matched).toBe(2);
    expect(ss.attributes).toEqual([{ key: 'count()', value: { intValue: '2' } }]);
    expect(ss.spans[0]!.attributes).toEqual([{ key: 'status', value: { stringValue: 'error' } }]);
  });
});

describe('searchCompiler (the model SearchCompiler)', () => {
  const sec = Number(BASE_TIME / 1_000_000_000n);

  it('matches whole traces, honouring the time window', () => {
    const q = searchCompiler('{ status = error }');
    expect(q.match(raw, { startSeconds: 0, endSeconds: 0 }, 3)?.spanSets[0]!.matched).toBe(2);
    expect(q.match(raw, { startSeconds: sec - 10, endSeconds: sec }, 3)).not.toBeNull();
    expect(q.match(raw, { startSeconds: sec + 3, endSeconds: sec + 10 }, 3)).not.toBeNull(); // ends at +3s
    expect(q.match(raw, { startSeconds: sec + 4, endSeconds: sec + 10 }, 3)).toBeNull();
    expect(q.match(raw, { startSeconds: sec - 10, endSeconds: sec - 1 }, 3)).toBeNull();
    expect(searchCompiler('{ status = ok && kind = server }').match(raw, { startSeconds: 0, endSeconds: 0 }, 3)).toBeNull();
  });

  it('takes a blank query as { }', () => {
    expect(searchCompiler('  ').match(raw, { startSeconds: 0, endSeconds: 0 }, 3)?.spanSets[0]!.matched).toBe(4);
  });
});
