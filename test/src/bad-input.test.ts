// Bad input at the receivers and the query API: every refusal is a 4xx / gRPC error with a
// message, nothing bad is stored, and the process keeps serving. Rate limits answer 429 with
// Retry-After (gRPC RESOURCE_EXHAUSTED) and are counted. With multitenancy, a missing tenant is
// 401, a malformed one (`../x`) is 400 and writes nothing outside the data folder, and tenants
// cannot read each other's traces.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, type Span } from '@andante/model';
import {
  GRPC_STATUS,
  OtlpGrpcClient,
  decodeExportResponse,
  decodeRpcStatus,
  fetchTraceProto,
  flush,
  getMetric,
  getReady,
  listEntriesRecursive,
  makeTempDir,
  postOtlpHttp,
  removeTempDirs,
  sleep,
  startInProcess,
  stopAllInProcess,
  type InProcessAndante,
} from './harness.js';
import { encodeRequest, makeSpan, makeTrace, randomSpanId, randomTraceId, spanIdsOf, str } from './otlp.js';

afterAll(async () => {
  await stopAllInProcess();
  removeTempDirs();
});

/** Deterministic pseudo-random bytes (mulberry32). */
function pseudoRandomBytes(seed: number, n: number): Uint8Array {
  let a = seed >>> 0;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}

function validRequest(spanCount = 3): { body: Uint8Array; traceId: Uint8Array; spans: Span[] } {
  const traceId = randomTraceId();
  const root = randomSpanId();
  const spans = Array.from({ length: spanCount }, (_, i) =>
    makeSpan(traceId, i === 0 ? root : randomSpanId(), { parentSpanId: i === 0 ? new Uint8Array(0) : root, name: `op-${i}`, attributes: [str('k', 'v'.repeat(20))] }),
  );
  return { body: encodeRequest(makeTrace(spans, 'bad-input')), traceId, spans };
}

const ZERO_TRACE_ID = new Uint8Array(16);

/** An OTLP/JSON request with the given (hex) IDs. */
function jsonRequest(ids: { traceId?: string; spanId?: string; parentSpanId?: string; linkTraceId?: string } = {}): string {
  const span: Record<string, unknown> = {
    traceId: ids.traceId ?? bytesToHex(randomTraceId()),
    spanId: ids.spanId ?? bytesToHex(randomSpanId()),
    name: 'json span',
    kind: 2,
    startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
    endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n + 1000n),
    attributes: [{ key: 'http.method', value: { stringValue: 'GET' } }],
  };
  if (ids.parentSpanId !== undefined) span['parentSpanId'] = ids.parentSpanId;
  if (ids.linkTraceId !== undefined) span['links'] = [{ traceId: ids.linkTraceId, spanId: bytesToHex(randomSpanId()) }];
  return JSON.stringify({
    resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'json-test' } }] }, scopeSpans: [{ scope: { name: 's' }, spans: [span] }] }],
  });
}

async function expectGoodExportWorks(app: InProcessAndante, headers: Record<string, string> = {}): Promise<void> {
  expect(await getReady(app.ports.http)).toBe(200);
  const { body, traceId, spans } = validRequest(2);
  const res = await postOtlpHttp(app.ports.otlpHttp!, body, { headers });
  expect(res.status, res.text()).toBe(200);
  const client = new OtlpGrpcClient(app.ports.otlpGrpc!);
  const g = validRequest(1);
  try {
    const ans = await client.export(g.body, headers['X-Scope-OrgID'] ? { 'x-scope-orgid': headers['X-Scope-OrgID'] } : {});
    expect(ans.ok, ans.ok ? '' : `${ans.code} ${ans.details}`).toBe(true);
  } finally {
    client.close();
  }
  const got = await fetchTraceProto(app.ports.http, bytesToHex(traceId), 'v2', headers);
  expect(got.status).toBe(200);
  expect(spanIdsOf(got.trace!).sort()).toEqual(spans.map((s) => bytesToHex(s.spanId)).sort());
  expect((await fetchTraceProto(app.ports.http, bytesToHex(g.traceId), 'v2', headers)).status).toBe(200);
}

// -------------------------------------------------------------------------------------------------

