import { describe, expect, it } from 'vitest';
import { fetchConditionTest, type MetricsPartial, type MetricsRequest, type MetricsSeries, type SpanColumnBatch, type SpanColumnsRequest, type Trace } from '@andante/model';
import { metricsEngine } from './engine.js';
import { valid as validQueries } from '../conformance-cases.js';
import { parse } from '../parse.js';
import { validate } from '../validate.js';
import { isMetricsQuery } from '../ast.js';
import { alignRange, defaultStepNs } from './range.js';
import { generateSpans, referenceSeries, refIntervals, spansToTraces, type PlainSpan, type RefQuery, type RefRange } from './reference.fixture.js';

const S = 1_000_000_000n;
const STEP = 60n * S;
// Not aligned to the step: alignment is part of what is checked.
const START = 1_767_225_600n * S + 17n * S + 123_456_789n;
const END = START + 30n * 60n * S;
const RANGE: RefRange = { startNs: START, endNs: END, stepNs: STEP };
const { first: FIRST, count: COUNT } = refIntervals(RANGE);
const LAST = FIRST + BigInt(COUNT) * STEP;

// Boundary spans: every step boundary, the requested start and end, the aligned ends, and just
// outside them (the first boundary is excluded by the right-closed rule, one ns past the end too).
const EXACT: bigint[] = [START, END, FIRST, FIRST + 1n, LAST, LAST + 1n];
for (let i = 1n; i <= BigInt(COUNT); i++) EXACT.push(FIRST + i * STEP, FIRST + i * STEP - 1n, FIRST + i * STEP + 1n);
const SPANS = generateSpans({ seed: 7, startNs: FIRST - 120n * S, spreadNs: LAST - FIRST + 240n * S, traces: 3000, exactTimesNs: EXACT });
const TRACES = spansToTraces(SPANS);

function request(query: string, over: Partial<MetricsRequest> = {}): MetricsRequest {
  const r = alignRange({ startNs: START, endNs: END, stepNs: STEP, instant: false });
  return { query, startNs: r.startNs, endNs: r.endNs, stepNs: r.stepNs, instant: false, exemplars: 10, ...over };
}

/** Runs the query as `jobs` jobs (traces dealt round-robin), merged and finalized. */
function run(query: string, jobs = 3, traces: Trace[] = TRACES, over: Partial<MetricsRequest> = {}): MetricsSeries[] {
  const req = request(query, over);
  const partials: MetricsPartial[] = [];
  for (let j = 0; j < jobs; j++) {
    const job = metricsEngine.job(req);
    traces.forEach((t, i) => i % jobs === j && job.observeTrace(t));
    // Through structured clone, as between a worker and the main thread.
    partials.push(structuredClone(job.partial()));
  }
  const c = metricsEngine.combiner(req);
  for (const p of partials) c.add(p);
  return c.series();
}

const labelText = (s: MetricsSeries, skip: string[] = []): string =>
  s.labels
    .filter((l) => !skip.includes(l.key))
    .map((l) => `${l.key}=${'stringValue' in l.value ? l.value.stringValue : JSON.stringify(l.value)}`)
    .sort()
    .join(',');

function expectMatches(got: MetricsSeries[], q: RefQuery, relErr = 1e-9, skip: string[] = []): void {
  const want = referenceSeries(SPANS, q, RANGE);
  expect(got.map((s) => labelText(s, skip)).sort()).toEqual(want.map((s) => s.labels).sort());
  for (const w of want) {
    const g = got.find((s) => labelText(s, skip) === w.labels)!;
    const samples = new Map(g.samples.map((x) => [x.timestampMs, x.value]));
    expect([...samples.keys()].sort()).toEqual([...w.samples.keys()].sort());
    for (const [ts, v] of w.samples) {
      const x = samples.get(ts)!;
      if (v === 0) expect(x).toBe(0);
      else expect(Math.abs(x - v) / Math.abs(v), `${w.labels} at ${ts}: ${x} vs ${v}`).toBeLessThanOrEqual(relErr);
    }
    // Oldest first.
    expect(g.samples.map((x) => x.timestampMs)).toEqual([...g.samples.map((x) => x.timestampMs)].sort((a, b) => (a < b ? -1 : 1)));
  }
}

