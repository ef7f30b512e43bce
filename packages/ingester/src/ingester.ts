import {
  LimitExceededError,
  UnavailableError,
  validateTenantId,
  type IngesterClient,
  type LimitsProvider,
  type Logger,
  type PushRequest,
  type PushResult,
  type SearchCompiler,
  type SearchPartial,
  type SearchRequest,
  type TagsPartial,
  type TagsRequest,
  type TagValuesPartial,
  type TagValuesRequest,
  type IngesterTrace,
  type MetricsEngine,
  type MetricsPartial,
  type MetricsRequest,
  emptySearchMetrics,
  parseTagRef,
  tagSelector,
} from '@andante/model';
import type { Backend } from '@andante/backend';
import { BlockEncoderPool, Wal, replayWalFile, type BlockConfig, type BlockMeta } from '@andante/storage';
import type { Registry } from 'prom-client';
import type { IngesterConfig } from './config.js';
import { MIN_SPLIT_PART_BYTES, TenantInstance } from './instance.js';
import { createIngesterMetrics, type IngesterMetrics } from './metrics.js';
import { UnflushedBytes } from './unflushed-bytes.js';

/** Retry-After of a push refused for max_unflushed_bytes: about one block flush. */
const UNFLUSHED_RETRY_AFTER_SECONDS = 2;

export interface IngesterDeps {
  cfg: IngesterConfig;
  blockConfig?: Partial<BlockConfig>;
  /** Shared with the compactor in one process; the ingester makes its own when absent. */
  encoder?: BlockEncoderPool;
  walPath: string;
  backend: Backend;
  limits: LimitsProvider;
  registry: Registry;
  logger: Logger;
  /** TraceQL for searches of recent data (injected so the ingester does not own the language). */
  compileSearch?: SearchCompiler;
  /** TraceQL metrics over recent data (injected likewise). */
  metricsEngine?: MetricsEngine;
  /** A cut block is split over the encoder's workers from twice this size (tests lower it). */
  minSplitPartBytes?: number;
  /** Told about every block written, so an in-process blocklist lists it before its next poll. */
  onBlockFlushed?: (meta: BlockMeta) => void;
  /**
   * ingester.lifecycler.ring.replication_factor, recorded in every block's meta
   * (`replicationFactor`): how many copies of each trace the flushed blocks hold. Default 1.
   */
  replicationFactor?: number;
}

/**
 * Holds recent traces per tenant, makes every push durable in the WAL before acknowledging it,
 * and turns head blocks into backend blocks. Replays the WAL on start.
 */
export class Ingester implements IngesterClient {
  private readonly instances = new Map<string, Promise<TenantInstance>>();
  private readonly wal: Wal;
  private readonly metrics: IngesterMetrics;
  private readonly unflushed: UnflushedBytes;
  /** Parquet encoding runs here, off the event loop. */
  private readonly encoder: BlockEncoderPool;
  private readonly ownsEncoder: boolean;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private activeFlushes = 0;
  private stopped = false;
  /** Pushes accepted and not yet durable: a stop waits for them before its last flush. */
  private pushing = 0;

  constructor(private readonly deps: IngesterDeps) {
    this.wal = new Wal(deps.walPath);
    this.ownsEncoder = !deps.encoder;
    this.encoder = deps.encoder ?? new BlockEncoderPool();
    this.unflushed = new UnflushedBytes(deps.cfg.maxUnflushedBytes);
    this.metrics = createIngesterMetrics(deps.registry, () => this.unflushed.bytes);
  }

  /**
   * Replays every WAL file left by a previous run and restores the blocks it flushed within
   * complete_block_timeout, then starts the flush loop.
   */
  async start(): Promise<void> {
    // Listed before any tenant instance exists: an instance opens a new, empty head WAL file, which
    // must never be mistaken for an empty file left behind (and removed under the live head).
    const leftBehind = await this.wal.list();
    const now = Date.now();
    for (const rec of await this.wal.listFlushed()) {
      if (now - rec.flushedMs >= this.deps.cfg.completeBlockTimeoutMs) await this.wal.removeFile(rec.path);
      else (await this.instance(rec.tenantId)).restoreFlushed(rec.meta, rec.flushedMs, rec.path);
    }
    for (const entry of leftBehind) {
      const { records, truncatedBytes } = await replayWalFile(entry.path);
      if (records.length === 0) {
        await this.wal.removeFile(entry.path); // a head block that never received data
        continue;
      }
      const inst = await this.instance(entry.tenantId);
      await inst.recover(entry.path, records);
      this.metrics.walReplayedSegments.inc(records.length);
      this.deps.logger.info('replayed WAL', { tenant: entry.tenantId, block: entry.blockId, segments: records.length, truncatedBytes });
    }
    this.timer = setInterval(() => void this.sweep(), this.deps.cfg.flushCheckPeriodMs);
    this.timer.unref();
    void this.sweep();
  }

  private instance(tenantId: string): Promise<TenantInstance> {
    let inst = this.instances.get(tenantId);
    if (!inst) {
      validateTenantId(tenantId); // it becomes a WAL folder name
      inst = TenantInstance.create({
        tenantId,
        cfg: this.deps.cfg,
        blockConfig: this.deps.blockConfig ?? {},
        encoder: this.encoder,
        minSplitPartBytes: this.deps.minSplitPartBytes ?? MIN_SPLIT_PART_BYTES,
        wal: this.wal,
        backend: this.deps.backend,
        metrics: this.metrics,
        logger: this.deps.logger,
        limits: () => this.deps.limits.forTenant(tenantId),
        unflushed: this.unflushed,
        onBlockFlushed: this.deps.onBlockFlushed,
        replicationFactor: this.deps.replicationFactor ?? 1,
      });
      this.instances.set(tenantId, inst);
    }
    return inst;
  }

