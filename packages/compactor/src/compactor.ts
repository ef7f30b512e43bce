// The compactor keeps the backend small and fast: it merges a tenant's small blocks of the same
// time window into bigger ones, enforces retention, deletes partial blocks, and writes the tenant
// index.
//
// Crash safety: a job writes its outputs one after another, each made visible by its meta.json
// (written last) which names the job's inputs (`compactedFrom`); every output but the last is
// flagged `cutAtBufferBudget`. Only after the last output are the inputs marked compacted. A
// crash before an output's meta.json leaves a meta-less folder, deleted after
// orphaned_block_grace_period; a crash between outputs leaves inputs and some outputs visible
// (reads drop the duplicate spans) and, after the grace period, those outputs are withdrawn (the
// inputs still hold every trace); a crash after the last output leaves both visible and the next
// cycle finishes marking the inputs. Inputs are deleted only compacted_block_retention later, so
// queries that already hold them keep working.

import type { Backend } from '@andante/backend';
import { countSpans, encodeTrace, validateTenantId, type LimitsProvider, type Logger } from '@andante/model';
import {
  BackendBlock,
  META_NAME,
  clearBlock,
  clearPartialBlock,
  encodeBlockMeta,
  listTenantBlocks,
  listTenants,
  markBlockCompacted,
  newBlockId,
  parseRfc3339Nano,
  writeEncodedBlock,
  writeTenantIndex,
  type BlockConfig,
  type BlockEncodeStream,
  type BlockEncoderPool,
  type BlockMeta,
  type TenantListing,
} from '@andante/storage';
import type { Registry } from 'prom-client';
import { DEFAULT_ORPHANED_BLOCK_GRACE_PERIOD_MS, DEFAULT_OUTPUT_BLOCK_BUFFER_BYTES, type CompactorConfig } from './config.js';
import { mergeBlocks } from './merge.js';
import { ownAllJobs, type JobOwnership } from './ownership.js';
import { createCompactorMetrics, type CompactorMetrics } from './metrics.js';
import { compactionJobId, outputReplicationFactor, type CompactedOutputMeta } from './output-meta.js';
import { selectCompactionJobs, windowJobKey, type CompactionJob } from './selector.js';
import { FirstSightings } from './sightings.js';

export interface CompactorDeps {
  cfg: CompactorConfig;
  backend: Backend;
  encoder: BlockEncoderPool;
  blockConfig?: Partial<BlockConfig>;
  limits: LimitsProvider;
  registry: Registry;
  logger: Logger;
  ownership?: JobOwnership;
  /**
   * Tenants this process writes to (e.g. the in-process blocklist's), compacted even when no
   * listing of the backend shows them.
   */
  knownTenants?: () => Iterable<string>;
  /** Injectable clock (tests simulate hours of cuts without waiting). */
  now?: () => number;
}

export interface CycleResult {
  compactions: number;
  retentionMarked: number;
  retentionDeleted: number;
  /** Meta-less block folders deleted after orphaned_block_grace_period. */
  orphansDeleted: number;
  /** Outputs of interrupted compactions withdrawn (their inputs still hold every trace). */
  outputsWithdrawn: number;
  /** Spans written by this cycle's compactions (inputs' spans, duplicates combined). */
  spansCompacted: number;
  /**
   * Most bytes one compaction output held at any moment (`BlockEncodeStream.heldBytes`: Parquet
   * bytes so far plus the merged traces not yet encoded). Bounded by output_block_buffer_bytes plus
   * one trace, whatever the size of the job.
   */
  peakBufferedBytes: number;
}

/** Outputs and inputs of compactions a crash interrupted; not merged again until resolved. */
interface ResumeOutcome {
  blocks: TenantListing;
  busy: Set<string>;
}

interface OutputPlan {
  level: number;
  compactedFrom: string[];
  /** The inputs' common replication factor (outputReplicationFactor), or none: replicated. */
  replicationFactor: number | undefined;
  /** The job's time range: every output gets it, so all outputs stay in the job's window. */
  startTime: string;
  endTime: string;
}

