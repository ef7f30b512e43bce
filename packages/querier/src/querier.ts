import {
  AndanteError,
  BlockSet,
  NotFoundError,
  UNBOUNDED,
  UnavailableError,
  combineTraces,
  emptySearchMetrics,
  mayHoldTraceId,
  overlapsWindow,
  type BlockMeta,
  type BlockTagsAnswer,
  type BlockTagsJob,
  type CompiledSearch,
  type IngesterQuerier,
  type Logger,
  type MetricsEngine,
  type MetricsPartial,
  type MetricsRequest,
  type QuerierJobs,
  type SearchCompiler,
  type SearchPartial,
  type SearchRequest,
  type TagsPartial,
  type TagsRequest,
  type TagValuesPartial,
  type TagValuesRequest,
  type TimeRange,
  type Trace,
  type TraceIdShard,
} from '@andante/model';
import type { Backend } from '@andante/backend';
import { BackendBlock } from '@andante/storage';
import type { Blocklist } from './blocklist.js';
import { blockTags } from './block-tags-job.js';
import { metricsBlockJob } from './metrics-block-job.js';
import { metricsReplicatedJob } from './metrics-replicated-job.js';
import { searchBlockWith, type BlockSearchPool } from './search-pool.js';

export interface QuerierDeps {
  backend: Backend;
  blocklist: Blocklist;
  /** The ingesters that may hold recent data for a tenant (every healthy one on the ring). */
  ingesters: () => IngesterQuerier[];
  logger: Logger;
  /** TraceQL, for block jobs run inline (workers compile their own). */
  compile?: SearchCompiler;
  /** Block jobs on worker threads; absent (or from TypeScript sources): on the main thread. */
  pool?: BlockSearchPool;
  /** TraceQL metrics, for metrics block jobs run inline (workers load their own). */
  metricsEngine?: MetricsEngine;
}

type Settled<T> = { ok: true; value: T } | { ok: false; reason: unknown };

/** Attaches the handler at once: a read that fails while others are awaited is not "unhandled". */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true, value }),
    (reason: unknown) => ({ ok: false, reason }),
  );
}

/** Executes the frontend's jobs: ingester fan-out for recent data, block jobs on the worker pool. */
export class Querier implements QuerierJobs {
  private readonly blockCache = new Map<string, { block: BackendBlock; openedAtVersion: number }>();
  private cacheVersion = -1;

  constructor(private readonly deps: QuerierDeps) {}

