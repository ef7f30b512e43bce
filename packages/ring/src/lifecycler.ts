// One member's life in a ring, as Tempo's (dskit's) lifecycler: register PENDING, take tokens
// (JOINING), serve (ACTIVE), and on a clean stop go LEAVING and remove itself. Every change to the
// shared descriptor is a compare-and-swap, so members joining at once never pick the same tokens;
// heartbeats renew the member's lease every heartbeat_period.

import { silentLogger, type Logger } from '@andante/model';
import { casRing, type MemberDesc, type RingKV } from './kv.js';
import { generateTokens, type InstanceState } from './ring.js';

export interface LifecyclerConfig {
  /** Unique in the ring (Tempo: the hostname by default). */
  id: string;
  /** Where other components reach this member (host:port of its internal gRPC server). */
  address: string;
  numTokens: number;
  heartbeatPeriodMs: number;
  zone?: string;
  /** Tempo's unregister_on_shutdown: a clean stop removes the member (true) or leaves it in the ring. */
  unregisterOnShutdown?: boolean;
  /**
   * A heartbeat timer firing later than this means the process stalled (SIGSTOP, a frozen VM, a
   * blocked event loop) and writers may have gone elsewhere meanwhile: servingSinceMs moves to the
   * end of the stall. Default three heartbeat periods.
   */
  stallMs?: number;
}

export interface LifecyclerHooks {
  /** Runs while the member is LEAVING, before it is removed (an ingester flushes here). */
  onLeaving?: () => Promise<void>;
}

export class Lifecycler {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private beating: Promise<void> | undefined;
  private current: InstanceState | undefined;
  private readonly kv: RingKV;
  private readonly logger: Logger;
  private readonly stateListeners = new Set<(s: InstanceState) => void>();
  private heartbeatFailures = 0;
  private heartbeats = 0;
  private lastBeatSentMs = 0;
  /** A stall's end not yet in the descriptor (the store was down when it was seen). */
  private servingSinceToWrite: number | undefined;

  constructor(
    store: RingKV | { readonly kv: RingKV },
    private readonly cfg: LifecyclerConfig,
    logger?: Logger,
    private readonly hooks: LifecyclerHooks = {},
  ) {
    this.kv = 'kv' in store ? store.kv : store;
    this.logger = (logger ?? silentLogger).child({ ring_member: cfg.id });
  }

  get id(): string {
    return this.cfg.id;
  }

  /** The state this member last wrote to the ring. */
  get state(): InstanceState | undefined {
    return this.current;
  }

  /** Heartbeats that reached the store (tests wait on it). */
  get heartbeatCount(): number {
    return this.heartbeats;
  }

  /**
   * When the last heartbeat that reached the store was sent (Unix ms): the lease was renewed no
   * earlier, so it cannot expire before this plus the TTL.
   */
  get lastHeartbeatMs(): number {
    return this.lastBeatSentMs;
  }

