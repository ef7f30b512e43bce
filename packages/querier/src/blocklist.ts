// The querier's view of the backend: every tenant's block metas, refreshed every blocklist_poll.
// A block announced by an in-process ingester stays in the list until a poll has listed it or it
// is known compacted (or gone), so no listing that misses it can hide it from readers. Tenants
// come from the backend (listing and key scan) and from what this process wrote, so a tenant is
// polled even when a store's root listing misses it.

import { Counter, type Registry } from 'prom-client';
import { NotFoundError, blocksCoveredByOutputs, validateTenantId, type Logger } from '@andante/model';
import type { Backend } from '@andante/backend';
import { META_NAME, listTenants, listVisibleBlocks, readTenantIndex, type BlockMeta, type SkippedBlock } from '@andante/storage';

export interface BlocklistMetrics {
  pollErrors: Counter<'tenant'>;
  skippedBlocks: Counter<'tenant' | 'reason'>;
}

function createBlocklistMetrics(registry: Registry): BlocklistMetrics {
  const registers = [registry];
  return {
    // Tempo's name and label: failures while polling a tenant's blocks (here also each unreadable meta, every poll).
    pollErrors: new Counter({ name: 'tempodb_blocklist_poll_errors_total', help: 'Errors while polling the blocklist, per tenant.', labelNames: ['tenant'], registers }),
    skippedBlocks: new Counter({
      name: 'tempodb_blocklist_skipped_blocks_total',
      help: 'Block folders whose meta is not an Andante block this build reads (another writer, a truncated file), skipped by the blocklist; counted once per block.',
      labelNames: ['tenant', 'reason'],
      registers,
    }),
  };
}

