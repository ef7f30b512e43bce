// TraceQL metrics end to end, in process: a generated dataset (several services, durations and
// error rates that change over time, spans exactly on step boundaries and at the range's edges)
// is ingested over OTLP/HTTP; /api/metrics/query_range must answer what a naive reference computes
// from the plain span objects, over live data, over blocks, and over both; gRPC streaming must
// end with the HTTP answer; tenants never see each other's spans.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { encodeTrace, type Trace } from '@andante/model';
import { encodeQueryInstantRequest, encodeQueryRangeRequest } from '@andante/query-frontend';
import { generateSpans, referenceSeries, refIntervals, spansToTraces, validQueries, type PlainSpan, type RefQuery, type RefRange } from '@andante/traceql/testing';
import { isMetricsQuery, parse, validate } from '@andante/traceql';
import { flush, makeTempDir, postOtlpHttp, readProtoFields, removeTempDirs, startInProcess, stopAllInProcess, type InProcessAndante } from './harness.js';

afterAll(async () => {
  await stopAllInProcess();
  removeTempDirs();
});

const S = 1_000_000_000n;
const STEP = 60n * S;
const NOW = BigInt(Date.now()) * 1_000_000n;
const START = NOW - 50n * 60n * S + 7n * S + 250_000_000n;
const END = NOW - 10n * 60n * S;
const RANGE: RefRange = { startNs: START, endNs: END, stepNs: STEP };
const { first: FIRST, count: COUNT } = refIntervals(RANGE);
const LAST = FIRST + BigInt(COUNT) * STEP;
const EXACT: bigint[] = [START, END, FIRST, FIRST + 1n, LAST, LAST + 1n];
for (let i = 1n; i <= BigInt(COUNT); i += 5n) EXACT.push(FIRST + i * STEP, FIRST + i * STEP + 1n, FIRST + i * STEP - 1n);
const SPANS = generateSpans({ seed: 11, startNs: FIRST - 120n * S, spreadNs: LAST - FIRST + 240n * S, traces: 1500, exactTimesNs: EXACT });
const TRACES = spansToTraces(SPANS);

async function ingest(a: InProcessAndante, traces: readonly Trace[], headers: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < traces.length; i += 300) {
    const res = await postOtlpHttp(a.ports.otlpHttp!, encodeTrace({ resourceSpans: traces.slice(i, i + 300).flatMap((t) => t.resourceSpans) }), { headers });
    expect(res.status).toBe(200);
  }
}

interface SeriesJson {
  labels?: { key: string; value: { stringValue?: string; doubleValue?: number; intValue?: string } }[];
  samples?: { timestampMs: string; value?: number }[];
  exemplars?: { labels: { key: string; value: { stringValue: string } }[]; value?: number; timestampMs: string }[];
}
interface RangeJson {
  series?: SeriesJson[];
  metrics: Record<string, string | number>;
}

async function queryRange(a: InProcessAndante, q: string, params: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<{ status: number; body: RangeJson; text: string }> {
  const url = new URL(`http://127.0.0.1:${a.ports.http}/api/metrics/query_range`);
  url.searchParams.set('q', q);
  url.searchParams.set('start', String(START));
  url.searchParams.set('end', String(END));
  url.searchParams.set('step', '60s');
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, body: res.status === 200 ? (JSON.parse(text) as RangeJson) : { metrics: {} }, text };
}

const labelText = (s: SeriesJson): string =>
  (s.labels ?? [])
    .filter((l) => l.key !== 'p')
    .map((l) => `${l.key}=${l.value.stringValue ?? JSON.stringify(l.value)}`)
    .sort()
    .join(',');

function expectReference(body: RangeJson, ref: RefQuery, relErr: number, spans: readonly PlainSpan[] = SPANS): void {
  const want = referenceSeries(spans, ref, RANGE);
  const got = body.series ?? [];
  expect(got.map(labelText).sort()).toEqual(want.map((w) => w.labels).sort());
  for (const w of want) {
    const g = got.find((s) => labelText(s) === w.labels)!;
    const samples = new Map((g.samples ?? []).map((x) => [BigInt(x.timestampMs), x.value ?? 0]));
    expect([...samples.keys()].sort()).toEqual([...w.samples.keys()].sort());
    for (const [ts, v] of w.samples) {
      const x = samples.get(ts)!;
      if (v === 0) expect(x, `${w.labels} at ${ts}`).toBe(0);
      else expect(Math.abs(x - v) / v, `${w.labels} at ${ts}: ${x} vs ${v}`).toBeLessThanOrEqual(relErr);
    }
  }
}

