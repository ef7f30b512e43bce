// The compactor keeps the backend small and fast: it merges a tenant's small blocks of the same
// time window into bigger ones, enforces retention, and writes the tenant index.
//
// Crash safety: the output block's meta.json is written last and names its inputs
// (`compactedFrom`); only then are the inputs marked compacted. A crash before the output's
// meta.json leaves the inputs as they were; a crash after it leaves both visible (reads drop the
// duplicate spans) and the next cycle finishes marking the inputs. Inputs are deleted only
// compacted_block_retention later, so queries that already hold them keep working.

import type { Backend } from '@andante/backend';
import { encodeTrace, validateTenantId, type LimitsProvider, type Logger } from '@andante/model';
import {
  BackendBlock,
  META_NAME,
  clearBlock,
  encodeBlockMeta,
  listTenantBlocks,
  listTenants,
  markBlockCompacted,
  newBlockId,
  writeEncodedBlock,
  writeTenantIndex,
  type BlockConfig,
  type BlockEncoderPool,
  type BlockMeta,
  type SegmentTrace,
  type TenantBlocks,
} from '@andante/storage';
import type { Registry } from 'prom-client';
import type { CompactorConfig } from './config.js';
import { mergeBlocks } from './merge.js';
import { ownAllJobs, type JobOwnership } from './ownership.js';
import { createCompactorMetrics, type CompactorMetrics } from './metrics.js';
import { selectCompactionJobs, type CompactionJob } from './selector.js';

/** A compaction output's meta: the inputs it replaces, so an interrupted compaction can be finished. */
export interface CompactedOutputMeta extends BlockMeta {
  compactedFrom?: string[];
}

export interface CompactorDeps {
  cfg: CompactorConfig;
  backend: Backend;
  encoder: BlockEncoderPool;
  blockConfig?: Partial<BlockConfig>;
  limits: LimitsProvider;
  registry: Registry;
  logger: Logger;
  ownership?: JobOwnership;
  /** Injectable clock (tests simulate hours of cuts without waiting). */
  now?: () => number;
}

export interface CycleResult {
  compactions: number;
  retentionMarked: number;
  retentionDeleted: number;
}

export class Compactor {
  private readonly metrics: CompactorMetrics;
  private readonly now: () => number;
  private readonly ownership: JobOwnership;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CycleResult> | undefined;

  constructor(private readonly deps: CompactorDeps) {
    this.metrics = createCompactorMetrics(deps.registry);
    this.now = deps.now ?? Date.now;
    this.ownership = deps.ownership ?? ownAllJobs;
  }

