// Which blocks a trace lookup reads: not the input of a compaction an ingester still names (its spans
// are in the listed output), and not the same bloom filter again after every blocklist poll.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalBackend, type KeyPath } from '@andante/backend';
import { bytesToHex, countSpans, silentLogger, type IngesterQuerier } from '@andante/model';
import { markBlockCompacted, newBlockId, writeBlock, writeTenantIndex, type BlockMeta } from '@andante/storage';
import { oneSpanTrace, writeCompactionOutput } from '@andante/storage/testing';
import { Blocklist } from './blocklist.js';
import { Querier } from './querier.js';

/** A real local backend that counts the objects read, per block. */
class CountingBackend extends LocalBackend {
  readonly reads = new Map<string, number>();
  private count(keypath: KeyPath): void {
    const block = keypath[1];
    if (block) this.reads.set(block, (this.reads.get(block) ?? 0) + 1);
  }
  override async read(keypath: KeyPath, name: string): Promise<Uint8Array> {
    this.count(keypath);
    return super.read(keypath, name);
  }
  override async readRange(keypath: KeyPath, name: string, offset: number, length: number): Promise<Uint8Array> {
    this.count(keypath);
    return super.readRange(keypath, name, offset, length);
  }
}

const entry = oneSpanTrace;

/** An ingester with nothing in memory that names the blocks it flushed, as ingesters do for complete_block_timeout. */
function namingIngester(flushed: () => BlockMeta[]): IngesterQuerier {
  const unused = (): never => {
    throw new Error('not used by trace lookups');
  };
  return { findTraceById: async () => ({ trace: null, flushedBlocks: flushed() }), search: unused, searchTags: unused, searchTagValues: unused, metricsQueryRange: unused };
}

async function setup(named: () => BlockMeta[]) {
  const backend = new CountingBackend(await mkdtemp(join(tmpdir(), 'querier-lookup-')));
  const blocklist = new Blocklist(backend, 60_000, silentLogger);
  const querier = new Querier({ backend, blocklist, ingesters: () => [namingIngester(named)], logger: silentLogger });
  return { backend, blocklist, querier };
}

describe('Querier trace lookup', () => {
  it('does not read a compacted block an ingester still names once its job\'s last output is listed; the trace comes whole from the outputs', async () => {
    let named: BlockMeta[] = [];
    const { backend, blocklist, querier } = await setup(() => named);
    const flushed = await writeBlock(backend, 't', newBlockId(), [entry(1, 1), entry(3, 3)]);
    const other = await writeBlock(backend, 't', newBlockId(), [entry(1, 2)]);
    named = [flushed];
    await blocklist.start();
    blocklist.stop();
    const id = new Uint8Array(16).fill(1);
    const lookup = async (): Promise<{ spans: number; inputReads: number }> => {
      await blocklist.poll();
      backend.reads.clear();
      const trace = await querier.findTraceById('t', id);
      return { spans: trace ? countSpans(trace) : 0, inputReads: backend.reads.get(flushed.blockID) ?? 0 };
    };
    // The job's first output (cut at the buffer budget) is listed, the inputs not yet marked: read them.
    const both = entry(1, 1);
    both.trace.resourceSpans[0]!.scopeSpans[0]!.spans.push(entry(1, 2).trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!);
    await writeCompactionOutput(backend, 't', newBlockId(), [both], [flushed, other], { cutAtBufferBudget: true });
    expect(await lookup()).toEqual({ spans: 2, inputReads: expect.any(Number) });
    expect((await lookup()).inputReads).toBeGreaterThan(0);
    // Inputs marked before the last output is listed (a list taken mid-job): still read, since
    // trace 3 is in no listed output yet.
    await markBlockCompacted(backend, flushed, Date.now());
    await markBlockCompacted(backend, other, Date.now());
    expect((await lookup()).inputReads).toBeGreaterThan(0);
    // The last output listed: every input span is in listed blocks, so the named input is not read.
    await writeCompactionOutput(backend, 't', newBlockId(), [entry(3, 3)], [flushed, other]);
    expect(blocklist.compactedBlocks('t').has(flushed.blockID)).toBe(false); // not before the poll
    expect(await lookup()).toEqual({ spans: 2, inputReads: 0 });
    expect(blocklist.compactedBlocks('t').has(flushed.blockID)).toBe(true);
    expect(await querier.findTraceById('t', new Uint8Array(16).fill(3))).not.toBeNull();
  });

  it('keeps a block only an ingester names open across polls while lookups read it (no bloom re-read), and lets it go when they stop', async () => {
    let named: BlockMeta[] = [];
    const { backend, blocklist, querier } = await setup(() => named);
    const listed = await writeBlock(backend, 't', newBlockId(), [entry(1)]);
    await blocklist.start();
    blocklist.stop();
    // A fresh index written before the ingester's flush: polls read it, so the flushed block stays unlisted.
    await writeTenantIndex(backend, 't', { metas: [listed], compacted: [] }, Date.now());
    const flushed = await writeBlock(backend, 't', newBlockId(), [entry(2)]);
    named = [flushed];
    const id = new Uint8Array(16).fill(2);
    const lookup = async (): Promise<number> => {
      backend.reads.clear();
      const trace = await querier.findTraceById('t', id);
      expect(trace && bytesToHex(trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId)).toBe('0202020202020202');
      return backend.reads.get(flushed.blockID) ?? 0;
    };
    const first = await lookup();
    for (let i = 0; i < 3; i++) {
      await blocklist.poll();
      expect(ids(blocklist.blocks('t'))).toEqual([listed.blockID]);
      // Only the trace's data: footer, index and bloom filter stay cached.
      expect(await lookup()).toBeLessThan(first);
    }
    await blocklist.poll();
    await blocklist.poll();
    expect(await lookup()).toBe(first);
  });
});

const ids = (metas: readonly BlockMeta[]): string[] => metas.map((m) => m.blockID).sort();
