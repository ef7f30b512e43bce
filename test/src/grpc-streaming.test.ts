// Tempo's StreamingQuerier gRPC service on the HTTP port (stream_over_http_enabled), end to end
// and in process: a real grpc-js client dials the same port that answers HTTP/1.1, as Grafana's
// Tempo data source does with search streaming on.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { bytesToHex, encodeTrace, decodeSearchResponse } from '@andante/model';
import {
  decodeSearchTagValuesResponse,
  decodeSearchTagValuesV2Response,
  decodeSearchTagsResponse,
  decodeSearchTagsV2Response,
  encodeSearchRequest,
  encodeSearchTagValuesRequest,
  encodeSearchTagsRequest,
  type TempoSearchRequest,
} from '@andante/query-frontend';
import { flush, makeTempDir, postOtlpHttp, removeTempDirs, startInProcess, stopAllInProcess, sumMetric, type InProcessAndante } from './harness.js';
import { makeSpan, makeTrace, randomTraceId, str } from './otlp.js';

afterAll(async () => {
  await stopAllInProcess();
  removeTempDirs();
});

const SERVICE = '/tempopb.StreamingQuerier';
const identity = (b: Buffer): Buffer => b;

interface StreamAnswer {
  messages: Buffer[];
  code: number;
  details: string;
}

/** One server-streaming call with raw bytes in and out; resolves with every message and the final status. */
function callStream(port: number, method: string, request: Uint8Array, metadata: Record<string, string> = {}, options: grpc.ChannelOptions = {}): Promise<StreamAnswer> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  const call = client.makeServerStreamRequest(`${SERVICE}/${method}`, identity, identity, Buffer.from(request), md, { deadline: Date.now() + 20_000 });
  const messages: Buffer[] = [];
  return new Promise((resolveAnswer) => {
    call.on('data', (m: Buffer) => messages.push(m));
    call.on('error', () => undefined); // the status below carries the code
    call.on('status', (s: grpc.StatusObject) => {
      client.close();
      resolveAnswer({ messages, code: s.code, details: s.details });
    });
  });
}

const searchRequest = (over: Partial<TempoSearchRequest>): Uint8Array =>
  encodeSearchRequest({ tags: {}, minDurationMs: 0, maxDurationMs: 0, limit: 0, start: 0, end: 0, query: '', spansPerSpanSet: 0, ...over });

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const wholeHour = () => ({ start: nowSeconds() - 3600, end: nowSeconds() + 60 });

/** `n` traces of service `service`, each a root span named `op-<i>` with a child. */
function makeBatch(n: number, service: string): { ids: string[]; body: Uint8Array; rootSpanIds: Map<string, string> } {
  const ids: string[] = [];
  const rootSpanIds = new Map<string, string>();
  const resourceSpans = [];
  for (let i = 0; i < n; i++) {
    const traceId = randomTraceId();
    const root = makeSpan(traceId, undefined, { name: `op-${i}`, kind: 2, attributes: [str('http.method', 'GET')] });
    const child = makeSpan(traceId, undefined, { name: 'child', parentSpanId: root.spanId });
    ids.push(bytesToHex(traceId));
    rootSpanIds.set(bytesToHex(traceId), bytesToHex(root.spanId));
    resourceSpans.push(...makeTrace([root, child], service).resourceSpans);
  }
  return { ids, body: encodeTrace({ resourceSpans }), rootSpanIds };
}

async function ingest(a: InProcessAndante, body: Uint8Array, headers: Record<string, string> = {}): Promise<void> {
  const res = await postOtlpHttp(a.ports.otlpHttp!, body, { headers });
  expect(res.status, res.text()).toBe(200);
}

