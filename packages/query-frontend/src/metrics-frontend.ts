// The query-frontend side of TraceQL metrics: limits and request normalisation (Tempo's names),
// the job split (recent data from the ingesters; one job per block overlapping the range, its
// window trimmed to the block and aligned to the step, as Tempo's TrimToBlockOverlap), run by
// queriers through QuerierJobs like search's, and the combine (partials merged exactly as jobs
// finish; the series recomputed for streaming).
//
// Replicated blocks (replication factor not 1: RF 3 ingesters' copies, their compacted outputs,
// blocks that record none, as Tempo's ingester blocks) are not read block by block, which would count
// every copy: their jobs are trace-ID shards over all of them (splitReplicatedJobs), and each
// shard merges the copies by trace ID on the querier, counting each span once.
//
// Exactness across sources: the blocklist is read before the ingesters are asked, and an
// ingester answers its memory, the blocks it flushed recently and the blocks it is writing right
// now, all at one instant (memory and flushed blocks never hold the same span). Blocks it is
// writing are not read from the blocklist (their spans are in its memory), flushed ones once.
//
// At replication factor > 1 that is not enough: replicas flush their copies at different moments,
// so a trace may be in one replica's block and in another's memory. There the query is split at
// now - query_backend_after (Tempo's key): spans starting after it are counted by the ingesters
// only (each replica its token share, from its memory and from the blocks it flushed itself),
// spans up to it by the backend blocks only. The ingester fan-out says whether it split
// (MetricsPartial.recentAfterNs); at RF 1 nothing is split.

import {
  InvalidArgumentError,
  NotFoundError,
  emptySearchMetrics,
  type BlockLister,
  type BlockMeta,
  type Logger,
  type MetricsEngine,
  type MetricsPartial,
  type MetricsRequest,
  type MetricsSeries,
  type QuerierJobs,
  type SearchMetrics,
  type TraceIdShard,
  BlockSet,
  isReplicatedBlock,
  newestFirst,
  overlapsWindow,
} from '@andante/model';

const NS = 1_000_000_000n;

/** query_frontend.metrics.* (Tempo 2.10's keys). */
export interface MetricsLimits {
  /** max_duration: widest start..end (0 = unlimited). */
  maxDurationSeconds: number;
  /** max_exemplars: exemplars per series at most (a larger request is capped, as Tempo does). */
  maxExemplars: number;
  /** max_intervals: (end - start) / step at most (0 = unlimited). */
  maxIntervals: number;
  /** max_response_series: series in an answer at most (0 = unlimited); beyond it the answer is PARTIAL. */
  maxResponseSeries: number;
  /** concurrent_jobs run at once on the main thread (with worker threads: one per worker). */
  concurrentJobs: number;
  /**
   * query_backend_after, ns: at replication factor > 1, spans that started within this of now are
   * counted by the ingesters only, older ones by the backend blocks only. It must not exceed
   * ingester.complete_block_timeout (an ingester answers for its own flushed blocks that long)
   * and should exceed max_block_duration + flush_check_period (older spans must be in a block).
   */
  queryBackendAfterNs: bigint;
}

/**
 * Defaults: Tempo 2.10's, except max_duration 24h (2.x: 3h, 3.0: 24h). Block jobs read only the
 * columns a query needs, so a day of spans costs seconds, and Grafana's common "last 24 hours"
 * view then works instead of answering 400.
 */
export function defaultMetricsLimits(): MetricsLimits {
  return { maxDurationSeconds: 24 * 3600, maxExemplars: 100, maxIntervals: 10_000, maxResponseSeries: 0, concurrentJobs: 1, queryBackendAfterNs: 35n * 60n * NS };
}

/** A metrics request as the API received it, times already in unix ns. */
export interface MetricsQueryInput {
  query: string;
  startNs: bigint;
  endNs: bigint;
  /** 0 or absent: Tempo's dynamic step. */
  stepNs?: bigint;
  /** Absent: max_exemplars. */
  exemplars?: number;
  instant: boolean;
}

