import {
  AndanteError,
  NotFoundError,
  UnavailableError,
  combineTraces,
  compareBytes,
  type IngesterQuerier,
  type Logger,
  type Trace,
} from '@andante/model';
import type { Backend } from '@andante/backend';
import { BackendBlock, type BlockMeta } from '@andante/storage';
import type { Blocklist } from './blocklist.js';

export interface TimeRange {
  /** Unix seconds; 0 = unbounded. */
  startSeconds: number;
  endSeconds: number;
}

export interface QuerierDeps {
  backend: Backend;
  blocklist: Blocklist;
  /** The ingesters that may hold recent data for a tenant (every healthy one on the ring). */
  ingesters: () => IngesterQuerier[];
  logger: Logger;
}

export class Querier {
  private readonly blockCache = new Map<string, BackendBlock>();
  private cacheVersion = -1;

  constructor(private readonly deps: QuerierDeps) {}

  /**
   * Finds a trace in recent data (ingesters) and in backend blocks (bloom filter first), and
   * combines the parts with duplicate spans removed.
   */
  async findTraceById(tenantId: string, traceId: Uint8Array, range: TimeRange = { startSeconds: 0, endSeconds: 0 }): Promise<Trace | null> {
    const fromIngesters = this.deps.ingesters().map((i) => i.findTraceById(tenantId, traceId));
    const fromBlocks = this.candidateBlocks(tenantId, traceId, range).map((meta) => this.openBlock(meta).findTraceById(traceId));
    const settled = await Promise.allSettled([...fromIngesters, ...fromBlocks]);
    const parts: Trace[] = [];
    let failure: unknown;
    for (const s of settled) {
      if (s.status === 'fulfilled') {
        if (s.value) parts.push(s.value);
      } else if (!(s.reason instanceof NotFoundError)) {
        // A block deleted since the blocklist was read (compaction, retention) simply holds nothing.
        failure ??= s.reason;
      }
    }
    if (failure !== undefined) {
      // A source that may hold part of the trace could not be read: a 404 or a partial trace would
      // be a wrong answer, so the client hears "unavailable" and retries.
      this.deps.logger.warn('trace lookup could not read every source', { tenant: tenantId, err: failure });
      throw failure instanceof AndanteError ? failure : new UnavailableError(`trace lookup failed: ${(failure as Error).message}`);
    }
    if (parts.length === 0) return null;
    return combineTraces(parts);
  }

  /**
   * Whether any source but block `exceptBlockId` may hold spans of the trace: ingesters are asked,
   * blocks answer from their ID ranges and bloom filters (no data read).
   */
  async mayHoldElsewhere(tenantId: string, traceId: Uint8Array, exceptBlockId: string): Promise<boolean> {
    const inIngesters = await Promise.all(this.deps.ingesters().map((i) => i.findTraceById(tenantId, traceId)));
    if (inIngesters.some((t) => t !== null)) return true;
    const others = this.candidateBlocks(tenantId, traceId, { startSeconds: 0, endSeconds: 0 }).filter((m) => m.blockID !== exceptBlockId);
    return (await Promise.all(others.map((m) => this.openBlock(m).mayContain(traceId)))).some(Boolean);
  }

  private candidateBlocks(tenantId: string, traceId: Uint8Array, range: TimeRange): BlockMeta[] {
    const idB64 = Buffer.from(traceId);
    return this.deps.blocklist.blocks(tenantId).filter((meta) => {
      if (meta.minID && meta.maxID) {
        if (compareBytes(idB64, Buffer.from(meta.minID, 'base64')) < 0) return false;
        if (compareBytes(idB64, Buffer.from(meta.maxID, 'base64')) > 0) return false;
      }
      if (range.startSeconds > 0 && Date.parse(meta.endTime) / 1000 < range.startSeconds) return false;
      if (range.endSeconds > 0 && Date.parse(meta.startTime) / 1000 > range.endSeconds) return false;
      return true;
    });
  }

  /** The block, opened once while it is in the blocklist (its footer, index and bloom shards are kept). */
  openBlock(meta: BlockMeta): BackendBlock {
    this.pruneCache();
    const key = `${meta.tenantID}/${meta.blockID}`;
    let block = this.blockCache.get(key);
    if (!block) {
      block = new BackendBlock(this.deps.backend, meta);
      this.blockCache.set(key, block);
    }
    return block;
  }

  /** Forgets opened blocks (and their cached footers and blooms) that compaction or retention removed. */
  private pruneCache(): void {
    if (this.cacheVersion === this.deps.blocklist.version) return;
    this.cacheVersion = this.deps.blocklist.version;
    const tenants = new Set([...this.blockCache.values()].map((b) => b.meta.tenantID));
    const live = new Set([...tenants].flatMap((t) => this.deps.blocklist.blocks(t).map((m) => `${m.tenantID}/${m.blockID}`)));
    for (const key of this.blockCache.keys()) if (!live.has(key)) this.blockCache.delete(key);
  }
}
