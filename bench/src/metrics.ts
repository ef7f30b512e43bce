// TraceQL metrics benchmark over stored spans: writes N spans spread over one hour into blocks
// (local backend; kept with --data DIR and reused), then times the queries over the whole
// hour (step 15 s, Tempo's default for 1 h):
//   - per core: each block job inline on this thread, CPU time -> spans per CPU-second;
//   - latency: the block jobs on the search worker pool (one worker per core), merged as the
//     query-frontend merges them, wall time.
// Runs alternate the queries (A B A B ...) and report medians, so a loaded machine skews both alike.
// With --replicas N (N > 1) every block is stored N times more under other block IDs with
// `replicationFactor: N`, as N ingesters at RF N flush it, and the queries run as the frontend runs
// them over replicated blocks: trace-ID shards with the copies merged (spans/s count each span once).
//
//   pnpm bench:metrics [--spans 2000000 --blocks 8 --runs 5 --data DIR] [--replicas 3]

import { mkdtemp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from '@andante/backend';
import { mulberry32, type KeyValue, type MetricsPartial, type MetricsRequest, type Span, type Trace } from '@andante/model';
import { BackendBlock, DATA_NAME, INDEX_NAME, META_NAME, bloomName, encodeBlockMeta, listBlockMetas, newBlockId, writeBlock, type BlockMeta, type TraceEntry } from '@andante/storage';
import { BlockSearchPool, metricsBlockJob, metricsReplicatedJob } from '@andante/querier';
import { splitReplicatedJobs } from '@andante/query-frontend';
import { metricsEngine } from '@andante/traceql';

interface Options {
  spans: number;
  blocks: number;
  runs: number;
  data: string;
  /** Only this query (index in QUERIES); -1: all. */
  query: number;
  /** > 1: the blocks as replicated copies, read deduplicated. */
  replicas: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { spans: 2_000_000, blocks: 8, runs: 5, data: '', query: -1, replicas: 1 };
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

/** The block's objects again under a new ID, its meta saying `replicas` copies exist: what another replica flushed. */
let backendInUse: LocalBackend | undefined;

async function copyBlock(backend: LocalBackend, meta: BlockMeta, replicas: number): Promise<BlockMeta> {
  const copy: BlockMeta = { ...meta, blockID: newBlockId(), replicationFactor: replicas };
  const names = [DATA_NAME, INDEX_NAME, ...Array.from({ length: meta.bloomShards }, (_, i) => bloomName(i))];
  for (const name of names) await backend.write([TENANT, copy.blockID], name, await backend.read([TENANT, meta.blockID], name));
  await backend.write([TENANT, copy.blockID], META_NAME, encodeBlockMeta(copy));
  return copy;
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
  const originals = await load(backend, o);
  const spans = originals.reduce((n, m) => n + m.totalSpans, 0);
  let metas = originals;
  if (o.replicas > 1) {
    // Copies live beside the originals in a store of their own, so a kept store stays reusable.
    const copies = new LocalBackend(join(data, `replicas-${o.replicas}`));
    const kept = await listBlockMetas(copies, TENANT).catch(() => []);
    if (kept.length === originals.length * o.replicas) metas = kept;
    else {
      metas = [];
      for (const m of originals) {
        const names = [DATA_NAME, INDEX_NAME, ...Array.from({ length: m.bloomShards }, (_, i) => bloomName(i))];
        for (const name of names) await copies.write([TENANT, m.blockID], name, await backend.read([TENANT, m.blockID], name));
        const first: BlockMeta = { ...m, replicationFactor: o.replicas };
        await copies.write([TENANT, m.blockID], META_NAME, encodeBlockMeta(first));
        metas.push(first);
        for (let r = 1; r < o.replicas; r++) metas.push(await copyBlock(copies, first, o.replicas));
      }
    }
    backendInUse = copies;
    console.log(`${metas.length} blocks: each of the ${originals.length} stored ${o.replicas} times, replicationFactor ${o.replicas}`);
  }
  console.log(`${spans.toLocaleString('en-US')} spans in ${metas.length} blocks over 1 h; ${availableParallelism()} cores; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const req = (q: string): MetricsRequest => {
    const r = metricsEngine.alignRange({ startNs: T0, endNs: T0 + HOUR, stepNs: metricsEngine.defaultStepNs(T0, T0 + HOUR), instant: false });
    return { query: q, ...r, exemplars: 100 };
  };
  const store = backendInUse ?? backend;
  const blocks = metas.map((m) => new BackendBlock(store, m));
  const pool = new BlockSearchPool(store, () => ({ url: import.meta.resolve('@andante/traceql'), exportName: 'searchCompiler' }));
  // As the frontend splits them: per block for factor 1, trace-ID shards over replicated blocks (at least one per worker).
  const byId = new Map(blocks.map((b) => [b.meta.blockID, b]));
  const pooledJobs = (r: MetricsRequest): Promise<MetricsPartial>[] =>
    o.replicas > 1 ? splitReplicatedJobs(r, metas, pool.size).map((j) => pool.metricsReplicated(j.metas, j.req, j.shard)) : metas.map((m) => pool.metrics(m, r));
  const cpu = new Map<string, number[]>();
  const wall = new Map<string, number[]>();
  const answers = new Map<string, number>();
  for (let run = 0; run < o.runs + 1; run++) {
    for (const q of QUERIES.filter((_, i) => o.query < 0 || i === o.query)) {
      // Per core: inline, CPU time.
      const c0 = process.cpuUsage();
      const combiner = metricsEngine.combiner(req(q));
      // One job at a time (the pool is for latency).
      if (o.replicas > 1) for (const j of splitReplicatedJobs(req(q), metas, pool.size)) combiner.add(await metricsReplicatedJob(j.metas.map((m) => byId.get(m.blockID)!), j.req, j.shard, metricsEngine));
      else for (const b of blocks) combiner.add(await metricsBlockJob(b, req(q), metricsEngine));
      const series = combiner.series();
      const c = process.cpuUsage(c0);
      // Latency: on the worker pool, merged as the frontend merges.
      const w0 = performance.now();
      const merged = metricsEngine.combiner(req(q));
      const parts: MetricsPartial[] = await Promise.all(pooledJobs(req(q)));
      for (const p of parts) merged.add(p);
      const pooled = merged.series();
      const ms = performance.now() - w0;
      if (run === 0) {
        answers.set(q, series.length);
        if (o.replicas > 1) {
          // Deduplicated copies answer what the originals answer block by block.
          const once = metricsEngine.combiner(req(q));
          for (const m of originals) once.add(await metricsBlockJob(new BackendBlock(backend, m), req(q), metricsEngine));
          if (JSON.stringify(once.series().map((s) => s.samples.map((x) => x.value))) !== JSON.stringify(series.map((s) => s.samples.map((x) => x.value)))) throw new Error('replicated answer differs from the single copy');
        }
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