  start(): void {
    this.timer = setInterval(() => void this.runCycle(), this.deps.cfg.compactionCycleMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One cycle over every tenant; concurrent calls share the cycle in progress. */
  runCycle(): Promise<CycleResult> {
    this.running ??= this.cycle().finally(() => (this.running = undefined));
    return this.running;
  }

  private async cycle(): Promise<CycleResult> {
    const result: CycleResult = { compactions: 0, retentionMarked: 0, retentionDeleted: 0 };
    let tenants: string[];
    try {
      tenants = await listTenants(this.deps.backend);
    } catch (err) {
      // The backend may be down for a while: skip this cycle, never take the process down.
      this.metrics.compactionErrors.inc();
      this.deps.logger.error('compaction cycle could not list tenants; retrying next cycle', { err });
      return result;
    }
    for (const tenantId of tenants) {
      try {
        await this.tenantCycle(tenantId, result);
      } catch (err) {
        this.metrics.compactionErrors.inc();
        this.deps.logger.error('compaction cycle failed for tenant; retrying next cycle', { tenant: tenantId, err });
      }
    }
    return result;
  }

  private async tenantCycle(tenantId: string, result: CycleResult): Promise<void> {
    validateTenantId(tenantId);
    let blocks = await listTenantBlocks(this.deps.backend, tenantId);
    blocks = await this.finishInterrupted(blocks);
    blocks = await this.applyRetention(tenantId, blocks, result);
    for (const job of selectCompactionJobs(tenantId, blocks.metas, this.deps.cfg)) {
      if (!this.ownership.owns(job.key)) continue;
      await this.compact(tenantId, job);
      result.compactions++;
    }
    // The tenant index reflects the state after this cycle's work.
    blocks = await listTenantBlocks(this.deps.backend, tenantId);
    await writeTenantIndex(this.deps.backend, tenantId, blocks, this.now());
    this.metrics.blocklistLength.set({ tenant: tenantId }, blocks.metas.length);
  }

  /** Marks inputs of finished compactions that a crash left visible. */
  private async finishInterrupted(blocks: TenantBlocks): Promise<TenantBlocks> {
    const visible = new Map(blocks.metas.map((m) => [m.blockID, m]));
    let changed = false;
    for (const meta of blocks.metas as CompactedOutputMeta[]) {
      for (const id of meta.compactedFrom ?? []) {
        const input = visible.get(id);
        if (!input) continue;
        await markBlockCompacted(this.deps.backend, input, this.now());
        visible.delete(id);
        changed = true;
        this.deps.logger.info('finished an interrupted compaction', { tenant: meta.tenantID, output: meta.blockID, input: id });
      }
    }
    return changed ? listTenantBlocks(this.deps.backend, blocks.metas[0]!.tenantID) : blocks;
  }

  private async applyRetention(tenantId: string, blocks: TenantBlocks, result: CycleResult): Promise<TenantBlocks> {
    const now = this.now();
    const retention = this.deps.limits.forTenant(tenantId).blockRetentionMs || this.deps.cfg.blockRetentionMs;
    let changed = false;
    for (const meta of blocks.metas) {
      if (Date.parse(meta.endTime) >= now - retention) continue;
      await markBlockCompacted(this.deps.backend, meta, now);
      this.metrics.retentionMarked.inc();
      result.retentionMarked++;
      changed = true;
    }
    for (const meta of blocks.compacted) {
      if (Date.parse(meta.compactedTime) >= now - this.deps.cfg.compactedBlockRetentionMs) continue;
      await clearBlock(this.deps.backend, tenantId, meta.blockID);
      this.metrics.retentionDeleted.inc();
      result.retentionDeleted++;
      changed = true;
    }
    return changed ? listTenantBlocks(this.deps.backend, tenantId) : blocks;
  }

  private async compact(tenantId: string, job: CompactionJob): Promise<BlockMeta> {
    const inputs = job.inputs.map((m) => new BackendBlock(this.deps.backend, m));
    const level = Math.max(...job.inputs.map((m) => m.compactionLevel)) + 1;
    const traces: SegmentTrace[] = [];
    let combined = 0;
    for await (const t of mergeBlocks(inputs)) {
      traces.push({ traceId: t.traceId, segments: [encodeTrace(t.trace)] });
      if (t.parts > 1) combined++;
    }
    const encoded = await this.deps.encoder.encode({
      tenantId,
      blockId: newBlockId(),
      traces,
      cfg: this.deps.blockConfig ?? {},
      compactionLevel: level,
    });
    const meta: CompactedOutputMeta = { ...encoded.meta, compactedFrom: job.inputs.map((m) => m.blockID) };
    encoded.objects[encoded.objects.length - 1] = { name: META_NAME, data: encodeBlockMeta(meta) };
    await writeEncodedBlock(this.deps.backend, { meta, objects: encoded.objects });
    for (const input of job.inputs) await markBlockCompacted(this.deps.backend, input, this.now());

    const lvl = String(level);
    this.metrics.blocksCompacted.inc({ level: lvl }, job.inputs.length);
    this.metrics.compactorBlocks.inc(job.inputs.length);
    this.metrics.objectsWritten.inc({ level: lvl }, meta.totalObjects);
    this.metrics.bytesWritten.inc({ level: lvl }, meta.size);
    this.metrics.objectsCombined.inc({ level: lvl }, combined);
    this.deps.logger.info('compacted blocks', { tenant: tenantId, inputs: job.inputs.map((m) => m.blockID), output: meta.blockID, traces: meta.totalObjects, level });
    return meta;
  }
}