  /**
   * Makes the segments durable and indexed, or refuses them all (before any WAL write, so nothing
   * acknowledged is touched) while max_unflushed_bytes is reached.
   */
  async push(req: PushRequest): Promise<PushResult> {
    // Leaving (SIGTERM, /shutdown): what is pushed now would miss the final flush. UNAVAILABLE
    // makes the distributor send it to the next healthy ingester instead.
    if (this.stopped) throw new UnavailableError('ingester is shutting down (flushing and leaving the ring); push to another ingester');
    const incoming = req.segments.reduce((n, s) => n + s.bytes.byteLength, 0);
    if (this.unflushed.refuses(incoming)) {
      void this.sweep(); // cut and flush now rather than at the next flush_check_period
      throw new LimitExceededError(
        'UNFLUSHED_BYTES_EXCEEDED',
        'unflushed_bytes_exceeded',
        `ingester holds ${this.unflushed.bytes} bytes of traces not yet flushed to storage (limit ${this.unflushed.limit}, ingester.max_unflushed_bytes) while adding ${incoming} bytes for user ${req.tenantId}; retry later, or raise the limit, add ingesters or lower the ingestion rate.`,
        UNFLUSHED_RETRY_AFTER_SECONDS,
      );
    }
    this.pushing++;
    try {
      const inst = await this.instance(req.tenantId);
      return await inst.push(req.segments);
    } finally {
      this.pushing--;
    }
  }

  async search(tenantId: string, req: SearchRequest, signal?: AbortSignal): Promise<SearchPartial> {
    const compile = this.compiler();
    const inst = this.instances.get(tenantId);
    if (!inst) return { traces: [], metrics: emptySearchMetrics() };
    return (await inst).search(req, compile(req.query), signal);
  }

  async searchTags(tenantId: string, req: TagsRequest, signal?: AbortSignal): Promise<TagsPartial> {
    const inst = this.instances.get(tenantId);
    if (!inst) return { names: {}, inspectedBytes: 0n };
    return (await inst).searchTags(tagSelector(this.compiler(), req.query, req), signal);
  }

  async searchTagValues(tenantId: string, req: TagValuesRequest, signal?: AbortSignal): Promise<TagValuesPartial> {
    const inst = this.instances.get(tenantId);
    if (!inst) return { values: [], inspectedBytes: 0n };
    return (await inst).searchTagValues(parseTagRef(req.tag, req.v2), tagSelector(this.compiler(), req.query, req), signal);
  }

  async metricsQueryRange(tenantId: string, req: MetricsRequest, signal?: AbortSignal): Promise<MetricsPartial> {
    if (!this.deps.metricsEngine) throw new Error('this ingester was started without a TraceQL metrics engine');
    const job = this.deps.metricsEngine.job(req); // a bad query fails before any work
    const inst = this.instances.get(tenantId);
    if (!inst) return job.partial();
    // An empty window (a split query whose range is all before the split): only the blocks it names matter.
    const empty = req.windowStartNs !== undefined && req.windowEndNs !== undefined && req.windowStartNs >= req.windowEndNs;
    return (await inst).metricsQueryRange(job, req.tokenRanges, signal, empty);
  }

  private compiler(): SearchCompiler {
    if (!this.deps.compileSearch) throw new Error('this ingester was started without a TraceQL compiler');
    return this.deps.compileSearch;
  }

  async findTraceById(tenantId: string, traceId: Uint8Array): Promise<IngesterTrace> {
    const inst = this.instances.get(tenantId);
    return inst ? (await inst).findTraceById(traceId) : { trace: null, flushedBlocks: [] };
  }

  /** One pass of the flush loop: cut idle traces, cut due head blocks, flush, expire. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce()
      .catch((err: unknown) => this.deps.logger.error('ingester flush loop failed; retrying next period', { err }))
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const now = Date.now();
    for (const instPromise of this.instances.values()) {
      const inst = await instPromise;
      inst.cutIdleTraces(now);
      if (inst.headIsDue(now)) await inst.cutHead(!inst.headHoldsBudgetShare());
      await inst.expireFlushedBlocks(now);
      this.startFlushes(inst, now);
    }
  }

  private startFlushes(inst: TenantInstance, now: number): void {
    for (const block of inst.flushableBlocks(now)) {
      if (this.activeFlushes >= this.deps.cfg.concurrentFlushes) return;
      this.activeFlushes++;
      void inst.flushBlock(block).finally(() => {
        this.activeFlushes--;
        // The next waiting block starts now, not at the next sweep: under a backlog that time is lost.
        if (!this.stopped) this.startFlushes(inst, Date.now());
      });
    }
  }

  /** Cuts every head block and writes all blocks to the backend (the /flush endpoint, shutdown). */
  async flushAll(): Promise<void> {
    for (const instPromise of this.instances.values()) {
      const inst = await instPromise;
      inst.cutIdleTraces(Date.now(), true);
      await inst.cutHead(false);
      // A few tries; what still fails stays in the WAL and is replayed on the next start.
      for (let attempt = 0; inst.pendingBlocks > 0 && attempt < 3; attempt++) await inst.flushPending();
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.sweeping;
    while (this.pushing > 0) await new Promise((r) => setTimeout(r, 5));
    while (this.activeFlushes > 0) await new Promise((r) => setTimeout(r, 20));
    if (this.deps.cfg.flushAllOnShutdown) await this.flushAll();
    for (const inst of this.instances.values()) await (await inst).close();
    if (this.ownsEncoder) await this.encoder.close();
  }
}
