import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { LimitExceededError, UnavailableError, bytesToHex, decodeTrace, silentLogger, type AnyValue, type KeyValue, type Span, type Trace } from '@andante/model';
import type { FastifyInstance } from 'fastify';
import { createDistributorMetrics } from '../metrics.js';
import type { Distributor } from '../distributor.js';
import { createZipkinReceiver, zipkinToTrace } from './zipkin.js';
import { annotationToEvent, tagToLink } from './zipkin-annotations.js';

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

  it('maps endpoints to network.* / net.*.ip, net.*.port and service.peer.name / peer.service, tags to string attributes', () => {
    expect(attrs(byName('get /api').span.attributes)).toEqual({
      'http.method': 'GET',
      'http.path': '/api',
      'net.host.ip': '10.0.0.1',
      'network.local.address': '10.0.0.1',
      'net.host.port': 8080n,
      'net.peer.ip': '2001:db8::1',
      'network.peer.address': '2001:db8::1',
      'net.peer.port': 51234n,
    });
    expect(attrs(byName('select').span.attributes)).toMatchObject({
      'peer.service': 'mysql',
      'service.peer.name': 'mysql',
      'net.peer.ip': '10.0.0.9',
      'network.peer.address': '10.0.0.9',
      'net.peer.port': 3306n,
    });
  });

  it.each([
    ['2001:0DB8:0000::0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::ffff:10.0.0.7', '10.0.0.7'],
    ['192.168.1.20', '192.168.1.20'],
  ])('prints the IP %s as the Collector (Go) does: %s', (ip, printed) => {
    const [{ span }] = spansOf(zipkinToTrace([{ traceId: TRACE64, id: '0000000000000001', localEndpoint: { ipv6: ip } }]));
    expect(attrs(span!.attributes)).toEqual({ 'net.host.ip': printed, 'network.local.address': printed });
  });

  it('leaves out an address that is not an IP and a port over 65535, keeping the span', () => {
    const [{ span }] = spansOf(
      zipkinToTrace([{ traceId: TRACE64, id: '0000000000000001', localEndpoint: { ipv4: '010.0.0.1', port: 70000 }, remoteEndpoint: { ipv6: 'fe80::1%eth0', ipv4: 'nonsense', port: 443 } }]),
    );
    expect(attrs(span!.attributes)).toEqual({ 'net.peer.port': 443n });
  });

  it('puts the service name under the key named by otlp.service.name.source, and moves only resource faas.* keys', () => {
    const [s] = spansOf(
      zipkinToTrace([
        {
          traceId: TRACE64,
          id: '0000000000000001',
          localEndpoint: { serviceName: 'resize-image' },
          tags: { 'otlp.service.name.source': 'faas.name', 'faas.version': '7', 'faas.trigger': 'http', 'aws.ecs.task.arn': 'arn:task', 'aws.s3.bucket': 'images', 'opencensus.starttime': 'x' },
        },
      ]),
    );
    expect(s!.resource).toEqual({ 'faas.name': 'resize-image', 'faas.version': '7', 'aws.ecs.task.arn': 'arn:task', 'opencensus.starttime': 'x' });
    expect(attrs(s!.span.attributes)).toEqual({ 'faas.trigger': 'http', 'aws.s3.bucket': 'images' });
  });

  it('turns annotations into events', () => {
    expect(byName('get /api').span.events).toEqual([{ timeUnixNano: 1_700_000_000_000_500_000n, name: 'wr', attributes: [], droppedAttributesCount: 0 }]);
  });

  it('keeps a plain annotation as an event named by its whole value', () => {
    expect(annotationToEvent('cache hit', 5000n)).toEqual({ timeUnixNano: 5000n, name: 'cache hit', attributes: [], droppedAttributesCount: 0 });
  });
});

