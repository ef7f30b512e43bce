// Event-loop stalls around a block flush: starts andante (the built binary, a child process),
// sends --mb MB of realistic OTLP/HTTP, then flushes one block of it (POST /flush, or with
// --mode auto the ingester's own cut: short max_block_duration), while a probe on its own thread
// sends GET /api/echo every 10 ms on a fixed schedule (open loop: a request due during a stall
// still counts, so the percentiles weigh stalls by their length). Prints per run and the medians:
// echo latency p50/p99/max over the flush window, the server's own andante_eventloop_lag_seconds
// histogram (when it has one) and prom-client's nodejs_eventloop_lag_max_seconds over the window.
//
//   node bench/dist/flush-lag.js [--mb 50 --runs 3 --mode flush|auto --cpuProf 0|1]
//
// --cpuProf 1 runs the server with `--cpu-prof` and prints where its profile is.
// ANDANTE_BIN runs another build's server.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { encodeBatches } from './payloads.js';

interface Options {
  mb: number;
  runs: number;
  mode: 'flush' | 'auto';
  cpuProf: number;
  concurrency: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { mb: 50, runs: 3, mode: 'flush', cpuProf: 0, concurrency: 4 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '');
    const v = argv[i + 1]!;
    if (key === 'mode') o.mode = v === 'auto' ? 'auto' : 'flush';
    else if (key in o) (o as unknown as Record<string, number>)[key] = Number(v);
    else throw new Error(`unknown option ${argv[i]}`);
  }
  return o;
}

// The probe runs on its own thread so the sender's work in this process does not delay it.
const PROBE_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const samples = [];
let stop = false;
parentPort.on('message', () => { stop = true; });
const t0 = performance.now();
let n = 0;
function tick() {
  if (stop) { parentPort.postMessage(samples); return; }
  const due = t0 + n * 10;
  n++;
  const sent = performance.now();
  const req = http.get({ host: '127.0.0.1', port: workerData.port, path: '/api/echo', agent }, (res) => {
    res.resume();
    res.on('end', () => samples.push([Date.now() - (performance.now() - sent), performance.now() - Math.min(due, sent)]));
  });
  req.on('error', () => {});
  setTimeout(tick, Math.max(0, t0 + n * 10 - performance.now()));
}
tick();
`;

const pct = (sorted: number[], p: number): number => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

function metricValue(text: string, name: string, labels = ''): number {
  for (const line of text.split('\n')) if (line.startsWith(`${name}${labels} `)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  return NaN;
}

/** p99 of a Prometheus histogram's increase between two scrapes (bucket upper bound), NaN if absent. */
function histogramP99(before: string, after: string, name: string): number {
  const buckets = (text: string): Map<string, number> => {
    const m = new Map<string, number>();
    for (const line of text.split('\n')) {
      const r = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)`).exec(line);
      if (r) m.set(r[1]!, Number(r[2]));
    }
    return m;
  };
  const b0 = buckets(before);
  const b1 = buckets(after);
  if (b1.size === 0) return NaN;
  const total = (b1.get('+Inf') ?? 0) - (b0.get('+Inf') ?? 0);
  for (const [le, c] of b1) if (c - (b0.get(le) ?? 0) >= total * 0.99) return Number(le) * 1000;
  return Infinity;
}

interface RunResult {
  echoP50: number;
  echoP99: number;
  echoMax: number;
  lagHistP99: number;
  promLagMax: number;
  flushMs: number;
}

