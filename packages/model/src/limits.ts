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
  /** metrics_generator.*: which processors run for the tenant and their per-tenant settings. */
  metricsGenerator: MetricsGeneratorLimits;
}

/**
 * Tempo's per-tenant `metrics_generator` overrides, with Tempo's key names as written in YAML
 * (the generator reads them as a Tempo user wrote them). A field left undefined falls back to
 * the generator's own `metrics_generator.processor.*` configuration.
 */
export interface MetricsGeneratorLimits {
  /** e.g. ['service-graphs', 'span-metrics']; empty: the generator does nothing for the tenant. */
  processors: string[];
  /** Prometheus series the tenant's registry may hold (0 = unlimited). */
  max_active_series: number;
  /** Go duration; '0s' = the registry's collection_interval. */
  collection_interval: string;
  disable_collection: boolean;
  processor: {
    span_metrics: {
      dimensions?: string[];
      intrinsic_dimensions?: Record<string, boolean>;
      filter_policies?: FilterPolicyConfig[];
      histogram_buckets?: number[];
      enable_target_info?: boolean;
      dimension_mappings?: DimensionMappingConfig[];
    };
    service_graphs: {
      dimensions?: string[];
      peer_attributes?: string[];
      histogram_buckets?: number[];
      enable_client_server_prefix?: boolean;
    };
  };
}

/** A span filter policy (Tempo's pkg/spanfilter): keys are TraceQL-style (`resource.x`, `span.x`, `kind`, `name`, `status`). */
export interface FilterPolicyConfig {
  include?: PolicyMatchConfig;
  exclude?: PolicyMatchConfig;
}
export interface PolicyMatchConfig {
  match_type: 'strict' | 'regex';
  attributes: { key: string; value: string | number | boolean }[];
}
export interface DimensionMappingConfig {
  name: string;
  source_labels: string[];
  join: string;
}

/** No processors: the metrics-generator is off for a tenant unless its overrides enable it. */
export function defaultMetricsGeneratorLimits(): MetricsGeneratorLimits {
  return { processors: [], max_active_series: 0, collection_interval: '0s', disable_collection: false, processor: { span_metrics: {}, service_graphs: {} } };
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
    metricsGenerator: defaultMetricsGeneratorLimits(),
  };
}

export function staticLimits(limits: TenantLimits): LimitsProvider {
  return { forTenant: () => limits };
}
