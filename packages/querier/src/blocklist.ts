// The querier's view of the backend: every tenant's block metas, refreshed every blocklist_poll.
// Blocks flushed since the last poll are served by the ingesters that flushed them
// (complete_block_timeout > blocklist_poll), so readers never have a blind window.

import type { Backend } from '@andante/backend';
import { listBlockMetas, listTenants, readTenantIndex, type BlockMeta } from '@andante/storage';
import type { Logger } from '@andante/model';

export class Blocklist {
  private metas = new Map<string, BlockMeta[]>();
  /** Blocks announced by an in-process ingester, merged into polls for a while. */
  private announced: { meta: BlockMeta; atMs: number }[] = [];
  /** Bumped on every successful poll, so caches keyed by block can drop what left the list. */
  version = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly pollIntervalMs: number,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.pollIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const pollStartedMs = Date.now();
    try {
      const next = new Map<string, BlockMeta[]>();
      for (const tenant of await listTenants(this.backend)) next.set(tenant, await this.tenantBlocks(tenant));
      // The backend (or a tenant index up to one compaction cycle old) may not show a block
      // announced shortly before this poll: keep announcements for two poll intervals.
      this.announced = this.announced.filter((a) => pollStartedMs - a.atMs < 2 * this.pollIntervalMs);
      for (const { meta } of this.announced) {
        const list = next.get(meta.tenantID) ?? [];
        if (!list.some((m) => m.blockID === meta.blockID)) list.push(meta);
        next.set(meta.tenantID, list);
      }
      this.metas = next;
      this.version++;
    } catch (err) {
      this.logger.error('blocklist poll failed; keeping the previous list', { err });
    }
  }

  /**
   * One read of the tenant index the compactor writes, when there is one; a LIST plus a GET per
   * block otherwise. Blocks flushed after the index was written are served by the ingesters.
   */
  private async tenantBlocks(tenantId: string): Promise<BlockMeta[]> {
    const index = await readTenantIndex(this.backend, tenantId);
    // An index the compactor stopped refreshing (compaction disabled, compactor down) would hide
    // blocks once the ingesters stop serving them: past two poll intervals, list instead.
    // The first poll after a start always lists: blocks flushed at the last shutdown may postdate the index.
    if (index && this.version > 0 && Date.now() - index.createdAtMs <= 2 * this.pollIntervalMs) return index.metas;
    return listBlockMetas(this.backend, tenantId);
  }

  /** A block just written by this process: visible to queries at once, not after the next poll. */
  add(meta: BlockMeta): void {
    this.announced.push({ meta, atMs: Date.now() });
    const list = [...(this.metas.get(meta.tenantID) ?? [])];
    if (!list.some((m) => m.blockID === meta.blockID)) list.push(meta);
    this.metas.set(meta.tenantID, list);
    this.version++;
  }

  blocks(tenantId: string): readonly BlockMeta[] {
    return this.metas.get(tenantId) ?? [];
  }
}
