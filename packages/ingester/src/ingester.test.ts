import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Registry } from 'prom-client';
import {
  LimitExceededError,
  UnavailableError,
  combineTraces,
  countSpans,
  encodeTrace,
  silentLogger,
  staticLimits,
  defaultTenantLimits,
  type CompiledSearch,
  type Span,
  type Trace,
  type TraceSegment,
  type TenantLimits,
} from '@andante/model';
import { LocalBackend, type Backend } from '@andante/backend';
import { BackendBlock, BlockEncoderPool, listBlockMetas } from '@andante/storage';
import { Ingester, type IngesterDeps } from './ingester.js';
import { defaultIngesterConfig, type IngesterConfig } from './config.js';

function traceId(n: number): Uint8Array {
  const id = new Uint8Array(16);
  id[0] = 0xab;
  id[15] = n;
  return id;
}

function span(tid: Uint8Array, n: number): Span {
  const spanId = new Uint8Array(8);
  spanId[7] = n;
  spanId[0] = 1;
  return {
    traceId: tid,
    spanId,
    traceState: '',
    parentSpanId: new Uint8Array(0),
    flags: 0,
    name: `op-${n}`,
    kind: 2,
    startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(n),
    endTimeUnixNano: 1_700_000_000_500_000_000n + BigInt(n),
    attributes: [{ key: 'n', value: { intValue: BigInt(n) } }],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
  };
}

function segment(tid: Uint8Array, spanNumbers: number[]): TraceSegment {
  const trace: Trace = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }], droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: 's', version: '1', attributes: [], droppedAttributesCount: 0 }, spans: spanNumbers.map((n) => span(tid, n)), schemaUrl: '' }],
        schemaUrl: '',
      },
    ],
  };
  return { traceId: tid, bytes: encodeTrace(trace), spanCount: spanNumbers.length, startTimeUnixNano: 0n, endTimeUnixNano: 0n };
}

const running: Ingester[] = [];
afterEach(async () => {
  for (const i of running.splice(0)) await i.stop();
});

async function makeIngester(
  dir: string,
  cfg: Partial<IngesterConfig> = {},
  limits: Partial<TenantLimits> = {},
  replicationFactor?: number,
  backend = new LocalBackend(join(dir, 'traces')),
  deps: Partial<IngesterDeps> = {},
): Promise<{ ing: Ingester; backend: LocalBackend; registry: Registry }> {
  const registry = new Registry();
  const ing = new Ingester({
    cfg: { ...defaultIngesterConfig(), flushCheckPeriodMs: 60_000, flushAllOnShutdown: false, ...cfg },
    walPath: join(dir, 'wal'),
    backend,
    limits: staticLimits({ ...defaultTenantLimits(), ...limits }),
    registry,
    logger: silentLogger,
    ...(replicationFactor !== undefined ? { replicationFactor } : {}),
    ...deps,
  });
  await ing.start();
  running.push(ing);
  return { ing, backend, registry };
}

/** The tenant's WAL files (not the flushed-block records beside them). */
const walFiles = async (dir: string): Promise<string[]> => (await readdir(join(dir, 'wal', 't1'))).filter((f) => f.endsWith('.wal'));

/** Reads a trace as a querier does: the ingester's memory, then the blocks it names as flushed. */
async function readTrace(ing: Ingester, backend: Backend, tenantId: string, id: Uint8Array): Promise<Trace | null> {
  const answer = await ing.findTraceById(tenantId, id);
  const fromBlocks = await Promise.all((answer.flushedBlocks ?? []).map((m) => new BackendBlock(backend, m).findTraceById(id)));
  const parts = [answer.trace, ...fromBlocks].filter((t): t is Trace => t !== null);
  return parts.length > 0 ? combineTraces(parts) : null;
}

/**
 * Rewrites a span name inside a WAL file (same length; the CRC is not read back): answers that
 * change with it came from the file, not from memory.
 */
