import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import {
  combineTraces,
  countSpans,
  defaultTenantLimits,
  silentLogger,
  staticLimits,
  type Span,
  type Trace,
} from '@andante/model';
import { LocalBackend } from '@andante/backend';
import {
  BackendBlock,
  BlockEncoderPool,
  encodeBlockMeta,
  listTenantBlocks,
  writeBlock,
  newBlockId,
  META_NAME,
  type BlockMeta,
} from '@andante/storage';
import { Compactor } from './compactor.js';
import { defaultCompactorConfig, type CompactorConfig } from './config.js';
import { HashJobOwnership } from './ownership.js';

const encoder = new BlockEncoderPool();
afterAll(() => encoder.close());

const HOUR = 3_600_000n * 1_000_000n;
const T0 = 1_800_000_000_000n * 1_000_000n; // unix ns, an hour boundary

function tid(n: number): Uint8Array {
  const id = new Uint8Array(16);
  id[0] = 0x10 + (n % 200);
  id[14] = n >> 8;
  id[15] = n & 0xff;
  return id;
}

function span(traceId: Uint8Array, n: number, startNs: bigint): Span {
  const spanId = new Uint8Array(8);
  spanId[0] = 7;
  spanId[6] = n >> 8;
  spanId[7] = n & 0xff;
  return {
    traceId, spanId, traceState: '', parentSpanId: new Uint8Array(0), flags: 0, name: `op-${n}`, kind: 2,
    startTimeUnixNano: startNs, endTimeUnixNano: startNs + 1_000_000n, attributes: [{ key: 'n', value: { intValue: BigInt(n) } }],
    droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' },
  };
}

function trace(traceId: Uint8Array, spans: number[], startNs: bigint): Trace {
  return {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 'lib', version: '1', attributes: [], droppedAttributesCount: 0 }, spans: spans.map((s) => span(traceId, s, startNs)), schemaUrl: '' }],
      schemaUrl: '',
    }],
  };
}

/** Writes one block holding the given traces (IDs and span numbers), starting at startNs. */
async function cut(backend: LocalBackend, tenant: string, traces: [number, number[]][], startNs: bigint): Promise<BlockMeta> {
  const entries = traces
    .map(([n, spans]) => ({ traceId: tid(n), trace: trace(tid(n), spans, startNs) }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.traceId), Buffer.from(b.traceId)));
  return writeBlock(backend, tenant, newBlockId(), entries);
}

async function setup(cfg: Partial<CompactorConfig> = {}, startMs = Number(T0 / 1_000_000n)) {
  const dir = await mkdtemp(join(tmpdir(), 'compactor-'));
  const backend = new LocalBackend(dir);
  const clock = { now: startMs };
  const registry = new Registry();
  const compactor = new Compactor({
    cfg: { ...defaultCompactorConfig(), ...cfg },
    backend,
    encoder,
    limits: staticLimits(defaultTenantLimits()),
    registry,
    logger: silentLogger,
    now: () => clock.now,
  });
  return { backend, compactor, clock, registry };
}

/** What a reader sees for a trace across every visible block. */
async function readTrace(backend: LocalBackend, tenant: string, n: number): Promise<Trace | null> {
  const { metas } = await listTenantBlocks(backend, tenant);
  const parts = (await Promise.all(metas.map((m) => new BackendBlock(backend, m).findTraceById(tid(n))))).filter((t): t is Trace => t !== null);
  return parts.length ? combineTraces(parts) : null;
}

const spanNames = (t: Trace | null): string[] => (t?.resourceSpans ?? []).flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((x) => x.name))).sort();

