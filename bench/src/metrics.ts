// TraceQL metrics benchmark over stored spans: writes N spans spread over one hour into blocks
// (local backend; kept with --data DIR and reused), then times the queries over the whole
// hour (step 15 s, Tempo's default for 1 h):
//   - per core: each block job inline on this thread, CPU time -> spans per CPU-second;
//   - latency: the block jobs on the search worker pool (one worker per core), merged as the
//     query-frontend merges them, wall time.
// Runs alternate the queries (A B A B ...) and report medians, so a loaded machine skews both alike.
//
//   pnpm bench:metrics [--spans 2000000 --blocks 8 --runs 5 --data DIR]

import { mkdtemp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from '@andante/backend';
import { mulberry32, type KeyValue, type MetricsPartial, type MetricsRequest, type Span, type Trace } from '@andante/model';
import { BackendBlock, listBlockMetas, newBlockId, writeBlock, type BlockMeta, type TraceEntry } from '@andante/storage';
import { BlockSearchPool, metricsBlockJob } from '@andante/querier';
import { metricsEngine } from '@andante/traceql';

interface Options {
  spans: number;
  blocks: number;
  runs: number;
  data: string;
  /** Only this query (index in QUERIES); -1: all. */
  query: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { spans: 2_000_000, blocks: 8, runs: 5, data: '', query: -1 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '') as keyof Options;
    const value = argv[i + 1];
    if (!(key in o) || value === undefined) throw new Error(`unknown option or missing value: ${argv[i]}`);
    (o as unknown as Record<string, unknown>)[key] = typeof o[key] === 'number' ? Number(value.replace(/_/g, '')) : value;
  }
  return o;
}

const TENANT = 'single-tenant';
const HOUR = 3600n * 1_000_000_000n;
// A fixed hour, so a kept store answers the same queries.
const T0 = 1_767_225_600n * 1_000_000_000n;
const SERVICES = ['frontend', 'checkout', 'cart', 'payments', 'catalog', 'search', 'shipping', 'email'];
const NAMES = ['GET /api', 'POST /checkout', 'db.query', 'cache.get', 'render', 'publish'];
const str = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });

/** Traces of 10 spans over [T0, T0 + 1h), in trace-ID order, `count` of them starting at `first`. */
function traces(first: number, count: number, rnd: () => number): TraceEntry[] {
  const out: TraceEntry[] = [];
  for (let t = first; t < first + count; t++) {
    const traceId = new Uint8Array(16);
    new DataView(traceId.buffer).setUint32(0, t);
    for (let i = 4; i < 16; i++) traceId[i] = Math.floor(rnd() * 256);
    const start = T0 + BigInt(Math.floor(rnd() * Number(HOUR - 60_000_000_000n)));
    const byService = new Map<string, Span[]>();
    for (let s = 0; s < 10; s++) {
      const service = SERVICES[Math.floor(rnd() * SERVICES.length)]!;
      const spanId = new Uint8Array(8);
      new DataView(spanId.buffer).setUint32(0, t);
      spanId[7] = s + 1;
      const dur = BigInt(Math.floor(Math.exp(rnd() * 9) * 1e5));
      const span: Span = {
        traceId, spanId, traceState: '', parentSpanId: new Uint8Array(0), flags: 0,
        name: NAMES[Math.floor(rnd() * NAMES.length)]!, kind: 1 + (s % 3),
        startTimeUnixNano: start + BigInt(s) * 1_000_000n, endTimeUnixNano: start + BigInt(s) * 1_000_000n + dur,
        attributes: [str('http.route', `/r/${s % 7}`), str('peer', `p${Math.floor(rnd() * 50)}`)], droppedAttributesCount: 0,
        events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: rnd() < 0.05 ? 2 : 0, message: '' },
      };
      let l = byService.get(service);
      if (!l) byService.set(service, (l = []));
      l.push(span);
    }
    const trace: Trace = {
      resourceSpans: [...byService].map(([service, spans]) => ({
        resource: { attributes: [str('service.name', service), str('k8s.pod.name', `${service}-0`)], droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: 'bench', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
        schemaUrl: '',
      })),
    };
    out.push({ traceId, trace });
  }
  return out;
}

