// Compactor benchmark: peak RSS and CPU of one compaction cycle over `spans` spans in `blocks`
// blocks of one window on a local backend. CPU is the child's process.cpuUsage (every thread:
// the main thread's merge and the encoder workers), so "spans per CPU-second" is compaction
// throughput per core, steady on a shared machine. The blocks are written once into --data (reused by
// later runs); each run compacts a fresh copy in a child process, so the peak RSS it reports
// (getrusage maxrss, worker threads included) is the compaction's alone.
//
//   pnpm build && node bench/dist/compact-memory.js [--spans 1000000 --blocks 4 --data DIR]
//     [--outputBufferBytes N]   the compactor's output block budget (0: the compactor's default)
//     [--readLatencyMs N]       each ranged read of the compaction waits N ms first, as an object
//                               store's first byte does (S3: tens of ms); the local disk otherwise

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { compareBytes, countSpans, defaultTenantLimits, silentLogger, staticLimits, type Trace } from '@andante/model';
import { LocalBackend, type Backend, type KeyPath } from '@andante/backend';
import { BlockEncoderPool, listTenantBlocks, newBlockId, writeBlock } from '@andante/storage';
import { Compactor, defaultCompactorConfig, type CompactorDeps } from '@andante/compactor';
import { makeBatch } from './payloads.js';

// prom-client is the compactor's dependency, not the bench's: take the compactor's copy.
const { Registry } = createRequire(import.meta.resolve('@andante/compactor'))('prom-client') as { Registry: new () => CompactorDeps['registry'] };

const TENANT = 'bench';
const SPANS_PER_TRACE = 20;

interface Options {
  spans: number;
  blocks: number;
  data: string;
  outputBufferBytes: number;
  readLatencyMs: number;
  child: string;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { spans: 1_000_000, blocks: 4, data: '', outputBufferBytes: 0, readLatencyMs: 0, child: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '') as keyof Options;
    const value = argv[i + 1];
    if (!(key in o) || value === undefined) throw new Error(`unknown option or missing value: ${argv[i]}`);
    if (typeof o[key] === 'number') (o as unknown as Record<string, number>)[key] = Number(value.replace(/_/g, ''));
    else (o as unknown as Record<string, string>)[key] = value;
  }
  return o;
}

/** Writes `blocks` blocks of realistic traces (~20 spans each), all starting within a second. */
async function prepare(dir: string, o: Options): Promise<void> {
  const backend = new LocalBackend(dir);
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const tracesPerBlock = Math.ceil(o.spans / SPANS_PER_TRACE / o.blocks);
  for (let b = 0; b < o.blocks; b++) {
    const entries: { traceId: Uint8Array; trace: Trace }[] = [];
    for (let t = 0; t < tracesPerBlock; t++) {
      const trace = makeBatch(SPANS_PER_TRACE, SPANS_PER_TRACE, nowNs + BigInt(t) * 1000n);
      entries.push({ traceId: trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId, trace });
    }
    entries.sort((x, y) => compareBytes(x.traceId, y.traceId));
    const meta = await writeBlock(backend, TENANT, newBlockId(), entries);
    console.log(`prepared block ${b + 1}/${o.blocks}: ${meta.totalSpans || entries.reduce((n, e) => n + countSpans(e.trace), 0)} spans, ${(meta.size / 2 ** 20).toFixed(1)} MiB`);
  }
}

/** Runs in the child: one compaction cycle over `dir`, then its figures as one JSON line. */
async function compactOnce(dir: string, o: Options): Promise<void> {
  const local = new LocalBackend(dir);
  // --readLatencyMs: the local backend, each ranged read delayed (the rest delegated to it).
  const backend: Backend =
    o.readLatencyMs > 0
      ? Object.assign(Object.create(local) as Backend, {
          readRange: async (keypath: KeyPath, name: string, offset: number, length: number) => {
            await new Promise((r) => setTimeout(r, o.readLatencyMs));
            return local.readRange(keypath, name, offset, length);
          },
        })
      : local;
  const encoder = new BlockEncoderPool();
  const cfg = { ...defaultCompactorConfig(), ...(o.outputBufferBytes > 0 ? { outputBlockBufferBytes: o.outputBufferBytes } : {}) };
  const compactor = new Compactor({ cfg, backend, encoder, limits: staticLimits(defaultTenantLimits()), registry: new Registry(), logger: silentLogger });
  // The main thread's heap and buffers at their peaks, to tell live data from garbage in the RSS.
  const peak = { heapUsedMiB: 0, arrayBuffersMiB: 0 };
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak.heapUsedMiB = Math.max(peak.heapUsedMiB, m.heapUsed / 2 ** 20);
    peak.arrayBuffersMiB = Math.max(peak.arrayBuffersMiB, m.arrayBuffers / 2 ** 20);
  }, 100);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const result = await compactor.runCycle();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  clearInterval(sampler);
  await encoder.close();
  const { metas } = await listTenantBlocks(backend, TENANT);
  console.log(JSON.stringify({
    compactions: result.compactions,
    outputs: metas.length,
    spans: metas.reduce((n, m) => n + m.totalSpans, 0),
    traces: metas.reduce((n, m) => n + m.totalObjects, 0),
    seconds,
    cpuSeconds,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    ...peak,
  }));
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.child) return compactOnce(o.child, o);
  const data = o.data || join(tmpdir(), `andante-compact-bench-${o.spans}-${o.blocks}`);
  if (!existsSync(join(data, TENANT))) await prepare(data, o);
  const work = await mkdtemp(join(tmpdir(), 'andante-compact-run-'));
  try {
    await cp(data, work, { recursive: true });
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', work, '--outputBufferBytes', String(o.outputBufferBytes), '--readLatencyMs', String(o.readLatencyMs)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (child.status !== 0) throw new Error(`compaction child exited with ${child.status}`);
    const figures = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    console.log(`${o.spans} spans in ${o.blocks} blocks -> ${figures.outputs} block(s), ${figures.spans} spans, ${figures.traces} traces; ` +
      `${figures.seconds!.toFixed(1)} s, CPU ${figures.cpuSeconds!.toFixed(1)} s (${Math.round(figures.spans! / figures.cpuSeconds!)} spans per CPU-second), peak RSS ${figures.peakRssMiB!.toFixed(0)} MiB ` +
      `(main thread: heap used ${figures.heapUsedMiB!.toFixed(0)} MiB, array buffers ${figures.arrayBuffersMiB!.toFixed(0)} MiB)`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
