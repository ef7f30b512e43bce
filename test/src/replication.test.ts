// Replication factor 3 across processes (issue 12 §4): three `-target=ingester` processes and one
// `-target=distributor` with their rings in a real etcd, one shared local backend. Under steady
// OTLP load: SIGKILL one ingester (exports keep succeeding; restarted on its WAL dir it replays
// what it had), SIGSTOP one (writes succeed at the quorum with latency far below the remote
// timeout; SIGCONT brings it back ACTIVE), SIGTERM one (LEAVING, flush, leave, exit 0; its
// replacement finds nothing left to replay). Reads go to each replica's FindTraceByID over
// internal gRPC (every acknowledged trace is on at least a write quorum of replicas) and by ID
// through a `-target=querier,query-frontend` process (no 404 while an ingester leaves).

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@andante/model';
import { IngesterGrpcClient } from '@andante/ingester-client';
import { LocalBackend } from '@andante/backend';
import { BackendBlock } from '@andante/storage';
import { startTestEtcd, type TestEtcd } from '@andante/ring/testing';
import { fetchTraceProto, killAllProcesses, listFilesRecursive, makeTempDir, postOtlpHttp, removeTempDirs, sleep, startProcess, waitFor, type AndanteProcess } from './harness.js';
import { clusterConfig } from './cluster-config.js';
import { encodeRequest, makeSpan, makeTrace, randomTraceId } from './otlp.js';

const RF = 3;
/** Far above any quorum write on a loaded machine: a latency near it means a hung replica was awaited. */
const REMOTE_TIMEOUT_MS = 20_000;
/** The rings' lease TTL: long enough that a loaded machine does not lapse a live member's lease. */
const HEARTBEAT_TIMEOUT = '6s';

let etcd: TestEtcd;
let backendDir: string;
const prefix = `replication-${process.pid}/`;

interface IngesterNode {
  name: string;
  dir: string;
  proc: AndanteProcess;
}
const ingesters: IngesterNode[] = [];
let distributor: AndanteProcess;
/** `-target=querier,query-frontend`: reads by ID fan out to every readable ingester over internal gRPC. */
let querier: AndanteProcess;

async function startIngester(name: string, dir: string): Promise<AndanteProcess> {
  return startProcess(
    dir,
    {
      ...clusterConfig({ etcdEndpoint: etcd.endpoint, prefix, target: 'ingester', name, replicationFactor: RF, heartbeatTimeout: HEARTBEAT_TIMEOUT }),
      storage: { trace: { local: { path: backendDir }, wal: { path: join(dir, 'wal') } } },
    },
    60_000,
  );
}

beforeAll(async () => {
  etcd = await startTestEtcd();
  backendDir = join(makeTempDir('replication-backend'), 'traces');
  for (const name of ['a', 'b', 'c']) {
    const dir = makeTempDir(`replication-ingester-${name}`);
    ingesters.push({ name, dir, proc: await startIngester(name, dir) });
  }
  distributor = await startProcess(
    makeTempDir('replication-distributor'),
    {
      ...clusterConfig({ etcdEndpoint: etcd.endpoint, prefix, target: 'distributor', name: 'd', replicationFactor: RF, heartbeatTimeout: HEARTBEAT_TIMEOUT }),
      ingester_client: { remote_timeout: `${REMOTE_TIMEOUT_MS / 1000}s` },
    },
    60_000,
  );
  querier = await startProcess(
    makeTempDir('replication-querier'),
    {
      ...clusterConfig({ etcdEndpoint: etcd.endpoint, prefix, target: 'querier,query-frontend', name: 'q', replicationFactor: RF, heartbeatTimeout: HEARTBEAT_TIMEOUT }),
      storage: { trace: { local: { path: backendDir } } },
    },
    60_000,
  );
  await waitForStates({ 'ingester-a': 'ACTIVE', 'ingester-b': 'ACTIVE', 'ingester-c': 'ACTIVE' });
}, 240_000);

afterAll(async () => {
  await killAllProcesses();
  await etcd?.close();
  removeTempDirs();
});

/** The ingester ring as the distributor sees it: id -> state (UNHEALTHY for a silent member). */
async function ringStates(): Promise<Record<string, string>> {
  const res = await fetch(`http://127.0.0.1:${distributor.ports.http}/ingester/ring`, { headers: { accept: 'application/json' } });
  const { shards } = (await res.json()) as { shards: { id: string; state: string }[] };
  return Object.fromEntries(shards.map((s) => [s.id, s.state]));
}

async function waitForStates(want: Record<string, string | undefined>, timeoutMs = 60_000): Promise<void> {
  let last: Record<string, string> = {};
  await waitFor(
    async () => {
      last = await ringStates();
      return Object.entries(want).every(([id, state]) => last[id] === state);
    },
    timeoutMs,
    () => `ingester ring ${JSON.stringify(want)} (last seen ${JSON.stringify(last)})`,
  );
}

async function distributorMetric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${distributor.ports.http}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && (l[name.length] === ' ' || l[name.length] === '{'))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

