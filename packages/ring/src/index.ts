export { MemoryRingStore, RingSnapshot, RingError, generateTokens } from './ring.js';
export type { InstanceState, InstanceDesc, RingStore, RingConfig, ReplicationSet } from './ring.js';
export { Lifecycler } from './lifecycler.js';
export type { LifecyclerConfig } from './lifecycler.js';
