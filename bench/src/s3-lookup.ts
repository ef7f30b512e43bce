// Trace-by-ID on S3 (s3rver): latency (p50/p99) and S3 requests per lookup over many small blocks,
// then after the compactor merged them, plus bytes per span at rest.
//
//   node bench/dist/s3-lookup.js [--spans 1000000 --flushes 24 --lookups 300 --rounds 3 --batch 512 --spansPerTrace 20 --concurrency 4 --rowGroupSpans 0]
//
// --rowGroupSpans sets storage.trace.block.row_group_size_spans (0: the server's default).
//
// s3rver runs in this process (so every request it answers is counted and attributed to the
// lookup that caused it); andante runs as a child process (packages/server/dist/bin.js) with
// `storage.trace.backend: s3`. Phases, each a fresh process so the ingester holds nothing and the
// querier reads only from S3:
//   1. ingest `spans` over OTLP/gRPC with a /flush after every 1/flushes of them (compaction off);
//   2. before: `rounds` rounds of `lookups` sequential lookups of random stored trace IDs;
//   3. compaction (compaction_cycle 1s) until no flushed block is left and the block count stops changing;
//   4. after: the same rounds.
// A round's first lookups open blocks (footer, index); round 1 is reported as "cold", the
// median of all rounds' percentiles as the result.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { S3Backend } from '@andante/backend';
import { startS3rver, type RecordedS3Request, type TestS3Server } from '@andante/backend/testing';
import { bytesToHex, encodeTrace } from '@andante/model';
import { listTenantBlocks } from '@andante/storage';
import { makeBatch } from './payloads.js';

interface Options {
  spans: number;
  flushes: number;
  lookups: number;
  rounds: number;
  batch: number;
  spansPerTrace: number;
  concurrency: number;
  rowGroupSpans: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { spans: 1_000_000, flushes: 24, lookups: 300, rounds: 3, batch: 512, spansPerTrace: 20, concurrency: 4, rowGroupSpans: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '') as keyof Options;
    if (!(key in o)) throw new Error(`unknown option ${argv[i]}`);
    o[key] = Number(argv[i + 1]);
  }
  return o;
}

const TENANT = 'single-tenant';
const PREFIX = 'bench';
const BIN = join(dirname(fileURLToPath(import.meta.url)), '../../packages/server/dist/bin.js');

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const log = (m: string): void => void process.stderr.write(`[s3-lookup] ${m}\n`);

interface Server {
  proc: ChildProcess;
  http: number;
  grpc: number;
  stderr: () => string;
}

async function startServer(dir: string, s3: TestS3Server, name: string, compaction: boolean, o: Options): Promise<Server> {
  const cfg = {
    server: { http_listen_address: '127.0.0.1', http_listen_port: 0, log_level: 'warn' },
    distributor: { receivers: { otlp: { protocols: { grpc: { endpoint: '127.0.0.1:0', max_recv_msg_size_mib: 16 } } } } },
    ingester: { flush_check_period: '1h', max_block_duration: '1h', trace_idle_period: '1h', flush_all_on_shutdown: true },
    compactor: { compaction: { compaction_disabled: !compaction, compaction_cycle: '1s', compacted_block_retention: '1h' } },
    storage: {
      trace: {
        backend: 's3',
        // No keys in the config: the SDK's credential chain reads AWS_* from the environment.
        s3: { bucket: s3.bucket, endpoint: `127.0.0.1:${s3.port}`, region: 'us-east-1', insecure: true, forcepathstyle: true, prefix: PREFIX },
        wal: { path: join(dir, 'wal') },
        // No poll during a measurement: every S3 request in a round is caused by a lookup.
        blocklist_poll: '1h',
        ...(o.rowGroupSpans > 0 ? { block: { row_group_size_spans: o.rowGroupSpans } } : {}),
      },
    },
    overrides: {
      defaults: {
        ingestion: { rate_limit_bytes: 10_000_000_000, burst_size_bytes: 10_000_000_000, max_traces_per_user: 10_000_000 },
        global: { max_bytes_per_trace: 50_000_000 },
      },
    },
  };
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, JSON.stringify(cfg));
  const proc = spawn(process.execPath, [BIN, `-config.file=${path}`, '-server.log_level=info'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_EC2_METADATA_DISABLED: 'true' },
  });
  let buf = '';
  return new Promise((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.length > 1_000_000) buf = buf.slice(-200_000);
      for (const line of buf.split('\n')) {
        if (!line.includes('andante started')) continue;
        const ports = JSON.parse(line).ports as { http: number; otlpGrpc: number };
        resolve({ proc, http: ports.http, grpc: ports.otlpGrpc, stderr: () => buf });
        return;
      }
    });
    proc.once('exit', (code) => reject(new Error(`andante exited (${code}) before it started: ${buf.slice(-3000)}`)));
  });
}

