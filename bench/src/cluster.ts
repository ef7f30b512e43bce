// Cluster benchmark (issue 12, "Benchmark"): the same OTLP/gRPC load into
//  - `all`: one `-target=all` process (RF 1, in-process calls), and
//  - `rf1` / `rf3`: the multi-process cluster of test/src/cluster.ts (etcd, 2 distributors,
//    3 ingesters, 1 querier, 1 query-frontend; each its own process) at replication factor 1 and 3,
// in alternating order (all, rf1, rf3, all, rf1, rf3, ...), each on fresh processes. Per run:
//  - acknowledged spans/s (exports spread over the distributors; every export must answer OK),
//  - CPU seconds of every server process (from /proc: all threads) per acknowledged span, over the
//    load and the final /flush of every ingester (replicas encode their own blocks),
//  - backend bytes at rest per acknowledged span after that flush (compaction off: what RF costs
//    before the compactor deduplicates replicas),
//  - TraceQL search latency (median of --searchRuns per query, limit 20) through the frontend vs
//    the in-process frontend of `all` (skipped with --search 0, and in rf1).
// Storage is a local directory shared by the cluster's processes (the bytes are the same on S3;
// an S3 server would add its own CPU to the figures). Prints medians per mode and the ratios.
//
//   pnpm bench:cluster [-- --spans 200000 --batch 500 --concurrency 8 --runs 3 --searchRuns 5 --search 1 --combinedFrontend 0]

import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Cluster, type ClusterNode } from '@andante/test/cluster';
import { makeTempDir, removeTempDirs, startProcess, type AndanteProcess } from '@andante/test/harness';
import { encodeBatches } from './payloads.js';

interface Options {
  spans: number;
  batch: number;
  spansPerTrace: number;
  concurrency: number;
  runs: number;
  searchRuns: number;
  search: number;
  /** 1: the frontend and the querier in one process (-target=querier,query-frontend), for builds without the frontend <-> querier transport. */
  combinedFrontend: number;
  /** 0: skip the RF 1 cluster (e.g. to time search only, which rf1 does not run). */
  rf1: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { spans: 200_000, batch: 500, spansPerTrace: 10, concurrency: 8, runs: 3, searchRuns: 5, search: 1, combinedFrontend: 0, rf1: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '') as keyof Options;
    if (!(key in o)) throw new Error(`unknown option ${argv[i]}`);
    o[key] = Number(argv[i + 1]);
  }
  return o;
}

type Mode = 'all' | 'rf1' | 'rf3';

interface RunResult {
  spansPerSec: number;
  cpuUsPerSpan: number;
  bytesPerSpan: number;
  /** query -> median ms */
  search: Map<string, number>;
}

const QUERIES = [
  '{ resource.service.name = "checkout" }',
  '{ span.http.status_code = 500 }',
  '{ resource.service.name = "frontend" } >> { span.db.system = "postgresql" }',
  '{ span.http.status_code = 599 }',
];

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** CPU seconds (user + system, every thread) of a process, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function dirBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    n += st.isDirectory() ? dirBytes(p) : st.size;
  }
  return n;
}