  /**
   * Finds a trace in recent data (ingesters: memory, then the blocks they flushed recently) and in
   * the blocklist's blocks (bloom filter first), reading each block once, and combines the parts
   * with duplicate spans removed.
   */
  async findTraceById(tenantId: string, traceId: Uint8Array, range: TimeRange = UNBOUNDED, signal?: AbortSignal): Promise<Trace | null> {
    const blocks = new BlockSet();
    // The list and the compacted set of one poll: a compacted block's output is in that list.
    const listed = this.deps.blocklist.blocks(tenantId);
    const compacted = this.deps.blocklist.compactedBlocks(tenantId);
    const candidate = (m: BlockMeta): boolean => overlapsWindow(m, range) && mayHoldTraceId(m, traceId) && !compacted.has(m.blockID);
    const reads: Promise<Settled<Trace | null>>[] = [];
    const readBlocks = (metas: readonly BlockMeta[] | undefined): void => {
      for (const meta of blocks.add(metas, candidate)) reads.push(settle(this.openBlock(meta).findTraceById(traceId)));
    };
    // Listed blocks are read while the ingesters answer; blocks they flushed that no list holds yet, after.
    readBlocks(listed);
    for (const answer of await Promise.all(this.deps.ingesters().map((i) => settle(i.findTraceById(tenantId, traceId, signal))))) {
      if (answer.ok) readBlocks(answer.value.flushedBlocks);
      reads.push(Promise.resolve(answer.ok ? { ok: true, value: answer.value.trace } : answer));
    }
    const parts: Trace[] = [];
    let failure: unknown;
    const settled = await Promise.all(reads);
    signal?.throwIfAborted();
    for (const s of settled) {
      if (s.ok) {
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
  async mayHoldElsewhere(tenantId: string, traceId: Uint8Array, exceptBlockId: string, signal?: AbortSignal): Promise<boolean> {
    const answers = await Promise.all(this.deps.ingesters().map((i) => i.findTraceById(tenantId, traceId, signal)));
    if (answers.some((a) => a.trace !== null)) return true;
    const blocks = new BlockSet();
    const compacted = this.deps.blocklist.compactedBlocks(tenantId);
    const other = (m: BlockMeta): boolean => m.blockID !== exceptBlockId && mayHoldTraceId(m, traceId) && !compacted.has(m.blockID);
    const others = [...blocks.add(this.deps.blocklist.blocks(tenantId), other), ...answers.flatMap((a) => blocks.add(a.flushedBlocks, other))];
    // A block compacted away and deleted since it was listed holds nothing now.
    const mayContain = (m: BlockMeta): Promise<boolean> => this.openBlock(m).mayContain(traceId).catch((err: unknown) => (err instanceof NotFoundError ? false : Promise.reject(err)));
    return (await Promise.all(others.map(mayContain))).some(Boolean);
  }

  get parallelism(): number {
    const pool = this.deps.pool;
    return pool?.threaded ? pool.size : 0;
  }

  /** The last query compiled for inline block jobs: a search's jobs share one plan. */
  private compiled: { text: string; query: CompiledSearch } | undefined;

  private compile(): SearchCompiler {
    const compile = this.deps.compile;
    if (!compile) throw new Error('querier: block jobs run inline need a search compiler');
    return (text) => {
      if (this.compiled?.text !== text) this.compiled = { text, query: compile(text) };
      return this.compiled.query;
    };
  }

  searchRecent(tenantId: string, req: SearchRequest, signal?: AbortSignal): Promise<SearchPartial[]> {
    return Promise.all(this.deps.ingesters().map((i) => i.search(tenantId, req, signal)));
  }

  tagNamesRecent(tenantId: string, req: TagsRequest, signal?: AbortSignal): Promise<TagsPartial[]> {
    return Promise.all(this.deps.ingesters().map((i) => i.searchTags(tenantId, req, signal)));
  }

  tagValuesRecent(tenantId: string, req: TagValuesRequest, signal?: AbortSignal): Promise<TagValuesPartial[]> {
    return Promise.all(this.deps.ingesters().map((i) => i.searchTagValues(tenantId, req, signal)));
  }

  /** Conditions are pushed down to the block's columns; the engine decides on candidate traces. */
  async searchBlock(meta: BlockMeta, req: SearchRequest, signal?: AbortSignal): Promise<SearchPartial> {
    const pool = this.deps.pool;
    const result = pool?.threaded ? await pool.search(meta, req, signal) : await searchBlockWith(this.openBlock(meta), req, this.compile()(req.query), signal);
    const metrics = emptySearchMetrics();
    metrics.inspectedTraces = result.inspectedTraces;
    metrics.inspectedSpans = BigInt(result.inspectedSpans);
    metrics.inspectedBytes = BigInt(result.inspectedBytes);
    return { traces: result.traces, metrics };
  }

  blockTags(meta: BlockMeta, req: TagsRequest, job: BlockTagsJob, signal?: AbortSignal): Promise<BlockTagsAnswer> {
    const pool = this.deps.pool;
    return pool?.threaded ? pool.tags(meta, req, job, signal) : blockTags(new BackendBlock(this.deps.backend, meta), this.compile(), req, job);
  }

  metricsRecent(tenantId: string, req: MetricsRequest, signal?: AbortSignal): Promise<MetricsPartial[]> {
    return Promise.all(this.deps.ingesters().map((i) => i.metricsQueryRange(tenantId, req, signal)));
  }

  /** On the search workers when they run threaded, else inline with this querier's cached blocks. */
  metricsBlock(meta: BlockMeta, req: MetricsRequest, signal?: AbortSignal): Promise<MetricsPartial> {
    const pool = this.deps.pool;
    if (pool?.threaded) return pool.metrics(meta, req, signal);
    const engine = this.deps.metricsEngine;
    if (!engine) throw new Error('querier: metrics block jobs run inline need a metrics engine');
    return metricsBlockJob(this.openBlock(meta), req, engine, signal);
  }

  /** A trace-ID shard over replicated blocks, copies merged: on the search workers when they run threaded, else inline. */
  metricsReplicatedBlocks(metas: BlockMeta[], req: MetricsRequest, shard: TraceIdShard, signal?: AbortSignal): Promise<MetricsPartial> {
    const pool = this.deps.pool;
    if (pool?.threaded) return pool.metricsReplicated(metas, req, shard, signal);
    const engine = this.deps.metricsEngine;
    if (!engine) throw new Error('querier: metrics block jobs run inline need a metrics engine');
    return metricsReplicatedJob(metas.map((m) => this.openBlock(m)), req, shard, engine, signal);
  }

  /**
   * The block, opened once while it is in the blocklist or still read (its footer, index and bloom
   * shards are kept): a block only an ingester names stays open while queries keep reading it.
   */
  openBlock(meta: BlockMeta): BackendBlock {
    this.pruneCache();
    const key = `${meta.tenantID}/${meta.blockID}`;
    let entry = this.blockCache.get(key);
    if (!entry) {
      entry = { block: new BackendBlock(this.deps.backend, meta), openedAtVersion: 0 };
      this.blockCache.set(key, entry);
    }
    entry.openedAtVersion = this.deps.blocklist.version;
    return entry.block;
  }

  /**
   * Forgets opened blocks (and their cached footers and blooms) that left the blocklist (compaction,
   * retention) and that no query opened since the poll before the last: re-reading the bloom filter
   * of every block an ingester names after each poll cost a trace lookup several requests.
   */
  private pruneCache(): void {
    const version = this.deps.blocklist.version;
    if (this.cacheVersion === version) return;
    this.cacheVersion = version;
    const tenants = new Set([...this.blockCache.values()].map((e) => e.block.meta.tenantID));
    const live = new Set([...tenants].flatMap((t) => this.deps.blocklist.blocks(t).map((m) => `${m.tenantID}/${m.blockID}`)));
    for (const [key, entry] of this.blockCache) if (!live.has(key) && entry.openedAtVersion < version - 1) this.blockCache.delete(key);
  }
}
