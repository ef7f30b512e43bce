// Realistic trace data for the block benchmarks: 10 services with k8s-style resources, traces
// of 20 spans over 1-4 services, ~10 span attributes (HTTP, DB, ids), an event on every tenth span.

import { randomBytes } from 'node:crypto';

export function makeTraces(count, SPANS_PER_TRACE = 20) {
  const services = Array.from({ length: 10 }, (_, i) => ({
    name: `service-${i}`,
    attrs: [
      kv('service.name', `service-${i}`),
      kv('service.version', `1.${i}.0`),
      kv('deployment.environment', 'production'),
      kv('k8s.cluster.name', 'prod-eu-1'),
      kv('k8s.namespace.name', i < 5 ? 'shop' : 'platform'),
      kv('k8s.pod.name', `service-${i}-7d9f8b6c5-${(i * 7919).toString(36).slice(0, 5)}`),
      kv('k8s.container.name', `service-${i}`),
      kv('host.name', `node-${i % 4}`),
      kv('telemetry.sdk.language', i % 2 ? 'go' : 'java'),
      kv('telemetry.sdk.version', '1.28.0'),
    ],
  }));
  const routes = Array.from({ length: 40 }, (_, i) => `/api/v1/resource${i}/{id}`);
  const methods = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
  const ids = Array.from({ length: count }, () => randomBytes(16)).sort(Buffer.compare);
  const base = 1_763_000_000_000_000_000n;
  return ids.map((idBuf, t) => {
    const traceId = new Uint8Array(idBuf);
    const start = base + BigInt(t) * 1_000_000n;
    // 20 spans over 1..4 services; parent = a random earlier span.
    const bySvc = new Map();
    const spanIds = [];
    for (let i = 0; i < SPANS_PER_TRACE; i++) {
      const spanId = new Uint8Array(randomBytes(8));
      spanIds.push(spanId);
      const svc = services[(t + Math.floor(i / 5)) % services.length];
      const parent = i === 0 ? new Uint8Array(0) : spanIds[Math.floor(Math.random() * i)];
      const s0 = start + BigInt(i) * 150_000n;
      const status = Math.random() < 0.02 ? 2 : 0;
      const method = methods[(t + i) % methods.length];
      const route = routes[(t * 3 + i) % routes.length];
      const attributes = [
        kv('http.method', method),
        kv('http.route', route),
        kv('http.status_code', { intValue: status === 2 ? 500n : 200n }),
        kv('http.url', `https://shop.example.com${route.replace('{id}', String((t * 31 + i) % 100000))}`),
        kv('net.peer.name', `service-${(i + 1) % 10}`),
        kv('user.id', `user-${(t * 13) % 5000}`),
        kv('request.id', Buffer.from(spanId).toString('hex')),
        kv('thread.id', { intValue: BigInt(i % 16) }),
        kv('retry', { boolValue: i % 9 === 0 }),
        kv('payload.size', { doubleValue: (t % 1000) * 1.25 }),
      ];
      if (i % 4 === 3) attributes.push(kv('db.system', 'postgresql'), kv('db.statement', `SELECT * FROM t${i % 5} WHERE id = $1`));
      const span = {
        traceId,
        spanId,
        traceState: '',
        parentSpanId: parent,
        flags: 1,
        name: `${method} ${route}`,
        kind: i === 0 ? 2 : i % 2 ? 3 : 2,
        startTimeUnixNano: s0,
        endTimeUnixNano: s0 + BigInt(10_000 + ((t * 97 + i * 13) % 900_000)),
        attributes,
        droppedAttributesCount: 0,
        events: i % 10 === 5 ? [{ timeUnixNano: s0 + 5_000n, name: 'log', attributes: [kv('level', 'info'), kv('message', 'cache miss')], droppedAttributesCount: 0 }] : [],
        droppedEventsCount: 0,
        links: [],
        droppedLinksCount: 0,
        status: { message: status === 2 ? 'internal error' : '', code: status },
      };
      if (!bySvc.has(svc)) bySvc.set(svc, []);
      bySvc.get(svc).push(span);
    }
    const trace = {
      resourceSpans: [...bySvc].map(([svc, spans]) => ({
        resource: { attributes: svc.attrs, droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: 'io.opentelemetry.http', version: '1.28.0', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
        schemaUrl: 'https://opentelemetry.io/schemas/1.24.0',
      })),
    };
    return { traceId, trace };
  });
}

function kv(key, value) {
  return { key, value: typeof value === 'string' ? { stringValue: value } : value };
}
