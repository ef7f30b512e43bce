export { PUSH_METHOD, encodePushRequest, decodePushRequest, encodePushResponse, decodePushResponse } from './push-codec.js';
export { IngesterGrpcClient, IngesterClientPool, fromServiceError, ERROR_CODE_KEY, ERROR_REASON_KEY } from './client.js';
export type { IngesterClientConfig } from './client.js';
export { FIND_TRACE_BY_ID_METHOD, encodeFindTraceByIdRequest, decodeFindTraceByIdRequest, encodeFindTraceByIdResponse, decodeFindTraceByIdResponse } from './query-codec.js';
export type { FindTraceByIdRequest } from './query-codec.js';
export {
  SEARCH_RECENT_METHOD,
  SEARCH_TAGS_METHOD,
  SEARCH_TAG_VALUES_METHOD,
  encodeSearchRecentRequest,
  decodeSearchRecentRequest,
  encodeSearchRecentResponse,
  decodeSearchRecentResponse,
  encodeSearchTagsRecentRequest,
  decodeSearchTagsRecentRequest,
  encodeSearchTagsRecentResponse,
  decodeSearchTagsRecentResponse,
  encodeSearchTagValuesRecentRequest,
  decodeSearchTagValuesRecentRequest,
  encodeSearchTagValuesRecentResponse,
  decodeSearchTagValuesRecentResponse,
} from './recent-codec.js';
export type { TenantRequest } from './recent-codec.js';
export { METRICS_QUERY_RANGE_METHOD, encodeMetricsRequest, decodeMetricsRequest, encodeMetricsPartial, decodeMetricsPartial } from './metrics-codec.js';
