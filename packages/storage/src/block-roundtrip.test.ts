// Property-style round trip: random traces (seeded, so a failure names its seed) with every span
// field, attribute values of every type, events and links, written by the block encoder (whole,
// and streamed trace by trace as a compaction does) and read back through the existing reader
// (BackendBlock: find by ID and iteration) must equal what went in, with the documented
// normalisations (docs/block-format.md, Exactness).

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parquetMetadata } from 'hyparquet';
import { ZSTD_AVAILABLE } from './block-codecs.js';
import { LocalBackend } from '@andante/backend';
import { combineTraces, decodeTrace, encodeTrace } from '@andante/model';
import { BackendBlock, newBlockId, writeEncodedBlock } from './backend-block.js';
import { readBlockMeta } from './block-meta.js';
import { encodeBlock } from './block-encode.js';
import type { TraceEntry } from './block-encode.js';
import { BlockEncoderPool } from './block-encoder-pool.js';
import { normaliseTrace as normalise, randomTraces } from './testing.js';

const roots: string[] = [];
async function newBackend(): Promise<LocalBackend> {
  const root = await mkdtemp(join(tmpdir(), 'andante-roundtrip-'));
  roots.push(root);
  return new LocalBackend(root);
}
afterAll(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

async function readBack(block: BackendBlock, traces: readonly TraceEntry[]): Promise<void> {
  for (const t of traces) expect(await block.findTraceById(t.traceId)).toEqual(t.trace);
  const all: TraceEntry[] = [];
  for await (const t of block.iterateTraces()) all.push(t);
  expect(all).toEqual(traces);
}

// Small row groups and pages, so traces cross row-group and page boundaries.
const cfg = { rowGroupSpans: 23, pageSizeBytes: 1024 };
const SEEDS = [1, 2, 3, 4, 5, 6];

describe('block round trip of random traces', () => {
  it.each(SEEDS)('seed %i: encodeBlock, read back exactly by ID and by iteration', async (seed) => {
    const traces = randomTraces(seed, 40);
    const backend = await newBackend();
    const encoded = encodeBlock('t', newBlockId(), traces, cfg);
    const block = new BackendBlock(backend, await writeEncodedBlock(backend, encoded));
    expect(block.meta.totalObjects).toBe(traces.length);
    await readBack(
      block,
      traces.map((t) => ({ traceId: t.traceId, trace: normalise(t.trace) })),
    );
  });

  it.each(SEEDS)('seed %i: streamed trace by trace from segments (a compaction), read back exactly', async (seed) => {
    const traces = randomTraces(seed, 40);
    const backend = await newBackend();
    const pool = new BlockEncoderPool();
    const stream = pool.openStream({ tenantId: 't', blockId: newBlockId(), cfg, compactionLevel: 1 });
    let encodedBefore = 0;
    for (const t of traces) {
      // Segments as an ingester holds them: one per ResourceSpans (they concatenate to the trace).
      const segments = t.trace.resourceSpans.map((rs) => encodeTrace({ resourceSpans: [rs] }));
      const wait = stream.write({ traceId: t.traceId, segments });
      if (wait) await wait;
      // Row groups are encoded as they fill, not at the end.
      expect(stream.encodedBytes).toBeGreaterThanOrEqual(encodedBefore);
      encodedBefore = stream.encodedBytes;
    }
    expect(encodedBefore).toBeGreaterThan(0);
    const encoded = await stream.finish();
    await pool.close();
    const block = new BackendBlock(backend, await writeEncodedBlock(backend, encoded));
    expect(block.meta.compactionLevel).toBe(1);
    // The encoder combines each trace's segments (as a flush does), so that is what it stores.
    await readBack(
      block,
      traces.map((t) => ({ traceId: t.traceId, trace: normalise(combineTraces([decodeTrace(encodeTrace(t.trace))])) })),
    );
  });
});

// A block written by the encoder of December 2026 (vAndante2, hyparquet-writer), kept as bytes: a
// new encoder (issue 14's next step: columns straight from segment bytes) must keep reading it.
// REGENERATE_BLOCK_FIXTURE=1 rewrites it, which only an intended format change should do.
const FIXTURE = fileURLToPath(new URL('../fixtures/vandante2-seed7', import.meta.url));
const FIXTURE_BLOCK_ID = '5f0c1a52-7d2e-4b8e-9a51-3c7d1f00e2a7';

// The same traces written by a Node with zstd (24, the image's runtime): most columns are ZSTD.
// Every supported Node reads it (Node 20 through fzstd), so blocks move between runtimes.
// REGENERATE_BLOCK_FIXTURE=1 on a Node with zstd rewrites it.
const ZSTD_FIXTURE = fileURLToPath(new URL('../fixtures/vandante2-zstd-seed7', import.meta.url));

describe('blocks written by earlier encoders', () => {
  it('reads the vAndante2 fixture block written with ZSTD columns exactly, on any Node', async () => {
    const traces = randomTraces(7, 25);
    if (process.env['REGENERATE_BLOCK_FIXTURE'] === '1' && ZSTD_AVAILABLE) {
      const encoded = encodeBlock('fixture', FIXTURE_BLOCK_ID, traces, { rowGroupSpans: 200, pageSizeBytes: 1024 });
      await mkdir(ZSTD_FIXTURE, { recursive: true });
      for (const o of encoded.objects) await writeFile(join(ZSTD_FIXTURE, o.name), o.data);
    }
    const data = await readFile(join(ZSTD_FIXTURE, 'data.parquet'));
    const codecs = parquetMetadata(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer).row_groups.flatMap((g) => g.columns.map((c) => c.meta_data!.codec));
    expect(codecs.filter((c) => c === 'ZSTD').length).toBeGreaterThan(codecs.length / 2);
    const backend = await newBackend();
    for (const name of await readdir(ZSTD_FIXTURE)) await backend.write(['fixture', FIXTURE_BLOCK_ID], name, await readFile(join(ZSTD_FIXTURE, name)));
    const meta = (await readBlockMeta(backend, 'fixture', FIXTURE_BLOCK_ID))!;
    expect(meta.format).toBe('vAndante2');
    await readBack(
      new BackendBlock(backend, meta),
      traces.map((t) => ({ traceId: t.traceId, trace: normalise(t.trace) })),
    );
  });


  it('reads the vAndante2 fixture block exactly', async () => {
    const traces = randomTraces(7, 25);
    if (process.env['REGENERATE_BLOCK_FIXTURE'] === '1') {
      const encoded = encodeBlock('fixture', FIXTURE_BLOCK_ID, traces, { rowGroupSpans: 200, pageSizeBytes: 1024 });
      await mkdir(FIXTURE, { recursive: true });
      for (const o of encoded.objects) await writeFile(join(FIXTURE, o.name), o.data);
    }
    const backend = await newBackend();
    for (const name of await readdir(FIXTURE)) await backend.write(['fixture', FIXTURE_BLOCK_ID], name, await readFile(join(FIXTURE, name)));
    const meta = (await readBlockMeta(backend, 'fixture', FIXTURE_BLOCK_ID))!;
    expect(meta.format).toBe('vAndante2');
    expect(meta.totalObjects).toBe(traces.length);
    await readBack(
      new BackendBlock(backend, meta),
      traces.map((t) => ({ traceId: t.traceId, trace: normalise(t.trace) })),
    );
  });
});