async function stopServer(s: Server): Promise<void> {
  const exited = new Promise<number | null>((r) => s.proc.once('exit', (code) => r(code)));
  s.proc.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) throw new Error(`andante exited with ${code}: ${s.stderr().slice(-3000)}`);
}

function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

async function metric(http: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${http}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Ingest

interface Ingested {
  spans: number;
  otlpBytes: number;
  seconds: number;
  /** Sampled trace IDs (hex) → their span count. */
  sample: Map<string, number>;
}

function exportOnce(client: grpc.Client, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      { deadline: Date.now() + 60_000 },
      (err) => (err ? reject(err) : resolve()),
    ),
  );
}

async function ingest(server: Server, o: Options): Promise<Ingested> {
  const client = new grpc.Client(`127.0.0.1:${server.grpc}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20 });
  const batches = Math.ceil(o.spans / o.batch);
  const perFlush = Math.ceil(batches / o.flushes);
  const samplePerFlush = Math.ceil((o.lookups * 1.2) / o.flushes);
  const sample = new Map<string, number>();
  let spans = 0;
  let otlpBytes = 0;
  const started = performance.now();
  const now = BigInt(Date.now()) * 1_000_000n;
  try {
    for (let f = 0; f < o.flushes; f++) {
      const first = f * perFlush;
      const last = Math.min(batches, first + perFlush);
      let next = first;
      const candidates: [string, number][] = [];
      const worker = async (): Promise<void> => {
        for (let b = next++; b < last; b = next++) {
          const trace = makeBatch(o.batch, o.spansPerTrace, now + BigInt(b) * 1_000_000n);
          const counts = new Map<string, number>();
          for (const rs of trace.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) {
            const id = bytesToHex(s.traceId);
            counts.set(id, (counts.get(id) ?? 0) + 1);
          }
          // One candidate per batch keeps the sample spread over the whole flush.
          const pick = [...counts][Math.floor(Math.random() * counts.size)]!;
          candidates.push(pick);
          const body = Buffer.from(encodeTrace(trace));
          await exportOnce(client, body);
          otlpBytes += body.length;
          spans += o.batch;
        }
      };
      await Promise.all(Array.from({ length: o.concurrency }, worker));
      for (let i = 0; i < samplePerFlush && candidates.length > 0; i++) {
        const [id, n] = candidates.splice(Math.floor(Math.random() * candidates.length), 1)[0]!;
        sample.set(id, n);
      }
      const res = await fetch(`http://127.0.0.1:${server.http}/flush`, { method: 'POST' });
      if (res.status >= 300) throw new Error(`/flush answered ${res.status}`);
      log(`flush ${f + 1}/${o.flushes}: ${spans} spans so far, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    client.close();
  }
  const failed = await metric(server.http, 'tempo_ingester_failed_flushes_total');
  if (failed > 0) throw new Error(`${failed} flushes failed`);
  return { spans, otlpBytes, seconds: (performance.now() - started) / 1000, sample };
}

// ---------------------------------------------------------------------------------------------
// Lookups

type ObjectKind = 'bloom' | 'index' | 'data' | 'meta' | 'other';
const kindOf = (r: RecordedS3Request): ObjectKind => {
  const name = r.path.split('/').pop() ?? '';
  if (name.startsWith('bloom-')) return 'bloom';
  if (name === 'index') return 'index';
  if (name === 'data.parquet') return 'data';
  if (name.startsWith('meta')) return 'meta';
  return 'other';
};

interface Round {
  p50: number;
  p99: number;
  max: number;
  /** Requests per lookup (mean), and by object kind. */
  requests: number;
  byKind: Record<ObjectKind, number>;
  /** Most requests one lookup made. */
  maxRequests: number;
  bytesPerLookup: number;
  metricRequests: number;
}

async function lookupRound(server: Server, s3: TestS3Server, ids: readonly [string, number][], sizes: Map<string, number>): Promise<Round> {
  const latencies: number[] = [];
  const perLookup: number[] = [];
  const byKind: Record<ObjectKind, number> = { bloom: 0, index: 0, data: 0, meta: 0, other: 0 };
  let bytes = 0;
  const metricBefore = await metric(server.http, 'tempodb_backend_request_duration_seconds_count');
  for (const [id, spans] of ids) {
    s3.requests.length = 0;
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${server.http}/api/v2/traces/${id}`, { headers: { Accept: 'application/protobuf' } });
    const body = new Uint8Array(await res.arrayBuffer());
    latencies.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`trace ${id}: HTTP ${res.status} ${Buffer.from(body).toString('utf8').slice(0, 300)}`);
    if (body.length < spans * 50) throw new Error(`trace ${id}: ${body.length} bytes for ${spans} spans`);
    // Requests finish (and are recorded) before the answer leaves andante.
    perLookup.push(s3.requests.length);
    for (const r of s3.requests) {
      byKind[kindOf(r)]++;
      const m = r.range ? /bytes=(\d+)-(\d+)/.exec(r.range) : null;
      bytes += m ? Number(m[2]) - Number(m[1]) + 1 : (sizes.get(r.path) ?? 0);
    }
  }
  const metricAfter = await metric(server.http, 'tempodb_backend_request_duration_seconds_count');
  latencies.sort((a, b) => a - b);
  const n = ids.length;
  for (const k of Object.keys(byKind) as ObjectKind[]) byKind[k] /= n;
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1]!,
    requests: perLookup.reduce((a, b) => a + b, 0) / n,
    byKind,
    maxRequests: Math.max(...perLookup),
    bytesPerLookup: bytes / n,
    metricRequests: (metricAfter - metricBefore) / n,
  };
}

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** Object sizes under the prefix (s3rver's store on disk), by request path. */
async function objectSizes(s3: TestS3Server): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (s3.directory === undefined) throw new Error('object sizes are read from s3rver\'s data folder');
  const root = join(s3.directory, s3.bucket);
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('._S3rver_object')) continue;
    const full = join(e.parentPath, e.name);
    const key = full.slice(root.length + 1, -'._S3rver_object'.length);
    out.set(`/${s3.bucket}/${key}`, statSync(full).size);
  }
  return out;
}

