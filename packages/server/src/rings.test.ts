import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@andante/model';
import { service } from '@andante/service';
import { Andante } from './app.js';
import { applyYaml, defaultConfig, validateConfig, type AndanteConfig } from './config.js';
import { createRing, ringModule, withMembership } from './rings.js';

const dir = mkdtempSync(join(tmpdir(), 'andante-rings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(name: string, target: string): AndanteConfig {
  const cfg = defaultConfig();
  cfg.target = target;
  cfg.server.http_listen_address = '127.0.0.1';
  cfg.server.http_listen_port = 0;
  cfg.server.log_level = 'error';
  cfg.distributor.receivers.otlp.protocols.grpc!.endpoint = '127.0.0.1:0';
  cfg.distributor.receivers.otlp.protocols.http!.endpoint = '127.0.0.1:0';
  cfg.storage.trace.local.path = join(dir, name, 'traces');
  cfg.storage.trace.wal.path = join(dir, name, 'wal');
  cfg.ingester.lifecycler.id = `${name}-ingester`;
  cfg.metrics_generator.ring.instance_id = `${name}-generator`;
  cfg.compactor.ring.instance_id = `${name}-compactor`;
  cfg.distributor.ring.instance_id = `${name}-distributor`;
  return cfg;
}

const shards = async (port: number, path: string): Promise<{ status: number; members: [string, string][] }> => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  if (res.status !== 200) return { status: res.status, members: [] };
  const body = (await res.json()) as { shards: { id: string; state: string }[] };
  return { status: 200, members: body.shards.map((s) => [s.id, s.state]) };
};

describe('rings as modules', () => {
  it('under -target=all every ring page is served and lists this process ACTIVE', async () => {
    const app = new Andante(config('all', 'all'));
    try {
      const { http } = await app.start();
      expect(await shards(http, '/ingester/ring')).toEqual({ status: 200, members: [['all-ingester', 'ACTIVE']] });
      expect(await shards(http, '/metrics-generator/ring')).toEqual({ status: 200, members: [['all-generator', 'ACTIVE']] });
      expect(await shards(http, '/compactor/ring')).toEqual({ status: 200, members: [['all-compactor', 'ACTIVE']] });
      expect(await shards(http, '/distributor/ring')).toEqual({ status: 200, members: [['all-distributor', 'ACTIVE']] });
    } finally {
      await app.stop();
    }
  });

  it('-target=compactor serves its ring only', async () => {
    const app = new Andante(config('compactor', 'compactor'));
    try {
      const { http } = await app.start();
      expect(await shards(http, '/compactor/ring')).toEqual({ status: 200, members: [['compactor-compactor', 'ACTIVE']] });
      expect((await shards(http, '/ingester/ring')).status).toBe(404);
    } finally {
      await app.stop();
    }
  });

  it("compactor.ring.instance_zone and distributor.ring.instance_zone (the generator ring's key) put the member in that zone: the ring page shows it in JSON and HTML", async () => {
    const cfg = config('zones', 'all');
    applyYaml(cfg, ['compactor:', '  ring:', '    instance_zone: zone-c', 'distributor:', '  ring:', '    instance_zone: zone-d', 'metrics_generator:', '  ring:', '    instance_zone: zone-g'].join('\n'));
    validateConfig(cfg);
    const app = new Andante(cfg);
    try {
      const { http } = await app.start();
      const zones = async (path: string): Promise<[string, string][]> => {
        const body = (await (await fetch(`http://127.0.0.1:${http}${path}`)).json()) as { shards: { id: string; zone: string }[] };
        return body.shards.map((s) => [s.id, s.zone]);
      };
      expect(await zones('/compactor/ring')).toEqual([['zones-compactor', 'zone-c']]);
      expect(await zones('/distributor/ring')).toEqual([['zones-distributor', 'zone-d']]);
      expect(await zones('/metrics-generator/ring')).toEqual([['zones-generator', 'zone-g']]);
      expect(await zones('/ingester/ring')).toEqual([['zones-ingester', '']]);
      for (const [path, id, zone] of [['/compactor/ring', 'zones-compactor', 'zone-c'], ['/distributor/ring', 'zones-distributor', 'zone-d']] as const) {
        const html = await (await fetch(`http://127.0.0.1:${http}${path}`, { headers: { accept: 'text/html' } })).text();
        expect(html).toContain(`<tr><td>${id}</td><td>ACTIVE</td>`);
        expect(html).toMatch(new RegExp(`<tr><td>${id}</td><td>ACTIVE</td><td>[^<]*</td><td>${zone}</td>`));
      }
    } finally {
      await app.stop();
    }
  });

  it('a member joins after its module started, is LEAVING while its module stops, leaves after; ready only while ACTIVE; the view outlives it', async () => {
    const cfg = config('member', 'all');
    const ring = createRing('ingester', cfg, silentLogger);
    const rm = ringModule('ring', 'ingester', ring);
    const seen: Record<string, string[]> = {};
    const members = (): string[] => ring.store.snapshot().instances.map((i) => `${i.id}:${i.state}`);
    const module = withMembership(
      service('ingester', {
        start: async () => {
          await ring.store.refresh();
          seen.start = members();
        },
        stop: async () => {
          await ring.store.refresh();
          seen.stop = members();
          seen.readyWhileStopping = [String(module.notReady())];
        },
      }),
      ring,
    );
    await rm.start();
    expect(module.notReady()).toBe('not ACTIVE in the ring (state not registered)');
    await module.start();
    // Readers see the member as soon as start returns (no polling delay).
    expect(members()).toEqual(['member-ingester:ACTIVE']);
    expect(module.notReady()).toBeUndefined();
    await module.stop();
    expect(module.notReady()).toBe('not ACTIVE in the ring (state not registered)');
    await ring.store.refresh();
    expect(members()).toEqual([]);
    await rm.stop();
    // Distributors stopped choosing it before the module stopped taking pushes and flushed.
    expect(seen).toEqual({ start: [], stop: ['member-ingester:LEAVING'], readyWhileStopping: ['not ACTIVE in the ring (state LEAVING)'] });
  });
});
