// Realistic OTLP payloads for load tests: a few services, traces of ~20 spans, ~10 attributes per
// span, HTTP/DB semantic conventions, an event on some spans. Encoded once, sent many times with
// fresh trace IDs patched in so every export creates new traces.

import { randomBytes } from 'node:crypto';
import { encodeTrace, type KeyValue, type ResourceSpans, type Span, type Trace } from '@andante/model';

const SERVICES = ['checkout', 'cart', 'payments', 'shipping', 'frontend', 'auth', 'catalog', 'search', 'email', 'ads'];
const ROUTES = Array.from({ length: 40 }, (_, i) => `/api/v1/resource${i}/{id}`);

export const str = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
export const int = (key: string, v: number): KeyValue => ({ key, value: { intValue: BigInt(v) } });
export const bool = (key: string, v: boolean): KeyValue => ({ key, value: { boolValue: v } });
export const dbl = (key: string, v: number): KeyValue => ({ key, value: { doubleValue: v } });

/** The resource of one service: what an OpenTelemetry SDK on Kubernetes reports. */
export function resourceAttributes(service: string): KeyValue[] {
  return [
    str('service.name', service),
    str('service.version', '1.4.2'),
    str('deployment.environment', 'production'),
    str('k8s.namespace.name', 'shop'),
    str('k8s.pod.name', `${service}-7d9f8b-abcde`),
    str('k8s.cluster.name', 'eu-west-1'),
    str('host.name', `node-${service.length}`),
    str('telemetry.sdk.language', 'nodejs'),
  ];
}

// Real spans carry per-request values (ids in URLs, request ids, jittered timings); without them
// the bytes-at-rest figure would be flattered by repeats.
const rand = (n: number): number => Math.floor(Math.random() * n);

function span(traceId: Uint8Array, parent: Uint8Array, i: number, startNs: bigint, service: string): Span {
  // Log-normal-ish latencies from ~50 us to seconds.
  const durNs = BigInt(Math.floor(Math.exp(10.8 + Math.random() * 5.5)));
  const isDb = i % 5 === 4;
  const attributes: KeyValue[] = isDb
    ? [str('db.system', 'postgresql'), str('db.name', 'orders'), str('db.statement', `SELECT * FROM orders WHERE id = $1 /* ${i} */`), str('net.peer.name', 'pg-primary'), int('net.peer.port', 5432)]
    : [
        str('http.method', i % 3 === 0 ? 'POST' : 'GET'),
        str('http.route', ROUTES[i % ROUTES.length]!),
        str('http.url', `https://${service}.example.com${ROUTES[i % ROUTES.length]!.replace('{id}', String(rand(10_000_000)))}?session=${rand(1e9).toString(36)}`),
        int('http.status_code', i % 17 === 0 ? 500 : 200),
        str('http.user_agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36'),
        int('http.request_content_length', rand(20_000)),
        str('request.id', randomBytes(12).toString('hex')),
      ];
  attributes.push(str('thread.name', `worker-${i % 8}`), bool('sampled', true), dbl('queue.wait_ms', (i % 13) * 0.37), str('peer.service', SERVICES[(i + 1) % SERVICES.length]!));
  return {
    traceId,
    spanId: randomBytes(8),
    traceState: '',
    parentSpanId: parent,
    flags: 1,
    name: isDb ? 'SELECT orders' : `${i % 3 === 0 ? 'POST' : 'GET'} ${ROUTES[i % ROUTES.length]}`,
    kind: i === 0 ? 2 : isDb ? 3 : (i % 2) + 2,
    startTimeUnixNano: startNs,
    endTimeUnixNano: startNs + durNs,
    attributes,
    droppedAttributesCount: 0,
    events: i % 10 === 0 ? [{ timeUnixNano: startNs + BigInt(rand(1_000_000)), name: 'exception', attributes: [str('exception.type', 'TimeoutError'), str('exception.message', 'upstream timed out after 2s')], droppedAttributesCount: 0 }] : [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: i % 17 === 0 ? 2 : 0, message: i % 17 === 0 ? 'internal error' : '' },
  };
}

/** One export request of `spansPerBatch` spans in traces of `spansPerTrace`, grouped by service. */
export function makeBatch(spansPerBatch: number, spansPerTrace: number, nowNs: bigint): Trace {
  const byService = new Map<string, Span[]>();
  let traceId = randomBytes(16);
  let root: Uint8Array = randomBytes(8);
  for (let i = 0; i < spansPerBatch; i++) {
    const inTrace = i % spansPerTrace;
    if (inTrace === 0) traceId = randomBytes(16);
    const service = SERVICES[(i * 3 + inTrace) % SERVICES.length]!;
    const s = span(traceId, inTrace === 0 ? new Uint8Array(0) : root, inTrace, nowNs + BigInt(i) * 1000n + BigInt(rand(5_000_000)), service);
    if (inTrace === 0) root = s.spanId;
    const list = byService.get(service) ?? [];
    list.push(s);
    byService.set(service, list);
  }
  const resourceSpans: ResourceSpans[] = [...byService].map(([service, spans]) => ({
    resource: { attributes: resourceAttributes(service), droppedAttributesCount: 0 },
    scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.57.0', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
    schemaUrl: '',
  }));
  return { resourceSpans };
}

export function encodeBatches(count: number, spansPerBatch: number, spansPerTrace: number): Uint8Array[] {
  const now = BigInt(Date.now()) * 1_000_000n;
  return Array.from({ length: count }, (_, i) => encodeTrace(makeBatch(spansPerBatch, spansPerTrace, now + BigInt(i) * 1_000_000n)));
}
