// The query-frontend module: Tempo's HTTP query API and the StreamingQuerier gRPC service, each
// query split into jobs (search.ts, tags.ts), run by queriers through QuerierJobs, combined here.

import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { FRONTEND_PROCESS_METHOD, SINGLE_TENANT, UnavailableError, parseDuration, resolveTenant, type BlockLister, type LimitsProvider, type Logger, type MetricsEngine, type QuerierJobs, type SearchCompiler } from '@andante/model';
import type { GrpcServing, Service, ServerStreamMethod } from '@andante/service';
import { FrontendQueue } from './queue/frontend-queue.js';
import { searchLimitsOf, type QueryFrontendConfig } from './config.js';
import { createQueryCounter, type QueryOp } from './metrics.js';
import { MetricsFrontend } from './metrics-frontend.js';
import { metricsStreamingMethods, registerMetricsRoutes } from './routes/metrics.js';
import { registerSearchRoutes } from './routes/search.js';
import { STREAMING_QUERIER_SERVICE, streamingQuerierMethods } from './routes/streaming.js';
import { registerTagRoutes } from './routes/tags.js';
import { registerTraceRoutes } from './routes/traces.js';
import { SearchService } from './search.js';
import { TagsService } from './tags.js';

export interface QueryFrontendDeps {
  /** The blocks queries are split over (a blocklist poller). */
  blocklist: BlockLister;
  /**
   * The in-process querier's job API. Absent: queriers in other processes pull jobs from this
   * frontend's per-tenant fair queue over `/andante.Frontend/Process` (internal gRPC).
   */
  querier?: QuerierJobs;
  /** Largest job message sent to a querier (server.grpc_server_max_send_msg_size). */
  maxSendMessageBytes?: number;
  compile: SearchCompiler;
  /** TraceQL metrics: checks, aligns and combines (block and recent jobs run on queriers). */
  metricsEngine: MetricsEngine;
  limits: LimitsProvider;
  registry: Registry;
  logger: Logger;
  multitenancyEnabled: boolean;
  /** http_api_prefix */
  prefix: string;
  /** Serve StreamingQuerier on the HTTP port (stream_over_http_enabled). */
  streamOverHttp: boolean;
  /** How long a stop waits for the queries in flight to be answered (server.graceful_shutdown_timeout). */
  drainTimeoutMs?: number;
}

export interface QueryFrontendService extends Service {
  readonly search: SearchService;
  readonly tags: TagsService;
  readonly metrics: MetricsFrontend;
  /** The job queue remote queriers pull from (absent with an in-process querier). */
  readonly queue: FrontendQueue | undefined;
}

/** Which operation a route of this module serves (Tempo's op label). */
function opOfRoute(url: string, prefix: string): QueryOp | undefined {
  const path = url.slice(prefix.length);
  if (path.startsWith('/api/traces/') || path.startsWith('/api/v2/traces/')) return 'traces';
  if (path === '/api/search') return 'search';
  if (path.startsWith('/api/search/tag') || path.startsWith('/api/v2/search/tag')) return 'metadata';
  if (path.startsWith('/api/metrics/')) return 'metrics';
  return undefined;
}

/**
 * The queries a frontend is answering. On stop it refuses new ones (503 / UNAVAILABLE, so the caller
 * or its load balancer tries another frontend) and waits for these before closing its job queue:
 * a frontend taken away under load (a rollout, a scale-down) fails none of the queries it took.
 */
class InFlightQueries {
  private count = 0;
  private draining = false;
  private idle: (() => void)[] = [];

  get refusing(): boolean {
    return this.draining;
  }

  begin(): () => void {
    this.count++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.count === 0) for (const wake of this.idle.splice(0)) wake();
    };
  }

  /** Refuses new queries; resolves when those in flight ended, or after timeoutMs (false then). */
  async drain(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    if (this.count === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      new Promise<true>((resolve) => this.idle.push(() => resolve(true))),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return ended;
  }

  get inFlight(): number {
    return this.count;
  }
}

const GRPC_OPS: Record<string, QueryOp> = { MetricsQueryRange: 'metrics', MetricsQueryInstant: 'metrics', Search: 'search', SearchTags: 'metadata', SearchTagsV2: 'metadata', SearchTagValues: 'metadata', SearchTagValuesV2: 'metadata' };

