// Block format benchmark: writes ~200k realistic spans (10 services, 20-span traces, ~10 span
// attributes) as one block on local disk, then times trace-by-ID lookups and a full iteration.
// Each run is a fresh process; the parent prints the median of 3 runs.
//
//   pnpm build && node packages/storage/bench/block-bench.mjs
//   env: SPANS (200000), RUNS (3), ROW_GROUP_SPANS, PAGE_SIZE (bytes), LOOKUPS (200)

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SPANS = Number(process.env.SPANS ?? 200_000);
const RUNS = Number(process.env.RUNS ?? 3);
const LOOKUPS = Number(process.env.LOOKUPS ?? 200);
const SPANS_PER_TRACE = 20;
const cfg = {};
if (process.env.ROW_GROUP_SPANS) cfg.rowGroupSpans = Number(process.env.ROW_GROUP_SPANS);
if (process.env.PAGE_SIZE) cfg.pageSizeBytes = Number(process.env.PAGE_SIZE);

if (process.argv[2] === '--child') {
  await child();
} else {
  parent();
}

function parent() {
  const results = [];
  for (let i = 0; i < RUNS; i++) {
    const out = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child'], {
      env: process.env,
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    if (out.status !== 0) {
      process.stderr.write(out.stderr);
      process.exit(1);
    }
    const r = JSON.parse(out.stdout.trim().split('\n').pop());
    results.push(r);
    console.log(`run ${i + 1}: ${JSON.stringify(r)}`);
  }
  const median = (k) => {
    const v = results.map((r) => r[k]).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  const keys = Object.keys(results[0]);
  console.log(`\nmedian of ${RUNS} runs (${SPANS} spans, cfg ${JSON.stringify(cfg)}):`);
  for (const k of keys) console.log(`  ${k.padEnd(22)} ${median(k)}`);
}

async function child() {
  const { LocalBackend } = await import('../../backend/dist/index.js');
  const { BackendBlock, encodeBlock, newBlockId, writeBlock } = await import('../dist/index.js');

  const traces = makeTraces(Math.ceil(SPANS / SPANS_PER_TRACE));
  const spans = traces.length * SPANS_PER_TRACE;
  const root = await mkdtemp(join(tmpdir(), 'andante-block-bench-'));
  try {
    const backend = new LocalBackend(root);
    globalThis.gc?.();

    let t = performance.now();
    const encoded = encodeBlock('bench', newBlockId(), traces, cfg);
    const encodeMs = performance.now() - t;
    const totalBytes = encoded.objects.reduce((n, o) => n + o.data.byteLength, 0);

    globalThis.gc?.();
    t = performance.now();
    const meta = await writeBlock(backend, 'bench', newBlockId(), traces, cfg);
    const writeMs = performance.now() - t;

    // Lookups: random stored IDs; a fresh block object so the first one pays footer + index.
    const block = new BackendBlock(backend, meta);
    const pick = Array.from({ length: LOOKUPS }, (_, i) => traces[(i * 7919) % traces.length]);
    const times = [];
    for (const { traceId } of pick) {
      const s = performance.now();
      const tr = await block.findTraceById(traceId);
      times.push(performance.now() - s);
      if (!tr) throw new Error('lookup missed a stored trace');
    }
    const first = times[0];
    const sorted = times.slice().sort((a, b) => a - b);
    const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

    // Absent IDs: mostly bloom negatives.
    t = performance.now();
    for (let i = 0; i < LOOKUPS; i++) if (await block.findTraceById(randomBytes(16))) throw new Error('phantom');
    const missMs = (performance.now() - t) / LOOKUPS;

    globalThis.gc?.();
    t = performance.now();
    let n = 0;
    for await (const _ of new BackendBlock(backend, meta).iterateTraces()) n++;
    const iterateMs = performance.now() - t;
    if (n !== traces.length) throw new Error(`iterated ${n} of ${traces.length}`);

    const r = {
      spans,
      rowGroups: meta.totalRecords,
      encodeMs: Math.round(encodeMs),
      writeBlockMs: Math.round(writeMs),
      dataBytes: meta.size,
      dataBytesPerSpan: +(meta.size / spans).toFixed(1),
      allBytesPerSpan: +(totalBytes / spans).toFixed(1),
      bloomShards: meta.bloomShards,
      lookupFirstMs: +first.toFixed(1),
      lookupP50Ms: +q(0.5).toFixed(1),
      lookupP99Ms: +q(0.99).toFixed(1),
      missMeanMs: +missMs.toFixed(2),
      iterateMs: Math.round(iterateMs),
      rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
    };
    console.log(JSON.stringify(r));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

// --- realistic data -------------------------------------------------------------------------

function makeTraces(count) {
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
