import { describe, expect, it } from 'vitest';
import { LabelBuilder, sanitizeLabelName, sanitizeWithCollisions } from './labels.js';
import { TenantRegistry, type RegistryOptions, type TimeSeries } from './registry.js';

function registry(over: Partial<RegistryOptions> = {}): { reg: TenantRegistry; clock: { t: number }; limited: { n: number } } {
  const clock = { t: 1_700_000_030_000 };
  const limited = { n: 0 };
  const reg = new TenantRegistry({
    tenant: 't1',
    staleDurationMs: 60_000,
    externalLabels: {},
    injectTenantIdAs: '',
    maxLabelNameLength: 1024,
    maxLabelValueLength: 2048,
    maxActiveSeries: () => 0,
    onSeriesLimited: () => limited.n++,
    now: () => clock.t,
    ...over,
  });
  return { reg, clock, limited };
}
const lbs = (...pairs: string[]): LabelBuilder => {
  const lb = new LabelBuilder();
  for (let i = 0; i < pairs.length; i += 2) lb.add(pairs[i]!, pairs[i + 1]!);
  return lb;
};
const find = (series: TimeSeries[], name: string, extra: Record<string, string> = {}): TimeSeries | undefined =>
  series.find((s) => s.labels.some(([k, v]) => k === '__name__' && v === name) && Object.entries(extra).every(([k, v]) => s.labels.some((l) => l[0] === k && l[1] === v)));

describe('labels', () => {
  it.each([
    ['http.method', 'http_method'],
    ['service.version', 'service_version'],
    ['k8s-pod/name', 'k8s_pod_name'],
    ['9lives', '_9lives'],
    ['', '_'],
    ['ok_label', 'ok_label'],
  ])('sanitizes %j to %j', (input, want) => {
    expect(sanitizeLabelName(input)).toBe(want);
  });

  it('prefixes a dimension that collides with an intrinsic label', () => {
    const reserved = new Set(['service', 'span_name']);
    expect(sanitizeWithCollisions('service', reserved)).toBe('__service');
    expect(sanitizeWithCollisions('span.name', reserved)).toBe('__span_name');
    expect(sanitizeWithCollisions('span.kind', reserved)).toBe('span_kind');
  });
});