describe('malformed and oversized requests', () => {
  const MAX_BODY = 64 * 1024;
  let app: InProcessAndante;
  let grpcClient: OtlpGrpcClient;

  beforeAll(async () => {
    app = await startInProcess(makeTempDir('bad-input'), {
      distributor: { receivers: { otlp: { protocols: { http: { max_request_body_size: MAX_BODY } } } } },
    });
    grpcClient = new OtlpGrpcClient(app.ports.otlpGrpc!);
  });
  afterAll(() => grpcClient?.close());

  const post = (body: Uint8Array | string, opts: Parameters<typeof postOtlpHttp>[2] = {}) => postOtlpHttp(app.ports.otlpHttp!, body, opts);

  /** A 4xx protobuf refusal carries a google.rpc.Status with a code and message. */
  const expectProtoRefusal = (res: Awaited<ReturnType<typeof postOtlpHttp>>, status: number, grpcCode?: number): void => {
    expect(res.status, res.text()).toBe(status);
    const st = decodeRpcStatus(res.body);
    expect(st.message.length, 'error message').toBeGreaterThan(0);
    if (grpcCode !== undefined) expect(st.code).toBe(grpcCode);
  };

  it('accepts a valid protobuf, JSON and gzip request (controls)', async () => {
    const { body } = validRequest();
    const res = await post(body);
    expect(res.status, res.text()).toBe(200);
    expect(decodeExportResponse(res.body).rejectedSpans).toBe(0);
    const json = await post(jsonRequest());
    expect(json.status, json.text()).toBe(200);
    expect(json.headers.get('content-type')).toMatch(/application\/json/);
    const gz = await post(validRequest().body, { gzip: true });
    expect(gz.status, gz.text()).toBe(200);
  });

  it('refuses truncated protobuf bodies with 400', async () => {
    const { body } = validRequest(5);
    for (const cut of [1, 7, Math.floor(body.length / 2), body.length - 3]) {
      const res = await post(body.subarray(0, body.length - cut));
      expectProtoRefusal(res, 400, GRPC_STATUS.INVALID_ARGUMENT);
    }
  });

  it('refuses random bytes with 400', async () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      const res = await post(pseudoRandomBytes(seed, 512));
      expectProtoRefusal(res, 400);
    }
  });

  it('refuses wrong content types with 415', async () => {
    const { body } = validRequest();
    for (const type of ['text/plain', 'application/xml', 'application/octet-stream', '']) {
      const res = await post(body, { contentType: type });
      expect(res.status, `content type ${JSON.stringify(type)}: ${res.text()}`).toBe(415);
    }
  });

  it('refuses JSON with bad hex IDs with 400 and a message naming the field', async () => {
    const cases: [Parameters<typeof jsonRequest>[0], RegExp][] = [
      [{ traceId: 'zz' + '0'.repeat(30) }, /traceId/],
      [{ traceId: 'AQIDBAUGBwgJCgsMDQ4PEA==' }, /traceId/], // base64, not hex
      [{ spanId: 'not-hex!' }, /spanId/],
      [{ parentSpanId: 'xyz' }, /parentSpanId/],
      [{ linkTraceId: 'g'.repeat(32) }, /traceId/],
    ];
    for (const [ids, field] of cases) {
      const res = await post(jsonRequest(ids));
      expect(res.status, `${JSON.stringify(ids)}: ${res.text()}`).toBe(400);
      const err = JSON.parse(res.text()) as { code: number; message: string };
      expect(err.message).toMatch(field);
      expect(err.code).toBe(GRPC_STATUS.INVALID_ARGUMENT);
    }
    const syntax = await post('{"resourceSpans": [');
    expect(syntax.status).toBe(400);
  });

  it('refuses empty bodies with 400', async () => {
    expect((await post(new Uint8Array(0))).status).toBe(400);
    expect((await post('')).status).toBe(400);
    const ans = await grpcClient.export(new Uint8Array(0));
    expect(ans.ok).toBe(false);
    if (!ans.ok) expect(ans.code).toBe(GRPC_STATUS.INVALID_ARGUMENT);
  });

  it('refuses bodies over max_request_body_size with 413, also when gzip expands past it', async () => {
    const traceId = randomTraceId();
    const big = encodeRequest(makeTrace([makeSpan(traceId, randomSpanId(), { attributes: [str('big', 'x'.repeat(MAX_BODY + 1000))] })]));
    expect(big.length).toBeGreaterThan(MAX_BODY);
    expectProtoRefusal(await post(big), 413);
    const bigJson = jsonRequest().replace('"json span"', JSON.stringify('y'.repeat(MAX_BODY + 10)));
    expect((await post(bigJson)).status).toBe(413);
    // A gzip bomb: ~16 KiB on the wire, 16 MiB once inflated.
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(MAX_BODY);
    const res = await postOtlpHttp(app.ports.otlpHttp!, bomb, { headers: { 'Content-Encoding': 'gzip' } });
    expect(res.status, res.text()).toBe(413);
    // The compressed form of a valid but too large request.
    const gzBig = await postOtlpHttp(app.ports.otlpHttp!, big, { gzip: true });
    expect(gzBig.status).toBe(413);
    expect((await fetchTraceProto(app.ports.http, bytesToHex(traceId))).status).toBe(404);
  });

  it('refuses a body that claims gzip but is not, and unknown encodings', async () => {
    const { body } = validRequest();
    expect((await postOtlpHttp(app.ports.otlpHttp!, body, { headers: { 'Content-Encoding': 'gzip' } })).status).toBe(400);
    expect([400, 415]).toContain((await postOtlpHttp(app.ports.otlpHttp!, body, { headers: { 'Content-Encoding': 'br' } })).status);
  });

  it('refuses an all-zero trace ID with 400 / INVALID_ARGUMENT', async () => {
    const span = makeSpan(ZERO_TRACE_ID, randomSpanId());
    const body = encodeRequest(makeTrace([span]));
    expectProtoRefusal(await post(body), 400, GRPC_STATUS.INVALID_ARGUMENT);
    const json = await post(jsonRequest({ traceId: '0'.repeat(32) }));
    expect(json.status).toBe(400);
    const ans = await grpcClient.export(body);
    expect(ans.ok).toBe(false);
    if (!ans.ok) expect(ans.code).toBe(GRPC_STATUS.INVALID_ARGUMENT);
    // Zero span ID, end before start: also refused when they are the whole request.
    const zeroSpan = await post(encodeRequest(makeTrace([makeSpan(randomTraceId(), new Uint8Array(8))])));
    expect(zeroSpan.status).toBe(400);
    const backwards = makeSpan(randomTraceId(), randomSpanId());
    backwards.endTimeUnixNano = backwards.startTimeUnixNano - 1n;
    expect((await post(encodeRequest(makeTrace([backwards])))).status).toBe(400);
  });

  it('refuses truncated and random protobuf over gRPC with INVALID_ARGUMENT', async () => {
    const { body } = validRequest(4);
    for (const bad of [body.subarray(0, body.length - 5), pseudoRandomBytes(7, 300)]) {
      const ans = await grpcClient.export(bad);
      expect(ans.ok).toBe(false);
      if (!ans.ok) {
        expect(ans.code).toBe(GRPC_STATUS.INVALID_ARGUMENT);
        expect(ans.details.length).toBeGreaterThan(0);
      }
    }
  });

  it('refuses a gRPC message over max_recv_msg_size_mib with RESOURCE_EXHAUSTED', async () => {
    const traceId = randomTraceId();
    const big = encodeRequest(makeTrace([makeSpan(traceId, randomSpanId(), { attributes: [str('big', 'z'.repeat(5 * 1024 * 1024))] })]));
    const ans = await grpcClient.export(big);
    expect(ans.ok).toBe(false);
    if (!ans.ok) expect(ans.code).toBe(GRPC_STATUS.RESOURCE_EXHAUSTED);
    expect((await fetchTraceProto(app.ports.http, bytesToHex(traceId))).status).toBe(404);
  });

  it('accepts a partially invalid batch with partial_success and stores only the valid spans', async () => {
    const traceId = randomTraceId();
    const good = [makeSpan(traceId, randomSpanId()), makeSpan(traceId, randomSpanId())];
    const bad = makeSpan(ZERO_TRACE_ID, randomSpanId());
    const res = await post(encodeRequest(makeTrace([good[0]!, bad, good[1]!])));
    expect(res.status, res.text()).toBe(200);
    const ps = decodeExportResponse(res.body);
    expect(ps.rejectedSpans).toBe(1);
    expect(ps.errorMessage.length).toBeGreaterThan(0);
    const got = await fetchTraceProto(app.ports.http, bytesToHex(traceId));
    expect(got.status).toBe(200);
    expect(spanIdsOf(got.trace!).sort()).toEqual(good.map((s) => bytesToHex(s.spanId)).sort());

    // JSON: the same as OTLP/JSON's partialSuccess.
    const jsonTrace = bytesToHex(randomTraceId());
    const doc = JSON.parse(jsonRequest({ traceId: jsonTrace })) as { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
    const spans = doc.resourceSpans[0]!.scopeSpans[0]!.spans;
    spans.push({ ...spans[0]!, traceId: '0'.repeat(32), spanId: bytesToHex(randomSpanId()) });
    spans.push({ ...spans[0]!, spanId: bytesToHex(randomSpanId()), startTimeUnixNano: '10', endTimeUnixNano: '5' });
    const jres = await post(JSON.stringify(doc));
    expect(jres.status, jres.text()).toBe(200);
    const body = JSON.parse(jres.text()) as { partialSuccess?: { rejectedSpans?: string | number; errorMessage?: string } };
    expect(Number(body.partialSuccess?.rejectedSpans)).toBe(2);

    // gRPC.
    const gTrace = randomTraceId();
    const ans = await grpcClient.export(encodeRequest(makeTrace([makeSpan(gTrace, randomSpanId()), makeSpan(ZERO_TRACE_ID, randomSpanId())])));
    expect(ans.ok).toBe(true);
    if (ans.ok) expect(decodeExportResponse(ans.response).rejectedSpans).toBe(1);
    expect((await fetchTraceProto(app.ports.http, bytesToHex(gTrace))).status).toBe(200);
    expect(await getMetric(app.ports.http, 'tempo_discarded_spans_total', { reason: 'invalid_trace_id' })).toBeGreaterThanOrEqual(3);
  });

  it('refuses malformed trace IDs on the query API with 400 and answers 404 with an empty body', async () => {
    for (const id of ['not-hex', 'g'.repeat(32), 'a'.repeat(33), '0'.repeat(32)]) {
      const res = await fetch(`http://127.0.0.1:${app.ports.http}/api/traces/${id}`);
      expect(res.status, id).toBe(400);
      expect((await res.text()).length).toBeGreaterThan(0);
    }
    const missing = await fetch(`http://127.0.0.1:${app.ports.http}/api/traces/${bytesToHex(randomTraceId())}`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('');
  });

  it('still serves after all of that', async () => {
    await expectGoodExportWorks(app);
  });
});

