// One catalogue of typed errors. Each carries a stable code, an HTTP status and a gRPC status
// code, so every boundary (OTLP HTTP, OTLP gRPC, query API) maps them the same way.

/** gRPC status codes used at Andante's boundaries (values from grpc's status.proto). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcCodeValue = (typeof GrpcCode)[keyof typeof GrpcCode];

export abstract class AndanteError extends Error {
  abstract readonly code: string;
  abstract readonly httpStatus: number;
  abstract readonly grpcCode: GrpcCodeValue;
  /** Seconds a client should wait before retrying, when the refusal is temporary. */
  retryAfterSeconds?: number;
}

export class InvalidArgumentError extends AndanteError {
  readonly code = 'INVALID_ARGUMENT';
  readonly httpStatus = 400;
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  override readonly name = 'InvalidArgumentError';
}

export class MissingTenantError extends AndanteError {
  readonly code = 'MISSING_TENANT';
  readonly httpStatus = 401;
  readonly grpcCode = GrpcCode.UNAUTHENTICATED;
  override readonly name = 'MissingTenantError';
  constructor() {
    super('no org id: the X-Scope-OrgID header is required when multitenancy_enabled is true');
  }
}

export class InvalidTenantError extends AndanteError {
  readonly code = 'INVALID_TENANT';
  readonly httpStatus = 400;
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  override readonly name = 'InvalidTenantError';
}

export class PayloadTooLargeError extends AndanteError {
  readonly code = 'PAYLOAD_TOO_LARGE';
  readonly httpStatus = 413;
  readonly grpcCode = GrpcCode.RESOURCE_EXHAUSTED;
  override readonly name = 'PayloadTooLargeError';
}

export class UnsupportedMediaTypeError extends AndanteError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
  readonly httpStatus = 415;
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
  override readonly name = 'UnsupportedMediaTypeError';
}

/**
 * A limit refused the data (a per-tenant one, or the ingester's budget of bytes not yet flushed); retryable.
 * `reason` is the tempo_discarded_spans_total label value.
 */
export class LimitExceededError extends AndanteError {
  readonly code: string;
  readonly httpStatus = 429;
  readonly grpcCode = GrpcCode.RESOURCE_EXHAUSTED;
  override readonly name = 'LimitExceededError';
  constructor(
    code: 'RATE_LIMITED' | 'TRACE_TOO_LARGE' | 'LIVE_TRACES_EXCEEDED' | 'UNFLUSHED_BYTES_EXCEEDED',
    readonly reason: 'rate_limited' | 'trace_too_large' | 'live_traces_exceeded' | 'unflushed_bytes_exceeded',
    message: string,
    retryAfterSeconds?: number,
  ) {
    super(`${code}: ${message}`);
    this.code = code;
    if (retryAfterSeconds !== undefined) this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class NotFoundError extends AndanteError {
  readonly code = 'NOT_FOUND';
  readonly httpStatus = 404;
  readonly grpcCode = GrpcCode.NOT_FOUND;
  override readonly name = 'NotFoundError';
}

export class UnavailableError extends AndanteError {
  readonly code = 'UNAVAILABLE';
  readonly httpStatus = 503;
  readonly grpcCode = GrpcCode.UNAVAILABLE;
  override readonly name = 'UnavailableError';
}

/** Work stopped because whoever wanted its answer gave up (499: the client closed the request). */
export class CancelledError extends AndanteError {
  readonly code = 'CANCELLED';
  readonly httpStatus = 499;
  readonly grpcCode = GrpcCode.CANCELLED;
  override readonly name = 'CancelledError';
}

export function isAndanteError(err: unknown): err is AndanteError {
  return err instanceof AndanteError;
}
