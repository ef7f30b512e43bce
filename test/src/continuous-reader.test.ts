// Read-your-writes, end to end: the built binary takes a steady OTLP/gRPC stream while readers in
// this process read every acknowledged trace in a tight loop, by ID (Grafana's protobuf v2 path)
// and by a TraceQL search without start/end. Short block settings make heads cut and blocks flush,
// get listed by polls and compacted all through the run, and a kill -9 plus restart lands in the
// middle (the replayed WAL is flushed while the readers go on). Every read while the server is up
// must answer the trace, whole: no 404, no missing span, no 5xx.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestS3Server, type S3ServerKind, type TestS3Server } from '@andante/backend/testing';
import { bytesToHex } from '@andante/model';
import {
  OtlpGrpcClient,
  fetchTraceProto,
  getMetric,
  getReady,
  killAllProcesses,
  makeTempDir,
  mergeConfig,
  removeTempDirs,
  s3StorageConfig,
  s3rverEnv,
  sleep,
  startProcess,
  type AndanteProcess,
} from './harness.js';
import { encodeRequest, int, makeSpan, makeTrace, randomSpanId, randomTraceId } from './otlp.js';

type Tree = Record<string, unknown>;

/** Tempo's search JSON trims nothing here, but compare without leading zeros to be safe. */
const normId = (hex: string): string => hex.replace(/^0+/, '');

interface Acked {
  hex: string;
  seq: number;
  spanIds: string[];
}

interface ReaderStats {
  byId: number;
  searches: number;
  failures: string[];
}

interface BackendUnderTest {
  name: string;
  config(dir: string): Tree;
  env(): Record<string, string | undefined>;
}

// The S3-protocol server used as it is: s3rver, whose root listing with delimiter `/` names no
// tenant prefix (issue 9's blinded blocklist), so block listing hand-overs meet a real quirk.
// moto_server runs the S3 suites (s3-e2e, s3-backend); this file's minute or more of churn per
// server runs on one of them, to keep the suite within CI's 30 minutes.
const CONTINUOUS_S3_SERVERS: readonly S3ServerKind[] = ['s3rver'];
const s3Servers = new Map<S3ServerKind, TestS3Server>();

beforeAll(async () => {
  for (const kind of CONTINUOUS_S3_SERVERS) s3Servers.set(kind, await startTestS3Server(kind, { bucket: 'andante-continuous' }));
});

afterAll(async () => {
  await killAllProcesses();
  for (const s3 of s3Servers.values()) await s3.close();
  removeTempDirs();
});

const backends: BackendUnderTest[] = [
  { name: 'local', config: () => ({}), env: () => ({}) },
  ...CONTINUOUS_S3_SERVERS.map((kind) => ({
    name: kind,
    config: (dir: string) => s3StorageConfig(s3Servers.get(kind)!.port, s3Servers.get(kind)!.bucket, dir.split('/').pop()!),
    env: () => s3rverEnv(s3Servers.get(kind)!.accessKey, s3Servers.get(kind)!.secretKey),
  })),
];

/** Blocks cut every ~400 ms, flushed, announced, listed by 1 s polls and compacted every second. */
const CHURN: Tree = {
  ingester: { trace_idle_period: '200ms', max_block_duration: '400ms', flush_check_period: '100ms', complete_block_timeout: '15m' },
  // Compacted inputs stay readable as long as ingesters may still name them (Tempo's defaults: 1h > 15m).
  compactor: { compaction: { compaction_cycle: '1s' } },
  storage: { trace: { blocklist_poll: '1s' } },
  overrides: { defaults: { ingestion: { rate_limit_bytes: 1_000_000_000, burst_size_bytes: 1_000_000_000, max_traces_per_user: 10_000_000 } } },
};