describe('StreamingQuerier on the HTTP port', () => {
  let app: InProcessAndante;
  const batches = [makeBatch(4, 'grpc-shop'), makeBatch(4, 'grpc-shop'), makeBatch(4, 'grpc-shop')];
  const allIds = batches.flatMap((b) => b.ids);

  beforeAll(async () => {
    app = await startInProcess(makeTempDir('grpc-stream'));
    // Two flushed blocks and live data: a search over the window has an ingester job and two block jobs.
    await ingest(app, batches[0]!.body);
    await flush(app.ports.http);
    await ingest(app, batches[1]!.body);
    await flush(app.ports.http);
    await ingest(app, batches[2]!.body);
  });

  it('streams Search results over h2c on the port that still answers HTTP/1.1', async () => {
    const echo = await fetch(`http://127.0.0.1:${app.ports.http}/api/echo`);
    expect(echo.status).toBe(200);

    const answer = await callStream(app.ports.http, 'Search', searchRequest({ query: '{ resource.service.name = "grpc-shop" && span.http.method = "GET" }', limit: 100, ...wholeHour() }));
    expect(answer.code, answer.details).toBe(grpc.status.OK);
    const messages = answer.messages.map((m) => decodeSearchResponse(m));

    // One message per finished job (the ingester, each block) and the final answer.
    const last = messages[messages.length - 1]!.metrics;
    expect(last.totalBlocks).toBe(2);
    expect(last.totalJobs).toBe(3);
    expect(last.completedJobs).toBe(3);
    expect(messages.length).toBeGreaterThanOrEqual(4);
    expect(messages.slice(0, 3).map((m) => m.metrics.completedJobs)).toEqual([1, 2, 3]);
    // Results arrive before the end: the first job's message already carries traces.
    expect(messages[0]!.traces.length).toBeGreaterThan(0);

    // Diffs: each trace once over the whole stream, and together every matching trace.
    const streamed = messages.flatMap((m) => m.traces);
    const streamedIds = streamed.map((t) => t.traceID);
    expect(new Set(streamedIds).size).toBe(streamedIds.length);
    expect([...streamedIds].sort()).toEqual([...allIds].sort());

    // The spanset holds the root span the query matched (http.method = GET), with its attribute.
    for (const t of streamed) {
      expect(t.rootServiceName).toBe('grpc-shop');
      const span = t.spanSets[0]!.spans[0]!;
      const rootSpanId = batches.map((b) => b.rootSpanIds.get(t.traceID)).find((x) => x !== undefined);
      expect(span.spanID).toBe(rootSpanId);
      expect(span.name).toMatch(/^op-\d$/);
      expect(span.attributes).toContainEqual({ key: 'http.method', value: { stringValue: 'GET' } });
      expect(t.spanSets[0]!.matched).toBe(1);
    }

    // The same answer as the JSON API on HTTP/1.1 (same port, same request).
    const url = new URL(`http://127.0.0.1:${app.ports.http}/api/search`);
    url.searchParams.set('q', '{ resource.service.name = "grpc-shop" && span.http.method = "GET" }');
    for (const [k, v] of Object.entries({ limit: 100, ...wholeHour() })) url.searchParams.set(k, String(v));
    const json = (await (await fetch(url)).json()) as { traces: { traceID: string }[] };
    expect(json.traces.map((t) => t.traceID).sort()).toEqual([...streamedIds].sort());
  });

  it('answers Grafana’s health check (query {}, limit 1): one message, OK', async () => {
    const answer = await callStream(app.ports.http, 'Search', searchRequest({ query: '{}', limit: 1, start: nowSeconds() - 900, end: nowSeconds() + 1 }));
    expect(answer.code, answer.details).toBe(grpc.status.OK);
    expect(answer.messages.length).toBeGreaterThanOrEqual(1);
    const total = answer.messages.map((m) => decodeSearchResponse(m)).flatMap((m) => m.traces);
    expect(total.length).toBeGreaterThanOrEqual(1);
  });

  it('turns the legacy Tags map into a search, and reads gzip-compressed requests', async () => {
    const one = batches[2]!;
    const answer = await callStream(
      app.ports.http,
      'Search',
      searchRequest({ tags: { name: 'op-3', 'service.name': 'grpc-shop' }, limit: 50 }),
      {},
      { 'grpc.default_compression_algorithm': 2 }, // gzip
    );
    expect(answer.code, answer.details).toBe(grpc.status.OK);
    const ids = answer.messages.flatMap((m) => decodeSearchResponse(m).traces.map((t) => t.traceID));
    // op-3 is the fourth root of every batch; live data only (no window): recent traces.
    expect(ids).toContain(one.ids[3]);
    expect(ids.every((id) => batches.some((b) => b.ids[3] === id))).toBe(true);
  });

  it('refuses a bad query with INVALID_ARGUMENT and the parser’s message, as the HTTP API does', async () => {
    const bad = '{ .a = }';
    const answer = await callStream(app.ports.http, 'Search', searchRequest({ query: bad }));
    expect(answer.code).toBe(grpc.status.INVALID_ARGUMENT);
    const http = await fetch(`http://127.0.0.1:${app.ports.http}/api/search?q=${encodeURIComponent(bad)}`);
    expect(http.status).toBe(400);
    expect(answer.details).toBe(await http.text());
    expect(answer.details.length).toBeGreaterThan(0);
  });

  it('answers an unknown method with UNIMPLEMENTED', async () => {
    const answer = await callStream(app.ports.http, 'NoSuchMethod', new Uint8Array(0));
    expect(answer.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(answer.details).toContain('/tempopb.StreamingQuerier/NoSuchMethod');
  });

  it('answers the tag methods in one message each (v1 and v2)', async () => {
    const names = await callStream(app.ports.http, 'SearchTagsV2', encodeSearchTagsRequest({ scope: '', query: '', start: 0, end: 0, maxTagsPerScope: 0, staleValuesThreshold: 0 }));
    expect(names.code, names.details).toBe(grpc.status.OK);
    expect(names.messages).toHaveLength(1);
    const scopes = new Map(decodeSearchTagsV2Response(names.messages[0]!).scopes.map((s) => [s.name, s.tags]));
    expect(scopes.get('resource')).toContain('service.name');
    expect(scopes.get('span')).toEqual(expect.arrayContaining(['http.method', 'test.attr']));
    expect(scopes.get('intrinsic')).toContain('duration');

    const v1 = await callStream(app.ports.http, 'SearchTags', encodeSearchTagsRequest({ scope: '', query: '', start: 0, end: 0, maxTagsPerScope: 0, staleValuesThreshold: 0 }));
    expect(decodeSearchTagsResponse(v1.messages[0]!).tagNames).toEqual(expect.arrayContaining(['service.name', 'http.method']));

    const valuesRequest = (tagName: string) => encodeSearchTagValuesRequest({ tagName, query: '', start: 0, end: 0, maxTagValues: 0, staleValueThreshold: 0 });
    const values = await callStream(app.ports.http, 'SearchTagValuesV2', valuesRequest('resource.service.name'));
    expect(values.code, values.details).toBe(grpc.status.OK);
    expect(decodeSearchTagValuesV2Response(values.messages[0]!).tagValues).toEqual([{ type: 'string', value: 'grpc-shop' }]);
    const names2 = await callStream(app.ports.http, 'SearchTagValuesV2', valuesRequest('name'));
    expect(decodeSearchTagValuesV2Response(names2.messages[0]!).tagValues.map((v) => v.value)).toEqual(['child', 'op-0', 'op-1', 'op-2', 'op-3']);

    const plain = await callStream(app.ports.http, 'SearchTagValues', valuesRequest('http.method'));
    expect(decodeSearchTagValuesResponse(plain.messages[0]!).tagValues).toEqual(['GET']);

    const missing = await callStream(app.ports.http, 'SearchTagValuesV2', valuesRequest(''));
    expect(missing.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('counts each call in tempo_request_duration_seconds (route = the gRPC method) and tempo_query_frontend_queries_total', async () => {
    const text = await (await fetch(`http://127.0.0.1:${app.ports.http}/metrics`)).text();
    // Earlier tests made successful Search calls, a refused one and an unknown method.
    expect(sumMetric(text, 'tempo_request_duration_seconds_count', { method: 'gRPC', route: '/tempopb.StreamingQuerier/Search', status_code: 'success', ws: 'false' })).toBeGreaterThanOrEqual(3);
    expect(sumMetric(text, 'tempo_request_duration_seconds_count', { method: 'gRPC', route: '/tempopb.StreamingQuerier/Search', status_code: 'error' })).toBeGreaterThanOrEqual(1);
    expect(sumMetric(text, 'tempo_request_duration_seconds_count', { method: 'gRPC', route: '/tempopb.StreamingQuerier/NoSuchMethod', status_code: 'error' })).toBe(1);
    expect(sumMetric(text, 'tempo_query_frontend_queries_total', { tenant: 'single-tenant', op: 'search', status: '200' })).toBeGreaterThanOrEqual(3);
    expect(sumMetric(text, 'tempo_query_frontend_queries_total', { tenant: 'single-tenant', op: 'search', status: '400' })).toBeGreaterThanOrEqual(2); // gRPC and HTTP
    expect(sumMetric(text, 'tempo_query_frontend_queries_total', { tenant: 'single-tenant', op: 'metadata', status: '200' })).toBeGreaterThanOrEqual(5);
  });
});

describe('StreamingQuerier with multitenancy', () => {
  it('reads the tenant from x-scope-orgid metadata and keeps tenants apart', async () => {
    const app = await startInProcess(makeTempDir('grpc-tenants'), { multitenancy_enabled: true });
    const batch = makeBatch(3, 'tenant-a-shop');
    await ingest(app, batch.body, { 'X-Scope-OrgID': 'tenant-a' });
    const request = searchRequest({ query: '{ }', limit: 20 });
    const idsOf = (a: StreamAnswer): string[] => a.messages.flatMap((m) => decodeSearchResponse(m).traces.map((t) => t.traceID));

    const own = await callStream(app.ports.http, 'Search', request, { 'x-scope-orgid': 'tenant-a' });
    expect(own.code, own.details).toBe(grpc.status.OK);
    expect(idsOf(own).sort()).toEqual([...batch.ids].sort());

    const other = await callStream(app.ports.http, 'Search', request, { 'x-scope-orgid': 'tenant-b' });
    expect(other.code, other.details).toBe(grpc.status.OK);
    expect(idsOf(other)).toEqual([]);

    const none = await callStream(app.ports.http, 'Search', request);
    expect(none.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(none.details).toContain('X-Scope-OrgID');

    const invalid = await callStream(app.ports.http, 'Search', request, { 'x-scope-orgid': 'a/b' });
    expect(invalid.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(invalid.details).toContain('unsupported characters');

    const tags = await callStream(app.ports.http, 'SearchTagValuesV2', encodeSearchTagValuesRequest({ tagName: 'resource.service.name', query: '', start: 0, end: 0, maxTagValues: 0, staleValueThreshold: 0 }), { 'x-scope-orgid': 'tenant-b' });
    expect(decodeSearchTagValuesV2Response(tags.messages[0]!).tagValues).toEqual([]);
  });
});

describe('stream_over_http_enabled: false', () => {
  it('serves HTTP/1.1 only: a gRPC call on the port fails, the API still answers', async () => {
    const app = await startInProcess(makeTempDir('grpc-off'), { stream_over_http_enabled: false });
    const answer = await callStream(app.ports.http, 'Search', searchRequest({ query: '{ }' }));
    expect(answer.code).not.toBe(grpc.status.OK);
    expect(answer.messages).toEqual([]);
    expect((await fetch(`http://127.0.0.1:${app.ports.http}/api/echo`)).status).toBe(200);
  });
});

describe('shutdown with a gRPC client still connected', () => {
  it('ends the HTTP/2 connection instead of waiting for the client to leave', async () => {
    const app = await startInProcess(makeTempDir('grpc-stop'));
    const client = new grpc.Client(`127.0.0.1:${app.ports.http}`, grpc.credentials.createInsecure());
    const stream = client.makeServerStreamRequest(`${SERVICE}/Search`, identity, identity, Buffer.from(searchRequest({ query: '{ }' })), new grpc.Metadata());
    const status = await new Promise<number>((done) => {
      stream.on('data', () => undefined);
      stream.on('error', () => undefined);
      stream.on('status', (s: grpc.StatusObject) => done(s.code));
    });
    expect(status).toBe(grpc.status.OK);
    // The channel stays connected (grpc-js keeps it); stop must not hang on it.
    const started = Date.now();
    await app.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    client.close();
  });
});
