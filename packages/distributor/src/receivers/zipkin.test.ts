import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { LimitExceededError, UnavailableError, bytesToHex, decodeTrace, silentLogger, type AnyValue, type KeyValue, type Span, type Trace } from '@andante/model';
import type { FastifyInstance } from 'fastify';
import { createDistributorMetrics } from '../metrics.js';
import type { Distributor } from '../distributor.js';
import { createZipkinReceiver, zipkinToTrace } from './zipkin.js';

const TRACE64 = '463ac35c9f6413ad';
const TRACE128 = '5af7183fb1d4cf5f463ac35c9f6413ad';

// A representative batch: what a Zipkin-instrumented client/server pair and an OpenTelemetry SDK
// exporter send (64- and 128-bit trace IDs, every kind, status tags, annotations, endpoints).
const BATCH = [
  {
    traceId: TRACE64,
    id: '0000000000000001',
    name: 'get /api',
    kind: 'SERVER',
    timestamp: 1_700_000_000_000_000,
    duration: 1500,
    localEndpoint: { serviceName: 'frontend', ipv4: '10.0.0.1', port: 8080 },
    remoteEndpoint: { ipv6: '2001:db8::1', port: 51234 },
    annotations: [{ timestamp: 1_700_000_000_000_500, value: 'wr' }],
    tags: { 'http.method': 'GET', 'http.path': '/api' },
    shared: true,
  },
  {
    traceId: TRACE64,
    id: '0000000000000002',
    parentId: '0000000000000001',
    name: 'select',
    kind: 'CLIENT',
    timestamp: 1_700_000_000_000_100,
    duration: 700,
    localEndpoint: { serviceName: 'frontend' },
    remoteEndpoint: { serviceName: 'mysql', ipv4: '10.0.0.9', port: 3306 },
    tags: { error: 'connection refused', 'db.system': 'mysql' },
  },
  {
    traceId: TRACE128,
    id: 'a000000000000003',
    name: 'publish',
    kind: 'PRODUCER',
    timestamp: 1_700_000_000_001_000,
    duration: 10,
    localEndpoint: { serviceName: 'backend' },
    tags: {
      'otel.status_code': 'ERROR',
      'otel.status_description': 'queue full',
      'otel.scope.name': 'my-lib',
      'otel.scope.version': '1.2.3',
      'telemetry.sdk.language': 'nodejs',
      'w3c.tracestate': 'k=v',
    },
  },
  {
    traceId: TRACE128,
    id: 'a000000000000004',
    parentId: 'a000000000000003',
    name: 'consume',
    kind: 'CONSUMER',
    timestamp: 1_700_000_000_002_000,
    duration: 20,
    localEndpoint: { serviceName: 'backend' },
    tags: { 'otel.status_code': 'OK', 'otel.library.name': 'my-lib', 'otel.library.version': '1.2.3', 'telemetry.sdk.language': 'nodejs' },
  },
  { traceId: TRACE128, id: 'a000000000000005', name: 'internal', timestamp: 1_700_000_000_003_000, duration: 1, tags: { 'span.kind': 'internal', error: 'true' } },
  { traceId: TRACE128, id: 'a000000000000006', parentId: 'a000000000000006', name: 'no kind', timestamp: 1_700_000_000_003_000, localEndpoint: { serviceName: 'backend' } },
];

const value = (v: AnyValue): unknown => Object.values(v)[0];
const attrs = (kvs: KeyValue[]): Record<string, unknown> => Object.fromEntries(kvs.map((kv) => [kv.key, value(kv.value)]));

function spansOf(trace: Trace): { service: unknown; resource: Record<string, unknown>; scope: string; span: Span }[] {
  return trace.resourceSpans.flatMap((rs) =>
    rs.scopeSpans.flatMap((ss) =>
      ss.spans.map((span) => ({ service: attrs(rs.resource.attributes)['service.name'], resource: attrs(rs.resource.attributes), scope: `${ss.scope.name}@${ss.scope.version}`, span })),
    ),
  );
}