// What the OpenTelemetry Collector's zipkin exporter wrote (contrib v0.161.0, zipkinv2 JSON marshaler,
// run on one OTLP span) for: an INTERNAL span of scope shop/cart 0.4.0 with an ERROR status, four
// events (typed attributes + 1 dropped; none; none but 5 dropped; a name holding `|`) and one link.
const COLLECTOR_EXPORT = [
  {
    timestamp: 1700000000000000,
    duration: 2000,
    traceId: '5af7183fb1d4cf5f463ac35c9f6413ad',
    id: 'a000000000000001',
    name: 'add item',
    localEndpoint: { serviceName: 'checkout' },
    annotations: [
      { timestamp: 1700000000000500, value: 'cache miss|{"cache.cold":true,"cache.key":"sku|42","cache.ratio":0.25,"cache.shards":["a","b"],"cache.tier":2,"cache.whole":2}|1' },
      { timestamp: 1700000000001000, value: 'retry' },
      { timestamp: 1700000000001500, value: 'trimmed|{}|5' },
      { timestamp: 1700000000001700, value: 'db|query|{"db.rows":7}|0' },
    ],
    tags: {
      'cart.size': '3',
      error: 'true',
      'otel.library.name': 'shop/cart',
      'otel.library.version': '0.4.0',
      'otel.status_code': 'STATUS_CODE_ERROR',
      'otel.status_description': 'out of stock',
      'otlp.link.0': '0af7651916cd43dd8448eb211c80319c|b7ad6b7169203331|vendor=x|{"link.kind":"follows_from"}|2',
      'span.kind': 'internal',
      'telemetry.sdk.language': 'go',
    },
  },
];

