export { Compactor } from './compactor.js';
export type { CompactorDeps, CycleResult } from './compactor.js';
export type { CompactedOutputMeta } from './output-meta.js';
export { defaultCompactorConfig, DEFAULT_ORPHANED_BLOCK_GRACE_PERIOD_MS, DEFAULT_OUTPUT_BLOCK_BUFFER_BYTES } from './config.js';
export type { CompactorConfig } from './config.js';
export { ownAllJobs, HashJobOwnership, RingJobOwnership, jobToken } from './ownership.js';
export type { JobOwnership, JobOwnerLookup } from './ownership.js';
export { selectCompactionJobs, windowJobKey } from './selector.js';
export type { CompactionJob } from './selector.js';
