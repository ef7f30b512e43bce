export { Ingester } from './ingester.js';
export type { IngesterDeps } from './ingester.js';
export { defaultIngesterConfig } from './config.js';
export type { IngesterConfig } from './config.js';
export { createIngester, defaultIngesterModuleConfig, INGESTER_DURATION_KEYS } from './module.js';
export type { IngesterModuleConfig, IngesterModuleDeps, IngesterService } from './module.js';
export { MAY_MATCH, compileSegmentFilter } from './segment-filter.js';
