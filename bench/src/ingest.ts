// Ingest benchmark: a load generator sends OTLP/gRPC exports to a started andante (child process)
// for a fixed span count, then flushes and measures bytes at rest. The load generator frames
// gRPC itself on one node:http2 connection: on a 2-core machine it shares the cores with the
// server, and grpc-js's client costs about twice the CPU per export (0.35 vs 0.16 cores at
// ~130 MB/s), taken from the server. `--grpcjs 1` sends with grpc-js instead. In the same run it measures the
// local limit: the same payloads only decoded, split by trace and appended to a group-committed
// WAL file in this process. Every export carries distinct traces and spans (no reused payloads, so
// bytes at rest are not flattered by repeats). Prints medians of several runs.
//
//   pnpm bench:ingest [-- --spans 600000 --batch 512 --concurrency 8 --runs 3 --grpcjs 0 --warmup 0.1]
//
// Both sides are warmed up first, untimed: the server on the first --warmup share of the exports
// (a fresh process each run, whose JIT otherwise warms inside the timed window) and the local
// limit on the same exports; the figures are over the rest.
//
// Sustained mode (--sustained 1): the server cuts small blocks (--blockBytes, --blockDuration
// seconds) so blocks are cut and flushed while the load runs; the run reports, beside acknowledged
// MB/s, the spans written to blocks per second during the load and in its second half (steady
// state), refused exports (429 / RESOURCE_EXHAUSTED, retried after Retry-After as an OTLP exporter
// does), the peak of andante_ingester_unflushed_bytes, and how long the final /flush took. The local
// limit is skipped. --unflushedBytes sets ingester.max_unflushed_bytes (0: the server's default, key
// not written, so builds without it run too); ANDANTE_BIN runs another build's server, and
// ANDANTE_SERVER_NODE_FLAGS gives its node extra flags (space-separated, e.g. V8's heap sizes), so
// they apply to the server and not to the load generator.
//
//   node bench/dist/ingest.js --sustained 1 --spans 3000000 --runs 3 --concurrency 16
//
// Generator mode (--generator 1): the issue's measure of the metrics-generator's cost. Each round
// runs the same load twice on fresh servers, without and with the generator's span-metrics and
// service-graphs processors enabled for the tenant (overrides.defaults), in alternating order
// (A B, B A, ...); prints the median throughput of each and their ratio. The generator's own
// counters are read after each "with" run so a generator that fell behind (pushes dropped at the
// tap, spans outside the ingestion slack) shows instead of flattering the ratio.
//
//   node bench/dist/ingest.js --generator 1 --spans 400000 --runs 5 [--traceIdle 3600]

import { spawn, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync, readdirSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { decodeExportRequest } from '@andante/distributor';
import { splitExportRequest } from '@andante/distributor';
import { WalFile } from '@andante/storage';
import { encodeBatches } from './payloads.js';

interface Options {
  spans: number;
  batch: number;
  spansPerTrace: number;
  concurrency: number;
  runs: number;
  sustained: number;
  blockBytes: number;
  blockDuration: number;
  unflushedBytes: number;
  grpcjs: number;
  warmup: number;
  generator: number;
  traceIdle: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = {
    spans: 600_000,
    batch: 512,
    spansPerTrace: 20,
    concurrency: 8,
    runs: 3,
    sustained: 0,
    blockBytes: 64 * 1024 * 1024,
    blockDuration: 10,
    unflushedBytes: 0,
    grpcjs: 0,
    warmup: 0.1,
    generator: 0,
    traceIdle: 0,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '') as keyof Options;
    if (!(key in o)) throw new Error(`unknown option ${argv[i]}`);
    o[key] = Number(argv[i + 1]);
  }
  return o;
}

/** One export request, encoded once; every payload holds distinct traces and spans. */
interface Payload {
  bytes: Buffer;
  spans: number;
}

