// A consistent-hash ring: instances own random uint32 tokens; a trace ID's token (FNV-1 32, as in
// Tempo) is owned by the next `replicationFactor` distinct instances clockwise. The ring's state
// comes from a KV store (kv.ts): in memory for `-target=all`, etcd in distributed mode.

export type InstanceState = 'PENDING' | 'JOINING' | 'ACTIVE' | 'LEAVING' | 'LEFT';

export interface InstanceDesc {
  id: string;
  address: string;
  state: InstanceState;
  tokens: number[];
  /** Unix ms of the last heartbeat. */
  heartbeatMs: number;
  registeredMs: number;
  zone: string;
  /** Since when it has taken writes without a break (MemberDesc.servingSinceMs; absent: 0). */
  servingSinceMs?: number;
  /**
   * The member's liveness lease is gone (etcd expired it, or the in-memory TTL passed): it stopped
   * heartbeating, whatever its last timestamp says.
   */
  expired?: boolean;
}

export interface RingConfig {
  replicationFactor: number;
  heartbeatTimeoutMs: number;
  /** Replicas of one token go to distinct zones (Tempo's zone_awareness_enabled). */
  zoneAwarenessEnabled?: boolean;
}

export interface ReplicationSet {
  instances: InstanceDesc[];
  /** How many must succeed: floor(RF/2)+1, as Tempo's write quorum. */
  minSuccess: number;
}

/** The write quorum for a replication factor: floor(RF/2)+1. */
export const writeQuorum = (replicationFactor: number): number => Math.floor(replicationFactor / 2) + 1;

export function generateTokens(count: number, taken: ReadonlySet<number> = new Set()): number[] {
  const tokens = new Set<number>();
  while (tokens.size < count) {
    const t = (Math.random() * 0x1_0000_0000) >>> 0;
    if (!taken.has(t)) tokens.add(t);
  }
  return [...tokens].sort((a, b) => a - b);
}

/** A read-only snapshot of ring state that answers placement questions quickly. */
export class RingSnapshot {
  private readonly tokens: Uint32Array;
  private readonly owners: InstanceDesc[];

  constructor(
    readonly instances: readonly InstanceDesc[],
    private readonly cfg: RingConfig,
    private readonly nowMs: number = Date.now(),
  ) {
    const pairs: { token: number; owner: InstanceDesc }[] = [];
    for (const inst of instances) for (const token of inst.tokens) pairs.push({ token, owner: inst });
    pairs.sort((a, b) => a.token - b.token);
    this.tokens = Uint32Array.from(pairs.map((p) => p.token));
    this.owners = pairs.map((p) => p.owner);
  }

  /** The ring's replication factor (Tempo's ingester.lifecycler.ring.replication_factor). */
  get replicationFactor(): number {
    return this.cfg.replicationFactor;
  }

  isHealthy(inst: InstanceDesc): boolean {
    return inst.state === 'ACTIVE' && !inst.expired && this.nowMs - inst.heartbeatMs <= this.cfg.heartbeatTimeoutMs;
  }

  /** What the ring page shows: the state, or UNHEALTHY for a member that stopped heartbeating. */
  displayState(inst: InstanceDesc): string {
    const stale = inst.expired || this.nowMs - inst.heartbeatMs > this.cfg.heartbeatTimeoutMs;
    return stale ? 'UNHEALTHY' : inst.state;
  }

  /**
   * `replicationFactor` distinct healthy instances for `token`, walking the ring clockwise from it
   * and skipping unhealthy ones (so a dead replica's share goes to the next member); with zone
   * awareness each in its own zone. `minSuccess` is the write quorum; throws a RingError when
   * fewer healthy instances than the quorum exist.
   */
  get(token: number, replicationFactor: number = this.cfg.replicationFactor): ReplicationSet {
    const instances = this.walk(token, replicationFactor, new Set());
    const minSuccess = writeQuorum(replicationFactor);
    if (instances.length < minSuccess) {
      throw new RingError(`at least ${minSuccess} live replicas required, could only find ${instances.length}`);
    }
    return { instances, minSuccess };
  }

