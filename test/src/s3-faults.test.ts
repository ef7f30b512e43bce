// Faults on S3 (s3rver), with the built binary as a child process:
//  (a) S3 down while blocks are flushed: pushes are still acknowledged (WAL), /flush fails and is
//      counted, the WAL is kept, trace by ID keeps answering from the ingester; when S3 is back
//      the ingester's own retry writes the block, and a restarted process (nothing in its WAL)
//      serves every acknowledged span from S3.
//  (b) kill -9 mid-compaction at chosen points (after the output's first object, after its
//      meta.json, after the first input's meta.compacted.json, after the first meta.json delete)
//      and at a random time: after every crash the bucket holds every span in its visible blocks,
//      a restarted process returns every trace whole without duplicate spans, and compaction
//      resumes until the blocks are merged and no input stays visible beside its output.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '@andante/backend';
import { startS3rver, type TestS3Server } from '@andante/backend/testing';
import { bytesToHex, type KeyValue, type Trace } from '@andante/model';
import { BackendBlock, listTenantBlocks, type BlockMeta } from '@andante/storage';
import {
  OtlpGrpcClient,
  decodeExportResponse,
  fetchTraceProto,
  flush,
  getMetric,
  killAllProcesses,
  listFilesRecursive,
  makeTempDir,
  mergeConfig,
  postOtlpHttp,
  removeTempDirs,
  s3StorageConfig,
  s3rverEnv,
  s3rverObjectKeys,
  sleep,
  startProcess,
  waitFor,
  type AndanteProcess,
} from './harness.js';
import { dbl, duplicatesOf, encodeRequest, int, makeSpan, normTrace, randomSpanId, randomTraceId, spanIdsOf, str, sentSpanRequests, type SentSpan } from './otlp.js';

const TENANT = 'single-tenant';
let s3: TestS3Server;

/** The gate of test (b): once tripped, every request s3rver receives fails with 503 SlowDown. */
interface Gate {
  armed: boolean;
  tripped: boolean;
  /** Decides, for a request arriving while armed, whether it is the trigger (it is served). */
  trigger: (req: { method: string; path: string }) => boolean;
  trippedBy: string;
}
const gate: Gate = { armed: false, tripped: false, trigger: () => false, trippedBy: '' };

beforeAll(async () => {
  s3 = await startS3rver({ bucket: 'andante-faults' });
  s3.injectFault({
    count: Number.MAX_SAFE_INTEGER,
    status: 503,
    code: 'SlowDown',
    match: (req) => {
      if (!gate.armed) return false;
      if (gate.tripped) return true;
      if (gate.trigger(req)) {
        gate.tripped = true;
        gate.trippedBy = `${req.method} ${req.path}`;
      }
      return false;
    },
  });
});

afterAll(async () => {
  await killAllProcesses();
  await s3?.close();
  removeTempDirs();
});

// ---------------------------------------------------------------------------------------------
// Test data

const SCOPE = { name: 'andante-s3-faults', version: '1.0.0', attributes: [], droppedAttributesCount: 0 };
const resourceOf = (service: string): { attributes: KeyValue[]; droppedAttributesCount: number } => ({
  attributes: [str('service.name', service), str('k8s.pod.name', `${service}-0`)],
  droppedAttributesCount: 0,
});

const { requestOf, expectedOf } = sentSpanRequests(SCOPE, resourceOf);

function makeTraceSpans(n: number, startMs: number, tag: string): SentSpan[] {
  const traceId = randomTraceId();
  const rootId = randomSpanId();
  const start = BigInt(startMs) * 1_000_000n;
  return Array.from({ length: n }, (_, j) => ({
    span: makeSpan(traceId, j === 0 ? rootId : randomSpanId(), {
      parentSpanId: j === 0 ? new Uint8Array(0) : rootId,
      name: j === 0 ? `root ${tag}` : `child ${j}`,
      kind: j === 0 ? 2 : 1,
      startNs: start + BigInt(j) * 50_000n,
      durationNs: 700_000n + BigInt(j),
      attributes: [str('tag', tag), int('span.index', j), dbl('load', j * 0.25)],
    }),
    service: j % 2 === 0 ? 'frontend' : 'backend',
  }));
}

const traceHex = (spans: readonly SentSpan[]): string => bytesToHex(spans[0]!.span.traceId);