function preparePayloads(o: Options): Payload[] {
  return encodeBatches(Math.ceil(o.spans / o.batch), o.batch, o.spansPerTrace).map((enc) => ({
    bytes: Buffer.from(enc),
    spans: decodeExportRequest(enc).spans.length,
  }));
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function ingesterConfig(o: Options): string[] {
  // --traceIdle <s>: ingester.trace_idle_period. In generator mode a long one (e.g. 3600) keeps the
  // ingester's deferred work (cutting idle traces to the WAL) out of both runs' window: with the
  // server default (10 s) a run slowed past 10 s starts cutting inside its window and a faster one
  // does not, which charges that work to the generator.
  const idle = o.traceIdle > 0 ? [`trace_idle_period: ${o.traceIdle}s`] : [];
  if (!o.sustained) return idle.length > 0 ? [`ingester: { ${idle.join(', ')} }`] : [];
  const keys = [
    `max_block_bytes: ${o.blockBytes}`,
    `max_block_duration: ${o.blockDuration}s`,
    'flush_check_period: 1s',
    ...(idle.length > 0 ? idle : ['trace_idle_period: 2s']),
    ...(o.unflushedBytes > 0 ? [`max_unflushed_bytes: ${o.unflushedBytes}`] : []),
  ];
  return [`ingester: { ${keys.join(', ')} }`];
}

/** With `withGenerator`, the tenant's overrides enable span-metrics and service-graphs (no remote_write: collection still runs). */
async function startServer(dir: string, o: Options, withGenerator = false): Promise<{ proc: ChildProcess; http: number; grpc: number }> {
  const cfg = join(dir, 'andante.yaml');
  const generatorOverrides = withGenerator ? ', metrics_generator: { processors: [span-metrics, service-graphs] }' : '';
  await writeFile(
    cfg,
    [
      'server: { http_listen_address: 127.0.0.1, http_listen_port: 0, log_level: warn }',
      ...ingesterConfig(o),
      'distributor: { receivers: { otlp: { protocols: { grpc: { endpoint: "127.0.0.1:0", max_recv_msg_size_mib: 16 } } } } }',
      `storage: { trace: { local: { path: ${join(dir, 'traces')} }, wal: { path: ${join(dir, 'wal')} } } }`,
      // The payloads' spans end when they were made, before the runs: a long slack keeps them all in.
      ...(withGenerator ? ['metrics_generator: { metrics_ingestion_time_range_slack: 24h }'] : []),
      `overrides: { defaults: { ingestion: { rate_limit_bytes: 10000000000, burst_size_bytes: 10000000000, max_traces_per_user: 10000000 }, global: { max_bytes_per_trace: 50000000 }${generatorOverrides} } }`,
    ].join('\n'),
  );
  const bin = process.env['ANDANTE_BIN'] ?? join(dirname(fileURLToPath(import.meta.url)), '../../packages/server/dist/bin.js');
  // ANDANTE_CPU_PROF=<dir>: the server writes a V8 CPU profile there (it is then stopped with SIGTERM, not SIGKILL).
  const prof = process.env['ANDANTE_CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['ANDANTE_CPU_PROF']}`] : [];
  const extra = (process.env['ANDANTE_SERVER_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...extra, ...prof, bin, `-config.file=${cfg}`, '-server.log_level=info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    proc.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) {
        if (!line.includes('andante started')) continue;
        const ports = JSON.parse(line).ports as { http: number; otlpGrpc: number };
        resolve({ proc, http: ports.http, grpc: ports.otlpGrpc });
      }
    });
    proc.on('exit', (code) => reject(new Error(`andante exited (${code}): ${buf}`)));
  });
}

function rssMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

interface RunResult {
  spansPerSec: number;
  mbPerSec: number;
  p50Ms: number;
  p99Ms: number;
  peakRssMiB: number;
  bytesPerSpanAtRest: number;
  otlpBytesPerSpan: number;
  localSpansPerSec: number;
  localMbPerSec: number;
}

interface SustainedResult {
  spansPerSec: number;
  mbPerSec: number;
  p99Ms: number;
  /** Spans in blocks written during the load, per second of load. */
  flushedSpansPerSec: number;
  /** Over the second half of the load: acknowledged MB/s and spans written to blocks per second. */
  steadyMbPerSec: number;
  steadyFlushedSpansPerSec: number;
  /** Acknowledged spans not yet in blocks when the load ended. */
  backlogSpansAtEnd: number;
  refusedExports: number;
  peakUnflushedMiB: number;
  peakRssMiB: number;
  finalFlushSeconds: number;
  bytesPerSpanAtRest: number;
}

