import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { countSpans } from '@andante/model';
import { LocalBackend } from '@andante/backend';
import { BlockEncoderPool, encodeBlockMeta, listTenantBlocks, META_NAME, type BlockMeta } from '@andante/storage';
import type { CompactorConfig } from './config.js';
import { HashJobOwnership } from './ownership.js';
import { outputReplicationFactor } from './output-meta.js';
import { HOUR_NS as HOUR, T0_NS as T0, cut, readTrace, spanNames, testCompactor } from './test-blocks.js';

const encoder = new BlockEncoderPool();
afterAll(() => encoder.close());

async function setup(cfg: Partial<CompactorConfig> = {}, startMs = Number(T0 / 1_000_000n)) {
  const backend = new LocalBackend(await mkdtemp(join(tmpdir(), 'compactor-')));
  const clock = { now: startMs };
  return { backend, clock, ...testCompactor(backend, encoder, clock, cfg) };
}

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

  it('merges the three replica blocks of RF 3 into one copy: each span once, about one replica\'s bytes', async () => {
    const { backend, compactor } = await setup();
    // Three ingesters flushed the same traces (replication_factor 3), each into its own block.
    const traces: [number, number[]][] = Array.from({ length: 50 }, (_, i) => [i + 1, [1, 2, 3]]);
    const replicas = [];
    for (let r = 0; r < 3; r++) replicas.push(await cut(backend, 't', traces, T0));
    const result = await compactor.runCycle();
    expect(result.compactions).toBe(1);
    const { metas } = await listTenantBlocks(backend, 't');
    expect(metas).toHaveLength(1);
    expect(metas[0]!.totalObjects).toBe(50);
    for (const n of [1, 25, 50]) {
      const t = await readTrace(backend, 't', n);
      expect(spanNames(t)).toEqual(['op-1', 'op-2', 'op-3']);
      expect(countSpans(t!)).toBe(3);
    }
    // One copy left: within 10% of a single replica's block, a third of the three.
    const one = replicas[0]!.size;
    expect(metas[0]!.size).toBeLessThan(one * 1.1);
    expect(replicas.reduce((n, m) => n + m.size, 0)).toBeGreaterThan(metas[0]!.size * 2.7);
  });

  it('outputs keep the replication factor of their inputs, and blocks of different factors are never merged', async () => {
    const { backend, compactor } = await setup();
    const traces: [number, number[]][] = Array.from({ length: 20 }, (_, i) => [i + 1, [1, 2]]);
    // One window: two factor-1 blocks, three RF 3 replicas, two blocks that record none (Tempo's ingester blocks).
    for (let r = 0; r < 2; r++) await cut(backend, 't', traces, T0, 1);
    for (let r = 0; r < 3; r++) await cut(backend, 't', traces, T0, 3);
    for (let r = 0; r < 2; r++) await cut(backend, 't', traces, T0, 0);
    const result = await compactor.runCycle();
    expect(result.compactions).toBe(3);
    const { metas } = await listTenantBlocks(backend, 't');
    expect(metas.map((m) => m.replicationFactor ?? 0).sort()).toEqual([0, 1, 3]);
    expect(metas.every((m) => m.compactionLevel === 1 && m.totalObjects === 20)).toBe(true);
    // Written as Tempo writes it: the key left out for a replicated (0) block.
    const raw = await Promise.all(metas.map(async (m) => JSON.parse(Buffer.from(await backend.read(['t', m.blockID], META_NAME)).toString()) as Record<string, unknown>));
    expect(raw.map((j) => j['replicationFactor'] ?? 'absent').sort()).toEqual([1, 3, 'absent']);
  });

  it('an output claims factor 1 only when every input holds each span once', () => {
    const m = (replicationFactor?: number): BlockMeta => ({ ...({} as BlockMeta), ...(replicationFactor === undefined ? {} : { replicationFactor }) });
    expect(outputReplicationFactor([m(1), m(1)])).toBe(1);
    expect(outputReplicationFactor([m(3), m(3), m(3)])).toBe(3);
    expect(outputReplicationFactor([m(1), m(3)])).toBeUndefined();
    expect(outputReplicationFactor([m(3), m(1)])).toBeUndefined();
    expect(outputReplicationFactor([m(1), m()])).toBeUndefined();
    expect(outputReplicationFactor([m(), m()])).toBeUndefined();
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