const svc = { key: 'resource.service.name', of: (s: PlainSpan) => s.service };
const SEED = '{ resource.service.name = "checkout" && name = "db.query" } | quantile_over_time(duration, .95)';

const CASES: [string, RefQuery, number][] = [
  ['{ } | rate() by (resource.service.name)', { filter: () => true, fn: 'rate', by: [svc] }, 1e-12],
  ['{ status = error } | count_over_time() by (resource.service.name)', { filter: (s) => s.status === 2, fn: 'count_over_time', by: [svc] }, 0],
  ['{ resource.service.name = "payments" } | rate()', { filter: (s) => s.service === 'payments', fn: 'rate' }, 1e-12],
  ['{ duration > 50ms } | avg_over_time(duration) by (name)', { filter: (s) => s.durationNs > 50_000_000n, fn: 'avg_over_time', by: [{ key: 'name', of: (s) => s.name }] }, 1e-9],
  ['{ } | max_over_time(duration) by (resource.service.name)', { filter: () => true, fn: 'max_over_time', by: [svc] }, 1e-12],
  ['{ kind = client } | min_over_time(duration)', { filter: (s) => s.kind === 3, fn: 'min_over_time' }, 1e-12],
  ['{ name = "db.query" } | sum_over_time(duration) by (status)', { filter: (s) => s.name === 'db.query', fn: 'sum_over_time', by: [{ key: 'status', of: (s) => ['unset', 'ok', 'error'][s.status]! }] }, 1e-9],
  // Not decidable on columns (a span attribute): read as whole traces, same answers.
  ['{ span.http.route = "/r/1" } | count_over_time() by (resource.service.name)', { filter: (s) => s.route === '/r/1', fn: 'count_over_time', by: [svc] }, 0],
  [SEED, { filter: (s) => s.service === 'checkout' && s.name === 'db.query', fn: 'quantile_over_time', quantile: 0.95 }, 0.01],
];