describe.each(backends)('continuous reader on $name', (backend) => {
  it('answers every acknowledged trace, whole, through cuts, flushes, polls, compaction and a kill -9', async () => {
    const dir = makeTempDir(`reader-${backend.name}`);
    const cfg = mergeConfig(CHURN, backend.config(dir));
    const env = { env: backend.env() };
    let server: AndanteProcess | null = await startProcess(dir, cfg, 30_000, env);
    const acked: Acked[] = [];
    const stats: ReaderStats = { byId: 0, searches: 0, failures: [] };
    let stop = false;
    const exportErrors: string[] = [];

    /** A read counts only when the server was up (ready) before it started and still is after it. */
    const serving = (): AndanteProcess | null => server;

    const writer = (async () => {
      let seq = 0;
      let client: OtlpGrpcClient | null = null;
      let clientOf: AndanteProcess | null = null;
      while (!stop) {
        const s = serving();
        if (!s) {
          await sleep(20);
          continue;
        }
        if (clientOf !== s) {
          client?.close();
          client = new OtlpGrpcClient(s.ports.otlpGrpc!);
          clientOf = s;
        }
        const traceId = randomTraceId();
        const rootId = randomSpanId();
        const n = ++seq;
        const spans = [
          makeSpan(traceId, rootId, { name: 'root', kind: 2, attributes: [int('seq', n)] }),
          makeSpan(traceId, randomSpanId(), { name: 'child', kind: 3, parentSpanId: rootId, attributes: [int('seq', n)] }),
          makeSpan(traceId, randomSpanId(), { name: 'grandchild', kind: 1, parentSpanId: rootId, attributes: [int('seq', n)] }),
        ];
        const ans = await client!.export(encodeRequest(makeTrace(spans, 'continuous-reader')), {}, 5_000);
        if (ans.ok) acked.push({ hex: bytesToHex(traceId), seq: n, spanIds: spans.map((sp) => bytesToHex(sp.spanId)) });
        else if (serving() === s) exportErrors.push(`${ans.code} ${ans.details}`);
        await sleep(5);
      }
      client?.close();
    })();

    const byIdReader = async (offset: number): Promise<void> => {
      let i = offset;
      while (!stop) {
        const s = serving();
        if (!s || acked.length === 0) {
          await sleep(10);
          continue;
        }
        const t = acked[i++ % acked.length]!;
        try {
          const res = await fetchTraceProto(s.ports.http, t.hex, 'v2');
          if (serving() !== s) continue; // the server was killed during the read
          stats.byId++;
          if (res.status !== 200) {
            stats.failures.push(`GET trace ${t.hex} (seq ${t.seq}): HTTP ${res.status} ${Buffer.from(res.body).toString('utf8').slice(0, 200)}`);
            continue;
          }
          const got = new Set(res.trace!.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((sp) => bytesToHex(sp.spanId)))));
          const missing = t.spanIds.filter((id) => !got.has(id));
          if (missing.length > 0) stats.failures.push(`GET trace ${t.hex} (seq ${t.seq}): ${missing.length} of ${t.spanIds.length} spans missing`);
        } catch (err) {
          if (serving() === s) stats.failures.push(`GET trace ${t.hex}: ${(err as Error).message}`);
        }
      }
    };

    const searchReader = async (): Promise<void> => {
      let i = 0;
      while (!stop) {
        const s = serving();
        if (!s || acked.length === 0) {
          await sleep(10);
          continue;
        }
        // Newest and oldest alternately, then spread over the rest.
        const pick = i % 3 === 0 ? acked.length - 1 : i % 3 === 1 ? 0 : (i * 7919) % acked.length;
        i++;
        const t = acked[pick]!;
        const q = `{ resource.service.name = "continuous-reader" && span.seq = ${t.seq} }`;
        try {
          const res = await fetch(`http://127.0.0.1:${s.ports.http}/api/search?${new URLSearchParams({ q, limit: '5' })}`);
          const text = await res.text();
          if (serving() !== s) continue;
          stats.searches++;
          if (res.status !== 200) {
            stats.failures.push(`search seq ${t.seq}: HTTP ${res.status} ${text.slice(0, 200)}`);
            continue;
          }
          const found = (JSON.parse(text) as { traces?: { traceID: string }[] }).traces ?? [];
          if (!found.some((f) => normId(f.traceID) === normId(t.hex))) stats.failures.push(`search seq ${t.seq}: trace ${t.hex} not found (${found.length} results)`);
        } catch (err) {
          if (serving() === s) stats.failures.push(`search seq ${t.seq}: ${(err as Error).message}`);
        }
      }
    };

    const readers = Promise.all([byIdReader(0), byIdReader(1), searchReader()]);
    const flushes = async (s: AndanteProcess): Promise<number> => getMetric(s.ports.http, 'tempo_ingester_blocks_flushed_total');

    /** Load and reads go on until the server has flushed `blocks` blocks and `traces` more traces were acknowledged. */
    const runUntil = async (s: AndanteProcess, blocks: number, traces: number): Promise<void> => {
      const from = acked.length;
      const deadline = Date.now() + 40_000;
      while (Date.now() < deadline && ((await flushes(s)) < blocks || acked.length - from < traces)) await sleep(250);
    };

    // Phase 1: load and reads through at least 12 flushes, then kill -9 mid-stream.
    await runUntil(server, 12, 100);
    const first = server;
    const flushedBefore = await flushes(first);
    const compactedBefore = await getMetric(first.ports.http, 'tempodb_compaction_blocks_total');
    server = null;
    await first.kill9();
    const ackedAtKill = acked.length;

    // Phase 2: restart on the same dirs; reads resume as soon as it is up, while the first sweeps
    // flush the replayed WAL.
    const second = await startProcess(dir, cfg, 30_000, env);
    expect(await getReady(second.ports.http)).toBe(200);
    server = second;
    await runUntil(second, 12, 100);
    stop = true;
    await writer;
    await readers;
    const flushedAfter = await flushes(second);
    const compactedAfter = await getMetric(second.ports.http, 'tempodb_compaction_blocks_total');

    // A last full pass: every acknowledged trace, whole (8 reads at a time, as Grafana's panels would).
    let finalMissing = 0;
    let nextFinal = 0;
    const finalReader = async (): Promise<void> => {
      while (nextFinal < acked.length) {
        const t = acked[nextFinal++]!;
        const res = await fetchTraceProto(second.ports.http, t.hex, 'v2');
        const got = new Set(res.trace?.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((sp) => bytesToHex(sp.spanId)))) ?? []);
        if (res.status !== 200 || t.spanIds.some((id) => !got.has(id))) finalMissing++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, finalReader));

    console.log(
      `continuous reader on ${backend.name}: ${acked.length} traces acknowledged (${ackedAtKill} before the kill), ` +
        `${stats.byId} reads by ID and ${stats.searches} searches while the server was up, ${stats.failures.length} failed; ` +
        `blocks flushed ${flushedBefore} + ${flushedAfter}, compaction input blocks ${compactedBefore} + ${compactedAfter}; ` +
        `${exportErrors.length} exports refused while up`,
    );
    expect(stats.failures.slice(0, 10), `${stats.failures.length} reads did not answer the whole trace`).toEqual([]);
    expect(finalMissing).toBe(0);
    expect(ackedAtKill).toBeGreaterThanOrEqual(100);
    expect(acked.length - ackedAtKill).toBeGreaterThanOrEqual(100);
    expect(exportErrors.slice(0, 5)).toEqual([]);
    // Reads went on all the time (how many depends on the server: moto answers slowest); the final pass read each once more.
    expect(stats.byId).toBeGreaterThan(150);
    expect(stats.searches).toBeGreaterThan(20);
    expect(flushedBefore + flushedAfter, 'head cuts and block flushes during the run').toBeGreaterThanOrEqual(20);
    expect(compactedBefore + compactedAfter, 'blocks compacted during the run').toBeGreaterThan(0);
    expect(await second.stop()).toBe(0);
  }, 150_000);
});
