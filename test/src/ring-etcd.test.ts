// Andante processes sharing rings in a real etcd (Debian's etcd-server): each process registers
// its ingester, metrics-generator, compactor and distributor; a process killed with SIGKILL turns
// UNHEALTHY on the others' ring pages when its leases expire and can be forgotten there; an etcd
// restart leaves the processes serving their last known ring and they recover; a SIGTERM leaves
// the rings cleanly.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@andante/model';
import { createRingStore, defaultKVStoreConfig } from '@andante/ring';
import { startTestEtcd, type TestEtcd } from '@andante/ring/testing';
import { killAllProcesses, makeTempDir, removeTempDirs, startProcess, waitFor, type AndanteProcess } from './harness.js';

const HEARTBEAT_TIMEOUT = '3s';
/** Configured on every ring (unused: no username, so no auth): must never be printed. */
const ETCD_PASSWORD = 'etcd-pw-7c1e93d0';
const RING_PAGES = ['/ingester/ring', '/metrics-generator/ring', '/compactor/ring', '/distributor/ring'];

let etcd: TestEtcd;
beforeAll(async () => {
  etcd = await startTestEtcd();
});
afterEach(async () => {
  await killAllProcesses();
});
afterAll(async () => {
  await etcd.close();
  removeTempDirs();
});

interface Shard {
  id: string;
  state: string;
  address: string;
  timestamp: string;
  tokens: number[];
  zone: string;
}

function ringConfig(prefix: string, name: string, grpcPort: number) {
  const kvstore = { store: 'etcd', prefix, etcd: { endpoints: [etcd.endpoint], dial_timeout: '1s', max_retries: 2, password: ETCD_PASSWORD } };
  const basic = (id: string) => ({ kvstore, heartbeat_period: '200ms', heartbeat_timeout: HEARTBEAT_TIMEOUT, instance_id: id, instance_addr: '127.0.0.1', instance_port: grpcPort });
  return {
    ingester: { lifecycler: { id: `ingester-${name}`, address: '127.0.0.1', port: grpcPort, availability_zone: `zone-${name}`, heartbeat_period: '200ms', ring: { kvstore, heartbeat_timeout: HEARTBEAT_TIMEOUT } } },
    metrics_generator: { ring: basic(`generator-${name}`) },
    compactor: { ring: basic(`compactor-${name}`) },
    distributor: { ring: basic(`distributor-${name}`) },
  };
}

async function shards(p: AndanteProcess, page: string): Promise<Shard[]> {
  const res = await fetch(`http://127.0.0.1:${p.ports.http}${page}`, { headers: { accept: 'application/json' } });
  return ((await res.json()) as { shards: Shard[] }).shards;
}

const states = async (p: AndanteProcess, page: string): Promise<string> =>
  (await shards(p, page)).map((s) => `${s.id}=${s.state}`).join(',');

async function startPair(prefix: string): Promise<[AndanteProcess, AndanteProcess]> {
  const a = await startProcess(makeTempDir('ring-a-'), ringConfig(prefix, 'a', 19001));
  const b = await startProcess(makeTempDir('ring-b-'), ringConfig(prefix, 'b', 19002));
  return [a, b];
}

