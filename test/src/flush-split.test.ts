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
  listFilesRecursive,
  makeTempDir,
  postOtlpHttp,
  removeTempDirs,
  startInProcess,
  stopAllInProcess,
  type InProcessAndante,
} from './harness.js';
import { duplicatesOf, encodeRequest, int, makeSpan, makeTrace, normTrace, randomSpanId, randomTraceId, spanIdsOf, str, type NormSpan } from './otlp.js';

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
