export type {
  AnyValue,
  KeyValue,
  Resource,
  InstrumentationScope,
  SpanEvent,
  SpanLink,
  SpanStatus,
  Span,
  ScopeSpans,
  ResourceSpans,
  Trace,
} from './trace.js';
export { SpanKind, StatusCode } from './trace.js';
export {
  GrpcCode,
  AndanteError,
  InvalidArgumentError,
  MissingTenantError,
  InvalidTenantError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  LimitExceededError,
  NotFoundError,
  UnavailableError,
  CancelledError,
  isAndanteError,
} from './errors.js';
export type { GrpcCodeValue } from './errors.js';
export type { BlockMeta } from './block-meta.js';
export { isReplicatedBlock } from './block-meta.js';
export { SINGLE_TENANT, validateTenantId, resolveTenant } from './tenant.js';
export {
  TRACE_ID_BYTES,
  SPAN_ID_BYTES,
  bytesToHex,
  hexToBytes,
  parseTraceIdParam,
  isAllZero,
  bytesEqual,
  compareBytes,
  tokenForTraceId,
  inTokenRanges,
} from './ids.js';
export type { TraceSegment, GeneratorPushRequest, GeneratorPusher, PushRequest, PushResult, IngesterPusher, IngesterQuerier, IngesterClient, IngesterTrace, RecentBlocks, SearchRequest, SearchPartial, TagsRequest, TagsPartial, TagValuesRequest, TagValuesPartial } from './ingest.js';
export { defaultTenantLimits, defaultMetricsGeneratorLimits, staticLimits } from './limits.js';
export type { TenantLimits, LimitsProvider, MetricsGeneratorLimits, FilterPolicyConfig, PolicyMatchConfig, DimensionMappingConfig } from './limits.js';
export { RateLimitedLog, createLogger, silentLogger } from './log.js';
export type { Logger, LogLevel, LogFields } from './log.js';
export { TraceDecodeCache, decodeTrace, encodeTrace, spanWireSize, encodedSpanSize, encodedResourceSize, encodedScopeSize } from './trace-codec.js';
export { combineTraces, countSpans } from './combine.js';
export { emptySearchMetrics, addSearchMetrics, searchMetricsJson, searchResponseToJson, compareSearchResults, topSearchResults, tagSelector, fetchConditionTest } from './search.js';
export type { SearchSpan, SearchSpanSet, ServiceStats, TraceSearchMetadata, SearchMetrics, SearchResponse, CompiledSearch, SearchCompiler, FetchCondition, FetchOperator, FetchSpansRequest, FetchTest, FetchValue, SpanSelection } from './search.js';
export { TAG_SCOPES, INTRINSIC_TAGS, collectTagNames, parseTagRef, collectTagValues, tagValueOf } from './tags.js';
export type { TagScope, TagValue, TagValueType, TagRef } from './tags.js';
export { parseDuration } from './duration.js';
export { Secret, SECRET_MASK } from './secret.js';
export { WorkerPool } from './worker-pool.js';
export type { JobDone, WorkerPoolOptions } from './worker-pool.js';
export { mulberry32 } from './seeded-random.js';
export { UNBOUNDED, overlapsWindow, mayHoldTraceId, BlockSet, newestFirst, blocksForRequest, blocksCoveredByOutputs } from './block-selection.js';
export type { TimeRange } from './block-selection.js';
export type { QuerierJobs, BlockLister, BlockTagsJob, BlockTagsAnswer, QuerierJobMethod, TraceIdShard } from './query-jobs.js';
export { QUERIER_JOB_METHODS, QUERIER_JOB_SIGNAL_ARG } from './query-jobs.js';
export { attributesJson, anyValueJson, base64, doubleJson, jsonString } from './json.js';
export type {
  MetricsRequest,
  MetricsPartial,
  SeriesPartial,
  ExemplarPartial,
  SpanColumnRef,
  SpanColumnsRequest,
  SpanColumnBatch,
  MetricsSample,
  MetricsExemplar,
  MetricsSeries,
  InstantSeries,
  MetricsJob,
  MetricsCombiner,
  MetricsEngine,
} from './metrics-query.js';
export { encodeSearchResponse, decodeSearchResponse } from './tempo-search-proto.js';
export {
  FRONTEND_PROCESS_METHOD,
  encodeFrontendMessage,
  decodeQuerierMessage,
  decodeFrontendMessage,
  toWireError,
  fromWireError,
  RemoteJobError,
} from './frontend-protocol.js';
export type { QuerierToFrontend, FrontendToQuerier, WireError } from './frontend-protocol.js';