describe('Compactor', () => {
  it('merges small blocks of a window into one, combining split traces, and every trace reads as before', async () => {
    const { backend, compactor, registry } = await setup();
    // Trace 1 is split across three blocks, with a duplicated span (a client retry).
    await cut(backend, 't', [[1, [1, 2]], [2, [1]]], T0);
    await cut(backend, 't', [[1, [2, 3]], [3, [1, 2]]], T0 + 1_000n);
    await cut(backend, 't', [[1, [4]], [4, [9]]], T0 + 2_000n);
    const before = await Promise.all([1, 2, 3, 4].map((n) => readTrace(backend, 't', n)));

    const result = await compactor.runCycle();
    expect(result.compactions).toBe(1);
    const { metas, compacted } = await listTenantBlocks(backend, 't');
    expect(metas).toHaveLength(1);
    expect(metas[0]!.compactionLevel).toBe(1);
    expect(metas[0]!.totalObjects).toBe(4);
    expect(compacted).toHaveLength(3);
    const after = await Promise.all([1, 2, 3, 4].map((n) => readTrace(backend, 't', n)));
    expect(after.map(spanNames)).toEqual(before.map(spanNames));
    expect(spanNames(after[0]!)).toEqual(['op-1', 'op-2', 'op-3', 'op-4']);
    expect(countSpans(after[0]!)).toBe(4);
    const text = await registry.metrics();
    expect(text).toContain('tempodb_compaction_blocks_total{level="1"} 3');
    expect(text).toContain('tempo_compactor_blocks_total 3');
    expect(text).toContain('tempodb_compaction_objects_combined_total{level="1"} 1');
  });

  it('keeps blocks of different windows apart', async () => {
    const { backend, compactor } = await setup();
    await cut(backend, 't', [[1, [1]]], T0);
    await cut(backend, 't', [[2, [1]]], T0 + HOUR);
    expect((await compactor.runCycle()).compactions).toBe(0);
    expect((await listTenantBlocks(backend, 't')).metas).toHaveLength(2);
  });

  it('applies retention: marks old blocks, deletes them after compacted_block_retention, keeps the rest', async () => {
    const startMs = Number(T0 / 1_000_000n);
    const { backend, compactor, clock } = await setup({ blockRetentionMs: 2 * 3_600_000, compactedBlockRetentionMs: 3_600_000 }, startMs);
    const old = await cut(backend, 't', [[1, [1]]], T0);
    const fresh = await cut(backend, 't', [[2, [1]]], T0 + 3n * HOUR);
    clock.now = startMs + 3.5 * 3_600_000; // `old` ended 3.5h ago, `fresh` 0.5h ago
    let r = await compactor.runCycle();
    expect(r.retentionMarked).toBe(1);
    let blocks = await listTenantBlocks(backend, 't');
    expect(blocks.metas.map((m) => m.blockID)).toEqual([fresh.blockID]);
    expect(blocks.compacted.map((m) => m.blockID)).toEqual([old.blockID]);
    clock.now += 3_600_000 + 1;
    r = await compactor.runCycle();
    expect(r.retentionDeleted).toBe(1);
    blocks = await listTenantBlocks(backend, 't');
    expect(blocks.compacted).toEqual([]);
    expect(await backend.list(['t', old.blockID])).toEqual([]);
    expect(await readTrace(backend, 't', 2)).not.toBeNull();
  });

  it('finishes a compaction interrupted after its output became visible', async () => {
    const { backend, compactor } = await setup();
    const a = await cut(backend, 't', [[1, [1]]], T0);
    const b = await cut(backend, 't', [[1, [2]]], T0 + 1_000n);
    // The output of a{+}b written with its meta (naming its inputs), then a crash before marking.
    const out = await cut(backend, 't', [[1, [1, 2]]], T0);
    await backend.write(['t', out.blockID], META_NAME, encodeBlockMeta({ ...out, compactionLevel: 1, compactedFrom: [a.blockID, b.blockID] } as BlockMeta));
    expect(spanNames(await readTrace(backend, 't', 1))).toEqual(['op-1', 'op-2']); // readable, no duplicates
    await compactor.runCycle();
    const { metas } = await listTenantBlocks(backend, 't');
    expect(metas.map((m) => m.blockID)).toEqual([out.blockID]);
    expect(spanNames(await readTrace(backend, 't', 1))).toEqual(['op-1', 'op-2']);
  });

  it('keeps the block count bounded through two hours of simulated cuts', async () => {
    const startMs = Number(T0 / 1_000_000n);
    const { backend, compactor, clock } = await setup({}, startMs);
    let maxVisible = 0;
    const written: number[] = [];
    for (let minute = 0; minute < 120; minute++) {
      clock.now = startMs + minute * 60_000;
      const n = minute + 1;
      await cut(backend, 't', [[n, [1, 2]]], BigInt(clock.now) * 1_000_000n);
      written.push(n);
      await compactor.runCycle();
      maxVisible = Math.max(maxVisible, (await listTenantBlocks(backend, 't')).metas.length);
    }
    // Each cycle merges a window's blocks, so at most one block per 1h window stays visible
    // (plus the new cut before its cycle).
    expect(maxVisible).toBeLessThanOrEqual(2);
    const { metas, compacted } = await listTenantBlocks(backend, 't');
    expect(metas.length).toBeLessThanOrEqual(2);
    // Each cycle retires two blocks (the window's previous output and the new cut); they are
    // cleared an hour later, so at most ~2 x 60 compacted folders exist of the 240 ever retired.
    expect(compacted.length).toBeLessThanOrEqual(122);
    expect((await backend.list(['t'])).length).toBeLessThanOrEqual(2 + 122 + 1); // + index.json.gz
    for (const n of [1, 60, 61, 120]) expect(spanNames(await readTrace(backend, 't', n))).toEqual(['op-1', 'op-2']);
  }, 120_000);
});

describe('HashJobOwnership', () => {
  it('gives every job to exactly one member', () => {
    const members = ['c-0', 'c-1', 'c-2'];
    const owners = members.map((m) => new HashJobOwnership(m, () => members));
    const counts = [0, 0, 0];
    for (let i = 0; i < 300; i++) {
      const owning = owners.map((o) => o.owns(`tenant-${i}`));
      expect(owning.filter(Boolean)).toHaveLength(1);
      counts[owning.indexOf(true)]!++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(50);
  });
});
