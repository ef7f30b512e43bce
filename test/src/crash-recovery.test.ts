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
  type AndanteProcess,
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
async function checkAcknowledged(httpPort: number, traces: Map<string, string[]>, diagnose: () => string = () => ''): Promise<{ lostSpans: number; missingTraces: string[]; duplicated: string[]; examples: string[]; spansChecked: number }> {
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
      let res;
      try {
        res = await fetchTraceProto(httpPort, traceId, 'v1');
      } catch (err) {
        throw new Error(`GET /api/traces/${traceId} failed: ${(err as Error).message} (${(err as Error & { cause?: Error }).cause?.message ?? ''}); ${diagnose()}`);
      }
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

interface LoadRound {
  /** Acknowledged trace ID (hex) → its acknowledged span IDs. */
  traces: Map<string, string[]>;
  ackedSpans: number;
  errorsSeen: number;
  partial: number;
}

/**
 * Runs the load generator (a separate process) against `server` until it has been acknowledged
 * for `loadMs` and at least `minAcks` traces, kills the server with SIGKILL mid-stream, lets the
 * generator see the failure, stops it and returns what was acknowledged.
 */
async function loadThenKill9(
  dir: string,
  server: AndanteProcess,
  loadMs: number,
  minAcks: number,
  tracesPerExport: number,
  log: (m: string) => void,
): Promise<LoadRound> {
  const script = writeLoadGenerator(dir);
  // 4 concurrent exporters, `tracesPerExport` traces of 6-7 spans per export, 15 ms pause after each OK.
  const lg = spawn(process.execPath, [script, String(server.ports.otlpGrpc), MODEL_DIST, TEST_PACKAGE_JSON, '4', '6', String(tracesPerExport), '15'], {
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

  await waitFor(
    () => firstAckAt > 0 && Date.now() - firstAckAt >= loadMs && acks >= minAcks,
    30_000,
    () => `acknowledged exports (acks ${acks}; loadgen stderr: ${err}; server stderr tail: ${server.stderr().slice(-2000)})`,
  );
  await server.kill9();
  const walBytes = listFilesRecursive(join(dir, 'wal'))
    .filter((f) => f.endsWith('.wal'))
    .reduce((n, f) => n + statSync(join(dir, 'wal', f)).size, 0);
  log(`killed the server after ${acks} acknowledged traces; ${walBytes} WAL bytes on disk`);
  // The generator keeps trying and sees errors; then it is stopped.
  await sleep(400);
  lg.kill('SIGTERM');
  expect(await lgExit, `load generator stderr: ${err}`).toBe(0);
  loadgens.delete(lg);

  expect(out.endsWith('\n') || out === '', 'generator output ends with a complete line').toBe(true);
  const traces = new Map<string, string[]>();
  let partial = 0;
  for (const line of out.split('\n')) {
    if (line.startsWith('ACK ')) {
      const [, traceId, spans] = line.split(' ');
      traces.set(traceId!, spans!.split(','));
    } else if (line.startsWith('PARTIAL')) partial++;
  }
  const summary = JSON.parse(/SUMMARY (.*)/.exec(err)?.[1] ?? '{}') as { errors?: number; ackedSpans?: number };
  const ackedSpans = [...traces.values()].reduce((n, x) => n + x.length, 0);
  expect(traces.size, 'one ACK line per acknowledged trace').toBe(acks);
  expect(summary.ackedSpans, 'the generator\'s own count of acknowledged spans').toBe(ackedSpans);
  return { traces, ackedSpans, errorsSeen: summary.errors ?? 0, partial };
}

describe('crash recovery', () => {
  it('kill -9 during steady load from another process loses no acknowledged span (two crash cycles)', async () => {
    const dir = makeTempDir('crash');
    const t0 = Date.now();
    const log = (m: string): void => console.log(`[crash +${Date.now() - t0} ms] ${m}`);
    // Short idle/block periods so that during the run traces move from live to head block and
    // blocks are completed and flushed: the kill can land in any of those stages.
    const overrides = {
      ingester: { trace_idle_period: '300ms', max_block_duration: '1s', flush_check_period: '200ms' },
      overrides: { defaults: { ingestion: { rate_limit_bytes: 1_000_000_000, burst_size_bytes: 1_000_000_000, max_traces_per_user: 10_000_000 } } },
    };

    // Cycle 1: steady load for 1.5 s of small exports (one trace each, decoded on the event loop), kill -9.
    const first = await startProcess(dir, overrides);
    const round1 = await loadThenKill9(dir, first, 1_500, 50, 1, log);
    // Cycle 2: restart (WAL replay, replayed blocks being completed and flushed), load again
    // right away and kill -9 again after 0.5 s: the second crash lands during recovery work.
    // Exports of 40 traces (~50 KB): decoded on the worker threads.
    const second = await startProcess(dir, overrides);
    log('restarted (1)');
    const round2 = await loadThenKill9(dir, second, 500, 20, 40, log);

    for (const [i, r] of [round1, round2].entries()) {
      expect(r.partial, `round ${i + 1}: no export was partially refused`).toBe(0);
      expect(r.errorsSeen, `round ${i + 1}: the generator saw the server die`).toBeGreaterThan(0);
    }
    const all = new Map([...round1.traces, ...round2.traces]);
    expect(all.size).toBe(round1.traces.size + round2.traces.size);

    const third = await startProcess(dir, overrides);
    log('restarted (2)');
    expect(await getReady(third.ports.http)).toBe(200);
    const r = await checkAcknowledged(third.ports.http, all, () => `server alive: ${third.alive()}; stderr tail:\n${third.stderr().slice(-3000)}`);
    log('checked');
    const spanTotal = round1.ackedSpans + round2.ackedSpans;
    console.log(
      `crash recovery: ${all.size} acknowledged traces (${round1.traces.size} + ${round2.traces.size}), ${spanTotal} acknowledged spans, ${r.lostSpans} lost`,
    );
    expect(r.spansChecked).toBe(spanTotal);
    expect(r.missingTraces.slice(0, 10), `${r.missingTraces.length} acknowledged traces not found`).toEqual([]);
    expect(r.examples).toEqual([]);
    expect(r.lostSpans).toBe(0);
    expect(r.duplicated.slice(0, 10), 'traces with duplicate spans after replay').toEqual([]);

    // After recovery it still takes data.
    const client = new OtlpGrpcClient(third.ports.otlpGrpc!);
    try {
      const traceId = randomTraceId();
      const ans = await client.export(encodeRequest(makeTrace([makeSpan(traceId)])));
      expect(ans.ok).toBe(true);
      expect((await fetchTraceProto(third.ports.http, bytesToHex(traceId))).status).toBe(200);
    } finally {
      client.close();
    }
    expect(await third.stop()).toBe(0);
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
