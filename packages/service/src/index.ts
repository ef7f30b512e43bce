export { service } from './service.js';
export type { Service, ServerStreamCall, ServerStreamMethod, GrpcMethods, GrpcListener, UnaryCall, UnaryMethod, GrpcUnaryMethods } from './service.js';
