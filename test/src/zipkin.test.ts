// A real Zipkin client (the OpenTelemetry JS SDK's ZipkinExporter, Zipkin JSON v2 over HTTP) sends
// to Andante's Zipkin receiver (distributor.receivers.zipkin); the spans are read back by ID
// (protobuf) and found by TraceQL search: IDs, parents, names, kinds, status, attributes, events
// and the service name survive the Zipkin -> OTLP translation. Tenants are kept apart by
// X-Scope-OrgID as on the OTLP receivers. Spans as the OpenTelemetry Collector's zipkin exporter
// writes them (events as `name|{json}|dropped` annotations, links as `otlp.link.N` tags) come back
// as events and links with typed attributes, and TraceQL finds them by event and link.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace as otelTrace } from '@opentelemetry/api';
import { ExportResultCode, hrTimeToMicroseconds, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { randomBytes } from 'node:crypto';
import { bytesToHex, type AnyValue, type KeyValue, type Span } from '@andante/model';
import { fetchTraceJson, fetchTraceProto, getMetric, makeTempDir, removeTempDirs, startInProcess, stopAllInProcess, waitFor, type InProcessAndante } from './harness.js';

const SERVICE = `zipkin-svc-${process.pid}`;

/** Spans made by the SDK (a SERVER root, a CLIENT child that fails, an INTERNAL grandchild with an event). */
function makeSpans(service: string): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'deployment.environment': 'test' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('zipkin-test', '1.0.0');
  const root = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER, attributes: { 'http.method': 'GET', 'http.status_code': 200 } });
  const rootCtx = otelTrace.setSpan(ROOT_CONTEXT, root);
  const client = tracer.startSpan('charge card', { kind: SpanKind.CLIENT, attributes: { 'peer.address': 'payments:443', retries: 2 } }, rootCtx);
  client.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
  const inner = tracer.startSpan('compute total', { attributes: { 'items.count': 3, cached: true } }, otelTrace.setSpan(rootCtx, client));
  inner.addEvent('cache miss');
  inner.end();
  client.end();
  root.end();
  return memory.getFinishedSpans();
}

async function exportZipkin(port: number, spans: ReadableSpan[], headers: Record<string, string> = {}): Promise<ExportResult> {
  const exporter = new ZipkinExporter({ url: `http://127.0.0.1:${port}/api/v2/spans`, headers });
  try {
    return await new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));
  } finally {
    await exporter.shutdown();
  }
}

const value = (v: AnyValue): unknown => Object.values(v)[0];
const attrs = (kvs: KeyValue[]): Record<string, unknown> => Object.fromEntries(kvs.map((kv) => [kv.key, value(kv.value)]));

