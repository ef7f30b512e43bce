// The frontend's search: job splitting (the ingesters for recent data, one job per block in the
// window, newest first), concurrent jobs run by queriers (QuerierJobs), an early stop once `limit`
// results can no longer change, and the merge. Results are deterministic: the
// `limit` most recent matching traces, ties broken by trace ID.

import {
  InvalidArgumentError,
  NotFoundError,
  addSearchMetrics,
  blocksForRequest,
  emptySearchMetrics,
  topSearchResults,
  type BlockLister,
  type BlockMeta,
  type Logger,
  type QuerierJobs,
  type SearchCompiler,
  type SearchPartial,
  type SearchRequest,
  type SearchResponse,
  type TraceSearchMetadata,
} from '@andante/model';

export interface SearchLimits {
  /** query_frontend.search.max_duration: widest start..end window (0 = unlimited). */
  maxDurationSeconds: number;
  /** query_frontend.search.max_result_limit (0 = unlimited). */
  maxResultLimit: number;
  /** query_frontend.search.default_result_limit. */
  defaultResultLimit: number;
  /** Spans per spanset: default and maximum. */
  defaultSpansPerSpanSet: number;
  maxSpansPerSpanSet: number;
  /** concurrent_jobs run at once. */
  concurrentJobs: number;
}

export function defaultSearchLimits(): SearchLimits {
  return { maxDurationSeconds: 168 * 3600, maxResultLimit: 262_144, defaultResultLimit: 20, defaultSpansPerSpanSet: 3, maxSpansPerSpanSet: 100, concurrentJobs: 1 };
}

export interface SearchServiceDeps {
  /** The blocks a job may read (the blocklist). */
  blocklist: BlockLister;
  /** Who runs the jobs. */
  querier: QuerierJobs;
  compile: SearchCompiler;
  limits: SearchLimits;
  logger: Logger;
}

/** Hooks into a running search (gRPC streaming sends results as they are found). */
export interface SearchProgress {
  /**
   * Called after each job (an ingester, a block) with the current top `limit` as found so far
   * (not yet re-described from whole traces) and the cumulative metrics.
   */
  onPartial?: (sofar: SearchResponse) => void;
  /** The caller went away (a cancelled stream): no further block jobs start, and the search rejects. */
  signal?: AbortSignal;
}

export class SearchService {
  constructor(private readonly deps: SearchServiceDeps) {}

  /** Fills defaults and refuses requests beyond the limits (400 naming the limit). */
  normalize(req: Partial<SearchRequest> & { query: string }): SearchRequest {
    const l = this.deps.limits;
    const out: SearchRequest = {
      query: req.query,
      startSeconds: req.startSeconds ?? 0,
      endSeconds: req.endSeconds ?? 0,
      limit: req.limit || l.defaultResultLimit,
      spss: req.spss ?? l.defaultSpansPerSpanSet,
    };
    if (l.maxResultLimit > 0 && out.limit > l.maxResultLimit) {
      throw new InvalidArgumentError(`limit ${out.limit} exceeds max_result_limit (${l.maxResultLimit})`);
    }
    if (out.spss > l.maxSpansPerSpanSet) {
      throw new InvalidArgumentError(`spss ${out.spss} exceeds max_spans_per_span_set (${l.maxSpansPerSpanSet})`);
    }
    if (out.startSeconds && out.endSeconds) {
      if (out.endSeconds < out.startSeconds) throw new InvalidArgumentError(`invalid time range: end (${out.endSeconds}) is before start (${out.startSeconds})`);
      const span = out.endSeconds - out.startSeconds;
      if (l.maxDurationSeconds > 0 && span > l.maxDurationSeconds) {
        throw new InvalidArgumentError(
          `range specified by start and end (${span}s) exceeds max_duration (${l.maxDurationSeconds}s); search a shorter window or raise query_frontend.search.max_duration`,
        );
      }
    }
    return out;
  }