/** Bytes of the blocks that are live (meta.json present): not compacted inputs awaiting deletion. */
async function liveBlockBytes(tracesDir: string): Promise<number> {
  let total = 0;
  for (const tenant of await readdir(tracesDir).catch(() => [] as string[])) {
    for (const block of await readdir(join(tracesDir, tenant)).catch(() => [] as string[])) {
      const dir = join(tracesDir, tenant, block);
      if (await stat(join(dir, 'meta.json')).catch(() => null)) total += await dirBytes(dir);
    }
  }
  return total;
}

/** POST /flush; a refused flush would make the at-rest figures wrong, so it fails the run. */
async function flushServer(httpPort: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/flush`, { method: 'POST' });
  if (!res.ok) throw new Error(`POST /flush answered ${res.status}: ${await res.text()}`);
}

/** Spans in the blocks written so far (meta.json totalSpans; meta.json is written last). */
async function flushedSpans(tracesDir: string): Promise<number> {
  let total = 0;
  for (const tenant of await readdir(tracesDir).catch(() => [] as string[])) {
    for (const block of await readdir(join(tracesDir, tenant)).catch(() => [] as string[])) {
      const text = await readFile(join(tracesDir, tenant, block, 'meta.json'), 'utf8').catch(() => null);
      if (text) total += (JSON.parse(text) as { totalSpans: number }).totalSpans;
    }
  }
  return total;
}

async function unflushedBytes(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return Number(/^andante_ingester_unflushed_bytes (\S+)$/m.exec(text)?.[1] ?? 0);
}

/** Acknowledged so far; read by the sustained mode's sampler while sendAll runs. */
interface SendProgress {
  bytes: number;
  spans: number;
  refused: number;
}

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** A failed export: its gRPC status and the server's Retry-After (seconds), if any. */
interface ExportError {
  code: number;
  message: string;
  retryAfterSeconds: number;
}

/** Sends one ExportTraceServiceRequest; resolves null on OK. */
interface Exporter {
  send(body: Buffer): Promise<ExportError | null>;
  close(): void;
}

function grpcJsExporter(port: number): Exporter {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20 });
  return {
    send: (body) =>
      new Promise((resolve) =>
        client.makeUnaryRequest(EXPORT_PATH, (b: Buffer) => b, (b: Buffer) => b, body, (err) =>
          resolve(err ? { code: err.code, message: err.details, retryAfterSeconds: Number(err.metadata.get('retry-after')[0] ?? 1) } : null),
        ),
      ),
    close: () => client.close(),
  };
}

/** gRPC unary calls framed by hand on one HTTP/2 connection: 5-byte prefix, status in trailers. */
async function http2Exporter(port: number): Promise<Exporter> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  const send = (body: Buffer): Promise<ExportError | null> =>
    new Promise((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': EXPORT_PATH, 'content-type': 'application/grpc', te: 'trailers' });
      let status: http2.IncomingHttpHeaders = {};
      req.on('response', (headers) => {
        if (headers['grpc-status'] !== undefined) status = headers; // trailers-only answer
      });
      req.on('trailers', (trailers) => (status = trailers));
      req.on('data', () => {});
      req.on('error', reject);
      req.on('end', () => {
        const code = Number(status['grpc-status'] ?? grpc.status.UNKNOWN);
        if (code === grpc.status.OK) return resolve(null);
        resolve({ code, message: decodeURIComponent(String(status['grpc-message'] ?? '')), retryAfterSeconds: Number(status['retry-after'] ?? 1) });
      });
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(body.length, 1);
      req.write(prefix);
      req.end(body);
    });
  return { send, close: () => session.close() };
}

const startExporter = (port: number, o: Options): Promise<Exporter> => (o.grpcjs ? Promise.resolve(grpcJsExporter(port)) : http2Exporter(port));

async function sendAll(
  exporter: Exporter,
  payloads: Payload[],
  o: Options,
  progress: SendProgress = { bytes: 0, spans: 0, refused: 0 },
): Promise<{ seconds: number; bytes: number; spans: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < payloads.length; i = next++) {
      const p = payloads[i]!;
      const t0 = performance.now();
      for (;;) {
        const err = await exporter.send(p.bytes);
        if (!err) break;
        // As an OTLP exporter does: RESOURCE_EXHAUSTED is retried after the server's Retry-After.
        if (err.code !== grpc.status.RESOURCE_EXHAUSTED) throw new Error(`export failed with gRPC status ${err.code}: ${err.message}`);
        progress.refused++;
        await new Promise((r) => setTimeout(r, Math.max(0.1, err.retryAfterSeconds) * 1000));
      }
      latencies.push(performance.now() - t0);
      progress.bytes += p.bytes.length;
      progress.spans += p.spans;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, () => worker()));
  return { seconds: (performance.now() - started) / 1000, bytes: progress.bytes, spans: progress.spans, latencies: latencies.sort((a, b) => a - b) };
}

/** The local limit: the distributor's own decode and split (splitExportRequest) and a WAL append, no network. */
async function localLimit(payloads: Payload[], o: Options, dir: string): Promise<{ spansPerSec: number; mbPerSec: number }> {
  const wal = await WalFile.open(join(dir, 'local-limit.wal'));
  let bytes = 0;
  let spans = 0;
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    for (let i = next++; i < payloads.length; i = next++) {
      const p = payloads[i]!;
      const { segments, spanCount } = splitExportRequest(p.bytes);
      await wal.append(segments);
      bytes += p.bytes.length;
      spans += spanCount;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, () => worker()));
  const seconds = (performance.now() - started) / 1000;
  await wal.remove();
  return { spansPerSec: spans / seconds, mbPerSec: bytes / seconds / 1e6 };
}

/** The first `o.warmup` share of the exports warms a run up; the rest are timed. */
function splitWarmup(payloads: Payload[], o: Options): { warm: Payload[]; timed: Payload[] } {
  const n = Math.min(payloads.length - 1, Math.round(payloads.length * o.warmup));
  return { warm: payloads.slice(0, n), timed: payloads.slice(n) };
}

async function runOnce(o: Options, payloads: Payload[]): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'andante-bench-'));
  const server = await startServer(dir, o);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(server.proc.pid!).hwm)), 200);
  const exporter = await startExporter(server.grpc, o);
  try {
    const { warm, timed } = splitWarmup(payloads, o);
    const w = await sendAll(exporter, warm, o);
    const r = await sendAll(exporter, timed, o);
    await flushServer(server.http);
    peak = Math.max(peak, rssMiB(server.proc.pid!).hwm);
    const atRest = await dirBytes(join(dir, 'traces'));
    clearInterval(sampler);
    exporter.close();
    // The local limit runs alone: no server beside it holding memory or finishing work.
    await killServer(server.proc);
    await localLimit(warm, o, dir);
    const local = await localLimit(timed, o, dir);
    return {
      spansPerSec: r.spans / r.seconds,
      mbPerSec: r.bytes / r.seconds / 1e6,
      p50Ms: percentile(r.latencies, 50),
      p99Ms: percentile(r.latencies, 99),
      peakRssMiB: peak,
      bytesPerSpanAtRest: atRest / (w.spans + r.spans),
      otlpBytesPerSpan: (w.bytes + r.bytes) / (w.spans + r.spans),
      localSpansPerSec: local.spansPerSec,
      localMbPerSec: local.mbPerSec,
    };
  } finally {
    clearInterval(sampler);
    exporter.close();
    await killServer(server.proc);
    await rm(dir, { recursive: true, force: true });
  }
}

async function killServer(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill(process.env['ANDANTE_CPU_PROF'] ? 'SIGTERM' : 'SIGKILL');
  await exited;
}

interface Sample {
  seconds: number;
  ackBytes: number;
  flushedSpans: number;
}

/** Samples acknowledged bytes and spans in blocks every second while the load runs. */
async function runSustainedOnce(o: Options, payloads: Payload[]): Promise<SustainedResult> {
  const dir = await mkdtemp(join(tmpdir(), 'andante-bench-'));
  const server = await startServer(dir, o);
  const tracesDir = join(dir, 'traces');
  const exporter = await startExporter(server.grpc, o);
  const progress: SendProgress = { bytes: 0, spans: 0, refused: 0 };
  const samples: Sample[] = [];
  let peakRss = 0;
  let peakUnflushed = 0;
  const started = performance.now();
  let sampling = true;
  const sampler = (async (): Promise<void> => {
    while (sampling) {
      const ackBytes = progress.bytes;
      const flushed = await flushedSpans(tracesDir);
      peakUnflushed = Math.max(peakUnflushed, await unflushedBytes(server.http).catch(() => 0));
      peakRss = Math.max(peakRss, rssMiB(server.proc.pid!).hwm);
      samples.push({ seconds: (performance.now() - started) / 1000, ackBytes, flushedSpans: flushed });
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    const r = await sendAll(exporter, payloads, o, progress);
    sampling = false;
    await sampler;
    const flushedAtEnd = await flushedSpans(tracesDir);
    samples.push({ seconds: r.seconds, ackBytes: r.bytes, flushedSpans: flushedAtEnd });
    const t0 = performance.now();
    await flushServer(server.http);
    const finalFlushSeconds = (performance.now() - t0) / 1000;
    peakRss = Math.max(peakRss, rssMiB(server.proc.pid!).hwm);
    // The compactor runs during the load: its inputs stay on disk (compacted_block_retention) but are no longer data.
    const atRest = await liveBlockBytes(tracesDir);
    // Steady state: from the sample nearest the middle of the load to its end.
    const mid = samples.reduce((best, s) => (Math.abs(s.seconds - r.seconds / 2) < Math.abs(best.seconds - r.seconds / 2) ? s : best));
    const last = samples[samples.length - 1]!;
    const steadySeconds = last.seconds - mid.seconds;
    return {
      spansPerSec: r.spans / r.seconds,
      mbPerSec: r.bytes / r.seconds / 1e6,
      p99Ms: percentile(r.latencies, 99),
      flushedSpansPerSec: flushedAtEnd / r.seconds,
      steadyMbPerSec: (last.ackBytes - mid.ackBytes) / steadySeconds / 1e6,
      steadyFlushedSpansPerSec: (last.flushedSpans - mid.flushedSpans) / steadySeconds,
      backlogSpansAtEnd: r.spans - flushedAtEnd,
      refusedExports: progress.refused,
      peakUnflushedMiB: peakUnflushed / 2 ** 20,
      peakRssMiB: peakRss,
      finalFlushSeconds,
      bytesPerSpanAtRest: atRest / r.spans,
    };
  } finally {
    sampling = false;
    exporter.close();
    await killServer(server.proc);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs o.runs times, printing each run; returns the median of a figure. */
async function runAll<R extends object>(o: Options, run: () => Promise<R>): Promise<(k: keyof R) => number> {
  const results: R[] = [];
  for (let i = 0; i < o.runs; i++) {
    const r = await run();
    results.push(r);
    console.log(`run ${i + 1}: ${JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round((v as number) * 100) / 100])))}`);
  }
  return (k) => median(results.map((r) => r[k] as number));
}

async function mainSustained(o: Options, payloads: Payload[]): Promise<void> {
  console.log(
    `sustained ingest: ${o.spans} spans per run, ${o.batch} spans per export, concurrency ${o.concurrency}, ${o.runs} runs, ${o.grpcjs ? 'grpc-js' : 'node:http2'} client; ` +
      `max_block_bytes ${o.blockBytes}, max_block_duration ${o.blockDuration}s, max_unflushed_bytes ${o.unflushedBytes || 'default'}`,
  );
  const m = await runAll(o, () => runSustainedOnce(o, payloads));
  console.log('\nmedians:');
  console.log(`  acknowledged   ${m('spansPerSec').toFixed(0)} spans/s, ${m('mbPerSec').toFixed(1)} MB/s (second half: ${m('steadyMbPerSec').toFixed(1)} MB/s), p99 ${m('p99Ms').toFixed(0)} ms`);
  console.log(`  written        ${m('flushedSpansPerSec').toFixed(0)} spans/s to blocks during the load (second half: ${m('steadyFlushedSpansPerSec').toFixed(0)} spans/s)`);
  console.log(`  backlog        ${m('backlogSpansAtEnd').toFixed(0)} spans not in blocks at the end of the load; final /flush ${m('finalFlushSeconds').toFixed(1)} s`);
  console.log(`  backpressure   ${m('refusedExports').toFixed(0)} exports refused and retried; peak unflushed ${m('peakUnflushedMiB').toFixed(0)} MiB; peak RSS ${m('peakRssMiB').toFixed(0)} MiB`);
  console.log(`  at rest        ${m('bytesPerSpanAtRest').toFixed(1)} bytes/span`);
}

async function metricValue(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) total += Number(m[1]);
  return total;
}

interface GeneratorRunResult {
  spansPerSec: number;
  p99Ms: number;
  serverCpuSeconds: number;
  /** Of serverCpuSeconds, the main thread's (the event loop: distributor, ingester, the tap and the generator). */
  mainThreadCpuSeconds: number;
  /** With the generator: spans it processed / spans acknowledged (1 = it kept up), and pushes the tap dropped. */
  generatorSpansShare: number;
  tapDroppedPushes: number;
  /** Of serverCpuSeconds, by thread name (`/proc/PID/task/TID/comm`: node's workers, V8's GC helpers, libuv's pool). */
  cpuByThread: Map<string, number>;
}

/** CPU seconds (user + system) the server process has used, from /proc (its worker threads included). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
}

/** CPU seconds of the server's threads, summed by thread name (the main thread as `main`). */
function threadCpuSeconds(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.split(') ')[1]!.split(' ');
      const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return byName;
}

/** CPU seconds of the server's main thread alone (its task ID is the process ID). */
function mainThreadCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function runGeneratorOnce(o: Options, payloads: Payload[], withGenerator: boolean): Promise<GeneratorRunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'andante-bench-'));
  const server = await startServer(dir, o, withGenerator);
  const exporter = await startExporter(server.grpc, o);
  try {
    const { warm, timed } = splitWarmup(payloads, o);
    const w = await sendAll(exporter, warm, o);
    const cpu0 = processCpuSeconds(server.proc.pid!);
    const main0 = mainThreadCpuSeconds(server.proc.pid!);
    const threads0 = threadCpuSeconds(server.proc.pid!);
    const r = await sendAll(exporter, timed, o);
    const cpuByThread = threadCpuSeconds(server.proc.pid!);
    for (const [name, s] of cpuByThread) cpuByThread.set(name, s - (threads0.get(name) ?? 0));
    const cpu = processCpuSeconds(server.proc.pid!) - cpu0;
    const mainCpu = mainThreadCpuSeconds(server.proc.pid!) - main0;
    let share = 0;
    let dropped = 0;
    if (withGenerator) {
      // The tap's queue drains after the last acknowledgement; wait for it, then count.
      const all = w.spans + r.spans;
      for (let i = 0; i < 100; i++) {
        if ((await metricValue(server.http, 'tempo_distributor_metrics_generator_queue_bytes')) === 0) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      const received = await metricValue(server.http, 'tempo_metrics_generator_spans_received_total');
      const outside = await metricValue(server.http, 'tempo_metrics_generator_spans_discarded_total');
      share = (received - outside) / all;
      dropped = await metricValue(server.http, 'tempo_distributor_queue_pushes_failures_total');
    }
    return { spansPerSec: r.spans / r.seconds, p99Ms: percentile(r.latencies, 99), serverCpuSeconds: cpu, mainThreadCpuSeconds: mainCpu, generatorSpansShare: share, tapDroppedPushes: dropped, cpuByThread };
  } finally {
    exporter.close();
    await killServer(server.proc);
    await rm(dir, { recursive: true, force: true });
  }
}

async function mainGenerator(o: Options, payloads: Payload[]): Promise<void> {
  console.log(
    `ingest with and without the metrics-generator (span-metrics + service-graphs): ${o.spans} spans per run, ${o.batch} spans per export, ` +
      `concurrency ${o.concurrency}, ${o.runs} rounds alternating the order, ${o.grpcjs ? 'grpc-js' : 'node:http2'} client`,
  );
  const off: GeneratorRunResult[] = [];
  const on: GeneratorRunResult[] = [];
  const show = (label: string, r: GeneratorRunResult): void =>
    console.log(
      `${label}: ${r.spansPerSec.toFixed(0)} spans/s, p99 ${r.p99Ms.toFixed(0)} ms, server ${r.serverCpuSeconds.toFixed(2)} CPU-s (main thread ${r.mainThreadCpuSeconds.toFixed(2)})` +
        (label === 'with   ' ? `, generator processed ${(r.generatorSpansShare * 100).toFixed(1)} % of spans, tap dropped ${r.tapDroppedPushes} pushes` : ''),
    );
  for (let i = 0; i < o.runs; i++) {
    const order = i % 2 === 0 ? [false, true] : [true, false];
    for (const g of order) {
      const r = await runGeneratorOnce(o, payloads, g);
      (g ? on : off).push(r);
      show(g ? 'with   ' : 'without', r);
    }
  }
  const med = (rs: GeneratorRunResult[], k: Exclude<keyof GeneratorRunResult, 'cpuByThread'>): number => median(rs.map((r) => r[k]));
  const ratio = med(on, 'spansPerSec') / med(off, 'spansPerSec');
  const timed = o.spans * (1 - o.warmup);
  console.log('\nmedians:');
  const us = (rs: GeneratorRunResult[], k: 'serverCpuSeconds' | 'mainThreadCpuSeconds'): string => ((med(rs, k) / timed) * 1e6).toFixed(2);
  console.log(`  without      ${med(off, 'spansPerSec').toFixed(0)} spans/s, ${us(off, 'serverCpuSeconds')} server CPU-us per span (main thread ${us(off, 'mainThreadCpuSeconds')})`);
  console.log(`  with         ${med(on, 'spansPerSec').toFixed(0)} spans/s, ${us(on, 'serverCpuSeconds')} server CPU-us per span (main thread ${us(on, 'mainThreadCpuSeconds')}); generator processed ${(med(on, 'generatorSpansShare') * 100).toFixed(1)} %, tap dropped ${med(on, 'tapDroppedPushes')} pushes`);
  const added = (k: 'serverCpuSeconds' | 'mainThreadCpuSeconds'): string => (((med(on, k) - med(off, k)) / timed) * 1e6).toFixed(2);
  console.log(`  added        ${added('serverCpuSeconds')} server CPU-us per span (main thread ${added('mainThreadCpuSeconds')})`);
  const names = [...new Set([...off, ...on].flatMap((r) => [...r.cpuByThread.keys()]))].sort();
  const perSpan = (rs: GeneratorRunResult[], name: string): number => (median(rs.map((r) => r.cpuByThread.get(name) ?? 0)) / timed) * 1e6;
  console.log(`  by thread    CPU-us per span without -> with: ${names.map((n) => `${n} ${perSpan(off, n).toFixed(2)} -> ${perSpan(on, n).toFixed(2)}`).join(', ')}`);
  console.log(`  ratio        with / without = ${(ratio * 100).toFixed(1)} % (the generator costs ${((1 - ratio) * 100).toFixed(1)} % of ingest throughput; target <= 20 %)`);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const payloads = preparePayloads(o);
  if (o.sustained) return mainSustained(o, payloads);
  if (o.generator) return mainGenerator(o, payloads);
  console.log(
    `ingest benchmark: ${o.spans} spans per run (the first ${o.warmup * 100} % to warm up, untimed), ${o.batch} spans per export, ` +
      `${o.spansPerTrace} spans per trace, concurrency ${o.concurrency}, ${o.runs} runs, ${o.grpcjs ? 'grpc-js' : 'node:http2'} client`,
  );
  const m = await runAll(o, () => runOnce(o, payloads));
  const fmt = (n: number, d = 1): string => n.toFixed(d);
  console.log('\nmedians:');
  console.log(`  end to end   ${fmt(m('spansPerSec'), 0)} spans/s, ${fmt(m('mbPerSec'))} MB/s of OTLP protobuf acknowledged`);
  console.log(`  latency      p50 ${fmt(m('p50Ms'))} ms, p99 ${fmt(m('p99Ms'))} ms per export`);
  console.log(`  server RSS   peak ${fmt(m('peakRssMiB'), 0)} MiB`);
  console.log(`  at rest      ${fmt(m('bytesPerSpanAtRest'))} bytes/span vs ${fmt(m('otlpBytesPerSpan'))} OTLP bytes/span (1/${fmt(m('otlpBytesPerSpan') / m('bytesPerSpanAtRest'))})`);
  console.log(`  local limit  ${fmt(m('localSpansPerSec'), 0)} spans/s, ${fmt(m('localMbPerSec'))} MB/s (decode + split + WAL append, one process)`);
  console.log(`  ratio        end to end / local limit = ${fmt((m('mbPerSec') / m('localMbPerSec')) * 100)} %`);
}

await main();
