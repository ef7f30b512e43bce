// TraceQL metrics over replicated blocks, in process (a real local backend, blocklist, querier
// and query-frontend; the TraceQL engine): three blocks hold overlapping copies of the same
// spans, as three RF 3 ingesters flush them (most spans in all three, some in two, some in one
// only: a replica that missed a write). The answers must be the single-copy figures of a plain
// reference computed over the spans, and equal to one factor-1 block holding each span once;
// read block by block (factor 1 claimed for the copies) the same blocks overcount, which is what
// the test guards against.

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, type BlockMeta, type KeyValue, type MetricsRequest, type MetricsSeries } from '@andante/model';
import { LocalBackend } from '@andante/backend';
import { encodeBlock, newBlockId, withReplicationFactor, writeEncodedBlock, type TraceEntry } from '@andante/storage';
import { Blocklist, Querier } from '@andante/querier';
import { MetricsFrontend, defaultMetricsLimits, shardJobs, splitReplicatedJobs, traceIdShards } from '@andante/query-frontend';
import { metricsEngine } from '@andante/traceql';
import { generateSpans, referenceSeries, spansToTraces, type PlainSpan, type RefQuery, type RefRange } from '@andante/traceql/testing';
import { makeTempDir, removeTempDirs } from './harness.js';

const S = 1_000_000_000n;
const STEP = 60n * S;
const NOW = ((BigInt(Date.now()) * 1_000_000n) / STEP) * STEP;
const START = NOW - 40n * 60n * S;
const END = NOW - 5n * 60n * S;
const RANGE: RefRange = { startNs: START, endNs: END, stepNs: STEP };
// Random trace IDs, as real ones are (the fixture numbers them): trace-ID shards split them evenly.
const SPANS = generateSpans({ seed: 23, startNs: START + S, spreadNs: END - START - 2n * S, traces: 600 }).map((s) => ({
  ...s,
  traceId: createHash('sha256').update(s.traceId).digest('hex').slice(0, 32),
}));
const rowGroupSpans = 97; // many row groups per block: the shards skip and cut them

/** Which copies (of 3) hold each span: most all three, some two, some one. Deterministic. */
function copiesOf(i: number): number[] {
  const r = (i * 2654435761) % 100;
  if (r < 10) return [i % 3];
  if (r < 25) return [[0, 1], [1, 2], [0, 2]][i % 3]!;
  return [0, 1, 2];
}
const COPIES: PlainSpan[][] = [[], [], []];
SPANS.forEach((s, i) => {
  for (const c of copiesOf(i)) COPIES[c]!.push(s);
});

function entries(spans: readonly PlainSpan[]): TraceEntry[] {
  return spansToTraces(spans)
    .map((trace) => ({ traceId: trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId, trace }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.traceId), Buffer.from(b.traceId)));
}

const TENANT = 'rf-dedup';
let dir: string;
let backend: LocalBackend;

async function writeCopy(spans: readonly PlainSpan[], rf: number, tenant = TENANT): Promise<BlockMeta> {
  const encoded = encodeBlock(tenant, newBlockId(), entries(spans), { rowGroupSpans });
  return writeEncodedBlock(backend, withReplicationFactor(encoded, rf));
}

/** A frontend and an inline querier over exactly `metas` (a blocklist fed them, no polling). */
function stack(metas: readonly BlockMeta[]): { frontend: MetricsFrontend; querier: Querier } {
  const blocklist = new Blocklist(backend, 3_600_000, silentLogger);
  for (const m of metas) blocklist.add(m);
  const querier = new Querier({ backend, blocklist, ingesters: () => [], logger: silentLogger, metricsEngine });
  const frontend = new MetricsFrontend({ blocklist, querier, engine: metricsEngine, limits: defaultMetricsLimits(), logger: silentLogger });
  return { frontend, querier };
}

function request(frontend: MetricsFrontend, query: string): MetricsRequest {
  return frontend.normalize({ query, startNs: START, endNs: END, stepNs: STEP, exemplars: 0, instant: false });
}

