export { Distributor } from './distributor.js';
export type { DistributorDeps, ExportResult, SpanStreamTap } from './distributor.js';
export type { DistributorMetrics } from './metrics.js';
export { createOtlpHttpReceiver } from './receivers/otlp-http.js';
export type { OtlpHttpReceiverConfig } from './receivers/otlp-http.js';
export { OtlpGrpcReceiver, traceServiceDefinition } from './receivers/otlp-grpc.js';
export type { OtlpGrpcReceiverConfig } from './receivers/otlp-grpc.js';