export interface MetricsAnswer {
  series: MetricsSeries[];
  metrics: SearchMetrics;
  /** Set when the answer is not complete (status PARTIAL). */
  partial?: { message: string };
}

export interface MetricsProgress {
  /** After each job: the answer so far (cumulative). */
  onPartial?: (sofar: MetricsAnswer) => void;
  signal?: AbortSignal;
}

export interface MetricsFrontendDeps {
  blocklist: BlockLister;
  /** Who runs the jobs: the in-process querier, or queriers pulling from this frontend's queue. */
  querier: QuerierJobs;
  engine: MetricsEngine;
  limits: MetricsLimits;
  logger: Logger;
  /** The current time, unix ns (tests pin it: the split is now - query_backend_after). */
  now?: () => bigint;
}

const seconds = (ns: bigint): string => `${Number(ns) / 1e9}s`;

/** The block's jobs of a request: its window trimmed to the block (a block's end second counts whole) and widened to steps. */
export function splitMetricsJobs(req: MetricsRequest, blocks: readonly BlockMeta[]): { meta: BlockMeta; req: MetricsRequest }[] {
  return blocks.map((meta) => {
    if (req.instant) return { meta, req };
    const blockStart = BigInt(Date.parse(meta.startTime)) * 1_000_000n - 1n;
    const blockEnd = BigInt(Date.parse(meta.endTime)) * 1_000_000n + NS;
    const step = req.stepNs;
    const from = blockStart - (blockStart % step);
    const to = blockEnd % step === 0n ? blockEnd : blockEnd + (step - (blockEnd % step));
    // Within the request's own window when it has one (a part of a split query).
    const lo = req.windowStartNs ?? req.startNs;
    const hi = req.windowEndNs ?? req.endNs;
    const windowStartNs = from > lo ? from : lo;
    const windowEndNs = to < hi ? to : hi;
    return { meta, req: { ...req, windowStartNs, windowEndNs } };
  }).filter((j) => j.req.instant || j.req.windowStartNs! < j.req.windowEndNs!);
}

/**
 * Spans (all copies counted) a replicated shard job reads at most, about: a shard's merge holds a
 * slice of one row group per block, so this bounds a job's memory and sets the parallelism.
 */
export const REPLICATED_SPANS_PER_SHARD = 300_000;
const MAX_SHARDS = 1024;
/** Bytes per span for blocks that do not record totalSpans (older metas). */
const BYTES_PER_SPAN_GUESS = 50;

/** `n` equal slices of the trace-ID space, by the first four bytes of the ID (IDs are random). */
export function traceIdShards(n: number): TraceIdShard[] {
  const bound = (i: number): string => (Math.floor((i * 0x1_0000_0000) / n).toString(16).padStart(8, '0') + '0'.repeat(24));
  return Array.from({ length: n }, (_, i) => ({ from: i === 0 ? '' : bound(i), to: i === n - 1 ? '' : bound(i + 1) }));
}

const hexOfBase64 = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');

/**
 * The jobs over replicated blocks: one per trace-ID shard, each over every block whose ID range
 * meets the shard (a trace's copies sit in several blocks, so a shard must see all of them), so
 * that enough shards run at once (`minShards`) and none reads much more than
 * REPLICATED_SPANS_PER_SHARD. The window is the request's: the blocks' time ranges differ.
 */
export function splitReplicatedJobs(req: MetricsRequest, blocks: readonly BlockMeta[], minShards = 1): { metas: BlockMeta[]; shard: TraceIdShard; req: MetricsRequest }[] {
  if (blocks.length === 0) return [];
  const spans = blocks.reduce((n, b) => n + (b.totalSpans > 0 ? b.totalSpans : Math.ceil(b.size / BYTES_PER_SPAN_GUESS)), 0);
  // Parallelism is worth a shard only while shards stay at least a row group (10k spans) each.
  const n = Math.min(MAX_SHARDS, Math.max(1, Math.min(minShards, Math.ceil(spans / 10_000)), Math.ceil(spans / REPLICATED_SPANS_PER_SHARD)));
  return shardJobs(req, blocks, traceIdShards(n));
}

