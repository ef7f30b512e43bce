// TraceQL metrics over RF 3 blocks across processes: three `-target=ingester` processes at
// replication factor 3, a `-target=distributor`, a `-target=query-frontend` and a `-target=querier`
// pulling its jobs over gRPC (block jobs on its worker threads), rings in a real etcd, one shared
// local backend. Spans are sent, every replica's copy is flushed (three blocks holding each span),
// and `{ } | count_over_time()` through the frontend's /api/metrics/query_range must equal the
// number of spans sent, exactly: each span once, not once per copy. Then the hand-over: more spans
// (some started hours ago, some now) flushed by one replica only while the two others still hold
// them in memory, counted exactly too (the query split at now - query_backend_after: older spans
// from blocks only, recent ones from the ingesters only, each replica its token share of its
// memory and of the blocks it flushed itself).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEtcd, type TestEtcd } from '@andante/ring/testing';
import { flush, getMetric, getReady, killAllProcesses, listFilesRecursive, makeTempDir, postOtlpHttp, removeTempDirs, startProcess, waitFor, type AndanteProcess } from './harness.js';
import { clusterConfig } from './cluster-config.js';
import { encodeRequest, makeSpan, makeTrace, randomTraceId } from './otlp.js';

const RF = 3;
const HEARTBEAT_TIMEOUT = '10s';
const prefix = `metrics-rf3-${process.pid}/`;
const SERVICES = ['checkout', 'cart', 'payments'];

let etcd: TestEtcd;
let backendDir: string;
const ingesters: AndanteProcess[] = [];
/** Each ingester's directory and config, to restart it on its WAL. */
const ingesterSetups: { dir: string; config: Record<string, unknown> }[] = [];
let distributor: AndanteProcess;
let frontend: AndanteProcess;
let querier: AndanteProcess;
/** Spans acknowledged, per service. */
const sent = new Map<string, number>();
let sentTotal = 0;
let fromNs = 0n;

const grpcPort = (p: AndanteProcess): number => (p.ports as { grpc?: number | null }).grpc ?? 0;
const storage = (extra: Record<string, unknown> = {}) => ({ trace: { local: { path: backendDir }, blocklist_poll: '500ms', ...extra } });

interface RangeJson {
  series?: { labels?: { key: string; value: { stringValue?: string } }[]; samples?: { value?: number }[] }[];
  metrics: Record<string, string | number>;
}

async function queryRange(q: string, startNs = fromNs): Promise<RangeJson> {
  const url = new URL(`http://127.0.0.1:${frontend.ports.http}/api/metrics/query_range`);
  url.searchParams.set('q', q);
  url.searchParams.set('start', String(startNs));
  url.searchParams.set('end', String(BigInt(Date.now() + 60_000) * 1_000_000n));
  url.searchParams.set('step', '60s');
  const res = await fetch(url);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as RangeJson;
}

const sum = (s: { samples?: { value?: number }[] }): number => (s.samples ?? []).reduce((n, x) => n + (x.value ?? 0), 0);

async function threeActive(): Promise<void> {
  await waitFor(
    async () => {
      const res = await fetch(`http://127.0.0.1:${distributor.ports.http}/ingester/ring`, { headers: { accept: 'application/json' } });
      const { shards } = (await res.json()) as { shards: { state: string }[] };
      return shards.length === 3 && shards.every((s) => s.state === 'ACTIVE');
    },
    60_000,
    'three ACTIVE ingesters',
  );
}

/** Sends `traces` traces of 1-4 spans of `service` starting now; the spans acknowledged. */
async function sendNow(service: string, traces: number): Promise<number> {
  let spansSent = 0;
  for (let i = 0; i < traces; i++) {
    const traceId = randomTraceId();
    const spans = Array.from({ length: 1 + (i % 4) }, () => makeSpan(traceId));
    const res = await postOtlpHttp(distributor.ports.otlpHttp!, encodeRequest(makeTrace(spans, service)));
    expect(res.status, res.text()).toBe(200);
    spansSent += spans.length;
  }
  return spansSent;
}

