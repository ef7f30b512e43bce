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
  isAndanteError,
} from './errors.js';
export type { GrpcCodeValue } from './errors.js';
export { SINGLE_TENANT, validateTenantId } from './tenant.js';
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
} from './ids.js';
export type { TraceSegment, PushRequest, PushResult, IngesterPusher, IngesterQuerier, IngesterClient } from './ingest.js';
