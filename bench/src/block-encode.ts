// Block encoding micro-benchmark: N spans of realistic trace segments (bench/src/payloads.ts, cut
// per trace as the distributor cuts them) encoded into one block in process, exactly as a flush's
// encoder does (`encodeSegmentBlock`). Each run is a fresh child process; figures are CPU time of
// the process (process.cpuUsage: on a shared machine it counts work, not waiting for a core), so
// spans per CPU-second is "spans/s per core".
//
//   pnpm bench:block-encode [--spans 409600 --runs 3]
//     --storage DIR   encode with another build's @andante/storage dist (A/B: the runs alternate
//                     between this build and DIR, e.g. a copy of the previous commit's dist kept
//                     inside packages/storage so it resolves the same dependencies)
//     --pool 1        encode on a BlockEncoderPool worker (as the ingester does); RSS process-wide
//     --cpuProf DIR   write a V8 CPU profile of each child (inline only)

import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SegmentTrace } from '@andante/storage';
import { segmentTraces } from './segment-traces.js';

interface Options {
  spans: number;
  runs: number;
  batch: number;
  spansPerTrace: number;
  storage: string;
  pool: number;
  cpuProf: string;
  child: string;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { spans: 409_600, runs: 3, batch: 512, spansPerTrace: 20, storage: '', pool: 0, cpuProf: '', child: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '') as keyof Options;
    const value = argv[i + 1];
    if (!(key in o) || value === undefined) throw new Error(`unknown option or missing value: ${argv[i]}`);
    if (typeof o[key] === 'number') (o as unknown as Record<string, number>)[key] = Number(value.replace(/_/g, ''));
    else (o as unknown as Record<string, string>)[key] = value;
  }
  return o;
}

/** Export requests -> per-trace segments, as the ingester holds them (unsorted: the encoder sorts). */
function buildInput(o: Options): { traces: SegmentTrace[]; spans: number; otlpBytes: number } {
  return segmentTraces(o.spans, o.batch, o.spansPerTrace);
}

async function peakRssMiB(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function child(o: Options): Promise<void> {
  const url = o.child === 'self' ? import.meta.resolve('@andante/storage') : pathToFileURL(resolve(o.child, 'index.js')).href;
  const storage = (await import(url)) as typeof import('@andante/storage');
  const { traces, spans, otlpBytes } = buildInput(o);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const rssBefore = process.memoryUsage().rss / 2 ** 20;
  await writeFile('/proc/self/clear_refs', '5'); // VmHWM := current RSS
  const job = { tenantId: 'bench', blockId: storage.newBlockId(), traces, cfg: {}, compactionLevel: 0 };
  const wall = performance.now();
  const cpu = process.cpuUsage();
  let block;
  if (o.pool) {
    const pool = new storage.BlockEncoderPool(1);
    block = await pool.encode(job);
    await pool.close();
  } else {
    block = storage.encodeSegmentBlock(job);
  }
  const c = process.cpuUsage(cpu);
  const cpuS = (c.user + c.system) / 1e6;
  const wallS = (performance.now() - wall) / 1000;
  const peak = await peakRssMiB();
  const total = block.objects.reduce((n, ob) => n + ob.data.byteLength, 0);
  console.log(
    JSON.stringify({
      spans,
      spansPerCpuSec: Math.round(spans / cpuS),
      spansPerWallSec: Math.round(spans / wallS),
      cpuS: +cpuS.toFixed(2),
      bytesPerSpan: +(total / spans).toFixed(2),
      otlpOverBlock: +(otlpBytes / total).toFixed(2),
      peakOverBeforeMiB: Math.round(peak - rssBefore),
      rowGroups: block.meta.totalRecords,
    }),
  );
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function runChild(o: Options, storage: string): Record<string, number> {
  const args = ['--expose-gc'];
  if (o.cpuProf) args.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProf}`);
  args.push(fileURLToPath(import.meta.url), '--child', storage, '--spans', String(o.spans), '--batch', String(o.batch), '--spansPerTrace', String(o.spansPerTrace), '--pool', String(o.pool));
  const out = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (out.status !== 0) throw new Error(`bench child failed (${out.status}):\n${out.stdout}\n${out.stderr}`);
  return JSON.parse(out.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.child) return child(o);
  const builds: [string, string][] = [['this build', 'self']];
  if (o.storage) builds.push([o.storage, resolve(o.storage)]);
  const results = new Map<string, Record<string, number>[]>(builds.map(([name]) => [name, []]));
  for (let r = 0; r < o.runs; r++) {
    for (const [name, path] of r % 2 === 0 ? builds : [...builds].reverse()) {
      const fig = runChild(o, path);
      results.get(name)!.push(fig);
      console.log(`run ${r + 1} ${name}: ${JSON.stringify(fig)}`);
    }
  }
  for (const [name, figs] of results) {
    const keys = Object.keys(figs[0]!);
    console.log(`median of ${figs.length}, ${name}: ${keys.map((k) => `${k} ${median(figs.map((f) => f[k]!))}`).join(', ')}`);
  }
}

await main();
