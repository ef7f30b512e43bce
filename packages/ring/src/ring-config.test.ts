import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { Secret } from '@andante/model';
import { defaultKVStoreConfig } from './create-ring-store.js';
import { defaultBasicRingConfig, defaultIngesterLifecyclerConfig, validateBasicRingConfig, validateIngesterLifecyclerConfig } from './ring-config.js';

describe('ring config blocks', () => {
  it("a kvstore block has Tempo's defaults (store inmemory: Andante has no memberlist) and an unset Secret password", () => {
    const kv = defaultKVStoreConfig();
    expect(kv).toMatchObject({ store: 'inmemory', prefix: 'collectors/', etcd: { endpoints: [], dial_timeout: '10s', max_retries: 10, tls_enabled: false, username: '' } });
    expect(kv.etcd.password).toBeInstanceOf(Secret);
    expect(kv.etcd.password.reveal()).toBe('');
  });

  it("a basic ring block has Tempo's defaults, with the component's heartbeat_timeout", () => {
    const r = defaultBasicRingConfig('5m');
    expect({ ...r, kvstore: undefined }).toEqual({
      kvstore: undefined,
      heartbeat_period: '5s',
      heartbeat_timeout: '5m',
      instance_id: hostname(),
      instance_addr: '',
      instance_port: 0,
      instance_zone: '',
    });
    expect(r.kvstore).toEqual(defaultKVStoreConfig());
    expect(defaultBasicRingConfig('1m').heartbeat_timeout).toBe('1m');
  });

  it("ingester.lifecycler has Tempo's defaults: 128 tokens, replication factor 1, heartbeats 5s, timeouts 1m (lifecycler) and 5m (ring)", () => {
    const lc = defaultIngesterLifecyclerConfig();
    expect({ ...lc, ring: { ...lc.ring, kvstore: undefined } }).toEqual({
      ring: { kvstore: undefined, heartbeat_timeout: '5m', replication_factor: 1, zone_awareness_enabled: false },
      num_tokens: 128,
      heartbeat_period: '5s',
      heartbeat_timeout: '1m',
      availability_zone: '',
      unregister_on_shutdown: true,
      address: '',
      port: 0,
      id: hostname(),
    });
    expect(lc.ring.kvstore).toEqual(defaultKVStoreConfig());
  });

  it('validation names the key', () => {
    const lc = defaultIngesterLifecyclerConfig();
    expect(() => validateIngesterLifecyclerConfig({ ...lc, num_tokens: 0 }, 'ingester.lifecycler')).toThrow('ingester.lifecycler.num_tokens: expected a positive integer');
    expect(() => validateIngesterLifecyclerConfig({ ...lc, ring: { ...lc.ring, replication_factor: 1.5 } }, 'ingester.lifecycler')).toThrow('ingester.lifecycler.ring.replication_factor: expected a positive integer');
    expect(() => validateIngesterLifecyclerConfig({ ...lc, ring: { ...lc.ring, kvstore: { ...lc.ring.kvstore, store: 'etcd' } } }, 'ingester.lifecycler')).toThrow(
      'ingester.lifecycler.ring.kvstore.etcd.endpoints: required when ingester.lifecycler.ring.kvstore.store is etcd',
    );
    const r = defaultBasicRingConfig('1m');
    expect(() => validateBasicRingConfig({ ...r, kvstore: { ...r.kvstore, store: 'consul' } }, 'compactor.ring')).toThrow('compactor.ring.kvstore.store: unsupported store "consul"; supported: inmemory, etcd');
    expect(() => validateBasicRingConfig(r, 'compactor.ring')).not.toThrow();
  });
});
