import { generateTokens, type InstanceDesc, type RingStore } from './ring.js';

export interface LifecyclerConfig {
  id: string;
  address: string;
  numTokens: number;
  heartbeatPeriodMs: number;
  zone?: string;
}

/**
 * Registers one instance in a ring store and keeps its heartbeat fresh; on stop it leaves the
 * ring. The same lifecycle serves ingesters and metrics-generators.
 */
export class Lifecycler {
  private timer: NodeJS.Timeout | undefined;
  private desc: InstanceDesc | undefined;

  constructor(
    private readonly store: RingStore,
    private readonly cfg: LifecyclerConfig,
  ) {}

  async start(): Promise<void> {
    const existing = (await this.store.list()).find((d) => d.id === this.cfg.id);
    const taken = new Set((await this.store.list()).flatMap((d) => d.tokens));
    const now = Date.now();
    this.desc = {
      id: this.cfg.id,
      address: this.cfg.address,
      state: 'ACTIVE',
      tokens: existing?.tokens.length ? existing.tokens : generateTokens(this.cfg.numTokens, taken),
      heartbeatMs: now,
      registeredMs: existing?.registeredMs ?? now,
      zone: this.cfg.zone ?? '',
    };
    await this.store.upsert(this.desc);
    this.timer = setInterval(() => void this.heartbeat(), this.cfg.heartbeatPeriodMs);
    this.timer.unref();
  }

  private async heartbeat(): Promise<void> {
    if (!this.desc) return;
    this.desc = { ...this.desc, heartbeatMs: Date.now() };
    await this.store.upsert(this.desc).catch(() => undefined);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.desc) await this.store.remove(this.desc.id);
    this.desc = undefined;
  }
}