describe('Zipkin (OpenTelemetry ZipkinExporter) → Andante’s Zipkin receiver → query', () => {
  let app: InProcessAndante;
  let spans: ReadableSpan[];
  let traceId: string;

  beforeAll(async () => {
    app = await startInProcess(makeTempDir('zipkin'), { distributor: { receivers: { zipkin: { endpoint: '127.0.0.1:0' } } } });
  });

  afterAll(async () => {
    await stopAllInProcess();
    removeTempDirs();
  });

  it('opens the Zipkin port (port 0: the bound port is reported)', () => {
    expect(app.ports.zipkin).toBeGreaterThan(0);
    expect(app.ports.otlpHttp).toBeGreaterThan(0);
  });

  it('takes a ZipkinExporter export', async () => {
    spans = makeSpans(SERVICE);
    expect(spans).toHaveLength(3);
    traceId = spans[0]!.spanContext().traceId;
    const result = await exportZipkin(app.ports.zipkin!, spans);
    expect(result.code, String(result.error)).toBe(ExportResultCode.SUCCESS);
    expect(await getMetric(app.ports.http, 'tempo_receiver_accepted_spans', { receiver: 'zipkin', transport: 'http' })).toBe(3);
  });

  it('reads the trace back by ID with IDs, parents, kinds, status, attributes, event and service', async () => {
    const res = await fetchTraceProto(app.ports.http, traceId);
    expect(res.status, Buffer.from(res.body).toString()).toBe(200);
    const got = new Map<string, { span: Span; resource: Record<string, unknown> }>();
    for (const rs of res.trace!.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) got.set(s.name, { span: s, resource: attrs(rs.resource.attributes) });
    expect([...got.keys()].sort()).toEqual(['GET /checkout', 'charge card', 'compute total']);
    for (const sdk of spans) {
      const { span, resource } = got.get(sdk.name)!;
      expect(bytesToHex(span.traceId)).toBe(traceId);
      expect(bytesToHex(span.spanId)).toBe(sdk.spanContext().spanId);
      expect(bytesToHex(span.parentSpanId)).toBe(sdk.parentSpanContext?.spanId ?? '');
      // Zipkin carries µs: the exporter sends hrTimeToMicroseconds (a float, often with a fraction)
      // and the receiver truncates it. Exact integer arithmetic on the SDK's [s, ns] differs by 1 µs
      // now and then (the float has 0.25 µs steps at today's times), so follow the exporter's figure.
      const startUs = BigInt(Math.trunc(hrTimeToMicroseconds(sdk.startTime)));
      expect(span.startTimeUnixNano).toBe(startUs * 1000n);
      expect(resource['service.name']).toBe(SERVICE);
      // The exporter copies resource attributes into the tags; resource conventions go back to the resource.
      expect(resource['deployment.environment']).toBe('test');
      expect(attrs(span.attributes)).not.toHaveProperty('service.name');
    }
    const root = got.get('GET /checkout')!.span;
    expect(root.kind).toBe(2); // SERVER
    expect(root.status).toEqual({ code: 0, message: '' });
    // Zipkin tags are strings: a number attribute comes back as its text.
    expect(attrs(root.attributes)).toEqual({ 'http.method': 'GET', 'http.status_code': '200' });

    const client = got.get('charge card')!.span;
    expect(client.kind).toBe(3); // CLIENT
    expect(client.status).toEqual({ code: 2, message: 'card declined' });
    // The exporter sends the message as the `error` tag, which the Collector keeps as an attribute.
    expect(attrs(client.attributes)).toEqual({ 'peer.address': 'payments:443', retries: '2', error: 'card declined' });

    const inner = got.get('compute total')!.span;
    // INTERNAL spans travel with no Zipkin kind: UNSPECIFIED, as in the Collector.
    expect(inner.kind).toBe(0);
    expect(attrs(inner.attributes)).toEqual({ 'items.count': '3', cached: 'true' });
    expect(inner.events.map((e) => e.name)).toEqual(['cache miss']);
    const ev = spans.find((s) => s.name === 'compute total')!.events[0]!;
    // Event times are rounded to whole µs by the exporter.
    expect(inner.events[0]!.timeUnixNano / 1000n).toBe(BigInt(Math.round(hrTimeToMicroseconds(ev.time))));
  });

  it('finds it by TraceQL: { resource.service.name = "…" && status = error }', async () => {
    const q = `{ resource.service.name = "${SERVICE}" && status = error }`;
    const found = (await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${app.ports.http}/api/search?${new URLSearchParams({ q, limit: '20' })}`);
      const body = (await res.json()) as { traces?: { traceID: string; rootServiceName?: string; rootTraceName?: string; spanSets?: { spans: { spanID: string }[] }[] }[] };
      return body.traces?.find((t) => t.traceID.padStart(32, '0') === traceId);
    }, 15_000, 'the trace in search results'))!;
    expect(found.rootServiceName).toBe(SERVICE);
    expect(found.rootTraceName).toBe('GET /checkout');
    const matched = (found.spanSets ?? []).flatMap((s) => s.spans.map((x) => x.spanID));
    expect(matched).toEqual([spans.find((s) => s.name === 'charge card')!.spanContext().spanId]);
    const none = await fetch(`http://127.0.0.1:${app.ports.http}/api/search?${new URLSearchParams({ q: `{ resource.service.name = "${SERVICE}" && kind = client && status = ok }` })}`);
    expect(((await none.json()) as { traces?: unknown[] }).traces ?? []).toEqual([]);
  });

  it('reads events and links as the Collector’s zipkin exporter encodes them, by ID and by TraceQL', async () => {
    // The annotation values and the link tag are the Collector's zipkin exporter output (contrib
    // v0.161.0, as in packages/distributor's zipkin.test.ts), with IDs and times made fresh.
    const id = randomBytes(16).toString('hex');
    const linked = randomBytes(16).toString('hex');
    const us = Math.floor(Date.now() * 1000);
    const service = `${SERVICE}-collector`;
    const body = [
      {
        timestamp: us,
        duration: 2000,
        traceId: id,
        id: 'a000000000000001',
        name: 'add item',
        localEndpoint: { serviceName: service, ipv4: '10.1.2.3' },
        remoteEndpoint: { serviceName: 'inventory', ipv6: '2001:0DB8::0007', port: 8443 },
        kind: 'CLIENT',
        annotations: [
          { timestamp: us + 500, value: 'cache miss|{"cache.cold":true,"cache.key":"sku|42","cache.ratio":0.25,"cache.shards":["a","b"],"cache.tier":2,"cache.whole":2}|1' },
          { timestamp: us + 1000, value: 'retry' },
          { timestamp: us + 1500, value: 'trimmed|{}|5' },
        ],
        tags: {
          'cart.size': '3',
          error: 'true',
          'otel.library.name': 'shop/cart',
          'otel.library.version': '0.4.0',
          'otel.status_code': 'STATUS_CODE_ERROR',
          'otel.status_description': 'out of stock',
          'otlp.link.0': `${linked}|b7ad6b7169203331|vendor=x|{"link.kind":"follows_from"}|2`,
        },
      },
    ];
    const res = await fetch(`http://127.0.0.1:${app.ports.zipkin}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status, await res.text()).toBe(202);

    // OTLP JSON answer (v1): events with typed attributes and dropped counts, the link, the status.
    const json = await fetchTraceJson(app.ports.http, id);
    expect(json.status, json.text).toBe(200);
    const span = (json.json as { batches: { resource: { attributes: unknown[] }; scopeSpans: { scope: unknown; spans: Record<string, unknown>[] }[] }[] }).batches[0]!.scopeSpans[0]!;
    expect(span.scope).toEqual({ name: 'shop/cart', version: '0.4.0' });
    const sp = span.spans[0]!;
    expect(sp['events']).toEqual([
      {
        timeUnixNano: String(BigInt(us + 500) * 1000n),
        name: 'cache miss',
        attributes: [
          { key: 'cache.cold', value: { boolValue: true } },
          { key: 'cache.key', value: { stringValue: 'sku|42' } },
          { key: 'cache.ratio', value: { doubleValue: 0.25 } },
          { key: 'cache.shards', value: { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } } },
          { key: 'cache.tier', value: { intValue: '2' } },
          { key: 'cache.whole', value: { intValue: '2' } },
        ],
        droppedAttributesCount: 1,
      },
      { timeUnixNano: String(BigInt(us + 1000) * 1000n), name: 'retry' },
      { timeUnixNano: String(BigInt(us + 1500) * 1000n), name: 'trimmed', droppedAttributesCount: 5 },
    ]);
    expect(sp['links']).toEqual([
      {
        traceId: Buffer.from(linked, 'hex').toString('base64'),
        spanId: Buffer.from('b7ad6b7169203331', 'hex').toString('base64'),
        traceState: 'vendor=x',
        attributes: [{ key: 'link.kind', value: { stringValue: 'follows_from' } }],
        droppedAttributesCount: 2,
      },
    ]);
    expect(sp['status']).toEqual({ code: 'STATUS_CODE_ERROR', message: 'out of stock' });

    // Protobuf answer (v2): the same, and the endpoints under both convention names.
    const proto = await fetchTraceProto(app.ports.http, id);
    expect(proto.status).toBe(200);
    const got = proto.trace!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(got.events.map((e) => [e.name, Object.keys(attrs(e.attributes)), e.droppedAttributesCount])).toEqual([
      ['cache miss', ['cache.cold', 'cache.key', 'cache.ratio', 'cache.shards', 'cache.tier', 'cache.whole'], 1],
      ['retry', [], 0],
      ['trimmed', [], 5],
    ]);
    expect(got.links.map((l) => bytesToHex(l.traceId))).toEqual([linked]);
    expect(attrs(got.attributes)).toEqual({
      'cart.size': '3',
      'net.host.ip': '10.1.2.3',
      'network.local.address': '10.1.2.3',
      'peer.service': 'inventory',
      'service.peer.name': 'inventory',
      'net.peer.ip': '2001:db8::7',
      'network.peer.address': '2001:db8::7',
      'net.peer.port': 8443n,
    });

    // TraceQL on the event (name and typed attributes), the link and the new peer name.
    const search = async (q: string) => {
      const r = await fetch(`http://127.0.0.1:${app.ports.http}/api/search?${new URLSearchParams({ q, limit: '20' })}`);
      // A refused query would read as "no traces": the negative cases below need a 200.
      expect(r.status, q).toBe(200);
      const b = (await r.json()) as { traces?: { traceID: string }[] };
      return (b.traces ?? []).map((t) => t.traceID.padStart(32, '0'));
    };
    const mine = `resource.service.name = "${service}"`;
    for (const q of [
      `{ ${mine} && event:name = "cache miss" && event.cache.tier = 2 && event.cache.cold = true }`,
      `{ ${mine} && event.cache.ratio > 0.2 && event.cache.key = "sku|42" }`,
      `{ ${mine} && link:traceID = "${linked}" }`,
      `{ ${mine} && span.service.peer.name = "inventory" && status = error }`,
    ]) {
      expect(await waitFor(async () => ((await search(q)).includes(id) ? true : undefined), 15_000, q)).toBe(true);
    }
    // Conditions that must not match: an attribute on the wrong event, a wrong type, the old name as the event name.
    for (const q of [`{ ${mine} && event:name = "retry" && event.cache.tier = 2 }`, `{ ${mine} && event.cache.tier = "2" }`, `{ ${mine} && event:name =~ "cache miss\\\\|.*" }`]) {
      expect(await search(q), q).toEqual([]);
    }
  });

  it('keeps tenants apart by X-Scope-OrgID when multitenancy is on', async () => {
    const mt = await startInProcess(makeTempDir('zipkin-mt'), { multitenancy_enabled: true, distributor: { receivers: { zipkin: { endpoint: '127.0.0.1:0' } } } });
    const tenantSpans = makeSpans(`${SERVICE}-mt`);
    const id = tenantSpans[0]!.spanContext().traceId;
    const missing = await exportZipkin(mt.ports.zipkin!, tenantSpans);
    expect(missing.code).toBe(ExportResultCode.FAILED);
    const ok = await exportZipkin(mt.ports.zipkin!, tenantSpans, { 'X-Scope-OrgID': 'team-zipkin' });
    expect(ok.code, String(ok.error)).toBe(ExportResultCode.SUCCESS);
    const mine = await fetchTraceProto(mt.ports.http, id, 'v2', { 'X-Scope-OrgID': 'team-zipkin' });
    expect(mine.status).toBe(200);
    expect(mine.trace!.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans))).toHaveLength(3);
    const other = await fetchTraceProto(mt.ports.http, id, 'v2', { 'X-Scope-OrgID': 'someone-else' });
    expect(other.status).toBe(404);
    await mt.stop();
  });
});
