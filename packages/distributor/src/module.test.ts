import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultKVStoreConfig } from '@andante/ring';
import { defaultDistributorConfig, defaultDistributorRingConfig } from './module.js';

describe('distributor config', () => {
  it("distributor.ring has Tempo's defaults: heartbeat_period 5s, heartbeat_timeout 5m, the hostname as instance_id, no zone", () => {
    const ring = defaultDistributorRingConfig();
    expect(ring).toMatchObject({ heartbeat_period: '5s', heartbeat_timeout: '5m', instance_id: hostname(), instance_addr: '', instance_port: 0, instance_zone: '' });
    expect(ring.kvstore).toEqual(defaultKVStoreConfig());
    expect(defaultDistributorConfig().ring).toEqual(ring);
  });
});
