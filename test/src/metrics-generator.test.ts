// The metrics-generator end to end: traces of a known topology exported by the real OpenTelemetry
// JS SDK into an in-process Andante (blocks on s3rver), metrics remote-written into a real
// Prometheus (Debian's package) that also scrapes Andante's /metrics, read back through
// Prometheus's HTTP API, every dashboard panel included; then, with a recording receiver, the
// per-tenant X-Scope-OrgID (Prometheus keeps no request header), a receiver answering 400 and
// max_active_series.

import { hostname } from 'node:os';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { S3Backend } from '@andante/backend';
import { startS3rver, type TestS3Server } from '@andante/backend/testing';
import { fetchTraceProto, flush, getMetric, makeTempDir, postOtlpHttp, removeTempDirs, startInProcess, stopAllInProcess, waitFor, type InProcessAndante } from './harness.js';
import { encodeRequest, makeSpan, makeTrace, randomSpanId, randomTraceId, str } from './otlp.js';
import { startPrometheus, startRecordingReceiver, type PrometheusServer } from './prometheus.js';
import { REQUESTS, TOPOLOGY_CALLS, TOPOLOGY_EDGES, callsKey, edgeKey, lastExportMs, providers, sendTopology } from './generator-topology.js';

describe('metrics-generator into a real Prometheus', () => {
  let prom: PrometheusServer;
  let s3: TestS3Server;
  let app: InProcessAndante;
  let traceIds: string[];

  beforeAll(async () => {
    const dir = makeTempDir('generator-prom');
    prom = await startPrometheus(dir);
    // Blocks go to an S3-protocol server (s3rver), as in a deployment: the operational dashboard's
    // object-storage panels read the S3 client's request metrics.
    s3 = await startS3rver();
    // A block another writer left unreadable: the poller skips and counts it (the poll-errors panel).
    const backend = new S3Backend(s3.config());
    await backend.write(['single-tenant', '00000000-0000-4000-8000-000000000001'], 'meta.json', Buffer.from('{ not json'));
    await backend.close();
    app = await startInProcess(join(dir, 'andante'), {
      metrics_generator: {
        registry: { collection_interval: '1s' },
        // No span of the topology has http.route: the dimension gives an empty label (left out), not a crash.
        processor: { service_graphs: { wait: '1s' }, span_metrics: { dimensions: ['http.route'] } },
        storage: {
          remote_write: [{ url: prom.writeUrl, send_exemplars: true, queue_config: { min_backoff: '50ms', max_backoff: '500ms' } }],
          remote_write_flush_deadline: '1s',
        },
      },
      // Blocks polled and compacted within the test, so the operational dashboard's panels have data.
      // One compaction window for all time (floor(now / 114 years) = 0): the test's two flushes
      // would otherwise fall into different windows, and never compact, when they straddle an hour.
      compactor: { compaction: { compaction_cycle: '1s', compaction_window: '1000000h' } },
      storage: { trace: { backend: 's3', blocklist_poll: '1s', s3: { bucket: s3.bucket, endpoint: `127.0.0.1:${s3.port}`, region: 'us-east-1', insecure: true, forcepathstyle: true, access_key: s3.accessKey, secret_key: s3.secretKey } } },
      // The topology's traces are ~3 KB; a larger one is discarded (trace_too_large) for the discarded-spans panel.
      overrides: { defaults: { metrics_generator: { processors: ['service-graphs', 'span-metrics'] }, global: { max_bytes_per_trace: 20_000 } } },
    });
    // Prometheus also scrapes Andante's own /metrics, as a deployment would.
    await prom.scrape('andante', [`127.0.0.1:${app.ports.http}`]);
    traceIds = await sendTopology(app.ports.otlpHttp!);
    // Everything is in once the last edges (user -> web, expired after `wait`) arrived.
    await waitFor(async () => (await prom.query('sum(traces_service_graph_request_total{client="user"})'))[0]?.value === REQUESTS, 30_000, 'user -> web edges in Prometheus', 250);
  }, 90_000);

  afterAll(async () => {
    await stopAllInProcess();
    await prom?.stop();
    await s3?.close();
    removeTempDirs();
  });

  it('counts calls exactly by service, span name, kind and status', async () => {
    const rows = await prom.query('traces_spanmetrics_calls_total');
    // The configured dimension names an attribute no span has: empty, so no such label.
    for (const r of rows) expect(r.metric).not.toHaveProperty('http_route');
    const got = Object.fromEntries(rows.map((r) => [callsKey(r.metric), r.value]));
    expect(got).toEqual(TOPOLOGY_CALLS);
  });

  it('gives the expected error ratio and p95 through PromQL', async () => {
    const [ratio] = await prom.query(
      'sum(rate(traces_spanmetrics_calls_total{service="payments",status_code="STATUS_CODE_ERROR"}[5m])) / sum(rate(traces_spanmetrics_calls_total{service="payments"}[5m]))',
    );
    expect(ratio!.value).toBeCloseTo(0.2, 9);
    const [p95] = await prom.query('histogram_quantile(0.95, sum by (le) (rate(traces_spanmetrics_latency_bucket{service="payments",span_kind="SPAN_KIND_SERVER"}[5m])))');
    // The true p95 is 300 ms, in the (0.256, 0.512] bucket.
    expect(p95!.value).toBeGreaterThan(0.256);
    expect(p95!.value).toBeLessThanOrEqual(0.512);
    const [p50] = await prom.query('histogram_quantile(0.5, sum by (le) (rate(traces_spanmetrics_latency_bucket{service="payments",span_kind="SPAN_KIND_SERVER"}[5m])))');
    expect(p50!.value).toBeGreaterThan(0.032);
    expect(p50!.value).toBeLessThanOrEqual(0.064);
  });

  it("has exactly the topology's service-graph edges, database and messaging included", async () => {
    const rows = await prom.query('traces_service_graph_request_total');
    const edges = Object.fromEntries(rows.map((r) => [edgeKey(r.metric), r.value]));
    expect(edges).toEqual(TOPOLOGY_EDGES);
    const failed = await prom.query('traces_service_graph_request_failed_total');
    expect(failed.map((r) => [`${r.metric['client']}->${r.metric['server']}`, r.value])).toEqual([['checkout->payments', 4]]);
    const [serverP95] = await prom.query('histogram_quantile(0.95, sum by (le) (rate(traces_service_graph_request_server_seconds_bucket{client="checkout",server="payments"}[5m])))');
    expect(serverP95!.value).toBeGreaterThan(0.2);
    expect(serverP95!.value).toBeLessThanOrEqual(0.4);
  });

  it("returns data for every query of the RED and service-graph dashboards in deploy/dashboards", async () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
    // Recording rules are not loaded into this Prometheus: a panel on one is evaluated through the
    // rule's own expression from deploy/alerts.
    const YAML = createRequire(join(root, 'packages/server/package.json'))('yaml') as { parse(s: string): unknown };
    const recorded = new Map<string, string>();
    for (const f of readdirSync(join(root, 'deploy/alerts')).filter((n) => n.endsWith('.yml'))) {
      const doc = YAML.parse(readFileSync(join(root, 'deploy/alerts', f), 'utf8')) as { groups: { rules: { record?: string; expr: string }[] }[] };
      for (const r of doc.groups.flatMap((g) => g.rules)) if (r.record) recorded.set(r.record, r.expr);
    }
    let queries = 0;
    for (const file of ['andante-red.json', 'andante-service-graph.json']) {
      const d = JSON.parse(readFileSync(join(root, 'deploy/dashboards', file), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
      for (const panel of d.panels) {
        for (const t of panel.targets ?? []) {
          let expr = t.expr.replaceAll('$__rate_interval', '5m').replaceAll('$service', 'payments');
          expr = expr.replace(/\b([a-z_]+:[a-z_]+:[a-z0-9_]+)(\{[^}]*\})?/g, (_, name: string) => {
            expect(recorded.has(name), name).toBe(true);
            return `(${recorded.get(name)!})`;
          });
          const rows = await prom.query(expr);
          expect(rows.length, `${file} / ${panel.title}: ${expr}`).toBeGreaterThan(0);
          expect(rows.some((r) => Number.isFinite(r.value)), `${file} / ${panel.title}: ${expr} -> ${JSON.stringify(rows)}`).toBe(true);
          queries++;
        }
      }
    }
    expect(queries).toBeGreaterThanOrEqual(15);
  });

  it('stores exemplars whose trace IDs Andante serves by ID', async () => {
    const now = Date.now() / 1000;
    const result = await prom.queryExemplars('traces_spanmetrics_latency_bucket{service="payments"}', now - 600, now + 60);
    const ids = new Set(result.flatMap((r) => r.exemplars.map((e) => e.labels['traceID']!)));
    expect(ids.size).toBeGreaterThan(0);
    for (const id of ids) {
      expect(traceIds).toContain(id);
      const got = await fetchTraceProto(app.ports.http, id);
      expect(got.status).toBe(200);
      const services = got.trace!.resourceSpans.map((rs) => rs.resource.attributes.find((a) => a.key === 'service.name')?.value);
      expect(services).toContainEqual({ stringValue: 'payments' });
    }
    // The exemplar value is the span's duration in seconds.
    const values = result.flatMap((r) => r.exemplars.map((e) => Number(e.value)));
    for (const v of values) expect([0.05, 0.3]).toContain(Math.round(v * 1000) / 1000);
  });

  it("returns data for every panel of the operational dashboard, from Andante's own /metrics scraped by the same Prometheus", async () => {
    const port = app.ports.http;
    // What the panels show must have happened: blocks flushed (twice, so the compactor has input),
    // a query served, a trace discarded. None of it reaches the generator's counts checked below.
    await flush(port);
    const filler = makeTrace([makeSpan(randomTraceId(), randomSpanId(), { kind: SpanKind.INTERNAL, name: 'filler' })], 'filler');
    expect((await postOtlpHttp(app.ports.otlpHttp!, encodeRequest(filler))).status).toBe(200);
    await flush(port);
    expect((await fetchTraceProto(port, traceIds[0]!)).status).toBe(200);
    const big = makeTrace([makeSpan(randomTraceId(), randomSpanId(), { kind: SpanKind.INTERNAL, name: 'big', attributes: [str('payload', 'x'.repeat(30_000))] })], 'filler');
    // Answered as Tempo does (a partial success); the span is counted as discarded.
    await postOtlpHttp(app.ports.otlpHttp!, encodeRequest(big));
    await waitFor(async () => (await getMetric(port, 'tempo_discarded_spans_total', { reason: 'trace_too_large' })) === 1, 10_000, 'the large trace discarded');
    await waitFor(async () => (await getMetric(port, 'tempodb_compaction_blocks_total')) > 0, 30_000, 'a compaction');

    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
    const d = JSON.parse(readFileSync(join(root, 'deploy/dashboards/andante-operational.json'), 'utf8')) as { panels: { title: string; type: string; targets?: { expr: string }[] }[] };
    const panels = d.panels.filter((p) => (p.targets ?? []).length > 0);
    expect(panels.length).toBeGreaterThanOrEqual(15);
    const expr = (e: string): string => e.replaceAll('$__rate_interval', '1m').replaceAll('$job', 'andante');
    /** Per panel: its queries that return no series. */
    const empty = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const panel of panels) {
        const results = await Promise.all(panel.targets!.map(async (t) => ({ q: expr(t.expr), n: (await prom.query(expr(t.expr))).length })));
        if (results.every((r) => r.n === 0)) out.push(`${panel.title}: ${results.map((r) => r.q).join(' | ')}`);
      }
      return out;
    };
    // Scrapes every second; a rate needs two samples after the events.
    let last: string[] = [];
    await waitFor(async () => (last = await empty()).length === 0, 30_000, () => `panels without data:\n${last.join('\n')}`, 500);
    expect(last).toEqual([]);
  }, 60_000);

  it('serves /metrics-generator/ring as JSON for curl and as an HTML table for a browser', async () => {
    const res = await fetch(`http://127.0.0.1:${app.ports.http}/metrics-generator/ring`, { headers: { Accept: '*/*' } });
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = (await res.json()) as { shards: { id: string; state: string; tokens: number[] }[] };
    expect(body.shards.map((s) => ({ id: s.id, state: s.state }))).toEqual([{ id: hostname(), state: 'ACTIVE' }]);
    expect(body.shards[0]!.tokens).toHaveLength(128);
    const html = await fetch(`http://127.0.0.1:${app.ports.http}/metrics-generator/ring`, { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(html.headers.get('content-type')).toContain('text/html');
    const text = await html.text();
    expect(text).toContain(`<td>${hostname()}</td><td>ACTIVE</td>`);
  });

  it('queues samples while Prometheus is down and delivers them exactly once it is back', async () => {
    const exportMsWhileUp = lastExportMs;
    await prom.stop();
    await sendTopology(app.ports.otlpHttp!);
    // Exports do not wait for the generator or for remote_write.
    expect(lastExportMs).toBeLessThan(Math.max(exportMsWhileUp * 5, 10_000)); // remote_timeout is 30 s: a blocked export would show
    await waitFor(async () => (await getMetric(app.ports.http, 'prometheus_remote_storage_samples_pending')) > 0, 10_000, 'samples queued');
    await waitFor(async () => (await getMetric(app.ports.http, 'prometheus_remote_storage_retried_requests_total')) > 2, 10_000, 'retries');
    await prom.restart();
    await waitFor(async () => (await prom.query('sum(traces_service_graph_request_total{client="user"})'))[0]?.value === 2 * REQUESTS, 30_000, 'second batch in Prometheus', 250);
    const rows = await prom.query('traces_spanmetrics_calls_total{service="payments"}');
    expect(Object.fromEntries(rows.map((r) => [r.metric['status_code'], r.value]))).toEqual({ STATUS_CODE_UNSET: 32, STATUS_CODE_ERROR: 8 });
    const edges = await prom.query('traces_service_graph_request_total');
    expect(edges.map((r) => r.value)).toEqual([40, 40, 40, 40, 40]);
    expect(await getMetric(app.ports.http, 'tempo_metrics_generator_remote_write_samples_dropped_total')).toBe(0);
  });

  it('counts pushes to the generator and no failures', async () => {
    expect(await getMetric(app.ports.http, 'tempo_distributor_metrics_generator_pushes_total')).toBeGreaterThan(0);
    expect(await getMetric(app.ports.http, 'tempo_distributor_metrics_generator_pushes_failures_total')).toBe(0);
    // Two topologies of 8 spans per request, and the operational test's one filler span.
    expect(await getMetric(app.ports.http, 'tempo_metrics_generator_spans_received_total', { tenant: 'single-tenant' })).toBe(2 * REQUESTS * 8 + 1);
  });
});

