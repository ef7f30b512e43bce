import { describe, expect, it } from 'vitest';
import { RingSnapshot, generateTokens, type InstanceDesc } from './ring.js';

function inst(id: string, tokens: number[], over: Partial<InstanceDesc> = {}): InstanceDesc {
  const now = Date.now();
  return { id, address: `${id}:9095`, state: 'ACTIVE', tokens, heartbeatMs: now, registeredMs: now, zone: '', ...over };
}

describe('RingSnapshot', () => {
  const cfg = { replicationFactor: 1, heartbeatTimeoutMs: 60_000 };

  it('assigns a token to the first instance clockwise, wrapping around', () => {
    const ring = new RingSnapshot([inst('a', [100, 300]), inst('b', [200])], cfg);
    expect(ring.replicationSetFor(50).instances.map((i) => i.id)).toEqual(['a']);
    expect(ring.replicationSetFor(150).instances.map((i) => i.id)).toEqual(['b']);
    expect(ring.replicationSetFor(250).instances.map((i) => i.id)).toEqual(['a']);
    expect(ring.replicationSetFor(301).instances.map((i) => i.id)).toEqual(['a']);
  });

  it('picks RF distinct instances and a majority quorum', () => {
    const ring = new RingSnapshot(
      [inst('a', [10, 20]), inst('b', [30]), inst('c', [40]), inst('d', [50])],
      { ...cfg, replicationFactor: 3 },
    );
    const set = ring.replicationSetFor(5);
    expect(set.instances.map((i) => i.id)).toEqual(['a', 'b', 'c']);
    expect(set.minSuccess).toBe(2);
  });

  it('does not count instances with a stale heartbeat and fails without quorum', () => {
    const stale = Date.now() - 120_000;
    const ring = new RingSnapshot(
      [inst('a', [10]), inst('b', [20], { heartbeatMs: stale }), inst('c', [30], { heartbeatMs: stale })],
      { ...cfg, replicationFactor: 3 },
    );
    expect(() => ring.replicationSetFor(5)).toThrow('at least 2 live replicas required, could only find 1');
  });

  it('writes skip a LEAVING owner (its slot stays empty), reads still ask it; a silent member is neither', () => {
    const stale = Date.now() - 120_000;
    const ring = new RingSnapshot(
      [inst('a', [10]), inst('b', [20], { state: 'LEAVING' }), inst('c', [30]), inst('d', [40], { heartbeatMs: stale }), inst('e', [50], { state: 'JOINING' })],
      { ...cfg, replicationFactor: 3 },
    );
    expect(ring.replicationSetFor(5).instances.map((i) => i.id)).toEqual(['a', 'c']);
    expect(ring.readableInstances().map((i) => i.id)).toEqual(['a', 'b', 'c']);
    expect(ring.healthyInstances().map((i) => i.id)).toEqual(['a', 'c']);
    expect(ring.replicationFactor).toBe(3);
  });

  it('spreads tokens evenly enough across instances', () => {
    const ring = new RingSnapshot(
      ['a', 'b', 'c'].map((id) => inst(id, generateTokens(128))),
      cfg,
    );
    const counts = new Map<string, number>();
    for (let i = 0; i < 30_000; i++) {
      const id = ring.replicationSetFor((Math.random() * 2 ** 32) >>> 0).instances[0]!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const c of counts.values()) expect(c).toBeGreaterThan(6_000);
  });
});

