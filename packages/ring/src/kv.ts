// Where ring state lives. One descriptor per ring (Tempo/dskit keep one key per ring too, e.g.
// `collectors/ring`), changed only by compare-and-swap on its version, plus one liveness record
// per member bound to a lease with a TTL derived from heartbeat_timeout: a member that stops
// renewing its lease (crashed, hung, cut off) loses the record when the store expires it, judged
// by the store's clock rather than by each reader's.

import type { InstanceState } from './ring.js';

/** What the descriptor stores of a member; liveness comes from the heartbeat records. */
export interface MemberDesc {
  id: string;
  address: string;
  state: InstanceState;
  tokens: number[];
  zone: string;
  registeredMs: number;
  /**
   * Since when (Unix ms) the member has taken writes without a break: its start, or the end of a
   * stall its heartbeats show. A member restarted or stalled since may lack writes others have;
   * readers that count each span once prefer members serving since before their window. Absent in
   * entries written before it existed (read as 0).
   */
  servingSinceMs?: number;
}

export interface RingDesc {
  members: Record<string, MemberDesc>;
}

export interface RingState {
  desc: RingDesc;
  /** Opaque version for compareAndSwap ('0': no descriptor yet). */
  version: string;
  /** Unix ms of each live member's last heartbeat (members whose lease expired are absent). */
  heartbeats: Map<string, number>;
}

export interface RingWatchListener {
  /** The descriptor or a heartbeat changed. */
  onChange(): void;
  /** The watch lost (false) or regained (true) its connection to the store. */
  onConnection(up: boolean, err?: Error): void;
}

export interface RingKV {
  readonly kind: 'inmemory' | 'etcd';
  /** The descriptor, its version and the live heartbeats, read consistently. */
  read(): Promise<RingState>;
  /** Writes `next` if the descriptor is still at `version`; false when someone else wrote first. */
  compareAndSwap(version: string, next: RingDesc): Promise<boolean>;
  /** Records member `id`'s heartbeat and renews (or re-creates) its lease. */
  heartbeat(id: string, timestampMs: number): Promise<void>;
  /** Ends member `id`'s lease now (a clean leave), so it does not linger until the TTL. */
  releaseHeartbeat(id: string): Promise<void>;
  /** Calls the listener on changes, without polling; resolves with an unsubscribe. */
  watch(listener: RingWatchListener): Promise<() => void>;
  close(): Promise<void>;
}

export const emptyRingDesc = (): RingDesc => ({ members: {} });

export class CasConflictError extends Error {
  override readonly name = 'CasConflictError';
}

/**
 * Reads the descriptor, applies `update` and writes it back if nobody wrote in between, retrying
 * on conflict with a fresh read (dskit's CAS loop). `update` returns null for "no change".
 */
export async function casRing(kv: RingKV, update: (desc: RingDesc, state: RingState) => RingDesc | null, maxAttempts = 20): Promise<RingDesc> {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const state = await kv.read();
    const next = update(structuredClone(state.desc), state);
    if (next === null) return state.desc;
    if (await kv.compareAndSwap(state.version, next)) return next;
    // Lost the race: someone else's write landed first; back off a little, then re-read.
    await new Promise((r) => setTimeout(r, Math.random() * 20 * (attempt + 1)));
  }
  throw new CasConflictError(`ring update still conflicting after ${maxAttempts} attempts`);
}

/**
 * The ring in this process's memory (`kvstore.store: inmemory`): for `-target=all`, where every
 * member lives in the same process. A heartbeat older than the TTL counts as an expired lease.
 */
export class MemoryRingKV implements RingKV {
  readonly kind = 'inmemory' as const;
  private desc: RingDesc = emptyRingDesc();
  private version = 0;
  private readonly heartbeats = new Map<string, number>();
  private readonly listeners = new Set<RingWatchListener>();

  constructor(private readonly leaseTtlMs: number) {}

  async read(): Promise<RingState> {
    const now = Date.now();
    const heartbeats = new Map([...this.heartbeats].filter(([, ts]) => now - ts <= this.leaseTtlMs));
    return { desc: structuredClone(this.desc), version: String(this.version), heartbeats };
  }

  async compareAndSwap(version: string, next: RingDesc): Promise<boolean> {
    if (version !== String(this.version)) return false;
    this.desc = structuredClone(next);
    this.version++;
    this.notify();
    return true;
  }

  async heartbeat(id: string, timestampMs: number): Promise<void> {
    this.heartbeats.set(id, timestampMs);
    this.notify();
  }

  async releaseHeartbeat(id: string): Promise<void> {
    this.heartbeats.delete(id);
    this.notify();
  }

  async watch(listener: RingWatchListener): Promise<() => void> {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private notify(): void {
    for (const l of this.listeners) queueMicrotask(() => l.onChange());
  }
}