// -------------------------------------------------------------------------------------------------

describe('rate limits', () => {
  let app: InProcessAndante;

  beforeAll(async () => {
    app = await startInProcess(makeTempDir('rate-limit'), {
      overrides: { defaults: { ingestion: { rate_limit_bytes: 1000, burst_size_bytes: 3000 } } },
    });
  });

  /** A request of roughly `bytes` bytes. */
  const requestOf = (bytes: number): Uint8Array => {
    const traceId = randomTraceId();
    return encodeRequest(makeTrace([makeSpan(traceId, randomSpanId(), { attributes: [str('pad', 'p'.repeat(Math.max(0, bytes - 150)))] })]));
  };

  it('answers 429 with Retry-After, gRPC RESOURCE_EXHAUSTED, and counts rate_limited discards', async () => {
    const discardedBefore = await getMetric(app.ports.http, 'tempo_discarded_spans_total', { reason: 'rate_limited', tenant: 'single-tenant' });
    const statuses: number[] = [];
    let refusal: Awaited<ReturnType<typeof postOtlpHttp>> | undefined;
    for (let i = 0; i < 20 && !refusal; i++) {
      const res = await postOtlpHttp(app.ports.otlpHttp!, requestOf(700));
      statuses.push(res.status);
      if (res.status !== 200) refusal = res;
    }
    expect(statuses[0], 'the first request fits the burst').toBe(200);
    expect(refusal, `statuses ${statuses.join(',')}`).toBeDefined();
    expect(refusal!.status).toBe(429);
    const retryAfter = refusal!.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    const st = decodeRpcStatus(refusal!.body);
    expect(st.code).toBe(GRPC_STATUS.RESOURCE_EXHAUSTED);
    expect(st.message).toMatch(/rate.?limit/i);

    const client = new OtlpGrpcClient(app.ports.otlpGrpc!);
    try {
      let code: number | undefined;
      for (let i = 0; i < 10 && code === undefined; i++) {
        const ans = await client.export(requestOf(700));
        if (!ans.ok) {
          code = ans.code;
          expect(ans.details).toMatch(/rate.?limit/i);
        }
      }
      expect(code).toBe(GRPC_STATUS.RESOURCE_EXHAUSTED);
    } finally {
      client.close();
    }
    const discardedAfter = await getMetric(app.ports.http, 'tempo_discarded_spans_total', { reason: 'rate_limited', tenant: 'single-tenant' });
    expect(discardedAfter).toBeGreaterThanOrEqual(discardedBefore + 2);

    // Honouring Retry-After works.
    await sleep(Number(retryAfter) * 1000 + 200);
    const again = await postOtlpHttp(app.ports.otlpHttp!, requestOf(700));
    expect(again.status, again.text()).toBe(200);
  });

  it('refuses a single batch larger than the burst with 429', async () => {
    const res = await postOtlpHttp(app.ports.otlpHttp!, requestOf(5000));
    expect(res.status).toBe(429);
  });

  it('still serves after being rate limited', async () => {
    await sleep(1_500); // refill the bucket
    expect(await getReady(app.ports.http)).toBe(200);
    const { body, traceId } = validRequest(2);
    const res = await postOtlpHttp(app.ports.otlpHttp!, body);
    expect(res.status, res.text()).toBe(200);
    expect((await fetchTraceProto(app.ports.http, bytesToHex(traceId))).status).toBe(200);
  });
});