  onStateChange(listener: (s: InstanceState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Joins the ring and resolves once ACTIVE. */
  async start(): Promise<void> {
    const now = Date.now();
    // PENDING: registered, no tokens yet (a restarted member keeps the tokens it had).
    // A restarted member keeps its registration but serves anew: what was written while it was down is not here.
    await this.write('PENDING', (m) => ({ id: this.cfg.id, tokens: [], registeredMs: now, ...m, address: this.cfg.address, zone: this.cfg.zone ?? '', state: 'PENDING', servingSinceMs: now }));
    const firstBeat = Date.now();
    await this.kv.heartbeat(this.cfg.id, firstBeat);
    this.lastBeatSentMs = firstBeat;
    // JOINING: tokens unique across the ring; a concurrent joiner that wrote first makes the CAS fail
    // and the retry sees its tokens.
    await this.write('JOINING', (m, taken) => {
      const own = (m?.tokens ?? []).filter((t) => !taken.has(t));
      const tokens = own.length >= this.cfg.numTokens ? own.slice(0, this.cfg.numTokens) : [...own, ...generateTokens(this.cfg.numTokens - own.length, new Set([...taken, ...own]))];
      return { ...(m ?? { id: this.cfg.id, registeredMs: now, servingSinceMs: now }), address: this.cfg.address, zone: this.cfg.zone ?? '', state: 'JOINING', tokens: tokens.sort((a, b) => a - b) };
    });
    await this.write('ACTIVE', (m) => m && { ...m, state: 'ACTIVE' });
    this.running = true;
    this.schedule();
  }

  private schedule(): void {
    if (!this.running) return;
    const dueMs = Date.now() + this.cfg.heartbeatPeriodMs;
    this.timer = setTimeout(() => {
      // A timer this late means the process did not run meanwhile (a slow store does not count:
      // the next beat is scheduled only once the last one ended).
      const lateMs = Date.now() - dueMs;
      this.beating = this.heartbeat(lateMs > (this.cfg.stallMs ?? 3 * this.cfg.heartbeatPeriodMs) ? lateMs : 0).finally(() => {
        this.beating = undefined;
        this.schedule();
      });
    }, this.cfg.heartbeatPeriodMs);
    this.timer.unref();
  }

  /**
   * Renews the lease and, if the descriptor lost this member (forgotten on the ring page while it
   * was alive, or a store restored without it), writes it back, as dskit's lifecycler does.
   * Failures are logged and retried next period; the member keeps serving meanwhile.
   */
  private async heartbeat(stalledMs = 0): Promise<void> {
    if (stalledMs > 0) {
      this.logger.warn('ring member stalled: its heartbeat ran late; serving anew from now', { late_ms: stalledMs });
      this.servingSinceToWrite = Date.now();
    }
    try {
      const sentAt = Date.now();
      await this.kv.heartbeat(this.cfg.id, sentAt);
      this.lastBeatSentMs = sentAt;
      const since = this.servingSinceToWrite;
      if (since !== undefined) {
        await this.write(this.current ?? 'ACTIVE', (m) => m && { ...m, servingSinceMs: since });
        this.servingSinceToWrite = undefined;
      }
      const state = await this.kv.read();
      const me = state.desc.members[this.cfg.id];
      if (!me || me.state !== this.current) {
        this.logger.warn('ring entry missing or changed; re-registering', { found: me?.state ?? 'none', want: this.current });
        await this.write(this.current ?? 'ACTIVE', (m, taken) => ({
          id: this.cfg.id,
          address: this.cfg.address,
          zone: this.cfg.zone ?? '',
          registeredMs: m?.registeredMs ?? Date.now(),
          // Lost from the descriptor while alive: whether writes reached it meanwhile is unknown.
          servingSinceMs: Date.now(),
          state: this.current ?? 'ACTIVE',
          tokens: m?.tokens.length ? m.tokens : generateTokens(this.cfg.numTokens, taken),
        }));
      }
      if (this.heartbeatFailures > 0) this.logger.info('ring heartbeat recovered', { failed_heartbeats: this.heartbeatFailures });
      this.heartbeatFailures = 0;
      this.heartbeats++;
    } catch (err) {
      this.heartbeatFailures++;
      this.logger.warn('ring heartbeat failed; will retry', { error: (err as Error).message, failed_heartbeats: this.heartbeatFailures });
    }
  }

  /** CAS-updates this member's entry; `taken` holds every other member's tokens. */
  private async write(state: InstanceState, update: (m: MemberDesc | undefined, taken: ReadonlySet<number>) => MemberDesc | undefined): Promise<void> {
    await casRing(this.kv, (desc) => {
      const taken = new Set<number>();
      for (const [id, m] of Object.entries(desc.members)) if (id !== this.cfg.id) for (const t of m.tokens) taken.add(t);
      const next = update(desc.members[this.cfg.id], taken);
      if (!next) return null;
      desc.members[this.cfg.id] = next;
      return desc;
    });
    if (this.current !== state) this.logger.info('ring member state', { state });
    this.current = state;
    for (const l of this.stateListeners) l(state);
  }

  /**
   * A clean stop: LEAVING, the onLeaving hook and `whileLeaving` (the module's own stop: an ingester
   * refuses pushes and flushes), then removal from the ring and the end of the lease
   * (unless unregister_on_shutdown is false). A store that is down is logged, not fatal: the lease
   * then expires on its own.
   */
  async stop(whileLeaving?: () => Promise<void>): Promise<void> {
    if (!this.halt()) {
      await whileLeaving?.();
      return;
    }
    await this.beating;
    try {
      await this.write('LEAVING', (m) => m && { ...m, state: 'LEAVING' });
    } catch (err) {
      this.logger.warn('cannot mark the ring entry LEAVING', { error: (err as Error).message });
    }
    // The lease is renewed while the hook runs (an ingester's final flush can outlast
    // heartbeat_timeout), so readers keep seeing a LEAVING member, not an UNHEALTHY one.
    const renew = setInterval(() => void this.kv.heartbeat(this.cfg.id, Date.now()).catch(() => undefined), this.cfg.heartbeatPeriodMs);
    renew.unref();
    try {
      await this.hooks.onLeaving?.();
      await whileLeaving?.();
    } finally {
      clearInterval(renew);
    }
    if (this.cfg.unregisterOnShutdown === false) return;
    try {
      await casRing(this.kv, (desc) => {
        if (!(this.cfg.id in desc.members)) return null;
        delete desc.members[this.cfg.id];
        return desc;
      });
      await this.kv.releaseHeartbeat(this.cfg.id);
      this.current = undefined;
      this.logger.info('ring member left the ring');
    } catch (err) {
      this.logger.warn('cannot remove the ring entry; it will expire', { error: (err as Error).message });
    }
  }

  /** Stops heartbeating without leaving, as a crashed process would (tests; SIGKILL semantics). */
  async abandon(): Promise<void> {
    this.halt();
    await this.beating;
  }

  private halt(): boolean {
    const was = this.running;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return was;
  }
}
