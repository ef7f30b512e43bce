// Operational endpoints: readiness, Grafana's echo and build info, Prometheus metrics, the
// effective config, the ingester ring, and the ingester's /flush and /shutdown.

import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { stringify as toYaml } from 'yaml';
import { RingSnapshot, type RingConfig, type RingStore } from '@andante/ring';
import type { AndanteConfig } from '../config.js';
import { redactSecrets } from '../redact.js';

export interface StatusRoutesOptions {
  prefix: string;
  version: string;
  registry: Registry;
  isReady: () => boolean;
  config: AndanteConfig;
  ringStore: RingStore;
  ringConfig: RingConfig;
  flush: () => Promise<void>;
  shutdown: () => void;
}

/**
 * Tempo version Andante answers as: Grafana's data source enables features by the reported
 * version, and Andante serves Tempo's 2.10 API. The build metadata says what is really running.
 */
const TEMPO_COMPAT_VERSION = '2.10.0';

export function registerStatusRoutes(app: FastifyInstance, o: StatusRoutesOptions): void {
  app.get('/ready', async (_req, reply) =>
    o.isReady() ? reply.type('text/plain').send('ready') : reply.code(503).type('text/plain').send('not ready'),
  );
  app.get(`${o.prefix}/api/echo`, async (_req, reply) => reply.type('text/plain').send('echo'));
  app.get(`${o.prefix}/api/status/buildinfo`, async () => ({
    version: `${TEMPO_COMPAT_VERSION}+andante.${o.version}`,
    revision: process.env['ANDANTE_REVISION'] ?? '',
    branch: '',
    buildDate: '',
    buildUser: '',
    goVersion: `node ${process.version}`,
  }));
  app.get('/metrics', async (_req, reply) => reply.type(o.registry.contentType).send(await o.registry.metrics()));
  app.get('/status/config', async (_req, reply) => reply.type('text/plain').send(toYaml(redactSecrets(o.config))));
  app.get('/ingester/ring', async (_req, reply) => {
    const instances = await o.ringStore.list();
    const ring = new RingSnapshot(instances, o.ringConfig);
    const shards = instances.map((i) => ({
      id: i.id,
      state: ring.isHealthy(i) || i.state !== 'ACTIVE' ? i.state : 'UNHEALTHY',
      address: i.address,
      timestamp: new Date(i.heartbeatMs).toISOString(),
      registered_timestamp: new Date(i.registeredMs).toISOString(),
      zone: i.zone,
      tokens: i.tokens,
    }));
    return reply.type('application/json').send({ shards, now: new Date().toISOString() });
  });
  const flush = async (_req: unknown, reply: { code: (n: number) => { send: () => unknown } }) => {
    await o.flush();
    return reply.code(204).send();
  };
  app.get('/flush', flush);
  app.post('/flush', flush);
  const shutdown = async (_req: unknown, reply: { code: (n: number) => { send: () => unknown } }) => {
    setImmediate(o.shutdown);
    return reply.code(204).send();
  };
  app.get('/shutdown', shutdown);
  app.post('/shutdown', shutdown);
}
