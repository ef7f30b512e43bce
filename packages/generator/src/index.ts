export {
  PROCESSOR_NAMES,
  INTRINSIC_DIMENSIONS,
  DEFAULT_SPAN_METRICS_BUCKETS,
  DEFAULT_SERVICE_GRAPHS_BUCKETS,
  GeneratorConfigError,
  defaultGeneratorConfig,
  defaultGeneratorRingConfig,
  defaultRemoteWriteConfig,
  parseGeneratorConfig,
  parseGeneratorOverrides,
  validateGeneratorConfig,
  effectiveProcessorConfig,
} from './config.js';
export type { GeneratorConfig, ProcessorName, RemoteWriteConfig, ServiceGraphsConfig, SpanMetricsConfig } from './config.js';
export { Generator } from './generator.js';
export type { GeneratorDeps } from './generator.js';
export { TenantRegistry, Counter, Gauge, Histogram } from './registry.js';
export type { Collected, Exemplar, RegistryOptions, TimeSeries } from './registry.js';
export { LabelBuilder, sanitizeLabelName } from './labels.js';
export { SpanMetricsProcessor, SPAN_METRICS_CALLS, SPAN_METRICS_LATENCY, SPAN_METRICS_SIZE, TARGET_INFO } from './span-metrics.js';
export type { SpanMetricsParts } from './span-metrics.js';
export type { Processor } from './processor.js';
export { decodeForGenerator, wantedSpanAttributes } from './span-view.js';
export type { GenBatch, GenSpan } from './span-view.js';
export {
  ServiceGraphsProcessor,
  EdgeStore,
  SG_REQUEST_TOTAL,
  SG_REQUEST_FAILED_TOTAL,
  SG_REQUEST_SERVER_SECONDS,
  SG_REQUEST_CLIENT_SECONDS,
  SG_REQUEST_MESSAGING_SYSTEM_SECONDS,
} from './service-graphs.js';
export type { ServiceGraphsCounters, Edge, ConnectionType } from './service-graphs.js';
export { SpanFilter } from './span-filter.js';
export { RemoteWriteQueue, encodeWriteRequest, decodeWriteRequest, snappyCompress, snappyUncompress } from './remote-write.js';
export type { RemoteWriteMetrics, RemoteWriteQueueOptions } from './remote-write.js';
export { createGenerator } from './module.js';
export type { GeneratorModuleDeps, GeneratorService } from './module.js';
