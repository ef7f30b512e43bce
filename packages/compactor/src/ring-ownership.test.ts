// Two compactors sharing one bucket and one compactor ring in a real etcd: every compaction job is
// run by exactly one of them, and when one dies (no clean leave) its jobs move to the other once
// its lease expires (heartbeat_timeout).

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@andante/model';
import { LocalBackend } from '@andante/backend';
import { BlockEncoderPool, listTenantBlocks } from '@andante/storage';
import { Lifecycler, createRingStore, defaultKVStoreConfig, type RingClient } from '@andante/ring';
import { startTestEtcd, type TestEtcd } from '@andante/ring/testing';
import { defaultCompactorConfig } from './config.js';
import { RingJobOwnership, jobToken } from './ownership.js';
import { windowJobKey } from './selector.js';
import { HOUR_NS, T0_MS, T0_NS, cut, readTrace, spanNames, testCompactor } from './test-blocks.js';

// Long enough that a loaded machine's slow etcd fsyncs never expire a live member's lease mid-test
// (CI saw a 3 s timeout lapse while blocks were being written, and one member owned every job).
const HEARTBEAT_TIMEOUT_MS = 8_000;
const encoder = new BlockEncoderPool();
let etcd: TestEtcd;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  etcd = await startTestEtcd();
});
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  await etcd.close();
  await encoder.close();
});

async function compactorMember(id: string, backend: LocalBackend, clock: { now: number }) {
  const base = defaultKVStoreConfig();
  const kv = { ...base, store: 'etcd', etcd: { ...base.etcd, endpoints: [etcd.endpoint], dial_timeout: '2s' } };
  const ring: RingClient = createRingStore(kv, { key: 'compactor', replicationFactor: 1, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS }, silentLogger);
  await ring.start();
  const lifecycler = new Lifecycler(ring, { id, address: `${id}:9095`, numTokens: 128, heartbeatPeriodMs: 200 });
  const ownership = new RingJobOwnership(id, () => ring.snapshot());
  const { compactor } = testCompactor(backend, encoder, clock, {}, ownership);
  cleanup.push(async () => {
    await lifecycler.abandon();
    await ring.stop();
    await ring.kv.close();
  });
  return { id, ring, lifecycler, ownership, compactor };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('compactor ring', () => {
  it('hashes job keys with FNV-1a 32, as Tempo', () => {
    expect(jobToken('a')).toBe(0xe40c292c);
    expect(jobToken('foobar')).toBe(0xbf9cf968);
  });

  it('gives each job to exactly one live compactor and moves a dead one’s jobs to the survivor', async () => {
    const backend = new LocalBackend(await mkdtemp(join(tmpdir(), 'compactor-ring-')));
    const clock = { now: T0_MS + 48 * 3_600_000 };
    const [c0, c1] = [await compactorMember('compactor-0', backend, clock), await compactorMember('compactor-1', backend, clock)];
    await Promise.all([c0!.lifecycler.start(), c1!.lifecycler.start()]);
    for (const c of [c0!, c1!]) await waitFor(`${c.id} sees both`, () => c.ring.snapshot().healthyInstances().length === 2);

    // 16 windows of one tenant, two blocks each: 16 jobs.
    const cfg = defaultCompactorConfig();
    const windows = [...Array(16).keys()];
    const jobKey = (w: number) => windowJobKey('t', new Date(Number((T0_NS + BigInt(w) * HOUR_NS) / 1_000_000n)).toISOString(), cfg);
    const writeRound = async (round: number) => {
      for (const w of windows) {
        const start = T0_NS + BigInt(w) * HOUR_NS;
        await cut(backend, 't', [[1000 * round + w, [1]]], start);
        await cut(backend, 't', [[1000 * round + w + 500, [2]]], start + 1_000n);
      }
    };
    await writeRound(1);
    for (const c of [c0!, c1!]) await waitFor(`${c.id} still sees both`, () => c.ring.snapshot().healthyInstances().length === 2);
    for (const w of windows) {
      const owners = [c0!, c1!].filter((c) => c.ownership.owns(jobKey(w)));
      expect(owners).toHaveLength(1);
    }
    const owned0 = windows.filter((w) => c0!.ownership.owns(jobKey(w))).length;
    expect(owned0).toBeGreaterThan(0);
    expect(owned0).toBeLessThan(16);

    const [r0, r1] = await Promise.all([c0!.compactor.runCycle(), c1!.compactor.runCycle()]);
    expect(r0.compactions).toBe(owned0);
    expect(r1.compactions).toBe(16 - owned0);
    expect((await listTenantBlocks(backend, 't')).metas).toHaveLength(16);

    // compactor-1 crashes: no leave. Until its lease expires its jobs wait; then compactor-0 takes them.
    await c1!.lifecycler.abandon();
    await c1!.ring.kv.close();
    const lastBeat = c1!.lifecycler.lastHeartbeatMs;
    await waitFor('compactor-1 unhealthy in compactor-0’s view', () => windows.every((w) => c0!.ownership.owns(jobKey(w))));
    // Not before its lease ran out: heartbeat_timeout after its last renewal (the compactions above
    // hold this process's event loop, so that renewal may be well before the kill).
    expect(Date.now() - lastBeat).toBeGreaterThanOrEqual(HEARTBEAT_TIMEOUT_MS);

    await writeRound(2);
    const r = await c0!.compactor.runCycle();
    expect(r.compactions).toBe(16);
    expect((await listTenantBlocks(backend, 't')).metas).toHaveLength(16);
    for (const round of [1, 2]) {
      for (const w of windows) {
        expect(spanNames(await readTrace(backend, 't', 1000 * round + w))).toEqual(['op-1']);
        expect(spanNames(await readTrace(backend, 't', 1000 * round + w + 500))).toEqual(['op-2']);
      }
    }
  });
});