describe('rings in etcd across processes', () => {
  it('a process killed with SIGKILL turns UNHEALTHY on every ring page after heartbeat_timeout, and can be forgotten', async () => {
    const [a, b] = await startPair(`kill-${process.pid}/`);
    await waitFor(async () => (await states(a, '/ingester/ring')) === 'ingester-a=ACTIVE,ingester-b=ACTIVE', 30_000, 'both ingesters ACTIVE');
    const ing = await shards(a, '/ingester/ring');
    expect(ing.map((s) => [s.address, s.zone, s.tokens.length])).toEqual([
      ['127.0.0.1:19001', 'zone-a', 128],
      ['127.0.0.1:19002', 'zone-b', 128],
    ]);
    expect(new Set(ing.flatMap((s) => s.tokens)).size).toBe(256);
    for (const page of RING_PAGES.slice(1)) {
      const prefix = page.split('/')[1]!.replace('metrics-', '');
      await waitFor(async () => (await states(b, page)) === `${prefix}-a=ACTIVE,${prefix}-b=ACTIVE`, 30_000, `both on ${page}`);
    }

    // b's last heartbeat timestamp seen before the kill; its last renewal was no earlier.
    const lastSeenBeat = Math.max(...(await Promise.all(RING_PAGES.map(async (p) => Date.parse((await shards(a, p)).find((s) => s.id.endsWith('-b'))!.timestamp)))));
    await b.kill9();
    for (const page of RING_PAGES) {
      await waitFor(async () => (await shards(a, page)).find((s) => s.id.endsWith('-b'))?.state === 'UNHEALTHY', 30_000, `b UNHEALTHY on ${page}`);
    }
    // Not before heartbeat_timeout after b's last renewal (each ring has its own lease; this bounds the latest).
    expect(Date.now() - lastSeenBeat).toBeGreaterThanOrEqual(3_000);
    expect((await shards(a, '/ingester/ring')).find((s) => s.id === 'ingester-a')?.state).toBe('ACTIVE');
    const html = await (await fetch(`http://127.0.0.1:${a.ports.http}/ingester/ring`, { headers: { accept: 'text/html' } })).text();
    expect(html).toContain('<td>ingester-b</td><td>UNHEALTHY</td>');

    const forget = await fetch(`http://127.0.0.1:${a.ports.http}/ingester/ring`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'forget=ingester-b',
      redirect: 'manual',
    });
    expect(forget.status).toBe(302);
    await waitFor(async () => (await states(a, '/ingester/ring')) === 'ingester-a=ACTIVE', 10_000, 'ingester-b forgotten');
    const config = await (await fetch(`http://127.0.0.1:${a.ports.http}/status/config`)).text();
    expect(config).toContain('password: "********"');
    expect(config + a.stderr() + b.stderr()).not.toContain(ETCD_PASSWORD);
  });

  it('keeps serving the last known ring while etcd is down, logs it, recovers after a restart, and leaves cleanly on SIGTERM', async () => {
    const prefix = `restart-${process.pid}/`;
    const [a, b] = await startPair(prefix);
    await waitFor(async () => (await states(a, '/ingester/ring')) === 'ingester-a=ACTIVE,ingester-b=ACTIVE', 30_000, 'both ingesters ACTIVE');

    await etcd.kill();
    await waitFor(() => a.stderr().includes('ring heartbeat failed'), 30_000, 'a logs the failed heartbeat');
    // Longer than heartbeat_timeout: nobody is marked UNHEALTHY from a ring nobody can renew.
    await new Promise((r) => setTimeout(r, 4_000));
    expect(a.alive() && b.alive()).toBe(true);
    expect(await states(a, '/ingester/ring')).toBe('ingester-a=ACTIVE,ingester-b=ACTIVE');
    const page = (await (await fetch(`http://127.0.0.1:${a.ports.http}/ingester/ring`, { headers: { accept: 'application/json' } })).json()) as { kvstore_reachable: boolean };
    expect(page.kvstore_reachable).toBe(false);
    expect((await fetch(`http://127.0.0.1:${b.ports.http}/ready`)).status).toBe(200);

    await etcd.restart();
    await waitFor(() => a.stderr().includes('ring heartbeat recovered') && b.stderr().includes('ring heartbeat recovered'), 30_000, 'heartbeats resume');
    await waitFor(async () => (await states(b, '/ingester/ring')) === 'ingester-a=ACTIVE,ingester-b=ACTIVE', 30_000, 'rings converge');

    // SIGTERM: b leaves every ring (no UNHEALTHY leftover), read here from etcd directly.
    expect(await b.stop()).toBe(0);
    const view = createRingStore({ ...defaultKVStoreConfig(), store: 'etcd', prefix, etcd: { ...defaultKVStoreConfig().etcd, endpoints: [etcd.endpoint] } }, { key: 'ring', replicationFactor: 1, heartbeatTimeoutMs: 3_000 }, silentLogger);
    try {
      await view.start();
      expect((await view.list()).map((i) => i.id)).toEqual(['ingester-a']);
    } finally {
      await view.stop();
      await view.kv.close();
    }
    for (const page of RING_PAGES.slice(1)) expect((await shards(a, page)).map((s) => s.id).every((id) => id.endsWith('-a'))).toBe(true);
  });
});
