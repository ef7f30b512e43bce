// A query-frontend taken away under load (a rollout, a scale-down): its stop answers the queries it
// took, refuses new ones with 503 so they go to another frontend, and only then closes its queue.

import { afterEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { defaultTenantLimits, silentLogger, type MetricsEngine, type QuerierJobs, type SearchCompiler, type Trace } from '@andante/model';
import { defaultQueryFrontendConfig } from './config.js';
import { createQueryFrontend, type QueryFrontendService } from './module.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

/** A querier whose lookups answer (not found) only when released. */
function gatedQuerier(): { jobs: QuerierJobs; started: () => number; release: () => void } {
  let started = 0;
  const gates: (() => void)[] = [];
  const jobs = {
    parallelism: 1,
    findTraceById: (): Promise<Trace | null> => {
      started++;
      return new Promise((resolve) => gates.push(() => resolve(null)));
    },
  } as unknown as QuerierJobs;
  return { jobs, started: () => started, release: () => gates.splice(0).forEach((open) => open()) };
}

let http: FastifyInstance | undefined;
afterEach(async () => {
  await http?.close();
  http = undefined;
});

async function serve(querier: QuerierJobs, drainTimeoutMs: number): Promise<{ fe: QueryFrontendService; url: string }> {
  const fe = createQueryFrontend(defaultQueryFrontendConfig(), {
    blocklist: { list: () => [] } as never,
    querier,
    compile: (() => undefined) as unknown as SearchCompiler,
    metricsEngine: {} as MetricsEngine,
    limits: { forTenant: () => defaultTenantLimits() },
    registry: new Registry(),
    logger: silentLogger,
    multitenancyEnabled: false,
    prefix: '',
    streamOverHttp: false,
    drainTimeoutMs,
  });
  http = Fastify();
  fe.registerHttp!(http);
  http.get('/other', async () => 'still served');
  await http.listen({ host: '127.0.0.1', port: 0 });
  const addr = http.server.address();
  return { fe, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('query-frontend stop', () => {
  it('answers the queries it took, refuses new ones with 503 and Connection: close, then stops', async () => {
    const q = gatedQuerier();
    const { fe, url } = await serve(q.jobs, 10_000);
    const taken = fetch(`${url}/api/traces/${TRACE_ID}`);
    await until(() => q.started() === 1, 'the lookup reached the querier');

    let stopped = false;
    const stopping = fe.stop().then(() => (stopped = true));
    const refused = await fetch(`${url}/api/v2/traces/${TRACE_ID}`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('connection')).toBe('close');
    expect(await refused.text()).toBe('query-frontend stopping');
    expect(q.started()).toBe(1);
    // Routes that are not queries (status pages on the same port) are not the frontend's to refuse.
    expect((await fetch(`${url}/other`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);

    q.release();
    expect((await taken).status).toBe(404);
    await stopping;
    expect(stopped).toBe(true);
  });

  it('stops after drain timeout even when a query never ends', async () => {
    const q = gatedQuerier();
    const { fe, url } = await serve(q.jobs, 200);
    const taken = fetch(`${url}/api/traces/${TRACE_ID}`).catch(() => undefined);
    await until(() => q.started() === 1, 'the lookup reached the querier');
    const t0 = Date.now();
    await fe.stop();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    q.release();
    await taken;
  });

  it('stops at once with no query in flight', async () => {
    const { fe } = await serve(gatedQuerier().jobs, 10_000);
    const t0 = Date.now();
    await fe.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});
