// The distributor's CPU work on worker threads: the compiled ExportDecoderPool (dist: real
// worker_threads, segments packed into one transferred buffer) answers exactly what the inline
// split answers, for valid, partly invalid and malformed exports, many at once, whether a body is
// copied to the worker or handed over; and the OTLP/gRPC
// receiver of the built binary gives clients the wide HTTP/2 windows that let large exports
// stream without waiting for WINDOW_UPDATEs.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesToHex, decodeTrace, type Span, type Trace } from '@andante/model';
import { CONNECTION_WINDOW_BYTES, INLINE_BELOW_BYTES, STREAM_WINDOW_BYTES } from '@andante/distributor';
import {
  GRPC_STATUS,
  OtlpGrpcClient,
  REPO_ROOT,
  decodeExportResponse,
  fetchTraceProto,
  killAllProcesses,
  makeTempDir,
  postOtlpHttp,
  removeTempDirs,
  startProcess,
  waitFor,
} from './harness.js';
import { encodeRequest, makeSpan, makeTrace, normTrace, randomSpanId, randomTraceId, str } from './otlp.js';

const dist = (pkg: string): string => pathToFileURL(join(REPO_ROOT, 'packages', pkg, 'dist', 'index.js')).href;
const run = promisify(execFile);

afterAll(async () => {
  await killAllProcesses();
  removeTempDirs();
});

/** An export of `traces` traces (interleaved, two services) plus spans that fail validation. */
function exportBody(traces: number, spansPerTrace: number, invalid: boolean): Uint8Array {
  const spans: Span[][] = [[], []];
  const ids = Array.from({ length: traces }, () => randomTraceId());
  for (let s = 0; s < spansPerTrace; s++) {
    ids.forEach((traceId, t) => spans[t % 2]!.push(makeSpan(traceId, randomSpanId(), { name: `op-${s}`, attributes: [str('http.url', `/orders/${t}/${s}`), str('pad', 'x'.repeat(60))] })));
  }
  if (invalid) {
    spans[0]!.push(makeSpan(new Uint8Array(16), randomSpanId()));
    spans[1]!.push(makeSpan(randomTraceId(), new Uint8Array(4)));
    const backwards = makeSpan(randomTraceId(), randomSpanId());
    backwards.endTimeUnixNano = backwards.startTimeUnixNano - 1n;
    spans[1]!.push(backwards);
  }
  const a = makeTrace(spans[0]!, 'checkout');
  const b = makeTrace(spans[1]!, 'cart');
  return encodeRequest({ resourceSpans: [...a.resourceSpans, ...b.resourceSpans] });
}

/**
 * Runs in a plain `node` child (the compiled packages, no test-only resolution): splits every
 * body through an ExportDecoderPool, all at once, and inline; prints each split as plain data,
 * then what a truncated body gives.
 */
const POOL_CHECK = `
import { readFileSync } from 'node:fs';
const { ExportDecoderPool, splitExportRequest, INLINE_BELOW_BYTES } = await import(${JSON.stringify(dist('distributor'))});
const hex = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const plain = (s) => ({
  spanCount: s.spanCount,
  invalid: s.invalid,
  segments: s.segments.map((g) => ({ traceId: hex(g.traceId), bytes: hex(g.bytes), spanCount: g.spanCount, start: String(g.startTimeUnixNano), end: String(g.endTimeUnixNano) })),
});
const file = readFileSync(process.argv[2]);
const bodies = [];
for (let pos = 0; pos < file.length; ) {
  const n = file.readUInt32LE(pos);
  bodies.push(file.subarray(pos + 4, pos + 4 + n));
  pos += 4 + n;
}
const pool = new ExportDecoderPool(2);
const out = { threaded: pool.threaded, inlineBelow: INLINE_BELOW_BYTES, pooled: [], inline: [] };
out.pooled = (await Promise.all(bodies.map((b) => pool.split(b)))).map(plain);
out.inline = bodies.map((b) => plain(splitExportRequest(b)));
out.bodiesIntact = bodies.every((b) => b.byteLength > 0);
// A body alone in its buffer (as a received gRPC message is, behind its 5-byte prefix) is handed
// over, not copied: it is detached here, and split alike.
const framed = new Uint8Array(bodies[2].length + 5);
framed.set(bodies[2], 5);
const message = framed.subarray(5);
const handedOver = plain(await pool.split(message));
out.handedOver = { detached: message.byteLength === 0, same: JSON.stringify(handedOver) === JSON.stringify(out.inline[2]) };
const truncated = bodies[1].subarray(0, bodies[1].length - 7);
try { splitExportRequest(truncated); } catch (e) { out.inlineError = e.message; }
const err = await pool.split(truncated).then(() => null, (e) => e);
out.error = err && { name: err.name, httpStatus: err.httpStatus, message: err.message };
out.afterError = (await pool.split(bodies[1])).segments.length;
await pool.close();
console.log(JSON.stringify(out));
`;