async function run(metas: readonly BlockMeta[], query: string): Promise<MetricsSeries[]> {
  const { frontend } = stack(metas);
  return (await frontend.query(TENANT, request(frontend, query))).series;
}

const valueText = (kv: KeyValue): string => {
  const v = kv.value as { stringValue?: string } | undefined;
  return `${kv.key}=${v?.stringValue ?? JSON.stringify(kv.value, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x))}`;
};
const labelText = (s: MetricsSeries): string =>
  s.labels
    .filter((l) => l.key !== 'p')
    .map(valueText)
    .sort()
    .join(',');

function expectReference(got: MetricsSeries[], ref: RefQuery, relErr: number, spans: readonly PlainSpan[] = SPANS): void {
  const want = referenceSeries(spans, ref, RANGE);
  expect(got.map(labelText).sort()).toEqual(want.map((w) => w.labels).sort());
  for (const w of want) {
    const g = got.find((s) => labelText(s) === w.labels)!;
    const samples = new Map(g.samples.map((x) => [x.timestampMs, x.value]));
    for (const [ts, v] of w.samples) {
      const x = samples.get(ts) ?? 0;
      if (v === 0 || relErr === 0) expect(x, `${w.labels} at ${ts}`).toBe(v);
      else expect(Math.abs(x - v) / v, `${w.labels} at ${ts}: ${x} vs ${v}`).toBeLessThanOrEqual(relErr);
    }
  }
}

const total = (series: MetricsSeries[]): number => series.reduce((n, s) => n + s.samples.reduce((m, x) => m + x.value, 0), 0);

const svc = { key: 'resource.service.name', of: (s: PlainSpan) => s.service };
const COUNT = '{ } | count_over_time()';
const BY_SERVICE = '{ } | count_over_time() by (resource.service.name)';
const MEDIAN = '{ } | quantile_over_time(duration, .5)';
const ROUTE = '{ span.http.route = "/r/1" } | count_over_time() by (resource.service.name)';
const CASES: [string, RefQuery, number][] = [
  [COUNT, { filter: () => true, fn: 'count_over_time' }, 0],
  [BY_SERVICE, { filter: () => true, fn: 'count_over_time', by: [svc] }, 0],
  [MEDIAN, { filter: () => true, fn: 'quantile_over_time', quantile: 0.5 }, 0.01],
  ['{ resource.service.name = "checkout" } | rate()', { filter: (s) => s.service === 'checkout', fn: 'rate' }, 1e-12],
  // Not decidable on columns (a span attribute): the copies are merged as whole traces.
  [ROUTE, { filter: (s) => s.route === '/r/1', fn: 'count_over_time', by: [svc] }, 0],
];

