export { createQueryFrontend } from './module.js';
export type { QueryFrontendDeps, QueryFrontendService } from './module.js';
export { defaultQueryFrontendConfig, searchLimitsOf } from './config.js';
export type { QueryFrontendConfig } from './config.js';
export { SearchService, defaultSearchLimits } from './search.js';
export type { SearchLimits, SearchProgress, SearchServiceDeps } from './search.js';
export { TagsService } from './tags.js';
export type { TagsServiceDeps, TagNamesResult, TagValuesResult } from './tags.js';
export { registerSearchRoutes, legacySearchToTraceQL, parseLogfmt } from './routes/search.js';
export type { SearchRoutesOptions } from './routes/search.js';
export { registerTagRoutes } from './routes/tags.js';
export type { TagRoutesOptions } from './routes/tags.js';
export { registerTraceRoutes } from './routes/traces.js';
export type { TraceRoutesOptions } from './routes/traces.js';
export { streamingQuerierMethods, encodeSearchMessages, STREAMING_QUERIER_SERVICE, MAX_SEARCH_MESSAGE_BYTES } from './routes/streaming.js';
export type { StreamingQuerierOptions } from './routes/streaming.js';
export { encodeTraceByIdResponse, traceToTempoJson } from './trace-response.js';
export type { PartialStatus, TraceByIdResponse, TraceJsonExtra } from './trace-response.js';
export { MetricsFrontend, defaultMetricsLimits, splitMetricsJobs, splitReplicatedJobs, shardJobs, traceIdShards, REPLICATED_SPANS_PER_SHARD } from './metrics-frontend.js';
export type { MetricsLimits, MetricsFrontendDeps, MetricsAnswer, MetricsQueryInput, MetricsProgress } from './metrics-frontend.js';
export { registerMetricsRoutes, metricsStreamingMethods, parseTimestampNs } from './routes/metrics.js';
export type { MetricsRoutesOptions } from './routes/metrics.js';
export { FrontendQueue } from './queue/frontend-queue.js';
export type { FrontendQueueOptions, JobPayload } from './queue/frontend-queue.js';
export { RequestQueue, TooManyOutstandingError } from './queue/request-queue.js';
export type { QueuedJob, RequestQueueOptions } from './queue/request-queue.js';
export {
  encodeSearchRequest,
  decodeSearchRequest,
  encodeSearchTagsRequest,
  decodeSearchTagsRequest,
  encodeSearchTagValuesRequest,
  decodeSearchTagValuesRequest,
  encodeSearchTagsResponse,
  decodeSearchTagsResponse,
  encodeSearchTagsV2Response,
  decodeSearchTagsV2Response,
  encodeSearchTagValuesResponse,
  decodeSearchTagValuesResponse,
  encodeSearchTagValuesV2Response,
  decodeSearchTagValuesV2Response,
  decodeQueryRangeRequest,
  encodeQueryRangeRequest,
  decodeQueryInstantRequest,
  encodeQueryInstantRequest,
  encodeQueryRangeResponse,
  encodeQueryInstantResponse,
} from './tempo-api-proto.js';
export type {
  TempoSearchRequest,
  TempoSearchTagsRequest,
  TempoSearchTagValuesRequest,
  MetadataMetrics,
  TempoSearchTagsResponse,
  TempoSearchTagsV2Response,
  TempoSearchTagValuesResponse,
  TempoSearchTagValuesV2Response,
  TempoQueryRangeRequest,
} from './tempo-api-proto.js';