  async search(tenantId: string, req: SearchRequest, progress: SearchProgress = {}): Promise<SearchResponse> {
    const query = this.deps.compile(req.query); // a bad query fails before any work
    const signal = progress.signal;
    const metrics = emptySearchMetrics();
    const found: TraceSearchMetadata[] = [];
    const take = (p: SearchPartial): void => {
      found.push(...p.traces);
      addSearchMetrics(metrics, p.metrics);
      metrics.completedJobs++;
      progress.onPartial?.({ traces: topSearchResults(found, req.limit), metrics: { ...metrics } });
    };

    // Where each result was found: one block (then it may already be whole), or null (several places).
    const origin = new Map<string, string | null>();
    const partials = await this.deps.querier.searchRecent(tenantId, req, signal);
    metrics.totalJobs = partials.length;
    for (const partial of partials) {
      for (const t of partial.traces) origin.set(t.traceID, null);
      take(partial);
    }
    // Tempo searches only recent data when no window is given (ingesters, with the blocks they
    // flushed recently); with one, the listed blocks in it too.
    const blocks = blocksForRequest(this.deps.blocklist.blocks(tenantId), partials.map((p) => p.flushedBlocks), req, this.deps.blocklist.compactedBlocks(tenantId));
    metrics.totalJobs += blocks.length;
    metrics.totalBlocks = blocks.length;
    metrics.totalBlockBytes = blocks.reduce((n, b) => n + BigInt(b.size), 0n);

    let next = 0;
    const cutoff = (): bigint | null => {
      if (found.length < req.limit) return null;
      const top = topSearchResults(found, req.limit);
      return top.length < req.limit ? null : top[top.length - 1]!.startTimeUnixNano;
    };
    const worker = async (): Promise<void> => {
      while (next < blocks.length) {
        if (progress.signal?.aborted) return;
        const meta = blocks[next++]!;
        // Blocks run newest first: once a block ends before the oldest of `limit` results
        // started, neither it nor any later block can change the answer.
        const c = cutoff();
        if (c !== null && BigInt(Date.parse(meta.endTime)) * 1_000_000n < c) {
          next = blocks.length;
          return;
        }
        const partial = await this.searchBlock(meta, req, signal);
        for (const t of partial.traces) origin.set(t.traceID, origin.has(t.traceID) ? null : meta.blockID);
        take(partial);
      }
    };
    // Scans on worker threads: keep every worker busy; on the main thread, concurrent_jobs at once.
    const parallel = Math.max(this.deps.querier.parallelism, this.deps.limits.concurrentJobs);
    await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
    progress.signal?.throwIfAborted();

    // A trace can be split over ingesters and blocks: describe each result from its whole trace,
    // unless it came from one block and no other source can hold any of it.
    const top = topSearchResults(found, req.limit);
    const traces = await Promise.all(
      top.map(async (t) => {
        const id = Buffer.from(t.traceID, 'hex');
        const block = origin.get(t.traceID);
        if (block && !(await this.deps.querier.mayHoldElsewhere(tenantId, id, block, signal))) return t;
        const whole = await this.deps.querier.findTraceById(tenantId, id, req, signal);
        return (whole && query.match(whole, { startSeconds: 0, endSeconds: 0 }, req.spss)) ?? t;
      }),
    );
    // Tempo's wording for a trace whose root span has not arrived (yet).
    for (const t of traces) if (!t.rootServiceName) t.rootServiceName = '<root span not yet received>';
    return { traces: topSearchResults(traces, req.limit), metrics };
  }

  private async searchBlock(meta: BlockMeta, req: SearchRequest, signal: AbortSignal | undefined): Promise<SearchPartial> {
    try {
      return await this.deps.querier.searchBlock(meta, req, signal);
    } catch (err) {
      // Compacted away or deleted by retention since the blocklist was read: it holds nothing now.
      if (err instanceof NotFoundError) return { traces: [], metrics: emptySearchMetrics() };
      throw err;
    }
  }
}
