// The multi-process cluster of issue 12 ("Tests that must exist"), on 127.0.0.1: a real etcd, an
// S3-protocol server (moto_server), 2 distributors, 3 ingesters with replication factor 3,
// 2 queriers, 1 query-frontend, 2 compactors and 1 metrics-generator, each its own `andante` process
// with its own -target (test/src/cluster.ts). Traffic comes from the real OpenTelemetry JS SDK
// exporters (OTLP/gRPC to one distributor, OTLP/HTTP protobuf to the other); every trace an export
// acknowledged is recorded and read back by ID through the query-frontend.
//
// One cluster serves every case, in order; a case that takes a process away brings it back.
// heartbeat_timeout is 10s on every ring so failures show within seconds. After a case that failed
// midway the cluster is healed (etcd up, every process running, rings ACTIVE) for the next one.

import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { S3Backend } from '@andante/backend';
import { listTenantBlocks } from '@andante/storage';
import { fetchTraceProto, getMetric, removeTempDirs, startProcess, makeTempDir, waitFor, type AndanteProcess } from './harness.js';
import { normTrace } from './otlp.js';
import { Cluster, ContinuousReader, SdkTraffic, checkTraces, describeCheck, startS3Tap, type ClusterNode, type S3Tap } from './cluster.js';

const TENANT = 'cluster';
// 10s, not less: on a loaded 2-core machine a live member's renewals can be seconds late.
const HEARTBEAT_TIMEOUT_MS = 10_000;

/** What the running case has done so far, with times: printed beside the logs when it fails. */
let steps: string[] = [];
const step = (what: string): void => void steps.push(`${new Date().toISOString()} ${what}`);

let cluster: Cluster;
let compactorTap: S3Tap;
/** Set by the compactor case: what compactor-1's S3 requests should do (see startS3Tap). */
let compactorHook: (method: string, path: string) => boolean | Promise<boolean> = () => true;

const frontend = (): ClusterNode => cluster.node('query-frontend');
const ingesters = (): ClusterNode[] => ['ingester-1', 'ingester-2', 'ingester-3'].map((n) => cluster.node(n));
const ALL_INGESTERS_ACTIVE = { 'ingester-1': 'ACTIVE', 'ingester-2': 'ACTIVE', 'ingester-3': 'ACTIVE' };

/**
 * Steady load through both distributors (OTLP/gRPC and OTLP/HTTP), about 6 traces/s by default:
 * enough that every hand-over of a case happens with exports in flight. The case's final read of
 * every acknowledged trace by ID (over S3 on moto, 3 copies of each block until compaction) runs
 * at 3-15 traces/s here by the machine's load, so the rate sets most of a case's time.
 */
function newTraffic(opts: { tenant?: string; pauseMs?: number; concurrency?: number; tracesPerExport?: number } = {}): SdkTraffic {
  return new SdkTraffic(
    [
      { port: cluster.node('distributor-1').otlpGrpc, protocol: 'grpc' },
      { port: cluster.node('distributor-2').otlpHttp, protocol: 'http' },
    ],
    { tenant: opts.tenant ?? TENANT, concurrency: opts.concurrency ?? 1, tracesPerExport: opts.tracesPerExport ?? 2, spansPerTrace: 3, pauseMs: opts.pauseMs ?? 600 },
  );
}

/** Every acknowledged trace of `t` read through the frontend: all spans, nothing doubled, no 404. */
async function expectAllFound(t: { acked: ReadonlyMap<string, ReadonlySet<string>>; ackedOrder?: readonly string[] }, tenant = TENANT): Promise<void> {
  const ids = [...t.acked.keys()];
  const c = await checkTraces(frontend().http, t.acked, ids, { tenant });
  expect(c.complete, describeCheck(c)).toBe(ids.length);
  expect(c.duplicated, describeCheck(c)).toEqual([]);
}

