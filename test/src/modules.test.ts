// -target as Tempo accepts it: a compactor runs as its own process beside an `all` process with
// compaction disabled, on the same local storage, and compacts its blocks (every trace still
// answers by ID); the list of every module is `all`; a target whose modules would need internal
// gRPC (not built yet) fails at startup with an error naming the missing transport.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '@andante/model';
import {
  BIN_PATH,
  childEnv,
  fetchTraceProto,
  flush,
  getMetric,
  killAllProcesses,
  listFilesRecursive,
  makeConfigYaml,
  makeTempDir,
  postOtlpHttp,
  removeTempDirs,
  startProcess,
  waitFor,
} from './harness.js';
import { encodeRequest, makeSpan, randomTraceId } from './otlp.js';
import { writeFileSync } from 'node:fs';

afterAll(async () => {
  await killAllProcesses();
  removeTempDirs();
});

async function send(port: number, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const traceId = randomTraceId();
    const res = await postOtlpHttp(
      port,
      encodeRequest({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'modules' } }], droppedAttributesCount: 0 },
            scopeSpans: [{ scope: { name: 'modules', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [makeSpan(traceId)], schemaUrl: '' }],
            schemaUrl: '',
          },
        ],
      }),
    );
    expect(res.status).toBe(200);
    ids.push(bytesToHex(traceId));
  }
  return ids;
}

/** Live (not compacted) block metas under the local traces dir. */
const liveBlocks = (tracesDir: string): string[] => listFilesRecursive(tracesDir).filter((f) => f.endsWith('/meta.json'));
const compactedBlocks = (tracesDir: string): string[] => listFilesRecursive(tracesDir).filter((f) => f.endsWith('/meta.compacted.json'));

/** Runs the binary with `args` until it exits; its exit code and stderr. */
function runToExit(dir: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN_PATH, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: childEnv() });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
}

describe('-target', () => {
  it('compactor runs as its own process and compacts the blocks an `all` process (compaction disabled) writes to the same local storage', async () => {
    const dir = makeTempDir('modules-compactor');
    const tracesDir = join(dir, 'traces');
    const writer = await startProcess(dir, { compactor: { compaction: { compaction_disabled: true } } });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(...(await send(writer.ports.otlpHttp!, 5)));
      await flush(writer.ports.http);
    }
    expect(liveBlocks(tracesDir).length, 'one block per flush').toBe(3);

    const compactorDir = makeTempDir('modules-compactor-only');
    const compactor = await startProcess(compactorDir, {
      target: 'compactor',
      storage: { trace: { local: { path: tracesDir } } },
      // One compaction window for all time, so flushes that straddle an hour still compact together.
      compactor: { compaction: { compaction_cycle: '1s', compaction_window: '1000000h' } },
    });
    expect(compactor.ports.otlpHttp, 'a compactor runs no receivers').toBeNull();
    expect(compactor.ports.otlpGrpc).toBeNull();
    expect((await fetch(`http://127.0.0.1:${compactor.ports.http}/ready`)).status).toBe(200);
    // Only the compactor's routes: no query API, no ingester /flush.
    expect((await fetch(`http://127.0.0.1:${compactor.ports.http}/api/search`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${compactor.ports.http}/flush`, { method: 'POST' })).status).toBe(404);

    await waitFor(async () => (await getMetric(compactor.ports.http, 'tempodb_compaction_blocks_total')) >= 2, 60_000, 'the compactor process to compact');
    await waitFor(() => compactedBlocks(tracesDir).length >= 2, 30_000, 'inputs marked compacted');
    expect(await getMetric(writer.ports.http, 'tempodb_compaction_blocks_total'), 'the all process compacts nothing').toBe(0);
    // Every trace still answers by ID from the `all` process (the inputs stay readable for compacted_block_retention).
    const answers = await Promise.all(ids.map(async (id) => (await fetchTraceProto(writer.ports.http, id)).status));
    expect(answers.filter((s) => s !== 200)).toEqual([]);

    expect(await compactor.stop(), compactor.stderr().slice(-2000)).toBe(0);
    expect(await writer.stop(), writer.stderr().slice(-2000)).toBe(0);
  }, 120_000);

  it('every module listed is `all`: it ingests, searches and answers by ID', async () => {
    const dir = makeTempDir('modules-list');
    const proc = await startProcess(dir, { target: 'distributor,ingester,querier,query-frontend,compactor,metrics-generator' });
    const started = proc
      .stderr()
      .split('\n')
      .map((l) => { try { return JSON.parse(l) as { msg?: string; modules?: string[] }; } catch { return {}; } })
      .find((e) => e.msg === 'andante started');
    expect([...(started?.modules ?? [])].sort()).toEqual(['compactor', 'distributor', 'ingester', 'metrics-generator', 'querier', 'query-frontend']);
    const [id] = await send(proc.ports.otlpHttp!, 1);
    expect((await fetchTraceProto(proc.ports.http, id!)).status).toBe(200);
    const search = (await (await fetch(`http://127.0.0.1:${proc.ports.http}/api/search?q=${encodeURIComponent('{ resource.service.name = "modules" }')}`)).json()) as { traces: { traceID: string }[] };
    expect(search.traces.map((t) => t.traceID)).toContain(id);
    expect(await proc.stop(), proc.stderr().slice(-2000)).toBe(0);
  }, 60_000);

  it.each([
    // -target=query-frontend runs alone now (queriers pull its jobs: test/src/frontend-queue.test.ts); a querier needs their address.
    ['querier', 'querier takes jobs from query-frontends: with none in this process, set querier.frontend_worker.frontend_address'],
    ['compactor,bogus', 'target: unknown target "bogus"'],
  ])('-target=%s fails at startup naming the missing transport', async (target, message) => {
    const dir = makeTempDir('modules-refused');
    const config = join(dir, 'andante.yaml');
    writeFileSync(config, makeConfigYaml(dir));
    const { code, stderr } = await runToExit(dir, [`-config.file=${config}`, `-target=${target}`]);
    expect(code).not.toBe(0);
    expect(stderr).toContain(message);
  }, 30_000);
});