describe('TraceQL metrics over live data, blocks and both', () => {
  let live: InProcessAndante;
  let blocks: InProcessAndante;
  let both: InProcessAndante;

  beforeAll(async () => {
    [live, blocks, both] = await Promise.all(['live', 'blocks', 'both'].map((n) => startInProcess(makeTempDir(`metrics-${n}-`))));
    await ingest(live, TRACES);
    await ingest(blocks, TRACES);
    await flush(blocks.ports.http);
    await ingest(both, TRACES.slice(0, 700));
    await flush(both.ports.http);
    await ingest(both, TRACES.slice(700));
  }, 120_000);

  it.each(CASES)('%s', async (q, ref, relErr) => {
    for (const a of [live, blocks, both]) {
      const r = await queryRange(a, q);
      expect(r.status, r.text).toBe(200);
      expectReference(r.body, ref, relErr);
    }
  });

  it('reads blocks from columns when the query allows it (no trace assembled) and from traces otherwise', async () => {
    const cols = await queryRange(blocks, '{ } | rate() by (resource.service.name)');
    expect(Number(cols.body.metrics['inspectedSpans'])).toBeGreaterThanOrEqual(SPANS.length);
    expect(cols.body.metrics['inspectedTraces']).toBeUndefined();
    const traces = await queryRange(blocks, '{ span.http.route = "/r/1" } | rate()');
    expect(Number(traces.body.metrics['inspectedTraces'])).toBeGreaterThan(0);
    expect(Number(cols.body.metrics['totalBlocks'])).toBeGreaterThan(0);
  });

  it('exemplars carry real trace and span IDs of matching spans, servable by ID', async () => {
    const r = await queryRange(both, '{ resource.service.name = "payments" } | rate() by (name)', { exemplars: '6' });
    const ids = new Set(SPANS.filter((s) => s.service === 'payments').map((s) => `${s.traceId}/${s.spanId}`));
    const all = (r.body.series ?? []).flatMap((s) => s.exemplars ?? []);
    expect(all.length).toBeGreaterThan(0);
    for (const s of r.body.series ?? []) expect((s.exemplars ?? []).length).toBeLessThanOrEqual(6);
    for (const e of all) {
      const id = (k: string) => e.labels.find((l) => l.key === k)!.value.stringValue;
      expect(ids.has(`${id('trace:id')}/${id('span:id')}`)).toBe(true);
    }
    const traceId = all[0]!.labels.find((l) => l.key === 'trace:id')!.value.stringValue;
    expect((await fetch(`http://127.0.0.1:${both.ports.http}/api/v2/traces/${traceId}`)).status).toBe(200);
  });

  it('instant query: one value per series over [start, end]', async () => {
    const url = new URL(`http://127.0.0.1:${both.ports.http}/api/metrics/query`);
    url.searchParams.set('q', '{ } | count_over_time() by (resource.service.name)');
    url.searchParams.set('start', String(START));
    url.searchParams.set('end', String(END));
    const body = (await (await fetch(url)).json()) as { series: { labels: { value: { stringValue: string } }[]; value: number }[] };
    expect(body.series).toHaveLength(4);
    for (const s of body.series) {
      const service = s.labels[0]!.value.stringValue;
      expect(s.value).toBe(SPANS.filter((x) => x.service === service && x.startNs >= START && x.startNs <= END).length);
    }
  });

  it('runs every metrics query of the conformance table (no 5xx)', async () => {
    const queries = validQueries.filter((q) => {
      try {
        const root = parse(q);
        validate(root);
        return isMetricsQuery(root);
      } catch {
        return false;
      }
    });
    expect(queries.length).toBeGreaterThan(50);
    for (const q of queries) {
      const r = await queryRange(both, q);
      expect(r.status, `${q}: ${r.text}`).toBe(200);
    }
  });

  it('answers 400 for a bad query, a search, and beyond the limits, naming them', async () => {
    expect((await queryRange(both, '{ } | rate(')).status).toBe(400);
    const search = await queryRange(both, '{ }');
    expect(search.status).toBe(400);
    expect(search.text).toContain('not a metrics query');
    const wide = await queryRange(both, '{ } | rate()', { start: String(END - 48n * 3600n * S), end: String(END) });
    expect(wide.status).toBe(400);
    expect(wide.text).toContain('query_frontend.metrics.max_duration');
    const fine = await queryRange(both, '{ } | rate()', { step: '0.1' });
    expect(fine.status).toBe(400);
    expect(fine.text).toContain('max_intervals');
    expect((await queryRange(both, '{ } | rate()', { start: 'yesterday' })).status).toBe(400);
  });

  it('streams MetricsQueryRange over gRPC on the HTTP port, ending with the HTTP answer', async () => {
    for (const q of [SEED, '{ } | rate() by (resource.service.name)']) {
      const http = await queryRange(both, q, { exemplars: '0' });
      const answer = await callStream(both.ports.http, 'MetricsQueryRange', encodeQueryRangeRequest({ query: q, start: START, end: END, step: STEP, exemplars: 0 }));
      expect(answer.code, answer.details).toBe(grpc.status.OK);
      expect(answer.messages.length).toBeGreaterThan(1); // after the ingesters, after each block, final
      const final = decodeRangeResponse(answer.messages[answer.messages.length - 1]!);
      const want = (http.body.series ?? []).map((s) => ({ labels: labelText(s), samples: (s.samples ?? []).map((x) => [x.timestampMs, x.value ?? 0]) }));
      expect(final).toEqual(want);
    }
    const instant = await callStream(both.ports.http, 'MetricsQueryInstant', encodeQueryInstantRequest({ query: '{ } | count_over_time()', start: START, end: END }));
    expect(instant.code, instant.details).toBe(grpc.status.OK);
    const bad = await callStream(both.ports.http, 'MetricsQueryRange', encodeQueryRangeRequest({ query: '{ } | rate(', start: START, end: END, step: STEP, exemplars: 0 }));
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe('local-blocks', () => {
  it('answers the same whether or not the local-blocks processor is listed (Andante does not need it)', async () => {
    const a = await startInProcess(makeTempDir('metrics-local-blocks-'), {
      overrides: { defaults: { metrics_generator: { processors: ['local-blocks'] } } },
      metrics_generator: { processor: { local_blocks: { flush_check_period: '10s', max_live_traces: 100 } } },
    });
    const some = TRACES.slice(0, 300);
    await ingest(a, some);
    const spans = new Set(some.flatMap((t) => t.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((x) => Buffer.from(x.spanId).toString('hex'))))));
    const r = await queryRange(a, '{ } | count_over_time() by (resource.service.name)');
    expect(r.status, r.text).toBe(200);
    expectReference(r.body, { filter: () => true, fn: 'count_over_time', by: [svc] }, 0, SPANS.filter((s) => spans.has(s.spanId)));
  });
});

describe('query_frontend.metrics.max_response_series', () => {
  it('answers the first series by labels with status PARTIAL naming the limit', async () => {
    const a = await startInProcess(makeTempDir('metrics-max-series-'), { query_frontend: { metrics: { max_response_series: 2 } } });
    await ingest(a, TRACES.slice(0, 200));
    const r = await queryRange(a, '{ } | count_over_time() by (resource.service.name)');
    expect(r.status, r.text).toBe(200);
    expect(r.body.series).toHaveLength(2);
    const body = JSON.parse(r.text) as { status?: string; message?: string };
    expect(body.status).toBe('PARTIAL');
    expect(body.message).toContain('query_frontend.metrics.max_response_series');
  });
});

describe('tenant isolation', () => {
  it('never counts another tenant\'s spans', async () => {
    const a = await startInProcess(makeTempDir('metrics-tenants-'), { multitenancy_enabled: true });
    const mine = SPANS.filter((s) => s.service !== 'cart');
    const theirs = SPANS.filter((s) => s.service === 'cart');
    await ingest(a, spansToTraces(mine), { 'X-Scope-OrgID': 'team-a' });
    await ingest(a, spansToTraces(theirs), { 'X-Scope-OrgID': 'team-b' });
    await flush(a.ports.http);
    await ingest(a, spansToTraces(theirs.slice(0, 50)), { 'X-Scope-OrgID': 'team-a' });
    const q = '{ } | count_over_time() by (resource.service.name)';
    const ra = await queryRange(a, q, {}, { 'X-Scope-OrgID': 'team-a' });
    expectReference(ra.body, { filter: () => true, fn: 'count_over_time', by: [svc] }, 0, [...mine, ...theirs.slice(0, 50)]);
    const rb = await queryRange(a, q, {}, { 'X-Scope-OrgID': 'team-b' });
    expectReference(rb.body, { filter: () => true, fn: 'count_over_time', by: [svc] }, 0, theirs);
    expect((await queryRange(a, q)).status).toBe(401);
  });
});

// ------------------------------------------------------------------------------------------------

interface StreamAnswer {
  messages: Buffer[];
  code: number;
  details: string;
}

function callStream(port: number, method: string, request: Uint8Array): Promise<StreamAnswer> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const identity = (b: Buffer): Buffer => b;
  const call = client.makeServerStreamRequest(`/tempopb.StreamingQuerier/${method}`, identity, identity, Buffer.from(request), new grpc.Metadata(), { deadline: Date.now() + 60_000 });
  const messages: Buffer[] = [];
  return new Promise((resolveAnswer) => {
    call.on('data', (m: Buffer) => messages.push(m));
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => {
      client.close();
      resolveAnswer({ messages, code: s.code, details: s.details });
    });
  });
}