async function ringHtml(via: ClusterNode, page: string): Promise<string> {
  return (await fetch(via.url(page), { headers: { accept: 'text/html' } })).text();
}

beforeAll(async () => {
  cluster = await Cluster.start({
    replicationFactor: 3,
    heartbeatTimeout: `${HEARTBEAT_TIMEOUT_MS / 1000}s`,
    multitenancy: true,
    common: {
      server: { log_level: 'info' },
      // Blocks reach S3 during the run (a trace is cut 2s after its last span, a block every 15s).
      ingester: { trace_idle_period: '2s', max_block_duration: '15s', flush_check_period: '1s' },
      compactor: { compaction: { compaction_cycle: '2s' } },
      overrides: { defaults: { metrics_generator: { processors: ['span-metrics', 'service-graphs'] } } },
    },
  });
  // compactor-1 reaches S3 through a tap, so the compactor case can kill it at its first output write.
  compactorTap = await startS3Tap(cluster.s3.port, (m, p) => compactorHook(m, p));
  const viaTap = { storage: { trace: { s3: { endpoint: `127.0.0.1:${compactorTap.port}` } } } };
  // As docs/distributed.md advises: after SIGTERM a frontend keeps serving for shutdown_delay while
  // /ready says 503 (the load balancer's cue), then answers what it holds and stops.
  const fe = await cluster.define({ name: 'query-frontend', target: 'query-frontend', extra: { shutdown_delay: '2s' } });
  const worker = { querier: { frontend_worker: { frontend_address: `127.0.0.1:${fe.grpcPort}` } } };
  await Promise.all([
    fe.start(),
    cluster.add(
      { name: 'ingester-1', target: 'ingester' },
      { name: 'ingester-2', target: 'ingester' },
      { name: 'ingester-3', target: 'ingester' },
      { name: 'metrics-generator-1', target: 'metrics-generator' },
      { name: 'compactor-1', target: 'compactor', extra: viaTap },
      { name: 'compactor-2', target: 'compactor' },
      { name: 'querier-1', target: 'querier', extra: worker },
      { name: 'querier-2', target: 'querier', extra: worker },
      { name: 'distributor-1', target: 'distributor' },
      { name: 'distributor-2', target: 'distributor' },
    ),
  ]);
  await cluster.waitRing('/ingester/ring', ALL_INGESTERS_ACTIVE);
  await cluster.waitRing('/compactor/ring', { 'compactor-1': 'ACTIVE', 'compactor-2': 'ACTIVE' });
  await cluster.waitRing('/metrics-generator/ring', { 'metrics-generator-1': 'ACTIVE' });
  await cluster.waitRing('/distributor/ring', { 'distributor-1': 'ACTIVE', 'distributor-2': 'ACTIVE' });
}, 240_000);

afterEach(async (ctx) => {
  const done = steps;
  steps = [];
  if (ctx.task.result?.state !== 'fail' || !cluster) return;
  console.error(`steps of "${ctx.task.name}":\n${done.join('\n')}\ncluster logs after it failed:\n${cluster.logTails(25)}`);
  compactorHook = () => true;
  await cluster.heal(async () => {
    await cluster.waitRing('/ingester/ring', ALL_INGESTERS_ACTIVE, 120_000);
    await cluster.waitRing('/compactor/ring', { 'compactor-1': 'ACTIVE', 'compactor-2': 'ACTIVE' }, 120_000);
  });
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await compactorTap?.close();
  removeTempDirs();
}, 60_000);

