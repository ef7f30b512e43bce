// The ring against a real etcd (Debian's etcd-server), started per file on ephemeral ports.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '@andante/model';
import { createRingStore, defaultKVStoreConfig, type KVStoreConfig } from './create-ring-store.js';
import { Lifecycler } from './lifecycler.js';
import type { RingClient } from './ring-client.js';
import type { InstanceState } from './ring.js';
import { startTestEtcd, type TestEtcd } from './testing/etcd-server.js';

const HEARTBEAT_PERIOD_MS = 200;
/** Also the lease TTL (3 s): etcd's minimum TTL is about 2 s. */
const HEARTBEAT_TIMEOUT_MS = 3_000;

let etcd: TestEtcd;
let etcdDown = false;
const open: { stop(): Promise<void> }[] = [];

async function killEtcd(): Promise<void> {
  etcdDown = true;
  await etcd.kill();
}

async function restartEtcd(): Promise<void> {
  await etcd.restart();
  etcdDown = false;
}

beforeAll(async () => {
  etcd = await startTestEtcd();
});
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.stop().catch(() => undefined);
  // A test that failed with etcd down must not fail the ones after it.
  if (etcdDown) await restartEtcd();
});
afterAll(async () => {
  await etcd.close();
});

function kvConfig(): KVStoreConfig {
  const kv = defaultKVStoreConfig();
  return { ...kv, store: 'etcd', prefix: `t${Math.random().toString(36).slice(2)}/`, etcd: { ...kv.etcd, endpoints: [etcd.endpoint], dial_timeout: '1s', max_retries: 2 } };
}

function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('info', {}, (l) => lines.push(l)), lines };
}

/** A ring view with its own etcd connection, as another process would have. */
async function view(
  kv: KVStoreConfig,
  opts: { zoneAware?: boolean; rf?: number; logger?: Logger; beforeStart?: (c: RingClient) => void } = {},
): Promise<RingClient> {
  const client = createRingStore(kv, { key: 'ring', replicationFactor: opts.rf ?? 1, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, zoneAwarenessEnabled: opts.zoneAware ?? false }, opts.logger ?? createLogger('error'));
  opts.beforeStart?.(client);
  await client.start();
  open.push({ stop: async () => { await client.stop(); await client.kv.close(); } });
  return client;
}