async function load(backend: LocalBackend, o: Options): Promise<BlockMeta[]> {
  const existing = await listBlockMetas(backend, TENANT).catch(() => []);
  if (existing.length > 0) return existing;
  const rnd = mulberry32(42);
  const perBlock = Math.ceil(o.spans / 10 / o.blocks);
  const metas: BlockMeta[] = [];
  for (let b = 0; b < o.blocks; b++) {
    const t0 = Date.now();
    metas.push(await writeBlock(backend, TENANT, newBlockId(), traces(b * perBlock, perBlock, rnd)));
    console.log(`  block ${b + 1}/${o.blocks}: ${perBlock * 10} spans in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  return metas;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const QUERIES = [
  '{ } | rate() by (resource.service.name)',
  '{ resource.service.name = "checkout" && name = "db.query" } | quantile_over_time(duration, .95)',
];

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const data = o.data || (await mkdtemp(join(tmpdir(), 'andante-metrics-')));
  const backend = new LocalBackend(join(data, 'traces'));
  console.log(`store ${data}${existsSync(join(data, 'traces', TENANT)) ? ' (reused)' : ''}`);
  const metas = await load(backend, o);
  const spans = metas.reduce((n, m) => n + m.totalSpans, 0);
  console.log(`${spans.toLocaleString('en-US')} spans in ${metas.length} blocks over 1 h; ${availableParallelism()} cores; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const req = (q: string): MetricsRequest => {
    const r = metricsEngine.alignRange({ startNs: T0, endNs: T0 + HOUR, stepNs: metricsEngine.defaultStepNs(T0, T0 + HOUR), instant: false });
    return { query: q, ...r, exemplars: 100 };
  };
  const blocks = metas.map((m) => new BackendBlock(backend, m));
  const pool = new BlockSearchPool(backend, () => ({ url: import.meta.resolve('@andante/traceql'), exportName: 'searchCompiler' }));
  const cpu = new Map<string, number[]>();
  const wall = new Map<string, number[]>();
  const answers = new Map<string, number>();
  for (let run = 0; run < o.runs + 1; run++) {
    for (const q of QUERIES.filter((_, i) => o.query < 0 || i === o.query)) {
      // Per core: inline, CPU time.
      const c0 = process.cpuUsage();
      const combiner = metricsEngine.combiner(req(q));
      for (const b of blocks) combiner.add(await metricsBlockJob(b, req(q), metricsEngine));
      const series = combiner.series();
      const c = process.cpuUsage(c0);
      // Latency: on the worker pool, merged as the frontend merges.
      const w0 = performance.now();
      const merged = metricsEngine.combiner(req(q));
      const parts: MetricsPartial[] = await Promise.all(metas.map((m) => pool.metrics(m, req(q))));
      for (const p of parts) merged.add(p);
      const pooled = merged.series();
      const ms = performance.now() - w0;
      if (run === 0) {
        answers.set(q, series.length);
        if (JSON.stringify(pooled.map((s) => s.samples.map((x) => x.value))) !== JSON.stringify(series.map((s) => s.samples.map((x) => x.value)))) throw new Error('pool and inline answers differ');
        continue; // warm-up
      }
      (cpu.get(q) ?? cpu.set(q, []).get(q)!).push((c.user + c.system) / 1000);
      (wall.get(q) ?? wall.set(q, []).get(q)!).push(ms);
    }
  }
  await pool.close();
  console.log('');
  console.log(`${'query'.padEnd(96)} | series | CPU ms (1 core) | spans/s per core | wall ms (pool) | spans/s`);
  for (const q of QUERIES.filter((_, i) => o.query < 0 || i === o.query)) {
    const c = median(cpu.get(q)!);
    const w = median(wall.get(q)!);
    console.log(
      `${q.padEnd(96)} | ${String(answers.get(q)).padStart(6)} | ${c.toFixed(0).padStart(15)} | ${((spans / c) * 1000).toExponential(2).padStart(16)} | ${w.toFixed(0).padStart(14)} | ${((spans / w) * 1000).toExponential(2)}`,
    );
  }
  console.log(`medians of ${o.runs} runs after a warm-up, queries alternating; load after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
}

await main();