describe('zipkinToTrace (Zipkin JSON v2 -> OTLP, the Collector’s translation)', () => {
  const trace = zipkinToTrace(BATCH);
  const all = spansOf(trace);
  const byName = (name: string) => all.find((s) => s.span.name === name)!;

  it('keeps every span, grouping them by resource (service and the resource tags) and scope', () => {
    expect(all.map((s) => s.span.name)).toEqual(['get /api', 'select', 'publish', 'consume', 'internal', 'no kind']);
    // frontend; backend + telemetry.sdk.language; the span with no endpoint; backend alone.
    expect(trace.resourceSpans.map((rs) => attrs(rs.resource.attributes))).toEqual([
      { 'service.name': 'frontend' },
      { 'service.name': 'backend', 'telemetry.sdk.language': 'nodejs' },
      {},
      { 'service.name': 'backend' },
    ]);
    // otel.scope.* and the older otel.library.* name the same scope.
    expect(trace.resourceSpans[1]!.scopeSpans.map((ss) => [ss.scope.name, ss.scope.version, ss.spans.length])).toEqual([['my-lib', '1.2.3', 2]]);
  });

  it('reads 64-bit trace IDs left-padded to 16 bytes, 128-bit ones as they are, and span/parent IDs', () => {
    const server = byName('get /api').span;
    expect(bytesToHex(server.traceId)).toBe(`0000000000000000${TRACE64}`);
    expect(bytesToHex(server.spanId)).toBe('0000000000000001');
    expect(server.parentSpanId.length).toBe(0);
    expect(bytesToHex(byName('select').span.parentSpanId)).toBe('0000000000000001');
    expect(bytesToHex(byName('publish').span.traceId)).toBe(TRACE128);
    // A parentId equal to the span's own id is no parent (the Collector's rule).
    expect(byName('no kind').span.parentSpanId.length).toBe(0);
  });

  it('maps kinds: the four Zipkin kinds, span.kind=internal, and none as UNSPECIFIED', () => {
    expect(['get /api', 'select', 'publish', 'consume', 'internal', 'no kind'].map((n) => byName(n).span.kind)).toEqual([2, 3, 4, 5, 1, 0]);
    expect(attrs(byName('internal').span.attributes)).not.toHaveProperty('span.kind');
  });

  it('takes µs timestamps and durations to unix nanos', () => {
    const s = byName('get /api').span;
    expect(s.startTimeUnixNano).toBe(1_700_000_000_000_000_000n);
    expect(s.endTimeUnixNano).toBe(1_700_000_000_001_500_000n);
    expect(byName('no kind').span.endTimeUnixNano).toBe(byName('no kind').span.startTimeUnixNano);
  });

  it('turns status tags into the span status: otel.status_code/description dropped, error kept unless "true"', () => {
    expect(byName('get /api').span.status).toEqual({ code: 0, message: '' });
    expect(byName('select').span.status).toEqual({ code: 2, message: 'connection refused' });
    expect(attrs(byName('select').span.attributes)).toMatchObject({ error: 'connection refused', 'db.system': 'mysql' });
    expect(byName('publish').span.status).toEqual({ code: 2, message: 'queue full' });
    expect(byName('consume').span.status).toEqual({ code: 1, message: '' });
    expect(byName('internal').span.status).toEqual({ code: 2, message: '' });
    expect(attrs(byName('internal').span.attributes)).not.toHaveProperty('error');
    const publish = attrs(byName('publish').span.attributes);
    for (const k of ['otel.status_code', 'otel.status_description', 'otel.scope.name', 'otel.scope.version', 'telemetry.sdk.language', 'w3c.tracestate']) expect(publish).not.toHaveProperty(k);
    expect(byName('publish').span.traceState).toBe('k=v');
  });

  it('maps endpoints to net.host.*, net.peer.* and peer.service, tags to string attributes', () => {
    expect(attrs(byName('get /api').span.attributes)).toEqual({
      'http.method': 'GET',
      'http.path': '/api',
      'net.host.ip': '10.0.0.1',
      'net.host.port': 8080n,
      'net.peer.ip': '2001:db8::1',
      'net.peer.port': 51234n,
    });
    expect(attrs(byName('select').span.attributes)).toMatchObject({ 'peer.service': 'mysql', 'net.peer.ip': '10.0.0.9', 'net.peer.port': 3306n });
  });

  it('turns annotations into events', () => {
    expect(byName('get /api').span.events).toEqual([{ timeUnixNano: 1_700_000_000_000_500_000n, name: 'wr', attributes: [], droppedAttributesCount: 0 }]);
  });

  it.each([
    ['not an array', { traceId: TRACE64 }, 'expected a JSON array of Zipkin v2 spans'],
    ['a 20-digit trace ID', [{ traceId: '1'.repeat(20), id: '0000000000000001' }], 'span 0: traceId: expected 16 or 32 hex digits, got "11111111111111111111"'],
    ['a non-hex span ID', [{ traceId: TRACE64, id: '000000000000000g' }], 'span 0: id: expected 16 hex digits'],
    ['a missing span ID', [BATCH[0], { traceId: TRACE64 }], 'span 1: id: expected 16 hex digits, got undefined'],
    ['a 32-digit parent ID', [{ traceId: TRACE64, id: '0000000000000001', parentId: TRACE128 }], 'span 0: parentId: expected 16 hex digits'],
    ['an all-zero trace ID', [{ traceId: '0'.repeat(16), id: '0000000000000001' }], 'span 0: traceId: an all-zero ID is not valid'],
    ['an unknown kind', [{ traceId: TRACE64, id: '0000000000000001', kind: 'LOCAL' }], 'span 0: kind: expected CLIENT, SERVER, PRODUCER or CONSUMER'],
    ['a negative timestamp', [{ traceId: TRACE64, id: '0000000000000001', timestamp: -1 }], 'span 0: timestamp'],
    ['a tag that is an object', [{ traceId: TRACE64, id: '0000000000000001', tags: { a: {} } }], 'span 0: tags.a: expected a string'],
  ])('refuses %s, naming the span and field', (_name, body, message) => {
    expect(() => zipkinToTrace(body)).toThrow(message);
  });
});