beforeAll(async () => {
  etcd = await startTestEtcd();
  backendDir = join(makeTempDir('metrics-rf3-backend'), 'traces');
  const cfg = (target: string, name: string) => clusterConfig({ etcdEndpoint: etcd.endpoint, prefix, target, name, replicationFactor: RF, heartbeatTimeout: HEARTBEAT_TIMEOUT });
  for (const name of ['a', 'b', 'c']) {
    const dir = makeTempDir(`metrics-rf3-ingester-${name}`);
    const config = { ...cfg('ingester', name), storage: storage({ wal: { path: join(dir, 'wal') } }) };
    ingesterSetups.push({ dir, config });
    ingesters.push(await startProcess(dir, config, 60_000));
  }
  distributor = await startProcess(makeTempDir('metrics-rf3-distributor'), cfg('distributor', 'd'), 60_000);
  frontend = await startProcess(makeTempDir('metrics-rf3-frontend'), { ...cfg('query-frontend', 'f'), storage: storage() }, 60_000);
  querier = await startProcess(
    makeTempDir('metrics-rf3-querier'),
    { ...cfg('querier', 'q'), storage: storage(), querier: { frontend_worker: { frontend_address: `127.0.0.1:${grpcPort(frontend)}`, id: 'q', dns_lookup_duration: '1s' } } },
    60_000,
  );
  await threeActive();
  await waitFor(async () => (await getReady(frontend.ports.http)) === 200, 60_000, 'a querier connected to the frontend');
}, 240_000);

afterAll(async () => {
  await killAllProcesses();
  await etcd?.close();
  removeTempDirs();
});

