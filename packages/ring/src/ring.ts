// A consistent-hash ring: instances own random uint32 tokens; a trace ID's token (FNV-1 32, as in
// Tempo) is owned by the next `replicationFactor` distinct instances clockwise. The ring's state
// comes from a KV store; `MemoryRingStore` serves `-target=all`, etcd will serve distributed mode.

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
}

/** Where ring state lives. Implementations: in memory (single process), etcd (distributed). */
export interface RingStore {
  list(): Promise<InstanceDesc[]>;
  upsert(desc: InstanceDesc): Promise<void>;
  remove(id: string): Promise<void>;
}

export class MemoryRingStore implements RingStore {
  private readonly instances = new Map<string, InstanceDesc>();
  async list(): Promise<InstanceDesc[]> {
    return [...this.instances.values()].map((d) => ({ ...d, tokens: [...d.tokens] }));
  }
  async upsert(desc: InstanceDesc): Promise<void> {
    this.instances.set(desc.id, { ...desc, tokens: [...desc.tokens] });
  }
  async remove(id: string): Promise<void> {
    this.instances.delete(id);
  }
}

export interface RingConfig {
  replicationFactor: number;
  heartbeatTimeoutMs: number;
}

export interface ReplicationSet {
  instances: InstanceDesc[];
  /** How many must succeed: floor(RF/2)+1, as Tempo's write quorum. */
  minSuccess: number;
}

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

  isHealthy(inst: InstanceDesc): boolean {
    return inst.state === 'ACTIVE' && this.nowMs - inst.heartbeatMs <= this.cfg.heartbeatTimeoutMs;
  }

  /** The instances that own `token` for writes; throws when too few healthy ones exist. */
  replicationSetFor(token: number): ReplicationSet {
    const rf = this.cfg.replicationFactor;
    const minSuccess = Math.floor(rf / 2) + 1;
    const chosen: InstanceDesc[] = [];
    const seen = new Set<string>();
    const n = this.tokens.length;
    if (n > 0) {
      let i = lowerBound(this.tokens, token) % n;
      for (let walked = 0; walked < n && seen.size < rf; walked++, i = (i + 1) % n) {
        const owner = this.owners[i]!;
        if (seen.has(owner.id)) continue;
        seen.add(owner.id);
        // Like Tempo's WriteNoExtend: an unhealthy owner still takes a slot, it just won't count.
        if (this.isHealthy(owner)) chosen.push(owner);
      }
    }
    if (chosen.length < minSuccess) {
      throw new RingError(`at least ${minSuccess} live replicas required, could only find ${chosen.length}`);
    }
    return { instances: chosen, minSuccess };
  }

  /** Every healthy instance: queries for recent data ask all of them. */
  healthyInstances(): InstanceDesc[] {
    return this.instances.filter((i) => this.isHealthy(i));
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