const svc = { key: 'resource.service.name', of: (s: PlainSpan) => s.service };

describe('TraceQL metrics against the naive reference', () => {
  it.each<[string, RefQuery]>([
    ['{ } | rate()', { filter: () => true, fn: 'rate' }],
    ['{ } | rate() by (resource.service.name)', { filter: () => true, fn: 'rate', by: [svc] }],
    ['{ status = error } | count_over_time() by (resource.service.name)', { filter: (s) => s.status === 2, fn: 'count_over_time', by: [svc] }],
    ['{ name = "db.query" } | sum_over_time(duration) by (resource.service.name)', { filter: (s) => s.name === 'db.query', fn: 'sum_over_time', by: [svc] }],
    ['{ } | min_over_time(duration) by (name)', { filter: () => true, fn: 'min_over_time', by: [{ key: 'name', of: (s) => s.name }] }],
    ['{ kind = client } | max_over_time(duration) by (span.http.route)', { filter: (s) => s.kind === 3, fn: 'max_over_time', by: [{ key: 'span.http.route', of: (s) => s.route }] }],
    ['{ duration > 100ms } | avg_over_time(duration) by (resource.service.name, name)', { filter: (s) => s.durationNs > 100_000_000n, fn: 'avg_over_time', by: [svc, { key: 'name', of: (s) => s.name }] }],
    ['{ span.http.route = "/r/1" } | count_over_time() by (status)', { filter: (s) => s.route === '/r/1', fn: 'count_over_time', by: [{ key: 'status', of: (s) => ['unset', 'ok', 'error'][s.status]! }] }],
  ])('%s', (query, ref) => {
    expectMatches(run(query), ref);
  });

  it('the seed query: p95 of checkout db.query durations within 1 % of the exact quantile per step', () => {
    const got = run('{ resource.service.name = "checkout" && name = "db.query" } | quantile_over_time(duration, .95)');
    expect(got).toHaveLength(1);
    expect(got[0]!.labels).toEqual([{ key: '__name__', value: { stringValue: 'quantile_over_time' } }, { key: 'p', value: { doubleValue: 0.95 } }]);
    expectMatches(got, { filter: (s) => s.service === 'checkout' && s.name === 'db.query', fn: 'quantile_over_time', quantile: 0.95 }, 0.01, ['p']);
  });

  it('several quantiles at once, each within 1 %, with by()', () => {
    const got = run('{ } | quantile_over_time(duration, .5, .9, .99) by (resource.service.name)');
    expect(got).toHaveLength(4 * 3);
    for (const q of [0.5, 0.9, 0.99]) {
      const mine = got.filter((s) => s.labels.some((l) => l.key === 'p' && (l.value as { doubleValue: number }).doubleValue === q));
      expectMatches(mine, { filter: () => true, fn: 'quantile_over_time', quantile: q, by: [svc] }, 0.01, ['p']);
    }
  });

  it('boundary spans: one on a step boundary counts in the interval ending there; the first boundary and past the end do not count', () => {
    const only = spansToTraces(SPANS.filter((s) => s.traceId.startsWith('eeee')));
    const got = run('{ } | count_over_time()', 1, only);
    const samples = new Map(got[0]!.samples.map((x) => [x.timestampMs, x.value]));
    // Boundary i (i >= 1): the boundary itself and 1 ns before it fall in interval i-1 (stamped at the boundary);
    // 1 ns after it, in interval i (except past the last boundary).
    for (let i = 1; i <= COUNT; i++) {
      const ts = (FIRST + BigInt(i) * STEP) / 1_000_000n;
      let want = 2 + (i > 1 ? 1 : 0); // boundary, boundary - 1ns, previous boundary + 1ns
      if (i === 1) want += 1; // FIRST + 1n
      if (i === COUNT) want += 1; // LAST (listed twice: as LAST and as boundary COUNT)
      for (const t of [START, END]) if (refIntervalOf(t) === i - 1) want++;
      expect(samples.get(ts), `interval ending ${ts}`).toBe(want);
    }
    expect([...samples.values()].reduce((a, b) => a + b, 0)).toBe(EXACT.filter((t) => t > FIRST && t <= LAST).length);
  });

  it('time-split jobs (step-aligned windows) merge to the same answer as one job', () => {
    const query = '{ } | quantile_over_time(duration, .9) by (resource.service.name)';
    const whole = run(query, 1);
    const req = request(query);
    const c = metricsEngine.combiner(req);
    const cut = req.startNs + 7n * STEP;
    for (const [a, b] of [[req.startNs, cut], [cut, req.endNs]] as const) {
      const job = metricsEngine.job({ ...req, windowStartNs: a, windowEndNs: b });
      for (const t of TRACES) job.observeTrace(t);
      c.add(job.partial());
    }
    expect(c.series().map((s) => [s.labels, s.samples])).toEqual(whole.map((s) => [s.labels, s.samples]));
  });

  it('exemplars: real trace and span IDs of matching spans, at most `exemplars` per series, spread over the range', () => {
    const got = run('{ resource.service.name = "payments" } | rate() by (name)', 3, TRACES, { exemplars: 8 });
    const ids = new Set(SPANS.filter((s) => s.service === 'payments').map((s) => `${s.traceId}/${s.spanId}`));
    for (const s of got) {
      expect(s.exemplars.length).toBeGreaterThan(0);
      expect(s.exemplars.length).toBeLessThanOrEqual(8);
      for (const e of s.exemplars) {
        const tid = (e.labels.find((l) => l.key === 'trace:id')!.value as { stringValue: string }).stringValue;
        const sid = (e.labels.find((l) => l.key === 'span:id')!.value as { stringValue: string }).stringValue;
        expect(ids.has(`${tid}/${sid}`)).toBe(true);
      }
      const times = s.exemplars.map((e) => Number(e.timestampMs));
      expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(Number((LAST - FIRST) / 1_000_000n) / 3);
    }
  });

  it('topk / bottomk keep k series per timestamp', () => {
    const all = run('{ } | rate() by (resource.service.name)');
    for (const [q, k, top] of [['{ } | rate() by (resource.service.name) | topk(2)', 2, true], ['{ } | rate() by (resource.service.name) | bottomk(1)', 1, false]] as const) {
      const got = run(q);
      const byTs = new Map<bigint, number[]>();
      for (const s of got) for (const x of s.samples) byTs.set(x.timestampMs, [...(byTs.get(x.timestampMs) ?? []), x.value]);
      expect(byTs.size).toBe(COUNT);
      for (const [ts, vals] of byTs) {
        expect(vals).toHaveLength(k);
        const every = all.map((s) => s.samples.find((x) => x.timestampMs === ts)!.value).sort((a, b) => (top ? b - a : a - b));
        expect(vals.sort((a, b) => (top ? b - a : a - b))).toEqual(every.slice(0, k));
      }
    }
  });

  it('arithmetic between metrics queries joins series by labels; a filter keeps matching samples', () => {
    const ratio = run('({ status = error } | rate() by (resource.service.name)) / ({ } | rate() by (resource.service.name))');
    const errs = referenceSeries(SPANS, { filter: (s) => s.status === 2, fn: 'count_over_time', by: [svc] }, RANGE);
    const alls = referenceSeries(SPANS, { filter: () => true, fn: 'count_over_time', by: [svc] }, RANGE);
    expect(ratio).toHaveLength(4);
    for (const s of ratio) {
      const e = errs.find((x) => x.labels === labelText(s))!;
      const a = alls.find((x) => x.labels === labelText(s))!;
      for (const x of s.samples) expect(x.value).toBeCloseTo(e.samples.get(x.timestampMs)! / a.samples.get(x.timestampMs)!, 12);
    }
    const scaled = run('({ } | count_over_time()) * 2 + 1');
    const base = run('{ } | count_over_time()');
    expect(scaled[0]!.samples.map((x) => x.value)).toEqual(base[0]!.samples.map((x) => x.value * 2 + 1));
    const all = run('{ } | count_over_time() by (resource.service.name)').flatMap((s) => s.samples.map((x) => x.value));
    const median = [...all].sort((a, b) => a - b)[all.length >> 1]!;
    const over = run(`{ } | count_over_time() by (resource.service.name) > ${median}`);
    for (const s of over) for (const x of s.samples) expect(x.value).toBeGreaterThan(median);
    expect(over.flatMap((s) => s.samples).length).toBe(all.filter((v) => v > median).length);
  });

  it('histogram_over_time: log2 buckets (seconds) whose counts add up to count_over_time', () => {
    const hist = run('{ } | histogram_over_time(duration)');
    const count = run('{ } | count_over_time()')[0]!;
    for (const s of hist) {
      const b = (s.labels.find((l) => l.key === '__bucket')!.value as { doubleValue: number }).doubleValue;
      expect(Math.log2(b * 1e9) % 1).toBe(0);
    }
    for (const x of count.samples) {
      const sum = hist.reduce((a, s) => a + (s.samples.find((y) => y.timestampMs === x.timestampMs)?.value ?? 0), 0);
      expect(sum).toBe(x.value);
    }
  });

  it('compare(): selection and baseline counts per attribute value and totals', () => {
    const got = run('{ resource.service.name = "payments" } | compare({ status = error })');
    const type = (s: MetricsSeries): string => (s.labels[0]!.value as { stringValue: string }).stringValue;
    const selName = got.filter((s) => type(s) === 'selection_total' && s.labels[1]!.key === 'name')[0]!;
    const want = referenceSeries(SPANS, { filter: (s) => s.service === 'payments' && s.status === 2, fn: 'count_over_time' }, RANGE)[0]!;
    for (const x of selName.samples) expect(x.value).toBe(want.samples.get(x.timestampMs));
    expect(got.some((s) => type(s) === 'baseline' && s.labels[1]!.key === 'resource.service.name')).toBe(true);
  });

  it('instant query: one interval [start, end], both included', () => {
    const req: Partial<MetricsRequest> = { startNs: START, endNs: END, stepNs: END - START, instant: true };
    const got = run('{ } | count_over_time() by (resource.service.name)', 2, TRACES, req);
    for (const s of got) {
      expect(s.samples).toHaveLength(1);
      expect(s.samples[0]!.timestampMs).toBe(END / 1_000_000n);
      const service = (s.labels[0]!.value as { stringValue: string }).stringValue;
      expect(s.samples[0]!.value).toBe(SPANS.filter((x) => x.service === service && x.startNs >= START && x.startNs <= END).length);
    }
  });

  it('rejects searches and bad queries with 400-class errors; accepts sampling hints and says they are ignored', () => {
    expect(() => metricsEngine.check('{ }')).toThrow(/not a metrics query/);
    expect(() => metricsEngine.check('{ } | rate(')).toThrow();
    expect(metricsEngine.check('{ } | rate() with (sample=0.1)').ignoredHints).toEqual(['sample']);
  });

  it('Tempo\'s default step: ~240 points in 5 s multiples, at least 1 s', () => {
    expect(defaultStepNs(0n, 3600n * S)).toBe(15n * S);
    expect(defaultStepNs(0n, 60n * S)).toBe(1n * S);
    expect(defaultStepNs(0n, 24n * 3600n * S)).toBe(360n * S);
    expect(defaultStepNs(0n, 1000n * S)).toBe(4n * S);
  });
});

