// TraceQL metrics across the ingester/backend hand-over, in process. At replication factor 3
// replicas flush their copies of a trace at different moments: here one replica (a) has flushed
// everything it holds while the other two still hold it in memory, and the query is split at
// now - query_backend_after (now pinned): spans starting after the split are counted by the
// ingesters only (each replica its token share, from its memory or from the blocks it flushed
// itself), spans up to it by the blocks only. Spans just before, exactly at and just after the
// split are each counted once, in their own interval. At replication factor 1 (as -target=all
// wires it: the querier asks the one ingester directly) nothing is split, and the same data,
// partly flushed, partly in memory (an old span arriving after the flush included), is exact.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalBackend } from '@andante/backend';
import { createIngester, defaultIngesterModuleConfig, type IngesterService } from '@andante/ingester';
import { defaultTenantLimits, encodeTrace, silentLogger, staticLimits, type IngesterQuerier, type Span, type Trace, type TraceSegment } from '@andante/model';
import { Blocklist, Querier, RingIngesterQuerier } from '@andante/querier';
import { MetricsFrontend, defaultMetricsLimits } from '@andante/query-frontend';
import { RingSnapshot, generateTokens, type InstanceDesc } from '@andante/ring';
import { metricsEngine, searchCompiler } from '@andante/traceql';

