// Streaming compaction: a job whose input is many times the output budget is merged and encoded
// row group by row group, so what one output holds at any moment (its Parquet bytes so far plus the
// merged traces not yet encoded) stays under output_block_buffer_bytes plus one trace, whatever the
// input's size; and every trace reads back as before. Run with the block encoder inline (what
// the compactor's own tests use) and with the compiled pool on real worker threads (what a server
// runs: the traces cross to the worker in acknowledged chunks).

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '@andante/backend';
import { combineTraces, compareBytes, defaultTenantLimits, encodeTrace, silentLogger, staticLimits, type Trace } from '@andante/model';
import { BackendBlock, BlockEncoderPool, listTenantBlocks, newBlockId, writeBlock, type BlockConfig } from '@andante/storage';
import { Compactor, defaultCompactorConfig, type CompactorDeps, type CycleResult } from '@andante/compactor';
import { REPO_ROOT, makeTempDir, removeTempDirs } from './harness.js';
import { makeSpan, makeTrace, randomSpanId, randomTraceId, str } from './otlp.js';

// prom-client is the compactor's dependency: take its copy.
const { Registry } = createRequire(join(REPO_ROOT, 'packages', 'compactor', 'package.json'))('prom-client') as { Registry: new () => CompactorDeps['registry'] };

afterAll(() => removeTempDirs());

const TENANT = 'stream';
const T0 = BigInt(Date.now()) * 1_000_000n;

function traceOf(id: Uint8Array, spans: number, i: number): Trace {
  const root = randomSpanId();
  return makeTrace(
    Array.from({ length: spans }, (_, s) =>
      makeSpan(id, s === 0 ? root : randomSpanId(), {
        name: `op-${s % 7}`,
        startNs: T0 + BigInt(i * 1000 + s),
        ...(s > 0 ? { parentSpanId: root } : {}),
        attributes: [str('http.url', `/orders/${i}/${s}`), str('request.id', Buffer.from(randomSpanId()).toString('hex')), str('pad', 'p'.repeat(40 + (s % 50)))],
      }),
    ),
    `svc-${i % 5}`,
  );
}

const dist = (pkg: string): string => pathToFileURL(join(REPO_ROOT, 'packages', pkg, 'dist', 'index.js')).href;

/**
 * One compaction cycle in a plain `node` child with the compiled packages: there the encoder pool
 * runs real worker threads (under vitest a worker would resolve the TypeScript sources).
 */
const CHILD = `
import { createRequire } from 'node:module';
const { BlockEncoderPool } = await import(${JSON.stringify(dist('storage'))});
const { LocalBackend } = await import(${JSON.stringify(dist('backend'))});
const { Compactor, defaultCompactorConfig } = await import(${JSON.stringify(dist('compactor'))});
const { defaultTenantLimits, silentLogger, staticLimits } = await import(${JSON.stringify(dist('model'))});
const { Registry } = createRequire(${JSON.stringify(join(REPO_ROOT, 'packages', 'compactor', 'package.json'))})('prom-client');
const [dir, budget, blockConfig] = process.argv.slice(2);
const encoder = new BlockEncoderPool(2);
const compactor = new Compactor({
  cfg: { ...defaultCompactorConfig(), outputBlockBufferBytes: Number(budget) },
  backend: new LocalBackend(dir), encoder, blockConfig: JSON.parse(blockConfig),
  limits: staticLimits(defaultTenantLimits()), registry: new Registry(), logger: { ...silentLogger, error: (m, f) => console.error(m, f) },
});
const result = await compactor.runCycle();
await encoder.close();
console.log(JSON.stringify({ threaded: encoder.threaded, result }));
`;

type Runner = (dir: string, budget: number, blockConfig: Partial<BlockConfig>) => Promise<CycleResult>;