async function send(proc: AndanteProcess, spans: readonly SentSpan[], via: 'http' | 'grpc'): Promise<void> {
  const body = encodeRequest(requestOf(spans));
  if (via === 'http') {
    const res = await postOtlpHttp(proc.ports.otlpHttp!, body);
    expect(res.status, res.text()).toBe(200);
    expect(decodeExportResponse(res.body).rejectedSpans).toBe(0);
    return;
  }
  const client = new OtlpGrpcClient(proc.ports.otlpGrpc!);
  try {
    const ans = await client.export(body);
    expect(ans.ok, ans.ok ? '' : `${ans.code} ${ans.details}`).toBe(true);
  } finally {
    client.close();
  }
}

type Reads = Map<string, { status: number; trace: Trace | null; text: string }>;

async function fetchAll(proc: AndanteProcess, ids: readonly string[]): Promise<Reads> {
  const out: Reads = new Map();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++]!;
      let res;
      try {
        res = await fetchTraceProto(proc.ports.http, id, 'v2');
      } catch (err) {
        await sleep(200);
        throw new Error(
          `GET /api/v2/traces/${id} failed: ${(err as Error).message} (${String((err as Error).cause ?? '')}); process alive: ${proc.alive()}; stderr tail:\n${proc.stderr().slice(-3000)}`,
        );
      }
      out.set(id, { status: res.status, trace: res.trace, text: res.status === 200 ? '' : Buffer.from(res.body).toString('utf8').slice(0, 300) });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

/** Traces that are not returned whole, without duplicates (one line each). */
function wrongTraces(reads: Reads, expected: ReadonlyMap<string, readonly SentSpan[]>): string[] {
  const problems: string[] = [];
  for (const [id, spans] of expected) {
    const g = reads.get(id);
    if (!g || g.status !== 200 || !g.trace) {
      problems.push(`${id}: HTTP ${g?.status} ${g?.text}`);
      continue;
    }
    const dups = duplicatesOf(spanIdsOf(g.trace));
    if (dups.length > 0) problems.push(`${id}: duplicate spans ${dups.join(',')}`);
    if (JSON.stringify(normTrace(g.trace)) !== JSON.stringify(expectedOf(spans))) {
      problems.push(`${id}: ${spanIdsOf(g.trace).length} spans back, ${new Set(spans.map((s) => bytesToHex(s.span.spanId))).size} sent`);
    }
  }
  return problems;
}

/**
 * For traces held only by the ingester while S3 is down: exact answers, except that a bloom-filter
 * false positive (1% per block) legitimately needs a block read and so answers 503 — never a
 * wrong trace or a 404.
 */
function expectServedWhileS3Down(reads: Reads, expected: ReadonlyMap<string, readonly SentSpan[]>, what: string): void {
  const problems = wrongTraces(reads, expected);
  const unavailable = problems.filter((line) => /HTTP 503/.test(line));
  expect(problems.filter((line) => !/HTTP 503/.test(line)), `${what}: wrong answers`).toEqual([]);
  expect(unavailable.length, `${what}: 503s beyond what bloom false positives explain: ${unavailable.join('; ')}`).toBeLessThanOrEqual(3);
}

function expectExact(reads: Reads, expected: ReadonlyMap<string, readonly SentSpan[]>, what: string): void {
  const problems = wrongTraces(reads, expected);
  expect(problems.slice(0, 5), `${what}: ${problems.length} of ${expected.size} traces wrong`).toEqual([]);
}

/** Bytes in each WAL file under `walDir` (relative path → size). */
function walFiles(walDir: string): Map<string, number> {
  return new Map(listFilesRecursive(walDir).filter((f) => f.endsWith('.wal')).map((f) => [f, statSync(join(walDir, f)).size]));
}

function baseConfig(prefix: string, s3Extra: Record<string, unknown> = {}): Record<string, unknown> {
  return mergeConfig(s3StorageConfig(s3.port, s3.bucket, prefix, s3Extra), {
    storage: { trace: { blocklist_poll: '500ms' } },
    ingester: { flush_check_period: '200ms', max_block_duration: '1h', trace_idle_period: '1h' },
  });
}

// ---------------------------------------------------------------------------------------------

