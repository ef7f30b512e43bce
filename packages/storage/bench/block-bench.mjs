// Block format benchmark: writes ~200k realistic spans (10 services, 20-span traces, ~10 span
// attributes) as one block on local disk, then times trace-by-ID lookups and a full iteration.
// Each run is a fresh process; the parent prints the median of 3 runs.
//
//   pnpm build && node packages/storage/bench/block-bench.mjs
//   env: SPANS (200000), RUNS (3), ROW_GROUP_SPANS, PAGE_SIZE (bytes), LOOKUPS (200)

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { makeTraces } from './block-data.mjs';
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

  const traces = makeTraces(Math.ceil(SPANS / SPANS_PER_TRACE), SPANS_PER_TRACE);
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