describe('TraceQL metrics at replication factor 3', () => {
  it('count_over_time through the query-frontend equals the spans sent, exactly, once every replica flushed its copy', async () => {
    fromNs = BigInt(Date.now() - 60_000) * 1_000_000n;
    for (let i = 0; i < 60; i++) {
      const service = SERVICES[i % SERVICES.length]!;
      const traceId = randomTraceId();
      const spans = Array.from({ length: 1 + (i % 5) }, () => makeSpan(traceId));
      const res = await postOtlpHttp(distributor.ports.otlpHttp!, encodeRequest(makeTrace(spans, service)));
      expect(res.status, res.text()).toBe(200);
      sent.set(service, (sent.get(service) ?? 0) + spans.length);
      sentTotal += spans.length;
    }
    // An export is acknowledged at the write quorum: wait for the third copy before flushing.
    await waitFor(async () => (await getMetric(distributor.ports.http, 'andante_distributor_ingester_background_pushes')) === 0, 60_000, 'background replica pushes to finish');
    for (const i of ingesters) await flush(i.ports.http);

    // Three copies of every span on disk, each block recording the factor.
    const metas = listFilesRecursive(backendDir)
      .filter((f) => f.endsWith('meta.json'))
      .map((f) => JSON.parse(readFileSync(join(backendDir, f), 'utf8')) as { replicationFactor?: number; totalSpans: number });
    expect(metas.length).toBeGreaterThanOrEqual(3);
    expect(metas.every((m) => m.replicationFactor === RF)).toBe(true);
    expect(metas.reduce((n, m) => n + m.totalSpans, 0)).toBe(RF * sentTotal);

    // Every span starts after the split (now - query_backend_after): each token range is counted by
    // one replica, from its memory and the block it flushed itself. The answer is exact at once,
    // and stays so while the frontend's poll lists the blocks.
    for (let round = 0; round < 3; round++) {
      const series = (await queryRange('{ } | count_over_time()')).series ?? [];
      expect(series).toHaveLength(1);
      expect(sum(series[0]!)).toBe(sentTotal);
      await new Promise((r) => setTimeout(r, 600));
    }

    const by = await queryRange('{ } | count_over_time() by (resource.service.name)');
    const got = new Map((by.series ?? []).map((s) => [s.labels?.find((l) => l.key === 'resource.service.name')?.value.stringValue ?? '', sum(s)]));
    expect(got).toEqual(sent);
    // The frontend runs no querier: the jobs (the trace-ID shards included) ran on the remote one.
    expect(await getMetric(frontend.ports.http, 'tempo_query_frontend_connected_clients')).toBe(1);
    expect(await getReady(querier.ports.http)).toBe(200);
  });

  it('spans flushed by one replica and still in memory on the two others are counted once, old and recent, per service too', async () => {
    const blocksBefore = listFilesRecursive(backendDir).filter((f) => f.endsWith('meta.json')).length;
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const mine = new Map<string, number>();
    let mineTotal = 0;
    // Hours old (before the split at now - 35m: counted from blocks), 40 minutes old (just before
    // it) and now (after it: counted by the ingesters).
    const ages = [{ service: 'handover-old', ageNs: 2n * 3600n * 1_000_000_000n }, { service: 'handover-near', ageNs: 40n * 60n * 1_000_000_000n }, { service: 'handover-new', ageNs: 0n }];
    for (let i = 0; i < 60; i++) {
      const { service, ageNs } = ages[i % ages.length]!;
      const traceId = randomTraceId();
      const spans = Array.from({ length: 1 + (i % 4) }, (_, k) => makeSpan(traceId, undefined, { startNs: nowNs - ageNs + BigInt(i * 1000 + k) }));
      const res = await postOtlpHttp(distributor.ports.otlpHttp!, encodeRequest(makeTrace(spans, service)));
      expect(res.status, res.text()).toBe(200);
      mine.set(service, (mine.get(service) ?? 0) + spans.length);
      mineTotal += spans.length;
    }
    await waitFor(async () => (await getMetric(distributor.ports.http, 'andante_distributor_ingester_background_pushes')) === 0, 60_000, 'background replica pushes to finish');
    // Only the first replica flushes; the two others keep these spans in memory (max_block_duration 30m).
    await flush(ingesters[0]!.ports.http);
    await waitFor(() => listFilesRecursive(backendDir).filter((f) => f.endsWith('meta.json')).length > blocksBefore, 60_000, 'the first replica flushed its copy');

    const startNs = nowNs - 3n * 3600n * 1_000_000_000n;
    const all = await queryRange('{ } | count_over_time()', startNs);
    expect(all.series ?? []).toHaveLength(1);
    // The first test's spans (every copy flushed) and these: each once.
    expect(sum(all.series![0]!)).toBe(sentTotal + mineTotal);
    const by = await queryRange('{ } | count_over_time() by (resource.service.name)', startNs);
    const got = new Map((by.series ?? []).map((s) => [s.labels?.find((l) => l.key === 'resource.service.name')?.value.stringValue ?? '', sum(s)]));
    expect(got).toEqual(new Map([...sent, ...mine]));
  });

  it('an ingester killed and restarted missed what was written meanwhile: the recent count stays exact (its ranges are counted by a replica serving since before the window)', async () => {
    const before = await sendNow('before-outage', 30);
    await waitFor(async () => (await getMetric(distributor.ports.http, 'andante_distributor_ingester_background_pushes')) === 0, 60_000, 'background replica pushes to finish');
    await ingesters[1]!.kill9();
    // Acknowledged at the quorum of the two others.
    const during = await sendNow('during-outage', 60);
    await waitFor(async () => (await getMetric(distributor.ports.http, 'andante_distributor_ingester_background_pushes')) === 0, 60_000, 'background replica pushes to finish');
    const { dir, config } = ingesterSetups[1]!;
    ingesters[1] = await startProcess(dir, config, 60_000);
    await threeActive();
    const after = await sendNow('after-outage', 30);
    await waitFor(async () => (await getMetric(distributor.ports.http, 'andante_distributor_ingester_background_pushes')) === 0, 60_000, 'background replica pushes to finish');

    const startNs = BigInt(Date.now() - 10 * 60_000) * 1_000_000n;
    const by = await queryRange('{ } | count_over_time() by (resource.service.name)', startNs);
    const got = new Map((by.series ?? []).map((s) => [s.labels?.find((l) => l.key === 'resource.service.name')?.value.stringValue ?? '', sum(s)]));
    expect(got.get('before-outage')).toBe(before);
    expect(got.get('during-outage'), 'spans written while an ingester was down').toBe(during);
    expect(got.get('after-outage')).toBe(after);
  }, 180_000);
});
