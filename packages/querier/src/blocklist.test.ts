// The querier's blocklist: announced blocks stay until a poll lists them or they are compacted,
// tenants are polled even when no listing shows them, and a foreign or truncated meta.json is
// skipped (logged once, counted) while the rest of the tenant is served.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LocalBackend, type Backend, type KeyPath } from '@andante/backend';
import { createLogger } from '@andante/model';
import { encodeBlock, markBlockCompacted, newBlockId, writeBlock, writeTenantIndex, type BlockMeta } from '@andante/storage';
import { TRUNCATED_META, oneSpanTrace, tempoVParquet4Meta, writeCompactionOutput } from '@andante/storage/testing';
import { Blocklist } from './blocklist.js';

const POLL_MS = 60_000; // polls are called by the test

const entry = oneSpanTrace;

/** A local backend whose delimiter listing of the root answers nothing, as a store with a listing bug. */
class RootListingMisses extends LocalBackend {
  override async list(keypath: KeyPath): Promise<string[]> {
    return keypath.length === 0 ? [] : super.list(keypath);
  }
  override async scanKeys(): Promise<string[]> {
    return [];
  }
}

/** A local backend whose meta.json reads wait at a gate while `held` (a slow listing poll). */
class GatedMetaReads extends LocalBackend {
  held = false;
  reached = false;
  private waiting: (() => void)[] = [];
  override async read(keypath: KeyPath, name: string): Promise<Uint8Array> {
    if (this.held && name === 'meta.json') {
      this.reached = true;
      await new Promise<void>((r) => this.waiting.push(r));
    }
    return super.read(keypath, name);
  }
  release(): void {
    this.held = false;
    for (const r of this.waiting.splice(0)) r();
  }
}

async function setup(backend?: (root: string) => Backend): Promise<{ backend: Backend; blocklist: Blocklist; registry: Registry; logs: string[] }> {
  const root = await mkdtemp(join(tmpdir(), 'querier-blocklist-'));
  const b = backend ? backend(root) : new LocalBackend(root);
  const registry = new Registry();
  const logs: string[] = [];
  const blocklist = new Blocklist(b, POLL_MS, createLogger('warn', {}, (l) => logs.push(l)), registry);
  return { backend: b, blocklist, registry, logs };
}

const ids = (metas: readonly BlockMeta[]): string[] => metas.map((m) => m.blockID).sort();