/** A member with its own etcd connection. */
async function member(kv: KVStoreConfig, id: string, opts: { zone?: string; logger?: Logger; onLeaving?: () => Promise<void> } = {}): Promise<{ lc: Lifecycler; ring: RingClient; states: InstanceState[] }> {
  const ring = createRingStore(kv, { key: 'ring', replicationFactor: 1, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS }, opts.logger ?? createLogger('error'));
  const lc = new Lifecycler(ring, { id, address: `${id}:9095`, numTokens: 128, heartbeatPeriodMs: HEARTBEAT_PERIOD_MS, zone: opts.zone ?? '' }, opts.logger, opts.onLeaving ? { onLeaving: opts.onLeaving } : {});
  const states: InstanceState[] = [];
  lc.onStateChange((s) => states.push(s));
  open.push({ stop: async () => { await lc.abandon(); await ring.kv.close(); } });
  return { lc, ring, states };
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const healthyIds = (c: RingClient): string[] => c.snapshot().healthyInstances().map((i) => i.id).sort();
const stateOf = async (c: RingClient, id: string): Promise<string | undefined> => {
  const snap = c.snapshot();
  const inst = (await c.list()).find((i) => i.id === id);
  return inst && snap.displayState(inst);
};

describe('ring on etcd', () => {
  it('compare-and-swap: a write at a stale version fails', async () => {
    const c = await view(kvConfig());
    const before = await c.kv.read();
    expect(await c.kv.compareAndSwap(before.version, { members: {} })).toBe(true);
    expect(await c.kv.compareAndSwap(before.version, { members: {} })).toBe(false);
  });

  it('members joining at once all end up ACTIVE with disjoint tokens, through PENDING and JOINING', async () => {
    const kv = kvConfig();
    const ms = await Promise.all(['a', 'b', 'c', 'd'].map((id) => member(kv, id)));
    let conflicts = 0;
    for (const m of ms) {
      const cas = m.ring.kv.compareAndSwap.bind(m.ring.kv);
      m.ring.kv.compareAndSwap = async (v, d) => (await cas(v, d)) || (conflicts++, false);
    }
    await Promise.all(ms.map((m) => m.lc.start()));
    const c = await view(kv);
    await waitFor('four healthy members', () => healthyIds(c).length === 4);
    const all = (await c.list()).flatMap((i) => i.tokens);
    expect(all).toHaveLength(4 * 128);
    expect(new Set(all).size).toBe(4 * 128);
    for (const m of ms) expect(m.states).toEqual(['PENDING', 'JOINING', 'ACTIVE']);
    // Four writers racing on one key: at least one lost a round and retried.
    expect(conflicts).toBeGreaterThan(0);
  });

  it('a member that dies without leaving turns UNHEALTHY when its lease expires, and get() skips it', async () => {
    const kv = kvConfig();
    const a = await member(kv, 'a');
    const b = await member(kv, 'b');
    const d = await member(kv, 'd');
    await Promise.all([a, b, d].map((m) => m.lc.start()));
    const c = await view(kv, { rf: 2 });
    await waitFor('all healthy', () => healthyIds(c).join() === 'a,b,d');
    const ownedByB = [...Array(64).keys()].map((i) => i * 2 ** 26).filter((t) => c.snapshot().get(t, 2).instances.some((i) => i.id === 'b'));
    expect(ownedByB.length).toBeGreaterThan(0);
    // A crash: heartbeats stop and the connection drops; nobody revokes the lease.
    await b.lc.abandon();
    await b.ring.kv.close();
    const lastBeat = b.lc.lastHeartbeatMs;
    await waitFor('b UNHEALTHY', async () => (await stateOf(c, 'b')) === 'UNHEALTHY');
    // etcd expires the lease by its TTL (heartbeat_timeout) after the last renewal, not before.
    expect(Date.now() - lastBeat).toBeGreaterThanOrEqual(HEARTBEAT_TIMEOUT_MS);
    const snap = c.snapshot();
    for (const t of ownedByB) {
      const set = snap.get(t, 2);
      expect(set.instances.map((i) => i.id).sort()).toEqual(['a', 'd']);
      expect(set.minSuccess).toBe(2);
      expect(snap.ownerOf(t)).not.toBe('b');
    }
    await a.lc.abandon();
    await a.ring.kv.close();
    await waitFor('a UNHEALTHY', async () => (await stateOf(c, 'a')) === 'UNHEALTHY');
    expect(() => c.snapshot().get(0, 2)).toThrow('at least 2 live replicas required, could only find 1');
  });

  it('a clean stop goes LEAVING (seen by others) and then removes the member', async () => {
    const kv = kvConfig();
    const c = await view(kv);
    let sawLeaving = false;
    const m = await member(kv, 'x', {
      onLeaving: async () => {
        await waitFor('others see LEAVING', async () => (await stateOf(c, 'x')) === 'LEAVING');
        sawLeaving = true;
      },
    });
    await m.lc.start();
    await waitFor('x healthy', () => healthyIds(c).includes('x'));
    await m.lc.stop();
    expect(sawLeaving).toBe(true);
    expect(m.states).toEqual(['PENDING', 'JOINING', 'ACTIVE', 'LEAVING']);
    await waitFor('x removed', async () => (await c.list()).length === 0);
    expect((await c.kv.read()).heartbeats.has('x')).toBe(false);
  });

  it('a watch delivers a change to another view within a heartbeat period, without polling', async () => {
    const kv = kvConfig();
    const c = await view(kv);
    const m = await member(kv, 'w');
    await m.lc.start();
    await waitFor('w healthy', () => healthyIds(c).includes('w'));
    // A forget from a third connection: the view learns it from its watch.
    const other = await view(kv);
    const t0 = Date.now();
    const seen = new Promise<number>((resolve) => {
      const off = c.onChange(() => {
        void c.list().then((l) => {
          if (l.length === 0) {
            off();
            resolve(Date.now() - t0);
          }
        });
      });
    });
    await m.lc.abandon(); // so it does not re-register itself
    await other.forget('w');
    const latency = await seen;
    expect(latency).toBeLessThan(Math.max(HEARTBEAT_PERIOD_MS, 2_000));
  });

  it('serves the last known ring while etcd is down, logs without crashing, and recovers after a restart', async () => {
    const kv = kvConfig();
    const aLog = capturingLogger();
    const cLog = capturingLogger();
    const a = await member(kv, 'a', { logger: aLog.logger });
    const b = await member(kv, 'b');
    await a.lc.start();
    await b.lc.start();
    const c = await view(kv, { rf: 2, logger: cLog.logger });
    await waitFor('both healthy', () => healthyIds(c).join() === 'a,b');

    await killEtcd();
    await waitFor('a heartbeat failure logged', () => aLog.lines.some((l) => l.includes('ring heartbeat failed')));
    await waitFor('the view notices', () => !c.isConnected);
    // Longer than heartbeat_timeout: the view still serves both members from its last known ring.
    await new Promise((r) => setTimeout(r, HEARTBEAT_TIMEOUT_MS + 500));
    expect(healthyIds(c)).toEqual(['a', 'b']);
    expect(c.snapshot().get(42, 2).instances).toHaveLength(2);

    await restartEtcd();
    const beatsAtRestart = a.lc.heartbeatCount;
    await waitFor('a heartbeats again', () => a.lc.heartbeatCount > beatsAtRestart + 2);
    await waitFor('the view reconnects', () => c.isConnected);
    await waitFor('both healthy again', () => healthyIds(c).join() === 'a,b');
    expect(aLog.lines.some((l) => l.includes('ring heartbeat recovered'))).toBe(true);
    expect(cLog.lines.some((l) => l.includes('ring store reachable again'))).toBe(true);
    // The ring converged: same members, same tokens as before.
    const after = await c.kv.read();
    expect(Object.keys(after.desc.members).sort()).toEqual(['a', 'b']);
    expect(after.heartbeats.size).toBe(2);
  });

  it('notices etcd going away while its watch is still being created, and coming back', async () => {
    // etcd3 reports a lost connection only to a watch that exists: the view must not wait for one.
    const c = await view(kvConfig(), {
      beforeStart: (client) => {
        client.kv.watch = () => new Promise(() => undefined);
      },
    });
    expect(c.isConnected).toBe(true);
    await killEtcd();
    await waitFor('the view notices', () => !c.isConnected, 10_000);
    await restartEtcd();
    await waitFor('the view reconnects', () => c.isConnected, 10_000);
  });

  it('does not take a read sent before the watch lost etcd for proof that etcd is up', async () => {
    const c = await view(kvConfig());
    await waitFor('the watch is up', () => c.isConnected);
    await new Promise((r) => setTimeout(r, 300));
    // Hold one read's answer until after etcd is gone and the watch has said so.
    const read = c.kv.read.bind(c.kv);
    let answered = false;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    c.kv.read = async () => {
      const state = await read();
      answered = true;
      await gate;
      return state;
    };
    const refreshed = c.refresh();
    await waitFor('the read answered', () => answered);
    await killEtcd();
    await waitFor('the watch reports the loss', () => !c.isConnected, 10_000);
    release();
    await refreshed;
    expect(c.isConnected).toBe(false);
    c.kv.read = read;
    await restartEtcd();
    await waitFor('the view reconnects', () => c.isConnected, 10_000);
  });

  it('zone-aware replica selection puts replicas in distinct zones', async () => {
    const kv = kvConfig();
    const ms = await Promise.all([['a1', 'a'], ['a2', 'a'], ['b1', 'b'], ['c1', 'c']].map(([id, zone]) => member(kv, id!, { zone: zone! })));
    await Promise.all(ms.map((m) => m.lc.start()));
    const c = await view(kv, { zoneAware: true, rf: 3 });
    await waitFor('four healthy', () => healthyIds(c).length === 4);
    const snap = c.snapshot();
    for (let t = 0; t < 2 ** 32; t += 2 ** 24) {
      const zones = snap.get(t).instances.map((i) => i.zone).sort();
      expect(zones).toEqual(['a', 'b', 'c']);
    }
  });
});