interface AtRest {
  blocks: number;
  bytes: number;
  bytesPerSpan: number;
  dataBytesPerSpan: number;
}

async function atRest(backend: S3Backend, s3: TestS3Server, spans: number): Promise<AtRest> {
  const { metas } = await listTenantBlocks(backend, TENANT);
  const sizes = await objectSizes(s3);
  const visible = new Set(metas.map((m) => `/${s3.bucket}/${PREFIX}/${TENANT}/${m.blockID}/`));
  let bytes = 0;
  for (const [path, size] of sizes) if ([...visible].some((v) => path.startsWith(v))) bytes += size;
  const data = metas.reduce((n, m) => n + m.size, 0);
  return { blocks: metas.length, bytes, bytesPerSpan: bytes / spans, dataBytesPerSpan: data / spans };
}

interface Phase {
  rest: AtRest;
  rounds: Round[];
}

async function measure(dir: string, s3: TestS3Server, backend: S3Backend, name: string, o: Options, sample: [string, number][], spans: number): Promise<Phase> {
  const server = await startServer(dir, s3, name, false, o);
  try {
    const rest = await atRest(backend, s3, spans);
    const sizes = await objectSizes(s3);
    const rounds: Round[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const round = await lookupRound(server, s3, shuffle([...sample]), sizes);
      rounds.push(round);
      log(`${name} round ${r + 1}: p50 ${round.p50.toFixed(1)} ms, p99 ${round.p99.toFixed(1)} ms, ${round.requests.toFixed(2)} S3 requests/lookup (${JSON.stringify(round.byKind)})`);
    }
    return { rest, rounds };
  } finally {
    await stopServer(server);
  }
}

async function compactAll(dir: string, s3: TestS3Server, backend: S3Backend, o: Options): Promise<{ seconds: number; peakRssMiB: number; compactions: number }> {
  const server = await startServer(dir, s3, 'compact', true, o);
  const started = performance.now();
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(server.proc.pid!))), 200);
  try {
    let last = -1;
    let stable = 0;
    for (;;) {
      await new Promise((r) => setTimeout(r, 2_000));
      const { metas } = await listTenantBlocks(backend, TENANT);
      const windows = new Set(metas.map((m) => Math.floor(Date.parse(m.startTime) / 3_600_000))).size;
      stable = metas.length === last ? stable + 1 : 0;
      last = metas.length;
      log(`compaction: ${metas.length} visible blocks in ${windows} window(s), ${((performance.now() - started) / 1000).toFixed(0)} s`);
      // Done: one block per window, or (outputs are cut at output_block_buffer_bytes) no flushed
      // block left and nothing changed for 30 s of 1 s cycles.
      const flushedLeft = metas.some((m) => m.compactionLevel === 0);
      if ((metas.length <= windows && stable >= 1) || (!flushedLeft && stable >= 15)) break;
      if (performance.now() - started > 30 * 60_000) throw new Error('compaction did not finish in 30 minutes');
      if (server.proc.exitCode !== null) throw new Error(`andante died during compaction: ${server.stderr().slice(-3000)}`);
    }
    const compactions = await metric(server.http, 'tempodb_compaction_blocks_total');
    return { seconds: (performance.now() - started) / 1000, peakRssMiB: Math.max(peak, rssMiB(server.proc.pid!)), compactions };
  } finally {
    clearInterval(sampler);
    await stopServer(server);
  }
}

