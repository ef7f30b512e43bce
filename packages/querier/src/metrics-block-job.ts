// One block's part of a TraceQL metrics query, the same inline and on a search worker. Leaves
// whose conditions storage decides exactly on columns are answered from columns (no trace is
// assembled); the others read the candidate traces the search pushdown leaves (every one, not a
// top `limit`) and let the engine decide on each whole trace.

import type { MetricsEngine, MetricsPartial, MetricsRequest } from '@andante/model';
import type { BackendBlock } from '@andante/storage';

export async function metricsBlockJob(block: BackendBlock, req: MetricsRequest, engine: MetricsEngine): Promise<MetricsPartial> {
  const job = engine.job(req);
  const byTrace: number[] = [];
  for (const [leaf, plan] of job.columnPlans.entries()) {
    const scanned = plan ? await block.scanSpanColumns(plan, async (batch) => void (await job.observeColumns(leaf, batch))) : null;
    if (scanned) job.addInspected(0, scanned.inspectedSpans, scanned.inspectedBytes);
    else byTrace.push(leaf);
  }
  if (byTrace.length > 0) {
    const from = req.windowStartNs || req.startNs;
    const to = req.windowEndNs || req.endNs;
    const result = await block.search(
      job.fetch,
      { limit: Infinity, startSeconds: Math.max(1, Number(from / 1_000_000_000n)), endSeconds: Number(to / 1_000_000_000n) + 1 },
      (trace) => {
        job.observeTrace(trace, byTrace);
        return null;
      },
    );
    job.addInspected(result.inspectedTraces, result.inspectedSpans, result.inspectedBytes);
  }
  return job.partial();
}
