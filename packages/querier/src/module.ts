// The querier module: executes the query-frontend's jobs (QuerierJobs) with block jobs on worker
// threads and recent data from the ingesters it is given (in-process objects, or clients).

import type { Backend } from '@andante/backend';
import type { IngesterQuerier, Logger, QuerierJobs, SearchCompiler } from '@andante/model';
import type { Service } from '@andante/service';
import type { Blocklist } from './blocklist.js';
import { Querier } from './querier.js';
import { BlockSearchPool, type CompilerModule } from './search-pool.js';

/** Tempo's `querier:` block: no key of it changes Andante's behaviour yet (workers = cores). */
export type QuerierModuleConfig = Record<string, never>;

export function defaultQuerierModuleConfig(): QuerierModuleConfig {
  return {};
}

export interface QuerierModuleDeps {
  backend: Backend;
  blocklist: Blocklist;
  /** Every healthy ingester's query side (the ring's members, in-process or over gRPC). */
  ingesters: () => IngesterQuerier[];
  /** TraceQL for block jobs run inline; workers load `compilerModule` instead. */
  compile: SearchCompiler;
  compilerModule: () => CompilerModule;
  logger: Logger;
}

export interface QuerierService extends Service {
  /** What the query-frontend calls. */
  readonly jobs: QuerierJobs;
  /** Its block-job pool and blocks, for TraceQL metrics jobs (not in QuerierJobs yet). */
  readonly pool: BlockSearchPool;
  readonly querier: Querier;
}

export function createQuerier(_config: QuerierModuleConfig, deps: QuerierModuleDeps): QuerierService {
  // Workers compile queries with the same engine, found by module URL.
  const pool = new BlockSearchPool(deps.backend, deps.compilerModule);
  const querier = new Querier({ backend: deps.backend, blocklist: deps.blocklist, ingesters: deps.ingesters, logger: deps.logger, compile: deps.compile, pool });
  return {
    name: 'querier',
    jobs: querier,
    pool,
    querier,
    start: async () => undefined,
    stop: () => pool.close(),
    notReady: () => undefined,
  };
}
