// /api/search and the tag APIs end to end, in process: a dataset with answers known by
// construction is ingested over OTLP/HTTP; the same queries must give the same answers over live
// data, over blocks, and over both, most recent first and identical from run to run.

import { afterAll, describe, expect, it } from 'vitest';
import { bytesToHex, encodeTrace, type KeyValue, type Span, type Trace } from '@andante/model';
import { flush, makeTempDir, postOtlpHttp, removeTempDirs, startInProcess, stopAllInProcess, type InProcessAndante } from './harness.js';

afterAll(async () => {
  await stopAllInProcess();
  removeTempDirs();
});

const NOW_NS = BigInt(Date.now()) * 1_000_000n;
const str = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });

interface Planned {
  id: Uint8Array;
  start: bigint;
  checkoutSlowError: boolean; // root checkout span > 2s with status error
  dbUnderCheckout: boolean; // checkout >> db span
}

function spanOf(traceId: Uint8Array, n: number, parent: Uint8Array, start: bigint, durNs: bigint, name: string, status: number, attrs: KeyValue[]): Span {
  const spanId = new Uint8Array(8);
  spanId[0] = 0x5a;
  spanId.set(traceId.subarray(12, 16), 2);
  spanId[7] = n;
  return {
    traceId, spanId, traceState: '', parentSpanId: parent, flags: 0, name, kind: n === 0 ? 2 : 3,
    startTimeUnixNano: start, endTimeUnixNano: start + durNs, attributes: attrs, droppedAttributesCount: 0,
    events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: status, message: status === 2 ? 'boom' : '' },
  };
}

/** Trace i: checkout root (slow+error when i % 5 == 0), a payments child, and a db grandchild when i % 3 == 0. */
function makeTrace(i: number): { trace: Trace; plan: Planned } {
  const id = new Uint8Array(16);
  id[0] = 0xc0;
  id[14] = i >> 8;
  id[15] = i & 0xff;
  const start = NOW_NS - BigInt(600 - i) * 1_000_000_000n; // one trace per second, i ascending = newer
  const slowError = i % 5 === 0;
  const root = spanOf(id, 0, new Uint8Array(0), start, slowError ? 2_500_000_000n : 300_000_000n, 'POST /checkout', slowError ? 2 : 1, [str('http.method', 'POST')]);
  const pay = spanOf(id, 1, root.spanId, start + 1_000n, 100_000_000n, 'charge', 0, [str('http.method', 'GET')]);
  const db = i % 3 === 0 ? [spanOf(id, 2, pay.spanId, start + 2_000n, 10_000_000n, 'SELECT', 0, [str('db.system', 'postgresql')])] : [];
  const rs = (service: string, spans: Span[]) => ({
    resource: { attributes: [str('service.name', service), str('k8s.label.app/kubernetes/io/name', `${service}-app`)], droppedAttributesCount: 0 },
    scopeSpans: [{ scope: { name: 'test', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
    schemaUrl: '',
  });
  return {
    trace: { resourceSpans: [rs('checkout', [root]), rs('payments', [pay, ...db])] },
    plan: { id, start, checkoutSlowError: slowError, dbUnderCheckout: db.length > 0 },
  };
}

const DATA = Array.from({ length: 60 }, (_, i) => makeTrace(i));

async function ingest(a: InProcessAndante, from: number, to: number): Promise<void> {
  const res = await postOtlpHttp(a.ports.otlpHttp!, encodeTrace({ resourceSpans: DATA.slice(from, to).flatMap((d) => d.trace.resourceSpans) }));
  expect(res.status).toBe(200);
}

interface SearchJson {
  traces?: { traceID: string; rootServiceName?: string; startTimeUnixNano: string; spanSets?: { matched?: number }[] }[];
  metrics: Record<string, unknown>;
}

async function search(a: InProcessAndante, q: string, params: Record<string, string | number> = {}): Promise<{ status: number; body: SearchJson; text: string }> {
  const url = new URL(`http://127.0.0.1:${a.ports.http}/api/search`);
  url.searchParams.set('q', q);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v));
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: res.status === 200 ? (JSON.parse(text) as SearchJson) : { metrics: {} }, text };
}

const window = () => ({ start: Math.floor(Number(NOW_NS / 1_000_000_000n)) - 3600, end: Math.floor(Number(NOW_NS / 1_000_000_000n)) + 60 });

/** The expected IDs: matching plans, most recent first. */
const expected = (pred: (p: Planned) => boolean, limit: number): string[] =>
  DATA.map((d) => d.plan)
    .filter(pred)
    .sort((x, y) => (x.start > y.start ? -1 : 1))
    .slice(0, limit)
    .map((p) => bytesToHex(p.id));