describe('events and links as the Collector’s zipkin exporter encodes them', () => {
  it('reads the exporter’s span back to the OTLP span it came from', () => {
    const [s] = spansOf(zipkinToTrace(COLLECTOR_EXPORT));
    const span = s!.span;
    expect(s!.resource).toEqual({ 'service.name': 'checkout', 'telemetry.sdk.language': 'go' });
    expect(s!.scope).toBe('shop/cart@0.4.0');
    expect(span.kind).toBe(1);
    expect(span.status).toEqual({ code: 2, message: 'out of stock' });
    expect(attrs(span.attributes)).toEqual({ 'cart.size': '3' });
    expect(span.events.map((e) => [e.timeUnixNano, e.name, attrs(e.attributes), e.droppedAttributesCount])).toEqual([
      [
        1_700_000_000_000_500_000n,
        'cache miss',
        // What the Collector's receiver gives, plus the array it drops (kept here). 2.0 arrives as an int:
        // the exporter's JSON writes it as 2.
        { 'cache.cold': true, 'cache.key': 'sku|42', 'cache.ratio': 0.25, 'cache.shards': { values: [{ stringValue: 'a' }, { stringValue: 'b' }] }, 'cache.tier': 2n, 'cache.whole': 2n },
        1,
      ],
      [1_700_000_000_001_000_000n, 'retry', {}, 0],
      [1_700_000_000_001_500_000n, 'trimmed', {}, 5],
      // The Collector's receiver refuses the whole request for this one; its name is recovered here.
      [1_700_000_000_001_700_000n, 'db|query', { 'db.rows': 7n }, 0],
    ]);
    expect(span.links.map((l) => [bytesToHex(l.traceId), bytesToHex(l.spanId), l.traceState, attrs(l.attributes), l.droppedAttributesCount])).toEqual([
      ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 'vendor=x', { 'link.kind': 'follows_from' }, 2],
    ]);
  });

  it('types JSON values as the Collector does: strings, bools, whole numbers as int, others as double; null skipped', () => {
    const ev = annotationToEvent('typed|{"s":"x","i":3,"neg":-2.0,"d":1.5,"b":false,"n":null,"big":1e20,"max":9007199254740993}|0', 0n);
    expect(ev.attributes).toEqual([
      { key: 's', value: { stringValue: 'x' } },
      { key: 'i', value: { intValue: 3n } },
      { key: 'neg', value: { intValue: -2n } },
      { key: 'd', value: { doubleValue: 1.5 } },
      { key: 'b', value: { boolValue: false } },
      // Beyond int64 the Collector's Go conversion is undefined; kept as the double.
      { key: 'big', value: { doubleValue: 1e20 } },
      // JSON numbers are doubles in Go too: 2^53 + 1 arrives as 2^53.
      { key: 'max', value: { intValue: 9007199254740992n } },
    ]);
  });

  it('keeps arrays and objects (which the Collector drops) as arrayValue and kvlistValue', () => {
    expect(annotationToEvent('nested|{"arr":[1,"a",null,[true]],"obj":{"k":0.5,"z":null}}|0', 0n).attributes).toEqual([
      { key: 'arr', value: { arrayValue: { values: [{ intValue: 1n }, { stringValue: 'a' }, {}, { arrayValue: { values: [{ boolValue: true }] } }] } } },
      { key: 'obj', value: { kvlistValue: { values: [{ key: 'k', value: { doubleValue: 0.5 } }] } } },
    ]);
  });

  it.each([
    // [value, event name, attributes, dropped, what the Collector's receiver does]
    ['a|null|2', 'a', {}, 2, 'the same'],
    ['a| {"k":"x|y"} |0', 'a', { k: 'x|y' }, 0, 'the same'],
    ['a|{}|4294967295', 'a', {}, 4294967295, 'the same'],
    ['a|b', 'a|b', {}, 0, 'names the event "a"'],
    ['a|5', 'a|5', {}, 0, 'names the event "a"'],
    ['a|b|c', 'a|b|c', {}, 0, '400: invalid character'],
    ['a|{}|x', 'a|{}|x', {}, 0, '400: ParseUint'],
    ['a|{}|-1', 'a|{}|-1', {}, 0, '400: ParseUint'],
    ['a|{}|4294967296', 'a|{}|4294967296', {}, 0, '400: ParseUint out of range'],
    ['a|[1]|0', 'a|[1]|0', {}, 0, '400: cannot unmarshal array'],
    ['a|"s"|0', 'a|"s"|0', {}, 0, '400: cannot unmarshal string'],
    ['a|{"x":1e400}|0', 'a|{"x":1e400}|0', {}, 0, '400: number out of range'],
    ['a|{|0', 'a|{|0', {}, 0, '400: unexpected end of JSON'],
    ['b|c|d|e|f|g|h|i|j|{"k":1}|0', 'b|c|d|e|f|g|h|i|j|{"k":1}|0', {}, 0, '400 (past the 8 boundaries tried here)'],
    ['b|c|d|{"k":1}|0', 'b|c|d', { k: 1n }, 0, '400'],
  ] as [string, string, Record<string, unknown>, number, string][])('reads %s as event %s %o dropped %d (the Collector: %s)', (value, name, attributes, dropped, _collector) => {
    const ev = annotationToEvent(value, 7n);
    expect([ev.timeUnixNano, ev.name, attrs(ev.attributes), ev.droppedAttributesCount]).toEqual([7n, name, attributes, dropped]);
  });

  it('reads links: quoted and empty IDs as the Collector does; a malformed otlp.link tag stays an attribute', () => {
    const quoted = tagToLink('"0af7651916cd43dd8448eb211c80319c"|"b7ad6b7169203331"||null|0')!;
    expect([bytesToHex(quoted.traceId), bytesToHex(quoted.spanId), quoted.traceState, quoted.attributes, quoted.droppedAttributesCount]).toEqual(['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', '', [], 0]);
    expect(tagToLink('|||{}|0')).toEqual({ traceId: new Uint8Array(0), spanId: new Uint8Array(0), traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 });
    for (const bad of ['x|y', '0af7651916cd43dd8448eb211c80319|b7ad6b7169203331||{}|0', '0af7651916cd43dd8448eb211c80319c|b7ad6b716920333g||{}|0', '|||nope|0', '|||{}|x']) {
      expect(tagToLink(bad), bad).toBeUndefined();
    }
    const link = '0af7651916cd43dd8448eb211c80319c|b7ad6b7169203331||{}|0';
    const [s] = spansOf(zipkinToTrace([{ traceId: TRACE64, id: '0000000000000001', tags: { 'otlp.link.0': link, 'otlp.link.1': 'x|y', 'otlp.link.2': link, 'otlp.link.4': link } }]));
    // 0 and 2 are links; 1 is malformed (kept); 3 is missing, so 4 is not read as a link (the Collector stops there too).
    expect(s!.span.links.map((l) => bytesToHex(l.spanId))).toEqual(['b7ad6b7169203331', 'b7ad6b7169203331']);
    expect(attrs(s!.span.attributes)).toEqual({ 'otlp.link.1': 'x|y', 'otlp.link.4': link });
  });

  it('never refuses a span list for an annotation or link tag it cannot read', () => {
    const trace = zipkinToTrace([{ traceId: TRACE64, id: '0000000000000001', annotations: [{ timestamp: 1, value: 'a|b|c' }, { timestamp: 2, value: 'x|{}|y' }], tags: { 'otlp.link.0': '|' } }]);
    const [s] = spansOf(trace);
    expect(s!.span.events.map((e) => e.name)).toEqual(['a|b|c', 'x|{}|y']);
    expect(attrs(s!.span.attributes)).toEqual({ 'otlp.link.0': '|' });
  });
});

describe('zipkinToTrace refusals', () => {
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