describe('Blocklist', () => {
  it('keeps an announced block that a fresh tenant index does not name, through many polls, until it is compacted', async () => {
    const { backend, blocklist } = await setup();
    const listed = await writeBlock(backend, 't', newBlockId(), [entry(1)]);
    await blocklist.start();
    blocklist.stop();
    // The compactor's index, written before the next flush: fresh, so polls read it instead of listing.
    await writeTenantIndex(backend, 't', { metas: [listed], compacted: [] }, Date.now());
    const flushed = await writeBlock(backend, 't', newBlockId(), [entry(2)]);
    blocklist.add(flushed);
    for (let i = 0; i < 5; i++) {
      await blocklist.poll();
      expect(ids(blocklist.blocks('t'))).toEqual(ids([listed, flushed]));
    }
    // Compacted (meta.compacted.json written, meta.json removed) and the index names it so.
    const marked = await markBlockCompacted(backend, flushed, Date.now());
    await writeTenantIndex(backend, 't', { metas: [listed], compacted: [marked] }, Date.now());
    await blocklist.poll();
    expect(ids(blocklist.blocks('t'))).toEqual([listed.blockID]);
  });

  it('drops an announcement once a listing shows the block, or its meta.json is gone', async () => {
    const { backend, blocklist } = await setup();
    await blocklist.start();
    blocklist.stop();
    const a = await writeBlock(backend, 't', newBlockId(), [entry(1)]);
    blocklist.add(a);
    await blocklist.poll(); // listed: the announcement ends
    await backend.delete(['t', a.blockID], 'meta.json');
    await blocklist.poll();
    expect(blocklist.blocks('t')).toEqual([]);

    // An announced block whose meta.json went away before any poll listed it is dropped too.
    const { meta, objects } = encodeBlock('t', newBlockId(), [entry(2)]);
    for (const o of objects.filter((o) => o.name !== 'meta.json')) await backend.write(['t', meta.blockID], o.name, o.data);
    blocklist.add(meta);
    expect(ids(blocklist.blocks('t'))).toEqual([meta.blockID]);
    await blocklist.poll();
    expect(blocklist.blocks('t')).toEqual([]);
  });

  it('polls a tenant this process announced or registered although no listing shows it', async () => {
    const { backend, blocklist } = await setup((root) => new RootListingMisses(root));
    const a = await writeBlock(backend, 'seen-by-add', newBlockId(), [entry(1)]);
    const b = await writeBlock(backend, 'registered', newBlockId(), [entry(2)]);
    const later = await writeBlock(backend, 'seen-by-add', newBlockId(), [entry(3)]);
    await blocklist.start();
    blocklist.stop();
    expect(blocklist.tenants()).toEqual([]);
    blocklist.add(a);
    blocklist.registerTenant('registered');
    expect(() => blocklist.registerTenant('../x')).toThrow(/tenant/i);
    await blocklist.poll();
    expect(ids(blocklist.blocks('seen-by-add'))).toEqual(ids([a, later]));
    expect(ids(blocklist.blocks('registered'))).toEqual([b.blockID]);
  });

  it('skips a Tempo vParquet4 and a truncated meta.json, logs each once and counts them; the tenant\'s own blocks are served', async () => {
    const { backend, blocklist, registry, logs } = await setup();
    const own = await writeBlock(backend, 'mixed', newBlockId(), [entry(1)]);
    const tempo = newBlockId();
    const truncated = newBlockId();
    await backend.write(['mixed', tempo], 'meta.json', tempoVParquet4Meta('mixed', tempo));
    await backend.write(['mixed', truncated], 'meta.json', TRUNCATED_META);
    await blocklist.start();
    blocklist.stop();
    await blocklist.poll();
    await blocklist.poll();
    expect(ids(blocklist.blocks('mixed'))).toEqual([own.blockID]);
    const text = await registry.metrics();
    expect(text).toContain('tempodb_blocklist_skipped_blocks_total{tenant="mixed",reason="missing_fields"} 1');
    expect(text).toContain('tempodb_blocklist_skipped_blocks_total{tenant="mixed",reason="invalid_json"} 1');
    // Tempo's counter: every failed block read of every poll (two blocks, three polls).
    expect(text).toContain('tempodb_blocklist_poll_errors_total{tenant="mixed"} 6');
    const skipped = logs.map((l) => JSON.parse(l) as { msg: string; path?: string; reason?: string }).filter((l) => l.msg.startsWith('skipping a block'));
    expect(skipped.map((l) => [l.path, l.reason]).sort()).toEqual([[`mixed/${tempo}/meta.json`, 'missing_fields'], [`mixed/${truncated}/meta.json`, 'invalid_json']].sort());
    expect(blocklist.pollsCompleted).toBe(3);
  });

  it('does not ask for the meta.json of blocks a stale tenant index names compacted when it lists (each was a GET answered 404 every poll)', async () => {
    const reads: string[] = [];
    class CountingReads extends LocalBackend {
      override async read(keypath: KeyPath, name: string): Promise<Uint8Array> {
        reads.push(`${keypath.join('/')}/${name}`);
        return super.read(keypath, name);
      }
    }
    const { backend, blocklist } = await setup((root) => new CountingReads(root));
    const input = await writeBlock(backend, 't', newBlockId(), [entry(1)]);
    const output = await writeCompactionOutput(backend, 't', newBlockId(), [entry(1)], [input]);
    const marked = await markBlockCompacted(backend, input, Date.now());
    // Too old to list from: the poll lists the tenant, reading each meta.json but the compacted one's.
    await writeTenantIndex(backend, 't', { metas: [output], compacted: [marked] }, Date.now() - 10 * POLL_MS);
    await blocklist.poll();
    expect(ids(blocklist.blocks('t'))).toEqual([output.blockID]);
    expect(reads).toContain(`t/${output.blockID}/meta.json`);
    expect(reads).not.toContain(`t/${input.blockID}/meta.json`);
  });

  it('names a block compacted only together with the list that holds its output, not while the poll still lists', async () => {
    const { backend, blocklist } = await setup((root) => new GatedMetaReads(root));
    const gated = backend as GatedMetaReads;
    const input = await writeBlock(backend, 't', newBlockId(), [entry(1)]);
    await blocklist.start();
    blocklist.stop();
    // Compaction: the output first, then the input marked; an index too old to list from (the poll
    // lists, reading each meta.json) but already naming the input compacted.
    const output = await writeCompactionOutput(backend, 't', newBlockId(), [entry(1)], [input]);
    const marked = await markBlockCompacted(backend, input, Date.now());
    await writeTenantIndex(backend, 't', { metas: [output], compacted: [marked] }, Date.now() - 10 * POLL_MS);
    gated.held = true;
    const polling = blocklist.poll();
    while (!gated.reached) await new Promise((r) => setTimeout(r, 5));
    // Mid-poll: the old list (input, no output) goes with the old compacted set.
    expect(ids(blocklist.blocks('t'))).toEqual([input.blockID]);
    expect(blocklist.compactedBlocks('t').has(input.blockID)).toBe(false);
    gated.release();
    await polling;
    expect(ids(blocklist.blocks('t'))).toEqual([output.blockID]);
    expect(blocklist.compactedBlocks('t').has(input.blockID)).toBe(true);
  });

  it('follows a compaction chain through the compacted metas of the index its list came from, and only then', async () => {
    const { backend, blocklist } = await setup();
    const x = await writeBlock(backend, 't', newBlockId(), [entry(1)]);
    await blocklist.start();
    blocklist.stop();
    const y = await writeCompactionOutput(backend, 't', newBlockId(), [entry(1)], [x]);
    const z = await writeCompactionOutput(backend, 't', newBlockId(), [entry(1)], [y]);
    const compacted = [await markBlockCompacted(backend, x, Date.now()), await markBlockCompacted(backend, y, Date.now())];
    // A stale index: the poll lists, and the listing alone does not say where x's spans went.
    await writeTenantIndex(backend, 't', { metas: [z], compacted }, Date.now() - 10 * POLL_MS);
    await blocklist.poll();
    expect(ids(blocklist.blocks('t'))).toEqual([z.blockID]);
    expect([...blocklist.compactedBlocks('t')]).toEqual([y.blockID]);
    // A fresh index: its list and its compacted metas together cover x through y.
    await writeTenantIndex(backend, 't', { metas: [z], compacted }, Date.now());
    await blocklist.poll();
    expect([...blocklist.compactedBlocks('t')].sort()).toEqual([x.blockID, y.blockID].sort());
  });
});