describe('RingSnapshot.get', () => {
  const cfg = { replicationFactor: 3, heartbeatTimeoutMs: 60_000 };

  it('walks clockwise past unhealthy members to RF healthy ones, with the write quorum', () => {
    const stale = Date.now() - 120_000;
    const ring = new RingSnapshot(
      [inst('a', [10]), inst('b', [20], { heartbeatMs: stale }), inst('c', [30]), inst('d', [40], { expired: true }), inst('e', [50])],
      cfg,
    );
    const set = ring.get(5);
    expect(set.instances.map((i) => i.id)).toEqual(['a', 'c', 'e']);
    expect(set.minSuccess).toBe(2);
    expect(ring.get(5, 5).minSuccess).toBe(3);
    expect(ring.nextHealthy(5, new Set(['a', 'c', 'e']))).toBeUndefined();
    expect(ring.nextHealthy(25, new Set(['c']))?.id).toBe('e');
    expect(ring.ownerOf(15)).toBe('c');
    expect(ring.displayState(ring.instances[1]!)).toBe('UNHEALTHY');
    expect(ring.displayState(ring.instances[3]!)).toBe('UNHEALTHY');
    expect(ring.displayState(ring.instances[0]!)).toBe('ACTIVE');
  });

  it('with zone awareness takes one replica per zone, and at most as many as there are zones', () => {
    const ring = new RingSnapshot(
      [inst('a1', [10], { zone: 'a' }), inst('a2', [20], { zone: 'a' }), inst('b1', [30], { zone: 'b' }), inst('b2', [40], { zone: 'b' })],
      { ...cfg, zoneAwarenessEnabled: true },
    );
    expect(ring.get(5).instances.map((i) => i.id)).toEqual(['a1', 'b1']);
    // The retry for a failed replica prefers a zone not yet used.
    expect(ring.nextHealthy(5, new Set(['a1']))?.id).toBe('b1');
    expect(ring.nextHealthy(5, new Set(['a1', 'b1']))?.id).toBe('a2');
  });

  it('with zone awareness writes one replica per zone, keeps a dead owner\'s slot, and retries a failed replica in its own zone', () => {
    // Clockwise from 5: a1 b1 c1 a2 b2 c2.
    const members = [
      inst('a1', [10], { zone: 'a' }), inst('b1', [20], { zone: 'b' }), inst('c1', [30], { zone: 'c' }),
      inst('a2', [40], { zone: 'a' }), inst('b2', [50], { zone: 'b' }), inst('c2', [60], { zone: 'c' }),
    ];
    const zoned = { replicationFactor: 3, heartbeatTimeoutMs: 60_000, zoneAwarenessEnabled: true };
    expect(new RingSnapshot(members, zoned).replicationSetFor(5).instances.map((i) => i.id)).toEqual(['a1', 'b1', 'c1']);
    // Two owners in zone a come first: the second is skipped, the set still spans three zones.
    const crowded = [inst('a1', [10], { zone: 'a' }), inst('a2', [15], { zone: 'a' }), ...members.slice(1, 3)];
    expect(new RingSnapshot(crowded, zoned).replicationSetFor(5).instances.map((i) => i.id)).toEqual(['a1', 'b1', 'c1']);
    // b1 dead: its slot is kept (not moved to b2), two live replicas are the quorum.
    const dead = members.map((m) => (m.id === 'b1' ? { ...m, heartbeatMs: 0 } : m));
    const set = new RingSnapshot(dead, zoned).replicationSetFor(5);
    expect(set.instances.map((i) => i.id)).toEqual(['a1', 'c1']);
    expect(set.minSuccess).toBe(2);
    // b1 failed the write: the retry goes to b2, so each zone still holds one copy (c2 or a2 would double a zone).
    const ring = new RingSnapshot(members, zoned);
    expect(ring.nextHealthy(5, new Set(['a1', 'b1', 'c1']), 'b1')?.id).toBe('b2');
    // Without a failed replica named, every tried zone counts as used: the first healthy one clockwise.
    expect(ring.nextHealthy(5, new Set(['a1', 'b1', 'c1']))?.id).toBe('a2');
  });

  it('skips LEAVING and JOINING members', () => {
    const ring = new RingSnapshot([inst('a', [10], { state: 'LEAVING' }), inst('b', [20], { state: 'JOINING' }), inst('c', [30])], { ...cfg, replicationFactor: 1 });
    expect(ring.get(5).instances.map((i) => i.id)).toEqual(['c']);
  });
});
