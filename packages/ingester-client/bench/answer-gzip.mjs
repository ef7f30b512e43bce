// Does gzip pay for the ingester's query answers? Encodes realistic answers with the real codecs,
// then gzips them (levels 1 and 6): bytes before/after, and CPU per MB to compress and inflate.
// grpc-js (1.14) compresses requests only (`grpc.default_compression_algorithm` on the channel);
// its server never compresses a response, so gzip for answers would have to be our own framing.
//
//   node packages/ingester-client/bench/answer-gzip.mjs   (after pnpm build)

import { gzipSync, gunzipSync } from 'node:zlib';
import { encodeSearchRecentResponse, encodeSearchTagValuesRecentResponse, encodeMetricsPartial, encodeFindTraceByIdResponse, encodePushRequest } from '../dist/index.js';
import { emptySearchMetrics, encodeTrace } from '@andante/model';

const RUNS = Number(process.env.RUNS ?? 7);
const rnd = (() => { let s = 42; return () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32); })();
const hex = (n) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');
const bytes = (n) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));

const services = ['frontend', 'checkout', 'cart', 'payment', 'shipping', 'currency', 'email', 'ad', 'recommendation', 'product-catalog'];
function trace(spans) {
  const traceId = bytes(16);
  return {
    resourceSpans: services.slice(0, 5).map((svc) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: svc } }, { key: 'k8s.pod.name', value: { stringValue: `${svc}-7d9f8c-${hex(5)}` } }, { key: 'host.name', value: { stringValue: 'node-12' } }], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.52.1', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', spans: Array.from({ length: spans / 5 }, (_, i) => ({
        traceId, spanId: bytes(8), traceState: '', parentSpanId: bytes(8), flags: 1, name: i % 3 ? `GET /api/v1/products/{id}` : 'SELECT products', kind: 2,
        startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n, endTimeUnixNano: 1_700_000_000_050_000_000n + BigInt(i) * 1_000_000n,
        attributes: [{ key: 'http.method', value: { stringValue: 'GET' } }, { key: 'http.url', value: { stringValue: `https://shop.example.com/api/v1/products/${hex(8)}?page=${i}` } }, { key: 'http.status_code', value: { intValue: 200n } }, { key: 'net.peer.ip', value: { stringValue: `10.0.${i % 255}.${(i * 7) % 255}` } }],
        droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' },
      })) }],
      schemaUrl: '',
    })),
  };
}

const meta = { format: 'vAndante2', blockID: '9f0c6f4e-5d0a-4a43-b4c8-6f1a0c2e9b11', tenantID: 'single-tenant', startTime: '2026-12-04T05:00:00Z', endTime: '2026-12-04T05:10:00Z', totalObjects: 12000, totalSpans: 240000, size: 12_600_000, compactionLevel: 0, totalRecords: 12, bloomShards: 2, footerSize: 40_000, minID: 'AAECAwQFBgcICQoLDA0ODw==', maxID: '8PHy8/T19vf4+fr7/P3+/w==' };
function searchAnswer(n) {
  return { metrics: { ...emptySearchMetrics(), inspectedTraces: 50000, inspectedBytes: 300_000_000n, inspectedSpans: 1_000_000n }, flushedBlocks: [meta, meta],
    traces: Array.from({ length: n }, () => ({ traceID: hex(32), rootServiceName: 'frontend', rootTraceName: 'GET /api/v1/products/{id}', startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(Math.floor(rnd() * 1e12)), durationMs: Math.floor(rnd() * 900),
      spanSets: [{ matched: 3, attributes: [], spans: Array.from({ length: 3 }, () => ({ spanID: hex(16), name: 'GET /api/v1/products/{id}', startTimeUnixNano: 1_700_000_000_000_000_000n, durationNanos: BigInt(Math.floor(rnd() * 1e8)), attributes: [{ key: 'http.status_code', value: { intValue: 200n } }] })) }],
      serviceStats: Object.fromEntries(services.slice(0, 4).map((s) => [s, { spanCount: 5, errorCount: 0 }])) })) };
}
function metricsAnswer(series, intervals, dist) {
  const arr = (f) => Float64Array.from({ length: intervals }, f);
  return { inspectedTraces: 50000, inspectedSpans: 1_000_000, inspectedBytes: 300_000_000, flushedBlocks: [meta], coveredBlocks: [], leaves: [{ series: Array.from({ length: series }, (_, i) => ({
    key: `svc=${services[i % 10]}-${i}`, labels: [{ key: 'resource.service.name', value: { stringValue: `${services[i % 10]}-${i}` } }],
    count: arr(() => Math.floor(rnd() * 500)), sum: arr(() => rnd() * 1e9), min: arr(() => rnd() * 1e6), max: arr(() => rnd() * 1e9),
    dist: dist ? Array.from({ length: intervals }, () => Float64Array.from({ length: 40 }, (_, k) => (k % 2 ? Math.floor(rnd() * 100) : 20 + k))) : null,
    exemplars: Array.from({ length: 5 }, () => ({ traceId: hex(32), spanId: hex(16), timestampMs: 1_700_000_000_000 + Math.floor(rnd() * 1e6), value: rnd() * 1e9 })),
  })) }] };
}

