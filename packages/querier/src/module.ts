// The querier module: executes the query-frontend's jobs (QuerierJobs) with block jobs on worker
// threads and recent data from the ingesters it is given (in-process objects, or clients).

import type { Backend } from '@andante/backend';
import { hostname } from 'node:os';
import { parseDuration, type IngesterQuerier, type Logger, type MetricsEngine, type QuerierJobs, type SearchCompiler } from '@andante/model';
import type { Service } from '@andante/service';
import type { Registry } from 'prom-client';
import type { Blocklist } from './blocklist.js';
import { Querier } from './querier.js';
import { BlockSearchPool, type CompilerModule } from './search-pool.js';
import { FrontendWorker, parseFrontendAddresses } from './frontend-worker.js';

/** Tempo's `querier:` block (the keys Andante reads), Tempo's defaults. */
export interface QuerierModuleConfig {
  /** Jobs this querier runs at once, across every frontend it pulls from. */
  max_concurrent_queries: number;
  frontend_worker: {
    /** host:port of the query-frontends' internal gRPC (a name resolving to every frontend), or a comma-separated list of them. '' = none. */
    frontend_address: string;
    /** How often frontend_address is resolved again. */
    dns_lookup_duration: string;
    /** Jobs per frontend when match_max_concurrent is false. */
    parallelism: number;
    /** Split max_concurrent_queries over the frontends (Tempo: true). */
    match_max_concurrent: boolean;
    /** Sent to frontends to name this querier (Tempo: the hostname). */
    id: string;
  };
  /** Deadline of the querier's search, tags and metrics calls to ingesters in other processes (Tempo: 30s). */
  search: { query_timeout: string };
  /** Deadline of its trace-by-ID calls to ingesters in other processes (Tempo: 10s). */
  trace_by_id: { query_timeout: string };
  /** Trace by ID asks only the trace's replicas instead of every ingester (Tempo: false). */
  query_relevant_ingesters: boolean;
}

export function defaultQuerierModuleConfig(): QuerierModuleConfig {
  return {
    max_concurrent_queries: 20,
    frontend_worker: { frontend_address: '', dns_lookup_duration: '10s', parallelism: 2, match_max_concurrent: true, id: hostname() },
    search: { query_timeout: '30s' },
    trace_by_id: { query_timeout: '10s' },
    query_relevant_ingesters: false,
  };
}

/** Keys of the `querier` block (relative to it) whose values are Go durations (checked when the config loads). */
export const QUERIER_DURATION_KEYS = ['frontend_worker.dns_lookup_duration', 'search.query_timeout', 'trace_by_id.query_timeout'] as const;

/** Checks the values of a `querier` block; `path` names it in the error (querier). */
export function validateQuerierModuleConfig(config: QuerierModuleConfig, path: string): void {
  const positive = (key: string, n: number): void => {
    if (!Number.isInteger(n) || n < 1) throw new Error(`${path}.${key}: expected a positive integer, got ${n}`);
  };
  positive('max_concurrent_queries', config.max_concurrent_queries);
  positive('frontend_worker.parallelism', config.frontend_worker.parallelism);
}

export interface QuerierModuleDeps {
  backend: Backend;
  blocklist: Blocklist;
  /** Every healthy ingester's query side (the ring's members, in-process or over gRPC). */
  ingesters: () => IngesterQuerier[];
  /** TraceQL for block jobs run inline; workers load `compilerModule` instead. */
  compile: SearchCompiler;
  compilerModule: () => CompilerModule;
  /** TraceQL metrics for block jobs run inline. */
  metricsEngine?: MetricsEngine;
  logger: Logger;
  /** Where the frontend worker's self-metrics go. */
  registry?: Registry;
  /**
   * Pull jobs from query-frontends in other processes (frontend_worker.frontend_address), with
   * these message bounds. Absent: the frontend runs in this process and calls `jobs` directly.
   */
  pullFromFrontends?: { maxRecvMessageBytes: number; maxSendMessageBytes: number };
}

export interface QuerierService extends Service {
  /** What the query-frontend calls. */
  readonly jobs: QuerierJobs;
  /** Its block-job pool and blocks, for TraceQL metrics jobs (not in QuerierJobs yet). */
  readonly pool: BlockSearchPool;
  readonly querier: Querier;
  /** The stream to each frontend, when jobs are pulled from frontends elsewhere. */
  readonly worker: FrontendWorker | undefined;
}

export function createQuerier(config: QuerierModuleConfig, deps: QuerierModuleDeps): QuerierService {
  // Workers compile queries with the same engine, found by module URL.
  const pool = new BlockSearchPool(deps.backend, deps.compilerModule);
  const querier = new Querier({
    backend: deps.backend,
    blocklist: deps.blocklist,
    ingesters: deps.ingesters,
    logger: deps.logger,
    compile: deps.compile,
    pool,
    ...(deps.metricsEngine ? { metricsEngine: deps.metricsEngine } : {}),
  });
  const fw = config.frontend_worker;
  const pull = deps.pullFromFrontends;
  if (pull && fw.frontend_address === '') {
    throw new Error('querier: no query-frontend in this process and querier.frontend_worker.frontend_address is empty; set it to the frontends\' internal gRPC host:port');
  }
  // A malformed address fails the start, not each later resolve.
  if (pull) parseFrontendAddresses(fw.frontend_address);
  const worker = pull
    ? new FrontendWorker(
        {
          frontendAddress: fw.frontend_address,
          dnsLookupMs: parseDuration(fw.dns_lookup_duration),
          maxConcurrentQueries: config.max_concurrent_queries,
          parallelism: fw.parallelism,
          matchMaxConcurrent: fw.match_max_concurrent,
          querierId: fw.id,
          ...pull,
        },
        querier,
        deps.logger.child({ component: 'frontend-worker' }),
        deps.registry,
      )
    : undefined;
  return {
    name: 'querier',
    jobs: querier,
    pool,
    querier,
    worker,
    start: async () => worker?.start(),
    stop: async () => {
      // Answer the jobs running now before the pool closes (a rollout loses no work, and spends no retry).
      await worker?.stop(30_000);
      await pool.close();
    },
    notReady: () => undefined,
  };
}