describe('metrics-generator remote_write to recording receivers', () => {
  afterAll(async () => {
    await stopAllInProcess();
    removeTempDirs();
  });

  it("carries each tenant's org ID, refuses new series past max_active_series, and does not retry a 400", async () => {
    const dir = makeTempDir('generator-rw');
    const ok = await startRecordingReceiver();
    const refusing = await startRecordingReceiver(400);
    const overridesFile = join(dir, 'overrides.yaml');
    writeFileSync(overridesFile, 'overrides:\n  team-c:\n    metrics_generator:\n      processors: [span-metrics-count]\n      max_active_series: 10\n');
    const app = await startInProcess(join(dir, 'andante'), {
      multitenancy_enabled: true,
      metrics_generator: {
        registry: { collection_interval: '1s' },
        storage: { remote_write: [{ url: ok.url }, { url: refusing.url }], remote_write_flush_deadline: '1s' },
      },
      overrides: { defaults: { metrics_generator: { processors: ['span-metrics-count'] } }, per_tenant_override_config: overridesFile },
    });
    try {
      const send = async (tenant: string, service: string, names: string[]): Promise<void> => {
        const p = providers(app.ports.otlpHttp!, [service], tenant)[service]!;
        const tracer = p.provider.getTracer('t');
        for (const name of names) tracer.startSpan(name, { kind: SpanKind.SERVER }).end();
        await p.provider.forceFlush();
        await p.provider.shutdown();
        expect(p.exporter.failures).toBe(0);
      };
      await send('team-a', 'svc-a', ['a1', 'a2']);
      await send('team-b', 'svc-b', ['b1']);
      await send('team-c', 'svc-c', Array.from({ length: 5 }, (_, i) => `kept-${i}`));
      await waitFor(() => ok.writes.some((w) => w.headers['x-scope-orgid'] === 'team-c' && w.series.length > 0), 20_000, 'team-c series');
      // Past the limit: 10 series allowed, 5 used; 8 new names -> 5 created, 3 refused. The first five keep counting.
      await send('team-c', 'svc-c', [...Array.from({ length: 8 }, (_, i) => `new-${i}`), 'kept-0', 'kept-0']);

      /** The highest value each span name's counter reached at the receiver (counters only grow). */
      const latest = async (tenant: string): Promise<Map<string, number>> => {
        const out = new Map<string, number>();
        for (const w of ok.writes.filter((x) => x.headers['x-scope-orgid'] === tenant)) {
          for (const s of w.series) {
            const name = Object.fromEntries(s.labels)['span_name']!;
            for (const sample of s.samples) out.set(name, Math.max(out.get(name) ?? 0, sample.value));
          }
        }
        return out;
      };
      await waitFor(async () => (await latest('team-c')).get('kept-0') === 3, 20_000, 'team-c kept-0 = 3');
      // One export, spans in the order they ended: new-0..4 got the room left, new-5..7 were refused.
      expect(Object.fromEntries(await latest('team-c'))).toEqual({
        'kept-0': 3, 'kept-1': 1, 'kept-2': 1, 'kept-3': 1, 'kept-4': 1,
        'new-0': 1, 'new-1': 1, 'new-2': 1, 'new-3': 1, 'new-4': 1,
      });
      expect(await getMetric(app.ports.http, 'tempo_metrics_generator_registry_series_limited_total', { tenant: 'team-c' })).toBe(3);
      expect(await getMetric(app.ports.http, 'tempo_metrics_generator_registry_active_series', { tenant: 'team-c' })).toBe(10);

      // Every request carries its own tenant's series and org ID.
      for (const w of ok.writes) {
        const org = w.headers['x-scope-orgid'];
        expect(['team-a', 'team-b', 'team-c']).toContain(org);
        for (const s of w.series) expect(Object.fromEntries(s.labels)['service']).toBe(`svc-${String(org).slice(-1)}`);
      }
      expect(Object.fromEntries(await latest('team-a'))).toEqual({ a1: 1, a2: 1 });
      expect(Object.fromEntries(await latest('team-b'))).toEqual({ b1: 1 });

      expect(await getMetric(app.ports.http, 'tempo_metrics_generator_remote_write_samples_dropped_total', { reason: 'http_4xx' })).toBeGreaterThan(0);
      // Both endpoints are given the same requests; after the stop's last flush the refusing one
      // has been asked exactly as often as the accepting one: a 400 is never retried.
      await app.stop();
      expect(ok.attempts()).toBeGreaterThan(3);
      expect(refusing.attempts()).toBe(ok.attempts());
    } finally {
      await app.stop();
      await ok.close();
      await refusing.close();
    }
  }, 60_000);
});
