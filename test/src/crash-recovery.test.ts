// Durability across process death: the built binary runs as a child process; a second process
// (a load generator) exports a steady OTLP/gRPC stream and reports every acknowledged trace.
//  - kill -9 mid-load, restart on the same dirs: every acknowledged span is returned by ID.
//  - SIGTERM: a graceful stop flushes blocks (meta.json present, no WAL records left) and the
//    data is served after a restart that only has the blocks.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  MODEL_DIST,
  OtlpGrpcClient,
  TEST_PACKAGE_JSON,
  decodeExportResponse,
  fetchTraceProto,
  getReady,
  killAllProcesses,
  listFilesRecursive,
  makeTempDir,
  removeTempDirs,
  sleep,
  startProcess,
  waitFor,
} from './harness.js';
import { writeLoadGenerator } from './loadgen.js';
import { duplicatesOf, encodeRequest, makeSpan, makeTrace, randomSpanId, randomTraceId, spanIdsOf } from './otlp.js';
import { bytesToHex } from '@andante/model';

const loadgens = new Set<ChildProcess>();

afterEach(async () => {
  for (const lg of loadgens) lg.kill('SIGKILL');
  loadgens.clear();
  await killAllProcesses();
});

afterAll(() => {
  removeTempDirs();
});

/** Fetches `traces` (hex trace ID → acknowledged span IDs) and reports what is missing. */
async function checkAcknowledged(httpPort: number, traces: Map<string, string[]>): Promise<{ lostSpans: number; missingTraces: string[]; duplicated: string[]; examples: string[]; spansChecked: number }> {
  const entries = [...traces];
  let next = 0;
  let lostSpans = 0;
  let spansChecked = 0;
  const missingTraces: string[] = [];
  const duplicated: string[] = [];
  const examples: string[] = [];
  const worker = async (): Promise<void> => {
    while (next < entries.length) {
      const [traceId, spanIds] = entries[next++]!;
      spansChecked += spanIds.length;
      const res = await fetchTraceProto(httpPort, traceId, 'v1');
      if (res.status !== 200) {
        missingTraces.push(`${traceId} (HTTP ${res.status})`);
        lostSpans += spanIds.length;
        continue;
      }
      const got = spanIdsOf(res.trace!);
      const have = new Set(got);
      const lost = spanIds.filter((s) => !have.has(s));
      if (lost.length > 0) {
        lostSpans += lost.length;
        if (examples.length < 5) examples.push(`trace ${traceId}: lost ${lost.join(',')} (got ${got.join(',')})`);
      }
      if (duplicatesOf(got).length > 0) duplicated.push(traceId);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { lostSpans, missingTraces, duplicated, examples, spansChecked };
}

describe('crash recovery', () => {
  it('kill -9 during steady load from another process loses no acknowledged span', async () => {
    const dir = makeTempDir('crash');
    // Short idle/block periods so that during the run traces move from live to head block and
    // blocks are completed and flushed: the kill can land in any of those stages.
    const overrides = {
      ingester: { trace_idle_period: '300ms', max_block_duration: '1s', flush_check_period: '200ms' },
      overrides: { defaults: { ingestion: { rate_limit_bytes: 1_000_000_000, burst_size_bytes: 1_000_000_000, max_traces_per_user: 10_000_000 } } },
    };
    const server = await startProcess(dir, overrides);
    const script = writeLoadGenerator(dir);
    const lg = spawn(process.execPath, [script, String(server.ports.otlpGrpc), MODEL_DIST, TEST_PACKAGE_JSON, '8', '4'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    loadgens.add(lg);
    let out = '';
    let err = '';
    let acks = 0;
    let firstAckAt = 0;
    let lineBuf = '';
    lg.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      lineBuf += d;
      const lines = lineBuf.split('\n');
      lineBuf = lines.pop()!;
      for (const l of lines) if (l.startsWith('ACK ')) acks++;
      if (!firstAckAt && acks > 0) firstAckAt = Date.now();
    });
    lg.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const lgExit = new Promise<number | null>((r) => lg.once('exit', (code) => r(code)));

    await waitFor(() => firstAckAt > 0 && Date.now() - firstAckAt >= 1_500 && acks >= 100, 30_000, `acknowledged exports (acks ${acks}; loadgen stderr: ${err}; server stderr tail: ${server.stderr().slice(-2000)})`);
    await server.kill9();
    const ackedAtKill = acks;
    const t0 = Date.now();
    const log = (m: string): void => console.log(`[crash +${Date.now() - t0} ms] ${m}`);
    log(`killed the server after ${acks} acknowledged traces`);
    // The generator keeps trying and sees errors; then it is stopped.
    await sleep(500);
    lg.kill('SIGTERM');
    expect(await lgExit, `load generator stderr: ${err}`).toBe(0);
    loadgens.delete(lg);

    const traces = new Map<string, string[]>();
    let partial = 0;
    expect(out.endsWith('\n') || out === '', 'generator output ends with a complete line').toBe(true);
    for (const line of out.split('\n')) {
      if (line.startsWith('ACK ')) {
        const [, traceId, spans] = line.split(' ');
        traces.set(traceId!, spans!.split(','));
      } else if (line.startsWith('PARTIAL')) partial++;
    }
    const summary = JSON.parse(/SUMMARY (.*)/.exec(err)?.[1] ?? '{}') as { errors?: number; ackedSpans?: number };
    expect(partial, 'no export was partially refused').toBe(0);
    expect(traces.size).toBe(acks);
    expect(traces.size).toBeGreaterThanOrEqual(ackedAtKill);
    expect(summary.errors ?? 0, 'the generator saw the server die').toBeGreaterThan(0);

    const restarted = await startProcess(dir, overrides);
    log('restarted');
    expect(await getReady(restarted.ports.http)).toBe(200);
    const r = await checkAcknowledged(restarted.ports.http, traces);
    log('checked');
    const spanTotal = [...traces.values()].reduce((n, s) => n + s.length, 0);
    console.log(`crash recovery: ${traces.size} acknowledged traces, ${spanTotal} acknowledged spans, ${r.lostSpans} lost`);
    expect(r.spansChecked).toBe(spanTotal);
    expect(summary.ackedSpans).toBe(spanTotal);
    expect(r.missingTraces.slice(0, 10), `${r.missingTraces.length} acknowledged traces not found`).toEqual([]);
    expect(r.examples).toEqual([]);
    expect(r.lostSpans).toBe(0);
    expect(r.duplicated.slice(0, 10), 'traces with duplicate spans after replay').toEqual([]);

    // After recovery it still takes data.
    const client = new OtlpGrpcClient(restarted.ports.otlpGrpc!);
    try {
      const traceId = randomTraceId();
      const ans = await client.export(encodeRequest(makeTrace([makeSpan(traceId)])));
      expect(ans.ok).toBe(true);
      expect((await fetchTraceProto(restarted.ports.http, bytesToHex(traceId))).status).toBe(200);
    } finally {
      client.close();
    }
    expect(await restarted.stop()).toBe(0);
  });

  it('SIGTERM flushes blocks and leaves no WAL records; the blocks alone serve the data', async () => {
    const dir = makeTempDir('sigterm');
    const server = await startProcess(dir);
    const client = new OtlpGrpcClient(server.ports.otlpGrpc!);
    const sent = new Map<string, string[]>();
    try {
      for (let i = 0; i < 20; i++) {
        const t1 = randomTraceId();
        const t2 = randomTraceId();
        const root1 = randomSpanId();
        const spans = [
          makeSpan(t1, root1, { name: 'root', kind: 2 }),
          makeSpan(t1, randomSpanId(), { parentSpanId: root1, name: 'child', kind: 3 }),
          makeSpan(t2, randomSpanId(), { name: 'other' }),
        ];
        const ans = await client.export(encodeRequest(makeTrace(spans, 'sigterm-test')), {}, 10_000);
        expect(ans.ok, ans.ok ? '' : `export failed: ${ans.code} ${ans.details}`).toBe(true);
        if (ans.ok) expect(decodeExportResponse(ans.response).rejectedSpans).toBe(0);
        sent.set(bytesToHex(t1), [bytesToHex(spans[0]!.spanId), bytesToHex(spans[1]!.spanId)]);
        sent.set(bytesToHex(t2), [bytesToHex(spans[2]!.spanId)]);
      }
    } finally {
      client.close();
    }
    const before = await checkAcknowledged(server.ports.http, sent);
    expect(before.lostSpans).toBe(0);

    const code = await server.stop(30_000);
    expect(code, `exit code; stderr:\n${server.stderr()}`).toBe(0);
    const errorLines = server
      .stderr()
      .split('\n')
      .filter((l) => l.includes('"level":"error"'));
    expect(errorLines).toEqual([]);

    const blockFiles = listFilesRecursive(join(dir, 'traces'));
    const metas = blockFiles.filter((f) => f.startsWith('single-tenant') && f.endsWith('meta.json'));
    expect(metas.length, `files in the data dir: ${blockFiles.join(', ')}`).toBeGreaterThan(0);
    for (const m of metas) expect(() => JSON.parse(readFileSync(join(dir, 'traces', m), 'utf8'))).not.toThrow();
    const walRecords = listFilesRecursive(join(dir, 'wal')).filter((f) => f.endsWith('.wal') && statSync(join(dir, 'wal', f)).size > 0);
    expect(walRecords, 'WAL files with records after a graceful stop').toEqual([]);

    // Only the blocks: a fresh WAL dir.
    const restarted = await startProcess(dir, { storage: { trace: { wal: { path: join(dir, 'wal-fresh') } } } });
    const after = await checkAcknowledged(restarted.ports.http, sent);
    expect(after.missingTraces).toEqual([]);
    expect(after.lostSpans).toBe(0);
    expect(after.duplicated).toEqual([]);
    expect(await restarted.stop()).toBe(0);
  });
});