const cases = [
  ['search, 20 results (limit 20)', () => encodeSearchRecentResponse(searchAnswer(20))],
  ['search, 500 results', () => encodeSearchRecentResponse(searchAnswer(500))],
  ['tag values, 27,860 URLs', () => encodeSearchTagValuesRecentResponse({ inspectedBytes: 1n, flushedBlocks: [], values: Array.from({ length: 27860 }, (_, i) => ({ type: 'string', value: `https://shop.example.com/api/v1/products/${hex(8)}?page=${i % 50}` })) })],
  ['metrics, 200 series x 61 steps (rate)', () => encodeMetricsPartial(metricsAnswer(200, 61, false))],
  ['metrics, 200 series x 61 steps (quantile buckets)', () => encodeMetricsPartial(metricsAnswer(200, 61, true))],
  ['trace by ID, 500 spans', () => encodeFindTraceByIdResponse({ trace: trace(500), flushedBlocks: [meta] })],
  ['push, 100 traces x 20 spans (for comparison)', () => encodePushRequest({ tenantId: 'single-tenant', segments: Array.from({ length: 100 }, () => { const t = trace(20); const b = encodeTrace(t); return { traceId: t.resourceSpans[0].scopeSpans[0].spans[0].traceId, bytes: b, spanCount: 20, startTimeUnixNano: 1n, endTimeUnixNano: 2n }; }) })],
];

const cpuMs = (f) => { const t = process.cpuUsage(); f(); const d = process.cpuUsage(t); return (d.user + d.system) / 1000; };
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log('| answer | bytes | gzip-1 bytes (ratio) | gzip-6 bytes (ratio) | gzip-1 CPU ms/MB | gzip-6 CPU ms/MB | gunzip CPU ms/MB |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, make] of cases) {
  const buf = make();
  const mb = buf.length / 1048576;
  const z1 = gzipSync(buf, { level: 1 });
  const z6 = gzipSync(buf, { level: 6 });
  const c1 = [], c6 = [], d = [];
  for (let i = 0; i < RUNS; i++) {
    c1.push(cpuMs(() => gzipSync(buf, { level: 1 })));
    c6.push(cpuMs(() => gzipSync(buf, { level: 6 })));
    d.push(cpuMs(() => gunzipSync(z1)));
  }
  const r = (z) => `${z.length} (${(buf.length / z.length).toFixed(1)}x)`;
  console.log(`| ${name} | ${buf.length} | ${r(z1)} | ${r(z6)} | ${(median(c1) / mb).toFixed(1)} | ${(median(c6) / mb).toFixed(1)} | ${(median(d) / mb).toFixed(1)} |`);
}
