// Partial blocks (folders without meta.json) and interrupted compactions, on the local backend
// and on a real S3-protocol server (s3rver). A crash is a backend that dies at a chosen write:
// that write and every later call fail, as for a process killed there; a new Compactor on the
// same bucket is the restarted process.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend, S3Backend, type Backend, type KeyPath } from '@andante/backend';
import { startS3rver, type TestS3Server } from '@andante/backend/testing';
import {
  BackendBlock,
  BlockEncoderPool,
  COMPACTED_META_NAME,
  META_NAME,
  encodeBlock,
  listTenantBlocks,
  newBlockId,
} from '@andante/storage';
import type { CompactedOutputMeta } from './output-meta.js';
import { HashJobOwnership } from './ownership.js';
import { T0_MS, T0_NS, blockEntries, canonicalSpans, cut, readTrace, testCompactor, tid } from './test-blocks.js';

const HOUR_MS = 3_600_000;
const TENANT = 't';
const encoder = new BlockEncoderPool();

/** A backend that dies at the first write `dieAt` matches: that write and every later call fail. */
class DyingBackend implements Backend {
  private dead = false;
  /** Every write attempted, in order, as "blockId/name". */
  readonly writes: string[] = [];

  constructor(
    private readonly inner: Backend,
    private readonly dieAt: (keypath: KeyPath, name: string) => boolean = () => false,
  ) {}

  private alive(): void {
    if (this.dead) throw new Error('process killed');
  }

  async write(keypath: KeyPath, name: string, data: Uint8Array): Promise<void> {
    this.alive();
    this.writes.push(`${keypath.at(-1)}/${name}`);
    if (this.dieAt(keypath, name)) {
      this.dead = true;
      throw new Error(`process killed while writing ${keypath.join('/')}/${name}`);
    }
    return this.inner.write(keypath, name, data);
  }
  async read(keypath: KeyPath, name: string): Promise<Uint8Array> {
    this.alive();
    return this.inner.read(keypath, name);
  }
  async readRange(keypath: KeyPath, name: string, offset: number, length: number): Promise<Uint8Array> {
    this.alive();
    return this.inner.readRange(keypath, name, offset, length);
  }
  async size(keypath: KeyPath, name: string): Promise<number> {
    this.alive();
    return this.inner.size(keypath, name);
  }
  async list(keypath: KeyPath): Promise<string[]> {
    this.alive();
    return this.inner.list(keypath);
  }
  async scanKeys(keypath: KeyPath, startAfter: string, limit: number): Promise<string[]> {
    this.alive();
    return this.inner.scanKeys(keypath, startAfter, limit);
  }
  async delete(keypath: KeyPath, name: string): Promise<void> {
    this.alive();
    return this.inner.delete(keypath, name);
  }
  async close(): Promise<void> {}
}

/** Writes a block's objects but not its meta.json, as a writer killed before its last write. */
async function writeWithoutMeta(backend: Backend, traces: [number, number[]][]): Promise<{ blockId: string; meta: Uint8Array }> {
  const blockId = newBlockId();
  const encoded = encodeBlock(TENANT, blockId, blockEntries(traces, T0_NS));
  const meta = encoded.objects.pop()!;
  for (const o of encoded.objects) await backend.write([TENANT, blockId], o.name, o.data);
  return { blockId, meta: meta.data };
}

/** What readers see for each trace number, as canonical span lists. */
async function readAll(backend: Backend, traces: number[]): Promise<string[][]> {
  return Promise.all(traces.map(async (n) => canonicalSpans(await readTrace(backend, TENANT, n))));
}

/** How many visible blocks hold part of each trace. */
async function holders(backend: Backend, traces: number[]): Promise<number[]> {
  const { metas } = await listTenantBlocks(backend, TENANT);
  return Promise.all(traces.map(async (n) => {
    const found = await Promise.all(metas.map((m) => new BackendBlock(backend, m).findTraceById(tid(n))));
    return found.filter((t) => t !== null).length;
  }));
}

let s3: TestS3Server | undefined;
let s3Backends = 0;
const openBackends: Backend[] = [];
beforeAll(async () => {
  s3 = await startS3rver({ bucket: 'compactor-partial' });
}, 60_000);
afterAll(async () => {
  for (const b of openBackends) await b.close();
  await s3?.close();
  await encoder.close();
});

