// Operational endpoints: readiness (per module), Grafana's echo and build info, Prometheus
// metrics, Tempo's /status pages (version, endpoints, the config with secrets masked) and
// /shutdown. (/flush is the ingester module's; each ring's page is its ring module's.)

import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { stringify as toYaml } from 'yaml';
import { configTree, defaultConfig, diffConfig, type AndanteConfig } from '../config.js';

export interface StatusRoutesOptions {
  prefix: string;
  version: string;
  registry: Registry;
  /** Why the process is not ready, one line per module that is not (empty when ready). */
  notReady: () => string[];
  config: AndanteConfig;
  shutdown: () => void;
}

/**
 * Tempo version Andante answers as: Grafana's data source enables features by the reported
 * version, and Andante serves Tempo's 2.10 API. The build metadata says what is really running.
 */
const TEMPO_COMPAT_VERSION = '2.10.0';

/** `/status/config?mode=`: Tempo's modes; no mode prints the whole config. */
const CONFIG_MODES = ['diff', 'defaults'] as const;

class UnknownModeError extends Error {}

/** The config page, secrets masked (Secret.toJSON): whole, only what differs from the defaults, or the defaults. */
function statusConfig(cfg: AndanteConfig, mode: string | undefined): string {
  let tree: unknown;
  if (mode === undefined || mode === '') tree = configTree(cfg);
  else if (mode === 'diff') tree = diffConfig(configTree(defaultConfig()), configTree(cfg));
  else if (mode === 'defaults') tree = configTree(defaultConfig());
  else throw new UnknownModeError(`unknown value for mode query parameter: ${mode}; valid modes: ${CONFIG_MODES.join(', ')} (or none for the whole config)`);
  return `---\n${toYaml(tree)}`;
}

export function registerStatusRoutes(app: FastifyInstance, o: StatusRoutesOptions): void {
  // Every route registered from here on (status routes are registered first), for /status/endpoints.
  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url });
  });
  const version = `${TEMPO_COMPAT_VERSION}+andante.${o.version}`;
  // prometheus/common/version.Print's layout, as Tempo's /status/version prints it.
  const statusVersion = (): string =>
    [
      `andante, version ${version} (branch: , revision: ${process.env['ANDANTE_REVISION'] ?? ''})`,
      `  build user:       `,
      `  build date:       `,
      `  node version:     ${process.version}`,
      `  platform:         ${process.platform}/${process.arch}`,
      '',
    ].join('\n');
  const statusEndpoints = (): string => {
    const sorted = [...routes].sort((a, b) => (a.url === b.url ? a.method.localeCompare(b.method) : a.url.localeCompare(b.url)));
    const width = Math.max(...sorted.map((r) => r.method.length));
    return sorted.map((r) => `${r.method.padEnd(width)} ${r.url}`).join('\n') + '\n';
  };
  app.get('/ready', async (_req, reply) => {
    const reasons = o.notReady();
    return reasons.length === 0 ? reply.type('text/plain').send('ready') : reply.code(503).type('text/plain').send(`${reasons.join('\n')}\n`);
  });
  app.get(`${o.prefix}/api/echo`, async (_req, reply) => reply.type('text/plain').send('echo'));
  app.get(`${o.prefix}/api/status/buildinfo`, async () => ({
    version,
    revision: process.env['ANDANTE_REVISION'] ?? '',
    branch: '',
    buildDate: '',
    buildUser: '',
    goVersion: `node ${process.version}`,
  }));
  app.get('/metrics', async (_req, reply) => reply.type(o.registry.contentType).send(await o.registry.metrics()));
  app.get<{ Querystring: { mode?: string } }>('/status/config', async (req, reply) => {
    try {
      return reply.type('text/plain').send(statusConfig(o.config, req.query.mode));
    } catch (err) {
      // Tempo answers 500 here; an unknown mode is the caller's mistake.
      if (err instanceof UnknownModeError) return reply.code(400).type('text/plain').send(err.message);
      throw err;
    }
  });
  app.get('/status/version', async (_req, reply) => reply.type('text/plain').send(statusVersion()));
  app.get('/status/endpoints', async (_req, reply) => reply.type('text/plain').send(statusEndpoints()));
  // Tempo's /status prints every page under its "GET /status/<page>" heading.
  app.get('/status', async (_req, reply) =>
    reply
      .type('text/plain')
      .send(`GET /status/version\n${statusVersion()}GET /status/endpoints\n${statusEndpoints()}GET /status/config\n${statusConfig(o.config, undefined)}`),
  );
  const shutdown = async (_req: unknown, reply: { code: (n: number) => { send: () => unknown } }) => {
    setImmediate(o.shutdown);
    return reply.code(204).send();
  };
  app.get('/shutdown', shutdown);
  app.post('/shutdown', shutdown);
}
