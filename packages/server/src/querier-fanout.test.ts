// The querier's ring fan-out over real ingesters on the internal gRPC server (loopback, port 0):
// replicas (RF 3) give each span, each search result and each metrics sample once; unreachable
// ingesters are tolerated up to RF - quorum and answered UNAVAILABLE beyond; a cancelled call
// reaches the ingester's handler as an aborted signal and its scan stops.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  UnavailableError,
  bytesToHex,
  countSpans,
  defaultTenantLimits,
  encodeTrace,
  silentLogger,
  staticLimits,
  type MetricsRequest,
  type Span,
  type Trace,
  type TraceSegment,
} from '@andante/model';
import { LocalBackend } from '@andante/backend';
import { IngesterClientPool, SEARCH_RECENT_METHOD } from '@andante/ingester-client';
import { createIngester, defaultIngesterModuleConfig, type IngesterService } from '@andante/ingester';
import { Blocklist, Querier, RingIngesterQuerier } from '@andante/querier';
import { SearchService, defaultSearchLimits, registerSearchRoutes } from '@andante/query-frontend';
import Fastify from 'fastify';
import { RingSnapshot, generateTokens, type InstanceDesc } from '@andante/ring';
import { metricsEngine, searchCompiler } from '@andante/traceql';
import type { UnaryMethod } from '@andante/service';
import { grpcServings } from '@andante/service';
import { GrpcInternalServer } from './internal-grpc.js';

const TENANT = 'single-tenant';
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Node {
  id: string;
  address: string;
  service: IngesterService;
  server: GrpcInternalServer;
  finished: { path: string; code: number }[];
}

/** A real ingester (WAL in a temp dir) served on its own internal gRPC server; `wrap` may intercept a method. */
async function startNode(id: string, wrap?: (path: string, h: UnaryMethod) => UnaryMethod, maxSendMessageBytes = 16 << 20): Promise<Node> {
  const dir = await mkdtemp(join(tmpdir(), `fanout-${id}-`));
  const service = createIngester(
    { ...defaultIngesterModuleConfig(), flush_check_period: '1h', flush_all_on_shutdown: false },
    {
      backend: new LocalBackend(join(dir, 'traces')),
      walPath: join(dir, 'wal'),
      limits: staticLimits(defaultTenantLimits()),
      registry: new Registry(),
      logger: silentLogger,
      compileSearch: searchCompiler,
      metricsEngine,
    },
  );
  await service.start();
  const finished: Node['finished'] = [];
  const server = new GrpcInternalServer({ address: '127.0.0.1', maxRecvMessageBytes: 16 << 20, maxSendMessageBytes }, silentLogger, (path, code) => finished.push({ path, code }));
  const unary = new Map([...grpcServings(service)[0]!.unary!].map(([path, h]) => [path, wrap ? wrap(path, h) : h] as const));
  server.mount(new Map(), unary);
  const port = await server.listen(0);
  cleanup.push(async () => {
    await server.close();
    await service.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { id, address: `127.0.0.1:${port}`, service, server, finished };
}

const member = (id: string, address: string): InstanceDesc => ({ id, address, state: 'ACTIVE', tokens: generateTokens(128), heartbeatMs: Date.now(), registeredMs: Date.now(), zone: '' });

function pool(queryTimeoutMs = 20_000): IngesterClientPool {
  const p = new IngesterClientPool({ remoteTimeoutMs: 10_000, queryTimeoutMs, traceByIdTimeoutMs: queryTimeoutMs, maxSendMessageBytes: 16 << 20, maxRecvMessageBytes: 16 << 20 });
  cleanup.push(async () => p.close());
  return p;
}

function fanout(members: InstanceDesc[], rf: number, p = pool(), queryRelevantIngesters = false): RingIngesterQuerier {
  const ring = new RingSnapshot(members, { replicationFactor: rf, heartbeatTimeoutMs: 60_000 });
  return new RingIngesterQuerier({ ring: () => ring, replicationFactor: rf, queryRelevantIngesters, client: (i) => p.get(i.address), logger: silentLogger });
}

const NOW_NS = BigInt(Date.now()) * 1_000_000n;

/** IDs that differ early too: FNV-1 spreads a change in the first bytes over the token, not one in the last. */
function traceId(n: number): Uint8Array {
  const id = new Uint8Array(16);
  id[0] = 0xc0;
  id[1] = (n * 97) & 0xff;
  id[2] = (n >> 8) & 0xff;
  id[13] = n >> 16;
  id[14] = (n >> 8) & 0xff;
  id[15] = n & 0xff;
  return id;
}

function span(tid: Uint8Array, n: number, name: string): Span {
  const spanId = new Uint8Array(8);
  spanId[0] = 1;
  spanId[6] = n >> 8;
  spanId[7] = n & 0xff;
  return {
    traceId: tid, spanId, traceState: '', parentSpanId: new Uint8Array(0), flags: 0, name, kind: 2,
    startTimeUnixNano: NOW_NS - 60_000_000_000n + BigInt(n) * 1_000_000n, endTimeUnixNano: NOW_NS - 59_000_000_000n + BigInt(n) * 1_000_000n,
    attributes: [{ key: 'n', value: { intValue: BigInt(n) } }], droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0,
    status: { code: 0, message: '' },
  };
}

function segment(tid: Uint8Array, spans: Span[], service = 'svc'): TraceSegment {
  const trace: Trace = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }], droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: 's', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
        schemaUrl: '',
      },
    ],
  };
  const times = spans.map((s) => s.startTimeUnixNano);
  return { traceId: tid, bytes: encodeTrace(trace), spanCount: spans.length, startTimeUnixNano: times.reduce((a, b) => (a < b ? a : b)), endTimeUnixNano: spans.map((s) => s.endTimeUnixNano).reduce((a, b) => (a > b ? a : b)) };
}