  /**
   * The next healthy instance for `token` not in `exclude` (the replicas already tried): where a
   * distributor retries a write whose replica `failed` (one of `exclude`) did not take it. With zone
   * awareness it prefers a zone no other tried replica is in (the failed replica's own zone first
   * met clockwise, so the copies stay one per zone), else any healthy instance.
   */
  nextHealthy(token: number, exclude: ReadonlySet<string>, failed?: string): InstanceDesc | undefined {
    const usedZones = new Set(this.instances.filter((i) => exclude.has(i.id) && i.id !== failed).map((i) => i.zone));
    let fallback: InstanceDesc | undefined;
    for (const owner of this.clockwise(token)) {
      if (exclude.has(owner.id) || !this.isHealthy(owner)) continue;
      if (!this.cfg.zoneAwarenessEnabled || !usedZones.has(owner.zone)) return owner;
      fallback ??= owner;
    }
    return fallback;
  }

  /** The one healthy owner of `token` (RF 1): how compaction jobs are assigned. */
  ownerOf(token: number): string | undefined {
    return this.walk(token, 1, new Set())[0]?.id;
  }

  private walk(token: number, count: number, exclude: ReadonlySet<string>): InstanceDesc[] {
    const chosen: InstanceDesc[] = [];
    const zones = new Set<string>();
    for (const owner of this.clockwise(token)) {
      if (chosen.length >= count) break;
      if (exclude.has(owner.id) || !this.isHealthy(owner)) continue;
      if (this.cfg.zoneAwarenessEnabled) {
        if (zones.has(owner.zone)) continue;
        zones.add(owner.zone);
      }
      chosen.push(owner);
    }
    return chosen;
  }

  /** Each distinct instance once, in clockwise token order from `token`. */
  private *clockwise(token: number): Generator<InstanceDesc> {
    const n = this.tokens.length;
    if (n === 0) return;
    const seen = new Set<string>();
    let i = lowerBound(this.tokens, token) % n;
    for (let walked = 0; walked < n; walked++, i = (i + 1) % n) {
      const owner = this.owners[i]!;
      if (seen.has(owner.id)) continue;
      seen.add(owner.id);
      yield owner;
    }
  }

  /**
   * The instances that own `token` for writes, Tempo's WriteNoExtend: an unhealthy owner still
   * takes one of the RF slots (it just won't count), so a dead member's data is not moved onto its
   * neighbours; throws when fewer healthy ones than the quorum remain. See get() for the variant
   * that extends past unhealthy members.
   */
  replicationSetFor(token: number): ReplicationSet {
    const rf = this.cfg.replicationFactor;
    const minSuccess = writeQuorum(rf);
    const chosen: InstanceDesc[] = [];
    const zones = new Set<string>();
    let slots = 0;
    for (const owner of this.clockwise(token)) {
      if (slots >= rf) break;
      if (this.cfg.zoneAwarenessEnabled) {
        if (zones.has(owner.zone)) continue;
        zones.add(owner.zone);
      }
      slots++;
      if (this.isHealthy(owner)) chosen.push(owner);
    }
    if (chosen.length < minSuccess) {
      throw new RingError(`at least ${minSuccess} live replicas required, could only find ${chosen.length}`);
    }
    return { instances: chosen, minSuccess };
  }

  /** Every healthy (ACTIVE) instance. */
  healthyInstances(): InstanceDesc[] {
    return this.instances.filter((i) => this.isHealthy(i));
  }

  /**
   * The instances a query for recent data asks (dskit's Read operation): ACTIVE and LEAVING ones
   * that still heartbeat. A LEAVING ingester takes no writes but holds data until its flush is
   * done and it leaves the ring.
   */
  readableInstances(): InstanceDesc[] {
    return this.instances.filter(
      (i) => (i.state === 'ACTIVE' || i.state === 'LEAVING') && !i.expired && this.nowMs - i.heartbeatMs <= this.cfg.heartbeatTimeoutMs,
    );
  }
}

export class RingError extends Error {
  override readonly name = 'RingError';
}

function lowerBound(arr: Uint32Array, value: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
