// The ingester module: Tempo's `ingester:` keys (the `lifecycler` block is @andante/ring's
// IngesterLifecyclerConfig, where the lifecycler lives), and the factory the module table calls.

import { resolve } from 'node:path';
import type { Registry } from 'prom-client';
import type { Backend } from '@andante/backend';
import { UnavailableError, parseDuration, type LimitsProvider, type Logger, type MetricsEngine, type SearchCompiler } from '@andante/model';
import type { Service } from '@andante/service';
import {
  FIND_TRACE_BY_ID_METHOD,
  METRICS_QUERY_RANGE_METHOD,
  PUSH_METHOD,
  SEARCH_RECENT_METHOD,
  SEARCH_TAGS_METHOD,
  SEARCH_TAG_VALUES_METHOD,
  decodeFindTraceByIdRequest,
  decodeMetricsRequest,
  decodePushRequest,
  decodeSearchRecentRequest,
  decodeSearchTagValuesRecentRequest,
  decodeSearchTagsRecentRequest,
  encodeFindTraceByIdResponse,
  encodeMetricsPartial,
  encodePushResponse,
  encodeSearchRecentResponse,
  encodeSearchTagValuesRecentResponse,
  encodeSearchTagsRecentResponse,
} from '@andante/ingester-client';
import type { UnaryMethod } from '@andante/service';
import type { BlockConfig, BlockEncoderPool, BlockMeta } from '@andante/storage';
import { defaultIngesterConfig } from './config.js';
import { Ingester } from './ingester.js';

/** Tempo's `ingester:` block as Andante reads it (durations as Go strings). */
export interface IngesterModuleConfig {
  trace_idle_period: string;
  max_block_duration: string;
  max_block_bytes: number;
  max_unflushed_bytes: number;
  flush_check_period: string;
  complete_block_timeout: string;
  concurrent_flushes: number;
  flush_all_on_shutdown: boolean;
}

export function defaultIngesterModuleConfig(): IngesterModuleConfig {
  const d = defaultIngesterConfig();
  return {
    trace_idle_period: '5s',
    max_block_duration: '30m',
    max_block_bytes: d.maxBlockBytes,
    max_unflushed_bytes: d.maxUnflushedBytes,
    flush_check_period: '10s',
    // Tempo: 15m. At replication factor > 1 the ingesters answer TraceQL metrics for the last
    // query_frontend.metrics.query_backend_after (35m) from memory and the blocks they flushed, so
    // they must name those blocks at least that long (docs/design.md "TraceQL metrics").
    complete_block_timeout: '40m',
    concurrent_flushes: d.concurrentFlushes,
    flush_all_on_shutdown: d.flushAllOnShutdown,
  };
}

/** Durations in the config that must parse (checked when the config loads). */
export const INGESTER_DURATION_KEYS = ['trace_idle_period', 'max_block_duration', 'flush_check_period', 'complete_block_timeout'] as const;

export interface IngesterModuleDeps {
  backend: Backend;
  /** storage.trace.wal.path */
  walPath: string;
  blockConfig?: Partial<BlockConfig>;
  /** Shared with the compactor in one process. */
  encoder?: BlockEncoderPool;
  limits: LimitsProvider;
  registry: Registry;
  logger: Logger;
  compileSearch: SearchCompiler;
  /** TraceQL metrics over recent data (injected so the ingester does not own the language). */
  metricsEngine?: MetricsEngine;
  /** An in-process blocklist learns of each flushed block at once. */
  onBlockFlushed?: (meta: BlockMeta) => void;
  /** ingester.lifecycler.ring.replication_factor: recorded in every block's meta (default 1). */
  replicationFactor?: number;
}

export interface IngesterService extends Service {
  /** Its push and query sides (IngesterPusher & IngesterQuerier), for in-process callers. */
  readonly ingester: Ingester;
}

