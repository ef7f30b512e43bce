// A trace whose spans arrive before and after a block flush is returned whole and without
// duplicate spans; a span sent twice (a client retry) is returned once: live, after /flush, and
// from the blocks alone after a restart with an empty WAL.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, type Span } from '@andante/model';
import {
  OtlpGrpcClient,
  decodeExportResponse,
  fetchTraceProto,
  flush,
  getMetric,
  listFilesRecursive,
  sleep,
  waitFor,
  makeTempDir,
  postOtlpHttp,
  removeTempDirs,
  startInProcess,
  stopAllInProcess,
  type InProcessAndante,
} from './harness.js';
import { bool, dbl, duplicatesOf, encodeRequest, int, makeSpan, makeTrace, normTrace, plain, randomSpanId, randomTraceId, spanIdsOf, str, type NormSpan } from './otlp.js';
import type { Trace } from '@andante/model';

describe('a trace split by a flush, and retried spans', () => {
  let dir: string;
  let app: InProcessAndante;
  const traceId = randomTraceId();
  const traceHex = bytesToHex(traceId);
  const base = BigInt(Date.now() - 30_000) * 1_000_000n;
  const rootId = randomSpanId();
  const mk = (name: string, i: number, parent: Uint8Array = rootId): Span =>
    makeSpan(traceId, i === 0 ? rootId : randomSpanId(), {
      parentSpanId: i === 0 ? new Uint8Array(0) : parent,
      name,
      kind: i === 0 ? 2 : 1,
      startNs: base + BigInt(i) * 1_000_000n,
      durationNs: 500_000n + BigInt(i),
      attributes: [str('part', name), int('index', i)],
    });
  const a = mk('A-root', 0);
  const b = mk('B', 1);
  const c = mk('C', 2, b.spanId);
  const d = mk('D', 3);
  const e = mk('E', 4);
  const sentSpans: Span[] = [];
  let blocksAfterFirstFlush = 0;

  const send = async (spans: Span[], via: 'http' | 'grpc' = 'http'): Promise<void> => {
    const body = encodeRequest(makeTrace(spans, 'flush-split'));
    if (via === 'http') {
      const res = await postOtlpHttp(app.ports.otlpHttp!, body);
      expect(res.status, res.text()).toBe(200);
      expect(decodeExportResponse(res.body).rejectedSpans).toBe(0);
    } else {
      const client = new OtlpGrpcClient(app.ports.otlpGrpc!);
      try {
        const ans = await client.export(body);
        expect(ans.ok, ans.ok ? '' : `${ans.code} ${ans.details}`).toBe(true);
      } finally {
        client.close();
      }
    }
    for (const s of spans) if (!sentSpans.some((x) => bytesToHex(x.spanId) === bytesToHex(s.spanId))) sentSpans.push(s);
  };

  const expected = (): NormSpan[] => normTrace(makeTrace(sentSpans, 'flush-split'));

  const expectWhole = async (what: string): Promise<void> => {
    for (const version of ['v2', 'v1'] as const) {
      const res = await fetchTraceProto(app.ports.http, traceHex, version);
      expect(res.status, `${what} (${version})`).toBe(200);
      const ids = spanIdsOf(res.trace!);
      expect(duplicatesOf(ids), `${what} (${version}): duplicate span IDs`).toEqual([]);
      expect(normTrace(res.trace!), `${what} (${version})`).toEqual(expected());
    }
  };

  beforeAll(async () => {
    dir = makeTempDir('flush-split');
    app = await startInProcess(dir);
  });

  afterAll(async () => {
    await stopAllInProcess();
    removeTempDirs();
  });

  it('returns the first part before any flush', async () => {
    await send([a, b]);
    await expectWhole('A,B live');
  });

  it('returns it after the first part was flushed to a block', async () => {
    await flush(app.ports.http);
    const metas = listFilesRecursive(join(dir, 'traces')).filter((f) => f.endsWith('meta.json'));
    expect(metas.length).toBeGreaterThanOrEqual(1);
    blocksAfterFirstFlush = metas.length;
    await expectWhole('A,B flushed');
  });

  it('combines the flushed part with spans that arrive after the flush, without duplicates', async () => {
    // C and D are new; B is sent again (a client retry that straddles the flush).
    await send([c, d, b], 'grpc');
    await expectWhole('A,B in a block + C,D,B live');
  });

  it('returns a span sent twice (client retry) once', async () => {
    await send([e]);
    await send([e], 'grpc');
    await expectWhole('E sent twice');
  });

  it('is whole and duplicate-free once both parts are in blocks', async () => {
    await flush(app.ports.http);
    const metas = listFilesRecursive(join(dir, 'traces')).filter((f) => f.endsWith('meta.json'));
    expect(metas.length).toBeGreaterThan(blocksAfterFirstFlush);
    await expectWhole('both parts flushed');
  });

  it('is whole from the blocks alone (restart with an empty WAL)', async () => {
    await app.stop();
    app = await startInProcess(dir, { storage: { trace: { wal: { path: join(dir, 'wal-empty') } } } });
    await expectWhole('blocks only');
    expect(sentSpans.map((s) => s.name).sort()).toEqual(['A-root', 'B', 'C', 'D', 'E']);
  });

  it('merges the same span duplicated across two blocks', async () => {
    // D again, now that D already lives in a block: after another flush the trace spans 3 blocks.
    await send([d]);
    await flush(app.ports.http);
    await expectWhole('D in two blocks');
  });
});

