// Query-frontend <-> querier across processes (issue 12 §2, Tempo's pull model): one
// `-target=query-frontend` process and two querier processes that pull its jobs over
// /andante.Frontend/Process. The queriers run `-target=ingester,querier`: on main a querier still
// reaches ingesters only in-process (querier -> ingester gRPC is another branch), so the data
// is written by a `-target=all` process and flushed into the local storage directory every
// process shares; the querier processes' own ingesters hold nothing. Every answer through the
// frontend must equal the `all` process's own. Then: a tenant with a flood of queued jobs does not
// starve another (completion order, queriers frozen with SIGSTOP while the queue is filled), and a
// querier SIGKILLed while it holds a job: the job is queued again and the other querier answers.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '@andante/model';
import { flush, getMetric, getReady, killAllProcesses, makeTempDir, postOtlpHttp, removeTempDirs, startProcess, waitFor, type AndanteProcess } from './harness.js';
import { encodeRequest, makeSpan, makeTrace, randomSpanId, randomTraceId, str } from './otlp.js';

const BLOCKS = 6;
const TENANTS = ['flood', 'quiet'] as const;
const NOW_S = Math.floor(Date.now() / 1000);
const WINDOW = { start: String(NOW_S - 3600), end: String(NOW_S + 3600) };

let shared: string;
let all: AndanteProcess;
let frontend: AndanteProcess;
let q1: AndanteProcess;
let q2: AndanteProcess;
const traceIds: string[] = [];

const common = (storage: string) => ({
  multitenancy_enabled: true,
  server: { grpc_listen_address: '127.0.0.1', grpc_listen_port: 0 },
  storage: { trace: { local: { path: storage }, blocklist_poll: '500ms' } },
});

const grpcPort = (p: AndanteProcess): number => (p.ports as { grpc?: number | null }).grpc ?? 0;

function querierConfig(storage: string, id: string) {
  return {
    ...common(storage),
    target: 'ingester,querier',
    // One job at a time per querier: queues form, and which querier holds a job is observable.
    querier: { max_concurrent_queries: 1, frontend_worker: { frontend_address: `127.0.0.1:${grpcPort(frontend)}`, id, dns_lookup_duration: '1s' } },
  };
}


afterAll(async () => {
  await killAllProcesses();
  removeTempDirs();
});

interface SearchJson {
  traces?: { traceID: string; rootServiceName?: string; rootTraceName?: string; startTimeUnixNano: string; spanSets?: unknown }[];
  metrics: { totalBlocks?: number; completedJobs?: number };
}

