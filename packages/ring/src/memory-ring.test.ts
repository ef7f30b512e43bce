import { describe, expect, it } from 'vitest';
import { silentLogger } from '@andante/model';
import { createRingStore, defaultKVStoreConfig } from './create-ring-store.js';
import { Lifecycler } from './lifecycler.js';

describe('ring in memory (kvstore.store: inmemory)', () => {
  it('runs the same lifecycle: join ACTIVE with tokens, forget, re-register on the next heartbeat, leave', async () => {
    const ring = createRingStore(defaultKVStoreConfig(), { key: 'ring', replicationFactor: 1, heartbeatTimeoutMs: 60_000 }, silentLogger);
    await ring.start();
    const lc = new Lifecycler(ring, { id: 'i-1', address: 'h:9095', numTokens: 128, heartbeatPeriodMs: 20 });
    await lc.start();
    await ring.refresh();
    expect((await ring.list()).map((i) => [i.id, i.state, i.tokens.length])).toEqual([['i-1', 'ACTIVE', 128]]);
    expect(ring.snapshot().ownerOf(1)).toBe('i-1');
    await ring.forget('i-1');
    expect(await ring.list()).toEqual([]);
    // A live member that was forgotten puts itself back, as dskit's lifecycler does.
    const deadline = Date.now() + 10_000;
    while ((await ring.list()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect((await ring.list()).map((i) => i.state)).toEqual(['ACTIVE']);
    await lc.stop();
    await ring.refresh();
    expect(await ring.list()).toEqual([]);
    await ring.stop();
  });

  it('rejects an unknown store', () => {
    expect(() => createRingStore({ ...defaultKVStoreConfig(), store: 'consul' }, { key: 'ring', replicationFactor: 1, heartbeatTimeoutMs: 1 }, silentLogger)).toThrow(
      'kvstore.store: unsupported store "consul"; supported: inmemory, etcd',
    );
  });
});

describe('instance identity', () => {
  it('defaults the ID to the hostname and the address to a non-loopback IPv4 with the gRPC port', async () => {
    const { hostname } = await import('node:os');
    const { defaultInstanceId, instanceAddress } = await import('./create-ring-store.js');
    expect(defaultInstanceId()).toBe(hostname());
    expect(instanceAddress('10.1.2.3', 0, 9095)).toBe('10.1.2.3:9095');
    expect(instanceAddress('10.1.2.3', 7000, 9095)).toBe('10.1.2.3:7000');
    expect(instanceAddress('', 0, 9095)).toMatch(/^\d+\.\d+\.\d+\.\d+:9095$/);
  });
});

describe('restart with the same instance ID', () => {
  it('keeps the tokens it had in the ring', async () => {
    const ring = createRingStore(defaultKVStoreConfig(), { key: 'ring', replicationFactor: 1, heartbeatTimeoutMs: 60_000 }, silentLogger);
    await ring.start();
    const first = new Lifecycler(ring, { id: 'i-1', address: 'h:9095', numTokens: 16, heartbeatPeriodMs: 1_000 });
    await first.start();
    await first.abandon(); // a crash: the entry stays
    await ring.refresh();
    const before = (await ring.list())[0]!.tokens;
    const states: string[] = [];
    const second = new Lifecycler(ring, { id: 'i-1', address: 'h2:9095', numTokens: 16, heartbeatPeriodMs: 1_000 });
    second.onStateChange((s) => states.push(s));
    await second.start();
    await ring.refresh();
    const [after] = await ring.list();
    expect(after!.tokens).toEqual(before);
    expect(after!.address).toBe('h2:9095');
    expect(states).toEqual(['PENDING', 'JOINING', 'ACTIVE']);
    await second.stop();
    await ring.stop();
  });
});

describe('ring client view', () => {
  it('keeps the last heartbeat it saw for a member whose lease expired (the ring page shows it), not its registration', async () => {
    const { MemoryRingKV } = await import('./kv.js');
    const { RingClient } = await import('./ring-client.js');
    const kv = new MemoryRingKV(100);
    const client = new RingClient(kv, { replicationFactor: 1, heartbeatTimeoutMs: 100 }, silentLogger);
    const registeredMs = Date.now() - 10_000;
    await kv.compareAndSwap('0', { members: { 'i-1': { id: 'i-1', address: 'h:9095', state: 'ACTIVE', tokens: [1], registeredMs, zone: '' } } });
    const beatMs = Date.now();
    await kv.heartbeat('i-1', beatMs);
    await client.refresh();
    expect((await client.list())[0]).toMatchObject({ heartbeatMs: beatMs, expired: false });
    await new Promise((r) => setTimeout(r, 150));
    await client.refresh();
    expect((await client.list())[0]).toMatchObject({ heartbeatMs: beatMs, expired: true });
    expect(client.snapshot().displayState((await client.list())[0]!)).toBe('UNHEALTHY');
  });

  it('after a store outage, gives members one heartbeat_timeout to beat again before judging them by the beats the store kept', async () => {
    const { MemoryRingKV } = await import('./kv.js');
    const { RingClient } = await import('./ring-client.js');
    /** A store that can be made unreachable (reads fail, as etcd's do while it is down). */
    class OutageKV extends MemoryRingKV {
      down = false;
      override async read() {
        if (this.down) throw new Error('14 UNAVAILABLE: connect ECONNREFUSED');
        return super.read();
      }
    }
    const kv = new OutageKV(60_000);
    const timeoutMs = 300;
    const client = new RingClient(kv, { replicationFactor: 1, heartbeatTimeoutMs: timeoutMs }, silentLogger);
    await kv.compareAndSwap('0', { members: { 'i-1': { id: 'i-1', address: 'h:9095', state: 'ACTIVE', tokens: [1], registeredMs: Date.now(), zone: '' } } });
    await kv.heartbeat('i-1', Date.now());
    await client.refresh();
    const healthy = async (): Promise<boolean> => {
      await client.refresh(); // a fresh snapshot (it is otherwise cached up to a second)
      return client.snapshot().healthyInstances().length === 1;
    };
    expect(await healthy()).toBe(true);

    kv.down = true;
    await client.refresh();
    expect(client.isConnected).toBe(false);
    await new Promise((r) => setTimeout(r, 2 * timeoutMs));
    // Judged as of the last contact while the store is down.
    expect(client.snapshot().healthyInstances()).toHaveLength(1);

    // Back, with the member's last beat older than heartbeat_timeout: it still counts as alive...
    kv.down = false;
    expect(await healthy()).toBe(true);
    expect(client.isConnected).toBe(true);
    // ...until a heartbeat_timeout has passed without a beat since the store came back.
    await new Promise((r) => setTimeout(r, timeoutMs + 50));
    expect(await healthy()).toBe(false);
    // A beat makes it healthy again, judged as usual.
    await kv.heartbeat('i-1', Date.now());
    expect(await healthy()).toBe(true);
    await client.stop();
  });
});

describe('serving since', () => {
  it('is set when a member starts (a restart keeps its registration), and moves to the end of a stall its heartbeat timer shows', async () => {
    const { MemoryRingKV } = await import('./kv.js');
    const kv = new MemoryRingKV(60_000);
    const member = async () => (await kv.read()).desc.members['i-1']!;
    const first = new Lifecycler(kv, { id: 'i-1', address: 'h:9095', numTokens: 4, heartbeatPeriodMs: 20 });
    const t0 = Date.now();
    await first.start();
    const started = await member();
    expect(started.servingSinceMs).toBeGreaterThanOrEqual(t0);
    await first.abandon(); // as a kill -9

    await new Promise((r) => setTimeout(r, 30));
    // A stall is a beat 1.5 s late (well above a loaded test machine's timer lag).
    const second = new Lifecycler(kv, { id: 'i-1', address: 'h:9095', numTokens: 4, heartbeatPeriodMs: 20, stallMs: 1_500 });
    await second.start();
    const restarted = await member();
    expect(restarted.registeredMs).toBe(started.registeredMs);
    expect(restarted.tokens).toEqual(started.tokens);
    expect(restarted.servingSinceMs!).toBeGreaterThan(started.servingSinceMs!);

    // Beats on time leave it alone.
    const beats = second.heartbeatCount;
    while (second.heartbeatCount < beats + 3) await new Promise((r) => setTimeout(r, 5));
    expect((await member()).servingSinceMs).toBe(restarted.servingSinceMs);

    // The event loop held for 2 s (as SIGSTOP or a frozen VM would): the next beat is late.
    const blockedUntil = Date.now() + 2_000;
    while (Date.now() < blockedUntil) {
      // busy
    }
    const after = second.heartbeatCount;
    while (second.heartbeatCount < after + 2) await new Promise((r) => setTimeout(r, 5));
    expect((await member()).servingSinceMs!).toBeGreaterThanOrEqual(blockedUntil);
    await second.stop();
  });
});