/** `traces` traces of 3 spans each, two services. */
function segments(traces: number): TraceSegment[] {
  return Array.from({ length: traces }, (_, t) => segment(traceId(t), [0, 1, 2].map((k) => span(traceId(t), t * 3 + k, `op-${k}`)), t % 2 ? 'odd' : 'even'));
}

const metricsReq = (query: string): MetricsRequest => {
  const stepNs = 60_000_000_000n;
  const aligned = metricsEngine.alignRange({ startNs: NOW_NS - 600_000_000_000n, endNs: NOW_NS + 60_000_000_000n, stepNs, instant: false });
  return { query, ...aligned, exemplars: 0 };
};

const seriesTotals = (parts: Parameters<ReturnType<typeof metricsEngine.combiner>['add']>[0][], req: MetricsRequest): Record<string, number> => {
  const c = metricsEngine.combiner(req);
  for (const p of parts) c.add(p);
  return Object.fromEntries(c.series().map((s) => [s.labels.map((l) => JSON.stringify(l.value)).join(','), s.samples.reduce((n, x) => n + x.value, 0)]));
};

describe('RingIngesterQuerier over internal gRPC', () => {
  it('three replicas holding the same spans (RF 3): each span once by ID, each trace once in search, tags merged, each span counted once by metrics', async () => {
    const nodes = await Promise.all(['a', 'b', 'c'].map((id) => startNode(id)));
    const p = pool();
    const data = segments(60);
    // Every replica takes every trace (as RF 3 on three ingesters writes them), over the wire.
    for (const n of nodes) expect(await p.get(n.address).push({ tenantId: TENANT, segments: data })).toEqual({ rejected: [] });
    const q = fanout(nodes.map((n) => member(n.id, n.address)), 3, p);

    const found = await q.findTraceById(TENANT, traceId(7));
    expect(countSpans(found.trace!)).toBe(3);
    // Only the trace's replicas (query_relevant_ingesters): here all three, the same answer.
    expect(countSpans((await fanout(nodes.map((n) => member(n.id, n.address)), 3, p, true).findTraceById(TENANT, traceId(7))).trace!)).toBe(3);
    expect(found.trace!.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => bytesToHex(s.spanId)))).sort()).toEqual(
      [21, 22, 23].map((n) => `01000000000000${n.toString(16).padStart(2, '0')}`).sort(),
    );
    expect((await q.findTraceById(TENANT, traceId(9999))).trace).toBeNull();

    const search = await q.search(TENANT, { query: '{ resource.service.name = "odd" }', startSeconds: 0, endSeconds: 0, limit: 1000, spss: 3 });
    expect(search.traces).toHaveLength(30);
    expect(new Set(search.traces.map((t) => t.traceID)).size).toBe(30);
    // What the replicas inspected adds up (Tempo's behaviour): three times one ingester's count.
    expect(search.metrics.inspectedTraces).toBe(180);

    const tags = await q.searchTags(TENANT, { query: '', startSeconds: 0, endSeconds: 0 });
    expect(tags.names.span).toEqual(['n']);
    const values = await q.searchTagValues(TENANT, { query: '', startSeconds: 0, endSeconds: 0, tag: 'resource.service.name', v2: true });
    expect(values.values.map((v) => v.value).sort()).toEqual(['even', 'odd']);

    // Metrics: the fan-out's answer equals one ingester's (each span counted once), and a naive
    // sum of the three replicas' partials would count every span three times.
    for (const query of ['{ } | count_over_time() by (resource.service.name)', '{ name = "op-1" } | rate()']) {
      const req = metricsReq(query);
      const one = await nodes[0]!.service.ingester.metricsQueryRange(TENANT, req);
      const expected = seriesTotals([one], req);
      expect(Object.keys(expected).length).toBeGreaterThan(0);
      const merged = await q.metricsQueryRange(TENANT, req);
      expect(seriesTotals([merged], req)).toEqual(expected);
      expect(merged.inspectedTraces).toBe(60);
      const naive = seriesTotals(await Promise.all(nodes.map((n) => n.service.ingester.metricsQueryRange(TENANT, req))), req);
      for (const [k, v] of Object.entries(expected)) expect(naive[k]).toBeCloseTo(3 * v, 6);
    }
  }, 60_000);

  it('tolerates RF - quorum unreachable ingesters and answers UNAVAILABLE beyond, naming them; at RF 1 one dead ingester fails search (no silent partial)', async () => {
    const nodes = await Promise.all(['a', 'b'].map((id) => startNode(id)));
    const p = pool();
    const data = segments(10);
    for (const n of nodes) await p.get(n.address).push({ tenantId: TENANT, segments: data });
    // A member whose port no longer answers (its server was closed): connection refused.
    const gone = await startNode('gone');
    await gone.server.close();
    const members = [...nodes.map((n) => member(n.id, n.address)), member('gone', gone.address)];
    const req = { query: '{ }', startSeconds: 0, endSeconds: 0, limit: 100, spss: 3 };

    const rf3 = fanout(members, 3, p);
    expect((await rf3.search(TENANT, req)).traces).toHaveLength(10);
    expect(countSpans((await rf3.findTraceById(TENANT, traceId(3))).trace!)).toBe(3);
    expect((await rf3.searchTags(TENANT, { query: '', startSeconds: 0, endSeconds: 0 })).names.span).toEqual(['n']);
    // Metrics at RF > 1 gives each token range to one replica; the dead one's ranges go to the next
    // replica, so the answer still counts every span once.
    const mreq = metricsReq('{ } | count_over_time()');
    const expected = seriesTotals([await nodes[0]!.service.ingester.metricsQueryRange(TENANT, mreq)], mreq);
    expect(Object.values(expected)).toEqual([30]);
    expect(seriesTotals([await rf3.metricsQueryRange(TENANT, mreq)], mreq)).toEqual(expected);

    const rf1 = fanout(members, 1, p);
    // Asking every ingester at RF 1, a dead one fails trace by ID too (Tempo's MaxErrors 0) ...
    await expect(rf1.findTraceById(TENANT, traceId(3))).rejects.toBeInstanceOf(UnavailableError);
    // ... while asking only the trace's replica fails only the traces the dead one owns.
    const relevant = fanout(members, 1, p, true);
    // 60 IDs (10 held): the dead member owns some of them (all on the live ones: probability (2/3)^60).
    const byOwner = await Promise.all(Array.from({ length: 60 }, (_, t) => relevant.findTraceById(TENANT, traceId(t)).then((a) => (a.trace ? 'found' : 'none'), (e: unknown) => (e instanceof UnavailableError ? 'unavailable' : 'other'))));
    expect(byOwner).not.toContain('other');
    expect(byOwner).toContain('unavailable');
    expect(byOwner.filter((x) => x !== 'unavailable').length).toBeGreaterThan(0);
    expect(byOwner.slice(10)).not.toContain('found');
    const err = await rf1.search(TENANT, req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/search: 1 ingester\(s\) could not be read, at most 0 may fail at replication factor 1: gone \(/);
    await expect(rf1.metricsQueryRange(TENANT, mreq)).rejects.toBeInstanceOf(UnavailableError);

    // Two of three members gone at RF 3: more than RF - quorum (1).
    const gone2 = await startNode('gone2');
    await gone2.server.close();
    const two = fanout([member(nodes[0]!.id, nodes[0]!.address), member('gone', gone.address), member('gone2', gone2.address)], 3, p);
    await expect(two.search(TENANT, req)).rejects.toThrow(/2 ingester\(s\) could not be read, at most 1 may fail/);
    await expect(two.metricsQueryRange(TENANT, mreq)).rejects.toBeInstanceOf(UnavailableError);
  }, 60_000);

  it('a cancelled call aborts the ingester handler\'s signal and its scan stops (UNAVAILABLE, not a result)', async () => {
    let started!: () => void;
    const handlerStarted = new Promise<void>((r) => (started = r));
    let outcome: Promise<unknown> | undefined;
    // The real handler runs once the call was cancelled, with the call's (aborted) signal.
    const node = await startNode('slow', (path, h) =>
      path !== SEARCH_RECENT_METHOD
        ? h
        : async (call) => {
            started();
            await new Promise<void>((r) => (call.signal.aborted ? r() : call.signal.addEventListener('abort', () => r(), { once: true })));
            outcome = h(call).then(() => 'answered', (e: unknown) => e);
            return h(call);
          },
    );
    const p = pool();
    await p.get(node.address).push({ tenantId: TENANT, segments: segments(300) });
    const abort = new AbortController();
    const call = p.get(node.address).search(TENANT, { query: '{ }', startSeconds: 0, endSeconds: 0, limit: 10, spss: 3 }, abort.signal);
    await handlerStarted;
    abort.abort(new Error('client went away'));
    await expect(call).rejects.toThrow('client went away');
    await expect.poll(() => node.finished.find((f) => f.path === SEARCH_RECENT_METHOD), { timeout: 10_000 }).toBeDefined();
    expect(node.finished.find((f) => f.path === SEARCH_RECENT_METHOD)!.code).toBe(grpc.status.UNAVAILABLE);
    const scan = await outcome;
    expect(scan).toBeInstanceOf(UnavailableError);
    expect((scan as Error).message).toMatch(/query stopped: the caller cancelled it/);
  }, 60_000);

  it('an aborted HTTP search cancels the ingester\'s scan: /api/search -> SearchService -> Querier -> fan-out -> gRPC -> the handler\'s signal', async () => {
    let started!: () => void;
    const handlerStarted = new Promise<void>((r) => (started = r));
    let scan: Promise<unknown> | undefined;
    const node = await startNode('http', (path, h) =>
      path !== SEARCH_RECENT_METHOD
        ? h
        : async (call) => {
            started();
            // Holds the answer until the call is cancelled, then runs the real scan with that signal.
            await new Promise<void>((r) => (call.signal.aborted ? r() : call.signal.addEventListener('abort', () => r(), { once: true })));
            const answer = h(call);
            scan = answer.then(() => 'answered', (e: unknown) => e);
            return answer;
          },
    );
    // A deadline far beyond the test's waits: only the HTTP client's abort can cancel the call.
    const p = pool(600_000);
    await p.get(node.address).push({ tenantId: TENANT, segments: segments(20) });
    const dir = await mkdtemp(join(tmpdir(), 'fanout-http-'));
    const backend = new LocalBackend(dir);
    const blocklist = new Blocklist(backend, 3_600_000, silentLogger, new Registry());
    const querier = new Querier({ backend, blocklist, ingesters: () => [fanout([member(node.id, node.address)], 1, p)], logger: silentLogger, compile: searchCompiler });
    const app = Fastify();
    registerSearchRoutes(app, { search: new SearchService({ blocklist, querier, compile: searchCompiler, limits: defaultSearchLimits(), logger: silentLogger }), multitenancyEnabled: false, prefix: '' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    cleanup.push(async () => {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    });
    const port = (app.server.address() as { port: number }).port;
    const abort = new AbortController();
    const res = fetch(`http://127.0.0.1:${port}/api/search?q=${encodeURIComponent('{ }')}`, { signal: abort.signal }).catch((e: unknown) => e);
    await handlerStarted;
    abort.abort();
    expect(await res).toBeInstanceOf(Error);
    await expect.poll(() => node.finished.find((f) => f.path === SEARCH_RECENT_METHOD), { timeout: 20_000 }).toBeDefined();
    expect(node.finished.find((f) => f.path === SEARCH_RECENT_METHOD)!.code).toBe(grpc.status.UNAVAILABLE);
    const outcome = await scan;
    expect(outcome).toBeInstanceOf(UnavailableError);
    expect((outcome as Error).message).toMatch(/query stopped: the caller cancelled it/);
  }, 60_000);

  it('an answer over the message size limit is refused with a 400-class error that says how to narrow it; the ingester keeps serving', async () => {
    const node = await startNode('small', undefined, 4096);
    const p = pool();
    await p.get(node.address).push({ tenantId: TENANT, segments: segments(200) });
    const q = fanout([member(node.id, node.address)], 1, p);
    const err = await q.searchTagValues(TENANT, { query: '', startSeconds: 0, endSeconds: 0, tag: 'span.n', v2: true }).catch((e: unknown) => e);
    // A refusal of the request passes through the fan-out as is (another replica would refuse it too).
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/SearchTagValues on ingester 127\.0\.0\.1:\d+: the answer exceeds the internal gRPC message size limit .*narrow the query/);
    expect((await q.searchTagValues(TENANT, { query: '', startSeconds: 0, endSeconds: 0, tag: 'resource.service.name', v2: true })).values.map((v) => v.value).sort()).toEqual(['even', 'odd']);
  }, 60_000);

  it('the client pool closes the client of a member that left the ring', () => {
    const p = pool();
    p.get('127.0.0.1:1');
    p.get('127.0.0.1:2');
    p.retain(new Set(['127.0.0.1:2']));
    expect(p.addresses).toEqual(['127.0.0.1:2']);
  });
});