function refIntervalOf(t: bigint): number {
  if (t <= FIRST || t > LAST) return -1;
  const off = t - FIRST;
  let i = off / STEP;
  if (i * STEP === off) i -= 1n;
  return Number(i);
}

describe('every metrics query of the conformance table', () => {
  const queries = validQueries.filter((q) => {
    try {
      const root = parse(q);
      validate(root);
      return isMetricsQuery(root);
    } catch {
      return false;
    }
  });
  it('has metrics queries to run', () => expect(queries.length).toBeGreaterThan(50));
  it.each(queries)('%s', (q) => {
    const series = run(q, 2, TRACES.slice(0, 300));
    for (const s of series) for (const x of s.samples) expect(typeof x.value).toBe('number');
  });
});

describe('the columnar path (what storage hands over for column-decidable queries)', () => {
  /** The batch storage would build from these spans: condition mask, start offsets, value and group columns. */
  function batchOf(spans: readonly PlainSpan[], req: MetricsRequest, plan: SpanColumnsRequest): SpanColumnBatch {
    const tests = plan.conditions.map((c) => ({ c, test: fetchConditionTest(c)! }));
    const raw = (s: PlainSpan, ref: { scope: string; name: string }): unknown => {
      if (ref.scope === 'resource') return ref.name === 'service.name' ? s.service : undefined;
      return ref.name === 'name' ? s.name : ref.name === 'status' ? s.status : ref.name === 'kind' ? s.kind : Number(s.durationNs);
    };
    const mask = Uint8Array.from(spans, (s) => (tests.every(({ c, test }) => test(raw(s, c))) ? 1 : 0));
    const groups = plan.groups.map((g) => {
      const values: unknown[] = [];
      const codes = Int32Array.from(spans, (s) => {
        const v = raw(s, g);
        const stored = g.scope === 'resource' ? (v === undefined ? undefined : { stringValue: v as string }) : v;
        let k = values.findIndex((x) => JSON.stringify(x) === JSON.stringify(stored));
        if (k < 0) k = values.push(stored) - 1;
        return k;
      });
      return { codes, values };
    });
    return {
      rows: spans.length,
      mask,
      startOffsetNs: Float64Array.from(spans, (s) => Number(s.startNs - req.startNs)),
      value: plan.value ? Float64Array.from(spans, (s) => Number(s.durationNs)) : null,
      groups,
      ids: async (rows) => rows.map((r) => ({ traceId: Buffer.from(spans[r]!.traceId, 'hex'), spanId: Buffer.from(spans[r]!.spanId, 'hex') })),
    };
  }

  it.each([
    '{ } | rate() by (resource.service.name)',
    '{ resource.service.name = "checkout" && name = "db.query" } | quantile_over_time(duration, .95)',
    '{ status = error } | count_over_time() by (name)',
    '{ duration > 100ms && kind = client } | avg_over_time(duration) by (resource.service.name, status)',
    '{ name =~ "db.*" } | max_over_time(duration)',
  ])('%s: same series as the trace path, boundary spans included', async (q) => {
    const req = request(q);
    const job = metricsEngine.job(req);
    const plan = job.columnPlans[0]!;
    expect(plan).not.toBeNull();
    // Two row groups, as storage hands them over.
    await job.observeColumns(0, batchOf(SPANS.slice(0, 5000), req, plan));
    await job.observeColumns(0, batchOf(SPANS.slice(5000), req, plan));
    const c = metricsEngine.combiner(req);
    c.add(structuredClone(job.partial()));
    const cols = c.series();
    const traces = run(q, 1);
    expect(cols.map((s) => [s.labels, s.samples])).toEqual(traces.map((s) => [s.labels, s.samples]));
  });

  it('is not planned for what columns cannot decide exactly', () => {
    for (const q of ['{ span.http.route = "/r/1" } | rate()', '{ .a = 1 } | rate()', '{ name != "x" } | rate()', '{ } | rate() by (span.http.route)', '{ } | sum_over_time(span.size)', '{ .a } >> { .b } | rate()', '{ } | compare({ status = error })']) {
      expect(metricsEngine.job(request(q)).columnPlans[0], q).toBeNull();
    }
  });
});