const inline: Runner = async (dir, budget, blockConfig) => {
  const encoder = new BlockEncoderPool();
  expect(encoder.threaded).toBe(false);
  const compactor = new Compactor({
    cfg: { ...defaultCompactorConfig(), outputBlockBufferBytes: budget },
    backend: new LocalBackend(dir),
    encoder,
    blockConfig,
    limits: staticLimits(defaultTenantLimits()),
    registry: new Registry(),
    logger: silentLogger,
  });
  const result = await compactor.runCycle();
  await encoder.close();
  return result;
};

const threaded: Runner = async (dir, budget, blockConfig) => {
  const script = join(makeTempDir('compaction-stream-child-'), 'compact.mjs');
  writeFileSync(script, CHILD);
  const { stdout } = await promisify(execFile)(process.execPath, [script, dir, String(budget), JSON.stringify(blockConfig)]);
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { threaded: boolean; result: CycleResult };
  expect(out.threaded).toBe(true);
  return out.result;
};

describe('streaming compaction', () => {
  it.each([
    ['inline', inline],
    ['on worker threads (compiled pool)', threaded],
  ] as const)('encoder %s: holds at most the budget plus one trace for an input many times larger', async (_kind, compact) => {
    const dir = makeTempDir('compaction-stream-');
    const backend = new LocalBackend(dir);
    const blockConfig = { rowGroupSpans: 500, pageSizeBytes: 4096 };
    // Four input blocks of 300 traces (3-17 spans); the same ID in two blocks is one split trace.
    const written = new Map<string, { traceId: Uint8Array; parts: Trace[] }>();
    const shared = Array.from({ length: 40 }, () => randomTraceId());
    let inputSegmentBytes = 0;
    let largestTrace = 0;
    for (let b = 0; b < 4; b++) {
      const entries = Array.from({ length: 300 }, (_, i) => {
        const traceId = i < 10 ? shared[b * 10 + i - (b % 2) * 10]! : randomTraceId();
        return { traceId, trace: traceOf(traceId, 3 + ((i * 7) % 15), b * 1000 + i) };
      }).sort((x, y) => compareBytes(x.traceId, y.traceId));
      for (const e of entries) {
        const key = Buffer.from(e.traceId).toString('hex');
        const w = written.get(key) ?? { traceId: e.traceId, parts: [] };
        w.parts.push(e.trace);
        written.set(key, w);
      }
      await writeBlock(backend, TENANT, newBlockId(), entries, blockConfig);
    }
    for (const w of written.values()) {
      const bytes = encodeTrace(combineTraces(w.parts)).byteLength;
      inputSegmentBytes += bytes;
      largestTrace = Math.max(largestTrace, bytes);
    }
    const budget = 64 * 1024;
    expect(inputSegmentBytes).toBeGreaterThan(20 * budget);

    const result = await compact(dir, budget, blockConfig);

    expect(result.compactions).toBe(1);
    expect(result.peakBufferedBytes).toBeGreaterThan(0);
    expect(result.peakBufferedBytes).toBeLessThanOrEqual(budget + largestTrace);
    const { metas, compacted } = await listTenantBlocks(backend, TENANT);
    expect(compacted).toHaveLength(4);
    expect(metas.length).toBeGreaterThan(1);
    const spans = metas.reduce((n, m) => n + m.totalSpans, 0);
    expect(result.spansCompacted).toBe(spans);
    expect(metas.reduce((n, m) => n + m.totalObjects, 0)).toBe(written.size);
    // Every output is a whole block of its own, under the budget (its Parquet bytes) plus one row group.
    for (const m of metas) expect(m.size).toBeLessThan(budget + largestTrace * 2 + 64 * 1024);

    // Every trace, split ones included, reads back whole from exactly one output.
    const blocks = metas.map((m) => new BackendBlock(backend, m));
    for (const w of written.values()) {
      const found = (await Promise.all(blocks.map((b) => b.findTraceById(w.traceId)))).filter((t) => t !== null);
      expect(found).toHaveLength(1);
      expect(found[0]).toEqual(combineTraces(w.parts));
    }
  }, 180_000);
});