async function get(p: AndanteProcess, path: string, tenant: string, params: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const url = new URL(`http://127.0.0.1:${p.ports.http}${path}`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await fetch(url, { headers: { 'X-Scope-OrgID': tenant } });
  return { status: res.status, text: await res.text() };
}

async function search(p: AndanteProcess, tenant: string, q: string): Promise<{ status: number; body: SearchJson }> {
  const r = await get(p, '/api/search', tenant, { q, limit: '100', ...WINDOW });
  expect(r.status, r.text).toBe(200);
  return { status: r.status, body: JSON.parse(r.text) as SearchJson };
}

describe('query-frontend <-> queriers in separate processes', () => {
  beforeAll(async () => {
    shared = join(makeTempDir('fq-shared-'), 'traces');
    all = await startProcess(makeTempDir('fq-all-'), { ...common(shared), compactor: { compaction: { compaction_disabled: true } } }, 60_000);
    // BLOCKS flushes: each tenant gets BLOCKS blocks of 4 traces (services svc-0..3, one error span per trace).
    for (let b = 0; b < BLOCKS; b++) {
      for (const tenant of TENANTS) {
        const traces = Array.from({ length: 4 }, (_, i) => {
          const id = randomTraceId();
          if (tenant === 'flood') traceIds.push(bytesToHex(id));
          const root = randomSpanId();
          const start = BigInt(Date.now() - 60_000 + b * 1000 + i) * 1_000_000n;
          return makeTrace(
            [
              makeSpan(id, root, { name: `root-${b}`, startNs: start, durationNs: BigInt(5 + i) * 1_000_000n }),
              makeSpan(id, randomSpanId(), { name: 'child', parentSpanId: root, startNs: start + 1000n, statusCode: 2, attributes: [str('http.route', `/r/${i}`)] }),
            ],
            `svc-${i}`,
          );
        });
        const res = await postOtlpHttp(all.ports.otlpHttp!, encodeRequest({ resourceSpans: traces.flatMap((t) => t.resourceSpans) }), { headers: { 'X-Scope-OrgID': tenant } });
        expect(res.status).toBe(200);
      }
      await flush(all.ports.http);
    }
    frontend = await startProcess(makeTempDir('fq-frontend-'), { ...common(shared), target: 'query-frontend', query_frontend: { search: { concurrent_jobs: 100 } } }, 60_000);
    expect(grpcPort(frontend)).toBeGreaterThan(0);
    // Tempo's readiness: a frontend no querier pulls from cannot answer.
    const notReady = await fetch(`http://127.0.0.1:${frontend.ports.http}/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain('Query-frontend not ready: number of queriers connected to query-frontend is 0');
    [q1, q2] = await Promise.all([startProcess(makeTempDir('fq-q1-'), querierConfig(shared, 'q1'), 60_000), startProcess(makeTempDir('fq-q2-'), querierConfig(shared, 'q2'), 60_000)]);
    await waitFor(async () => (await getMetric(frontend.ports.http, 'tempo_query_frontend_connected_clients')) === 2, 30_000, 'both queriers connected to the frontend');
    await waitFor(async () => (await getReady(frontend.ports.http)) === 200, 30_000, 'the frontend ready');
    // The frontend lists every block (its own blocklist poll of the shared directory).
    await waitFor(async () => (await search(frontend, 'flood', '{ }')).body.metrics.totalBlocks === BLOCKS, 30_000, 'the frontend lists every block');
  }, 240_000);

  it('answers search, trace by ID, tags and TraceQL metrics through the queue exactly as -target=all does', async () => {
    for (const q of ['{ }', '{ status = error }', '{ resource.service.name = "svc-2" }', '{ span.http.route = "/r/1" } >> { }', '{ name = "nothing" }']) {
      const [want, got] = await Promise.all([search(all, 'flood', q), search(frontend, 'flood', q)]);
      expect(got.body.traces ?? [], q).toEqual(want.body.traces ?? []);
    }
    expect((await search(frontend, 'flood', '{ }')).body.traces).toHaveLength(BLOCKS * 4);

    for (const id of traceIds.slice(0, 5)) {
      const [want, got] = await Promise.all([get(all, `/api/traces/${id}`, 'flood'), get(frontend, `/api/traces/${id}`, 'flood')]);
      expect(got.status).toBe(200);
      expect(JSON.parse(got.text)).toEqual(JSON.parse(want.text));
    }
    // Tenants stay apart across the queue: the quiet tenant does not see the flood's traces.
    expect((await get(frontend, `/api/traces/${traceIds[0]}`, 'quiet')).status).toBe(404);

    for (const [path, params] of [
      ['/api/v2/search/tags', WINDOW],
      ['/api/search/tags', WINDOW],
      ['/api/v2/search/tag/resource.service.name/values', WINDOW],
      ['/api/v2/search/tag/span.http.route/values', { ...WINDOW, q: '{ resource.service.name = "svc-1" }' }],
    ] as const) {
      const [want, got] = await Promise.all([get(all, path, 'flood', params), get(frontend, path, 'flood', params)]);
      expect(got.status, got.text).toBe(200);
      const strip = (t: string) => {
        const { metrics: _m, ...rest } = JSON.parse(t) as Record<string, unknown>;
        return rest;
      };
      expect(strip(got.text), path).toEqual(strip(want.text));
    }

    for (const q of ['{ } | rate() by (resource.service.name)', '{ status = error } | count_over_time()', '{ } | quantile_over_time(duration, .5, .9) by (name)']) {
      const params = { q, start: WINDOW.start, end: WINDOW.end, step: '60s', exemplars: '0' };
      const [want, got] = await Promise.all([get(all, '/api/metrics/query_range', 'flood', params), get(frontend, '/api/metrics/query_range', 'flood', params)]);
      expect(got.status, got.text).toBe(200);
      const series = (t: string) => (JSON.parse(t) as { series?: unknown[] }).series ?? [];
      expect(series(got.text), q).toEqual(series(want.text));
      expect(series(got.text).length).toBeGreaterThan(0);
    }
  }, 120_000);

  it('does not let a tenant with a flood of queued jobs starve another: the quiet tenant finishes before most of the flood', async () => {
    // Fill the queue with the flood's block jobs, then freeze both queriers so nothing drains.
    const FLOOD = 10;
    const finished: string[] = [];
    const flood = Array.from({ length: FLOOD }, (_, i) => search(frontend, 'flood', '{ name = "nothing-matches" }').then(() => finished.push(`flood-${i}`)));
    await waitFor(async () => (await getMetric(frontend.ports.http, 'tempo_query_frontend_queue_length', { user: 'flood' })) >= 2 * BLOCKS, 60_000, 'flood jobs queued', 2);
    q1.child.kill('SIGSTOP');
    q2.child.kill('SIGSTOP');
    try {
      // Frozen queriers take at most the one job each had room for: what is queued now stays queued.
      const queued = await getMetric(frontend.ports.http, 'tempo_query_frontend_queue_length', { user: 'flood' });
      expect(queued).toBeGreaterThanOrEqual(BLOCKS);
      const quiet = search(frontend, 'quiet', '{ name = "nothing-matches" }').then(() => finished.push('quiet'));
      await waitFor(async () => (await getMetric(frontend.ports.http, 'tempo_query_frontend_queue_length', { user: 'quiet' })) === 1, 30_000, 'the quiet tenant queued');
      q1.child.kill('SIGCONT');
      q2.child.kill('SIGCONT');
      await Promise.all([...flood, quiet]);
      // Round robin: the quiet tenant's 1 + BLOCKS jobs alternate with the flood's; FIFO would put all of them last.
      const at = finished.indexOf('quiet');
      expect(at, finished.join(' ')).toBeLessThan(FLOOD / 2);
    } finally {
      q1.child.kill('SIGCONT');
      q2.child.kill('SIGCONT');
    }
  }, 180_000);

  it('answers a query whose querier is SIGKILLed holding a job: the job is queued again and the other querier runs it', async () => {
    const want = await search(all, 'flood', '{ status = error }');
    const requeuedBefore = await getMetric(frontend.ports.http, 'tempo_query_frontend_requeued_jobs_total', { user: 'flood' });
    q1.child.kill('SIGSTOP');
    const answer = search(frontend, 'flood', '{ status = error }');
    // q1 has room for one job: the frontend sends it one of this query's jobs, which it cannot run.
    await waitFor(async () => (await getMetric(frontend.ports.http, 'tempo_query_frontend_jobs_in_flight', { querier: 'q1' })) >= 1, 60_000, 'a job held by q1');
    await q1.kill9();
    const got = await answer;
    expect(got.body.traces).toEqual(want.body.traces);
    expect(await getMetric(frontend.ports.http, 'tempo_query_frontend_requeued_jobs_total', { user: 'flood' })).toBeGreaterThan(requeuedBefore);
    await waitFor(async () => (await getMetric(frontend.ports.http, 'tempo_query_frontend_connected_clients')) === 1, 30_000, 'q1 gone from the frontend');
    expect(await getMetric(frontend.ports.http, 'tempo_query_frontend_jobs_in_flight', { querier: 'q1' })).toBe(0);
  }, 120_000);
});

describe('a query-frontend with no querier pulling', () => {
  it('refuses jobs beyond max_outstanding_per_tenant with 429 naming the key, per tenant, and drops the queued jobs of a request whose client went away', async () => {
    const storage = join(makeTempDir('fq-lone-'), 'traces');
    const lone = await startProcess(makeTempDir('fq-lone-fe-'), { ...common(storage), target: 'query-frontend', query_frontend: { max_outstanding_per_tenant: 1 } }, 60_000);
    const url = (q: string) => `http://127.0.0.1:${lone.ports.http}/api/search?q=${encodeURIComponent(q)}`;
    const ac = new AbortController();
    // Its first job (the ingesters' part) waits in the queue: no querier takes it.
    const first = fetch(url('{ }'), { headers: { 'X-Scope-OrgID': 'a' }, signal: ac.signal }).catch((err: Error) => err);
    await waitFor(async () => (await getMetric(lone.ports.http, 'tempo_query_frontend_queue_length', { user: 'a' })) === 1, 30_000, "tenant a's job queued");
    const refused = await fetch(url('{ }'), { headers: { 'X-Scope-OrgID': 'a' } });
    expect(refused.status).toBe(429);
    expect(await refused.text()).toMatch(/^too many outstanding requests: tenant a has 1 jobs queued \(query_frontend.max_outstanding_per_tenant\)/);
    // Another tenant has its own bound.
    const other = new AbortController();
    const second = fetch(url('{ }'), { headers: { 'X-Scope-OrgID': 'b' }, signal: other.signal }).catch((err: Error) => err);
    await waitFor(async () => (await getMetric(lone.ports.http, 'tempo_query_frontend_queue_length', { user: 'b' })) === 1, 30_000, "tenant b's job queued");
    // The clients give up: their jobs leave the queue, and tenant a may queue again.
    ac.abort();
    other.abort();
    expect(await first).toBeInstanceOf(Error);
    expect(await second).toBeInstanceOf(Error);
    await waitFor(async () => (await getMetric(lone.ports.http, 'tempo_query_frontend_queue_length', { user: 'a' })) === 0, 30_000, "tenant a's queue empty");
    await waitFor(async () => (await getMetric(lone.ports.http, 'tempo_query_frontend_queue_length', { user: 'b' })) === 0, 30_000, "tenant b's queue empty");
    const again = new AbortController();
    const third = fetch(url('{ }'), { headers: { 'X-Scope-OrgID': 'a' }, signal: again.signal }).catch((err: Error) => err);
    await waitFor(async () => (await getMetric(lone.ports.http, 'tempo_query_frontend_queue_length', { user: 'a' })) === 1, 30_000, "tenant a's job queued again");
    again.abort();
    await third;
    expect(lone.alive()).toBe(true);
  }, 120_000);
});
