export { PUSH_SPANS_METHOD, encodePushSpansRequest, decodePushSpansRequest } from './push-codec.js';
export { GeneratorGrpcClient, GeneratorClientPool } from './client.js';
export type { GeneratorClientConfig } from './client.js';
