// The ring factory the server calls: Tempo's `kvstore` block (store, prefix, etcd.*) in, a started-
// later RingClient out. One ring per component, each under its own key: `ring` for ingesters (as
// Tempo), `metrics-generator`, `compactor`, `distributor`.

import { hostname, networkInterfaces } from 'node:os';
import { Secret, parseDuration, type Logger } from '@andante/model';
import { EtcdRingKV } from './etcd-kv.js';
import { MemoryRingKV, type RingKV } from './kv.js';
import { RingClient } from './ring-client.js';
import type { RingConfig } from './ring.js';

export const KV_STORES = ['inmemory', 'etcd'] as const;

/** Tempo's `<component>.ring.kvstore` block (the consul, multi and memberlist stores are not offered); the etcd password is a Secret. */
export interface KVStoreConfig {
  store: string;
  prefix: string;
  etcd: {
    endpoints: string[];
    dial_timeout: string;
    max_retries: number;
    tls_enabled: boolean;
    tls_cert_path: string;
    tls_key_path: string;
    tls_ca_path: string;
    username: string;
    password: Secret;
  };
}

/** Tempo's defaults, except `store`: Tempo defaults to memberlist, which Andante does not offer. */
export function defaultKVStoreConfig(): KVStoreConfig {
  return {
    store: 'inmemory',
    prefix: 'collectors/',
    etcd: {
      endpoints: [],
      dial_timeout: '10s',
      max_retries: 10,
      tls_enabled: false,
      tls_cert_path: '',
      tls_key_path: '',
      tls_ca_path: '',
      username: '',
      password: new Secret(),
    },
  };
}

/** Checks a kvstore block; `path` names it in the error (e.g. ingester.lifecycler.ring.kvstore). */
export function validateKVStoreConfig(kv: KVStoreConfig, path: string): void {
  if (!(KV_STORES as readonly string[]).includes(kv.store)) {
    throw new Error(`${path}.store: unsupported store ${JSON.stringify(kv.store)}; supported: ${KV_STORES.join(', ')}`);
  }
  if (kv.store === 'etcd' && kv.etcd.endpoints.length === 0) {
    throw new Error(`${path}.etcd.endpoints: required when ${path}.store is etcd (e.g. [etcd:2379])`);
  }
  if (!Number.isInteger(kv.etcd.max_retries) || kv.etcd.max_retries < 0) throw new Error(`${path}.etcd.max_retries: expected a non-negative integer`);
}

export interface RingStoreOptions extends RingConfig {
  /** The ring's key under the prefix: `ring`, `metrics-generator`, `compactor`, `distributor`. */
  key: string;
}

/** Builds the KV store named by `kv.store` and a ring view over it; call start() on the result. */
export function createRingStore(kv: KVStoreConfig, opts: RingStoreOptions, logger: Logger): RingClient {
  const log = logger.child({ ring: opts.key, kvstore: kv.store });
  let store: RingKV;
  if (kv.store === 'etcd') {
    const e = kv.etcd;
    store = new EtcdRingKV(
      {
        endpoints: e.endpoints,
        dialTimeoutMs: parseDuration(e.dial_timeout),
        maxRetries: e.max_retries,
        tlsEnabled: e.tls_enabled,
        tlsCertPath: e.tls_cert_path,
        tlsKeyPath: e.tls_key_path,
        tlsCaPath: e.tls_ca_path,
        username: e.username,
        password: e.password,
      },
      kv.prefix + opts.key,
      opts.heartbeatTimeoutMs,
      log,
    );
  } else if (kv.store === 'inmemory') {
    store = new MemoryRingKV(opts.heartbeatTimeoutMs);
  } else {
    throw new Error(`kvstore.store: unsupported store ${JSON.stringify(kv.store)}; supported: ${KV_STORES.join(', ')}`);
  }
  const { key: _key, ...ring } = opts;
  return new RingClient(store, ring, log);
}

/** Tempo's default instance ID: this host's name. */
export const defaultInstanceId = (): string => hostname();

/**
 * The address other components dial: `addr` if configured, else this host's first non-internal
 * IPv4 address (Tempo looks at instance_interface_names), with `port` or the gRPC port.
 */
export function instanceAddress(addr: string, port: number, grpcPort: number): string {
  let host = addr;
  if (!host) {
    const all = Object.values(networkInterfaces()).flat();
    host = all.find((i) => i && i.family === 'IPv4' && !i.internal)?.address ?? '127.0.0.1';
  }
  return `${host}:${port || grpcPort}`;
}
