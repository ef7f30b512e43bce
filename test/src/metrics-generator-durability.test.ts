// The metrics-generator's remote_write when Prometheus is away, against a real Prometheus
// (Debian's package): exports under load are not slowed while it is down (p99 compared with it
// up), samples queue and every counter is exact once it is back; a generator restart with
// `storage.path` while it is down loses nothing; a queue bound exceeded drops the oldest samples
// with a counted reason. Also: two tenants' series in one Prometheus, each carrying its own tenant.
//
// Each trace is front (INTERNAL root) -> front CLIENT -> back SERVER: the client/server pair meets
// in one push, so every edge completes at once (no `wait` expiry to time) and the expected values
// are exact: per export, one call of each span and one front -> back request.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SpanKind, encodeTrace, type Span, type Trace } from '@andante/model';
import { getMetric, makeTempDir, postOtlpHttp, removeTempDirs, startInProcess, stopAllInProcess, waitFor, type InProcessAndante } from './harness.js';
import { makeSpan, randomSpanId, randomTraceId, str } from './otlp.js';
import { startPrometheus, type PrometheusServer } from './prometheus.js';
import { freeTcpPort } from './ports.js';

/** One export: a trace across `front` and `back` (names suffixed for a tenant when given). */
function exportBody(suffix = ''): Uint8Array {
  const traceId = randomTraceId();
  const root = makeSpan(traceId, randomSpanId(), { name: 'GET /x', kind: SpanKind.INTERNAL, durationNs: 30_000_000n, attributes: [] });
  const call = makeSpan(traceId, randomSpanId(), { name: 'call back', kind: SpanKind.CLIENT, parentSpanId: root.spanId, durationNs: 20_000_000n, attributes: [] });
  const handle = makeSpan(traceId, randomSpanId(), { name: 'handle', kind: SpanKind.SERVER, parentSpanId: call.spanId, durationNs: 10_000_000n, attributes: [] });
  const resource = (service: string, spans: Span[]): Trace['resourceSpans'][number] => ({
    resource: { attributes: [str('service.name', service + suffix)], droppedAttributesCount: 0 },
    scopeSpans: [{ scope: { name: 't', version: '', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
    schemaUrl: '',
  });
  return encodeTrace({ resourceSpans: [resource('front', [root, call]), resource('back', [handle])] });
}

/** `n` exports, `concurrency` at a time; returns each export's latency in ms. Every export must be accepted. */
async function sendLoad(port: number, n: number, concurrency = 4, headers: Record<string, string> = {}, suffix = ''): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const body = exportBody(suffix);
      const t0 = performance.now();
      const res = await postOtlpHttp(port, body, { headers });
      latencies.push(performance.now() - t0);
      expect(res.status).toBe(200);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  return latencies.sort((a, b) => a - b);
}
const p99 = (sorted: number[]): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;

/** Every counter of the topology after `n` exports: calls, latency counts and edges, as Prometheus answers them. */
async function expectExact(prom: PrometheusServer, n: number, extraMatcher = '', suffix = ''): Promise<void> {
  const m = extraMatcher ? `,${extraMatcher}` : '';
  const sel = (name: string): string => (extraMatcher ? `${name}{${extraMatcher}}` : name);
  const calls = await prom.query(sel('traces_spanmetrics_calls_total'));
  expect(Object.fromEntries(calls.map((r) => [`${r.metric['service']}|${r.metric['span_name']}|${r.metric['span_kind']}`, r.value]))).toEqual({
    [`front${suffix}|GET /x|SPAN_KIND_INTERNAL`]: n,
    [`front${suffix}|call back|SPAN_KIND_CLIENT`]: n,
    [`back${suffix}|handle|SPAN_KIND_SERVER`]: n,
  });
  const counts = await prom.query(sel('traces_spanmetrics_latency_count'));
  expect(counts.map((r) => r.value)).toEqual([n, n, n]);
  const inf = await prom.query(`traces_spanmetrics_latency_bucket{le="+Inf"${m}}`);
  expect(inf.map((r) => r.value)).toEqual([n, n, n]);
  const edges = await prom.query(sel('traces_service_graph_request_total'));
  expect(edges.map((r) => [`${r.metric['client']}->${r.metric['server']}`, r.value])).toEqual([[`front${suffix}->back${suffix}`, n]]);
  const server = await prom.query(sel('traces_service_graph_request_server_seconds_count'));
  expect(server.map((r) => r.value)).toEqual([n]);
}

const generatorConfig = (writeUrl: string, extra: Record<string, unknown> = {}) => ({
  metrics_generator: {
    registry: { collection_interval: '500ms' },
    storage: {
      remote_write: [{ url: writeUrl, queue_config: { min_backoff: '50ms', max_backoff: '300ms' } }],
      remote_write_flush_deadline: '1s',
      ...extra,
    },
  },
  overrides: { defaults: { metrics_generator: { processors: ['service-graphs', 'span-metrics'] } } },
});

describe('metrics-generator remote_write while Prometheus is away', () => {
  const proms: PrometheusServer[] = [];
  afterAll(async () => {
    await stopAllInProcess();
    for (const p of proms) await p.stop();
    removeTempDirs();
  });

  it('keeps export latency while Prometheus is down under load, queues samples and delivers every counter exactly once it is back', async () => {
    const dir = makeTempDir('generator-down');
    const prom = await startPrometheus(dir);
    proms.push(prom);
    const app = await startInProcess(join(dir, 'andante'), generatorConfig(prom.writeUrl));
    const N = 300;
    const up = await sendLoad(app.ports.otlpHttp!, N);
    await waitFor(async () => (await prom.query('sum(traces_spanmetrics_calls_total)'))[0]?.value === 3 * N, 30_000, 'first load in Prometheus', 250);
    await expectExact(prom, N);

    await prom.stop();
    const down = await sendLoad(app.ports.otlpHttp!, N);
    // Exports never wait for remote_write: a blocked export would take remote_timeout (30 s) or the
    // retries' backoff (50-300 ms each, retried for the whole outage). The margin is for a loaded
    // machine (the whole suite runs beside this test in CI), far below either.
    expect(p99(down), `p99 with Prometheus up ${p99(up).toFixed(1)} ms, down ${p99(down).toFixed(1)} ms`).toBeLessThan(Math.max(3 * p99(up), p99(up) + 1_000));
    await waitFor(async () => (await getMetric(app.ports.http, 'prometheus_remote_storage_samples_pending')) > 0, 10_000, 'samples queued');
    await waitFor(async () => (await getMetric(app.ports.http, 'prometheus_remote_storage_retried_requests_total')) > 2, 10_000, 'retries');

    await prom.restart();
    await waitFor(async () => (await prom.query('sum(traces_spanmetrics_calls_total)'))[0]?.value === 6 * N, 30_000, 'second load in Prometheus', 250);
    await expectExact(prom, 2 * N);
    expect(await getMetric(app.ports.http, 'tempo_metrics_generator_remote_write_samples_dropped_total')).toBe(0);
    await waitFor(async () => (await getMetric(app.ports.http, 'prometheus_remote_storage_samples_pending')) === 0, 10_000, 'queue empty');
    await app.stop();
  }, 120_000);

  it('loses nothing when the generator restarts with storage.path while Prometheus is down', async () => {
    const dir = makeTempDir('generator-restart');
    const prom = await startPrometheus(dir);
    proms.push(prom);
    const walPath = join(dir, 'generator-wal');
    const config = generatorConfig(prom.writeUrl, { path: walPath });
    let app: InProcessAndante = await startInProcess(join(dir, 'andante'), config);
    const N = 60;
    await sendLoad(app.ports.otlpHttp!, N);
    await waitFor(async () => (await prom.query('sum(traces_spanmetrics_calls_total)'))[0]?.value === 3 * N, 30_000, 'first load in Prometheus', 250);

    await prom.stop();
    await sendLoad(app.ports.otlpHttp!, N);
    await waitFor(async () => (await getMetric(app.ports.http, 'prometheus_remote_storage_samples_pending')) > 0, 10_000, 'samples queued');
    // The stop collects a last time into the queue; undelivered requests stay in storage.path.
    await app.stop();
    const queued = readdirSync(join(walPath, 'remote-write'), { recursive: true }).filter((f) => String(f).endsWith('.rwreq'));
    expect(queued.length).toBeGreaterThan(0);

    app = await startInProcess(join(dir, 'andante'), config);
    expect(await getMetric(app.ports.http, 'prometheus_remote_storage_samples_pending')).toBeGreaterThan(0);
    await prom.restart();
    await waitFor(async () => (await prom.query('sum(traces_spanmetrics_calls_total)'))[0]?.value === 6 * N, 30_000, 'queued samples in Prometheus after the restart', 250);
    await expectExact(prom, 2 * N);
    await waitFor(async () => (await getMetric(app.ports.http, 'prometheus_remote_storage_samples_pending')) === 0, 10_000, 'queue empty');
    expect(await getMetric(app.ports.http, 'tempo_metrics_generator_remote_write_samples_dropped_total')).toBe(0);
    await app.stop();
    expect(existsSync(walPath)).toBe(true);
  }, 120_000);

  it('drops the oldest samples past the queue bound, counted with reason queue_full, and never blocks an export', async () => {
    const dir = makeTempDir('generator-bound');
    // Nothing listens there: Prometheus is down for the whole test.
    const url = `http://127.0.0.1:${await freeTcpPort()}/api/v1/write`;
    const app = await startInProcess(join(dir, 'andante'), {
      metrics_generator: {
        registry: { collection_interval: '200ms' },
        storage: { remote_write: [{ url, queue_config: { capacity: 50, max_shards: 1, min_backoff: '50ms', max_backoff: '200ms' } }], remote_write_flush_deadline: '200ms' },
      },
      overrides: { defaults: { metrics_generator: { processors: ['service-graphs', 'span-metrics'] } } },
    });
    await sendLoad(app.ports.otlpHttp!, 20);
    await waitFor(async () => (await getMetric(app.ports.http, 'tempo_metrics_generator_remote_write_samples_dropped_total', { reason: 'queue_full' })) > 0, 20_000, 'queue_full drops');
    expect(await getMetric(app.ports.http, 'prometheus_remote_storage_samples_pending')).toBeLessThanOrEqual(50);
    // The tap never dropped a push: the generator kept up; only remote_write's bound dropped.
    expect(await getMetric(app.ports.http, 'tempo_distributor_queue_pushes_failures_total')).toBe(0);
    await app.stop();
  }, 60_000);

  it("puts each tenant's series in Prometheus with its own tenant label (inject_tenant_id_as), with remote_write_add_org_id_header on", async () => {
    // Prometheus ignores X-Scope-OrgID, so what a real receiver can show is the tenant label; the
    // header itself is checked with the recording receiver in metrics-generator.test.ts.
    const dir = makeTempDir('generator-tenants');
    const prom = await startPrometheus(dir);
    proms.push(prom);
    const app = await startInProcess(join(dir, 'andante'), {
      multitenancy_enabled: true,
      metrics_generator: {
        registry: { collection_interval: '500ms', inject_tenant_id_as: 'tenant' },
        storage: { remote_write: [{ url: prom.writeUrl }], remote_write_add_org_id_header: true, remote_write_flush_deadline: '1s' },
      },
      overrides: { defaults: { metrics_generator: { processors: ['service-graphs', 'span-metrics'] } } },
    });
    await sendLoad(app.ports.otlpHttp!, 7, 2, { 'X-Scope-OrgID': 'team-a' }, '-a');
    await sendLoad(app.ports.otlpHttp!, 11, 2, { 'X-Scope-OrgID': 'team-b' }, '-b');
    await waitFor(async () => (await prom.query('sum(traces_spanmetrics_calls_total)'))[0]?.value === 3 * 18, 30_000, 'both tenants in Prometheus', 250);
    const rows = await prom.query('traces_spanmetrics_calls_total');
    expect(rows).toHaveLength(6);
    // Each series carries the tenant that sent it: team-a sent only *-a services, team-b only *-b.
    for (const r of rows) expect(r.metric['service']!.slice(-2), JSON.stringify(r.metric)).toBe(`-${r.metric['tenant']!.slice(-1)}`);
    await expectExact(prom, 7, 'tenant="team-a"', '-a');
    await expectExact(prom, 11, 'tenant="team-b"', '-b');
    await app.stop();
  }, 60_000);
});