describe('TraceQL metrics over replicated blocks count each span once', () => {
  let rf3: BlockMeta[];
  let single: BlockMeta;
  let asRf1: BlockMeta[];

  beforeAll(async () => {
    dir = makeTempDir('metrics-rf-');
    backend = new LocalBackend(dir);
    rf3 = await Promise.all(COPIES.map((c) => writeCopy(c, 3)));
    single = await writeCopy(SPANS, 1);
    // The same copies claiming factor 1: what counting every copy gives.
    asRf1 = await Promise.all(COPIES.map((c) => writeCopy(c, 1)));
  }, 60_000);

  afterAll(() => removeTempDirs());

  it('the dataset has spans in one, two and three copies, and the metas record the factor', () => {
    const held = new Map<string, number>();
    for (const c of COPIES) for (const s of c) held.set(s.spanId + s.traceId, (held.get(s.spanId + s.traceId) ?? 0) + 1);
    const counts = [...held.values()];
    expect(held.size).toBe(SPANS.length);
    for (const n of [1, 2, 3]) expect(counts.filter((x) => x === n).length).toBeGreaterThan(20);
    expect(rf3.map((m) => m.replicationFactor)).toEqual([3, 3, 3]);
    expect(single.replicationFactor).toBe(1);
    expect(rf3.every((m) => m.totalObjects > 0 && m.totalRecords > 3)).toBe(true);
  });

  it.each(CASES)('%s over three factor-3 copies = the single-copy reference', async (q, ref, relErr) => {
    expectReference(await run(rf3, q), ref, relErr);
  });

  it.each(CASES)('%s over one factor-1 block = the same answer', async (q, ref, relErr) => {
    const one = await run([single], q);
    expectReference(one, ref, relErr);
    // Same spans, same sketches: equal, not merely close.
    expect(await run(rf3, q)).toEqual(one);
  });

  it('copies are deduplicated on columns when the query allows it, as whole traces otherwise', async () => {
    const { frontend } = stack(rf3);
    const cols = await frontend.query(TENANT, request(frontend, COUNT));
    expect(cols.metrics.inspectedTraces).toBe(0);
    expect(Number(cols.metrics.inspectedSpans)).toBe(COPIES.reduce((n, c) => n + c.length, 0));
    const traces = await frontend.query(TENANT, request(frontend, ROUTE));
    expect(traces.metrics.inspectedTraces).toBe(new Set(SPANS.map((s) => s.traceId)).size);
  });

  it('read block by block, the same copies overcount (what factor 1 on replicated blocks would do)', async () => {
    const copies = COPIES.reduce((n, c) => n + c.length, 0);
    expect(total(await run(asRf1, COUNT))).toBe(copies);
    expect(copies).toBeGreaterThan(SPANS.length * 2);
    expect(total(await run(rf3, COUNT))).toBe(SPANS.length);
  });

  it('a mix of factor-1 and factor-3 blocks in one query', async () => {
    // Spans of the first half of the traces only in one factor-1 block, the rest in three copies.
    const traceIds = [...new Set(SPANS.map((s) => s.traceId))].sort();
    const firstHalf = new Set(traceIds.slice(0, traceIds.length / 2));
    const tenant = 'rf-mixed';
    const mixed = [
      await writeCopy(SPANS.filter((s) => firstHalf.has(s.traceId)), 1, tenant),
      ...(await Promise.all(COPIES.map((c) => writeCopy(c.filter((s) => !firstHalf.has(s.traceId)), 3, tenant)))),
    ];
    const { frontend } = stack(mixed);
    for (const [q, ref, relErr] of CASES) expectReference((await frontend.query(tenant, request(frontend, q))).series, ref, relErr);
  });

  it('trace-ID shards add up to the whole: every span of every copy in exactly one shard', async () => {
    const { frontend, querier } = stack(rf3);
    for (const q of [COUNT, BY_SERVICE]) {
      const req = request(frontend, q);
      // A query this small gets one shard; seven here, each over every copy.
      expect(splitReplicatedJobs(req, rf3, 7)).toHaveLength(1);
      const jobs = shardJobs(req, rf3, traceIdShards(7));
      expect(jobs.map((j) => j.shard)).toEqual(traceIdShards(7));
      expect(jobs.every((j) => j.metas.length === 3)).toBe(true);
      const combiner = metricsEngine.combiner(req);
      const blockBytes = rf3.reduce((n, m) => n + m.size, 0);
      for (const j of jobs) {
        const part = await querier.metricsReplicatedBlocks(j.metas, j.req, j.shard);
        // The index keeps a shard to the row groups its trace IDs fall in.
        expect(part.inspectedBytes).toBeLessThan(blockBytes / 2);
        combiner.add(part);
      }
      expect(combiner.series()).toEqual(await run(rf3, q));
    }
  });

  it('a copy deleted since it was listed is left out, the others still answer', async () => {
    const tenant = 'rf-gone';
    const metas = await Promise.all(COPIES.map((c) => writeCopy(c, 3, tenant)));
    const { frontend } = stack(metas);
    await backend.delete([tenant, metas[0]!.blockID], 'data.parquet').catch(() => undefined);
    await backend.delete([tenant, metas[0]!.blockID], 'index').catch(() => undefined);
    const left = new Set([...COPIES[1]!, ...COPIES[2]!].map((s) => s.spanId + s.traceId));
    const series = (await frontend.query(tenant, request(frontend, COUNT))).series;
    expect(total(series)).toBe(left.size);
  });
});
