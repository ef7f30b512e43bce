export {
  PROCESSOR_NAMES,
  INTRINSIC_DIMENSIONS,
  DEFAULT_SPAN_METRICS_BUCKETS,
  DEFAULT_SERVICE_GRAPHS_BUCKETS,
  GeneratorConfigError,
  defaultGeneratorConfig,
  defaultRemoteWriteConfig,
  parseGeneratorConfig,
  parseGeneratorOverrides,
  validateGeneratorConfig,
  effectiveProcessorConfig,
} from './config.js';
export type { GeneratorConfig, ProcessorName, RemoteWriteConfig, ServiceGraphsConfig, SpanMetricsConfig } from './config.js';