// -------------------------------------------------------------------------------------------------

describe('multitenancy', () => {
  let base: string;
  let app: InProcessAndante;
  let snapshotBefore: string[];
  const escapeName = `andante-escape-${process.pid}-${Date.now()}`;
  const badTenants = [`../${escapeName}`, `../../${escapeName}`, '..', '.', 'a/b', `..\\${escapeName}`, 'tenant a', 'x%2F..', 't'.repeat(151)];
  const A = { 'X-Scope-OrgID': 'tenant-a' };
  const B = { 'X-Scope-OrgID': 'tenant-b' };

  beforeAll(async () => {
    base = makeTempDir('tenancy');
    mkdirSync(join(base, 'outside'));
    writeFileSync(join(base, 'outside', 'sentinel'), 'untouched');
    app = await startInProcess(join(base, 'inst'), { multitenancy_enabled: true });
    snapshotBefore = listEntriesRecursive(base);
  });

  it('answers 401 without X-Scope-OrgID (HTTP receiver, gRPC receiver, query API)', async () => {
    const { body, traceId } = validRequest();
    const res = await postOtlpHttp(app.ports.otlpHttp!, body);
    expect(res.status, res.text()).toBe(401);
    const client = new OtlpGrpcClient(app.ports.otlpGrpc!);
    try {
      const ans = await client.export(body);
      expect(ans.ok).toBe(false);
      if (!ans.ok) expect(ans.code).toBe(GRPC_STATUS.UNAUTHENTICATED);
    } finally {
      client.close();
    }
    expect((await fetchTraceProto(app.ports.http, bytesToHex(traceId))).status).toBe(401);
  });

  it('answers 400 for malformed tenant IDs such as ../x and writes nothing outside the data folder', async () => {
    const client = new OtlpGrpcClient(app.ports.otlpGrpc!);
    try {
      for (const tenant of badTenants) {
        const { body, traceId } = validRequest();
        const res = await postOtlpHttp(app.ports.otlpHttp!, body, { headers: { 'X-Scope-OrgID': tenant } });
        expect(res.status, `tenant ${JSON.stringify(tenant)}: ${res.text()}`).toBe(400);
        const json = await postOtlpHttp(app.ports.otlpHttp!, jsonRequest(), { headers: { 'X-Scope-OrgID': tenant } });
        expect(json.status, `tenant ${JSON.stringify(tenant)} (JSON)`).toBe(400);
        const ans = await client.export(body, { 'x-scope-orgid': tenant });
        expect(ans.ok, `gRPC tenant ${JSON.stringify(tenant)}`).toBe(false);
        if (!ans.ok) expect(ans.code).toBe(GRPC_STATUS.INVALID_ARGUMENT);
        const q = await fetchTraceProto(app.ports.http, bytesToHex(traceId), 'v2', { 'X-Scope-OrgID': tenant });
        expect(q.status, `query tenant ${JSON.stringify(tenant)}`).toBe(400);
      }
    } finally {
      client.close();
    }
    await flush(app.ports.http);

    const after = listEntriesRecursive(base);
    const added = after.filter((e) => !snapshotBefore.includes(e));
    const outsideData = added.filter((e) => !e.startsWith(join('inst', 'traces')) && !e.startsWith(join('inst', 'wal')));
    expect(outsideData, 'new entries outside the data folder').toEqual([]);
    expect(after.filter((e) => basename(e).includes(escapeName) || basename(e) === 'x')).toEqual([]);
    expect(existsSync(join(tmpdir(), escapeName))).toBe(false);
    expect(existsSync(join(base, escapeName))).toBe(false);
    expect(after).toContain(join('outside', 'sentinel'));
  });

  it('keeps tenants apart: neither can read the other’s traces, live or flushed', async () => {
    const a = validRequest(2);
    const b = validRequest(2);
    // The same trace ID in both tenants, with different spans.
    const shared = randomTraceId();
    const sharedA = makeSpan(shared, randomSpanId(), { name: 'A side' });
    const sharedB = makeSpan(shared, randomSpanId(), { name: 'B side' });
    expect((await postOtlpHttp(app.ports.otlpHttp!, a.body, { headers: A })).status).toBe(200);
    expect((await postOtlpHttp(app.ports.otlpHttp!, b.body, { headers: B })).status).toBe(200);
    expect((await postOtlpHttp(app.ports.otlpHttp!, encodeRequest(makeTrace([sharedA])), { headers: A })).status).toBe(200);
    const client = new OtlpGrpcClient(app.ports.otlpGrpc!);
    try {
      const ans = await client.export(encodeRequest(makeTrace([sharedB])), { 'x-scope-orgid': 'tenant-b' });
      expect(ans.ok).toBe(true);
    } finally {
      client.close();
    }

    const check = async (stage: string): Promise<void> => {
      for (const version of ['v1', 'v2'] as const) {
        expect((await fetchTraceProto(app.ports.http, bytesToHex(a.traceId), version, A)).status, `${stage}: A reads A`).toBe(200);
        expect((await fetchTraceProto(app.ports.http, bytesToHex(a.traceId), version, B)).status, `${stage}: B reads A`).toBe(404);
        expect((await fetchTraceProto(app.ports.http, bytesToHex(b.traceId), version, B)).status, `${stage}: B reads B`).toBe(200);
        expect((await fetchTraceProto(app.ports.http, bytesToHex(b.traceId), version, A)).status, `${stage}: A reads B`).toBe(404);
        const sa = await fetchTraceProto(app.ports.http, bytesToHex(shared), version, A);
        const sb = await fetchTraceProto(app.ports.http, bytesToHex(shared), version, B);
        expect(spanIdsOf(sa.trace!), `${stage}: tenant A's view of a shared trace ID`).toEqual([bytesToHex(sharedA.spanId)]);
        expect(spanIdsOf(sb.trace!), `${stage}: tenant B's view of a shared trace ID`).toEqual([bytesToHex(sharedB.spanId)]);
      }
    };
    await check('live');
    await flush(app.ports.http);
    const entries = listEntriesRecursive(join(base, 'inst', 'traces'));
    expect(entries.some((e) => e.startsWith('tenant-a') && e.endsWith('meta.json'))).toBe(true);
    expect(entries.some((e) => e.startsWith('tenant-b') && e.endsWith('meta.json'))).toBe(true);
    await check('flushed');
  });

  it('still serves after all of that', async () => {
    await expectGoodExportWorks(app, A);
    const added = listEntriesRecursive(base).filter((e) => !snapshotBefore.includes(e));
    expect(added.filter((e) => !e.startsWith('inst'))).toEqual([]);
  });
});
