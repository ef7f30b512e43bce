export { Querier } from './querier.js';
export type { QuerierDeps, TimeRange } from './querier.js';
export { Blocklist } from './blocklist.js';
export { registerTraceRoutes } from './routes/traces.js';
export type { TraceRoutesOptions } from './routes/traces.js';
