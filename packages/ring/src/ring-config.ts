// Tempo's ring config blocks, with Tempo's keys and defaults: the basic ring block the distributor,
// compactor and metrics-generator share (`<component>.ring`, dskit's BasicLifecycler), and the
// ingester's `ingester.lifecycler` block (dskit's LifecyclerConfig with its `ring` block). The
// component packages export their ring's defaults from these; the server only composes them.

import { defaultInstanceId, defaultKVStoreConfig, validateKVStoreConfig, type KVStoreConfig } from './create-ring-store.js';

/** The tokens each member of a basic ring takes (Tempo's ringNumTokens for those rings). */
export const BASIC_RING_NUM_TOKENS = 128;

/** Tempo's `<component>.ring` block for the distributor, compactor and metrics-generator rings. */
export interface BasicRingConfig {
  kvstore: KVStoreConfig;
  heartbeat_period: string;
  heartbeat_timeout: string;
  /** Unique in the ring; the hostname by default, as in Tempo. */
  instance_id: string;
  /** What others dial; empty: this host's first non-loopback IPv4 address. */
  instance_addr: string;
  /** 0: server.grpc_listen_port. */
  instance_port: number;
  /**
   * The member's zone, shown on the ring page. Tempo's key on the metrics-generator ring
   * (pkg/ring.Config `instance_zone`); Tempo's compactor and distributor rings have no zone key,
   * and Andante takes the same name there for consistency.
   */
  instance_zone: string;
}

/** Tempo's defaults for a basic ring; `heartbeatTimeout` is the component's (5m distributor, 1m compactor and generator). */
export function defaultBasicRingConfig(heartbeatTimeout: string): BasicRingConfig {
  return {
    kvstore: defaultKVStoreConfig(),
    heartbeat_period: '5s',
    heartbeat_timeout: heartbeatTimeout,
    instance_id: defaultInstanceId(),
    instance_addr: '',
    instance_port: 0,
    instance_zone: '',
  };
}

/** Keys of a basic ring block (relative to it) whose values are Go durations. */
export const BASIC_RING_DURATION_KEYS = ['heartbeat_period', 'heartbeat_timeout', 'kvstore.etcd.dial_timeout'] as const;

/** Checks a basic ring block; `path` names it in the error (e.g. compactor.ring). */
export function validateBasicRingConfig(ring: BasicRingConfig, path: string): void {
  validateKVStoreConfig(ring.kvstore, `${path}.kvstore`);
}

/** Tempo's `ingester.lifecycler.ring` block (dskit's ring.Config): how the ingester ring is read. */
export interface IngesterRingConfig {
  kvstore: KVStoreConfig;
  /** A member not heard from for this long is unhealthy (Tempo: 5m). */
  heartbeat_timeout: string;
  replication_factor: number;
  zone_awareness_enabled: boolean;
}

/** Tempo's `ingester.lifecycler` block (dskit's LifecyclerConfig): the ingester's member of its ring. */
export interface IngesterLifecyclerConfig {
  ring: IngesterRingConfig;
  num_tokens: number;
  heartbeat_period: string;
  /** Tempo's lifecycler heartbeat_timeout (1m); the ring's own (5m) decides health. */
  heartbeat_timeout: string;
  availability_zone: string;
  unregister_on_shutdown: boolean;
  /** What others dial; empty: this host's first non-loopback IPv4 address. */
  address: string;
  /** 0: server.grpc_listen_port. */
  port: number;
  /** Unique in the ring; the hostname by default, as in Tempo. */
  id: string;
}

export function defaultIngesterLifecyclerConfig(): IngesterLifecyclerConfig {
  return {
    ring: { kvstore: defaultKVStoreConfig(), heartbeat_timeout: '5m', replication_factor: 1, zone_awareness_enabled: false },
    num_tokens: 128,
    heartbeat_period: '5s',
    heartbeat_timeout: '1m',
    availability_zone: '',
    unregister_on_shutdown: true,
    address: '',
    port: 0,
    id: defaultInstanceId(),
  };
}

/** Keys of the `ingester.lifecycler` block (relative to it) whose values are Go durations. */
export const INGESTER_LIFECYCLER_DURATION_KEYS = ['heartbeat_period', 'heartbeat_timeout', 'ring.heartbeat_timeout', 'ring.kvstore.etcd.dial_timeout'] as const;

/** Checks an `ingester.lifecycler` block; `path` names it in the error (ingester.lifecycler). */
export function validateIngesterLifecyclerConfig(lc: IngesterLifecyclerConfig, path: string): void {
  validateKVStoreConfig(lc.ring.kvstore, `${path}.ring.kvstore`);
  if (!Number.isInteger(lc.num_tokens) || lc.num_tokens < 1) throw new Error(`${path}.num_tokens: expected a positive integer`);
  const rf = lc.ring.replication_factor;
  if (!Number.isInteger(rf) || rf < 1) throw new Error(`${path}.ring.replication_factor: expected a positive integer`);
}