const backends: [string, () => Promise<Backend>][] = [
  ['local', async () => new LocalBackend(await mkdtemp(join(tmpdir(), 'compactor-partial-')))],
  ['s3rver', async () => {
    const backend = new S3Backend(s3!.config({ prefix: `run-${s3Backends++}` }));
    openBackends.push(backend);
    return backend;
  }],
];

describe.each(backends)('partial blocks on %s', (_, makeBackend) => {
  it('deletes a folder that stays without meta.json for the grace period, not before, and nothing else', async () => {
    const backend = await makeBackend();
    const clock = { now: T0_MS };
    const { compactor, registry } = testCompactor(backend, encoder, clock, { orphanedBlockGracePeriodMs: HOUR_MS });
    await cut(backend, TENANT, [[1, [1, 2]]], T0_NS);
    const orphan = await writeWithoutMeta(backend, [[2, [1]]]);
    const objects = (await backend.list([TENANT, orphan.blockId])).length;
    expect(objects).toBeGreaterThan(0);

    expect((await compactor.runCycle()).orphansDeleted).toBe(0); // first seen now
    clock.now += HOUR_MS - 1;
    expect((await compactor.runCycle()).orphansDeleted).toBe(0);
    expect(await backend.list([TENANT, orphan.blockId])).toHaveLength(objects);
    clock.now += 1;
    expect((await compactor.runCycle()).orphansDeleted).toBe(1);
    expect(await backend.list([TENANT, orphan.blockId])).toEqual([]);

    const { metas, metaless } = await listTenantBlocks(backend, TENANT);
    expect(metas).toHaveLength(1);
    expect(metaless).toEqual([]);
    expect(canonicalSpans(await readTrace(backend, TENANT, 1))).toHaveLength(2);
    expect(await registry.metrics()).toContain('tempodb_compaction_orphaned_blocks_deleted_total 1');
  });

  it('keeps a folder that gains its meta.json before the grace period ends', async () => {
    const backend = await makeBackend();
    const clock = { now: T0_MS };
    const { compactor } = testCompactor(backend, encoder, clock, { orphanedBlockGracePeriodMs: HOUR_MS });
    const slow = await writeWithoutMeta(backend, [[5, [1, 2, 3]]]);
    await compactor.runCycle();
    clock.now += HOUR_MS / 2;
    await backend.write([TENANT, slow.blockId], META_NAME, slow.meta); // the slow writer finishes
    await compactor.runCycle();
    clock.now += HOUR_MS;
    expect((await compactor.runCycle()).orphansDeleted).toBe(0);
    expect((await listTenantBlocks(backend, TENANT)).metas.map((m) => m.blockID)).toEqual([slow.blockId]);
    expect(canonicalSpans(await readTrace(backend, TENANT, 5))).toHaveLength(3);
  });

  it('a compaction killed while writing its output leaves a partial block that a later cycle deletes; every trace reads as before', async () => {
    const backend = await makeBackend();
    const clock = { now: T0_MS };
    const a = await cut(backend, TENANT, [[1, [1, 2]], [2, [1]]], T0_NS);
    // Same start times: a duplicated span (op-2 of trace 1) is the same span in both.
    const b = await cut(backend, TENANT, [[1, [2, 3]], [3, [1, 2]]], T0_NS);
    const traces = [1, 2, 3];
    const before = await readAll(backend, traces);
    const inputs = new Set([a.blockID, b.blockID]);

    // Killed at the output's meta.json: its data, blooms and index are written, it is not visible.
    const dying = new DyingBackend(backend, (keypath, name) => name === META_NAME && !inputs.has(keypath.at(-1)!));
    await testCompactor(dying, encoder, clock, { orphanedBlockGracePeriodMs: HOUR_MS }).compactor.runCycle();
    let listing = await listTenantBlocks(backend, TENANT);
    expect(listing.metas.map((m) => m.blockID).sort()).toEqual([...inputs].sort());
    expect(listing.metaless).toHaveLength(1);
    const partial = listing.metaless[0]!;
    expect(await readAll(backend, traces)).toEqual(before);

    // Restarted: the inputs are compacted again; the partial block waits for the grace period.
    const { compactor } = testCompactor(backend, encoder, clock, { orphanedBlockGracePeriodMs: HOUR_MS });
    let r = await compactor.runCycle();
    expect(r).toMatchObject({ compactions: 1, orphansDeleted: 0 });
    expect((await listTenantBlocks(backend, TENANT)).metaless).toEqual([partial]);
    expect(await readAll(backend, traces)).toEqual(before);

    clock.now += HOUR_MS;
    r = await compactor.runCycle();
    expect(r).toMatchObject({ compactions: 0, orphansDeleted: 1 });
    listing = await listTenantBlocks(backend, TENANT);
    expect(listing.metaless).toEqual([]);
    expect(listing.metas).toHaveLength(1);
    expect(listing.compacted.map((m) => m.blockID).sort()).toEqual([...inputs].sort());
    expect(await readAll(backend, traces)).toEqual(before);
    expect(await holders(backend, traces)).toEqual([1, 1, 1]);
  });

  it('a job cut into several outputs and killed between two of them: outputs withdrawn after the grace period, inputs compacted again, reads unchanged throughout', async () => {
    const backend = await makeBackend();
    const clock = { now: T0_MS };
    // A 1-byte budget cuts an output after every trace: four traces, four outputs.
    const cfg = { orphanedBlockGracePeriodMs: HOUR_MS, outputBlockBufferBytes: 1 };
    const a = await cut(backend, TENANT, [[1, [1, 2]], [2, [1]], [3, [1, 2]]], T0_NS);
    const b = await cut(backend, TENANT, [[1, [3]], [4, [1]]], T0_NS + 1_000n);
    const traces = [1, 2, 3, 4];
    const before = await readAll(backend, traces);
    const inputs = new Set([a.blockID, b.blockID]);

    let outputMetas = 0;
    const dying = new DyingBackend(backend, (keypath, name) => name === META_NAME && !inputs.has(keypath.at(-1)!) && ++outputMetas === 2);
    await testCompactor(dying, encoder, clock, cfg).compactor.runCycle();
    let listing = await listTenantBlocks(backend, TENANT);
    const written = listing.metas.filter((m) => !inputs.has(m.blockID)) as CompactedOutputMeta[];
    expect(written).toHaveLength(1);
    expect(written[0]!.cutAtBufferBudget).toBe(true);
    expect(listing.metaless).toHaveLength(1);
    expect(await readAll(backend, traces)).toEqual(before); // the output's spans duplicate the inputs'

    // Restarted within the grace period: the job may still be running elsewhere; nothing touched.
    const { compactor, registry } = testCompactor(backend, encoder, clock, cfg);
    let r = await compactor.runCycle();
    expect(r).toMatchObject({ compactions: 0, outputsWithdrawn: 0, orphansDeleted: 0 });
    expect((await listTenantBlocks(backend, TENANT)).metas).toHaveLength(3);
    expect(await readAll(backend, traces)).toEqual(before);

    clock.now += HOUR_MS;
    r = await compactor.runCycle();
    expect(r).toMatchObject({ compactions: 1, outputsWithdrawn: 1, orphansDeleted: 1 });
    listing = await listTenantBlocks(backend, TENANT);
    expect(listing.metaless).toEqual([]);
    expect(listing.metas).toHaveLength(4);
    expect(listing.compacted.map((m) => m.blockID).sort()).toEqual([...inputs, written[0]!.blockID].sort());
    expect(await readAll(backend, traces)).toEqual(before);
    expect(await holders(backend, traces)).toEqual([1, 1, 1, 1]);
    expect(await registry.metrics()).toContain('tempodb_compaction_outputs_withdrawn_total 1');
  });
});