const double = (bits: bigint): number => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(bits);
  return b.readDoubleLE();
};

/** QueryRangeResponse.series as label text and [timestampMs, value] pairs. */
function decodeRangeResponse(buf: Uint8Array): { labels: string; samples: [string, number][] }[] {
  return readProtoFields(buf)
    .filter((f) => f.field === 1)
    .map((ts) => {
      const fields = readProtoFields(ts.bytes!);
      const labels = fields
        .filter((f) => f.field === 1)
        .map((kv) => {
          const parts = readProtoFields(kv.bytes!);
          const key = Buffer.from(parts.find((p) => p.field === 1)!.bytes!).toString();
          const value = readProtoFields(parts.find((p) => p.field === 2)!.bytes!)[0]!;
          return { key, text: value.field === 1 ? Buffer.from(value.bytes!).toString() : '' };
        })
        .filter((l) => l.key !== 'p')
        .map((l) => `${l.key}=${l.text}`)
        .sort()
        .join(',');
      const samples = fields
        .filter((f) => f.field === 2)
        .map((s): [string, number] => {
          const p = readProtoFields(s.bytes!);
          return [String(p.find((x) => x.field === 2)?.int ?? 0n), double(p.find((x) => x.field === 1)?.int ?? 0n)];
        });
      return { labels, samples };
    });
}
