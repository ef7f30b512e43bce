export { Compactor } from './compactor.js';
export type { CompactorDeps, CycleResult, CompactedOutputMeta } from './compactor.js';
export { defaultCompactorConfig } from './config.js';
export type { CompactorConfig } from './config.js';
export { ownAllJobs, HashJobOwnership } from './ownership.js';
export type { JobOwnership } from './ownership.js';
export { selectCompactionJobs } from './selector.js';
export type { CompactionJob } from './selector.js';
