// Tempo's `query_frontend:` block (the keys Andante reads), with Tempo's defaults unless noted.

import { parseDuration } from '@andante/model';
import { defaultSearchLimits, type SearchLimits } from './search.js';

export interface QueryFrontendConfig {
  search: {
    max_duration: string;
    default_result_limit: number;
    max_result_limit: number;
    concurrent_jobs: number;
    max_spans_per_span_set: number;
  };
}

export function defaultQueryFrontendConfig(): QueryFrontendConfig {
  const l = defaultSearchLimits();
  return {
    search: {
      max_duration: '168h',
      default_result_limit: l.defaultResultLimit,
      max_result_limit: l.maxResultLimit,
      // Block jobs decode on this process's main thread when queriers run no workers, so several at
      // once add no parallelism and only defeat the early stop; Tempo's 1000 is for a fleet of queriers.
      concurrent_jobs: l.concurrentJobs,
      max_spans_per_span_set: l.maxSpansPerSpanSet,
    },
  };
}

/** The search limits the config sets (durations parsed). */
export function searchLimitsOf(c: QueryFrontendConfig): SearchLimits {
  const s = c.search;
  return {
    maxDurationSeconds: parseDuration(s.max_duration) / 1000,
    maxResultLimit: s.max_result_limit,
    defaultResultLimit: s.default_result_limit,
    defaultSpansPerSpanSet: defaultSearchLimits().defaultSpansPerSpanSet,
    maxSpansPerSpanSet: s.max_spans_per_span_set,
    concurrentJobs: s.concurrent_jobs,
  };
}
