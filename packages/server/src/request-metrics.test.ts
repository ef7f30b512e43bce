import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createRequestDuration, instrumentRequests, routeLabel } from './request-metrics.js';

describe('tempo_request_duration_seconds', () => {
  it.each([
    ['/api/traces/:traceId', 'api_traces_traceid'],
    ['/api/v2/search/tag/:tagName/values', 'api_v2_search_tag_tagname_values'],
    ['/ready', 'ready'],
    [undefined, 'notfound'],
  ])('labels route %s as %s', (pattern, label) => {
    expect(routeLabel(pattern)).toBe(label);
  });

  it('observes every response by method, route pattern and status code', async () => {
    const registry = new Registry();
    const app = Fastify();
    instrumentRequests(app, createRequestDuration(registry));
    app.get('/api/traces/:traceId', async (req, reply) => ((req.params as { traceId: string }).traceId === 'missing' ? reply.code(404).send('') : 'ok'));
    await app.inject({ method: 'GET', url: '/api/traces/abc' });
    await app.inject({ method: 'GET', url: '/api/traces/def' });
    await app.inject({ method: 'GET', url: '/api/traces/missing' });
    await app.inject({ method: 'GET', url: '/no/such/route' });
    const text = await registry.metrics();
    expect(text).toContain('tempo_request_duration_seconds_count{method="GET",route="api_traces_traceid",status_code="200",ws="false"} 2');
    expect(text).toContain('tempo_request_duration_seconds_count{method="GET",route="api_traces_traceid",status_code="404",ws="false"} 1');
    expect(text).toContain('tempo_request_duration_seconds_count{method="GET",route="notfound",status_code="404",ws="false"} 1');
    await app.close();
  });
});