function summary(p: Phase): { cold: Round; p50: number; p99: number; requests: number; maxRequests: number; byKind: Record<ObjectKind, number>; kib: number } {
  return {
    cold: p.rounds[0]!,
    p50: median(p.rounds.map((r) => r.p50)),
    p99: median(p.rounds.map((r) => r.p99)),
    requests: median(p.rounds.map((r) => r.requests)),
    maxRequests: Math.max(...p.rounds.slice(1).map((r) => r.maxRequests), p.rounds.length === 1 ? p.rounds[0]!.maxRequests : 0),
    byKind: p.rounds[p.rounds.length - 1]!.byKind,
    kib: median(p.rounds.map((r) => r.bytesPerLookup)) / 1024,
  };
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'andante-s3-lookup-'));
  const s3 = await startS3rver({ bucket: 'andante-bench' });
  const backend = new S3Backend(s3.config({ prefix: PREFIX }));
  try {
    log(`options ${JSON.stringify(o)}; s3rver at ${s3.endpoint}`);
    const ingestServer = await startServer(dir, s3, 'ingest', false, o);
    let ing: Ingested;
    try {
      ing = await ingest(ingestServer, o);
    } finally {
      await stopServer(ingestServer);
    }
    const sample = [...ing.sample].slice(0, o.lookups);
    log(`ingested ${ing.spans} spans (${(ing.otlpBytes / ing.spans).toFixed(0)} OTLP bytes/span) in ${ing.seconds.toFixed(1)} s; ${sample.length} trace IDs sampled`);

    const before = await measure(dir, s3, backend, 'before', o, sample, ing.spans);
    const comp = await compactAll(dir, s3, backend, o);
    log(`compaction took ${comp.seconds.toFixed(1)} s, peak RSS ${comp.peakRssMiB.toFixed(0)} MiB`);
    const after = await measure(dir, s3, backend, 'after', o, sample, ing.spans);

    const b = summary(before);
    const a = summary(after);
    const f = (n: number, d = 1): string => n.toFixed(d);
    const rows: [string, string, string][] = [
      ['visible blocks', String(before.rest.blocks), String(after.rest.blocks)],
      ['bytes/span at rest (all objects)', f(before.rest.bytesPerSpan), f(after.rest.bytesPerSpan)],
      ['  of which data.parquet', f(before.rest.dataBytesPerSpan), f(after.rest.dataBytesPerSpan)],
      ['lookup p50 ms (median of rounds)', f(b.p50), f(a.p50)],
      ['lookup p99 ms (median of rounds)', f(b.p99), f(a.p99)],
      ['lookup p50 / p99 ms, cold round 1', `${f(b.cold.p50)} / ${f(b.cold.p99)}`, `${f(a.cold.p50)} / ${f(a.cold.p99)}`],
      ['S3 requests/lookup (median of rounds)', f(b.requests, 2), f(a.requests, 2)],
      ['  cold round 1', f(b.cold.requests, 2), f(a.cold.requests, 2)],
      ['  max in one lookup (warm rounds)', String(b.maxRequests), String(a.maxRequests)],
      ['  bloom / index / data / meta (last round)', `${f(b.byKind.bloom, 2)} / ${f(b.byKind.index, 2)} / ${f(b.byKind.data, 2)} / ${f(b.byKind.meta, 2)}`, `${f(a.byKind.bloom, 2)} / ${f(a.byKind.index, 2)} / ${f(a.byKind.data, 2)} / ${f(a.byKind.meta, 2)}`],
      ['  per tempodb_backend_request_duration_seconds_count (round 1)', f(b.cold.metricRequests, 2), f(a.cold.metricRequests, 2)],
      ['KiB read from S3 per lookup', f(b.kib), f(a.kib)],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(6, ...rows.map((r) => r[1].length));
    const out = [
      `trace by ID on s3rver: ${ing.spans} spans in ${o.flushes} flushed blocks (${o.spansPerTrace} spans/trace, ${o.batch}-span exports), ${sample.length} lookups x ${o.rounds} rounds, sequential; row groups: ${o.rowGroupSpans > 0 ? `${o.rowGroupSpans} spans` : 'server default'}`,
      `ingest ${f(ing.seconds)} s; compaction ${f(comp.seconds)} s (${comp.compactions} input blocks compacted, peak RSS ${f(comp.peakRssMiB, 0)} MiB)`,
      `${''.padEnd(w0)}  ${'before'.padStart(w1)}  after`,
      ...rows.map(([k, x, y]) => `${k.padEnd(w0)}  ${x.padStart(w1)}  ${y}`),
      `target after compaction: p99 < 100 ms: ${a.p99 < 100 ? 'met' : 'NOT met'}; <= 3 object reads per lookup: ${a.requests <= 3 && a.maxRequests <= 3 ? 'met' : 'NOT met'}`,
    ];
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await backend.close();
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