export function createQueryFrontend(config: QueryFrontendConfig, deps: QueryFrontendDeps): QueryFrontendService {
  const queue = deps.querier
    ? undefined
    : new FrontendQueue({
        maxOutstandingPerTenant: config.max_outstanding_per_tenant,
        maxSendMessageBytes: deps.maxSendMessageBytes ?? 16 * 1024 * 1024,
        registry: deps.registry,
        logger: deps.logger,
      });
  const querier = deps.querier ?? queue!.jobs;
  const search = new SearchService({
    blocklist: deps.blocklist,
    querier,
    compile: deps.compile,
    limits: searchLimitsOf(config),
    logger: deps.logger,
  });
  const tags = new TagsService({ blocklist: deps.blocklist, querier, limits: deps.limits });
  const mfe = config.metrics;
  const metrics = new MetricsFrontend({
    blocklist: deps.blocklist,
    querier,
    engine: deps.metricsEngine,
    limits: {
      maxDurationSeconds: parseDuration(mfe.max_duration) / 1000,
      maxExemplars: mfe.max_exemplars,
      maxIntervals: mfe.max_intervals,
      maxResponseSeries: mfe.max_response_series,
      concurrentJobs: mfe.concurrent_jobs,
      queryBackendAfterNs: BigInt(parseDuration(mfe.query_backend_after)) * 1_000_000n,
    },
    logger: deps.logger,
  });
  const count = createQueryCounter(deps.registry);
  const tenantOf = (header: string | string[] | undefined): string => {
    if (!deps.multitenancyEnabled) return SINGLE_TENANT;
    try {
      return resolveTenant(header, true);
    } catch {
      return ''; // refused before any work: counted without a tenant
    }
  };

  const inFlight = new InFlightQueries();
  // Each method counted with the HTTP status its gRPC outcome maps to.
  const counted = (op: QueryOp, method: ServerStreamMethod): ServerStreamMethod => async (call) => {
    const tenant = tenantOf(call.metadata['x-scope-orgid']);
    if (inFlight.refusing) {
      count(tenant, op, 503);
      throw new UnavailableError('query-frontend stopping');
    }
    const end = inFlight.begin();
    try {
      await method(call);
      count(tenant, op, 200);
    } catch (err) {
      count(tenant, op, (err as { httpStatus?: number }).httpStatus ?? 500);
      throw err;
    } finally {
      end();
    }
  };
  const methods = new Map(
    [...streamingQuerierMethods({ search, tags, multitenancyEnabled: deps.multitenancyEnabled }), ...metricsStreamingMethods({ metrics, multitenancyEnabled: deps.multitenancyEnabled })].map(([path, method]) => [
      path,
      counted(GRPC_OPS[path.slice(`/${STREAMING_QUERIER_SERVICE}/`.length)] ?? 'search', method),
    ]),
  );

  const grpc: GrpcServing[] = [];
  if (deps.streamOverHttp) grpc.push({ listener: 'http', methods });
  if (queue) grpc.push({ listener: 'internal', methods: new Map(), bidi: new Map([[FRONTEND_PROCESS_METHOD, (call) => queue.process(call)]]) });

  return {
    name: 'query-frontend',
    search,
    tags,
    metrics,
    queue,
    start: async () => undefined,
    async stop() {
      const drainMs = deps.drainTimeoutMs ?? 30_000;
      if (!(await inFlight.drain(drainMs))) deps.logger.warn('query-frontend stopping with queries unanswered', { queries: inFlight.inFlight, waitedMs: drainMs });
      queue?.close();
    },
    // Tempo's: a frontend whose queue no querier takes from cannot answer.
    notReady: () => (queue && queue.connectedClients === 0 ? 'number of queriers connected to query-frontend is 0' : undefined),
    registerHttp(http: FastifyInstance): void {
      http.addHook('onRequest', async (req, reply) => {
        if (!opOfRoute(req.routeOptions.url ?? '', deps.prefix)) return;
        if (inFlight.refusing) {
          // Connection: close, so a pooled connection does not bring the next query here again.
          return reply.code(503).header('connection', 'close').send('query-frontend stopping');
        }
        const end = inFlight.begin();
        // 'close' comes after the response was sent, or when the caller went away first.
        reply.raw.once('close', end);
      });
      http.addHook('onResponse', async (req, reply) => {
        const op = req.is404 ? undefined : opOfRoute(req.routeOptions.url ?? '', deps.prefix);
        if (op) count(tenantOf(req.headers['x-scope-orgid']), op, reply.statusCode);
      });
      const common = { multitenancyEnabled: deps.multitenancyEnabled, prefix: deps.prefix };
      registerTraceRoutes(http, { querier, limits: deps.limits, ...common });
      registerSearchRoutes(http, { search, ...common });
      registerTagRoutes(http, { tags, ...common });
      registerMetricsRoutes(http, { metrics, ...common });
    },
    ...(grpc.length > 0 ? { grpc } : {}),
  };
}