interface PlainSplit {
  spanCount: number;
  invalid: { reason: string; count: number; example: string }[];
  segments: { traceId: string; bytes: string; spanCount: number; start: string; end: string }[];
}

describe('export decoder pool (compiled, worker threads)', () => {
  it('splits exports on workers exactly as inline, many at once, and refuses a malformed one alike', async () => {
    const dir = makeTempDir('export-decoder-');
    const bodies = Array.from({ length: 24 }, (_, i) => exportBody(20 + i, 6 + (i % 5), i % 3 === 0));
    const file = Buffer.concat(bodies.flatMap((b) => [Buffer.from(new Uint32Array([b.byteLength]).buffer), Buffer.from(b)]));
    writeFileSync(join(dir, 'bodies.bin'), file);
    writeFileSync(join(dir, 'pool-check.mjs'), POOL_CHECK);
    const { stdout } = await run(process.execPath, [join(dir, 'pool-check.mjs'), join(dir, 'bodies.bin')], { maxBuffer: 256 * 1024 * 1024 });
    const out = JSON.parse(stdout) as {
      threaded: boolean;
      inlineBelow: number;
      pooled: PlainSplit[];
      inline: PlainSplit[];
      bodiesIntact: boolean;
      handedOver: { detached: boolean; same: boolean };
      inlineError: string;
      error: { name: string; httpStatus: number; message: string } | null;
      afterError: number;
    };
    expect(out.threaded).toBe(true);
    expect(Math.min(...bodies.map((b) => b.byteLength))).toBeGreaterThanOrEqual(out.inlineBelow);
    expect(out.pooled).toEqual(out.inline);
    out.pooled.forEach((split, i) => {
      expect(split.segments).toHaveLength(20 + i);
      expect(split.invalid.map((x) => x.reason).sort()).toEqual(i % 3 === 0 ? ['invalid_span_id', 'invalid_timestamps', 'invalid_trace_id'] : []);
    });
    // Each segment is its trace's spans, and only those, as a tempopb.Trace.
    for (const seg of out.pooled[7]!.segments) {
      const spans = decodeTrace(Buffer.from(seg.bytes, 'hex')).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
      expect(spans).toHaveLength(seg.spanCount);
      expect(new Set(spans.map((s) => bytesToHex(s.traceId)))).toEqual(new Set([seg.traceId]));
    }
    expect(out.bodiesIntact).toBe(true);
    expect(out.handedOver).toEqual({ detached: true, same: true });
    expect(out.inlineError).toMatch(/^malformed protobuf/);
    expect(out.error).toEqual({ name: 'InvalidArgumentError', httpStatus: 400, message: out.inlineError });
    expect(out.afterError).toBe(21);
  }, 60_000);
});

