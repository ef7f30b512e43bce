// A trace over `global.max_bytes_per_trace` on read (the tenant's limit was lowered after it was
// written, through the runtime overrides file): v2 answers the spans up to the limit with status
// PARTIAL, in protobuf (as Grafana asks) and JSON; v1 answers 422 naming the limit; a trace under
// the limit is answered whole.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, encodeTrace, type Span } from '@andante/model';
import { fetchTraceJson, fetchTraceProto, makeTempDir, postOtlpHttp, removeTempDirs, startInProcess, stopAllInProcess, waitFor, type InProcessAndante } from './harness.js';
import { makeSpan, makeTrace, randomSpanId, randomTraceId, str } from './otlp.js';

const LIMIT = 8_000;
const PARTIAL = 1; // tempopb.PartialStatus.PARTIAL

let app: InProcessAndante;
let overridesPath: string;
const bigTraceId = randomTraceId();
const smallTraceId = randomTraceId();
let bigSpans: Span[];
let smallSpans: Span[];

/** A root with `children` children, each carrying ~300 bytes, so the trace is about children x 350 bytes. */
function tree(traceId: Uint8Array, children: number): Span[] {
  const rootId = randomSpanId();
  const start = BigInt(Date.now()) * 1_000_000n;
  const root = makeSpan(traceId, rootId, { name: 'root', startNs: start });
  const kids = Array.from({ length: children }, (_, i) =>
    makeSpan(traceId, randomSpanId(), { parentSpanId: rootId, name: `child-${i}`, startNs: start + BigInt(i + 1) * 1000n, attributes: [str('payload', 'p'.repeat(300))] }),
  );
  return [root, ...kids];
}

const setLimit = (bytes: number): void =>
  writeFileSync(overridesPath, JSON.stringify({ overrides: { 'single-tenant': { global: { max_bytes_per_trace: bytes } } } }));

beforeAll(async () => {
  const dir = makeTempDir('partial-trace');
  overridesPath = join(dir, 'overrides.yaml');
  setLimit(10_000_000);
  app = await startInProcess(dir, { overrides: { per_tenant_override_config: overridesPath, per_tenant_override_period: '100ms' } });
  bigSpans = tree(bigTraceId, 60);
  smallSpans = tree(smallTraceId, 3);
  for (const spans of [bigSpans, smallSpans]) {
    const res = await postOtlpHttp(app.ports.otlpHttp!, encodeTrace(makeTrace(spans)));
    expect(res.status).toBe(200);
  }
  expect(encodeTrace(makeTrace(bigSpans)).byteLength).toBeGreaterThan(2 * LIMIT);
  expect(encodeTrace(makeTrace(smallSpans)).byteLength).toBeLessThan(LIMIT);
  setLimit(LIMIT);
  // The overrides file is re-read every 100 ms: wait until reads see the lower limit.
  await waitFor(async () => (await fetchTraceProto(app.ports.http, bytesToHex(bigTraceId), 'v1')).status === 422, 10_000, 'the lowered limit');
});

afterAll(async () => {
  await stopAllInProcess();
  removeTempDirs();
});

describe('trace over max_bytes_per_trace', () => {
  it('v2 protobuf answers PARTIAL with the root and spans up to the limit, and a message naming it', async () => {
    const res = await fetchTraceProto(app.ports.http, bytesToHex(bigTraceId), 'v2');
    expect(res.status).toBe(200);
    expect(res.partialStatus).toBe(PARTIAL);
    expect(res.message).toContain(`Trace exceeds maximum size of ${LIMIT} bytes, a partial trace is returned`);
    expect(res.message).toMatch(/\(\d+ of 61 spans/);
    const spans = res.trace!.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    expect(spans.length).toBeGreaterThan(10);
    expect(spans.length).toBeLessThan(61);
    expect(encodeTrace(res.trace!).byteLength).toBeLessThanOrEqual(LIMIT);
    expect(spans.map((s) => s.name)).toContain('root');
    // Siblings are taken by start time: the kept children are the first ones.
    const kept = spans.filter((s) => s.name !== 'root').map((s) => Number(s.name.slice('child-'.length))).sort((a, b) => a - b);
    expect(kept).toEqual(kept.map((_, i) => i));
  });

  it('v2 JSON answers the same spans with status PARTIAL', async () => {
    const proto = await fetchTraceProto(app.ports.http, bytesToHex(bigTraceId), 'v2');
    const res = await fetchTraceJson(app.ports.http, bytesToHex(bigTraceId), 'v2');
    expect(res.status).toBe(200);
    const body = res.json as { status?: string; message?: string; trace: { resourceSpans: { scopeSpans: { spans: { spanId: string }[] }[] }[] } };
    expect(body.status).toBe('PARTIAL');
    expect(body.message).toBe(proto.message);
    const jsonIds = body.trace.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => Buffer.from(s.spanId, 'base64').toString('hex')))).sort();
    const protoIds = proto.trace!.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => bytesToHex(s.spanId)))).sort();
    expect(jsonIds).toEqual(protoIds);
  });

  it('v1 (no partial status in its shape) answers 422 naming the limit, the key and v2', async () => {
    for (const fetchV1 of [() => fetchTraceProto(app.ports.http, bytesToHex(bigTraceId), 'v1'), () => fetchTraceJson(app.ports.http, bytesToHex(bigTraceId), 'v1')]) {
      const res = await fetchV1();
      expect(res.status).toBe(422);
      const text = 'text' in res ? res.text : Buffer.from(res.body).toString('utf8');
      expect(text).toContain(`trace exceeds max size (max bytes: ${LIMIT})`);
      expect(text).toContain('global.max_bytes_per_trace');
      expect(text).toContain('/api/v2/traces/');
    }
  });

  it('a trace under the limit is answered whole, COMPLETE, on v1 and v2', async () => {
    const v2 = await fetchTraceProto(app.ports.http, bytesToHex(smallTraceId), 'v2');
    expect(v2.status).toBe(200);
    expect(v2.partialStatus).toBeUndefined();
    expect(v2.message).toBeUndefined();
    const names = (t: typeof v2.trace) => t!.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name))).sort();
    expect(names(v2.trace)).toEqual(smallSpans.map((s) => s.name).sort());
    const v1 = await fetchTraceProto(app.ports.http, bytesToHex(smallTraceId), 'v1');
    expect(v1.status).toBe(200);
    expect(names(v1.trace)).toEqual(names(v2.trace));
  });
});