describe('a multi-process cluster: 2 distributors, 3 ingesters (RF 3), 2 queriers, 1 query-frontend, 2 compactors, 1 metrics-generator', () => {
  it('traces by ID and TraceQL search through the frontend equal -target=all on the same data; the metrics-generator gets the spans', async () => {
    const dir = makeTempDir('cluster-all');
    const all: AndanteProcess = await startProcess(dir, { multitenancy_enabled: true, ingester: { trace_idle_period: '2s' } }, 120_000);
    const traffic = new SdkTraffic(
      [
        { port: cluster.node('distributor-1').otlpGrpc, protocol: 'grpc' },
        { port: cluster.node('distributor-2').otlpHttp, protocol: 'http' },
        { port: all.ports.otlpGrpc!, protocol: 'grpc' },
      ],
      { tenant: TENANT, service: `cluster-eq-${process.pid}` },
    );
    const both: string[] = [];
    const startSec = Math.floor(Date.now() / 1000) - 60;
    try {
      for (let i = 0; i < 30; i++) {
        const spans = traffic.buildTraces(3);
        const [a, b] = await Promise.all([traffic.exportSpans(i % 2, spans), traffic.exportSpans(2, spans)]);
        expect(a && b, JSON.stringify(traffic.stats)).toBe(true);
        for (const s of spans) if (!both.includes(s.spanContext().traceId)) both.push(s.spanContext().traceId);
      }
      const h = { 'X-Scope-OrgID': TENANT };
      // By ID: the same spans (every field) from the cluster's frontend and from -target=all.
      for (const id of both) {
        const [c, s] = await Promise.all([fetchTraceProto(frontend().http, id, 'v2', h), fetchTraceProto(all.ports.http, id, 'v2', h)]);
        expect(c.status, `${id} via the cluster`).toBe(200);
        expect(s.status, `${id} via -target=all`).toBe(200);
        expect(normTrace(c.trace!)).toEqual(normTrace(s.trace!));
        expect(normTrace(c.trace!).length).toBe(3);
      }
      // TraceQL search: the same traces and matched spans.
      const endSec = Math.floor(Date.now() / 1000) + 60;
      const queries = [
        `{ resource.service.name = "cluster-eq-${process.pid}" }`,
        `{ resource.service.name = "cluster-eq-${process.pid}" && span.db.system = "redis" }`,
        `{ resource.service.name = "cluster-eq-${process.pid}" && status = error }`,
        `{ resource.service.name = "cluster-eq-${process.pid}" && kind = server } >> { name = "SELECT orders" }`,
      ];
      const search = async (port: number, q: string): Promise<string[]> => {
        const url = `http://127.0.0.1:${port}/api/search?q=${encodeURIComponent(q)}&start=${startSec}&end=${endSec}&limit=1000&spss=10`;
        const res = await fetch(url, { headers: h });
        const text = await res.text();
        expect(res.status, text).toBe(200);
        const body = JSON.parse(text) as { traces?: { traceID: string; spanSets?: { matched?: number }[]; spanSet?: { matched?: number } }[] };
        return (body.traces ?? []).map((t) => `${t.traceID.padStart(32, '0')}:${(t.spanSets ?? [t.spanSet]).map((s) => s?.matched ?? 0).join('+')}`).sort();
      };
      for (const q of queries) {
        const want = await search(all.ports.http, q);
        expect(want.length, q).toBeGreaterThan(0);
        // Recent data sits in the ingesters; wait for each trace to be cut (trace_idle_period) on both sides.
        await waitFor(async () => JSON.stringify(await search(frontend().http, q)) === JSON.stringify(await search(all.ports.http, q)), 60_000, `search ${q} equal on both`);
      }
      expect((await search(frontend().http, queries[0]!)).length).toBe(both.length);
      // The distributors forwarded the spans to the metrics-generator process.
      const gen = cluster.node('metrics-generator-1');
      await waitFor(async () => (await getMetric(gen.http, 'tempo_metrics_generator_spans_received_total', { tenant: TENANT })) >= both.length * 3, 60_000, 'the generator received the spans');
    } finally {
      await traffic.shutdown();
      await all.stop();
    }
  }, 240_000);

  it('kill -9 one ingester under steady load: exports keep succeeding, every acknowledged span is found by ID, the dead one is UNHEALTHY on /ingester/ring (JSON and HTML)', async () => {
    const traffic = newTraffic();
    traffic.start();
    try {
      await traffic.waitAcked(20);
      const victim = cluster.node('ingester-3');
      await victim.kill9();
      const via = cluster.node('distributor-1');
      await waitFor(async () => (await cluster.ring('/ingester/ring', via)).find((s) => s.id === 'ingester-3')?.state === 'UNHEALTHY', 60_000, 'ingester-3 UNHEALTHY');
      expect(await ringHtml(via, '/ingester/ring')).toContain('<td>ingester-3</td><td>UNHEALTHY</td>');
      expect((await cluster.ring('/ingester/ring', via)).filter((s) => s.state === 'ACTIVE').map((s) => s.id).sort()).toEqual(['ingester-1', 'ingester-2']);
      // The load goes on with one ingester gone.
      await traffic.waitAcked(40, 120_000);
    } finally {
      await traffic.stop();
    }
    expect(traffic.stats.failed, traffic.stats.errors.join('\n')).toBe(0);
    await expectAllFound(traffic);
    // Back on its WAL directory for the next cases.
    await cluster.node('ingester-3').start();
    await cluster.waitRing('/ingester/ring', ALL_INGESTERS_ACTIVE);
    await traffic.shutdown();
  }, 300_000);

  it('rolling restart of all ingesters under load (SIGTERM, replacement on the same WAL dir): zero acknowledged spans lost, zero reads answered 404', async () => {
    const traffic = newTraffic();
    const reader = new ContinuousReader(() => frontend().http, traffic, { tenant: TENANT, batch: 4 });
    traffic.start();
    await traffic.waitAcked(10);
    reader.start();
    try {
      for (const ing of ingesters()) {
        step(`${ing.name} SIGTERM`);
        expect(await ing.terminate(), `${ing.name} exit code`).toBe(0);
        step(`${ing.name} exited`);
        await ing.start();
        // Both distributors see it ACTIVE before the next one leaves (each then has two writable replicas).
        for (const d of ['distributor-1', 'distributor-2']) await cluster.waitRing('/ingester/ring', ALL_INGESTERS_ACTIVE, 60_000, cluster.node(d));
        step(`${ing.name} back ACTIVE`);
        await traffic.waitAcked(10, 120_000);
      }
    } finally {
      await reader.stop();
      step(`reader stopped after ${reader.seen.reads} reads`);
      await traffic.stop();
    }
    expect(traffic.stats.failed, traffic.stats.errors.join('\n')).toBe(0);
    expect(reader.seen.reads).toBeGreaterThan(50);
    expect(reader.seen.notFound, 'reads answered 404 during the rollout').toEqual([]);
    expect(reader.seen.incomplete, 'reads missing acknowledged spans during the rollout').toEqual([]);
    expect(reader.seen.errors).toEqual([]);
    step(`reading all ${traffic.acked.size} acknowledged traces`);
    await expectAllFound(traffic);
    await traffic.shutdown();
  }, 600_000);

  it('SIGSTOP an ingester: writes succeed within the quorum after heartbeat_timeout; SIGCONT brings it back ACTIVE', async () => {
    const traffic = newTraffic();
    traffic.start();
    const hung = cluster.node('ingester-2');
    try {
      await traffic.waitAcked(10);
      step('ingester-2 SIGSTOP');
      hung.pause();
      await waitFor(async () => (await cluster.ring('/ingester/ring', cluster.node('distributor-1'))).find((s) => s.id === 'ingester-2')?.state === 'UNHEALTHY', 60_000, 'ingester-2 UNHEALTHY while stopped');
      step('ingester-2 UNHEALTHY');
      await traffic.waitAcked(30, 120_000);
      step('exports acknowledged with ingester-2 stopped');
      hung.resume();
      await cluster.waitRing('/ingester/ring', ALL_INGESTERS_ACTIVE);
      step('ingester-2 back ACTIVE');
      await traffic.waitAcked(10, 60_000);
    } finally {
      if (!hung.serving() && hung.alive()) hung.resume();
      await traffic.stop();
    }
    // Not one export failed: neither while ingester-2 hung nor once it was judged UNHEALTHY.
    expect(traffic.stats.failed, traffic.stats.errors.join('\n')).toBe(0);
    expect(hung.alive()).toBe(true);
    step(`reading all ${traffic.acked.size} acknowledged traces`);
    await expectAllFound(traffic);
    await traffic.shutdown();
  }, 300_000);

  it('etcd restarted under load: the cluster keeps serving on its last known ring and recovers', async () => {
    const traffic = newTraffic();
    const reader = new ContinuousReader(() => frontend().http, traffic, { tenant: TENANT, batch: 4 });
    traffic.start();
    await traffic.waitAcked(10);
    reader.start();
    try {
      step('etcd killed');
      await cluster.killEtcd();
      const downAt = Date.now();
      await waitFor(() => cluster.node('distributor-1').log().includes('ring heartbeat failed'), 60_000, 'distributor-1 logs the failed heartbeat');
      // Longer than heartbeat_timeout with etcd down, with the load flowing all along.
      const ackedAtKill = traffic.stats.acked;
      await waitFor(() => Date.now() - downAt > 2 * HEARTBEAT_TIMEOUT_MS && traffic.stats.acked >= ackedAtKill + 20, 120_000, 'exports acknowledged with etcd down');
      step(`exports acknowledged with etcd down: ${traffic.stats.acked - ackedAtKill}`);
      expect((await cluster.ring('/ingester/ring', cluster.node('distributor-2'))).map((s) => s.state)).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE']);
      await cluster.restartEtcd();
      step('etcd restarted');
      // Every ring member that missed heartbeats (queriers and the frontend only read rings) beats again.
      for (const n of cluster.nodes.values()) {
        await waitFor(() => !n.log().includes('ring heartbeat failed') || n.log().lastIndexOf('ring heartbeat recovered') > n.log().lastIndexOf('ring heartbeat failed'), 60_000, `${n.name} heartbeats resume`);
      }
      step('heartbeats resumed');
      await cluster.waitRing('/ingester/ring', ALL_INGESTERS_ACTIVE);
      await traffic.waitAcked(10, 60_000);
      step('exports acknowledged after the restart');
    } finally {
      await reader.stop();
      step(`reader stopped after ${reader.seen.reads} reads`);
      await traffic.stop();
      step('traffic stopped');
    }
    expect(traffic.stats.failed, traffic.stats.errors.join('\n')).toBe(0);
    expect(reader.seen.notFound).toEqual([]);
    expect(reader.seen.errors).toEqual([]);
    step(`reading all ${traffic.acked.size} acknowledged traces`);
    await expectAllFound(traffic);
    await traffic.shutdown();
  }, 420_000);

  it('two compactors: every block is compacted by exactly one; kill one mid-job: its jobs move, nothing lost or doubled', async () => {
    // Jobs are per tenant and compaction window; 8 tenants spread them over both compactors.
    const tenants = Array.from({ length: 8 }, (_, i) => `cmp-${i}`);
    const traffics = tenants.map((t) => newTraffic({ tenant: t, pauseMs: 0, concurrency: 2, tracesPerExport: 4 }));
    // compactor-1 is killed when it starts writing its next compaction output (the write is dropped).
    let killedAt: string | undefined;
    compactorHook = async (method, path) => {
      if (killedAt || (method !== 'PUT' && method !== 'POST') || /index\.json\.gz$|meta\.compacted\.json$/.test(path)) return true;
      killedAt = path;
      await cluster.node('compactor-1').kill9();
      return false;
    };
    try {
      await Promise.all(traffics.map(async (t) => {
        for (let i = 0; i < 3; i++) expect(await t.exportOnce(i % 2)).toBe(true);
      }));
      // Cut and flush everything now: one block per tenant per ingester (RF 3: each holds every trace).
      await Promise.all(ingesters().map(async (ing) => expect((await fetch(ing.url('/flush'), { method: 'POST' })).status).toBe(204)));
      await waitFor(() => killedAt !== undefined, 120_000, 'compactor-1 writing a compaction output');
      await cluster.waitRing('/compactor/ring', { 'compactor-1': 'UNHEALTHY', 'compactor-2': 'ACTIVE' }, 60_000, cluster.node('compactor-2'));
      const backend = new S3Backend({ ...cluster.s3.config(), prefix: '' });
      // compactor-2 takes the jobs over: each tenant ends in one block holding each trace once.
      for (const [i, tenant] of tenants.entries()) {
        const traces = traffics[i]!.acked.size;
        await waitFor(
          async () => {
            const { metas } = await listTenantBlocks(backend, tenant);
            return metas.length === 1 && metas[0]!.compactionLevel >= 1 && metas[0]!.totalObjects === traces;
          },
          180_000,
          `${tenant} compacted into one block of ${traces} traces`,
        );
      }
      // Every level-0 block (an ingester's flush) was the input of exactly one compaction.
      const compactions = [cluster.node('compactor-1'), cluster.node('compactor-2')].flatMap((n) =>
        n
          .log()
          .split('\n')
          .flatMap((line) => {
            try {
              const e = JSON.parse(line) as { msg?: string; tenant?: string; inputs?: string[] };
              return e.msg === 'compacted blocks' ? [{ by: n.name, tenant: e.tenant!, inputs: e.inputs! }] : [];
            } catch {
              return [];
            }
          }),
      );
      const inputs = compactions.flatMap((c) => c.inputs);
      expect(inputs.length, 'a block compacted twice').toBe(new Set(inputs).size);
      for (const tenant of tenants) {
        const { compacted } = await listTenantBlocks(backend, tenant);
        for (const m of compacted.filter((b) => b.compactionLevel === 0)) expect(inputs, `${tenant} block ${m.blockID}`).toContain(m.blockID);
      }
      expect(new Set(compactions.filter((c) => tenants.includes(c.tenant)).map((c) => c.by)).has('compactor-2')).toBe(true);
      // Read back through the frontend: every span, none doubled.
      for (const [i, tenant] of tenants.entries()) await expectAllFound(traffics[i]!, tenant);
    } finally {
      compactorHook = () => true;
      await Promise.all(traffics.map((t) => t.shutdown()));
    }
    await cluster.node('compactor-1').start();
    await cluster.waitRing('/compactor/ring', { 'compactor-1': 'ACTIVE', 'compactor-2': 'ACTIVE' }, 60_000, cluster.node('compactor-2'));
  }, 420_000);

  it('distributors, queriers and query-frontends come and go under load: none of their exports or queries fails, nothing acknowledged is lost', async () => {
    const fe1 = frontend();
    const d1 = cluster.node('distributor-1');
    // Three clients, one per distributor: the one whose distributor goes away may fail after its
    // SIGTERM (a load balancer's client would try another); the others must never fail.
    const leaving = new SdkTraffic([{ port: d1.otlpGrpc, protocol: 'grpc' }], { tenant: TENANT, concurrency: 2, tracesPerExport: 2, spansPerTrace: 3, pauseMs: 300, service: 'churn-leaving' });
    const steady = new SdkTraffic([{ port: cluster.node('distributor-2').otlpHttp, protocol: 'http' }], { tenant: TENANT, concurrency: 1, tracesPerExport: 2, spansPerTrace: 3, pauseMs: 600, service: 'churn-steady' });
    // Lookups rotate over the frontends a load balancer would send to; one is taken off the list
    // at the moment it gets SIGTERM, so the lookups it holds then must still be answered.
    const live: ClusterNode[] = [fe1];
    let turn = 0;
    const reader = new ContinuousReader(() => live[turn++ % live.length]!.http, steady, { tenant: TENANT, batch: 4 });
    const fe2 = await cluster.define({ name: 'query-frontend-2', target: 'query-frontend', extra: { shutdown_delay: '2s' } });
    let joining: SdkTraffic | undefined;
    const d3 = await cluster.define({ name: 'distributor-3', target: 'distributor' });
    leaving.start();
    steady.start();
    try {
      await steady.waitAcked(5);
      reader.start();

      // Queriers: a rolling restart under lookups, each coming back with a second frontend in its list.
      const both = `127.0.0.1:${fe1.grpcPort},127.0.0.1:${fe2.grpcPort}`;
      for (const q of [cluster.node('querier-1'), cluster.node('querier-2')]) {
        const before = reader.seen.reads;
        q.reconfigure({ querier: { frontend_worker: { frontend_address: both } } });
        step(`${q.name} SIGTERM`);
        expect(await q.terminate(), `${q.name} exit code`).toBe(0);
        await q.start();
        step(`${q.name} back`);
        await waitFor(() => reader.seen.reads >= before + 8, 60_000, 'lookups go on after the querier restart');
      }

      // A frontend comes: ready once both queriers connected to it, then it takes lookups too.
      await fe2.start();
      step('query-frontend-2 ready');
      await waitFor(async () => (await getMetric(fe2.http, 'tempo_query_frontend_connected_clients')) === 2, 30_000, 'both queriers connected to query-frontend-2');
      live.push(fe2);
      let before = reader.seen.reads;
      await waitFor(() => reader.seen.reads >= before + 16, 60_000, 'lookups through both frontends');

      // A frontend goes: off the list and SIGTERM at once, while a burst of lookups is in flight
      // on it; it answers every one it took, then exits.
      live.splice(live.indexOf(fe1), 1);
      const order = steady.ackedOrder;
      const burstIds = Array.from({ length: 60 }, (_, i) => order[i % order.length]!);
      let answered = 0;
      let firstAnswered: () => void = () => undefined;
      const first = new Promise<void>((resolve) => (firstAnswered = resolve));
      const burst = Promise.all(
        burstIds.map(async (id) => {
          const res = await fetchTraceProto(fe1.http, id, 'v2', { 'X-Scope-OrgID': TENANT });
          answered++;
          firstAnswered();
          return `${id} ${res.status}`;
        }),
      );
      // The SIGTERM goes right after the first answer: the rest of the burst is still in flight
      // (some still on their way in: served within shutdown_delay).
      await first;
      const pendingAtSigterm = burstIds.length - answered;
      step(`query-frontend SIGTERM with ${pendingAtSigterm} lookups in flight on it`);
      const exited = fe1.terminate();
      const burstAnswers = await burst;
      expect(pendingAtSigterm, 'lookups in flight when the frontend got SIGTERM').toBeGreaterThan(0);
      expect(burstAnswers.filter((a) => !a.endsWith(' 200')), 'lookups the stopping frontend did not answer 200').toEqual([]);
      expect(await exited, 'query-frontend exit code').toBe(0);
      before = reader.seen.reads;
      await waitFor(() => reader.seen.reads >= before + 8, 60_000, 'lookups through query-frontend-2 alone');
      // ... and comes back on its address: the queriers dial it again by themselves.
      await fe1.start();
      step('query-frontend back');
      live.push(fe1);

      // A distributor comes: ACTIVE on /distributor/ring, and its exports are acknowledged.
      await d3.start();
      await cluster.waitRing('/distributor/ring', { 'distributor-1': 'ACTIVE', 'distributor-2': 'ACTIVE', 'distributor-3': 'ACTIVE' });
      joining = new SdkTraffic([{ port: d3.otlpGrpc, protocol: 'grpc' }], { tenant: TENANT, concurrency: 1, tracesPerExport: 2, spansPerTrace: 3, pauseMs: 300, service: 'churn-joining' });
      joining.start();
      await joining.waitAcked(5);
      // A distributor goes, with its client's exports in flight: it leaves the ring and exits 0.
      await leaving.waitAcked(3);
      step('distributor-1 SIGTERM');
      expect(await d1.terminate(), 'distributor-1 exit code').toBe(0);
      await leaving.stop();
      step(`distributor-1 exited; its client saw ${leaving.stats.failed} failed exports after the SIGTERM`);
      await cluster.waitRing('/distributor/ring', { 'distributor-2': 'ACTIVE', 'distributor-3': 'ACTIVE' }, 60_000, cluster.node('distributor-2'));
      await joining.waitAcked(5);
      await steady.waitAcked(5);
    } finally {
      await reader.stop();
      step(`reader stopped after ${reader.seen.reads} reads`);
      await Promise.all([leaving.stop(), steady.stop(), joining?.stop()]);
    }
    expect(steady.stats.failed, steady.stats.errors.join('\n')).toBe(0);
    const joined = joining!;
    expect(joined.stats.failed, joined.stats.errors.join('\n')).toBe(0);
    expect(leaving.stats.acked).toBeGreaterThan(0);
    expect(reader.seen.errors, 'lookups that failed while members came and went').toEqual([]);
    expect(reader.seen.notFound).toEqual([]);
    expect(reader.seen.incomplete).toEqual([]);
    for (const t of [leaving, steady, joined]) await expectAllFound(t);
    // Searches through either frontend see the traces acknowledged by the distributor that left.
    for (const fe of [fe1, fe2]) {
      const res = await fetch(fe.url(`/api/search?q=${encodeURIComponent('{ resource.service.name = "churn-leaving" }')}&limit=5&start=${Math.floor(Date.now() / 1000) - 3600}&end=${Math.floor(Date.now() / 1000) + 60}`), { headers: { 'X-Scope-OrgID': TENANT } });
      expect(res.status, fe.name).toBe(200);
      expect(((await res.json()) as { traces: unknown[] }).traces.length, fe.name).toBeGreaterThan(0);
    }
    // Back to the cluster the other cases expect: distributor-1 up, distributor-3 gone.
    await d1.start();
    expect(await d3.terminate(), 'distributor-3 exit code').toBe(0);
    await cluster.waitRing('/distributor/ring', { 'distributor-1': 'ACTIVE', 'distributor-2': 'ACTIVE' });
    await Promise.all([leaving.shutdown(), steady.shutdown(), joined.shutdown()]);
  }, 600_000);

  it('a malformed internal gRPC message to each internal service gets an error, not a crash', async () => {
    const bad = [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0x0a, 0x05, 0x01])];
    const methods: [ClusterNode, string][] = [
      ...ingesters().flatMap((n): [ClusterNode, string][] => [[n, '/andante.Ingester/Push'], [n, '/andante.Ingester/FindTraceByID']]),
    ];
    for (const [node, method] of methods) {
      for (const body of bad) {
        const client = new grpc.Client(`127.0.0.1:${node.grpcPort}`, grpc.credentials.createInsecure());
        const id = (b: Buffer): Buffer => b;
        const err = await new Promise<grpc.ServiceError | null>((resolve) =>
          client.makeUnaryRequest(method, id, id, body, new grpc.Metadata(), { deadline: Date.now() + 15_000 }, (e) => resolve(e)),
        );
        client.close();
        expect(err?.code, `${node.name} ${method}: ${err?.details}`).toBe(grpc.status.INVALID_ARGUMENT);
      }
      expect(node.alive(), `${node.name} still running`).toBe(true);
      expect((await fetch(node.url('/ready'))).status).toBe(200);
    }
    // ... and the cluster still takes and serves traces.
    const traffic = newTraffic();
    for (let i = 0; i < 4; i++) expect(await traffic.exportOnce(i % 2)).toBe(true);
    await expectAllFound(traffic);
    await traffic.shutdown();
  }, 120_000);
});