/** Sends every payload (round-robin over the ports), `concurrency` in flight; seconds taken. */
async function sendAll(ports: number[], payloads: Uint8Array[], concurrency: number): Promise<number> {
  const clients = ports.map((p) => new grpc.Client(`127.0.0.1:${p}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20 }));
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < payloads.length; i = next++) {
      const client = clients[i % clients.length]!;
      await new Promise<void>((resolve, reject) =>
        client.makeUnaryRequest(EXPORT_PATH, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(payloads[i]!), { deadline: Date.now() + 60_000 }, (err) =>
          err ? reject(new Error(`export failed: ${err.code} ${err.details}`)) : resolve(),
        ),
      );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  for (const c of clients) c.close();
  return seconds;
}

async function searchMedians(httpPort: number, o: Options, startSec: number, endSec: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const q of QUERIES) {
    const url = `http://127.0.0.1:${httpPort}/api/search?q=${encodeURIComponent(q)}&start=${startSec}&end=${endSec}&limit=20`;
    const times: number[] = [];
    for (let r = 0; r <= o.searchRuns; r++) {
      const t0 = performance.now();
      const res = await fetch(url);
      const text = await res.text();
      if (res.status !== 200) throw new Error(`search ${q}: ${res.status} ${text}`);
      if (r > 0) times.push(performance.now() - t0); // the first run warms up
    }
    out.set(q, median(times));
  }
  return out;
}

const LIMITS = { ingestion: { rate_limit_bytes: 10_000_000_000, burst_size_bytes: 10_000_000_000, max_traces_per_user: 10_000_000 }, global: { max_bytes_per_trace: 50_000_000 } };

async function flushAll(ports: number[]): Promise<void> {
  await Promise.all(
    ports.map(async (p) => {
      const res = await fetch(`http://127.0.0.1:${p}/flush`, { method: 'POST' });
      if (res.status >= 300) throw new Error(`/flush answered ${res.status}`);
    }),
  );
}

async function runAll(o: Options, payloads: Uint8Array[]): Promise<RunResult> {
  const dir = makeTempDir('bench-cluster-all');
  const proc: AndanteProcess = await startProcess(dir, { overrides: { defaults: LIMITS }, compactor: { compaction: { compaction_disabled: true } } }, 120_000);
  try {
    const pid = proc.child.pid!;
    const startSec = Math.floor(Date.now() / 1000) - 3600;
    const cpu0 = cpuSeconds(pid);
    const seconds = await sendAll([proc.ports.otlpGrpc!], payloads, o.concurrency);
    await flushAll([proc.ports.http]);
    const cpu = cpuSeconds(pid) - cpu0;
    const spans = payloads.length * o.batch;
    const search = o.search ? await searchMedians(proc.ports.http, o, startSec, Math.floor(Date.now() / 1000) + 60) : new Map<string, number>();
    return { spansPerSec: spans / seconds, cpuUsPerSpan: (cpu * 1e6) / spans, bytesPerSpan: dirBytes(join(dir, 'traces')) / spans, search };
  } finally {
    await proc.stop();
  }
}

async function runCluster(o: Options, payloads: Uint8Array[], rf: number): Promise<RunResult> {
  const storeDir = makeTempDir('bench-cluster-store');
  const cluster = await Cluster.start({
    replicationFactor: rf,
    common: {
      storage: { trace: { backend: 'local', local: { path: storeDir } } },
      overrides: { defaults: LIMITS },
    },
  });
  try {
    const fe = await cluster.define({ name: 'query-frontend', target: o.combinedFrontend ? 'querier,query-frontend' : 'query-frontend' });
    const worker = { querier: { frontend_worker: { frontend_address: `127.0.0.1:${fe.grpcPort}` } } };
    await Promise.all([
      fe.start(),
      cluster.add(
        { name: 'ingester-1', target: 'ingester' },
        { name: 'ingester-2', target: 'ingester' },
        { name: 'ingester-3', target: 'ingester' },
        ...(o.combinedFrontend ? [] : [{ name: 'querier-1', target: 'querier', extra: worker }]),
        { name: 'distributor-1', target: 'distributor' },
        { name: 'distributor-2', target: 'distributor' },
      ),
    ]);
    await cluster.waitRing('/ingester/ring', { 'ingester-1': 'ACTIVE', 'ingester-2': 'ACTIVE', 'ingester-3': 'ACTIVE' });
    const nodes: ClusterNode[] = [...cluster.nodes.values()];
    const ingesters = nodes.filter((n) => n.target === 'ingester');
    const startSec = Math.floor(Date.now() / 1000) - 3600;
    const cpu0 = nodes.map((n) => cpuSeconds(n.pid));
    const seconds = await sendAll(cluster.byTarget('distributor').map((d) => d.otlpGrpc), payloads, o.concurrency);
    await flushAll(ingesters.map((n) => n.http));
    const cpu = nodes.reduce((s, n, i) => s + cpuSeconds(n.pid) - cpu0[i]!, 0);
    const spans = payloads.length * o.batch;
    const search = o.search && rf === 3 ? await searchMedians(fe.http, o, startSec, Math.floor(Date.now() / 1000) + 60) : new Map<string, number>();
    return { spansPerSec: spans / seconds, cpuUsPerSpan: (cpu * 1e6) / spans, bytesPerSpan: dirBytes(storeDir) / spans, search };
  } finally {
    await cluster.close();
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const count = Math.ceil(o.spans / o.batch);
  const results: Record<Mode, RunResult[]> = { all: [], rf1: [], rf3: [] };
  const loads: number[] = [];
  for (let run = 0; run < o.runs; run++) {
    for (const mode of (o.rf1 ? ['all', 'rf1', 'rf3'] : ['all', 'rf3']) as Mode[]) {
      // Fresh payloads per run (distinct traces), made before the timed part.
      const payloads = encodeBatches(count, o.batch, o.spansPerTrace);
      loads.push(Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]));
      const r = mode === 'all' ? await runAll(o, payloads) : await runCluster(o, payloads, mode === 'rf1' ? 1 : 3);
      results[mode].push(r);
      console.log(`run ${run + 1} ${mode}: ${Math.round(r.spansPerSec)} spans/s, ${r.cpuUsPerSpan.toFixed(1)} CPU-us/span, ${r.bytesPerSpan.toFixed(1)} B/span at rest${[...r.search].map(([q, ms]) => `; ${q} ${ms.toFixed(0)} ms`).join('')}`);
    }
  }
  const med = (mode: Mode, k: 'spansPerSec' | 'cpuUsPerSpan' | 'bytesPerSpan'): number => median(results[mode].map((r) => r[k]));
  console.log(`\n${o.spans} spans per run, batches of ${o.batch}, ${o.concurrency} exports in flight, ${o.runs} runs per mode; load average at run starts ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`);
  console.log('| mode | spans/s acknowledged | server CPU-us per span | backend bytes per span |');
  console.log('|---|---|---|---|');
  for (const m of ['all', 'rf1', 'rf3'] as Mode[]) if (results[m].length > 0) console.log(`| ${m} | ${Math.round(med(m, 'spansPerSec'))} | ${med(m, 'cpuUsPerSpan').toFixed(1)} | ${med(m, 'bytesPerSpan').toFixed(1)} |`);
  if (o.rf1) console.log(`cluster rf3 / all throughput: ${(med('rf3', 'spansPerSec') / med('all', 'spansPerSec')).toFixed(2)}; rf3 / rf1 CPU per span: ${(med('rf3', 'cpuUsPerSpan') / med('rf1', 'cpuUsPerSpan')).toFixed(2)}, bytes per span: ${(med('rf3', 'bytesPerSpan') / med('rf1', 'bytesPerSpan')).toFixed(2)}`);
  if (o.search) {
    for (const q of QUERIES) {
      const a = median(results.all.map((r) => r.search.get(q)!));
      const c = median(results.rf3.map((r) => r.search.get(q)!));
      console.log(`search ${q}: in-process ${a.toFixed(0)} ms, through the cluster's frontend ${c.toFixed(0)} ms (x${(c / a).toFixed(2)})`);
    }
  }
  removeTempDirs();
}

main().catch((err: unknown) => {
  console.error(err);
  removeTempDirs();
  process.exit(1);
});
