// The real OpenTelemetry JS SDK exports through each OTLP exporter (gRPC, gRPC+gzip,
// HTTP/protobuf, HTTP/JSON) to an in-process Andante; every trace is read back by ID and compared
// span by span with the ReadableSpans the SDK produced (captured by an InMemorySpanExporter):
// IDs, parents, names, kinds, typed attributes, events, links, status, ns timings, resource and
// scope. The comparison is repeated after /flush (data in a Parquet block) and after a restart
// with an empty WAL (data only in the block).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace as otelTrace, type Attributes, type AttributeValue, type HrTime, type SpanContext } from '@opentelemetry/api';
import { ExportResultCode, TraceState, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  fetchTraceJson,
  fetchTraceProto,
  flush,
  getMetric,
  listFilesRecursive,
  makeTempDir,
  removeTempDirs,
  startInProcess,
  stopAllInProcess,
  type InProcessAndante,
} from './harness.js';
import { normTrace, type NormSpan, type NormValue } from './otlp.js';

// ---------------------------------------------------------------------------------------------
// SDK → expected normalized spans

function hrToNs(t: HrTime): bigint {
  return BigInt(Math.trunc(t[0])) * 1_000_000_000n + BigInt(Math.trunc(t[1]));
}
function nsToHr(ns: bigint): HrTime {
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

/** The OTLP exporters' typing of a JS attribute value (otlp-transformer toAnyValue). */
function sdkValue(v: AttributeValue | undefined): NormValue {
  if (typeof v === 'string') return { s: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { i: String(v) } : { d: v };
  if (typeof v === 'boolean') return { b: v };
  if (Array.isArray(v)) return { a: (v as unknown[]).map((x) => sdkValue(x as AttributeValue)) };
  return { empty: true };
}
function sdkAttrs(a: Attributes | undefined): [string, NormValue][] {
  return Object.entries(a ?? {})
    .map(([k, v]): [string, NormValue] => [k, sdkValue(v)])
    .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

function expectedFromSdk(spans: readonly ReadableSpan[]): NormSpan[] {
  return spans
    .map((s): NormSpan => {
      const ctx = s.spanContext();
      return {
        traceId: ctx.traceId,
        spanId: ctx.spanId,
        parentSpanId: s.parentSpanContext?.spanId ?? '',
        traceState: ctx.traceState?.serialize() ?? '',
        // OTLP span flags: W3C trace flags plus HAS_IS_REMOTE (0x100) and IS_REMOTE (0x200).
        flags: (ctx.traceFlags & 0xff) | 0x100 | (s.parentSpanContext?.isRemote ? 0x200 : 0),
        name: s.name,
        kind: s.kind + 1, // API SpanKind is OTLP's minus one
        startTimeUnixNano: hrToNs(s.startTime).toString(),
        endTimeUnixNano: hrToNs(s.endTime).toString(),
        attributes: sdkAttrs(s.attributes),
        events: s.events.map((e) => ({ name: e.name, timeUnixNano: hrToNs(e.time).toString(), attributes: sdkAttrs(e.attributes) })),
        links: s.links.map((l) => ({
          traceId: l.context.traceId,
          spanId: l.context.spanId,
          traceState: l.context.traceState?.serialize() ?? '',
          flags: (l.context.traceFlags & 0xff) | 0x100 | (l.context.isRemote ? 0x200 : 0),
          attributes: sdkAttrs(l.attributes),
        })),
        status: { code: s.status.code, message: s.status.message ?? '' },
        resource: sdkAttrs(s.resource.attributes),
        scope: { name: s.instrumentationScope.name, version: s.instrumentationScope.version ?? '' },
      };
    })
    .sort((a, b) => (a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// The traces the SDK builds

/** Wraps an exporter and records every export result, so failures are not swallowed. */
class RecordingExporter implements SpanExporter {
  readonly results: ExportResult[] = [];
  exportedSpans = 0;
  constructor(private readonly inner: SpanExporter) {}
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.inner.export(spans, (r) => {
      this.results.push(r);
      if (r.code === ExportResultCode.SUCCESS) this.exportedSpans += spans.length;
      done(r);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

const EVERY_TYPE: Attributes = {
  'str': 'hello ünïcødé ✓ "quoted" \\ back',
  'str.empty': '',
  'int': 42,
  'int.neg': -7,
  'int.zero': 0,
  'int.max_safe': Number.MAX_SAFE_INTEGER,
  'double': 3.14159,
  'double.neg': -0.001,
  'double.tiny': 1.5e-300,
  'bool.true': true,
  'bool.false': false,
  'arr.str': ['a', 'b', 'c'],
  'arr.int': [1, -2, 3000000000],
  'arr.double': [1.5, 2.25],
  'arr.bool': [true, false, true],
};

/**
 * Builds two traces with explicit times:
 *  A: a true root (SERVER) with CLIENT, INTERNAL (every attribute type, events, error status),
 *     PRODUCER and CONSUMER descendants, two scopes, links (one into B with a trace state);
 *  B: a span whose parent is remote and whose context carries a trace state.
 * Returns the two trace IDs.
 */
function buildTraces(provider: BasicTracerProvider, label: string): { traceA: string; traceB: string; linkTarget: SpanContext } {
  const tracer = provider.getTracer('andante-otel-test', '4.5.6');
  const dbTracer = provider.getTracer('andante-otel-test.db', '0.9.0-beta.1');
  // A base time with a non-round nanosecond part, a minute in the past.
  const base = (BigInt(Date.now()) - 60_000n) * 1_000_000n + 123_457n;
  const t = (offsetNs: bigint): HrTime => nsToHr(base + offsetNs);

  // Trace B: parent is remote, context carries a trace state.
  const remoteParent: SpanContext = {
    traceId: randomHex(32),
    spanId: randomHex(16),
    traceFlags: 1,
    isRemote: true,
    traceState: new TraceState('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'),
  };
  const bSpan = tracer.startSpan('consume queue message', { kind: SpanKind.CONSUMER, startTime: t(5_000n), attributes: { 'messaging.system': 'kafka', 'exporter': label } }, otelTrace.setSpanContext(ROOT_CONTEXT, remoteParent));
  bSpan.setStatus({ code: SpanStatusCode.OK });
  bSpan.end(t(9_000_000n));
  const linkTarget = bSpan.spanContext();

  // Trace A.
  const root = tracer.startSpan('GET /checkout/{id}', {
    kind: SpanKind.SERVER,
    startTime: t(0n),
    attributes: { 'http.request.method': 'GET', 'http.route': '/checkout/{id}', 'http.response.status_code': 200, 'exporter': label },
  }, ROOT_CONTEXT);
  const rootCtx = otelTrace.setSpan(ROOT_CONTEXT, root);

  const db = dbTracer.startSpan('SELECT orders', {
    kind: SpanKind.CLIENT,
    startTime: t(1_000_001n),
    attributes: { 'db.system': 'postgresql', 'db.statement': 'SELECT * FROM orders WHERE id = $1', 'server.port': 5432 },
  }, rootCtx);
  db.end(t(3_999_999n));

  const work = tracer.startSpan('compute totals', { kind: SpanKind.INTERNAL, startTime: t(4_000_000n), attributes: EVERY_TYPE }, rootCtx);
  work.addEvent('cache.miss', { 'cache.key': 'user:42', 'retry.count': 3, 'hit.ratio': 0.5, 'fatal': false, 'tags': ['x', 'y'] }, t(4_100_000n));
  work.addEvent('no attributes here', t(4_200_001n));
  const err = new TypeError('card expired');
  err.stack = 'TypeError: card expired\n    at charge (payments.js:10:5)';
  work.recordException(err, t(4_300_000n));
  work.setStatus({ code: SpanStatusCode.ERROR, message: 'payment declined: card expired' });
  const workCtx = otelTrace.setSpan(ROOT_CONTEXT, work);

  const produce = tracer.startSpan('publish order.created', {
    kind: SpanKind.PRODUCER,
    startTime: t(4_500_000n),
    links: [
      { context: linkTarget, attributes: { 'link.kind': 'follows_from', 'link.index': 1 } },
      {
        context: { traceId: randomHex(32), spanId: randomHex(16), traceFlags: 1, isRemote: true, traceState: new TraceState('vendor=abc123') },
        attributes: { 'link.kind': 'external', 'link.weight': 0.75, 'link.sampled': true },
      },
    ],
  }, workCtx);
  produce.end(t(5_000_000n));

  const consume = tracer.startSpan('process order.created', {
    kind: SpanKind.CONSUMER,
    startTime: t(6_000_000n),
    links: [{ context: produce.spanContext() }],
  }, workCtx);
  consume.end(t(7_000_000n));

  work.end(t(8_000_000n));
  root.end(t(10_000_000n));
  return { traceA: root.spanContext().traceId, traceB: linkTarget.traceId, linkTarget };
}

function randomHex(len: number): string {
  let s = '';
  while (s.length < len) s += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  s = s.slice(0, len);
  return 'a' + s.slice(1); // never all zero
}

// ---------------------------------------------------------------------------------------------

type ExporterKind = 'grpc' | 'grpc-gzip' | 'http-proto' | 'http-json';

interface Sent {
  kind: ExporterKind;
  traceA: string;
  traceB: string;
  expectedA: NormSpan[];
  expectedB: NormSpan[];
}

function makeExporter(kind: ExporterKind, app: InProcessAndante): SpanExporter {
  const { otlpGrpc, otlpHttp } = app.ports;
  switch (kind) {
    case 'grpc':
      return new GrpcExporter({ url: `http://127.0.0.1:${otlpGrpc}` });
    case 'grpc-gzip':
      return new GrpcExporter({
        url: `http://127.0.0.1:${otlpGrpc}`,
        compression: 'gzip' as unknown as NonNullable<ConstructorParameters<typeof GrpcExporter>[0]>['compression'],
      });
    case 'http-proto':
      return new ProtoExporter({ url: `http://127.0.0.1:${otlpHttp}/v1/traces` });
    case 'http-json':
      return new JsonExporter({ url: `http://127.0.0.1:${otlpHttp}/v1/traces` });
  }
}

async function exportWithSdk(kind: ExporterKind, app: InProcessAndante): Promise<Sent> {
  const memory = new InMemorySpanExporter();
  const otlp = new RecordingExporter(makeExporter(kind, app));
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': `andante-sdk-test-${kind}`,
      'service.version': '1.2.3',
      'host.cpu.count': 8,
      'process.runtime.ratio': 0.25,
      'feature.enabled': true,
      'process.command_args': ['node', 'app.js', '--flag'],
      'deployment.environment.name': 'test',
    }),
    spanProcessors: [new SimpleSpanProcessor(memory), new BatchSpanProcessor(otlp, { scheduledDelayMillis: 60_000, maxExportBatchSize: 512 })],
  });
  try {
    const { traceA, traceB } = buildTraces(provider, kind);
    await provider.forceFlush();
    const spans = memory.getFinishedSpans();
    expect(spans).toHaveLength(6);
    expect(otlp.results.length).toBeGreaterThan(0);
    for (const r of otlp.results) {
      expect(r.error?.message, `${kind} export failed`).toBeUndefined();
      expect(r.code).toBe(ExportResultCode.SUCCESS);
    }
    expect(otlp.exportedSpans).toBe(6);
    const expected = expectedFromSdk(spans);
    return {
      kind,
      traceA,
      traceB,
      expectedA: expected.filter((s) => s.traceId === traceA),
      expectedB: expected.filter((s) => s.traceId === traceB),
    };
  } finally {
    await provider.shutdown();
  }
}

async function expectTraceMatches(port: number, traceId: string, expected: NormSpan[], what: string): Promise<void> {
  for (const version of ['v2', 'v1'] as const) {
    const res = await fetchTraceProto(port, traceId, version);
    expect(res.status, `${what}: GET ${version} trace ${traceId} → ${res.status} ${Buffer.from(res.body).toString()}`).toBe(200);
    const actual = normTrace(res.trace!);
    expect(actual.map((s) => s.spanId), `${what} (${version}): span IDs`).toEqual(expected.map((s) => s.spanId));
    for (let i = 0; i < expected.length; i++) {
      expect(actual[i], `${what} (${version}): span ${expected[i]!.name}`).toEqual(expected[i]);
    }
  }
}

describe('OpenTelemetry JS SDK → Andante → trace by ID', () => {
  let dir: string;
  let app: InProcessAndante;
  const sent: Sent[] = [];

  beforeAll(async () => {
    dir = makeTempDir('otel-sdk');
    app = await startInProcess(dir);
  });

  afterAll(async () => {
    await stopAllInProcess();
    removeTempDirs();
  });

  for (const kind of ['grpc', 'grpc-gzip', 'http-proto', 'http-json'] as const) {
    it(`exports through the ${kind} exporter and reads every span back exactly`, async () => {
      const s = await exportWithSdk(kind, app);
      expect(s.expectedA).toHaveLength(5);
      expect(s.expectedB).toHaveLength(1);
      sent.push(s);
      await expectTraceMatches(app.ports.http, s.traceA, s.expectedA, `${kind} trace A (live)`);
      await expectTraceMatches(app.ports.http, s.traceB, s.expectedB, `${kind} trace B (live)`);
    });
  }

  it('counts what it received in /metrics', async () => {
    expect(sent.length).toBe(4);
    expect(await getMetric(app.ports.http, 'tempo_distributor_spans_received_total')).toBeGreaterThanOrEqual(24);
    expect(await getMetric(app.ports.http, 'tempo_distributor_bytes_received_total')).toBeGreaterThan(0);
  });

  it('serves Tempo v1 JSON: base64 IDs, int64 as strings, enum names, zero values omitted', async () => {
    const s = sent.find((x) => x.kind === 'http-json') ?? sent[0]!;
    const { status, json } = await fetchTraceJson(app.ports.http, s.traceA, 'v1');
    expect(status).toBe(200);
    const doc = json as { batches: { resource: { attributes: { key: string; value: Record<string, unknown> }[] }; scopeSpans: { scope: { name: string; version?: string }; spans: Record<string, unknown>[] }[] }[] };
    expect(Object.keys(doc)).toEqual(['batches']);
    const all = doc.batches.flatMap((b) => b.scopeSpans.flatMap((ss) => ss.spans.map((sp) => ({ sp, scope: ss.scope, resource: b.resource }))));
    expect(all).toHaveLength(5);
    const b64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');

    const work = s.expectedA.find((x) => x.name === 'compute totals')!;
    const found = all.find((x) => x.sp['spanId'] === b64(work.spanId));
    expect(found, 'the INTERNAL span by its base64 span ID').toBeDefined();
    const sp = found!.sp;
    expect(sp['traceId']).toBe(b64(work.traceId));
    expect(sp['parentSpanId']).toBe(b64(work.parentSpanId));
    expect(sp['name']).toBe('compute totals');
    expect(sp['kind']).toBe('SPAN_KIND_INTERNAL');
    expect(sp['startTimeUnixNano']).toBe(work.startTimeUnixNano);
    expect(sp['endTimeUnixNano']).toBe(work.endTimeUnixNano);
    expect(sp['status']).toEqual({ code: 'STATUS_CODE_ERROR', message: 'payment declined: card expired' });
    const attrs = new Map((sp['attributes'] as { key: string; value: Record<string, unknown> }[]).map((a) => [a.key, a.value]));
    expect(attrs.get('int')).toEqual({ intValue: '42' });
    expect(attrs.get('int.neg')).toEqual({ intValue: '-7' });
    expect(attrs.get('double')).toEqual({ doubleValue: 3.14159 });
    expect(attrs.get('bool.true')).toEqual({ boolValue: true });
    expect(attrs.get('str')).toEqual({ stringValue: EVERY_TYPE['str'] });
    expect(attrs.get('arr.str')).toEqual({ arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }, { stringValue: 'c' }] } });
    expect(attrs.get('arr.int')).toEqual({ arrayValue: { values: [{ intValue: '1' }, { intValue: '-2' }, { intValue: '3000000000' }] } });
    const events = sp['events'] as { name: string; timeUnixNano: string; attributes?: unknown[] }[];
    expect(events.map((e) => e.name)).toEqual(['cache.miss', 'no attributes here', 'exception']);
    expect(events[0]!.timeUnixNano).toBe(work.events[0]!.timeUnixNano);
    expect(events[1]!.attributes, 'an event without attributes omits the field').toBeUndefined();
    // No zero-valued fields.
    expect(sp).not.toHaveProperty('droppedAttributesCount');
    expect(sp).not.toHaveProperty('droppedEventsCount');
    expect(sp).not.toHaveProperty('traceState');

    const root = all.find((x) => x.sp['name'] === 'GET /checkout/{id}')!.sp;
    expect(root, 'a root span has no parentSpanId field').not.toHaveProperty('parentSpanId');
    expect(root['kind']).toBe('SPAN_KIND_SERVER');
    expect(root, 'an UNSET status is omitted or empty').not.toHaveProperty('status.code');
    const consumer = all.find((x) => x.sp['name'] === 'process order.created')!.sp;
    expect(consumer['kind']).toBe('SPAN_KIND_CONSUMER');
    expect((consumer['links'] as { spanId: string }[])[0]!.spanId).toBe(b64(s.expectedA.find((x) => x.name === 'publish order.created')!.spanId));

    const res = found!.resource.attributes;
    expect(res.find((a) => a.key === 'service.name')?.value).toEqual({ stringValue: `andante-sdk-test-${s.kind}` });
    expect(res.find((a) => a.key === 'host.cpu.count')?.value).toEqual({ intValue: '8' });
    expect(found!.scope).toMatchObject({ name: 'andante-otel-test', version: '4.5.6' });

    const v2 = await fetchTraceJson(app.ports.http, s.traceA, 'v2');
    expect(v2.status).toBe(200);
    expect(Object.keys((v2.json as { trace: object }).trace)).toEqual(['resourceSpans']);
  });

  it('returns the same spans after /flush (read from the Parquet block)', async () => {
    expect(sent.length).toBe(4);
    const flushedBefore = await getMetric(app.ports.http, 'tempo_ingester_blocks_flushed_total');
    await flush(app.ports.http);
    const flushedAfter = await getMetric(app.ports.http, 'tempo_ingester_blocks_flushed_total');
    expect(flushedAfter).toBeGreaterThan(flushedBefore);
    const files = listFilesRecursive(join(dir, 'traces'));
    expect(files.some((f) => f.startsWith('single-tenant') && f.endsWith('meta.json')), `block files: ${files.join(', ')}`).toBe(true);
    for (const s of sent) {
      await expectTraceMatches(app.ports.http, s.traceA, s.expectedA, `${s.kind} trace A (flushed)`);
      await expectTraceMatches(app.ports.http, s.traceB, s.expectedB, `${s.kind} trace B (flushed)`);
    }
  });

  it('returns the same spans from the blocks alone (restart with an empty WAL)', async () => {
    expect(sent.length).toBe(4);
    await app.stop();
    const freshWal = join(dir, 'wal-empty');
    expect(existsSync(freshWal)).toBe(false);
    app = await startInProcess(dir, { storage: { trace: { wal: { path: freshWal } } } });
    for (const s of sent) {
      await expectTraceMatches(app.ports.http, s.traceA, s.expectedA, `${s.kind} trace A (from blocks only)`);
      await expectTraceMatches(app.ports.http, s.traceB, s.expectedB, `${s.kind} trace B (from blocks only)`);
    }
  });
});