/** A query method: decode, run with the call's signal, encode; a scan stopped by the caller is not an internal error. */
function query<Req, Res>(
  decode: (b: Uint8Array) => { tenantId: string; req: Req },
  run: (tenantId: string, req: Req, signal: AbortSignal) => Promise<Res>,
  encode: (res: Res) => Uint8Array,
): UnaryMethod {
  return async ({ request, signal }) => {
    const { tenantId, req } = decode(request);
    try {
      return encode(await run(tenantId, req, signal));
    } catch (err) {
      if (signal.aborted) throw new UnavailableError('query stopped: the caller cancelled it or its deadline passed');
      throw err;
    }
  };
}

export function createIngester(config: IngesterModuleConfig, deps: IngesterModuleDeps): IngesterService {
  const ingester = new Ingester({
    cfg: {
      traceIdlePeriodMs: parseDuration(config.trace_idle_period),
      maxBlockDurationMs: parseDuration(config.max_block_duration),
      maxBlockBytes: config.max_block_bytes,
      maxUnflushedBytes: config.max_unflushed_bytes,
      flushCheckPeriodMs: parseDuration(config.flush_check_period),
      completeBlockTimeoutMs: parseDuration(config.complete_block_timeout),
      concurrentFlushes: config.concurrent_flushes,
      flushAllOnShutdown: config.flush_all_on_shutdown,
      flushRetryMs: defaultIngesterConfig().flushRetryMs,
    },
    ...(deps.blockConfig ? { blockConfig: deps.blockConfig } : {}),
    ...(deps.encoder ? { encoder: deps.encoder } : {}),
    walPath: resolve(deps.walPath),
    backend: deps.backend,
    limits: deps.limits,
    registry: deps.registry,
    logger: deps.logger,
    compileSearch: deps.compileSearch,
    ...(deps.metricsEngine ? { metricsEngine: deps.metricsEngine } : {}),
    ...(deps.onBlockFlushed ? { onBlockFlushed: deps.onBlockFlushed } : {}),
    ...(deps.replicationFactor !== undefined ? { replicationFactor: deps.replicationFactor } : {}),
  });
  let started = false;
  return {
    name: 'ingester',
    ingester,
    start: async () => {
      await ingester.start();
      started = true;
    },
    stop: () => ingester.stop(),
    notReady: () => (started ? undefined : 'replaying the WAL'),
    // Distributors in other processes push here (internal gRPC); a malformed request is refused
    // with INVALID_ARGUMENT by the decoder before anything reaches the ingester.
    grpc: {
      listener: 'internal',
      methods: new Map(),
      unary: new Map([
        [
          PUSH_METHOD,
          async ({ request }) => {
            if (!started) throw new UnavailableError('ingester is starting (replaying the WAL)');
            return encodePushResponse(await ingester.push(decodePushRequest(request)));
          },
        ],
        [
          FIND_TRACE_BY_ID_METHOD,
          async ({ request }) => {
            const { tenantId, traceId } = decodeFindTraceByIdRequest(request);
            return encodeFindTraceByIdResponse(await ingester.findTraceById(tenantId, traceId));
          },
        ],
        // Queriers in other processes: the request is decoded (INVALID_ARGUMENT when malformed)
        // before the ingester sees it; the scan stops when the caller cancels or its deadline passes.
        [SEARCH_RECENT_METHOD, query(decodeSearchRecentRequest, (t, r, signal) => ingester.search(t, r, signal), encodeSearchRecentResponse)],
        [SEARCH_TAGS_METHOD, query(decodeSearchTagsRecentRequest, (t, r, signal) => ingester.searchTags(t, r, signal), encodeSearchTagsRecentResponse)],
        [SEARCH_TAG_VALUES_METHOD, query(decodeSearchTagValuesRecentRequest, (t, r, signal) => ingester.searchTagValues(t, r, signal), encodeSearchTagValuesRecentResponse)],
        [METRICS_QUERY_RANGE_METHOD, query(decodeMetricsRequest, (t, r, signal) => ingester.metricsQueryRange(t, r, signal), encodeMetricsPartial)],
      ]),
    },
    registerHttp(http) {
      // Tempo's /flush and /shutdown are the ingester's; /shutdown is the server's (it stops every module).
      const flush = async (_req: unknown, reply: { code: (n: number) => { send: () => unknown } }) => {
        await ingester.flushAll();
        return reply.code(204).send();
      };
      http.get('/flush', flush);
      http.post('/flush', flush);
    },
  };
}