const TENANT = 'single-tenant';
const S = 1_000_000_000n;
const NOW = (BigInt(Date.now()) / S) * S;
const QUERY_BACKEND_AFTER = 600n * S;
const SPLIT = NOW - QUERY_BACKEND_AFTER;

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rf-boundary-${name}-${process.pid}-`));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startIngester(backend: LocalBackend, replicationFactor: number): Promise<IngesterService> {
  const dir = tempDir('ingester');
  // No sweep of its own: the test decides which replica flushes.
  const cfg = { ...defaultIngesterModuleConfig(), flush_check_period: '1h', max_block_duration: '1h', trace_idle_period: '1h', flush_all_on_shutdown: false };
  const service = createIngester(cfg, {
    backend,
    walPath: join(dir, 'wal'),
    limits: staticLimits(defaultTenantLimits()),
    registry: new Registry(),
    logger: silentLogger,
    compileSearch: searchCompiler,
    metricsEngine,
    replicationFactor,
  });
  await service.start();
  cleanup.push(() => service.stop());
  return service;
}

interface Sent {
  segments: TraceSegment[];
  starts: bigint[];
  total: number;
  byService: Map<string, number>;
}

function span(traceId: Uint8Array, startNs: bigint, name: string): Span {
  return {
    traceId, spanId: randomBytes(8), traceState: '', parentSpanId: new Uint8Array(0), flags: 0, name, kind: 2,
    startTimeUnixNano: startNs, endTimeUnixNano: startNs + 1_000_000n,
    attributes: [{ key: 'n', value: { intValue: 1n } }], droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' },
  };
}

function trace(service: string, starts: bigint[], into: Sent): void {
  const traceId = randomBytes(16);
  const spans = starts.map((t, i) => span(traceId, t, `op-${i}`));
  const t: Trace = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }], droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: 's', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
        schemaUrl: '',
      },
    ],
  };
  const min = starts.reduce((a, b) => (a < b ? a : b));
  const max = starts.reduce((a, b) => (a > b ? a : b));
  into.segments.push({ traceId, bytes: encodeTrace(t), spanCount: spans.length, startTimeUnixNano: min, endTimeUnixNano: max + 1_000_000n });
  into.total += spans.length;
  into.starts.push(...starts);
  into.byService.set(service, (into.byService.get(service) ?? 0) + spans.length);
}

/** Traces before and after the split (several minutes either side, two services), and one span each just before, at and just after it. */
function dataset(): { older: Sent; recent: Sent; boundary: Sent } {
  const older: Sent = { segments: [], starts: [], total: 0, byService: new Map() };
  const recent: Sent = { segments: [], starts: [], total: 0, byService: new Map() };
  const boundary: Sent = { segments: [], starts: [], total: 0, byService: new Map() };
  for (let i = 0; i < 60; i++) {
    const service = i % 2 ? 'checkout' : 'cart';
    const n = 1 + (i % 3);
    trace(service, Array.from({ length: n }, (_, k) => SPLIT - BigInt(1 + i) * 5n * S - BigInt(k) * 1_000n), older);
    trace(service, Array.from({ length: n }, (_, k) => SPLIT + BigInt(1 + i) * 5n * S + BigInt(k) * 1_000n), recent);
  }
  for (const t of [SPLIT - 1n, SPLIT, SPLIT + 1n]) trace('edge', [t], boundary);
  return { older, recent, boundary };
}

function frontendOver(backend: LocalBackend, ingesters: () => IngesterQuerier[]): MetricsFrontend {
  const blocklist = new Blocklist(backend, 3_600_000, silentLogger);
  const querier = new Querier({ backend, blocklist, ingesters, logger: silentLogger, compile: searchCompiler, metricsEngine });
  return new MetricsFrontend({ blocklist, querier, engine: metricsEngine, limits: { ...defaultMetricsLimits(), queryBackendAfterNs: QUERY_BACKEND_AFTER }, logger: silentLogger, now: () => NOW });
}

const labelOf = (labels: { key: string; value: unknown }[]): string => ((labels.find((l) => l.key === 'resource.service.name')?.value as { stringValue?: string } | undefined)?.stringValue ?? '');

/**
 * count_over_time over the last hour (both sides of the split), per service and in all; and in all
 * on a span attribute, which blocks answer from whole traces, not columns.
 */
async function counts(frontend: MetricsFrontend): Promise<{ total: number; byService: Map<string, number>; instant: number; byTraces: number }> {
  const range = { startNs: NOW - 3600n * S, endNs: NOW + 60n * S, stepNs: 60n * S, exemplars: 0, instant: false };
  const all = await frontend.query(TENANT, frontend.normalize({ query: '{ } | count_over_time()', ...range }));
  const total = all.series.reduce((n, s) => n + s.samples.reduce((m, x) => m + x.value, 0), 0);
  const by = await frontend.query(TENANT, frontend.normalize({ query: '{ } | count_over_time() by (resource.service.name)', ...range }));
  const byService = new Map(by.series.map((s) => [labelOf(s.labels), s.samples.reduce((m, x) => m + x.value, 0)]));
  const inst = await frontend.query(TENANT, frontend.normalize({ query: '{ } | count_over_time()', ...range, instant: true }));
  const attr = await frontend.query(TENANT, frontend.normalize({ query: '{ span.n = 1 } | count_over_time()', ...range }));
  const byTraces = attr.series.reduce((n, s) => n + s.samples.reduce((m, x) => m + x.value, 0), 0);
  return { total, byService, instant: inst.series.reduce((n, s) => n + (s.samples.at(-1)?.value ?? 0), 0), byTraces };
}

/** count_over_time of the `edge` spans with a 1 ns step around the split: one sample per span, each 1. */
async function edgeSamples(frontend: MetricsFrontend): Promise<{ t: bigint; v: number }[]> {
  const req = frontend.normalize({ query: '{ resource.service.name = "edge" } | count_over_time()', startNs: SPLIT - 3n, endNs: SPLIT + 2n, stepNs: 1n, exemplars: 0, instant: false });
  const a = await frontend.query(TENANT, req);
  expect(a.series).toHaveLength(1);
  // Interval i is (start + i, start + i + 1]: the sample at offset i + 1 from the aligned start.
  return a.series[0]!.samples.map((s, i) => ({ t: req.startNs + BigInt(i + 1), v: s.value })).filter((s) => s.v !== 0);
}

const merged = (...sets: Sent[]): Map<string, number> => {
  const out = new Map<string, number>();
  for (const s of sets) for (const [k, v] of s.byService) out.set(k, (out.get(k) ?? 0) + v);
  return out;
};

/** Every count equals the spans sent, and the spans at SPLIT - 1 ns, SPLIT and SPLIT + 1 ns count once each. */
async function expectEverySpanOnce(frontend: MetricsFrontend, sent: Sent[]): Promise<void> {
  const total = sent.reduce((n, s) => n + s.total, 0);
  const got = await counts(frontend);
  expect(got.total).toBe(total);
  expect(got.byService).toEqual(merged(...sent));
  expect(got.instant).toBe(total);
  expect(got.byTraces).toBe(total);
  expect(await edgeSamples(frontend)).toEqual([
    { t: SPLIT - 1n, v: 1 },
    { t: SPLIT, v: 1 },
    { t: SPLIT + 1n, v: 1 },
  ]);
}

describe('TraceQL metrics across the ingester/backend hand-over', () => {
  it('at RF 3, one replica flushed and two still in memory: every span counted once, the split exact to the nanosecond', async () => {
    const backend = new LocalBackend(join(tempDir('backend'), 'traces'));
    const nodes = await Promise.all([0, 1, 2].map(() => startIngester(backend, 3)));
    const { older, recent, boundary } = dataset();
    // Every replica takes every trace, as the distributor writes at RF 3.
    for (const n of nodes) expect(await n.ingester.push({ tenantId: TENANT, segments: [...older.segments, ...boundary.segments, ...recent.segments] })).toEqual({ rejected: [] });
    // Replica a flushes all it holds; b and c keep theirs in memory.
    await nodes[0]!.ingester.flushAll();

    const members: InstanceDesc[] = nodes.map((_, i) => ({ id: `ingester-${i}`, address: `127.0.0.1:${9000 + i}`, state: 'ACTIVE', tokens: generateTokens(128), heartbeatMs: Date.now(), registeredMs: Date.now(), zone: '' }));
    const ring = new RingSnapshot(members, { replicationFactor: 3, heartbeatTimeoutMs: 3_600_000 });
    const fanout = new RingIngesterQuerier({ ring: () => ring, replicationFactor: 3, client: (i) => nodes[members.indexOf(i)]!.ingester, logger: silentLogger });
    const frontend = frontendOver(backend, () => [fanout]);

    await expectEverySpanOnce(frontend, [older, boundary, recent]);

    // A range wholly before the split: blocks only, the ones only an ingester names (this frontend's
    // blocklist never polled) included.
    const early = frontend.normalize({ query: '{ } | count_over_time()', startNs: NOW - 3600n * S, endNs: SPLIT - 120n * S, stepNs: 60n * S, exemplars: 0, instant: false });
    expect(early.endNs <= SPLIT).toBe(true);
    const earlyAnswer = await frontend.query(TENANT, early);
    const inEarly = older.starts.filter((t) => t > early.startNs && t <= early.endNs).length;
    expect(inEarly).toBeGreaterThan(0);
    expect(earlyAnswer.series.reduce((n, x) => n + x.samples.reduce((m, y) => m + y.value, 0), 0)).toBe(inEarly);

    // Then the two others flush too (every copy in a block): still each span once.
    await Promise.all(nodes.slice(1).map((n) => n.ingester.flushAll()));
    const after = await counts(frontend);
    expect(after.total).toBe(older.total + boundary.total + recent.total);
    expect(after.byService).toEqual(merged(older, boundary, recent));
    expect(after.byTraces).toBe(older.total + boundary.total + recent.total);
  }, 120_000);

  it('at RF 1 (-target=all wiring) the same window, partly flushed, partly in memory, is exact', async () => {
    const backend = new LocalBackend(join(tempDir('backend'), 'traces'));
    const node = await startIngester(backend, 1);
    const { older, recent, boundary } = dataset();
    await node.ingester.push({ tenantId: TENANT, segments: [...older.segments.slice(0, 30), ...boundary.segments] });
    await node.ingester.flushAll();
    // Old spans that arrive after the flush stay in memory: at RF 1 nothing is split, they count.
    await node.ingester.push({ tenantId: TENANT, segments: [...older.segments.slice(30), ...recent.segments] });
    const frontend = frontendOver(backend, () => [node.ingester]);

    await expectEverySpanOnce(frontend, [older, boundary, recent]);
  }, 120_000);
});
