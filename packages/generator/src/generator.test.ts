import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { SpanKind, defaultTenantLimits, encodeTrace, silentLogger, type LimitsProvider, type TenantLimits, type TraceSegment } from '@andante/model';
import { defaultGeneratorConfig, defaultRemoteWriteConfig } from './config.js';
import { decodeWriteRequest, snappyUncompress } from './remote-write.js';
import { Generator } from './generator.js';
import { batch, span } from './test-spans.fixture.js';

function segmentOf(spans: ReturnType<typeof span>[], service = 'api'): TraceSegment {
  return { traceId: spans[0]!.traceId, bytes: encodeTrace({ resourceSpans: [batch({ 'service.name': service }, spans)] }), spanCount: spans.length, startTimeUnixNano: 0n, endTimeUnixNano: 0n };
}
/** Spans ending `agoMs` before `now`. */
function spanEnding(now: number, agoMs: number, name = 'op'): ReturnType<typeof span> {
  const s = span({ name, kind: SpanKind.SERVER, ms: 5 });
  s.endTimeUnixNano = BigInt(now - agoMs) * 1_000_000n;
  s.startTimeUnixNano = s.endTimeUnixNano - 5_000_000n;
  return s;
}
async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}

function setup(limits: Record<string, TenantLimits['metricsGenerator']>) {
  const now = 1_700_000_000_000;
  const registry = new Registry();
  const provider: LimitsProvider = {
    forTenant: (t) => {
      const l = defaultTenantLimits();
      if (limits[t]) l.metricsGenerator = limits[t]!;
      return l;
    },
  };
  const gen = new Generator({ cfg: defaultGeneratorConfig(), limits: provider, registry, logger: silentLogger, now: () => now });
  return { gen, registry, now, limits };
}
const nameOf = (s: { labels: [string, string][] }): string | undefined => s.labels.find(([k]) => k === '__name__')?.[1];
const enabled = (processors: string[], over: Partial<TenantLimits['metricsGenerator']> = {}): TenantLimits['metricsGenerator'] => ({ ...defaultTenantLimits().metricsGenerator, processors, ...over });