const CHECKOUT = '{ resource.service.name = "checkout" && duration > 2s && status = error }';
const STRUCTURAL = '{ resource.service.name = "checkout" } >> { span.db.system = "postgresql" }';

describe('/api/search', () => {
  it('answers the same over live data, over blocks and over both, most recent first, every time', async () => {
    const dirs = ['live', 'blocks', 'both'].map((n) => makeTempDir(`search-${n}-`));
    const [live, blocks, both] = await Promise.all(dirs.map((d) => startInProcess(d)));
    await ingest(live!, 0, 60);
    await ingest(blocks!, 0, 60);
    await flush(blocks!.ports.http);
    await ingest(both!, 0, 30);
    await flush(both!.ports.http);
    await ingest(both!, 30, 60);

    for (const [q, pred] of [
      [CHECKOUT, (p: Planned) => p.checkoutSlowError],
      [STRUCTURAL, (p: Planned) => p.dbUnderCheckout],
      ['{ }', () => true],
    ] as const) {
      for (const limit of [5, 100]) {
        const want = expected(pred, limit);
        for (const a of [live!, blocks!, both!]) {
          const r = await search(a, q, { limit, ...window() });
          expect(r.status, r.text).toBe(200);
          expect((r.body.traces ?? []).map((t) => t.traceID), `${q} limit ${limit}`).toEqual(want);
          const again = await search(a, q, { limit, ...window() });
          expect(again.body.traces?.map((t) => t.traceID)).toEqual(want);
        }
      }
    }
    const r = await search(both!, CHECKOUT, { limit: 3, ...window() });
    expect(r.body.traces![0]!.rootServiceName).toBe('checkout');
    expect(r.body.traces![0]!.spanSets![0]!.matched).toBe(1);
    expect(Number(r.body.metrics['inspectedTraces'])).toBeGreaterThan(0);
    // Without start/end recent data is searched, as in Tempo: what the ingesters hold and the blocks
    // they flushed within complete_block_timeout (so a search right after a flush finds the same).
    expect(((await search(blocks!, '{ }', { limit: 100 })).body.traces ?? []).map((t) => t.traceID)).toEqual(expected(() => true, 100));
  });

  it('describes a trace split over two blocks from both: the root is in the other block', async () => {
    const a = await startInProcess(makeTempDir('search-split-'));
    const { trace, plan } = DATA[20]!;
    // The checkout root span in one block, the payments spans in the next.
    const [checkout, payments] = trace.resourceSpans;
    expect((await postOtlpHttp(a.ports.otlpHttp!, encodeTrace({ resourceSpans: [checkout!] }))).status).toBe(200);
    await flush(a.ports.http);
    expect((await postOtlpHttp(a.ports.otlpHttp!, encodeTrace({ resourceSpans: [payments!] }))).status).toBe(200);
    await flush(a.ports.http);
    const r = await search(a, '{ name = "charge" }', { limit: 5, ...window() });
    expect(r.body.traces?.map((t) => t.traceID)).toEqual([bytesToHex(plan.id)]);
    // Found in the payments block alone, but described whole: the root (and its service) live in the other.
    expect(r.body.traces![0]!.rootServiceName).toBe('checkout');
    expect(Number(r.body.metrics['totalBlocks'])).toBe(2);
  });

  it('finds a trace the moment its export is acknowledged', async () => {
    const a = await startInProcess(makeTempDir('search-ryw-'));
    await ingest(a, 10, 11);
    const r = await search(a, '{ name = "POST /checkout" }');
    expect(r.body.traces?.map((t) => t.traceID)).toEqual([bytesToHex(DATA[10]!.plan.id)]);
  });

  it('answers 400 with the parser position for a bad query, and names the limits it refuses', async () => {
    const a = await startInProcess(makeTempDir('search-bad-'), { query_frontend: { search: { max_duration: '1h' } } });
    const bad = await search(a, '{ duration > }');
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/^parse error at line 1, col \d+/);
    const wide = await search(a, '{ }', { start: 1_000, end: 1_000 + 7200 });
    expect(wide.status).toBe(400);
    expect(wide.text).toContain('max_duration');
    expect((await search(a, '{ }', { limit: 300_000 })).text).toContain('max_result_limit');
    expect((await search(a, '{ status > ok }')).status).toBe(400);
    expect((await search(a, '{ } | rate()')).status).toBe(400);
  });

  it('supports the legacy tag search', async () => {
    const a = await startInProcess(makeTempDir('search-legacy-'));
    await ingest(a, 0, 10);
    const url = new URL(`http://127.0.0.1:${a.ports.http}/api/search`);
    url.searchParams.set('tags', 'service.name=payments db.system=postgresql');
    url.searchParams.set('minDuration', '2s');
    const body = (await (await fetch(url)).json()) as SearchJson;
    const ingested = new Set(DATA.slice(0, 10).map((d) => d.plan));
    const want = expected((p) => ingested.has(p) && p.dbUnderCheckout && p.checkoutSlowError, 100);
    expect(want).toEqual([bytesToHex(DATA[0]!.plan.id)]);
    expect(body.traces?.map((t) => t.traceID)).toEqual(want);
  });
});

