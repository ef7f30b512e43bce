export { Querier } from './querier.js';
export type { QuerierDeps, TimeRange } from './querier.js';
export { Blocklist } from './blocklist.js';
export { registerTraceRoutes } from './routes/traces.js';
export type { TraceRoutesOptions } from './routes/traces.js';
export { SearchService, defaultSearchLimits } from './search.js';
export type { SearchLimits, SearchServiceDeps } from './search.js';
export { registerSearchRoutes, legacySearchToTraceQL, parseLogfmt } from './routes/search.js';
export type { SearchRoutesOptions } from './routes/search.js';
