export { RingSnapshot, RingError, generateTokens, writeQuorum } from './ring.js';
export type { InstanceState, InstanceDesc, RingConfig, ReplicationSet } from './ring.js';
export { MemoryRingKV, casRing, emptyRingDesc, CasConflictError } from './kv.js';
export type { RingKV, RingDesc, MemberDesc, RingState, RingWatchListener } from './kv.js';
export { EtcdRingKV } from './etcd-kv.js';
export type { EtcdClientConfig, SecretValue } from './etcd-kv.js';
export { RingClient } from './ring-client.js';
export type { RingStore } from './ring-client.js';
export { Lifecycler } from './lifecycler.js';
export type { LifecyclerConfig, LifecyclerHooks } from './lifecycler.js';
export { createRingStore, defaultKVStoreConfig, validateKVStoreConfig, defaultInstanceId, instanceAddress, KV_STORES } from './create-ring-store.js';
export type { KVStoreConfig, RingStoreOptions } from './create-ring-store.js';
export {
  defaultBasicRingConfig,
  validateBasicRingConfig,
  defaultIngesterLifecyclerConfig,
  validateIngesterLifecyclerConfig,
  BASIC_RING_DURATION_KEYS,
  BASIC_RING_NUM_TOKENS,
  INGESTER_LIFECYCLER_DURATION_KEYS,
} from './ring-config.js';
export type { BasicRingConfig, IngesterRingConfig, IngesterLifecyclerConfig } from './ring-config.js';