describe('S3 faults', () => {
  it('(a) S3 down during flushes: acknowledged spans stay in the WAL, reads go on, and every span reaches S3 once it is back', async () => {
    const dir = makeTempDir('s3-outage');
    const prefix = 'andante/outage';
    const cfg = mergeConfig(baseConfig(prefix, { retry_max_attempts: 2, retry_backoff_initial: '50ms', retry_backoff_max: '100ms' }), {
      compactor: { compaction: { compaction_cycle: '1s' } },
    });
    const now = Date.now() - 30_000;
    let p = await startProcess(dir, cfg, 30_000, { env: s3rverEnv() });

    // Round A reaches S3. Straddling traces get their first half here, the rest during the outage.
    const aOnly = Array.from({ length: 15 }, (_, i) => makeTraceSpans(4, now + i, `a${i}`));
    const straddle = Array.from({ length: 10 }, (_, i) => makeTraceSpans(6, now + 100 + i, `s${i}`));
    const bOnly = Array.from({ length: 15 }, (_, i) => makeTraceSpans(5, now + 200 + i, `b${i}`));
    await send(p, [...aOnly.flat(), ...straddle.flatMap((t) => t.slice(0, 3))], 'http');
    await flush(p.ports.http);
    expect(await getMetric(p.ports.http, 'tempo_ingester_blocks_flushed_total')).toBe(1);
    const exp = (list: SentSpan[][]): Map<string, SentSpan[]> => new Map(list.map((t) => [traceHex(t), t]));
    expectExact(await fetchAll(p, aOnly.map(traceHex)), exp(aOnly), 'round A in S3');

    // S3 goes away. Pushes are still acknowledged: the WAL holds them.
    await s3.stop();
    let kept: [string, number][] = [];
    try {
      await send(p, [...bOnly.flat().slice(0, 40), ...straddle.flatMap((t) => t.slice(3))], 'grpc');
      await send(p, bOnly.flat().slice(40), 'http');
      // Long enough for compaction cycles (1s) and blocklist polls (500ms) to meet the outage.
      await sleep(2_500);
      expect(p.alive(), `andante survives S3 being down (compactor and blocklist poll fail meanwhile); stderr tail: ${p.stderr().slice(-2500)}`).toBe(true);

      // Trace by ID for data the ingester holds keeps working while S3 is down.
      const bExpected = exp(bOnly);
      const bLive = await fetchAll(p, [...bExpected.keys()]);
      // (Soft: the rest of the outage story is checked even when this fails.)
      expectServedWhileS3Down(bLive, bExpected, 'round B from the ingester while S3 is down (before /flush)');
      // Traces with a part in S3 are an error while S3 is down, never a wrong answer: no 404, no
      // partial trace.
      const straddleExpected = exp(straddle);
      const straddleReads = await fetchAll(p, [...straddleExpected.keys()]);
      const wrong = wrongTraces(straddleReads, straddleExpected).filter((line) => !/HTTP 5\d\d/.test(line));
      expect(wrong, 'straddling traces during the outage: only whole answers or 5xx').toEqual([]);

      const failedBefore = await getMetric(p.ports.http, 'tempo_ingester_failed_flushes_total');
      await flush(p.ports.http);
      expect(await getMetric(p.ports.http, 'tempo_ingester_failed_flushes_total'), 'failed flushes counted').toBeGreaterThan(failedBefore);
      expect(await getMetric(p.ports.http, 'tempo_ingester_blocks_flushed_total')).toBe(1);
      const walDuring = walFiles(join(dir, 'wal'));
      kept = [...walDuring].filter(([, size]) => size > 0);
      expect(kept.length, `the WAL keeps round B: ${JSON.stringify([...walDuring])}`).toBeGreaterThanOrEqual(1);
      expectServedWhileS3Down(await fetchAll(p, [...bExpected.keys()]), bExpected, 'round B from the ingester after the failed /flush');
      const s3Errors = await getMetric(p.ports.http, 'tempodb_backend_request_duration_seconds_count', { status_code: 'error' });
      expect(s3Errors, 'S3 requests that got no answer are counted').toBeGreaterThan(0);
    } finally {
      // S3 is back: the ingester's own retry (no /flush) writes the block and drops its WAL file.
      await s3.restart();
    }
    await waitFor(
      async () => (await getMetric(p.ports.http, 'tempo_ingester_blocks_flushed_total')) >= 2,
      20_000,
      () => `the kept block flushed by the retry loop; stderr tail: ${p.stderr().slice(-1500)}`,
      200,
    );
    const walAfter = walFiles(join(dir, 'wal'));
    for (const [file] of kept) expect(walAfter.has(file), `WAL file ${file} removed once its block is in S3`).toBe(false);
    expect([...walAfter.values()].every((n) => n === 0), 'no WAL records left').toBe(true);

    // Every acknowledged span is in S3's visible blocks.
    const backend = new S3Backend(s3.config({ prefix }));
    try {
      const blocks = await listTenantBlocks(backend, TENANT);
      const allSpans = [...aOnly, ...straddle, ...bOnly].reduce((n, t) => n + t.length, 0);
      expect(blocks.metas.reduce((n, m) => n + m.totalSpans, 0), 'spans in visible blocks').toBe(allSpans);
    } finally {
      await backend.close();
    }

    // A new process with an empty WAL serves everything from S3.
    await p.kill9();
    p = await startProcess(dir, cfg, 30_000, { env: s3rverEnv() });
    expect(await getMetric(p.ports.http, 'tempo_ingester_wal_replayed_segments_total')).toBe(0);
    const everything = exp([...aOnly, ...straddle, ...bOnly]);
    expectExact(await fetchAll(p, [...everything.keys()]), everything, 'every trace from S3 after a restart');
    expect(await p.stop(), p.stderr().slice(-2000)).toBe(0);
  }, 90_000);

  it('(b) kill -9 mid-compaction at any step: no trace lost or duplicated, compaction resumes', async () => {
    const dir = makeTempDir('s3-compactor-crash');
    const prefix = 'andante/crash';
    const cfg = baseConfig(prefix, { retry_max_attempts: 3, retry_backoff_initial: '100ms', retry_backoff_max: '200ms' });
    const backend = new S3Backend(s3.config({ prefix }));
    const log = (m: string): void => void process.stderr.write(`[s3-faults b] ${m}\n`);
    try {
      // 16 small blocks in one compaction window; traces split across neighbouring blocks, and a
      // span of every 4th trace re-sent in the next block.
      const ROUNDS = 16;
      const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 1_000;
      const traces = Array.from({ length: 80 }, (_, i) => makeTraceSpans(4, base + i * 3, `t${i}`));
      const rounds: SentSpan[][] = Array.from({ length: ROUNDS }, () => []);
      traces.forEach((t, i) => {
        rounds[i % ROUNDS]!.push(t[0]!, t[1]!);
        rounds[(i + 1) % ROUNDS]!.push(t[2]!, t[3]!);
        if (i % 4 === 0) rounds[(i + 1) % ROUNDS]!.push(t[1]!);
      });
      const expected = new Map(traces.map((t) => [traceHex(t), t]));
      const ids = [...expected.keys()];

      const p1 = await startProcess(dir, mergeConfig(cfg, { compactor: { compaction: { compaction_disabled: true } } }), 30_000, { env: s3rverEnv() });
      for (let r = 0; r < ROUNDS; r++) {
        await send(p1, rounds[r]!, r % 2 ? 'grpc' : 'http');
        await flush(p1.ports.http);
      }
      expect((await listTenantBlocks(backend, TENANT)).metas.length).toBe(ROUNDS);
      expect(await p1.stop()).toBe(0);

      const blockIdsInBucket = (): Set<string> =>
        new Set(
          s3rverObjectKeys(s3.directory!, s3.bucket)
            .filter((k) => k.startsWith(`${prefix}/${TENANT}/`))
            .map((k) => k.split('/')[3]!)
            .filter((x) => x !== 'index.json.gz'),
        );
      /** The object a request names: [blockID, name] under the prefix, or null. */
      const objectOf = (path: string): [string, string] | null => {
        const head = `/${s3.bucket}/${prefix}/${TENANT}/`;
        if (!path.startsWith(head)) return null;
        const rest = path.slice(head.length).split('/');
        return rest.length === 2 ? [rest[0]!, rest[1]!] : null;
      };

      // Checks the bucket as a crash left it: every span of every trace is in a visible block,
      // and no block holds a span twice.
      const checkBucket = async (what: string): Promise<{ visible: number; compacted: number; orphans: number }> => {
        const { metas, compacted } = await listTenantBlocks(backend, TENANT);
        const union = new Map<string, Set<string>>();
        const dupProblems: string[] = [];
        for (const meta of metas) {
          for await (const t of new BackendBlock(backend, meta).iterateTraces()) {
            const id = bytesToHex(t.traceId);
            const spanIds = spanIdsOf(t.trace);
            if (duplicatesOf(spanIds).length > 0) dupProblems.push(`block ${meta.blockID} trace ${id}`);
            const set = union.get(id) ?? new Set<string>();
            for (const s of spanIds) set.add(s);
            union.set(id, set);
          }
        }
        const lost: string[] = [];
        for (const [id, spans] of expected) {
          const have = union.get(id);
          const missing = spans.filter((s) => !have?.has(bytesToHex(s.span.spanId)));
          if (missing.length > 0) lost.push(`${id}: ${missing.length} spans`);
        }
        expect(lost, `${what}: spans missing from the visible blocks`).toEqual([]);
        expect(dupProblems, `${what}: a block holds a span twice`).toEqual([]);
        const known = new Set([...metas, ...compacted].map((m) => m.blockID));
        const orphans = [...blockIdsInBucket()].filter((id) => !known.has(id)).length;
        return { visible: metas.length, compacted: compacted.length, orphans };
      };

      const stages: { name: string; trigger?: (known: Set<string>) => Gate['trigger'] }[] = [
        { name: "after the output's meta.json", trigger: (known) => (r) => r.method === 'PUT' && objectOf(r.path) !== null && !known.has(objectOf(r.path)![0]) && objectOf(r.path)![1] === 'meta.json' },
        { name: "after the output's first object", trigger: (known) => (r) => r.method === 'PUT' && objectOf(r.path) !== null && !known.has(objectOf(r.path)![0]) && objectOf(r.path)![1] !== 'meta.json' },
        { name: "after an input's meta.compacted.json", trigger: () => (r) => r.method === 'PUT' && objectOf(r.path)?.[1] === 'meta.compacted.json' },
        { name: "after an input's meta.json delete", trigger: () => (r) => r.method === 'DELETE' && objectOf(r.path)?.[1] === 'meta.json' },
        { name: 'at a random time' },
      ];
      const stderrs: string[] = [];
      const stageCfg = mergeConfig(cfg, { compactor: { compaction: { compaction_cycle: '2s', compacted_block_retention: '1h' } } });
      for (const stage of stages) {
        const known = blockIdsInBucket();
        const p = await startProcess(dir, stageCfg, 30_000, { env: s3rverEnv() });
        const startedAt = Date.now();
        // What the last crash left, read by a fresh process: whole traces, no duplicate spans.
        const reads = await fetchAll(p, ids);
        const readMs = Date.now() - startedAt;
        expectExact(reads, expected, `reads after restart (before stage "${stage.name}")`);
        gate.tripped = false;
        gate.trippedBy = '';
        if (stage.trigger) {
          gate.trigger = stage.trigger(known);
          gate.armed = true;
          await waitFor(() => gate.tripped, 20_000, () => `stage "${stage.name}" to be reached; stderr tail: ${p.stderr().slice(-1500)}`, 2);
          await sleep(Math.floor(Math.random() * 20));
        } else {
          // Somewhere in the first two compaction cycles (2s apart, the first 2s after start).
          await sleep(Math.max(0, startedAt + 2_000 + Math.floor(Math.random() * 2_500) - Date.now()));
        }
        await p.kill9();
        gate.armed = false;
        stderrs.push(p.stderr());
        const state = await checkBucket(`crash ${stage.name}`);
        log(`crash ${stage.name} (${gate.trippedBy || 'no gate'}): reads took ${readMs} ms; ${state.visible} visible, ${state.compacted} compacted, ${state.orphans} orphaned block folders`);
      }

      // Resume: the compactor finishes what the crashes left and merges everything.
      const p = await startProcess(dir, mergeConfig(cfg, { compactor: { compaction: { compaction_cycle: '1s', compacted_block_retention: '1h' } } }), 30_000, { env: s3rverEnv() });
      const settled = (await waitFor(
        async () => {
          const b = await listTenantBlocks(backend, TENANT);
          return b.metas.length === 1 ? b : null;
        },
        40_000,
        () => `compaction to finish; stderr tail: ${p.stderr().slice(-1500)}`,
        250,
      ))!;
      const out = settled.metas[0]! as BlockMeta & { compactedFrom?: string[] };
      expect(out.totalObjects).toBe(expected.size);
      expect(out.totalSpans, 'merged block: every span once').toBe(traces.reduce((n, t) => n + t.length, 0));
      const visible = new Set(settled.metas.map((m) => m.blockID));
      for (const id of out.compactedFrom ?? []) expect(visible.has(id), `input ${id} visible beside its output`).toBe(false);
      await sleep(1_200); // the querier's blocklist catches up (it must be right meanwhile too)
      expectExact(await fetchAll(p, ids), expected, 'after compaction resumed');
      stderrs.push(p.stderr());
      expect(stderrs.join('\n'), 'a restarted compactor finished an interrupted compaction').toContain('finished an interrupted compaction');
      const final = await checkBucket('final');
      log(`final: ${final.visible} visible, ${final.compacted} compacted, ${final.orphans} orphaned block folders (partial outputs of crashed compactions)`);
      expect(await p.stop()).toBe(0);
    } finally {
      gate.armed = false;
      await backend.close();
    }
  }, 120_000);
});
