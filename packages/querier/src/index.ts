export { Querier } from './querier.js';
export type { QuerierDeps } from './querier.js';
export { Blocklist } from './blocklist.js';
export { BlockSearchPool } from './search-pool.js';
export type { CompilerModule } from './search-pool.js';
export { createQuerier, defaultQuerierModuleConfig } from './module.js';
export type { QuerierModuleConfig, QuerierModuleDeps, QuerierService } from './module.js';
