export { service } from './service.js';
export type { Service, ServerStreamCall, ServerStreamMethod, GrpcMethods, GrpcListener } from './service.js';
