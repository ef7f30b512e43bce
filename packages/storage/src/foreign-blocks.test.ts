// What the blocklist makes of a bucket Andante shares with other writers, and of stores whose
// listings miss folders: foreign and unreadable metas are skipped with a reason, and tenants are
// found on every server, used as they are (s3rver 3.7.1 and moto_server) and on local disk.

import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KNOWN_S3_SERVER_BUGS, backendsUnderTest } from '@andante/backend/testing';
import { SpanKind, StatusCode, type Trace } from '@andante/model';
import { newBlockId, writeBlock } from './backend-block.js';
import { TRUNCATED_META, tempoVParquet4Meta } from './testing.js';
import { listTenants } from './block-meta.js';
import { TENANT_INDEX_NAME, listTenantBlocks, listVisibleBlocks, readTenantIndex, writeTenantIndex } from './blocklist.js';

function trace(n: number): { traceId: Uint8Array; trace: Trace } {
  const traceId = new Uint8Array(16).fill(n);
  const spanId = new Uint8Array(8).fill(n);
  return {
    traceId,
    trace: {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }], droppedAttributesCount: 0 },
          scopeSpans: [
            {
              scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 },
              spans: [
                {
                  traceId,
                  spanId,
                  parentSpanId: new Uint8Array(0),
                  traceState: '',
                  name: 'op',
                  kind: SpanKind.SERVER,
                  startTimeUnixNano: 1_700_000_000_000_000_000n,
                  endTimeUnixNano: 1_700_000_001_000_000_000n,
                  attributes: [],
                  droppedAttributesCount: 0,
                  events: [],
                  droppedEventsCount: 0,
                  links: [],
                  droppedLinksCount: 0,
                  status: { code: StatusCode.UNSET, message: '' },
                  flags: 0,
                },
              ],
              schemaUrl: '',
            },
          ],
          schemaUrl: '',
        },
      ],
    },
  };
}

const under = backendsUnderTest('andante-foreign');
const backends = under.rows;
beforeAll(() => under.start(), 60_000);
afterAll(async () => {
  await under.close();
});

describe.each(backends)('on %s', (name, makeBackend) => {
  it('skips a Tempo vParquet4 block, a truncated meta and a meta naming another block, with reasons; the tenant\'s own blocks stay', async () => {
    const backend = await makeBackend();
    const own = await writeBlock(backend, 'tenant-a', newBlockId(), [trace(1)]);
    const tempo = newBlockId();
    await backend.write(['tenant-a', tempo], 'meta.json', tempoVParquet4Meta('tenant-a', tempo));
    await backend.write(['tenant-a', tempo], 'data.parquet', new Uint8Array([1, 2, 3]));
    const truncated = newBlockId();
    await backend.write(['tenant-a', truncated], 'meta.json', TRUNCATED_META);
    const misplaced = newBlockId();
    await backend.write(['tenant-a', misplaced], 'meta.json', new TextEncoder().encode(JSON.stringify({ ...own, blockID: newBlockId() })));
    await backend.write(['tenant-a', 'not-a-block-id'], 'meta.json', new TextEncoder().encode('{}'));

    const listing = await listTenantBlocks(backend, 'tenant-a');
    expect(listing.metas.map((m) => m.blockID)).toEqual([own.blockID]);
    expect(listing.metaless).toEqual([]);
    expect(listing.compacted).toEqual([]);
    const reasons = new Map(listing.skipped.map((s) => [s.blockId, s.reason]));
    expect(reasons).toEqual(new Map([[tempo, 'missing_fields'], [truncated, 'invalid_json'], [misplaced, 'wrong_location']]));
    expect(listing.skipped.find((s) => s.blockId === tempo)!.path).toBe(`tenant-a/${tempo}/meta.json`);
    const visible = await listVisibleBlocks(backend, 'tenant-a');
    expect(visible.metas.map((m) => m.blockID)).toEqual([own.blockID]);
    expect(visible.skipped.map((s) => s.reason).sort()).toEqual(['invalid_json', 'missing_fields', 'wrong_location']);
  });

  it('reads a tenant index without the blocks this build cannot read (Tempo writes its index at the same key)', async () => {
    const backend = await makeBackend();
    const own = await writeBlock(backend, 'tenant-i', newBlockId(), [trace(2)]);
    const tempoId = newBlockId();
    const tempo = JSON.parse(new TextDecoder().decode(tempoVParquet4Meta('tenant-i', tempoId))) as never;
    await backend.write(['tenant-i'], TENANT_INDEX_NAME, gzipSync(JSON.stringify({ created_at: new Date().toISOString(), meta: [own, tempo], compacted: [] })));
    expect((await readTenantIndex(backend, 'tenant-i'))!.metas.map((m) => m.blockID)).toEqual([own.blockID]);
    await writeTenantIndex(backend, 'tenant-i', { metas: [own], compacted: [] }, Date.now());
    expect((await readTenantIndex(backend, 'tenant-i'))!.metas).toEqual([own]);
    // The rewrite keeps the other writer's entry: nothing Andante did not write is dropped.
    const raw = JSON.parse(gunzipSync(await backend.read(['tenant-i'], TENANT_INDEX_NAME)).toString('utf8')) as { meta: { blockID: string }[] };
    expect(raw.meta.map((m) => m.blockID).sort()).toEqual([own.blockID, tempoId].sort());
  });

  it('finds every tenant, also those whose objects all sit two levels down, and those only this process knows', async () => {
    const backend = await makeBackend();
    // Tenants whose names are prefixes of one another, and one with an index (one level down).
    for (const tenant of ['team', 'team-a', 'team.b', 'zeta']) await writeBlock(backend, tenant, newBlockId(), [trace(3)]);
    await writeTenantIndex(backend, 'zeta', { metas: [], compacted: [] }, Date.now());
    // Neither is a tenant: '~' is no tenant ID character. The key scan steps over both.
    await backend.write([], 'a-stray~object', new Uint8Array([1]));
    await backend.write(['not~a~tenant', 'deep'], 'x', new Uint8Array([1]));
    const bugs = name === 'local' ? undefined : KNOWN_S3_SERVER_BUGS[name as keyof typeof KNOWN_S3_SERVER_BUGS];

    const listed = (await backend.list([])).filter((n) => !n.includes('~'));
    // s3rver's delimiter listing shows only the tenant with an object one level down: its bug.
    expect(listed.sort()).toEqual(bugs?.delimiterMissesDeepFolders ? ['zeta'] : ['team', 'team-a', 'team.b', 'zeta']);
    // s3rver lists folder by folder ("team" before "team-a"), so the jump past "team/" also passes
    // "team-a/" and "team.b/" there: those two are found only because this process names them.
    const discovered = await listTenants(backend);
    expect(discovered).toEqual(bugs?.keysInFolderOrder ? ['team', 'zeta'] : ['team', 'team-a', 'team.b', 'zeta']);
    expect(await listTenants(backend, ['team-a', 'team.b', 'known-only', '../bad'])).toEqual(['known-only', 'team', 'team-a', 'team.b', 'zeta']);
  });
});