describe('every OTLP field survives the WAL, a block and a restart', () => {
  let dir: string;
  let app: InProcessAndante;

  beforeAll(async () => {
    dir = makeTempDir('all-fields');
    app = await startInProcess(dir);
  });
  afterAll(async () => {
    await stopAllInProcess();
    removeTempDirs();
  });

  it('returns the exact structure that was sent', async () => {
    const traceId = randomTraceId();
    const span = makeSpan(traceId, randomSpanId(), {
      parentSpanId: randomSpanId(),
      name: 'every field',
      kind: 5,
      statusCode: 2,
      statusMessage: 'boom',
      attributes: [
        str('s', 'x'),
        str('s.empty', ''),
        int('i', -9_007_199_254_740_993n), // beyond 2^53: int64 must stay exact
        int('i.max', 9_223_372_036_854_775_807n),
        dbl('d', -0.125),
        bool('b', false),
        { key: 'arr.mixed', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 1n }, { doubleValue: 2.5 }, { boolValue: true }] } } },
        { key: 'kv', value: { kvlistValue: { values: [str('inner', 'v'), { key: 'nested', value: { kvlistValue: { values: [int('deep', 3)] } } }] } } },
        { key: 'bytes', value: { bytesValue: new Uint8Array([0, 1, 254, 255]) } },
        { key: 'no.value', value: {} },
      ],
    });
    span.traceState = 'vendor=value,other=1';
    span.flags = 0x301;
    span.droppedAttributesCount = 2;
    span.droppedEventsCount = 3;
    span.droppedLinksCount = 4;
    span.events = [
      { timeUnixNano: span.startTimeUnixNano + 1n, name: 'ev1', attributes: [int('n', 1), { key: 'arr', value: { arrayValue: { values: [] } } }], droppedAttributesCount: 5 },
      { timeUnixNano: span.startTimeUnixNano + 2n, name: 'ev2', attributes: [], droppedAttributesCount: 0 },
    ];
    span.links = [
      { traceId: randomTraceId(), spanId: randomSpanId(), traceState: 'l=1', attributes: [str('link', 'a')], droppedAttributesCount: 6, flags: 0x101 },
      { traceId, spanId: randomSpanId(), traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 },
    ];
    const sent: Trace = makeTrace([span], 'all-fields', [int('res.int', 12), { key: 'res.arr', value: { arrayValue: { values: [{ stringValue: 'x' }] } } }]);
    sent.resourceSpans[0]!.schemaUrl = 'https://opentelemetry.io/schemas/1.26.0';
    sent.resourceSpans[0]!.resource.droppedAttributesCount = 7;
    const scopeSpans = sent.resourceSpans[0]!.scopeSpans[0]!;
    scopeSpans.schemaUrl = 'https://opentelemetry.io/schemas/1.25.0';
    scopeSpans.scope.attributes = [str('scope.attr', 'v'), int('scope.n', 8)];
    scopeSpans.scope.droppedAttributesCount = 1;

    const res = await postOtlpHttp(app.ports.otlpHttp!, encodeRequest(sent));
    expect(res.status, res.text()).toBe(200);
    const hex = bytesToHex(traceId);
    const check = async (stage: string): Promise<void> => {
      for (const version of ['v1', 'v2'] as const) {
        const got = await fetchTraceProto(app.ports.http, hex, version);
        expect(got.status, stage).toBe(200);
        expect(plain(got.trace), `${stage} (${version})`).toEqual(plain(sent));
      }
    };
    await check('live');
    await flush(app.ports.http);
    await check('flushed');
    await app.stop();
    app = await startInProcess(dir, { storage: { trace: { wal: { path: join(dir, 'wal-empty') } } } });
    await check('blocks only');
  });
});

