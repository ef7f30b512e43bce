// One block's part of a TraceQL metrics query, the same inline and on a search worker. Leaves
// whose conditions storage decides exactly on columns are answered from columns (no trace is
// assembled); for the others every trace of the block is read, a row group at a time, and the
// engine decides on each whole trace. (The search's candidate reads decode only the pages of each
// candidate: right for a top 20, ~10x slower than whole row groups when most traces are wanted.)
// With `req.tokenRanges` (a replica's share of a block it flushed, see RingIngesterQuerier) only
// the traces whose ring token is in the ranges count: the columnar scan reads the trace_id column
// beside the others and masks the other traces' rows; the trace path skips them.

import { inTokenRanges, tokenForTraceId, type MetricsEngine, type MetricsPartial, type MetricsRequest } from '@andante/model';
import type { BackendBlock } from '@andante/storage';

/** `signal` aborted (nobody waits for the answer) stops the job at its next batch of spans or trace. */
export async function metricsBlockJob(block: BackendBlock, req: MetricsRequest, engine: MetricsEngine, signal?: AbortSignal): Promise<MetricsPartial> {
  const job = engine.job(req);
  const byTrace: number[] = [];
  const ranges = req.tokenRanges;
  const share = ranges ? { from: new Uint8Array(0), keepTrace: (id: Uint8Array) => inTokenRanges(ranges, tokenForTraceId(id)) } : undefined;
  for (const [leaf, plan] of job.columnPlans.entries()) {
    const visit = async (batch: Parameters<typeof job.observeColumns>[1]): Promise<void> => {
      signal?.throwIfAborted();
      await job.observeColumns(leaf, batch);
    };
    const scanned = plan ? await block.scanSpanColumns(plan, visit, share) : null;
    if (scanned) job.addInspected(0, scanned.inspectedSpans, scanned.inspectedBytes);
    else byTrace.push(leaf);
  }
  if (byTrace.length > 0) {
    let traces = 0;
    let spans = 0;
    // Shared: the engine only reads each trace (its exemplars keep hex IDs), so no copies are made.
    for await (const { traceId, trace } of block.iterateTraces(undefined, { shared: true })) {
      signal?.throwIfAborted();
      if (ranges && !inTokenRanges(ranges, tokenForTraceId(traceId))) continue;
      traces++;
      for (const rs of trace.resourceSpans) for (const ss of rs.scopeSpans) spans += ss.spans.length;
      job.observeTrace(trace, byTrace);
    }
    job.addInspected(traces, spans, block.meta.size);
  }
  return job.partial();
}