describe('tag APIs', () => {
  it('lists names by scope and typed values, also for %-encoded names with slashes', async () => {
    const a = await startInProcess(makeTempDir('tags-'));
    await ingest(a, 0, 9);
    const base = `http://127.0.0.1:${a.ports.http}`;
    const v2 = (await (await fetch(`${base}/api/v2/search/tags`)).json()) as { scopes: { name: string; tags: string[] }[] };
    const scope = (n: string) => v2.scopes.find((s) => s.name === n)?.tags ?? [];
    expect(scope('resource')).toEqual(['k8s.label.app/kubernetes/io/name', 'service.name']);
    expect(scope('span')).toEqual(['db.system', 'http.method']);
    expect(scope('intrinsic')).toContain('rootServiceName');
    const v1 = (await (await fetch(`${base}/api/search/tags`)).json()) as { tagNames: string[] };
    expect(v1.tagNames).toEqual(['db.system', 'http.method', 'k8s.label.app/kubernetes/io/name', 'service.name']);

    const values = async (path: string) => (await (await fetch(`${base}${path}`)).json()) as { tagValues: unknown[] };
    expect((await values('/api/v2/search/tag/resource.service.name/values')).tagValues).toEqual([
      { type: 'string', value: 'checkout' },
      { type: 'string', value: 'payments' },
    ]);
    expect((await values('/api/v2/search/tag/status/values')).tagValues).toEqual([
      { type: 'keyword', value: 'error' },
      { type: 'keyword', value: 'ok' },
      { type: 'keyword', value: 'unset' },
    ]);
    expect((await values(`/api/search/tag/${encodeURIComponent('k8s.label.app/kubernetes/io/name')}/values`)).tagValues).toEqual(['checkout-app', 'payments-app']);
    // q narrows to matching traces; a half-typed q narrows nothing instead of failing.
    const narrowed = await values(`/api/v2/search/tag/span.db.system/values?q=${encodeURIComponent('{ span.db.system = "postgresql" }')}`);
    expect(narrowed.tagValues).toEqual([{ type: 'string', value: 'postgresql' }]);
    const lenient = await fetch(`${base}/api/v2/search/tag/span.http.method/values?q=${encodeURIComponent('{ resource.service.name = ')}`);
    expect(lenient.status).toBe(200);
    expect(((await lenient.json()) as { tagValues: unknown[] }).tagValues).toHaveLength(2);
    // As Tempo, q narrows by span: every trace has POST (checkout) and GET (payments) spans, but
    // only the payments spans match.
    const q = encodeURIComponent('{ resource.service.name = "payments" }');
    expect((await values(`/api/v2/search/tag/span.http.method/values?q=${q}`)).tagValues).toEqual([{ type: 'string', value: 'GET' }]);
    const names = (await (await fetch(`${base}/api/v2/search/tags?scope=span&q=${encodeURIComponent('{ name = "POST /checkout" }')}`)).json()) as { scopes: { tags: string[] }[] };
    expect(names.scopes[0]!.tags).toEqual(['http.method']);
    // An answer over read.max_bytes_per_tag_values_query is refused naming the limit, not emptied.
    const small = await startInProcess(makeTempDir('tags-limit-'), { overrides: { defaults: { read: { max_bytes_per_tag_values_query: 12 } } } });
    await ingest(small, 0, 9);
    const refused = await fetch(`http://127.0.0.1:${small.ports.http}/api/v2/search/tag/resource.service.name/values`);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('max_bytes_per_tag_values_query (12)');
    expect((await fetch(`http://127.0.0.1:${small.ports.http}/api/v2/search/tag/status/values`)).status).toBe(200);
    // The same over blocks (trace by trace, since q narrows).
    await flush(a.ports.http);
    const w = window();
    expect((await values(`/api/v2/search/tag/span.http.method/values?q=${q}&start=${w.start}&end=${w.end}`)).tagValues).toEqual([{ type: 'string', value: 'GET' }]);
  });
});