export class Compactor {
  private readonly metrics: CompactorMetrics;
  private readonly now: () => number;
  private readonly ownership: JobOwnership;
  private readonly sightings = new FirstSightings();
  /** Foreign or unreadable block folders already logged (tenant/block): left alone, logged once. */
  private readonly loggedSkips = new Set<string>();
  private readonly orphanGraceMs: number;
  private readonly outputBufferBytes: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CycleResult> | undefined;

  constructor(private readonly deps: CompactorDeps) {
    this.metrics = createCompactorMetrics(deps.registry);
    this.now = deps.now ?? Date.now;
    this.ownership = deps.ownership ?? ownAllJobs;
    this.orphanGraceMs = deps.cfg.orphanedBlockGracePeriodMs ?? DEFAULT_ORPHANED_BLOCK_GRACE_PERIOD_MS;
    this.outputBufferBytes = deps.cfg.outputBlockBufferBytes ?? DEFAULT_OUTPUT_BLOCK_BUFFER_BYTES;
  }

  start(): void {
    this.timer = setInterval(() => void this.runCycle(), this.deps.cfg.compactionCycleMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /**
   * One cycle over every tenant; concurrent calls share the cycle in progress. So within a
   * process no compaction is being written while a cycle looks for partial blocks.
   */
  runCycle(): Promise<CycleResult> {
    this.running ??= this.cycle().finally(() => (this.running = undefined));
    return this.running;
  }

  private async cycle(): Promise<CycleResult> {
    const result: CycleResult = { compactions: 0, retentionMarked: 0, retentionDeleted: 0, orphansDeleted: 0, outputsWithdrawn: 0, spansCompacted: 0, peakBufferedBytes: 0 };
    let tenants: string[];
    try {
      tenants = await listTenants(this.deps.backend, this.deps.knownTenants?.() ?? []);
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
    const listing = await listTenantBlocks(this.deps.backend, tenantId);
    this.logSkipped(tenantId, listing);
    const resumed = await this.finishInterrupted(tenantId, listing, result);
    let blocks = await this.applyRetention(tenantId, resumed.blocks, result);
    await this.clearOrphans(tenantId, blocks.metaless, result);
    for (const job of selectCompactionJobs(tenantId, blocks.metas, this.deps.cfg, resumed.busy)) {
      if (!this.ownership.owns(job.key)) continue;
      await this.compact(tenantId, job, result);
      result.compactions++;
    }
    // The tenant index reflects the state after this cycle's work.
    blocks = await listTenantBlocks(this.deps.backend, tenantId);
    await writeTenantIndex(this.deps.backend, tenantId, blocks, this.now());
    this.metrics.blocklistLength.set({ tenant: tenantId }, blocks.metas.length);
  }

  /** Blocks whose meta is not Andante's are never merged, expired or cleared: say so once each. */
  private logSkipped(tenantId: string, listing: TenantListing): void {
    for (const s of listing.skipped) {
      const key = `${tenantId}/${s.blockId}`;
      if (this.loggedSkips.has(key)) continue;
      this.loggedSkips.add(key);
      this.deps.logger.warn('leaving alone a block folder whose meta is not an Andante block', { tenant: tenantId, block: s.blockId, path: s.path, reason: s.reason });
    }
  }

  /**
   * Resolves compactions a crash interrupted, found by visible outputs whose inputs are still
   * visible too. When the job's last output exists, the inputs are marked compacted. When it does
   * not, the job stopped between two outputs: its visible outputs hold part of what the inputs
   * hold, so they are withdrawn once the job has stayed so for the grace period (it may be another
   * compactor's job still being written, after an ownership change); until then its blocks are
   * not merged again.
   */
  private async finishInterrupted(tenantId: string, blocks: TenantListing, result: CycleResult): Promise<ResumeOutcome> {
    const visible = new Map(blocks.metas.map((m) => [m.blockID, m]));
    const jobs = new Map<string, CompactedOutputMeta[]>();
    for (const meta of blocks.metas as CompactedOutputMeta[]) {
      const jobId = compactionJobId(meta);
      if (jobId === undefined) continue;
      jobs.set(jobId, [...(jobs.get(jobId) ?? []), meta]);
    }
    const busy = new Set<string>();
    const interrupted = new Map<string, CompactedOutputMeta[]>();
    let changed = false;
    for (const [jobId, outputs] of jobs) {
      const inputs = outputs[0]!.compactedFrom!.flatMap((id) => visible.get(id) ?? []);
      if (inputs.length === 0) continue;
      if (!this.ownership.owns(windowJobKey(tenantId, outputs[0]!.startTime, this.deps.cfg))) continue;
      if (outputs.some((o) => !o.cutAtBufferBudget)) {
        for (const input of inputs) {
          await markBlockCompacted(this.deps.backend, input, this.now());
          this.deps.logger.info('finished an interrupted compaction', { tenant: tenantId, outputs: outputs.map((o) => o.blockID), input: input.blockID });
        }
        changed = true;
        continue;
      }
      interrupted.set(jobId, outputs);
      for (const b of [...inputs, ...outputs]) busy.add(b.blockID);
    }
    const due = this.sightings.observe(`${tenantId}/interrupted-jobs`, [...interrupted.keys()], this.now(), this.orphanGraceMs);
    for (const jobId of due) {
      const outputs = interrupted.get(jobId)!;
      for (const output of outputs) {
        await markBlockCompacted(this.deps.backend, output, this.now());
        this.metrics.outputsWithdrawn.inc();
        result.outputsWithdrawn++;
        busy.delete(output.blockID);
      }
      for (const id of outputs[0]!.compactedFrom!) busy.delete(id);
      changed = true;
      this.deps.logger.warn('withdrew the outputs of a compaction interrupted between outputs; its inputs stay', {
        tenant: tenantId,
        outputs: outputs.map((o) => o.blockID),
        inputs: outputs[0]!.compactedFrom,
      });
    }
    return { blocks: changed ? await listTenantBlocks(this.deps.backend, tenantId) : blocks, busy };
  }

  /**
   * Deletes block folders that have had no meta.json for the grace period: outputs of flushes or
   * compactions whose writer died. A folder that gains meta.json meanwhile is forgotten. With
   * several compactors, only the owner of a folder deletes it.
   */
  private async clearOrphans(tenantId: string, metaless: readonly string[], result: CycleResult): Promise<void> {
    for (const blockId of this.sightings.observe(`${tenantId}/metaless`, metaless, this.now(), this.orphanGraceMs)) {
      if (!this.ownership.owns(`${tenantId}/${blockId}`)) continue;
      const { cleared, objects } = await clearPartialBlock(this.deps.backend, tenantId, blockId);
      if (!cleared || objects === 0) continue;
      this.metrics.orphansDeleted.inc();
      result.orphansDeleted++;
      this.deps.logger.info('deleted a partial block (no meta.json for the grace period)', {
        tenant: tenantId,
        block: blockId,
        objects,
        gracePeriodMs: this.orphanGraceMs,
      });
    }
  }

  private async applyRetention(tenantId: string, blocks: TenantListing, result: CycleResult): Promise<TenantListing> {
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

  /**
   * Merges the job's inputs in trace-ID order and streams the merged traces into the encoder, which
   * encodes each row group as it fills; an output is cut (at a trace boundary) once it holds
   * output_block_buffer_bytes (its Parquet bytes plus the traces not yet encoded: `heldBytes`). So
   * memory is bounded by the inputs' row groups being read, the encoder's row group, the chunks in
   * flight to it and the budget, whatever the job's size. A trace is never split: the merge yields
   * each trace whole, combined from all inputs.
   */
  private async compact(tenantId: string, job: CompactionJob, result: CycleResult): Promise<BlockMeta[]> {
    const inputs = job.inputs.map((m) => new BackendBlock(this.deps.backend, m));
    const byStart = [...job.inputs].sort((a, b) => compareTimes(a.startTime, b.startTime));
    const byEnd = [...job.inputs].sort((a, b) => compareTimes(a.endTime, b.endTime));
    const plan: OutputPlan = {
      level: Math.max(...job.inputs.map((m) => m.compactionLevel)) + 1,
      compactedFrom: job.inputs.map((m) => m.blockID),
      replicationFactor: outputReplicationFactor(job.inputs),
      startTime: byStart[0]!.startTime,
      endTime: byEnd[byEnd.length - 1]!.endTime,
    };
    const outputs: CompactedOutputMeta[] = [];
    let combined = 0;
    let stream = this.openOutput(tenantId, plan);
    let tracesInOutput = 0;
    try {
      for await (const t of mergeBlocks(inputs)) {
        if (tracesInOutput > 0 && stream.heldBytes >= this.outputBufferBytes) {
          const full = stream;
          outputs.push(await this.writeOutput(plan, full, true));
          stream = this.openOutput(tenantId, plan);
          tracesInOutput = 0;
        }
        const wait = stream.write({ traceId: t.traceId, segments: [encodeTrace(t.trace)] });
        if (wait) await wait;
        tracesInOutput++;
        if (stream.heldBytes > result.peakBufferedBytes) result.peakBufferedBytes = stream.heldBytes;
        result.spansCompacted += countSpans(t.trace);
        if (t.parts > 1) combined++;
      }
    } catch (err) {
      stream.abort();
      throw err;
    }
    outputs.push(await this.writeOutput(plan, stream, false));
    // Only now, with every output visible, do the inputs go.
    for (const input of job.inputs) await markBlockCompacted(this.deps.backend, input, this.now());

    const lvl = String(plan.level);
    this.metrics.blocksCompacted.inc({ level: lvl }, job.inputs.length);
    this.metrics.compactorBlocks.inc(job.inputs.length);
    this.metrics.objectsWritten.inc({ level: lvl }, outputs.reduce((n, m) => n + m.totalObjects, 0));
    this.metrics.bytesWritten.inc({ level: lvl }, outputs.reduce((n, m) => n + m.size, 0));
    this.metrics.objectsCombined.inc({ level: lvl }, combined);
    this.deps.logger.info('compacted blocks', {
      tenant: tenantId,
      inputs: plan.compactedFrom,
      outputs: outputs.map((m) => m.blockID),
      traces: outputs.reduce((n, m) => n + m.totalObjects, 0),
      spans: outputs.reduce((n, m) => n + m.totalSpans, 0),
      compaction_level: plan.level,
    });
    return outputs;
  }

  private openOutput(tenantId: string, plan: OutputPlan): BlockEncodeStream {
    return this.deps.encoder.openStream({ tenantId, blockId: newBlockId(), cfg: this.deps.blockConfig ?? {}, compactionLevel: plan.level });
  }

  /** Finishes one output and writes it, meta.json last; `more`: another output of the job follows. */
  private async writeOutput(plan: OutputPlan, stream: BlockEncodeStream, more: boolean): Promise<CompactedOutputMeta> {
    const encoded = await stream.finish();
    const meta: CompactedOutputMeta = {
      ...encoded.meta,
      startTime: plan.startTime,
      endTime: plan.endTime,
      compactedFrom: plan.compactedFrom,
      ...(more ? { cutAtBufferBudget: true } : {}),
    };
    if (plan.replicationFactor !== undefined) meta.replicationFactor = plan.replicationFactor;
    else delete meta.replicationFactor;
    encoded.objects[encoded.objects.length - 1] = { name: META_NAME, data: encodeBlockMeta(meta) };
    await writeEncodedBlock(this.deps.backend, { meta, objects: encoded.objects });
    return meta;
  }
}

function compareTimes(a: string, b: string): number {
  const d = parseRfc3339Nano(a) - parseRfc3339Nano(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
