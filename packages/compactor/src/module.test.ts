import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultKVStoreConfig } from '@andante/ring';
import { defaultCompactorModuleConfig, defaultCompactorRingConfig } from './module.js';

describe('compactor config', () => {
  it("compactor.ring has Tempo's defaults: heartbeat_period 5s, heartbeat_timeout 1m, the hostname as instance_id, no zone", () => {
    const ring = defaultCompactorRingConfig();
    expect(ring).toMatchObject({ heartbeat_period: '5s', heartbeat_timeout: '1m', instance_id: hostname(), instance_addr: '', instance_port: 0, instance_zone: '' });
    expect(ring.kvstore).toEqual(defaultKVStoreConfig());
    expect(defaultCompactorModuleConfig().ring).toEqual(ring);
  });
});