describe('TenantRegistry', () => {
  it('counts per label set, sorts labels and sends a 0 before the first value', () => {
    const { reg, clock } = registry();
    const c = reg.counter('calls_total');
    c.inc(lbs('service', 'a', 'span_name', 'GET'), 1, 'aa');
    c.inc(lbs('service', 'a', 'span_name', 'GET'), 2);
    c.inc(lbs('service', 'b', 'span_name', 'GET'), 1);
    const first = reg.collect();
    expect(first.series.map((s) => [s.labels, s.samples[0]!.value])).toEqual([
      [[['__name__', 'calls_total'], ['service', 'a'], ['span_name', 'GET']], 3],
      [[['__name__', 'calls_total'], ['service', 'b'], ['span_name', 'GET']], 1],
    ]);
    // The initial zeros sit at the end of the previous minute.
    expect(first.initial.map((s) => s.samples[0])).toEqual([
      { value: 0, timestampMs: 1_699_999_979_999 },
      { value: 0, timestampMs: 1_699_999_979_999 },
    ]);
    expect(first.series[0]!.exemplars).toEqual([{ traceId: 'aa', value: 1, timestampMs: clock.t }]);
    clock.t += 15_000;
    const second = reg.collect();
    expect(second.initial).toEqual([]);
    expect(second.series[0]!.exemplars).toEqual([]); // an exemplar is sent once
    expect(reg.activeSeries).toBe(2);
  });

  it('fills classic buckets cumulatively with le labels, sum and count, and keeps the latest exemplar per bucket', () => {
    const { reg } = registry();
    const h = reg.histogram('latency', [0.1, 1]);
    const lb = lbs('service', 'a');
    h.observe(lb, 0.05, 't1');
    h.observe(lb, 0.1, 't2'); // le is inclusive
    h.observe(lb, 0.5, 't3');
    h.observe(lb, 3, 't4');
    h.observe(lb, 0.07, 't5');
    const { series, initial } = reg.collect();
    expect(find(series, 'latency_bucket', { le: '0.1' })!.samples[0]!.value).toBe(3);
    expect(find(series, 'latency_bucket', { le: '1' })!.samples[0]!.value).toBe(4);
    expect(find(series, 'latency_bucket', { le: '+Inf' })!.samples[0]!.value).toBe(5);
    expect(find(series, 'latency_count')!.samples[0]!.value).toBe(5);
    expect(find(series, 'latency_sum')!.samples[0]!.value).toBeCloseTo(3.72, 10);
    expect(find(series, 'latency_bucket', { le: '0.1' })!.exemplars.map((e) => [e.traceId, e.value])).toEqual([['t5', 0.07]]);
    expect(find(series, 'latency_bucket', { le: '+Inf' })!.exemplars.map((e) => e.traceId)).toEqual(['t4']);
    expect(initial).toHaveLength(4); // count + 3 buckets
    expect(reg.activeSeries).toBe(5); // 2 buckets + Inf + sum + count
  });

  it.each([
    // max, expected active, limited
    [0, 1 + 1 + 6, 0],
    [3, 2, 1], // two counters fit; the histogram (6 series) does not
    [8, 8, 0],
    [1, 1, 2],
  ])('with max_active_series %i holds %i series and refuses %i', (max, active, refused) => {
    const { reg, limited } = registry({ maxActiveSeries: () => max });
    reg.counter('a').inc(lbs('x', '1'), 1);
    reg.counter('a').inc(lbs('x', '2'), 1);
    reg.histogram('h', [1, 2, 3]).observe(lbs('x', '1'), 1);
    expect(reg.activeSeries).toBe(active);
    expect(limited.n).toBe(refused);
  });

  it('keeps updating existing series while new ones are refused', () => {
    const { reg, limited } = registry({ maxActiveSeries: () => 1 });
    const c = reg.counter('c');
    c.inc(lbs('k', 'kept'), 1);
    for (let i = 0; i < 100; i++) c.inc(lbs('k', `new-${i}`), 1);
    c.inc(lbs('k', 'kept'), 4);
    const { series } = reg.collect();
    expect(series.map((s) => [s.labels[1], s.samples[0]!.value])).toEqual([[['k', 'kept'], 5]]);
    expect(limited.n).toBe(100);
  });

  it('removes series not updated for stale_duration and frees their room', () => {
    const { reg, clock } = registry({ maxActiveSeries: () => 1 });
    const c = reg.counter('c');
    c.inc(lbs('k', 'old'), 1);
    clock.t += 61_000;
    expect(reg.removeStaleSeries()).toBe(1);
    expect(reg.activeSeries).toBe(0);
    c.inc(lbs('k', 'new'), 1);
    expect(reg.collect().series.map((s) => s.labels[1])).toEqual([['k', 'new']]);
  });

  it('truncates long names and values, adds external labels and the tenant label, drops empty values', () => {
    const { reg } = registry({ maxLabelNameLength: 4, maxLabelValueLength: 3, externalLabels: { cluster: 'c1' }, injectTenantIdAs: 'org' });
    reg.counter('c').inc(lbs('longname', 'abcdef', 'empty', ''), 1);
    expect(reg.collect().series[0]!.labels).toEqual([
      ['__name__', 'c'],
      ['cluster', 'c1'],
      ['long', 'abc'],
      ['org', 't1'],
    ]);
  });

  it('gauges hold the last value set', () => {
    const { reg } = registry();
    const g = reg.gauge('target_info');
    g.set(lbs('job', 'a'), 1);
    g.set(lbs('job', 'a'), 1);
    expect(reg.collect().series.map((s) => s.samples[0]!.value)).toEqual([1]);
    expect(reg.activeSeries).toBe(1);
  });
});
