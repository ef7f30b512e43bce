import { describe, expect, it } from 'vitest';
import { SpanKind, StatusCode } from '@andante/model';
import { batch, span } from './test-spans.fixture.js';
import { defaultGeneratorConfig, type SpanMetricsConfig } from './config.js';
import { TenantRegistry, type TimeSeries } from './registry.js';
import { SpanMetricsProcessor } from './span-metrics.js';

function setup(over: Partial<SpanMetricsConfig> = {}): { proc: SpanMetricsProcessor; reg: TenantRegistry; filtered: { n: number } } {
  const reg = new TenantRegistry({ tenant: 't', staleDurationMs: 900_000, externalLabels: {}, injectTenantIdAs: '', maxLabelNameLength: 1024, maxLabelValueLength: 2048, maxActiveSeries: () => 0 });
  const filtered = { n: 0 };
  const cfg = { ...defaultGeneratorConfig().processor.span_metrics, ...over };
  return { proc: new SpanMetricsProcessor(cfg, { count: true, latency: true, size: true }, reg, { spansFiltered: (n) => (filtered.n += n) }), reg, filtered };
}
const labelsOf = (s: TimeSeries): Record<string, string> => Object.fromEntries(s.labels);
function calls(reg: TenantRegistry): [Record<string, string>, number][] {
  return reg
    .collect()
    .series.filter((s) => labelsOf(s)['__name__'] === 'traces_spanmetrics_calls_total')
    .map((s): [Record<string, string>, number] => {
      const { __name__, ...rest } = labelsOf(s);
      return [rest, s.samples[0]!.value];
    });
}

