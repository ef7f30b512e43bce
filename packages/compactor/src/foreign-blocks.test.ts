// Nothing in the bucket that Andante did not write is ever deleted or merged by the compactor: a
// Tempo vParquet4 block (visible and compacted, both past retention), a block folder whose
// meta.json is truncated, and a folder not named like a block ID sit beside a tenant's own
// blocks through compaction, retention and the partial-block grace period. On local disk and
// on S3-protocol servers used as they are (s3rver 3.7.1, whose root listing misses the tenant,
// and moto_server).

import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '@andante/backend';
import { backendsUnderTest } from '@andante/backend/testing';
import { createLogger, defaultTenantLimits, staticLimits } from '@andante/model';
import { BlockEncoderPool, listTenantBlocks, newBlockId } from '@andante/storage';
import { TRUNCATED_META, tempoVParquet4Meta } from '@andante/storage/testing';
import { Compactor } from './compactor.js';
import { defaultCompactorConfig } from './config.js';
import { T0_MS, T0_NS, canonicalSpans, cut, readTrace } from './test-blocks.js';

const HOUR_MS = 3_600_000;
const TENANT = 'shared-bucket';
const encoder = new BlockEncoderPool();
const under = backendsUnderTest('compactor-foreign');
const backends = under.rows;
beforeAll(() => under.start(), 60_000);
afterAll(async () => {
  await under.close();
  await encoder.close();
});

/** Every object under the tenant with its bytes, as "key=hex". */
async function snapshot(backend: Backend, keys: readonly string[]): Promise<string[]> {
  return Promise.all(
    keys.map(async (k) => {
      const parts = k.split('/');
      return `${k}=${Buffer.from(await backend.read(parts.slice(0, -1), parts.at(-1)!)).toString('hex')}`;
    }),
  );
}

describe.each(backends)('foreign blocks on %s', (_, makeBackend) => {
  it('are never merged, expired or deleted; the tenant\'s own blocks are compacted and read as before; each is logged once', async () => {
    const backend = await makeBackend();
    const clock = { now: T0_MS };
    const a = await cut(backend, TENANT, [[1, [1, 2]], [2, [1]]], T0_NS);
    const b = await cut(backend, TENANT, [[1, [3]], [3, [1]]], T0_NS + 1_000n);
    const expected = await Promise.all([1, 2, 3].map(async (n) => canonicalSpans(await readTrace(backend, TENANT, n))));

    // Tempo's blocks end 2026-12-01, long before the clock's retention horizon.
    const tempo = newBlockId();
    const tempoCompacted = newBlockId();
    const truncated = newBlockId();
    const compactedMeta = { ...JSON.parse(new TextDecoder().decode(tempoVParquet4Meta(TENANT, tempoCompacted))), compactedTime: '2026-12-01T11:00:00Z' };
    const foreign: [string[], string, Uint8Array][] = [
      [[TENANT, tempo], 'meta.json', tempoVParquet4Meta(TENANT, tempo)],
      [[TENANT, tempo], 'data.parquet', new Uint8Array([0x50, 0x41, 0x52, 0x31])],
      [[TENANT, tempo], 'bloom-0', new Uint8Array([9])],
      [[TENANT, tempoCompacted], 'meta.compacted.json', new TextEncoder().encode(JSON.stringify(compactedMeta))],
      [[TENANT, tempoCompacted], 'data.parquet', new Uint8Array([1])],
      [[TENANT, truncated], 'meta.json', TRUNCATED_META],
      [[TENANT, truncated], 'data.parquet', new Uint8Array([2])],
      // Not a block ID: not Andante's, whatever it holds (here no meta at all).
      [[TENANT, 'tempo-blocks-v2'], 'data', new Uint8Array([3])],
    ];
    for (const [keypath, name, data] of foreign) await backend.write(keypath, name, data);
    const foreignKeys = foreign.map(([kp, name]) => [...kp, name].join('/'));
    const foreignBefore = await snapshot(backend, foreignKeys);

    const warnings: string[] = [];
    const compactor = new Compactor({
      cfg: { ...defaultCompactorConfig(), orphanedBlockGracePeriodMs: HOUR_MS, compactedBlockRetentionMs: HOUR_MS },
      backend,
      encoder,
      limits: staticLimits(defaultTenantLimits()),
      registry: new Registry(),
      logger: createLogger('warn', {}, (line) => warnings.push(line)),
      now: () => clock.now,
    });

    expect(await compactor.runCycle()).toMatchObject({ compactions: 1, retentionMarked: 0, retentionDeleted: 0, orphansDeleted: 0 });
    expect((await listTenantBlocks(backend, TENANT)).metas).toHaveLength(1);
    expect(await Promise.all([1, 2, 3].map(async (n) => canonicalSpans(await readTrace(backend, TENANT, n))))).toEqual(expected);
    clock.now += 2 * HOUR_MS; // past the grace period and compacted_block_retention: a and b are deleted
    expect(await compactor.runCycle()).toMatchObject({ compactions: 0, retentionDeleted: 2, orphansDeleted: 0 });
    clock.now += 400 * HOUR_MS; // past block_retention (336h): the output is marked, then deleted
    expect(await compactor.runCycle()).toMatchObject({ retentionMarked: 1 });
    clock.now += 2 * HOUR_MS;
    expect(await compactor.runCycle()).toMatchObject({ retentionDeleted: 1, orphansDeleted: 0 });

    expect(await snapshot(backend, foreignKeys)).toEqual(foreignBefore);
    const listing = await listTenantBlocks(backend, TENANT);
    expect(listing.metas).toEqual([]);
    expect(listing.compacted).toEqual([]);
    expect(listing.skipped.map((s) => [s.blockId, s.reason]).sort()).toEqual(
      [[tempo, 'missing_fields'], [tempoCompacted, 'missing_fields'], [truncated, 'invalid_json']].sort(),
    );
    expect(expected[0]).toHaveLength(3); // trace 1's spans from both own blocks
    expect([a.blockID, b.blockID].some((id) => listing.skipped.some((s) => s.blockId === id))).toBe(false);
    const logged = warnings.map((l) => JSON.parse(l) as { msg: string; block?: string }).filter((l) => l.msg.startsWith('leaving alone'));
    expect(logged.map((l) => l.block).sort()).toEqual([tempo, tempoCompacted, truncated].sort());
  }, 60_000);
});
