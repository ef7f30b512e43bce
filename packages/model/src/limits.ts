// Per-tenant limits, with Tempo's override names in the comments. The server loads
// `overrides.defaults` and the per-tenant overrides file; components only ask for a tenant's
// effective limits through this interface, so a reloaded file takes effect at once.

export interface TenantLimits {
  /** ingestion.rate_limit_bytes: token-bucket refill rate, bytes/s. */
  ingestionRateLimitBytes: number;
  /** ingestion.burst_size_bytes: token-bucket capacity. */
  ingestionBurstSizeBytes: number;
  /** ingestion.max_traces_per_user: live traces per tenant per ingester (0 = unlimited). */
  maxTracesPerUser: number;
  /** global.max_bytes_per_trace: bytes one trace may hold (0 = unlimited). */
  maxBytesPerTrace: number;
  /** compaction.block_retention in ms (0 = the compactor's block_retention). */
  blockRetentionMs: number;
  /** read.max_bytes_per_tag_values_query: bytes of names or values one tag query may answer (0 = unlimited). */
  maxBytesPerTagValuesQuery: number;
}

export interface LimitsProvider {
  forTenant(tenantId: string): TenantLimits;
}

/** Tempo 2.x defaults. */
export function defaultTenantLimits(): TenantLimits {
  return {
    ingestionRateLimitBytes: 15_000_000,
    ingestionBurstSizeBytes: 20_000_000,
    maxTracesPerUser: 10_000,
    maxBytesPerTrace: 5_000_000,
    blockRetentionMs: 0,
    maxBytesPerTagValuesQuery: 1_000_000,
  };
}

export function staticLimits(limits: TenantLimits): LimitsProvider {
  return { forTenant: () => limits };
}
