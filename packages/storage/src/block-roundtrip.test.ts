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
import { LocalBackend } from '@andante/backend';
import { combineTraces, compareBytes, decodeTrace, encodeTrace, mulberry32 } from '@andante/model';
import type { AnyValue, KeyValue, ResourceSpans, Span, Trace } from '@andante/model';
import { BackendBlock, newBlockId, writeEncodedBlock } from './backend-block.js';
import { readBlockMeta } from './block-meta.js';
import { encodeBlock } from './block-encode.js';
import type { TraceEntry } from './block-encode.js';
import { BlockEncoderPool } from './block-encoder-pool.js';

const roots: string[] = [];
async function newBackend(): Promise<LocalBackend> {
  const root = await mkdtemp(join(tmpdir(), 'andante-roundtrip-'));
  roots.push(root);
  return new LocalBackend(root);
}
afterAll(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

type Rand = () => number;
const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const bytes = (r: Rand, n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(r, 256));
const u64 = (r: Rand): bigint => (BigInt(int(r, 2 ** 32)) << 32n) | BigInt(int(r, 2 ** 32));

const STRINGS = ['', 'a', 'GET', 'POST', '/orders/{id}', 'ünïcødé ✓', 'x'.repeat(300), 'line\nbreak', '\u0000nul'];
// Dedicated keys (columns of their own), in and out of their column's type, and ordinary ones.
const KEYS = ['http.method', 'http.url', 'http.route', 'http.status_code', 'db.system', 'service.name', 'k8s.pod.name', 'user.id', 'retry', 'size', 'payload', 'tags', 'nested'];

function anyValue(r: Rand, depth = 0): AnyValue {
  switch (int(r, depth > 1 ? 6 : 8)) {
    case 0:
      return { stringValue: pick(r, STRINGS) + (r() < 0.5 ? String(int(r, 1000)) : '') };
    case 1:
      return { intValue: pick(r, [0n, 1n, -1n, 200n, 9_007_199_254_740_993n, -(2n ** 63n), 2n ** 63n - 1n, BigInt.asIntN(64, u64(r))]) };
    case 2:
      return { doubleValue: pick(r, [0, -0, 1.5, -2.25, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MIN_VALUE, r() * 1e6]) };
    case 3:
      return { boolValue: r() < 0.5 };
    case 4:
      return { bytesValue: bytes(r, int(r, 20)) };
    case 5:
      return {};
    case 6:
      return { arrayValue: { values: Array.from({ length: int(r, 4) }, () => anyValue(r, depth + 1)) } };
    default:
      return { kvlistValue: { values: attributes(r, 3, depth + 1) } };
  }
}

function attributes(r: Rand, max: number, depth = 0): KeyValue[] {
  return Array.from({ length: int(r, max + 1) }, () => ({ key: r() < 0.8 ? pick(r, KEYS) : `k${int(r, 50)}`, value: anyValue(r, depth) }));
}

function span(r: Rand, traceId: Uint8Array, spanId: Uint8Array, parent: Uint8Array, t0: bigint): Span {
  const start = r() < 0.05 ? u64(r) : t0 + BigInt(int(r, 1e9));
  // Mostly forward durations; a few negative or wrapping ones (stored modulo 2^64).
  const end = r() < 0.05 ? u64(r) : start + BigInt(int(r, 5e8));
  return {
    traceId,
    spanId,
    traceState: r() < 0.2 ? 'vendor=abc,other=1' : '',
    parentSpanId: parent,
    flags: pick(r, [0, 1, 0x100, 0xffffffff]),
    name: pick(r, ['GET /orders', 'SELECT', 'checkout', '', 'ünïcødé']),
    kind: int(r, 6),
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes: attributes(r, 8),
    droppedAttributesCount: pick(r, [0, 0, 3, 0xffffffff]),
    events: Array.from({ length: r() < 0.3 ? 1 + int(r, 3) : 0 }, () => ({
      timeUnixNano: r() < 0.1 ? u64(r) : start + BigInt(int(r, 1e6)),
      name: pick(r, ['exception', '', 'retry']),
      attributes: attributes(r, 3),
      droppedAttributesCount: int(r, 3),
    })),
    droppedEventsCount: int(r, 2),
    links: Array.from({ length: r() < 0.2 ? 1 + int(r, 2) : 0 }, () => ({
      traceId: bytes(r, 16),
      spanId: bytes(r, 8),
      traceState: r() < 0.5 ? '' : 'k=v',
      attributes: attributes(r, 2),
      droppedAttributesCount: int(r, 2),
      flags: pick(r, [0, 1, 0x301]),
    })),
    droppedLinksCount: int(r, 2),
    status: { code: int(r, 3), message: r() < 0.2 ? 'upstream failed' : '' },
  };
}

/** One random trace: 1-3 resources, 1-2 scopes each, 1-8 spans each, mostly a tree. */
function randomTrace(r: Rand, traceId: Uint8Array): Trace {
  const t0 = 1_700_000_000_000_000_000n + BigInt(int(r, 1e9));
  const ids: Uint8Array[] = [];
  const resourceSpans: ResourceSpans[] = Array.from({ length: 1 + int(r, 3) }, (_, ri) => ({
    resource: {
      attributes: [...(r() < 0.9 ? [{ key: 'service.name', value: { stringValue: `svc-${ri}-${int(r, 3)}` } }] : []), ...attributes(r, 4)],
      droppedAttributesCount: int(r, 2),
    },
    scopeSpans: Array.from({ length: 1 + int(r, 2) }, () => ({
      scope: { name: pick(r, ['http', 'pg', '']), version: pick(r, ['1.0', '']), attributes: attributes(r, 2), droppedAttributesCount: int(r, 2) },
      spans: Array.from({ length: int(r, 9) }, () => {
        const id = r() < 0.03 ? bytes(r, pick(r, [0, 4, 16])) : bytes(r, 8);
        // The first span is a root; others hang off an earlier span, or a missing or empty parent.
        const parent = ids.length === 0 || r() < 0.05 ? new Uint8Array(0) : r() < 0.05 ? bytes(r, 8) : pick(r, ids);
        ids.push(id);
        return span(r, traceId, id, parent, t0);
      }),
      schemaUrl: r() < 0.3 ? 'https://opentelemetry.io/schemas/1.21.0' : '',
    })),
    schemaUrl: r() < 0.3 ? 'https://opentelemetry.io/schemas/1.20.0' : '',
  }));
  return { resourceSpans };
}

/** What a block gives back (docs/block-format.md, Exactness): empty groups dropped. */
function normalise(trace: Trace): Trace {
  return {
    resourceSpans: trace.resourceSpans
      .map((rs) => ({ ...rs, scopeSpans: rs.scopeSpans.filter((ss) => ss.spans.length > 0) }))
      .filter((rs) => rs.scopeSpans.length > 0),
  };
}

function randomTraces(seed: number, n: number): TraceEntry[] {
  const r = mulberry32(seed);
  const out: TraceEntry[] = [];
  for (let i = 0; i < n; i++) {
    const traceId = bytes(r, 16);
    out.push({ traceId, trace: randomTrace(r, traceId) });
  }
  return out
    .sort((a, b) => compareBytes(a.traceId, b.traceId))
    .filter((t, i, all) => i === 0 || compareBytes(all[i - 1]!.traceId, t.traceId) !== 0)
    .filter((t) => normalise(t.trace).resourceSpans.length > 0);
}

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

describe('blocks written by earlier encoders', () => {
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
