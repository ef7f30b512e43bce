// Tempo's `query_frontend:` block (the keys Andante reads), with Tempo's defaults unless noted.

import { parseDuration } from '@andante/model';
import { defaultSearchLimits, type SearchLimits } from './search.js';

export interface QueryFrontendConfig {
  /** Jobs queued per tenant at most when queriers pull from this frontend; beyond: 429 (Tempo: 2000). */
  max_outstanding_per_tenant: number;
  search: {
    max_duration: string;
    default_result_limit: number;
    max_result_limit: number;
    concurrent_jobs: number;
    max_spans_per_span_set: number;
  };
  /** TraceQL metrics (Tempo 2.10's keys; see docs/design.md "TraceQL metrics" for the ones accepted and unused). */
  metrics: {
    max_duration: string;
    max_exemplars: number;
    max_intervals: number;
    max_response_series: number;
    concurrent_jobs: number;
    target_bytes_per_job: number;
    query_backend_after: string;
    interval: string;
    streaming_shards: number;
    duration_slo: string;
    throughput_bytes_slo: number;
  };
}

export function defaultQueryFrontendConfig(): QueryFrontendConfig {
  const l = defaultSearchLimits();
  return {
    max_outstanding_per_tenant: 2000,
    search: {
      max_duration: '168h',
      default_result_limit: l.defaultResultLimit,
      max_result_limit: l.maxResultLimit,
      // Block jobs decode on this process's main thread when queriers run no workers, so several at
      // once add no parallelism and only defeat the early stop; Tempo's 1000 is for a fleet of queriers.
      concurrent_jobs: l.concurrentJobs,
      max_spans_per_span_set: l.maxSpansPerSpanSet,
    },
    metrics: {
      // Tempo 2.x: 3h, 3.0: 24h. Block jobs read only the columns a query needs, so a day costs
      // seconds, and Grafana's "last 24 hours" works.
      max_duration: '24h',
      max_exemplars: 100,
      max_intervals: 10_000,
      max_response_series: 0,
      concurrent_jobs: 1,
      target_bytes_per_job: 100 * 1024 ** 2,
      // Tempo: 30m (its recent metrics come from generators holding an hour). Here the ingesters
      // answer the recent part at RF > 1, so it must exceed max_block_duration (30m) plus
      // flush_check_period and stay within complete_block_timeout (docs/design.md).
      query_backend_after: '35m',
      interval: '5m',
      streaming_shards: 1,
      duration_slo: '0s',
      throughput_bytes_slo: 0,
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
