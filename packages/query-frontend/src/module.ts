// The query-frontend module: Tempo's HTTP query API and the StreamingQuerier gRPC service, each
// query split into jobs (search.ts, tags.ts), run by queriers through QuerierJobs, combined here.

import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { SINGLE_TENANT, resolveTenant, type BlockLister, type LimitsProvider, type Logger, type QuerierJobs, type SearchCompiler } from '@andante/model';
import type { Service, ServerStreamMethod } from '@andante/service';
import { searchLimitsOf, type QueryFrontendConfig } from './config.js';
import { createQueryCounter, type QueryOp } from './metrics.js';
import { registerSearchRoutes } from './routes/search.js';
import { STREAMING_QUERIER_SERVICE, streamingQuerierMethods } from './routes/streaming.js';
import { registerTagRoutes } from './routes/tags.js';
import { registerTraceRoutes } from './routes/traces.js';
import { SearchService } from './search.js';
import { TagsService } from './tags.js';

export interface QueryFrontendDeps {
  /** The blocks queries are split over (a blocklist poller). */
  blocklist: BlockLister;
  /** The queriers' job API: the in-process querier, or a client. */
  querier: QuerierJobs;
  compile: SearchCompiler;
  limits: LimitsProvider;
  registry: Registry;
  logger: Logger;
  multitenancyEnabled: boolean;
  /** http_api_prefix */
  prefix: string;
  /** Serve StreamingQuerier on the HTTP port (stream_over_http_enabled). */
  streamOverHttp: boolean;
}

export interface QueryFrontendService extends Service {
  readonly search: SearchService;
  readonly tags: TagsService;
}

/** Which operation a route of this module serves (Tempo's op label). */
function opOfRoute(url: string, prefix: string): QueryOp | undefined {
  const path = url.slice(prefix.length);
  if (path.startsWith('/api/traces/') || path.startsWith('/api/v2/traces/')) return 'traces';
  if (path === '/api/search') return 'search';
  if (path.startsWith('/api/search/tag') || path.startsWith('/api/v2/search/tag')) return 'metadata';
  // TraceQL metrics (/api/metrics/query_range) will count here as 'metrics'.
  if (path.startsWith('/api/metrics/')) return 'metrics';
  return undefined;
}

const GRPC_OPS: Record<string, QueryOp> = { Search: 'search', SearchTags: 'metadata', SearchTagsV2: 'metadata', SearchTagValues: 'metadata', SearchTagValuesV2: 'metadata' };

export function createQueryFrontend(config: QueryFrontendConfig, deps: QueryFrontendDeps): QueryFrontendService {
  const search = new SearchService({
    blocklist: deps.blocklist,
    querier: deps.querier,
    compile: deps.compile,
    limits: searchLimitsOf(config),
    logger: deps.logger,
  });
  const tags = new TagsService({ blocklist: deps.blocklist, querier: deps.querier, limits: deps.limits });
  const count = createQueryCounter(deps.registry);
  const tenantOf = (header: string | string[] | undefined): string => {
    if (!deps.multitenancyEnabled) return SINGLE_TENANT;
    try {
      return resolveTenant(header, true);
    } catch {
      return ''; // refused before any work: counted without a tenant
    }
  };

  // Each method counted with the HTTP status its gRPC outcome maps to.
  const counted = (op: QueryOp, method: ServerStreamMethod): ServerStreamMethod => async (call) => {
    const tenant = tenantOf(call.metadata['x-scope-orgid']);
    try {
      await method(call);
      count(tenant, op, 200);
    } catch (err) {
      count(tenant, op, (err as { httpStatus?: number }).httpStatus ?? 500);
      throw err;
    }
  };
  const methods = new Map(
    [...streamingQuerierMethods({ search, tags, multitenancyEnabled: deps.multitenancyEnabled })].map(([path, method]) => [
      path,
      counted(GRPC_OPS[path.slice(`/${STREAMING_QUERIER_SERVICE}/`.length)] ?? 'search', method),
    ]),
  );

  return {
    name: 'query-frontend',
    search,
    tags,
    start: async () => undefined,
    stop: async () => undefined,
    notReady: () => undefined,
    registerHttp(http: FastifyInstance): void {
      http.addHook('onResponse', async (req, reply) => {
        const op = req.is404 ? undefined : opOfRoute(req.routeOptions.url ?? '', deps.prefix);
        if (op) count(tenantOf(req.headers['x-scope-orgid']), op, reply.statusCode);
      });
      const common = { multitenancyEnabled: deps.multitenancyEnabled, prefix: deps.prefix };
      registerTraceRoutes(http, { querier: deps.querier, limits: deps.limits, ...common });
      registerSearchRoutes(http, { search, ...common });
      registerTagRoutes(http, { tags, ...common });
      // TraceQL metrics (/api/metrics/query_range) go here: a MetricsService beside SearchService that
      // splits a query into the same jobs (a `metricsRecent`/`metricsBlock` pair in QuerierJobs, run
      // by the engine in packages/traceql/src/metrics) and combines their series; the op label is ready.
    },
    ...(deps.streamOverHttp ? { grpc: { listener: 'http' as const, methods } } : {}),
  };
}
