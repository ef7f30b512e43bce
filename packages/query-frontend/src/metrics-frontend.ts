// The query-frontend side of TraceQL metrics: limits and request normalisation (Tempo's names),
// the job split (recent data from the ingesters; one job per block overlapping the range, its
// window trimmed to the block and aligned to the step, as Tempo's TrimToBlockOverlap), run by
// queriers through QuerierJobs like search's, and the combine (partials merged exactly as jobs
// finish; the series recomputed for streaming).
//
// Exactness across sources: the blocklist is read before the ingesters are asked, and an
// ingester answers its memory, the blocks it flushed recently and the blocks it is writing right
// now, all at one instant (memory and flushed blocks never hold the same span). Blocks it is
// writing are not read from the blocklist (their spans are in its memory), flushed ones once.

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
  BlockSet,
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
}

/**
 * Defaults: Tempo 2.10's, except max_duration 24h (2.x: 3h, 3.0: 24h). Block jobs read only the
 * columns a query needs, so a day of spans costs seconds, and Grafana's common "last 24 hours"
 * view then works instead of answering 400.
 */
export function defaultMetricsLimits(): MetricsLimits {
  return { maxDurationSeconds: 24 * 3600, maxExemplars: 100, maxIntervals: 10_000, maxResponseSeries: 0, concurrentJobs: 1 };
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
    const windowStartNs = from > req.startNs ? from : req.startNs;
    const windowEndNs = to < req.endNs ? to : req.endNs;
    return { meta, req: { ...req, windowStartNs, windowEndNs } };
  });
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
    const partials = await this.deps.querier.metricsRecent(tenantId, req, signal);
    metrics.totalJobs = partials.length;
    const covered = new Set(partials.flatMap((p) => p.coveredBlocks ?? []));
    for (const p of partials) take(p);

    const window = { startSeconds: Number(req.startNs / NS), endSeconds: Number((req.endNs + NS - 1n) / NS) };
    const set = new BlockSet();
    const keep = (m: BlockMeta): boolean => !covered.has(m.blockID) && overlapsWindow(m, window);
    const blocks = newestFirst([...set.add(listed, keep), ...partials.flatMap((p) => set.add(p.flushedBlocks, keep))]);
    const jobs = splitMetricsJobs(req, blocks);
    metrics.totalJobs += jobs.length;
    metrics.totalBlocks = blocks.length;
    metrics.totalBlockBytes = blocks.reduce((n, b) => n + BigInt(b.size), 0n);

    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        if (progress.signal?.aborted) return;
        const job = jobs[next++]!;
        try {
          take(await this.deps.querier.metricsBlock(job.meta, job.req, signal));
        } catch (err) {
          // Compacted away or deleted by retention since the blocklist was read: its spans are in the compacted output.
          if (!(err instanceof NotFoundError)) throw err;
          metrics.completedJobs++;
        }
      }
    };
    // Queriers' workers busy, or concurrent_jobs at once (whichever is more).
    const parallel = Math.max(this.deps.querier.parallelism, this.deps.limits.concurrentJobs);
    await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
    progress.signal?.throwIfAborted();
    return answer();
  }
}