describe('the Zipkin receiver (POST /api/v2/spans)', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  function setup(opts: { fail?: Error; multitenancy?: boolean; limit?: number } = {}) {
    const registry = new Registry();
    const pushes: { tenant: string; trace: Trace }[] = [];
    const distributor = {
      metrics: createDistributorMetrics(registry),
      async pushOtlp(tenant: string, body: Uint8Array) {
        if (opts.fail) throw opts.fail;
        const trace = decodeTrace(body);
        pushes.push({ tenant, trace });
        const n = spansOf(trace).length;
        return { acceptedSpans: n, rejectedSpans: 0, errorMessage: '' };
      },
    } as unknown as Distributor;
    app = createZipkinReceiver(distributor, { host: '127.0.0.1', port: 0, multitenancyEnabled: opts.multitenancy ?? false, ...(opts.limit ? { maxRequestBodyBytes: opts.limit } : {}) }, silentLogger);
    const counted = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.receiver === 'zipkin' && v.labels.transport === 'http')?.value ?? 0;
    return { app, pushes, counted };
  }

  it('answers 202 with an empty body and pushes the translated spans, counting them', async () => {
    const { app, pushes, counted } = setup();
    const res = await app.inject({ method: 'POST', url: '/api/v2/spans', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(BATCH) });
    expect(res.statusCode).toBe(202);
    expect(res.body).toBe('');
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.tenant).toBe('single-tenant');
    expect(spansOf(pushes[0]!.trace).map((s) => s.span.name)).toEqual(['get /api', 'select', 'publish', 'consume', 'internal', 'no kind']);
    expect(await counted('tempo_receiver_accepted_spans')).toBe(6);
  });

  it('takes gzip bodies, bodies with no content type, and an empty list', async () => {
    const { app, pushes } = setup();
    const gz = await app.inject({ method: 'POST', url: '/api/v2/spans', headers: { 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'gzip' }, payload: gzipSync(JSON.stringify(BATCH.slice(0, 1))) });
    expect(gz.statusCode).toBe(202);
    const bare = await app.inject({ method: 'POST', url: '/api/v2/spans', payload: Buffer.from(JSON.stringify(BATCH.slice(1, 2))) });
    expect(bare.statusCode).toBe(202);
    const empty = await app.inject({ method: 'POST', url: '/api/v2/spans', headers: { 'content-type': 'application/json' }, payload: '[]' });
    expect(empty.statusCode).toBe(202);
    expect(pushes.map((p) => spansOf(p.trace).map((s) => s.span.name))).toEqual([['get /api'], ['select']]);
  });

  it('reads the tenant from X-Scope-OrgID when multitenancy is on (401 without it)', async () => {
    const { app, pushes } = setup({ multitenancy: true });
    const ok = await app.inject({ method: 'POST', url: '/api/v2/spans', headers: { 'content-type': 'application/json', 'x-scope-orgid': 'team-a' }, payload: JSON.stringify(BATCH) });
    expect(ok.statusCode).toBe(202);
    expect(pushes[0]!.tenant).toBe('team-a');
    const missing = await app.inject({ method: 'POST', url: '/api/v2/spans', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(BATCH) });
    expect(missing.statusCode).toBe(401);
  });

  it('answers 400 for malformed JSON and bad IDs, naming what is wrong, and counts refused spans', async () => {
    const { app, pushes, counted } = setup();
    const bad = await app.inject({ method: 'POST', url: '/api/v2/spans', headers: { 'content-type': 'application/json' }, payload: '[{"traceId":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('malformed JSON');
    const ids = await app.inject({ method: 'POST', url: '/api/v2/spans', headers: { 'content-type': 'application/json' }, payload: JSON.stringify([BATCH[0], { ...BATCH[1], id: 'xyz' }]) });
    expect(ids.statusCode).toBe(400);
    expect(ids.body).toBe('span 1: id: expected 16 hex digits, got "xyz"');
    expect(pushes).toHaveLength(0);
    expect(await counted('tempo_receiver_refused_spans')).toBe(2);
  });

  it('answers 415 for protobuf and thrift bodies (only JSON v2 is accepted)', async () => {
    const { app } = setup();
    for (const type of ['application/x-protobuf', 'application/x-thrift']) {
      const res = await app.inject({ method: 'POST', url: '/api/v2/spans', headers: { 'content-type': type }, payload: Buffer.from([1, 2, 3]) });
      expect(res.statusCode).toBe(415);
      expect(res.body).toContain('only Zipkin JSON v2 (application/json) is accepted');
    }
  });

  it('answers 413 for a body (or a gunzipped body) over the limit', async () => {
    const { app } = setup({ limit: 1024 });
    const big = JSON.stringify([{ ...BATCH[0], tags: { big: 'x'.repeat(4096) } }]);
    const plain = await app.inject({ method: 'POST', url: '/api/v2/spans', headers: { 'content-type': 'application/json' }, payload: big });
    expect(plain.statusCode).toBe(413);
    const gz = await app.inject({ method: 'POST', url: '/api/v2/spans', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: gzipSync(big) });
    expect(gz.statusCode).toBe(413);
    expect(gz.body).toContain('exceeds 1024 bytes');
  });

  it('maps the distributor’s refusals: 429 for a rate limit, 503 when ingesters are unavailable', async () => {
    const limited = setup({ fail: new LimitExceededError('RATE_LIMITED', 'rate_limited', 'rate limited') });
    const res = await limited.app.inject({ method: 'POST', url: '/api/v2/spans', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(BATCH) });
    expect(res.statusCode).toBe(429);
    await limited.app.close();
    const down = setup({ fail: new UnavailableError('no ingesters') });
    const res2 = await down.app.inject({ method: 'POST', url: '/api/v2/spans', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(BATCH) });
    expect(res2.statusCode).toBe(503);
  });
});