describe('output budget', () => {
  it('cuts a job into outputs at the budget: each trace whole in one output, inputs marked only after every output is visible, full outputs not merged again', async () => {
    const backend = new LocalBackend(await mkdtemp(join(tmpdir(), 'compactor-budget-')));
    const clock = { now: T0_MS };
    const recording = new DyingBackend(backend);
    const { compactor } = testCompactor(recording, encoder, clock, { outputBlockBufferBytes: 1 });
    // Trace 1 is split over the three inputs, with a duplicated span.
    const inputs = [
      await cut(backend, TENANT, [[1, [1, 2]], [2, [1]], [3, [1]]], T0_NS),
      await cut(backend, TENANT, [[1, [2, 3]], [4, [1, 2]]], T0_NS),
      await cut(backend, TENANT, [[1, [4]], [5, [1]]], T0_NS),
    ];
    const traces = [1, 2, 3, 4, 5];
    const before = await readAll(backend, traces);
    expect(before[0]).toHaveLength(4);

    expect((await compactor.runCycle()).compactions).toBe(1);
    const { metas, compacted } = await listTenantBlocks(backend, TENANT);
    const outputs = metas as CompactedOutputMeta[];
    expect(outputs).toHaveLength(5);
    expect(compacted.map((m) => m.blockID).sort()).toEqual(inputs.map((m) => m.blockID).sort());
    for (const o of outputs) expect([...o.compactedFrom!].sort()).toEqual(inputs.map((m) => m.blockID).sort());
    expect(outputs.filter((o) => !o.cutAtBufferBudget)).toHaveLength(1);
    expect(outputs.reduce((n, o) => n + o.totalObjects, 0)).toBe(5);
    // Disjoint trace-ID ranges, so a lookup opens one output only.
    const ranges = outputs.map((o) => [o.minID, o.maxID]).sort((x, y) => Buffer.compare(Buffer.from(x[0]!, 'base64'), Buffer.from(y[0]!, 'base64')));
    for (let i = 1; i < ranges.length; i++) expect(Buffer.compare(Buffer.from(ranges[i - 1]![1]!, 'base64'), Buffer.from(ranges[i]![0]!, 'base64'))).toBeLessThan(0);
    expect(await readAll(backend, traces)).toEqual(before);
    expect(await holders(backend, traces)).toEqual([1, 1, 1, 1, 1]);

    const firstMark = recording.writes.findIndex((w) => w.endsWith(`/${COMPACTED_META_NAME}`));
    const lastOutputMeta = Math.max(...outputs.map((o) => recording.writes.indexOf(`${o.blockID}/${META_NAME}`)));
    expect(firstMark).toBeGreaterThan(lastOutputMeta);

    // The four full outputs stay; the last one merges with a new block of the window.
    await cut(backend, TENANT, [[6, [1]]], T0_NS + 3_000n);
    expect((await compactor.runCycle()).compactions).toBe(1);
    const after = await listTenantBlocks(backend, TENANT);
    expect(after.metas).toHaveLength(6);
    const fullOutputs = outputs.filter((o) => o.cutAtBufferBudget).map((o) => o.blockID);
    expect(after.metas.map((m) => m.blockID)).toEqual(expect.arrayContaining(fullOutputs));
    expect(await readAll(backend, traces)).toEqual(before);
  });
});