/** Waits until no replica call of an acknowledged export is still running. */
const backgroundDone = (): Promise<boolean> =>
  waitFor(async () => (await distributorMetric('andante_distributor_ingester_background_pushes')) === 0, 60_000, 'background replica pushes to finish');

interface Load {
  acked: string[];
  failures: string[];
  latenciesMs: number[];
  stop(): Promise<void>;
}

/** Steady exports (two spans per trace) from two concurrent senders until stop(). */
function steadyLoad(): Load {
  let running = true;
  const load: Load = { acked: [], failures: [], latenciesMs: [], stop: async () => undefined };
  const sender = async (): Promise<void> => {
    while (running) {
      const traceId = randomTraceId();
      const t0 = performance.now();
      try {
        const res = await postOtlpHttp(distributor.ports.otlpHttp!, encodeRequest(makeTrace([makeSpan(traceId), makeSpan(traceId)], 'replication')));
        load.latenciesMs.push(performance.now() - t0);
        if (res.status === 200) load.acked.push(bytesToHex(traceId));
        else load.failures.push(`${res.status} ${res.text()}`);
      } catch (err) {
        load.failures.push(String(err));
      }
      await sleep(10);
    }
  };
  const senders = [sender(), sender()];
  load.stop = async () => {
    running = false;
    await Promise.all(senders);
  };
  return load;
}

const ackedAtLeast = (load: Load, n: number, what: string): Promise<boolean> =>
  waitFor(() => load.acked.length >= n, 120_000, () => `${n} acknowledged exports (${what}; have ${load.acked.length}, failures ${load.failures.slice(0, 3).join(' | ')})`);

/**
 * Spans of each trace one ingester process holds, read as a querier does: its memory and the
 * blocks it names as recently flushed (FindTraceByID over its internal gRPC, then the backend).
 */
async function spansOn(proc: AndanteProcess, ids: string[]): Promise<number[]> {
  const client = new IngesterGrpcClient(`127.0.0.1:${(proc.ports as { grpc?: number | null }).grpc}`, { remoteTimeoutMs: 30_000, maxSendMessageBytes: 16 << 20, maxRecvMessageBytes: 16 << 20 });
  const backend = new LocalBackend(backendDir);
  try {
    const out: number[] = [];
    for (const id of ids) {
      const { trace, flushedBlocks } = await client.findTraceById('single-tenant', hexToBytes(id));
      const parts = [trace, ...(await Promise.all((flushedBlocks ?? []).map((m) => new BackendBlock(backend, m).findTraceById(hexToBytes(id)))))];
      const spanIds = new Set(parts.flatMap((t) => (t?.resourceSpans ?? []).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((sp) => bytesToHex(sp.spanId))))));
      out.push(spanIds.size);
    }
    return out;
  } finally {
    client.close();
  }
}

async function expectOnAll(nodes: IngesterNode[], ids: string[]): Promise<void> {
  for (const node of nodes) {
    const counts = await spansOn(node.proc, ids);
    const missing = counts.map((n, i) => (n === 2 ? null : `${ids[i]}:${n}`)).filter((x) => x !== null);
    expect(missing, `traces not (fully) on ingester-${node.name}`).toEqual([]);
  }
}

/** Trace IDs the query-frontend does not answer with both spans (status:spans). */
async function notFoundThroughFrontend(ids: string[]): Promise<string[]> {
  const bad: string[] = [];
  for (const id of ids) {
    const { status, trace } = await fetchTraceProto(querier.ports.http, id);
    const spans = (trace?.resourceSpans ?? []).reduce((n, rs) => n + rs.scopeSpans.reduce((m, ss) => m + ss.spans.length, 0), 0);
    if (status !== 200 || spans !== 2) bad.push(`${id}:${status}:${spans}`);
  }
  return bad;
}

const metaFiles = (): string[] => listFilesRecursive(backendDir).filter((f) => f.endsWith('meta.json'));