describe('span-metrics', () => {
  it('counts calls by service, span name, kind and status, with latency buckets in seconds and span sizes', () => {
    const { proc, reg } = setup();
    proc.pushSpans([
      batch({ 'service.name': 'checkout' }, [
        span({ name: 'POST /cart', ms: 3 }),
        span({ name: 'POST /cart', ms: 30 }),
        span({ name: 'POST /cart', ms: 300, status: StatusCode.ERROR, message: 'boom' }),
        span({ name: 'SELECT', kind: SpanKind.CLIENT, ms: 1 }),
      ]),
    ]);
    expect(calls(reg)).toEqual([
      [{ service: 'checkout', span_name: 'POST /cart', span_kind: 'SPAN_KIND_SERVER', status_code: 'STATUS_CODE_UNSET' }, 2],
      [{ service: 'checkout', span_name: 'POST /cart', span_kind: 'SPAN_KIND_SERVER', status_code: 'STATUS_CODE_ERROR' }, 1],
      [{ service: 'checkout', span_name: 'SELECT', span_kind: 'SPAN_KIND_CLIENT', status_code: 'STATUS_CODE_UNSET' }, 1],
    ]);
    const series = reg.collect().series;
    const bucket = (le: string): number =>
      series.find((s) => labelsOf(s)['__name__'] === 'traces_spanmetrics_latency_bucket' && labelsOf(s)['status_code'] === 'STATUS_CODE_UNSET' && labelsOf(s)['span_name'] === 'POST /cart' && labelsOf(s)['le'] === le)!.samples[0]!.value;
    expect([bucket('0.002'), bucket('0.004'), bucket('0.032'), bucket('16.384'), bucket('+Inf')]).toEqual([0, 1, 2, 2, 2]);
    const sum = series.find((s) => labelsOf(s)['__name__'] === 'traces_spanmetrics_latency_sum' && labelsOf(s)['span_name'] === 'POST /cart' && labelsOf(s)['status_code'] === 'STATUS_CODE_UNSET')!;
    expect(sum.samples[0]!.value).toBeCloseTo(0.033, 12);
    const sizes = series.filter((s) => labelsOf(s)['__name__'] === 'traces_spanmetrics_size_total');
    expect(sizes.every((s) => s.samples[0]!.value > 40)).toBe(true);
  });

  it('adds status_message when enabled and drops intrinsics that are disabled', () => {
    const { proc, reg } = setup({ intrinsic_dimensions: { service: true, span_name: false, span_kind: false, status_code: true, status_message: true } });
    proc.pushSpans([batch({ 'service.name': 'a' }, [span({ status: StatusCode.ERROR, message: 'timeout' })])]);
    expect(calls(reg)).toEqual([[{ service: 'a', status_code: 'STATUS_CODE_ERROR', status_message: 'timeout' }, 1]]);
  });

  it.each([
    ['a span attribute', ['http.method'], {}, { 'http.method': 'GET' }, { http_method: 'GET' }],
    ['a resource attribute before the span one', ['deployment.env'], { 'deployment.env': 'prod' }, { 'deployment.env': 'dev' }, { deployment_env: 'prod' }],
    ['an int attribute', ['http.status_code'], {}, { 'http.status_code': 503 }, { http_status_code: '503' }],
    ['a missing attribute (empty label, left out)', ['http.route'], {}, {}, {}],
    ['a collision with an intrinsic', ['service'], {}, { service: 'x' }, { __service: 'x' }],
  ])('dimension from %s', (_name, dimensions, resource, spanAttrs, want) => {
    const { proc, reg } = setup({ dimensions });
    proc.pushSpans([batch({ 'service.name': 'a', ...resource }, [span({ attrs: spanAttrs })])]);
    const [labels] = calls(reg)[0]!;
    const { service: _s, span_name: _n, span_kind: _k, status_code: _c, ...extra } = labels;
    expect(extra).toEqual(want);
  });

  it('joins dimension_mappings source labels', () => {
    const { proc, reg } = setup({ dimension_mappings: [{ name: 'http.target', source_labels: ['http.method', 'http.route'], join: ' ' }] });
    proc.pushSpans([batch({ 'service.name': 'a' }, [span({ attrs: { 'http.method': 'GET', 'http.route': '/cart' } })])]);
    expect(calls(reg)[0]![0]['http_target']).toBe('GET /cart');
  });

  it.each([
    ['strict include on kind', [{ include: { match_type: 'strict' as const, attributes: [{ key: 'kind', value: 'SPAN_KIND_SERVER' }] } }], ['server-op']],
    ['regex exclude on name', [{ exclude: { match_type: 'regex' as const, attributes: [{ key: 'name', value: '^health' }] } }], ['server-op', 'client-op']],
    ['strict include on a typed span attribute', [{ include: { match_type: 'strict' as const, attributes: [{ key: 'span.http.status_code', value: 200 }] } }], ['client-op']],
    ['strict include on a resource attribute', [{ include: { match_type: 'strict' as const, attributes: [{ key: 'resource.service.name', value: 'other' }] } }], []],
    ['regex include on status', [{ include: { match_type: 'regex' as const, attributes: [{ key: 'status', value: 'ERROR' }] } }], ['healthz']],
  ])('filter_policies: %s', (_name, filter_policies, kept) => {
    const { proc, reg, filtered } = setup({ filter_policies });
    proc.pushSpans([
      batch({ 'service.name': 'a' }, [
        span({ name: 'server-op' }),
        span({ name: 'client-op', kind: SpanKind.CLIENT, attrs: { 'http.status_code': 200 } }),
        span({ name: 'healthz', kind: SpanKind.INTERNAL, status: StatusCode.ERROR }),
      ]),
    ]);
    expect(calls(reg).map(([l]) => l['span_name'])).toEqual(kept);
    expect(filtered.n).toBe(3 - kept.length);
  });

  it('scales counts by span_multiplier_key (a sampling ratio)', () => {
    const { proc, reg } = setup({ span_multiplier_key: 'sampling.ratio' });
    proc.pushSpans([batch({ 'service.name': 'a' }, [span({ attrs: { 'sampling.ratio': 0.25 } }), span({})])]);
    expect(calls(reg)[0]![1]).toBe(5);
  });

  it('keeps the trace ID of the latest span as the exemplar of its bucket', () => {
    const { proc, reg } = setup();
    proc.pushSpans([batch({ 'service.name': 'a' }, [span({ ms: 5, trace: 'aa'.repeat(16) }), span({ ms: 5, trace: 'bb'.repeat(16) })])]);
    const b = reg.collect().series.find((s) => labelsOf(s)['__name__'] === 'traces_spanmetrics_latency_bucket' && labelsOf(s)['le'] === '0.008')!;
    expect(b.exemplars.map((e) => [e.traceId, e.value])).toEqual([['bb'.repeat(16), 0.005]]);
  });

  it('emits traces_target_info with resource attributes, job and instance when enabled', () => {
    const { proc, reg } = setup({ enable_target_info: true });
    proc.pushSpans([batch({ 'service.name': 'api', 'service.namespace': 'shop', 'service.instance.id': 'pod-1', 'k8s.pod.name': 'pod-1', 'host.name': 'h' }, [span({})])]);
    const series = reg.collect().series;
    const info = series.find((s) => labelsOf(s)['__name__'] === 'traces_target_info')!;
    expect(labelsOf(info)).toEqual({ __name__: 'traces_target_info', host_name: 'h', instance: 'pod-1', job: 'shop/api', k8s_pod_name: 'pod-1' });
    expect(calls(reg)[0]![0]).toMatchObject({ job: 'shop/api', instance: 'pod-1' });
  });
});