async function run(o: Options, runNo: number): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'andante-flush-lag-'));
  const ingester =
    o.mode === 'flush'
      ? { max_block_duration: '1h', trace_idle_period: '1s', flush_check_period: '1s' }
      : { max_block_duration: '8s', trace_idle_period: '1s', flush_check_period: '1s' };
  const cfg = {
    server: { http_listen_address: '127.0.0.1', http_listen_port: 0, log_level: 'info' },
    distributor: { receivers: { otlp: { protocols: { http: { endpoint: '127.0.0.1:0' } } } } },
    ingester: { ...ingester, flush_all_on_shutdown: false },
    overrides: { defaults: { ingestion: { rate_limit_bytes: 1e9, burst_size_bytes: 1e9, max_traces_per_user: 10_000_000 } } },
    storage: { trace: { backend: 'local', local: { path: join(dir, 'traces') }, wal: { path: join(dir, 'wal') } } },
  };
  const cfgPath = join(dir, 'config.yaml');
  await writeFile(cfgPath, JSON.stringify(cfg));
  const bin = process.env['ANDANTE_BIN'] ?? join(dirname(fileURLToPath(import.meta.url)), '../../packages/server/dist/bin.js');
  const nodeArgs = o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'prof')}`] : [];
  const proc = spawn(process.execPath, [...nodeArgs, bin, `-config.file=${cfgPath}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  // A failed run (an export refused, say) must not leave the server running.
  const killServer = (): void => void proc.kill('SIGKILL');
  process.once('exit', killServer);
  let stderr = '';
  const ports = await new Promise<{ http: number; otlpHttp: number }>((resolve, reject) => {
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const m = /"msg":"andante started".*?"ports":(\{[^}]*\})/.exec(stderr);
      if (m) resolve(JSON.parse(m[1]!));
    });
    proc.once('exit', (code) => reject(new Error(`andante exited ${code}: ${stderr}`)));
  });

  // Batches of 512 realistic spans are ~230 KB each.
  const batches = encodeBatches(1, 512, 20);
  const count = Math.ceil((o.mb * 1e6) / batches[0]!.byteLength);
  const payloads = [...batches, ...encodeBatches(count - 1, 512, 20)];
  const totalBytes = payloads.reduce((n, p) => n + p.byteLength, 0);

  const probe = new Worker(PROBE_SOURCE, { eval: true, workerData: { port: ports.http } });
  const samples = new Promise<[number, number][]>((r) => probe.once('message', r));
  const ingestStart = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (next < payloads.length) {
        const body = payloads[next++]!;
        const res = await fetch(`http://127.0.0.1:${ports.otlpHttp}/v1/traces`, { method: 'POST', body, headers: { 'Content-Type': 'application/x-protobuf' } });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`export answered ${res.status}: ${text}`);
      }
    }),
  );
  const ingestEnd = Date.now();
  const before = await metricsText(ports.http); // also resets prom-client's lag histogram
  const flushStart = Date.now();
  if (o.mode === 'flush') {
    const res = await fetch(`http://127.0.0.1:${ports.http}/flush`, { method: 'POST' });
    if (res.status >= 300) throw new Error(`/flush answered ${res.status}`);
  } else {
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      if (metricValue(await metricsText(ports.http), 'tempo_ingester_blocks_flushed_total') >= 1) break;
    }
  }
  const flushEnd = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  const after = await metricsText(ports.http);
  probe.postMessage('stop');
  const all = await samples;
  await probe.terminate();
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  process.off('exit', killServer);
  if (o.cpuProf) console.log(`  profile: ${join(dir, 'prof')}/${(await readdir(join(dir, 'prof')))[0]}`);
  else await rm(dir, { recursive: true, force: true });

  // auto mode: the window is from the end of ingest (the cut comes up to max_block_duration later).
  const windowStart = o.mode === 'flush' ? flushStart : ingestEnd;
  const inWindow = all.filter(([t]) => t >= windowStart && t <= flushEnd + 1000).map(([, l]) => l).sort((a, b) => a - b);
  const during = all.filter(([t]) => t >= ingestStart && t < ingestEnd).map(([, l]) => l).sort((a, b) => a - b);
  const r: RunResult = {
    echoP50: pct(inWindow, 50),
    echoP99: pct(inWindow, 99),
    echoMax: pct(inWindow, 100),
    lagHistP99: histogramP99(before, after, 'andante_eventloop_lag_seconds'),
    promLagMax: metricValue(after, 'nodejs_eventloop_lag_max_seconds') * 1000,
    flushMs: flushEnd - flushStart,
  };
  console.log(
    `run ${runNo}: ${(totalBytes / 1e6).toFixed(1)} MB in ${payloads.length} exports, ingest ${ingestEnd - ingestStart} ms (echo p99 ${pct(during, 99).toFixed(1)} max ${pct(during, 100).toFixed(1)} ms); ` +
      `flush ${r.flushMs} ms: echo p50 ${r.echoP50.toFixed(1)} p99 ${r.echoP99.toFixed(1)} max ${r.echoMax.toFixed(1)} ms (${inWindow.length} probes), ` +
      `andante_eventloop_lag_seconds p99 ${r.lagHistP99} ms, nodejs_eventloop_lag_max ${r.promLagMax.toFixed(1)} ms`,
  );
  return r;
}

const o = parseOptions(process.argv.slice(2));
const results: RunResult[] = [];
for (let i = 1; i <= o.runs; i++) results.push(await run(o, i));
const m = (k: keyof RunResult): string => median(results.map((r) => r[k])).toFixed(1);
console.log(
  `median of ${o.runs} (${o.mode}, ${o.mb} MB): echo p50 ${m('echoP50')} p99 ${m('echoP99')} max ${m('echoMax')} ms; ` +
    `andante_eventloop_lag_seconds p99 ${m('lagHistP99')} ms; nodejs_eventloop_lag_max ${m('promLagMax')} ms; flush ${m('flushMs')} ms`,
);
