import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { silentLogger } from '@andante/model';
import { casRing, createRingStore, defaultKVStoreConfig } from '@andante/ring';
import { defaultConfig, loadConfig, type AndanteConfig } from '../config.js';
import { registerRingPage } from './ring-page.js';
import { registerStatusRoutes } from './status.js';

const YAML_SECRET = 'yaml-secret-0f3c9a77d1';
const FLAG_SECRET = 'flag-token-5be21c40aa';

let dir: string;
let cfg: AndanteConfig;
let app: FastifyInstance;
const ringStore = createRingStore(defaultKVStoreConfig(), { key: 'ring', replicationFactor: 1, heartbeatTimeoutMs: 60_000 }, silentLogger);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'status-'));
  const file = join(dir, 'andante.yaml');
  await writeFile(
    file,
    ['server:', '  http_listen_port: 3300', 'storage:', '  trace:', '    s3:', '      bucket: traces', '      access_key: AKIDEXAMPLE', `      secret_key: ${YAML_SECRET}`, ''].join('\n'),
  );
  cfg = loadConfig([`-config.file=${file}`, `-storage.trace.s3.session_token=${FLAG_SECRET}`, '-ingester.max_block_bytes=1000']);
  app = Fastify({ logger: false });
  registerStatusRoutes(app, {
    prefix: '',
    version: '9.9.9',
    registry: new Registry(),
    notReady: () => [],
    config: cfg,
    shutdown: () => undefined,
  });
  // The ring module registers its page beside the status routes (app.ts).
  registerRingPage(app, { path: '/ingester/ring', title: 'Ingester ring', store: ringStore });
  app.get('/api/later', async () => 'registered after the status routes');
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

const get = async (url: string): Promise<{ status: number; body: string }> => {
  const res = await app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.body };
};
const yamlOf = (body: string): Record<string, unknown> => {
  expect(body.startsWith('---\n')).toBe(true);
  return parseYaml(body) as Record<string, unknown>;
};

describe('/status/config', () => {
  it('uses the secrets it was given (they are configured, not lost)', () => {
    expect(cfg.storage.trace.s3.secret_key.reveal()).toBe(YAML_SECRET);
    expect(cfg.storage.trace.s3.session_token.reveal()).toBe(FLAG_SECRET);
  });

  it.each(['/status/config', '/status/config?mode=diff', '/status/config?mode=defaults', '/status'])('%s never prints a secret', async (url) => {
    const { status, body } = await get(url);
    expect(status).toBe(200);
    expect(body).not.toContain(YAML_SECRET);
    expect(body).not.toContain(FLAG_SECRET);
  });

  it('prints the whole config with set secrets as ******** and the access key (an identifier) as is', async () => {
    const tree = yamlOf((await get('/status/config')).body) as { storage: { trace: { s3: Record<string, unknown> } }; server: { http_listen_port: number } };
    expect(tree.storage.trace.s3['secret_key']).toBe('********');
    expect(tree.storage.trace.s3['session_token']).toBe('********');
    expect(tree.storage.trace.s3['access_key']).toBe('AKIDEXAMPLE');
    expect(tree.server.http_listen_port).toBe(3300);
    expect(Object.keys(tree)).toEqual(Object.keys(defaultConfig()));
  });

  it('mode=diff holds exactly the keys that differ from the defaults', async () => {
    expect(yamlOf((await get('/status/config?mode=diff')).body)).toEqual({
      server: { http_listen_port: 3300 },
      ingester: { max_block_bytes: 1000 },
      storage: { trace: { s3: { bucket: 'traces', access_key: 'AKIDEXAMPLE', secret_key: '********', session_token: '********' } } },
    });
  });

  it('mode=defaults prints the defaults, unset secrets empty', async () => {
    const tree = yamlOf((await get('/status/config?mode=defaults')).body);
    expect(tree).toEqual(JSON.parse(JSON.stringify(defaultConfig())));
    expect((tree as { storage: { trace: { s3: { secret_key: string } } } }).storage.trace.s3.secret_key).toBe('');
    expect((tree as { ingester: { max_block_bytes: number } }).ingester.max_block_bytes).toBe(524_288_000);
  });

  it('an unknown mode is a 400 listing the valid modes', async () => {
    const { status, body } = await get('/status/config?mode=everything');
    expect(status).toBe(400);
    expect(body).toContain('unknown value for mode query parameter: everything');
    expect(body).toContain('diff, defaults');
  });
});

describe('/status pages', () => {
  it('/status/version names the Tempo API version Andante serves and the build', async () => {
    const { status, body } = await get('/status/version');
    expect(status).toBe(200);
    expect(body).toMatch(/^andante, version 2\.10\.0\+andante\.9\.9\.9 \(branch: , revision: .*\)\n/);
    expect(body).toContain(`node version:     ${process.version}`);
  });

  it('/status/endpoints lists every route, including ones registered later, without HEAD duplicates', async () => {
    const rows = (await get('/status/endpoints')).body.trim().split('\n').map((l) => l.split(/\s+/).join(' '));
    expect(rows).toContain('GET /api/later');
    expect(rows).toContain('GET /status/config');
    expect(rows).toContain('POST /shutdown');
    expect(rows.some((r) => r.startsWith('HEAD'))).toBe(false);
    const byPath = [...rows].sort((a, b) => a.split(' ')[1]!.localeCompare(b.split(' ')[1]!) || a.localeCompare(b));
    expect(rows).toEqual(byPath);
  });

  it('/status prints version, endpoints and config under their headings', async () => {
    const { body } = await get('/status');
    const headings = body.split('\n').filter((l) => l.startsWith('GET /status/'));
    expect(headings).toEqual(['GET /status/version', 'GET /status/endpoints', 'GET /status/config']);
    expect(body).toContain('secret_key: "********"');
  });
});

describe('/ingester/ring', () => {
  it('answers JSON shards for curl and an HTML table for a browser; a member past heartbeat_timeout is UNHEALTHY', async () => {
    const now = Date.now();
    await casRing(ringStore.kv, (desc) => {
      desc.members['ingester-a'] = { id: 'ingester-a', address: '10.0.0.1:9095', state: 'ACTIVE', tokens: [1, 2], registeredMs: now, zone: '' };
      desc.members['ingester-b'] = { id: 'ingester-b', address: '10.0.0.2:9095', state: 'ACTIVE', tokens: [3], registeredMs: now, zone: '' };
      return desc;
    });
    await ringStore.kv.heartbeat('ingester-a', now);
    await ringStore.kv.heartbeat('ingester-b', now - 120_000);
    await ringStore.refresh();
    const json = await app.inject({ method: 'GET', url: '/ingester/ring', headers: { accept: '*/*' } });
    expect(json.headers['content-type']).toMatch(/application\/json/);
    const shards = (JSON.parse(json.body) as { shards: { id: string; state: string; tokens: number[] }[] }).shards;
    expect(shards.map((s) => [s.id, s.state, s.tokens.length]).sort()).toEqual([
      ['ingester-a', 'ACTIVE', 2],
      ['ingester-b', 'UNHEALTHY', 1],
    ]);
    const html = await app.inject({ method: 'GET', url: '/ingester/ring', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.body).toMatch(/<td>ingester-b<\/td><td>UNHEALTHY<\/td>/);
  });
});