async function rewriteInFile(path: string, from: string, to: string): Promise<void> {
  const bytes = await readFile(path);
  const at = bytes.indexOf(Buffer.from(from));
  expect(at).toBeGreaterThan(0);
  bytes.set(Buffer.from(to), at);
  await writeFile(path, bytes);
}

/** Writes to the backend fail until `writable` is set: cut blocks stay sealed and unflushed meanwhile. */
class HeldBackend extends LocalBackend {
  writable = false;
  override async write(...args: Parameters<LocalBackend['write']>): Promise<void> {
    if (!this.writable) throw new Error('backend held by the test');
    return super.write(...args);
  }
}

const spanNames = (t: Trace | null): string[] =>
  (t?.resourceSpans ?? []).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name))).sort();

describe('Ingester', () => {
  it('finds a trace as soon as the push resolves, and after it was flushed to a block', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const { ing, backend } = await makeIngester(dir);
    await ing.push({ tenantId: 't1', segments: [segment(traceId(1), [1, 2])] });
    await ing.push({ tenantId: 't1', segments: [segment(traceId(1), [3]), segment(traceId(2), [9])] });
    expect(spanNames(await readTrace(ing, backend, 't1', traceId(1)))).toEqual(['op-1', 'op-2', 'op-3']);
    expect(await readTrace(ing, backend, 't2', traceId(1))).toBeNull();

    await ing.flushAll();
    const metas = await listBlockMetas(backend, 't1');
    expect(metas).toHaveLength(1);
    expect(metas[0]!.totalObjects).toBe(2);
    expect(await walFiles(dir)).toEqual([expect.stringMatching(/\.wal$/)]); // only the new, empty head
    expect(spanNames(await readTrace(ing, backend, 't1', traceId(1)))).toEqual(['op-1', 'op-2', 'op-3']);
  });

  it('records its ring\'s replication factor in every block it flushes (1 by default), in meta.json and in the metas it names', async () => {
    for (const [rf, want] of [[undefined, 1], [3, 3]] as const) {
      const dir = await mkdtemp(join(tmpdir(), 'ing-rf-'));
      const { ing, backend } = await makeIngester(dir, {}, {}, rf);
      await ing.push({ tenantId: 't1', segments: [segment(traceId(1), [1, 2])] });
      await ing.flushAll();
      const metas = await listBlockMetas(backend, 't1');
      expect(metas.map((m) => m.replicationFactor)).toEqual([want]);
      expect((await ing.findTraceById('t1', traceId(1))).flushedBlocks?.map((m) => m.replicationFactor)).toEqual([want]);
    }
  });

  it('a stop flushes the pushes it already accepted and refuses new ones with UNAVAILABLE (the distributor retries elsewhere)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const { ing, backend } = await makeIngester(dir, { flushAllOnShutdown: true });
    // Accepted (not yet durable) when the stop begins: it must be in the final flush.
    const accepted = ing.push({ tenantId: 't1', segments: [segment(traceId(7), [1, 2])] });
    const stopping = ing.stop();
    const refused = await ing.push({ tenantId: 't1', segments: [segment(traceId(8), [1])] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnavailableError);
    expect((refused as Error).message).toMatch(/shutting down/);
    await accepted;
    await stopping;
    const metas = await listBlockMetas(backend, 't1');
    expect(metas.reduce((n, m) => n + m.totalSpans, 0)).toBe(2);
    // Nothing left for a replacement on the same WAL directory to replay.
    const next = await makeIngester(dir);
    expect(await next.registry.metrics()).toMatch(/^tempo_ingester_wal_replayed_segments_total 0$/m);
  });

  it('replays the WAL after a stop without flushing, losing nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const first = await makeIngester(dir);
    await first.ing.push({ tenantId: 't1', segments: [segment(traceId(5), [1, 2, 3])] });
    await first.ing.stop();

    const second = await makeIngester(dir);
    expect(spanNames(await readTrace(second.ing, second.backend, 't1', traceId(5)))).toEqual(['op-1', 'op-2', 'op-3']);
    await second.ing.flushAll();
    const metas = await listBlockMetas(second.backend, 't1');
    expect(metas.map((m) => m.totalSpans)).toEqual([3]);
  });

  it('removes duplicate spans (client retries) when reading', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const { ing, backend } = await makeIngester(dir);
    await ing.push({ tenantId: 't1', segments: [segment(traceId(7), [1, 2])] });
    await ing.push({ tenantId: 't1', segments: [segment(traceId(7), [1, 2])] });
    const trace = await readTrace(ing, backend, 't1', traceId(7));
    expect(countSpans(trace!)).toBe(2);
  });

  it('refuses traces over max_bytes_per_trace and beyond max_traces_per_user', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const big = segment(traceId(1), [1, 2, 3, 4, 5]);
    const { ing, backend } = await makeIngester(dir, {}, { maxTracesPerUser: 2, maxBytesPerTrace: big.bytes.length - 1 });
    const r1 = await ing.push({ tenantId: 't1', segments: [big] });
    expect(r1.rejected.map((r) => r.reason)).toEqual(['trace_too_large']);
    expect(r1.rejected[0]!.message).toContain('global.max_bytes_per_trace');

    const r2 = await ing.push({ tenantId: 't1', segments: [segment(traceId(2), [1]), segment(traceId(3), [1]), segment(traceId(4), [1])] });
    expect(r2.rejected.map((r) => [r.reason, r.traceId[15]])).toEqual([['live_traces_exceeded', 4]]);
    expect(await readTrace(ing, backend, 't1', traceId(4))).toBeNull();
    // A span for a trace that is already live is still accepted.
    const r3 = await ing.push({ tenantId: 't1', segments: [segment(traceId(2), [2])] });
    expect(r3.rejected).toEqual([]);
  });

  it('cuts idle traces and completes the head block when it is due, keeping live traces whole', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    // Periods a loaded machine cannot outlast between a push and the next sweep (trace 2 must be live).
    const { ing, backend } = await makeIngester(dir, { traceIdlePeriodMs: 1_000, maxBlockDurationMs: 1_000 });
    await ing.push({ tenantId: 't1', segments: [segment(traceId(1), [1])] });
    await new Promise((r) => setTimeout(r, 1_100));
    await ing.push({ tenantId: 't1', segments: [segment(traceId(2), [1])] }); // live at cut time
    await ing.sweep();
    await ing.sweep();
    await waitFor(async () => (await listBlockMetas(backend, 't1')).length >= 1);
    // Trace 1 only: trace 2 was live and moved to the new head (which a slow machine's second sweep may cut too).
    const traceCounts = (await listBlockMetas(backend, 't1')).map((m) => m.totalObjects);
    expect(traceCounts).toEqual(traceCounts.map(() => 1));
    expect(spanNames(await readTrace(ing, backend, 't1', traceId(2)))).toEqual(['op-1']);
  });

  it('refuses pushes while max_unflushed_bytes is held, and takes them again once blocks are flushed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const seg = (n: number): TraceSegment => segment(traceId(n), [1, 2]);
    const size = seg(1).bytes.byteLength;
    const { ing, backend, registry } = await makeIngester(dir, { maxUnflushedBytes: Math.floor(size * 2.5) });
    const gauge = async (): Promise<number> => Number(/andante_ingester_unflushed_bytes (\d+)/.exec(await registry.metrics())![1]);
    await ing.push({ tenantId: 't1', segments: [seg(1)] });
    await ing.push({ tenantId: 't2', segments: [seg(2)] }); // the budget is shared by tenants
    expect(await gauge()).toBe(2 * size);

    const err = await ing.push({ tenantId: 't1', segments: [seg(3)] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitExceededError);
    expect((err as LimitExceededError).reason).toBe('unflushed_bytes_exceeded');
    expect((err as LimitExceededError).message).toMatch(/^UNFLUSHED_BYTES_EXCEEDED: .*ingester\.max_unflushed_bytes/);
    expect((err as LimitExceededError).retryAfterSeconds).toBeGreaterThan(0);
    expect(await readTrace(ing, backend, 't1', traceId(3))).toBeNull();

    // The refusal started a sweep; flushAll waits for what it started and writes the rest.
    await ing.flushAll();
    expect(await gauge()).toBe(0);
    await ing.push({ tenantId: 't1', segments: [seg(3)] });
    for (const [tenant, n] of [['t1', 1], ['t2', 2], ['t1', 3]] as const) {
      expect(spanNames(await readTrace(ing, backend, tenant, traceId(n)))).toEqual(['op-1', 'op-2']);
    }
    expect((await listBlockMetas(backend, 't2')).map((m) => m.totalObjects)).toEqual([1]);
    // One push larger than the whole budget is still taken by an ingester that holds nothing.
    await ing.flushAll();
    const huge = segment(traceId(9), Array.from({ length: 40 }, (_, i) => i + 1));
    expect(huge.bytes.byteLength).toBeGreaterThan(size * 2.5);
    await expect(ing.push({ tenantId: 't1', segments: [huge] })).resolves.toEqual({ rejected: [] });
  });

  it('cuts a head block that holds half of max_unflushed_bytes, before max_block_bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const seg = segment(traceId(1), [1, 2]);
    const { ing, backend } = await makeIngester(dir, { maxUnflushedBytes: seg.bytes.byteLength * 2 });
    await ing.push({ tenantId: 't1', segments: [seg] });
    await ing.sweep();
    await waitFor(async () => (await listBlockMetas(backend, 't1')).length === 1);
    expect((await listBlockMetas(backend, 't1')).map((m) => m.totalSpans)).toEqual([2]);
  });

  it('writes a large cut block as one block per encoder worker, and removes its WAL once all are written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    class TwoWorkers extends BlockEncoderPool {
      override get parallelism(): number {
        return 2;
      }
    }
    const backend = new LocalBackend(join(dir, 'traces'));
    const ing = new Ingester({
      cfg: { ...defaultIngesterConfig(), flushCheckPeriodMs: 60_000, flushAllOnShutdown: false },
      encoder: new TwoWorkers(),
      minSplitPartBytes: 1,
      walPath: join(dir, 'wal'),
      backend,
      limits: staticLimits(defaultTenantLimits()),
      registry: new Registry(),
      logger: silentLogger,
    });
    await ing.start();
    running.push(ing);
    const ids = Array.from({ length: 10 }, (_, i) => traceId(i + 1));
    await ing.push({ tenantId: 't1', segments: ids.map((id) => segment(id, [1, 2, 3])) });
    await ing.flushAll();
    const metas = await listBlockMetas(backend, 't1');
    expect(metas).toHaveLength(2);
    expect(metas.reduce((n, m) => n + m.totalObjects, 0)).toBe(10);
    expect(await walFiles(dir)).toHaveLength(1); // only the new, empty head
    for (const id of ids) expect(spanNames(await readTrace(ing, backend, 't1', id))).toEqual(['op-1', 'op-2', 'op-3']);
  });

  it('reads a sealed block from its WAL file, not from memory, for lookups and for its flush', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const held = new HeldBackend(join(dir, 'traces'));
    const { ing, backend } = await makeIngester(dir, { flushRetryMs: 0 }, {}, undefined, held);
    await ing.push({ tenantId: 't1', segments: [segment(traceId(1), [1, 2]), segment(traceId(2), [5])] });
    await ing.push({ tenantId: 't1', segments: [segment(traceId(1), [3])] });
    const [walName] = await walFiles(dir);
    await ing.flushAll(); // cuts and seals the head; its write fails and is kept for a retry
    expect(await listBlockMetas(backend, 't1')).toEqual([]);
    expect(spanNames(await readTrace(ing, backend, 't1', traceId(1)))).toEqual(['op-1', 'op-2', 'op-3']);

    await rewriteInFile(join(dir, 'wal', 't1', walName!), 'op-2', 'op-X');
    expect(spanNames(await readTrace(ing, backend, 't1', traceId(1)))).toEqual(['op-1', 'op-3', 'op-X']);
    expect(spanNames(await readTrace(ing, backend, 't1', traceId(2)))).toEqual(['op-5']);

    // The flush, retried, reads the file too; the block holds what the file holds.
    held.writable = true;
    await ing.flushAll();
    const metas = await listBlockMetas(backend, 't1');
    expect(metas.map((m) => m.totalObjects)).toEqual([2]);
    expect(spanNames(await new BackendBlock(backend, metas[0]!).findTraceById(traceId(1)))).toEqual(['op-1', 'op-3', 'op-X']);
    expect(spanNames(await readTrace(ing, backend, 't1', traceId(2)))).toEqual(['op-5']);
    expect(await walFiles(dir)).toHaveLength(1); // the sealed block's file is gone; the new head's is left
  });

  it("reads the head's acknowledged segments from its WAL file, and carries a live trace whole to the next head at a cut", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const dir = await mkdtemp(join(tmpdir(), 'ing-'));
      const { ing, backend } = await makeIngester(dir, { maxBlockDurationMs: 40_000, traceIdlePeriodMs: 40_000 });
      await ing.push({ tenantId: 't1', segments: [segment(traceId(2), [10, 11, 12, 13, 14, 15, 16, 17]), segment(traceId(1), [1, 2])] });
      const [firstWal] = await walFiles(dir);
      await rewriteInFile(join(dir, 'wal', 't1', firstWal!), 'op-2', 'op-X');
      expect(spanNames(await readTrace(ing, backend, 't1', traceId(1)))).toEqual(['op-1', 'op-X']);

      // Trace 1 stays live, trace 2 goes idle; the head is cut for its age and trace 1 moves on.
      vi.setSystemTime(Date.now() + 30_000);
      await ing.push({ tenantId: 't1', segments: [segment(traceId(1), [3])] });
      vi.setSystemTime(Date.now() + 15_000);
      await ing.sweep();
      await waitFor(async () => (await listBlockMetas(backend, 't1')).length === 1);
      const [cut] = await listBlockMetas(backend, 't1');
      expect(cut!.totalObjects).toBe(1);
      expect(spanNames(await new BackendBlock(backend, cut!).findTraceById(traceId(2)))).toHaveLength(8);
      // Carried whole, its first segment read back from the old file: the next head's file holds it.
      const [nextWal] = await walFiles(dir);
      expect(nextWal).not.toBe(firstWal);
      expect((await readFile(join(dir, 'wal', 't1', nextWal!))).includes('op-X')).toBe(true);
      expect(spanNames(await readTrace(ing, backend, 't1', traceId(1)))).toEqual(['op-1', 'op-3', 'op-X']);
      await rewriteInFile(join(dir, 'wal', 't1', nextWal!), 'op-3', 'op-Y');
      expect(spanNames(await readTrace(ing, backend, 't1', traceId(1)))).toEqual(['op-1', 'op-X', 'op-Y']);
      await ing.flushAll();
      const metas = await listBlockMetas(backend, 't1');
      const last = metas.find((m) => m.blockID !== cut!.blockID)!;
      expect(spanNames(await new BackendBlock(backend, last).findTraceById(traceId(1)))).toEqual(['op-1', 'op-X', 'op-Y']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('reads a block replayed from a WAL file from that file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const first = await makeIngester(dir);
    await first.ing.push({ tenantId: 't1', segments: [segment(traceId(5), [1, 2, 3])] });
    await first.ing.stop();
    const [walName] = await walFiles(dir);
    const held = new HeldBackend(join(dir, 'traces'));
    const second = await makeIngester(dir, {}, {}, undefined, held);
    await rewriteInFile(join(dir, 'wal', 't1', walName!), 'op-2', 'op-X');
    expect(spanNames(await readTrace(second.ing, held, 't1', traceId(5)))).toEqual(['op-1', 'op-3', 'op-X']);
    held.writable = true;
    await second.ing.flushAll();
    const [meta] = await listBlockMetas(held, 't1');
    expect(spanNames(await new BackendBlock(held, meta!).findTraceById(traceId(5)))).toEqual(['op-1', 'op-3', 'op-X']);
  });

  it('searches every trace over a sealed block and the head, whole, across many read batches', async () => {
    // A stand-in for TraceQL (the ingester takes any compiler): the query names spans a trace must
    // all have; no pushdown, so every trace is read and decoded.
    const compileSearch = (query: string): CompiledSearch => ({
      match(trace) {
        const names = new Set(spanNames(trace));
        if (!query.split(',').every((n) => names.has(n))) return null;
        const id = trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;
        return { traceID: Buffer.from(id).toString('hex'), rootServiceName: 'svc', rootTraceName: '', startTimeUnixNano: 0n, durationMs: 0, spanSets: [], serviceStats: {} };
      },
    });
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const held = new HeldBackend(join(dir, 'traces'));
    const { ing } = await makeIngester(dir, {}, {}, undefined, held, { compileSearch });
    const id = (n: number): Uint8Array => {
      const t = traceId(n % 256);
      t[14] = n >> 8;
      return t;
    };
    const push = (from: number, to: number, spans: (n: number) => number[]): Promise<unknown> =>
      ing.push({ tenantId: 't1', segments: Array.from({ length: to - from }, (_, i) => segment(id(from + i), spans(from + i))) });
    // 700 traces in the block to be sealed; the even ones continue in the next head.
    await push(0, 700, (n) => [1, 2 + (n % 5)]);
    await ing.flushAll(); // sealed, its write held: read from its file
    await push(0, 700, (n) => (n % 2 === 0 ? [7] : []).concat(n % 3 === 0 ? [8] : []).filter((x) => x > 0));
    const search = (query: string) => ing.search('t1', { query, startSeconds: 0, endSeconds: 0, limit: 10_000, spss: 0 });
    const expected = (keep: (n: number) => boolean): string[] =>
      Array.from({ length: 700 }, (_, n) => n).filter(keep).map((n) => Buffer.from(id(n)).toString('hex')).sort();
    const both = await search('op-1,op-7,op-8');
    expect(both.traces.map((t) => t.traceID).sort()).toEqual(expected((n) => n % 6 === 0));
    expect(both.metrics.inspectedTraces).toBe(700);
    const inBlock = await search('op-4');
    expect(inBlock.traces.map((t) => t.traceID).sort()).toEqual(expected((n) => n % 5 === 2));
  });

  it('cuts a head whole when live traces hold most of it, and they stop counting as live', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const { ing, backend, registry } = await makeIngester(dir, { maxBlockBytes: 1 }, { maxTracesPerUser: 2 });
    await ing.push({ tenantId: 't1', segments: [segment(traceId(1), [1]), segment(traceId(2), [1])] }); // both live
    await ing.sweep(); // due by bytes; carrying both would move the whole block
    await waitFor(async () => (await listBlockMetas(backend, 't1')).length === 1);
    expect((await listBlockMetas(backend, 't1'))[0]!.totalObjects).toBe(2);
    expect(await registry.metrics()).toMatch(/tempo_ingester_live_traces\{tenant="t1"\} 0/);
    const r = await ing.push({ tenantId: 't1', segments: [segment(traceId(3), [1]), segment(traceId(1), [2])] });
    expect(r.rejected).toEqual([]); // max_traces_per_user counts only the new head's live traces
    expect(spanNames(await readTrace(ing, backend, 't1', traceId(1)))).toEqual(['op-1', 'op-2']);
  });

  it('answers every acknowledged trace at every moment while heads are cut and blocks flushed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const { ing, backend, registry } = await makeIngester(dir, { maxBlockDurationMs: 1, traceIdlePeriodMs: 1 });
    const acknowledged: Uint8Array[] = [];
    let done = false;
    let reads = 0;
    const missed: number[] = [];
    // A reader in a tight loop: it gets a turn at every await of the cuts and flushes.
    const reader = (async () => {
      while (!done) {
        for (const id of [...acknowledged]) {
          reads++;
          if (!(await readTrace(ing, backend, 't1', id))) missed.push(id[15]!);
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let n = 1; n <= 24; n++) {
      const id = traceId(n);
      await ing.push({ tenantId: 't1', segments: [segment(id, [1, 2])] });
      acknowledged.push(id);
      // Alternately the flush loop (cut, then flushes started in the background) and /flush.
      if (n % 2 === 0) await ing.flushAll();
      else await ing.sweep();
      await new Promise((r) => setTimeout(r, 5));
    }
    await ing.flushAll();
    done = true;
    await reader;
    expect(missed).toEqual([]);
    expect(reads).toBeGreaterThan(24 * 3);
    expect(Number(/tempo_ingester_blocks_flushed_total (\d+)/.exec(await registry.metrics())![1])).toBeGreaterThanOrEqual(20);
  });

  it('keeps what a restarted ingester acknowledges durable when it restored flushed blocks (three runs, no flush at stop)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const first = await makeIngester(dir);
    await first.ing.push({ tenantId: 't1', segments: [segment(traceId(1), [1])] });
    await first.ing.flushAll(); // leaves a flushed-block record
    await first.ing.push({ tenantId: 't1', segments: [segment(traceId(2), [1])] });
    await first.ing.stop();
    const second = await makeIngester(dir); // restores the record, replays trace 2, opens a new head
    await second.ing.push({ tenantId: 't1', segments: [segment(traceId(3), [1])] });
    await second.ing.stop();
    const { ing, backend } = await makeIngester(dir);
    for (const n of [1, 2, 3]) expect(spanNames(await readTrace(ing, backend, 't1', traceId(n))), `trace ${n}`).toEqual(['op-1']);
  });

  it('names a flushed block to readers for complete_block_timeout, then leaves it to the blocklist', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const first = await makeIngester(dir, { completeBlockTimeoutMs: 400 });
    await first.ing.push({ tenantId: 't1', segments: [segment(traceId(1), [1, 2])] });
    await first.ing.flushAll();
    const [meta] = await listBlockMetas(first.backend, 't1');
    const answer = await first.ing.findTraceById('t1', traceId(1));
    expect(answer.trace).toBeNull(); // no longer in memory
    expect(answer.flushedBlocks).toEqual([meta]);
    // A restarted ingester still names it (Tempo's ingesters find their complete blocks on local disk).
    await first.ing.stop();
    const { ing } = await makeIngester(dir, { completeBlockTimeoutMs: 400 });
    expect((await ing.findTraceById('t1', traceId(1))).flushedBlocks).toEqual([meta]);
    expect(await readdir(join(dir, 'wal', 't1'))).toContain(`${meta!.blockID}.flushed.json`);
    await new Promise((r) => setTimeout(r, 420));
    await ing.sweep();
    expect((await ing.findTraceById('t1', traceId(1))).flushedBlocks).toEqual([]);
    expect(await readdir(join(dir, 'wal', 't1'))).not.toContain(`${meta!.blockID}.flushed.json`);
  });

  it('cuts a head once when a sweep and flushes race (the /flush endpoint during the flush loop)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ing-'));
    const { ing, backend } = await makeIngester(dir, { maxBlockBytes: 1 });
    await ing.push({ tenantId: 't1', segments: [segment(traceId(1), [1, 2])] });
    await Promise.all([ing.sweep(), ing.flushAll(), ing.flushAll()]);
    await ing.flushAll();
    expect((await listBlockMetas(backend, 't1')).map((m) => m.totalSpans)).toEqual([2]);
    expect(await walFiles(dir)).toHaveLength(1); // only the current head
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
