// Memory backpressure end to end: with block encoding held back, the ingester's unflushed bytes
// reach ingester.max_unflushed_bytes and the real OTLP receivers refuse new exports (HTTP 429 with
// Retry-After, gRPC RESOURCE_EXHAUSTED) naming the limit, counted as discarded spans. Once the
// encoder runs again the backlog drains, exports are taken again, and every acknowledged span is
// readable by trace ID while no refused trace was stored.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, type Span } from '@andante/model';
import { BlockEncoderPool } from '@andante/storage';
import {
  GRPC_STATUS,
  OtlpGrpcClient,
  decodeExportResponse,
  fetchTraceProto,
  getMetric,
  makeTempDir,
  postOtlpHttp,
  removeTempDirs,
  startInProcess,
  stopAllInProcess,
  waitFor,
  type InProcessAndante,
} from './harness.js';
import { encodeRequest, makeSpan, makeTrace, randomTraceId, spanIdsOf, str } from './otlp.js';

const SPANS_PER_TRACE = 5;
const TRACES_PER_EXPORT = 4;
const LIMIT_BYTES = 32 * 1024;

interface Export {
  traceIds: Uint8Array[];
  spanIds: Map<string, string[]>;
  body: Uint8Array;
}

/** One export of new traces (about 4 KB), with a padded attribute so the budget fills quickly. */
function newExport(seq: number): Export {
  const spans: Span[] = [];
  const traceIds: Uint8Array[] = [];
  const start = BigInt(Date.now() - 10_000) * 1_000_000n;
  for (let t = 0; t < TRACES_PER_EXPORT; t++) {
    const traceId = randomTraceId();
    traceIds.push(traceId);
    for (let s = 0; s < SPANS_PER_TRACE; s++) {
      spans.push(makeSpan(traceId, undefined, { name: `op-${seq}-${s}`, startNs: start + BigInt(s) * 1000n, durationNs: 500n, attributes: [str('pad', 'x'.repeat(150))] }));
    }
  }
  const trace = makeTrace(spans, 'backpressure');
  const spanIds = new Map<string, string[]>(traceIds.map((id) => [bytesToHex(id), []]));
  for (const s of spans) spanIds.get(bytesToHex(s.traceId))!.push(bytesToHex(s.spanId));
  for (const ids of spanIds.values()) ids.sort();
  return { traceIds, spanIds, body: encodeRequest(trace) };
}

describe('memory backpressure (ingester.max_unflushed_bytes)', () => {
  let app: InProcessAndante;
  let grpc: OtlpGrpcClient;
  let releaseEncoder: () => void = () => {};
  const originalEncode = BlockEncoderPool.prototype.encode;

  beforeAll(async () => {
    // The encoder is held back until the test releases it: blocks are cut but not flushed.
    const encoderReleased = new Promise<void>((resolve) => (releaseEncoder = resolve));
    BlockEncoderPool.prototype.encode = async function (this: BlockEncoderPool, job) {
      await encoderReleased;
      return originalEncode.call(this, job);
    };
    app = await startInProcess(makeTempDir('backpressure'), {
      ingester: { max_unflushed_bytes: LIMIT_BYTES, flush_check_period: '50ms', trace_idle_period: '100ms' },
    });
    grpc = new OtlpGrpcClient(app.ports.otlpGrpc!);
  });

  afterAll(async () => {
    releaseEncoder();
    grpc?.close();
    await stopAllInProcess();
    BlockEncoderPool.prototype.encode = originalEncode;
    removeTempDirs();
  });

  it('refuses exports over the budget as 429 / RESOURCE_EXHAUSTED, then takes them again and keeps every acknowledged span', async () => {
    const acknowledged: Export[] = [];
    const refused: Export[] = [];
    let httpRefusal: { status: number; retryAfter: string | null; text: string } | undefined;
    let grpcRefusal: { code: number; details: string } | undefined;

    // Send over both receivers until each has refused once (the budget is a few exports).
    for (let seq = 0; seq < 200 && !(httpRefusal && grpcRefusal); seq++) {
      const exp = newExport(seq);
      if (seq % 2 === 0) {
        const res = await postOtlpHttp(app.ports.otlpHttp!, exp.body);
        if (res.status === 200) {
          expect(decodeExportResponse(res.body).rejectedSpans).toBe(0);
          acknowledged.push(exp);
        } else {
          httpRefusal ??= { status: res.status, retryAfter: res.headers.get('retry-after'), text: res.text() };
          refused.push(exp);
        }
      } else {
        const ans = await grpc.export(exp.body);
        if (ans.ok) {
          expect(decodeExportResponse(ans.response).rejectedSpans).toBe(0);
          acknowledged.push(exp);
        } else {
          grpcRefusal ??= { code: ans.code, details: ans.details };
          refused.push(exp);
        }
      }
    }
    expect(httpRefusal?.status).toBe(429);
    expect(Number(httpRefusal?.retryAfter)).toBeGreaterThan(0);
    expect(httpRefusal?.text).toContain('max_unflushed_bytes');
    expect(grpcRefusal?.code).toBe(GRPC_STATUS.RESOURCE_EXHAUSTED);
    expect(grpcRefusal?.details).toContain('max_unflushed_bytes');
    expect(acknowledged.length).toBeGreaterThan(2);
    expect(await getMetric(app.ports.http, 'tempo_discarded_spans_total', { reason: 'unflushed_bytes_exceeded' })).toBe(
      refused.length * TRACES_PER_EXPORT * SPANS_PER_TRACE,
    );
    // Nothing was flushed yet: the refusals came from the held bytes, not from a slow write.
    expect(await getMetric(app.ports.http, 'tempo_ingester_blocks_flushed_total')).toBe(0);

    // The encoder runs again: the backlog drains and a client's retry is taken.
    releaseEncoder();
    const retried = refused[0]!;
    await waitFor(async () => (await postOtlpHttp(app.ports.otlpHttp!, retried.body)).status === 200, 20_000, 'an export to be taken after the backlog drained');
    acknowledged.push(retried);
    expect(await getMetric(app.ports.http, 'tempo_ingester_blocks_flushed_total')).toBeGreaterThan(0);
    for (let seq = 1000; seq < 1010; seq++) {
      const exp = newExport(seq);
      await waitFor(async () => (await grpc.export(exp.body)).ok, 20_000, 'gRPC exports to be taken again');
      acknowledged.push(exp);
    }

    // Every acknowledged span reads back by trace ID; refused traces (never retried) were not stored.
    for (const exp of acknowledged) {
      for (const [hex, spanIds] of exp.spanIds) {
        const got = await fetchTraceProto(app.ports.http, hex);
        expect(got.status, hex).toBe(200);
        expect(spanIdsOf(got.trace!).sort()).toEqual(spanIds);
      }
    }
    for (const exp of refused.slice(1)) {
      for (const id of exp.traceIds) expect((await fetchTraceProto(app.ports.http, bytesToHex(id))).status).toBe(404);
    }
  }, 60_000);
});