/** One job per shard, over the blocks whose trace-ID range meets it (shards without blocks left out). */
export function shardJobs(req: MetricsRequest, blocks: readonly BlockMeta[], shards: readonly TraceIdShard[]): { metas: BlockMeta[]; shard: TraceIdShard; req: MetricsRequest }[] {
  const ranges = blocks.map((m) => ({ m, min: hexOfBase64(m.minID), max: hexOfBase64(m.maxID) }));
  const jobs: { metas: BlockMeta[]; shard: TraceIdShard; req: MetricsRequest }[] = [];
  for (const shard of shards) {
    // Hex of equal-length IDs orders as the bytes do; the shard bounds are 16 bytes.
    const metas = ranges.filter((r) => r.max >= shard.from && (shard.to === '' || r.min < shard.to)).map((r) => r.m);
    if (metas.length > 0) jobs.push({ metas, shard, req });
  }
  return jobs;
}

export class MetricsFrontend {
  constructor(private readonly deps: MetricsFrontendDeps) {}

  /** Validates the query and limits (400 naming the limit), fills the step and exemplars, aligns the range. */
  normalize(input: MetricsQueryInput): MetricsRequest {
    const l = this.deps.limits;
    const hints = this.deps.engine.check(input.query);
    if (input.endNs < input.startNs) throw new InvalidArgumentError('end must be greater than start');
    const range = input.endNs - input.startNs;
    if (l.maxDurationSeconds > 0 && range > BigInt(l.maxDurationSeconds) * NS) {
      throw new InvalidArgumentError(
        `range specified by start and end (${seconds(range)}) exceeds query_frontend.metrics.max_duration (${l.maxDurationSeconds}s); query a shorter range or raise the limit`,
      );
    }
    let step = input.instant ? range : input.stepNs || this.deps.engine.defaultStepNs(input.startNs, input.endNs);
    if (input.instant && step === 0n) step = 1n;
    if (!input.instant && l.maxIntervals > 0 && range / step > BigInt(l.maxIntervals)) {
      throw new InvalidArgumentError(
        `step of ${seconds(step)} is too small, minimum step for given range is ${seconds(range / BigInt(l.maxIntervals))} (query_frontend.metrics.max_intervals = ${l.maxIntervals})`,
      );
    }
    let exemplars = hints.exemplars ?? input.exemplars ?? l.maxExemplars;
    if (input.instant) exemplars = 0; // instant answers carry no exemplars
    exemplars = Math.min(Math.max(0, exemplars), l.maxExemplars);
    const aligned = this.deps.engine.alignRange({ startNs: input.startNs, endNs: input.endNs, stepNs: step, instant: input.instant });
    return { query: input.query, startNs: aligned.startNs, endNs: aligned.endNs, stepNs: aligned.stepNs, instant: input.instant, exemplars };
  }

