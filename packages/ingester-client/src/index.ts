export { PUSH_METHOD, encodePushRequest, decodePushRequest, encodePushResponse, decodePushResponse } from './push-codec.js';
export { IngesterPushClient, IngesterClientPool, fromServiceError, ERROR_CODE_KEY, ERROR_REASON_KEY } from './client.js';
export type { IngesterClientConfig } from './client.js';