describe('Generator', () => {
  it('decodes segments, runs the tenant’s processors and skips spans outside the ingestion slack', async () => {
    const { gen, registry, now } = setup({ a: enabled(['span-metrics']) });
    await gen.pushSpans({ tenantId: 'a', segments: [segmentOf([spanEnding(now, 1_000), spanEnding(now, 29_000), spanEnding(now, 31_000), spanEnding(now, -31_000)])] });
    const collected = gen.collectNow('a')!;
    const calls = collected.series.filter((s) => nameOf(s) === 'traces_spanmetrics_calls_total');
    expect(calls.map((s) => s.samples[0]!.value)).toEqual([2]);
    expect(await metric(registry, 'tempo_metrics_generator_spans_received_total', { tenant: 'a' })).toBe(4);
    expect(await metric(registry, 'tempo_metrics_generator_spans_discarded_total', { tenant: 'a', reason: 'outside_metrics_ingestion_slack' })).toBe(2);
    expect(await metric(registry, 'tempo_metrics_generator_registry_active_series', { tenant: 'a' })).toBe(gen.activeSeries('a'));
  });

  it('does nothing for a tenant without processors', async () => {
    const { gen } = setup({});
    await gen.pushSpans({ tenantId: 'b', segments: [segmentOf([span({})])] });
    expect(gen.collectNow('b')).toBeUndefined();
  });

  it('runs only the span-metrics parts named (span-metrics-count)', async () => {
    const { gen, now } = setup({ a: enabled(['span-metrics-count']) });
    await gen.pushSpans({ tenantId: 'a', segments: [segmentOf([spanEnding(now, 10)])] });
    expect([...new Set(gen.collectNow('a')!.series.map(nameOf))]).toEqual(['traces_spanmetrics_calls_total']);
  });

  it('enforces max_active_series from the overrides and counts refusals', async () => {
    const { gen, registry, now } = setup({ a: enabled(['span-metrics-count'], { max_active_series: 2 }) });
    await gen.pushSpans({ tenantId: 'a', segments: [segmentOf(['x', 'y', 'z', 'x'].map((n) => spanEnding(now, 10, n)))] });
    expect(gen.activeSeries('a')).toBe(2);
    expect(await metric(registry, 'tempo_metrics_generator_registry_series_limited_total', { tenant: 'a' })).toBe(1);
    expect(gen.collectNow('a')!.series.map((s) => s.samples[0]!.value)).toEqual([2, 1]);
  });

  it('rebuilds processors when the tenant’s overrides change', async () => {
    const { gen, now, limits } = setup({ a: enabled(['span-metrics-count']) });
    await gen.pushSpans({ tenantId: 'a', segments: [segmentOf([spanEnding(now, 10)])] });
    limits['a'] = enabled(['span-metrics-count'], { processor: { span_metrics: { dimensions: ['http.method'] }, service_graphs: {} } });
    const s = spanEnding(now, 10);
    s.attributes.push({ key: 'http.method', value: { stringValue: 'GET' } });
    await gen.pushSpans({ tenantId: 'a', segments: [segmentOf([s])] });
    const labels = gen.collectNow('a')!.series.map((x) => Object.fromEntries(x.labels)['http_method'] ?? '-');
    expect(labels).toEqual(['-', 'GET']);
  });

  it('keeps its processors (and waiting service-graph edges) when the overrides are re-read unchanged', async () => {
    const { gen, now, limits } = setup({ a: enabled(['service-graphs']) });
    const client = spanEnding(now, 10);
    client.kind = SpanKind.CLIENT;
    await gen.pushSpans({ tenantId: 'a', segments: [segmentOf([client], 'web')] });
    limits['a'] = structuredClone(limits['a']!); // a reload: new objects, same content
    const server = spanEnding(now, 10);
    server.kind = SpanKind.SERVER;
    server.traceId = client.traceId;
    server.parentSpanId = client.spanId;
    await gen.pushSpans({ tenantId: 'a', segments: [segmentOf([server], 'api')] });
    const edges = gen.collectNow('a')!.series.filter((s) => nameOf(s) === 'traces_service_graph_request_total');
    // Every series carries this generator's instance ID, as Tempo's do (two generators' series stay apart).
    expect(edges.map((s) => Object.fromEntries(s.labels))).toEqual([{ __name__: 'traces_service_graph_request_total', __metrics_gen_instance: 'metrics-generator-0', client: 'web', server: 'api' }]);
  });

  it('rejects malformed segment bytes without processing any of the push', async () => {
    const { gen, now } = setup({ a: enabled(['span-metrics-count']) });
    const good = segmentOf([spanEnding(now, 10)]);
    const bad: TraceSegment = { ...good, bytes: new Uint8Array([0x0a, 0xff, 0xff, 0x01]) };
    await expect(gen.pushSpans({ tenantId: 'a', segments: [good, bad] })).rejects.toThrow();
    expect(gen.collectNow('a')!.series).toEqual([]);
  });
});

describe('Generator collection', () => {
  it('collects each tenant on its own collection_interval into remote_write, and never a tenant with disable_collection', async () => {
    const orgs: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (decodeWriteRequest(snappyUncompress(Buffer.concat(chunks))).length > 0) orgs.push(String(req.headers['x-scope-orgid']));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const cfg = defaultGeneratorConfig();
    cfg.storage.remote_write = [{ ...defaultRemoteWriteConfig(), url: `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/write`, name: 'rx' }];
    const byTenant: Record<string, TenantLimits['metricsGenerator']> = {
      fast: enabled(['span-metrics-count'], { collection_interval: '100ms' }),
      off: enabled(['span-metrics-count'], { collection_interval: '100ms', disable_collection: true }),
    };
    const gen = new Generator({
      cfg,
      limits: { forTenant: (t) => ({ ...defaultTenantLimits(), metricsGenerator: byTenant[t]! }) },
      registry: new Registry(),
      logger: silentLogger,
    });
    try {
      for (const tenantId of ['fast', 'off']) await gen.pushSpans({ tenantId, segments: [segmentOf([spanEnding(Date.now(), 10)])] });
      // Three collections of the 100 ms tenant (waited for, not slept on: a loaded machine delays timers).
      for (let waited = 0; orgs.filter((o) => o === 'fast').length < 3; waited += 20) {
        if (waited > 30_000) throw new Error(`${orgs.filter((o) => o === 'fast').length} collections of tenant fast in 30 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(orgs).not.toContain('off');
      await gen.stop(); // a last collection, still without the disabled tenant
      expect(orgs).not.toContain('off');
    } finally {
      await gen.stop();
      await new Promise((r) => server.close(r));
    }
  }, 60_000);
});
