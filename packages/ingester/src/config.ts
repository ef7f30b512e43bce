/** Ingester settings (Tempo's `ingester:` block; durations in ms here). */
export interface IngesterConfig {
  /** trace_idle_period: a trace with no new spans for this long is no longer live. */
  traceIdlePeriodMs: number;
  /** max_block_duration: the head block is completed when it is this old. */
  maxBlockDurationMs: number;
  /** max_block_bytes: ... or when it holds this many bytes. */
  maxBlockBytes: number;
  /** flush_check_period: how often traces are cut and blocks checked. */
  flushCheckPeriodMs: number;
  /** complete_block_timeout: flushed blocks stay searchable here so readers never miss them. */
  completeBlockTimeoutMs: number;
  /** concurrent_flushes: blocks written to the backend at once. */
  concurrentFlushes: number;
  /** flush_all_on_shutdown: complete and flush every block on a graceful stop. */
  flushAllOnShutdown: boolean;
  /** Backoff after a failed flush before the next try. */
  flushRetryMs: number;
  /**
   * max_unflushed_bytes: trace bytes this ingester may hold that are not yet written to the
   * backend (head blocks plus cut blocks waiting for their flush, all tenants). Above it, pushes
   * are refused with a retryable 429 / RESOURCE_EXHAUSTED until flushes catch up; 0 = no limit.
   */
  maxUnflushedBytes: number;
}

export function defaultIngesterConfig(): IngesterConfig {
  return {
    traceIdlePeriodMs: 5_000,
    maxBlockDurationMs: 30 * 60_000,
    maxBlockBytes: 524_288_000,
    flushCheckPeriodMs: 10_000,
    completeBlockTimeoutMs: 15 * 60_000,
    concurrentFlushes: 4,
    // Tempo's default is false; a graceful stop that leaves nothing in the WAL is what users expect.
    flushAllOnShutdown: true,
    flushRetryMs: 5_000,
    // 1 GiB of OTLP bytes is ~2-3 GiB of process memory with the encoders' working sets.
    maxUnflushedBytes: 1024 ** 3,
  };
}
