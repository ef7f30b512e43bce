export { service, grpcServings } from './service.js';
export type { Service, ServerStreamCall, ServerStreamMethod, GrpcMethods, GrpcListener, UnaryCall, UnaryMethod, GrpcUnaryMethods, BidiStreamCall, BidiStreamMethod, GrpcBidiMethods, GrpcServing } from './service.js';
