export { PUSH_METHOD, encodePushRequest, decodePushRequest, encodePushResponse, decodePushResponse } from './push-codec.js';
export { IngesterGrpcClient, IngesterClientPool, fromServiceError, ERROR_CODE_KEY, ERROR_REASON_KEY } from './client.js';
export type { IngesterClientConfig } from './client.js';
export { FIND_TRACE_BY_ID_METHOD, encodeFindTraceByIdRequest, decodeFindTraceByIdRequest, encodeFindTraceByIdResponse, decodeFindTraceByIdResponse } from './query-codec.js';
export type { FindTraceByIdRequest } from './query-codec.js';
