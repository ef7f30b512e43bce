// tempo_request_duration_seconds{method,route,status_code,ws}: Tempo's HTTP request histogram
// (weaveworks/dskit instrumentation), so Tempo's dashboards and the operational dashboard read
// query latency by route.

import type { FastifyInstance } from 'fastify';
import { Histogram, type Registry } from 'prom-client';

/** Tempo's route label: the route pattern lower-cased, every run of other characters one `_`. */
export function routeLabel(pattern: string | undefined): string {
  if (!pattern) return 'notfound';
  return pattern.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'root';
}

export type RequestDuration = Histogram<'method' | 'route' | 'status_code' | 'ws'>;

/** The one histogram HTTP and gRPC requests are observed in. */
export function createRequestDuration(registry: Registry): RequestDuration {
  return new Histogram({
    name: 'tempo_request_duration_seconds',
    help: 'Time (in seconds) spent serving HTTP requests.',
    labelNames: ['method', 'route', 'status_code', 'ws'],
    // Prometheus's default buckets, as Tempo's server uses.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
}

/**
 * A gRPC call as dskit's server instrumentation observes it: method `gRPC`, route the full method
 * name (`/tempopb.StreamingQuerier/Search`), status_code `success`, `cancel` or `error`.
 */
export function observeGrpc(duration: RequestDuration, path: string, code: number, seconds: number): void {
  const status = code === 0 ? 'success' : code === 1 ? 'cancel' : 'error';
  duration.observe({ method: 'gRPC', route: path, status_code: status, ws: 'false' }, seconds);
}

export function instrumentRequests(app: FastifyInstance, duration: RequestDuration): void {
  app.addHook('onResponse', async (req, reply) => {
    duration.observe(
      { method: req.method, route: routeLabel(req.is404 ? undefined : req.routeOptions.url), status_code: String(reply.statusCode), ws: 'false' },
      reply.elapsedTime / 1000,
    );
  });
}
