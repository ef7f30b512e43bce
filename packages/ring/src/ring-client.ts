// A process's view of one ring: read once, then kept current by the store's watch. It re-reads on a
// timer only while the watch is not up (being created, or lost): etcd3 tells a watcher of a lost
// connection only once it exists, so polling is what notices a store that goes away meanwhile.
// When the store cannot be reached the view keeps the last ring it saw and judges heartbeats as of
// that moment, so an etcd outage does not make every member look dead at once; it retries with
// backoff and converges when the store is back. Once back, the outage is left out of heartbeat
// ages for one heartbeat_timeout: the store holds the beats from before it went down until each
// member's next beat lands, and a view that reconnects before its members do must not judge them
// dead for the store's absence.

import type { Logger } from '@andante/model';
import { casRing, type RingKV } from './kv.js';
import { RingSnapshot, type InstanceDesc, type RingConfig } from './ring.js';

/** What ring pages and status routes need of a ring. */
export interface RingStore {
  /** The members as last seen, with their liveness. */
  list(): Promise<InstanceDesc[]>;
  /** Removes a member from the ring (the ring page's forget, for an UNHEALTHY member). */
  forget(id: string): Promise<void>;
  /** The ring as placement sees it (health judged as of the last contact while the store is down). */
  snapshot(): RingSnapshot;
  /** Whether the store answered the last read. */
  readonly isConnected: boolean;
  /** The ring's settings (replication, heartbeat timeout, zones). */
  readonly config: RingConfig;
}

/** How often a view without a working watch re-reads the store. */
const WATCHLESS_POLL_MS = 1_000;

export class RingClient implements RingStore {
  private members: InstanceDesc[] = [];
  private cached: RingSnapshot | undefined;
  private cachedAtMs = 0;
  /** When the view last matched the store; health is judged as of this while disconnected. */
  private lastSyncMs = 0;
  private connected = false;
  /** How long the last outage lasted, left out of heartbeat ages until graceUntilMs. */
  private outageMs = 0;
  private graceUntilMs = 0;
  private refreshing: Promise<void> | undefined;
  private dirty = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = 100;
  private unwatch: (() => void) | undefined;
  private watchPending: Promise<void> | undefined;
  private stopped = false;
  /** Runs while the watch is not established. */
  private pollTimer: NodeJS.Timeout | undefined;
  /** Bumped when the watch reports a lost connection: a read begun before it proves nothing. */
  private connectionEpoch = 0;
  private readonly listeners = new Set<() => void>();
  private syncs = 0;

  constructor(
    readonly kv: RingKV,
    readonly config: RingConfig,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts the watch and reads the ring. The watch is not awaited: etcd3 retries creating it for as
   * long as the store refuses (down, bad credentials), and the first 'connected' event re-reads the
   * ring, which covers changes made between this read and the watch's start.
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.subscribe();
    await this.refresh();
  }

  private subscribe(): void {
    if (this.unwatch || this.watchPending) return;
    this.setWatchUp(false);
    this.watchPending = this.kv
      .watch({
        onChange: () => void this.refresh(),
        onConnection: (up, err) => {
          this.setWatchUp(up);
          if (up) {
            void this.refresh();
            return;
          }
          this.connectionEpoch++;
          if (this.connected) {
            this.connected = false;
            this.logger.warn('ring store watch disconnected; serving the last known ring', { error: err?.message });
          }
        },
      })
      .then(
        (unwatch) => {
          if (this.stopped) {
            unwatch();
            return;
          }
          this.unwatch = unwatch;
          this.setWatchUp(true);
        },
        (err: Error) => {
          this.logger.warn('ring store watch failed; will retry', { error: err.message });
          this.scheduleRetry();
        },
      )
      .finally(() => {
        this.watchPending = undefined;
      });
  }

  private setWatchUp(up: boolean): void {
    if (up || this.stopped) {
      if (this.pollTimer) clearInterval(this.pollTimer);
      this.pollTimer = undefined;
    } else if (!this.pollTimer) {
      this.pollTimer = setInterval(() => void this.refresh(), WATCHLESS_POLL_MS);
      this.pollTimer.unref();
    }
  }

  /** Re-reads the ring (coalescing calls that arrive while a read is running). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.dirty = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.dirty = false;
        const epoch = this.connectionEpoch;
        try {
          const state = await this.kv.read();
          // Sent before the watch lost the store: the next read (the poll's) tells.
          if (epoch !== this.connectionEpoch) continue;
          // A member whose heartbeat expired keeps the last one this process saw (what the ring
          // page shows as its last heartbeat), else its registration.
          const lastSeen = new Map(this.members.map((m) => [m.id, m.heartbeatMs]));
          this.members = Object.values(state.desc.members).map((m) => {
            const hb = state.heartbeats.get(m.id);
            return { ...m, heartbeatMs: hb ?? Math.max(lastSeen.get(m.id) ?? 0, m.registeredMs), expired: hb === undefined };
          });
          const now = Date.now();
          if (!this.connected && this.syncs > 0) {
            this.outageMs = now - this.lastSyncMs;
            this.graceUntilMs = now + this.config.heartbeatTimeoutMs;
            this.logger.info('ring store reachable again', { members: this.members.length, outage_ms: this.outageMs });
          }
          this.lastSyncMs = now;
          this.connected = true;
          this.syncs++;
          this.cached = undefined;
          this.retryDelayMs = 100;
          for (const l of this.listeners) l();
        } catch (err) {
          if (this.connected || this.syncs === 0) {
            this.logger.warn('cannot read the ring store; serving the last known ring', { error: (err as Error).message });
          }
          this.connected = false;
          this.scheduleRetry();
          break;
        }
      } while (this.dirty && !this.stopped);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.subscribe();
      void this.refresh();
    }, this.retryDelayMs);
    this.retryTimer.unref();
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, 2_000);
  }

  /** Whether the last read or watch event reached the store. */
  get isConnected(): boolean {
    return this.connected;
  }

  /** How many times the view was read from the store (tests wait on it). */
  get syncCount(): number {
    return this.syncs;
  }

  /** Calls `listener` after every change of the view. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The ring for placement questions. Rebuilt when the view changes, and at least once a second so
   * heartbeat ages stay current; frozen at the last sync while the store is unreachable, and judged
   * without the outage for a heartbeat_timeout after it.
   */
  snapshot(): RingSnapshot {
    const now = Date.now();
    if (!this.cached || now - this.cachedAtMs >= 1_000) {
      this.cached = new RingSnapshot(this.members, this.config, this.judgedAtMs(now));
      this.cachedAtMs = now;
    }
    return this.cached;
  }

  private judgedAtMs(now: number): number {
    if (!this.connected) return this.lastSyncMs;
    if (now < this.graceUntilMs) return now - this.outageMs;
    return now;
  }

  async list(): Promise<InstanceDesc[]> {
    return this.members.map((m) => ({ ...m, tokens: [...m.tokens] }));
  }

  async forget(id: string): Promise<void> {
    await casRing(this.kv, (desc) => {
      if (!(id in desc.members)) return null;
      delete desc.members[id];
      return desc;
    });
    await this.refresh();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.setWatchUp(false);
    this.unwatch?.();
    this.unwatch = undefined;
    await this.refreshing;
  }
}