  async query(tenantId: string, req: MetricsRequest, progress: MetricsProgress = {}): Promise<MetricsAnswer> {
    const combiner = this.deps.engine.combiner(req);
    const metrics = emptySearchMetrics();
    const answer = (): MetricsAnswer => {
      metrics.inspectedTraces = combiner.inspectedTraces;
      metrics.inspectedSpans = BigInt(combiner.inspectedSpans);
      metrics.inspectedBytes = BigInt(combiner.inspectedBytes);
      let series = combiner.series();
      const max = this.deps.limits.maxResponseSeries;
      if (max > 0 && series.length > max) {
        series = series.slice(0, max);
        return { series, metrics: { ...metrics }, partial: { message: `Response exceeds maximum series limit of ${max} (query_frontend.metrics.max_response_series); the first ${max} series by labels are returned` } };
      }
      return { series, metrics: { ...metrics } };
    };
    const take = (p: MetricsPartial): void => {
      combiner.add(p);
      metrics.completedJobs++;
      progress.onPartial?.(answer());
    };

    // The blocklist first, then the ingesters: a block listed now left their memory before.
    const listed = this.deps.blocklist.blocks(tenantId);
    const signal = progress.signal;
    const now = this.deps.now ?? (() => BigInt(Date.now()) * 1_000_000n);
    const partials = await this.deps.querier.metricsRecent(tenantId, { ...req, recentAfterNs: now() - this.deps.limits.queryBackendAfterNs }, signal);
    metrics.totalJobs = partials.length;
    const covered = new Set(partials.flatMap((p) => p.coveredBlocks ?? []));
    for (const p of partials) take(p);
    const split = splitOf(partials);

    const window = { startSeconds: Number(req.startNs / NS), endSeconds: Number((req.endNs + NS - 1n) / NS) };
    const set = new BlockSet();
    const keep = (m: BlockMeta): boolean => !covered.has(m.blockID) && overlapsWindow(m, window);
    let blocks = newestFirst([...set.add(listed, keep), ...partials.flatMap((p) => set.add(p.flushedBlocks, keep))]);
    // Split (RF > 1): blocks count the spans up to the split; a range query's intervals are
    // (start, end], an instant query's [start, end], hence one ns before its start.
    let blockReq = req;
    if (split !== undefined) {
      const from = req.instant ? req.startNs - 1n : req.startNs;
      const to = split < req.endNs ? split : req.endNs;
      blockReq = { ...req, windowStartNs: from, windowEndNs: to };
      blocks = to > from ? blocks.filter((b) => blockStartNs(b) <= to) : [];
    }
    // Queriers' workers busy, or concurrent_jobs at once (whichever is more).
    const parallel = Math.max(1, this.deps.querier.parallelism, this.deps.limits.concurrentJobs);
    const querier = this.deps.querier;
    // Factor 1: each span is in one block, read block by block (columns where the query allows).
    const jobs: (() => Promise<MetricsPartial>)[] = [
      ...splitReplicatedJobs(blockReq, blocks.filter(isReplicatedBlock), parallel).map((j) => () => querier.metricsReplicatedBlocks(j.metas, j.req, j.shard, signal)),
      ...splitMetricsJobs(blockReq, blocks.filter((b) => !isReplicatedBlock(b))).map((j) => () => querier.metricsBlock(j.meta, j.req, signal)),
    ];
    if (split !== undefined) {
      // Each replica's share of the blocks it flushed itself, for the spans after the split.
      const recentReq: MetricsRequest = { ...req, windowStartNs: split, windowEndNs: req.endNs };
      const own = partials.flatMap((p) => p.ownBlocks ?? []).filter((o) => o.tokenRanges.length > 0 && blockEndNs(o.meta) > split);
      for (const o of own) {
        for (const j of splitMetricsJobs(recentReq, [o.meta])) jobs.push(() => querier.metricsBlock(j.meta, { ...j.req, tokenRanges: o.tokenRanges }, signal));
      }
      blocks = [...blocks, ...own.map((o) => o.meta).filter((m) => !blocks.includes(m))];
    }
    metrics.totalJobs += jobs.length;
    metrics.totalBlocks = blocks.length;
    metrics.totalBlockBytes = blocks.reduce((n, b) => n + BigInt(b.size), 0n);

    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        if (progress.signal?.aborted) return;
        const job = jobs[next++]!;
        try {
          take(await job());
        } catch (err) {
          // Compacted away or deleted by retention since the blocklist was read: its spans are in the compacted output.
          if (!(err instanceof NotFoundError)) throw err;
          metrics.completedJobs++;
        }
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    progress.signal?.throwIfAborted();
    return answer();
  }
}

/** Where the ingesters' answer split the query (all split alike: one ring), or undefined. */
function splitOf(partials: readonly MetricsPartial[]): bigint | undefined {
  const splits = new Set(partials.map((p) => p.recentAfterNs));
  if (splits.size > 1) throw new Error(`metrics: the recent answers disagree on the split (${[...splits].join(', ')})`);
  return partials[0]?.recentAfterNs;
}

const blockStartNs = (m: BlockMeta): bigint => BigInt(Date.parse(m.startTime)) * 1_000_000n - 1n;
/** A block's end second counts whole (its endTime is rounded down). */
const blockEndNs = (m: BlockMeta): bigint => BigInt(Date.parse(m.endTime)) * 1_000_000n + NS;
