// TraceQL metrics over the traces an ingester holds in memory: each trace is judged on its
// segment bytes first (the search's segment filter with the query's pushdown) and decoded only
// when it may hold matching spans; the engine's job accumulates a mergeable partial.

import { combineTraces, countSpans, decodeTrace, type MetricsJob } from '@andante/model';
import { MAY_MATCH, compileSegmentFilter } from './segment-filter.js';

/** A visitor for TenantInstance's traces in memory that feeds the job. */
export function observeSegments(job: MetricsJob): (segments: Uint8Array[], bytes: number) => void {
  const judge = compileSegmentFilter(job.fetch);
  return (segments, bytes) => {
    const judged = judge ? judge(segments) : MAY_MATCH;
    if (judged !== MAY_MATCH) {
      // Surely no matching span: counted as inspected, not decoded.
      job.addInspected(1, judged, bytes);
      return;
    }
    const trace = combineTraces([decodeTrace(Buffer.concat(segments))]);
    job.observeTrace(trace);
    job.addInspected(1, countSpans(trace), bytes);
  };
}
