export { Ingester } from './ingester.js';
export type { IngesterDeps } from './ingester.js';
export { defaultIngesterConfig } from './config.js';
export type { IngesterConfig } from './config.js';