describe('large exports through the built binary', () => {
  it('are acknowledged (partly where spans are invalid) and every trace reads back whole', async () => {
    const proc = await startProcess(makeTempDir('andante-large-exports-'));
    const client = new OtlpGrpcClient(proc.ports.otlpGrpc!);
    try {
      const sent: Trace[] = [];
      const bodies: { body: Uint8Array; invalid: number; via: 'grpc' | 'http' }[] = [];
      for (let i = 0; i < 6; i++) {
        const traces = Array.from({ length: 25 }, () => {
          const traceId = randomTraceId();
          return makeTrace(Array.from({ length: 8 }, (_, s) => makeSpan(traceId, randomSpanId(), { name: `op-${s}`, attributes: [str('pad', 'y'.repeat(80))] })), `svc-${i % 3}`);
        });
        sent.push(...traces);
        const resourceSpans = traces.flatMap((t) => t.resourceSpans);
        if (i % 2 === 0) resourceSpans.push(...makeTrace([makeSpan(new Uint8Array(16), randomSpanId())]).resourceSpans);
        bodies.push({ body: encodeRequest({ resourceSpans }), invalid: i % 2 === 0 ? 1 : 0, via: i < 4 ? 'grpc' : 'http' });
      }
      const answers = await Promise.all(
        bodies.map(async ({ body, via }) => {
          if (via === 'http') {
            const a = await postOtlpHttp(proc.ports.otlpHttp!, body);
            expect(a.status).toBe(200);
            return decodeExportResponse(a.body).rejectedSpans;
          }
          const a = await client.export(body);
          if (!a.ok) throw new Error(`export refused: ${a.details}`);
          return decodeExportResponse(a.response).rejectedSpans;
        }),
      );
      expect(Math.min(...bodies.map((b) => b.body.byteLength))).toBeGreaterThan(INLINE_BELOW_BYTES);
      expect(answers).toEqual(bodies.map((b) => b.invalid));
      for (const trace of sent) {
        const id = bytesToHex(trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId);
        const got = await fetchTraceProto(proc.ports.http, id);
        expect(got.status).toBe(200);
        expect(normTrace(got.trace!)).toEqual(normTrace(trace));
      }
    } finally {
      client.close();
    }
  });

  it('refuses large malformed exports on the workers with INVALID_ARGUMENT / 400 and keeps serving', async () => {
    const proc = await startProcess(makeTempDir('andante-large-bad-'));
    const client = new OtlpGrpcClient(proc.ports.otlpGrpc!);
    try {
      const body = exportBody(40, 6, false);
      const random = new Uint8Array(64 * 1024).map((_, i) => (i * 2654435761) >>> 24);
      expect(body.byteLength).toBeGreaterThan(INLINE_BELOW_BYTES);
      for (const bad of [body.subarray(0, body.byteLength - 9), random]) {
        const a = await client.export(bad);
        expect(a.ok).toBe(false);
        if (!a.ok) {
          expect(a.code).toBe(GRPC_STATUS.INVALID_ARGUMENT);
          expect(a.details).toMatch(/^malformed protobuf/);
        }
        const h = await postOtlpHttp(proc.ports.otlpHttp!, bad);
        expect(h.status).toBe(400);
      }
      // The same process still takes a large valid export.
      const ok = await client.export(body);
      expect(ok.ok).toBe(true);
      expect(proc.alive()).toBe(true);
    } finally {
      client.close();
    }
  });
});

describe('OTLP/gRPC receiver', () => {
  it('gives each client connection wide HTTP/2 receive windows', async () => {
    const proc = await startProcess(makeTempDir('andante-windows-'));
    const client = http2.connect(`http://127.0.0.1:${proc.ports.otlpGrpc}`);
    try {
      const settings = await new Promise<http2.Settings>((resolve, reject) => {
        client.once('remoteSettings', resolve);
        client.once('error', reject);
      });
      expect(settings.initialWindowSize).toBe(STREAM_WINDOW_BYTES);
      // The connection window arrives as a WINDOW_UPDATE right after the settings.
      await waitFor(() => (client.state.remoteWindowSize ?? 0) >= CONNECTION_WINDOW_BYTES || null, 5_000);
    } finally {
      client.close();
    }
  });
});