export class Blocklist {
  private metas = new Map<string, BlockMeta[]>();
  /** Per tenant, the compacted metas of the tenant index the current list came from (else none). */
  private compactedMetas = new Map<string, readonly BlockMeta[]>();
  /** blocksCoveredByOutputs of each list `blocks` returned (lists are replaced, never changed). */
  private readonly covered = new WeakMap<readonly BlockMeta[], ReadonlySet<string>>();
  /** Blocks announced by an in-process ingester, by tenant and block ID, until a poll lists them. */
  private readonly announced = new Map<string, Map<string, BlockMeta>>();
  /** Tenants this process wrote to or polled before: polled even when no listing shows them. */
  private readonly knownTenants = new Set<string>();
  /** Skipped blocks already logged and counted (tenant/block), so each is reported once. */
  private readonly reportedSkips = new Set<string>();
  private readonly metrics: BlocklistMetrics | undefined;
  /** Bumped on every successful poll, so caches keyed by block can drop what left the list. */
  version = 0;
  /** Polls completed (successful or not); /ready waits for the first. */
  pollsCompleted = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly pollIntervalMs: number,
    private readonly logger: Logger,
    registry?: Registry,
  ) {
    this.metrics = registry ? createBlocklistMetrics(registry) : undefined;
  }

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

  /** A tenant this process writes to (an ingester's first push, a compactor's job): always polled. */
  registerTenant(tenantId: string): void {
    this.knownTenants.add(validateTenantId(tenantId));
  }

  /** Tenants registered, announced or found by earlier polls. */
  tenants(): string[] {
    return [...this.knownTenants].sort();
  }

  private async pollOnce(): Promise<void> {
    try {
      let tenants: string[];
      try {
        tenants = await listTenants(this.backend, this.knownTenants);
      } catch (err) {
        this.logger.error('blocklist poll could not list tenants; keeping the previous list', { err });
        return;
      }
      const next = new Map<string, BlockMeta[]>();
      // Swapped in with the lists: the compacted metas of the index a list came from, if it did.
      const nextCompacted = new Map<string, readonly BlockMeta[]>();
      for (const tenant of tenants) {
        this.knownTenants.add(tenant);
        try {
          const { listed, compacted } = await this.tenantBlocks(tenant);
          next.set(tenant, listed);
          nextCompacted.set(tenant, compacted);
        } catch (err) {
          // One tenant's failure keeps that tenant's previous list; the others are refreshed.
          this.metrics?.pollErrors.inc({ tenant });
          this.logger.error('blocklist poll failed for tenant; keeping its previous list', { tenant, err });
          next.set(tenant, this.withAnnounced(tenant, this.metas.get(tenant) ?? []));
          nextCompacted.set(tenant, this.compactedMetas.get(tenant) ?? []);
        }
      }
      // Blocks announced while this poll ran.
      for (const tenant of this.announced.keys()) next.set(tenant, this.withAnnounced(tenant, next.get(tenant) ?? []));
      this.metas = next;
      this.compactedMetas = nextCompacted;
      this.version++;
    } finally {
      this.pollsCompleted++;
    }
  }

  /**
   * One read of the tenant index the compactor writes, when there is one; a LIST plus a GET per
   * block otherwise. Announced blocks the result does not show are kept (see `withAnnounced`).
   * `compacted`: the index's compacted metas when the list is the index's (one listing made both).
   */
  private async tenantBlocks(tenantId: string): Promise<{ listed: BlockMeta[]; compacted: readonly BlockMeta[] }> {
    const index = await readTenantIndex(this.backend, tenantId);
    // An index the compactor stopped refreshing (compaction disabled, compactor down) would hide
    // blocks: past two poll intervals, list instead. The first poll after a start always lists:
    // blocks flushed at the last shutdown may postdate the index.
    let listed: BlockMeta[];
    let compacted: readonly BlockMeta[] = [];
    if (index && this.version > 0 && Date.now() - index.createdAtMs <= 2 * this.pollIntervalMs) {
      listed = index.metas;
      compacted = index.compacted;
      for (const c of index.compacted) this.announced.get(tenantId)?.delete(c.blockID);
    } else {
      const { metas, skipped } = await listVisibleBlocks(this.backend, tenantId, new Set(index?.compacted.map((c) => c.blockID)));
      this.reportSkipped(tenantId, skipped);
      listed = metas;
    }
    return { listed: await this.withAnnouncedChecked(tenantId, listed), compacted };
  }

  /**
   * The listed blocks plus the announced ones the listing missed. An announcement ends once a
   * listing shows the block, or its meta.json is gone (compacted: the compactor removes meta.json
   * only after meta.compacted.json is written; or deleted).
   */
  private async withAnnouncedChecked(tenantId: string, listed: BlockMeta[]): Promise<BlockMeta[]> {
    const pending = this.announced.get(tenantId);
    if (!pending) return listed;
    const ids = new Set(listed.map((m) => m.blockID));
    for (const id of [...pending.keys()]) {
      if (ids.has(id)) pending.delete(id);
      else if (!(await this.metaExists(tenantId, id))) pending.delete(id);
    }
    if (pending.size === 0) this.announced.delete(tenantId);
    return this.withAnnounced(tenantId, listed);
  }

  private withAnnounced(tenantId: string, listed: readonly BlockMeta[]): BlockMeta[] {
    const out = [...listed];
    const ids = new Set(listed.map((m) => m.blockID));
    for (const [id, meta] of this.announced.get(tenantId) ?? []) if (!ids.has(id)) out.push(meta);
    return out;
  }

  private async metaExists(tenantId: string, blockId: string): Promise<boolean> {
    try {
      await this.backend.size([tenantId, blockId], META_NAME);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  private reportSkipped(tenantId: string, skipped: readonly SkippedBlock[]): void {
    for (const s of skipped) {
      // Tempo counts every failed block read of every poll.
      this.metrics?.pollErrors.inc({ tenant: tenantId });
      const key = `${tenantId}/${s.blockId}`;
      if (this.reportedSkips.has(key)) continue;
      this.reportedSkips.add(key);
      this.metrics?.skippedBlocks.inc({ tenant: tenantId, reason: s.reason });
      this.logger.warn('skipping a block whose meta is not an Andante block; the rest of the tenant is served', {
        tenant: tenantId,
        block: s.blockId,
        path: s.path,
        reason: s.reason,
        err: s.message,
      });
    }
  }

  /** A block just written by this process: visible to queries at once, and until a poll lists it. */
  add(meta: BlockMeta): void {
    this.knownTenants.add(meta.tenantID);
    const pending = this.announced.get(meta.tenantID) ?? new Map<string, BlockMeta>();
    pending.set(meta.blockID, meta);
    this.announced.set(meta.tenantID, pending);
    const list = [...(this.metas.get(meta.tenantID) ?? [])];
    if (!list.some((m) => m.blockID === meta.blockID)) list.push(meta);
    this.metas.set(meta.tenantID, list);
    this.version++;
  }

  blocks(tenantId: string): readonly BlockMeta[] {
    return this.metas.get(tenantId) ?? [];
  }

  /**
   * Compacted blocks whose spans are all in blocks of the current list (blocksCoveredByOutputs, with
   * the compacted metas of the same index), so a reader that finds one elsewhere (an ingester names
   * the blocks it flushed for complete_block_timeout) need not read it as well. Derived from the
   * list `blocks` returns in the same tick, so the two always agree.
   */
  compactedBlocks(tenantId: string): ReadonlySet<string> {
    const list = this.blocks(tenantId);
    let covered = this.covered.get(list);
    if (!covered) {
      covered = blocksCoveredByOutputs(list, this.compactedMetas.get(tenantId));
      this.covered.set(list, covered);
    }
    return covered;
  }
}