describe('a trace split by the ingester\'s own cuts (no /flush)', () => {
  let app: InProcessAndante;

  beforeAll(async () => {
    app = await startInProcess(makeTempDir('auto-cut'), {
      ingester: { trace_idle_period: '100ms', flush_check_period: '50ms', max_block_duration: '300ms' },
    });
  });
  afterAll(async () => {
    await stopAllInProcess();
    removeTempDirs();
  });

  it('is returned whole while its parts are live, in the head block and in flushed blocks', async () => {
    const traceId = randomTraceId();
    const hex = bytesToHex(traceId);
    const root = randomSpanId();
    const spans = [makeSpan(traceId, root, { name: 'first' }), makeSpan(traceId, randomSpanId(), { parentSpanId: root, name: 'second' }), makeSpan(traceId, randomSpanId(), { parentSpanId: root, name: 'third' })];
    const post = async (s: Span): Promise<void> => {
      const res = await postOtlpHttp(app.ports.otlpHttp!, encodeRequest(makeTrace([s], 'auto-cut')));
      expect(res.status, res.text()).toBe(200);
    };
    const expectIds = async (ids: string[], stage: string): Promise<void> => {
      const got = await fetchTraceProto(app.ports.http, hex, 'v2');
      expect(got.status, stage).toBe(200);
      const have = spanIdsOf(got.trace!);
      expect(duplicatesOf(have), `${stage}: duplicates`).toEqual([]);
      expect(have.sort(), stage).toEqual([...ids].sort());
    };
    const flushed0 = await getMetric(app.ports.http, 'tempo_ingester_blocks_flushed_total');
    await post(spans[0]!);
    await expectIds([bytesToHex(root)], 'first part live');
    await waitFor(async () => (await getMetric(app.ports.http, 'tempo_ingester_blocks_flushed_total')) > flushed0, 10_000, 'the first part to be flushed by the ingester itself');
    const flushed1 = await getMetric(app.ports.http, 'tempo_ingester_blocks_flushed_total');
    await expectIds([bytesToHex(root)], 'first part flushed');
    await post(spans[1]!);
    await post(spans[0]!); // a late retry of the first span
    await expectIds(spans.slice(0, 2).map((s) => bytesToHex(s.spanId)), 'second part live');
    await sleep(150); // past trace_idle_period: cut to the head block
    await post(spans[2]!);
    await expectIds(spans.map((s) => bytesToHex(s.spanId)), 'three parts');
    await waitFor(async () => (await getMetric(app.ports.http, 'tempo_ingester_blocks_flushed_total')) > flushed1, 10_000, 'the rest to be flushed');
    await sleep(400);
    await expectIds(spans.map((s) => bytesToHex(s.spanId)), 'all flushed');
  });
});
