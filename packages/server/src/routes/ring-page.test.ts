// The ring page over a real etcd: JSON and HTML views, and "forget" for an UNHEALTHY member.

import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@andante/model';
import { Lifecycler, createRingStore, defaultKVStoreConfig, type KVStoreConfig, type RingClient } from '@andante/ring';
import { startTestEtcd, type TestEtcd } from '@andante/ring/testing';
import { registerRingPage } from './ring-page.js';

let etcd: TestEtcd;
let app: FastifyInstance;
let kv: KVStoreConfig;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  etcd = await startTestEtcd();
  const base = defaultKVStoreConfig();
  kv = { ...base, store: 'etcd', etcd: { ...base.etcd, endpoints: [etcd.endpoint], dial_timeout: '2s' } };
});
afterAll(async () => {
  await app?.close();
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
  await etcd.close();
});

function ring(): RingClient {
  const store = createRingStore(kv, { key: 'compactor', replicationFactor: 1, heartbeatTimeoutMs: 3_000 }, silentLogger);
  cleanup.push(async () => {
    await store.stop();
    await store.kv.close();
  });
  return store;
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('ring page', () => {
  it('shows a dead member UNHEALTHY with a forget button, and forget removes it; live or unknown members are refused', async () => {
    const page = ring();
    await page.start();
    app = Fastify({ logger: false });
    registerRingPage(app, { path: '/compactor/ring', title: 'Compactor ring', store: page });
    await app.ready();

    const members = ['alive', 'dead'].map((id) => {
      const store = ring();
      return { store, lc: new Lifecycler(store, { id, address: `${id}.local:9095`, numTokens: 16, heartbeatPeriodMs: 200, zone: 'z1' }) };
    });
    for (const m of members) {
      await m.store.start();
      await m.lc.start();
      cleanup.push(() => m.lc.abandon());
    }
    const shards = async () =>
      (JSON.parse((await app.inject({ method: 'GET', url: '/compactor/ring', headers: { accept: 'application/json' } })).body) as {
        shards: { id: string; state: string; address: string; timestamp: string; tokens: number[]; zone: string }[];
      }).shards;
    await waitFor('both ACTIVE', async () => (await shards()).filter((s) => s.state === 'ACTIVE').length === 2);
    const first = await shards();
    expect(first.map((s) => [s.id, s.address, s.zone, s.tokens.length])).toEqual([
      ['alive', 'alive.local:9095', 'z1', 16],
      ['dead', 'dead.local:9095', 'z1', 16],
    ]);
    expect(Date.parse(first[0]!.timestamp)).toBeGreaterThan(Date.now() - 60_000);

    // Crash "dead": no leave, the lease runs out.
    await members[1]!.lc.abandon();
    await members[1]!.store.kv.close();
    await waitFor('dead UNHEALTHY', async () => (await shards()).find((s) => s.id === 'dead')?.state === 'UNHEALTHY');
    const html = await app.inject({ method: 'GET', url: '/compactor/ring', headers: { accept: 'text/html' } });
    expect(html.body).toContain('<td>dead</td><td>UNHEALTHY</td>');
    expect(html.body).toContain('<input type="hidden" name="forget" value="dead">');
    expect(html.body).not.toContain('name="forget" value="alive"');

    const post = (body: string) => app.inject({ method: 'POST', url: '/compactor/ring', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: body });
    const refusedLive = await post('forget=alive');
    expect(refusedLive.statusCode).toBe(400);
    expect(refusedLive.body).toContain('"alive" is ACTIVE; only UNHEALTHY instances can be forgotten');
    expect((await post('forget=nobody')).statusCode).toBe(404);
    expect((await post('other=1')).statusCode).toBe(400);

    const forgot = await post('forget=dead');
    expect(forgot.statusCode).toBe(302);
    expect(forgot.headers['location']).toBe('/compactor/ring');
    expect((await shards()).map((s) => s.id)).toEqual(['alive']);
    // Gone from etcd itself, not only from this view.
    expect(Object.keys((await members[0]!.store.kv.read()).desc.members)).toEqual(['alive']);
  });
});