describe('replication factor 3 across processes', () => {
  it('SIGKILL one ingester under steady load: exports keep succeeding, it shows UNHEALTHY, every acknowledged trace is on both live replicas and found through the frontend; restarted on its WAL dir it replays what it had', async () => {
    const [a, b, c] = ingesters as [IngesterNode, IngesterNode, IngesterNode];
    const warm = steadyLoad();
    await ackedAtLeast(warm, 30, 'before the kill');
    await warm.stop();
    await backgroundDone();
    expect(warm.failures).toEqual([]);
    // Every trace is on all three replicas once the background calls are done.
    await expectOnAll([a, b, c], warm.acked);

    const load = steadyLoad();
    await ackedAtLeast(load, 10, 'load started');
    await c.proc.kill9();
    const atKill = load.acked.length;
    await waitForStates({ 'ingester-a': 'ACTIVE', 'ingester-b': 'ACTIVE', 'ingester-c': 'UNHEALTHY' });
    await ackedAtLeast(load, atKill + 30, 'after the kill');
    await load.stop();
    expect(load.failures).toEqual([]);
    await backgroundDone();
    await expectOnAll([a, b], [...warm.acked, ...load.acked]);
    expect(await notFoundThroughFrontend([...warm.acked, ...load.acked])).toEqual([]);
    expect(await distributorMetric('tempo_distributor_ingester_append_failures_total')).toBeGreaterThan(0);

    // The replacement on the same WAL directory replays it and joins ACTIVE under the same ID.
    c.proc = await startIngester('c', c.dir);
    await waitForStates({ 'ingester-c': 'ACTIVE' });
    await expectOnAll([c], warm.acked);
  }, 300_000);

  it('SIGSTOP one ingester: writes keep succeeding at the quorum with latency far below the remote timeout; it turns UNHEALTHY, and SIGCONT brings it back ACTIVE', async () => {
    const [a, b, c] = ingesters as [IngesterNode, IngesterNode, IngesterNode];
    const load = steadyLoad();
    await ackedAtLeast(load, 10, 'before SIGSTOP');
    const from = load.latenciesMs.length;
    c.proc.child.kill('SIGSTOP');
    try {
      await ackedAtLeast(load, load.acked.length + 20, 'while ingester-c is stopped, before it is UNHEALTHY');
      await waitForStates({ 'ingester-c': 'UNHEALTHY' });
      await ackedAtLeast(load, load.acked.length + 20, 'while ingester-c is UNHEALTHY');
    } finally {
      c.proc.child.kill('SIGCONT');
    }
    const duringStop = load.latenciesMs.slice(from);
    await waitForStates({ 'ingester-c': 'ACTIVE' });
    await ackedAtLeast(load, load.acked.length + 10, 'after SIGCONT');
    await load.stop();
    expect(load.failures).toEqual([]);
    // Each export sent while c hung had a call to c waiting for REMOTE_TIMEOUT_MS; none waited for it.
    expect(Math.max(...duringStop)).toBeLessThan(REMOTE_TIMEOUT_MS / 2);
    await backgroundDone();
    await expectOnAll([a, b], load.acked);
    expect(c.proc.alive()).toBe(true);
  }, 300_000);

  it('SIGTERM one ingester under load: LEAVING, flush (blocks in the backend), leave the ring, exit 0; no export fails, no read by ID through the frontend misses; its replacement has nothing left to replay; /shutdown does the same', async () => {
    const [a, b, c] = ingesters as [IngesterNode, IngesterNode, IngesterNode];
    const load = steadyLoad();
    await ackedAtLeast(load, 20, 'before SIGTERM');
    const blocksBefore = metaFiles().length;
    // Reads by ID through the frontend while b leaves: every acknowledged trace answers, never 404.
    let reading = true;
    const readFailures: string[] = [];
    let reads = 0;
    const reader = (async () => {
      while (reading) {
        const ids = load.acked.slice(-5);
        readFailures.push(...(await notFoundThroughFrontend(ids)));
        reads += ids.length;
        await sleep(20);
      }
    })();
    expect(await b.proc.stop(120_000)).toBe(0);
    const log = b.proc.stderr();
    const leaving = log.indexOf('"state":"LEAVING"');
    const flushed = log.indexOf('"msg":"block flushed"', leaving);
    const left = log.indexOf('"msg":"ring member left the ring"', flushed);
    expect(leaving, 'LEAVING logged').toBeGreaterThan(0);
    expect(flushed, 'a block flushed while LEAVING').toBeGreaterThan(leaving);
    expect(left, 'left the ring after the flush').toBeGreaterThan(flushed);
    expect(metaFiles().length).toBeGreaterThan(blocksBefore);
    await waitForStates({ 'ingester-a': 'ACTIVE', 'ingester-b': undefined, 'ingester-c': 'ACTIVE' });
    await ackedAtLeast(load, load.acked.length + 20, 'after ingester-b left');
    reading = false;
    await reader;
    await load.stop();
    expect(load.failures).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    expect(readFailures).toEqual([]);
    await backgroundDone();
    await expectOnAll([a, c], load.acked);
    expect(await notFoundThroughFrontend(load.acked)).toEqual([]);

    // The replacement on the same WAL directory: everything was flushed, nothing to replay.
    b.proc = await startIngester('b', b.dir);
    await waitForStates({ 'ingester-b': 'ACTIVE' });
    const metrics = await (await fetch(`http://127.0.0.1:${b.proc.ports.http}/metrics`)).text();
    expect(metrics).toMatch(/^tempo_ingester_wal_replayed_segments_total 0$/m);
    expect((await fetch(`http://127.0.0.1:${b.proc.ports.http}/ready`)).status).toBe(200);

    // Tempo's /shutdown: flush, leave the ring, exit.
    expect((await fetch(`http://127.0.0.1:${b.proc.ports.http}/shutdown`, { method: 'POST' })).status).toBe(204);
    expect((await b.proc.exited).code).toBe(0);
    await waitForStates({ 'ingester-b': undefined });
    b.proc = await startIngester('b', b.dir);
    await waitForStates({ 'ingester-b': 'ACTIVE' });
  }, 300_000);
});