describe('orphan ownership', () => {
  it('with two compactors, each deletes only the partial blocks it owns', async () => {
    const backend = new LocalBackend(await mkdtemp(join(tmpdir(), 'compactor-owners-')));
    const clock = { now: T0_MS };
    const members = ['c-0', 'c-1'];
    const ownership = members.map((m) => new HashJobOwnership(m, () => members));
    const compactors = ownership.map((o) => testCompactor(backend, encoder, clock, { orphanedBlockGracePeriodMs: HOUR_MS }, o).compactor);
    const orphans: string[] = [];
    for (let i = 0; i < 12; i++) orphans.push((await writeWithoutMeta(backend, [[i, [1]]])).blockId);
    for (const c of compactors) await c.runCycle();
    clock.now += HOUR_MS;

    const ownedByFirst = orphans.filter((id) => ownership[0]!.owns(`${TENANT}/${id}`));
    expect((await compactors[0]!.runCycle()).orphansDeleted).toBe(ownedByFirst.length);
    const left = (await listTenantBlocks(backend, TENANT)).metaless;
    expect(left.sort()).toEqual(orphans.filter((id) => !ownedByFirst.includes(id)).sort());
    expect((await compactors[1]!.runCycle()).orphansDeleted).toBe(left.length);
    expect((await listTenantBlocks(backend, TENANT)).metaless).toEqual([]);
  });
});
