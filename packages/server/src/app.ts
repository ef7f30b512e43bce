// Module wiring: one process runs every component (`-target=all`), calling each other through
// the same interfaces the gRPC clients will implement in distributed mode.

import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger, type Logger } from '@andante/model';
import { LocalBackend, S3Backend, type Backend } from '@andante/backend';
import { Compactor, RingJobOwnership } from '@andante/compactor';
import { BlockEncoderPool, type BlockConfig } from '@andante/storage';
import type { InstanceDesc, RingSnapshot } from '@andante/ring';
import { createRings, type Rings } from './rings.js';
import { Distributor, ExportDecoderPool, GeneratorForwarder, GeneratorRingPusher, OtlpGrpcReceiver, createOtlpHttpReceiver } from '@andante/distributor';
import { Generator } from '@andante/generator';
import { Ingester } from '@andante/ingester';
import {
  BlockSearchPool,
  Blocklist,
  Querier,
  SearchService,
  TagsService,
  registerSearchRoutes,
  registerTagRoutes,
  registerTraceRoutes,
  streamingQuerierMethods,
} from '@andante/querier';
import { searchCompiler } from '@andante/traceql';
import { durationMs, s3BackendConfig, type AndanteConfig } from './config.js';
import { configWarnings } from './config-warnings.js';
import { instrumentRequests } from './request-metrics.js';
import { GrpcOverHttp2 } from './grpc-over-http2.js';
import { Overrides } from './overrides.js';
import { shareHttpPortWithH2c } from './shared-port.js';
import { registerStatusRoutes } from './routes/status.js';
import { EventLoopLagSampler } from './eventloop-lag.js';

export const VERSION = '0.1.0';

export interface ListenAddresses {
  http: number;
  otlpGrpc: number | null;
  otlpHttp: number | null;
}

function splitEndpoint(endpoint: string, key: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  const port = Number(endpoint.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${key}: invalid endpoint ${JSON.stringify(endpoint)}, expected host:port`);
  return { host: endpoint.slice(0, i) || '0.0.0.0', port };
}

export class Andante {
  readonly registry = new Registry();
  readonly logger: Logger;
  private readonly backend: Backend;
  private readonly encoder = new BlockEncoderPool();
  private readonly exportDecoder = new ExportDecoderPool();
  private readonly searchPool: BlockSearchPool;
  private readonly compactor: Compactor;
  private readonly overrides: Overrides;
  /** The ingester, metrics-generator, compactor and distributor rings, each over its kvstore (rings.ts). */
  private readonly rings: Rings;
  private readonly ingester: Ingester;
  private readonly distributor: Distributor;
  /** The metrics-generator and the distributor's queue into it; idle for tenants without processors. */
  private readonly generator: Generator;
  private readonly generatorTap: GeneratorForwarder;
  private readonly blocklist: Blocklist;
  private readonly querier: Querier;
  private readonly api: FastifyInstance;
  /** tempopb.StreamingQuerier on the HTTP port (stream_over_http_enabled). */
  private readonly streaming: GrpcOverHttp2 | undefined;
  private otlpHttp: FastifyInstance | undefined;
  private otlpGrpc: OtlpGrpcReceiver | undefined;
  private ready = false;
  private readonly eventLoopLag: EventLoopLagSampler;
  private stopping: Promise<void> | undefined;

  constructor(readonly cfg: AndanteConfig) {
    if (cfg.target !== 'all') {
      throw new Error(`target ${cfg.target} needs distributed mode (internal gRPC and an etcd ring), which this build does not have yet; use -target=all`);
    }
    this.logger = createLogger(cfg.server.log_level, { app: 'andante' });
    for (const warning of configWarnings(cfg)) this.logger.warn(warning);
    collectDefaultMetrics({ register: this.registry });
    this.eventLoopLag = new EventLoopLagSampler(this.registry);
    const trace = cfg.storage.trace;
    this.backend = this.createBackend();
    // Workers compile queries with the same engine, found by module URL.
    this.searchPool = new BlockSearchPool(this.backend, () => ({ url: import.meta.resolve('@andante/traceql'), exportName: 'searchCompiler' }));
    const blockConfig: Partial<BlockConfig> = {
      rowGroupSpans: trace.block.row_group_size_spans,
      bloomFalsePositive: trace.block.bloom_filter_false_positive,
      bloomShardSizeBytes: trace.block.bloom_filter_shard_size_bytes,
    };
    this.overrides = new Overrides(cfg.overrides.defaults, cfg.overrides.per_tenant_override_config, durationMs(cfg.overrides.per_tenant_override_period), this.logger);

    const ing = cfg.ingester;
    this.rings = createRings(cfg, this.logger);
    this.ingester = new Ingester({
      cfg: {
        traceIdlePeriodMs: durationMs(ing.trace_idle_period),
        maxBlockDurationMs: durationMs(ing.max_block_duration),
        maxBlockBytes: ing.max_block_bytes,
        maxUnflushedBytes: ing.max_unflushed_bytes,
        flushCheckPeriodMs: durationMs(ing.flush_check_period),
        completeBlockTimeoutMs: durationMs(ing.complete_block_timeout),
        concurrentFlushes: ing.concurrent_flushes,
        flushAllOnShutdown: ing.flush_all_on_shutdown,
        flushRetryMs: 5_000,
      },
      blockConfig,
      encoder: this.encoder,
      walPath: resolve(trace.wal.path),
      backend: this.backend,
      limits: this.overrides,
      registry: this.registry,
      logger: this.logger.child({ component: 'ingester' }),
      compileSearch: searchCompiler,
      onBlockFlushed: (meta) => this.blocklist.add(meta),
    });
    // In `all` every ring member is this process's ingester.
    const localIngester = (_: InstanceDesc) => this.ingester;
    const gen = cfg.metrics_generator;
    this.generator = new Generator({ cfg: gen, limits: this.overrides, registry: this.registry, logger: this.logger.child({ component: 'metrics-generator' }) });
    this.generatorTap = new GeneratorForwarder({
      // The same routing distributed mode will use, to the one in-process generator.
      pusher: new GeneratorRingPusher({ ring: () => this.generatorRing, client: () => this.generator }),
      pusherId: gen.ring.instance_id,
      limits: this.overrides,
      registry: this.registry,
      logger: this.logger.child({ component: 'distributor' }),
    });
    this.distributor = new Distributor({
      ring: () => this.ring,
      ingester: localIngester,
      limits: this.overrides,
      registry: this.registry,
      logger: this.logger.child({ component: 'distributor' }),
      decoder: this.exportDecoder,
      tap: this.generatorTap,
    });
    const comp = cfg.compactor.compaction;
    this.compactor = new Compactor({
      cfg: {
        blockRetentionMs: durationMs(comp.block_retention),
        compactedBlockRetentionMs: durationMs(comp.compacted_block_retention),
        compactionWindowMs: durationMs(comp.compaction_window),
        maxCompactionObjects: comp.max_compaction_objects,
        maxBlockBytes: comp.max_block_bytes,
        compactionCycleMs: durationMs(comp.compaction_cycle),
        orphanedBlockGracePeriodMs: durationMs(comp.orphaned_block_grace_period),
        outputBlockBufferBytes: comp.output_block_buffer_bytes,
        minInputBlocks: 2,
        maxInputBlocks: 4,
      },
      backend: this.backend,
      encoder: this.encoder,
      blockConfig,
      limits: this.overrides,
      registry: this.registry,
      logger: this.logger.child({ component: 'compactor' }),
      knownTenants: () => this.blocklist.tenants(),
      ownership: new RingJobOwnership(cfg.compactor.ring.instance_id, () => this.rings.compactor.store.snapshot()),
    });
    this.blocklist = new Blocklist(this.backend, durationMs(trace.blocklist_poll), this.logger.child({ component: 'querier' }), this.registry);
    this.querier = new Querier({
      backend: this.backend,
      blocklist: this.blocklist,
      ingesters: () => this.ring.healthyInstances().map(localIngester),
      logger: this.logger.child({ component: 'querier' }),
    });

    this.api = Fastify({ logger: false });
    instrumentRequests(this.api, this.registry);
    registerStatusRoutes(this.api, {
      prefix: cfg.http_api_prefix,
      version: VERSION,
      registry: this.registry,
      // start() sets ready after WAL replay and the first blocklist poll; the poll count keeps that explicit.
      isReady: () => this.ready && this.blocklist.pollsCompleted > 0,
      config: cfg,
      ringStore: this.rings.ingester.store,
      flush: () => this.ingester.flushAll(),
      shutdown: () => void this.stop(),
    });
    this.rings.registerPages(this.api);
    registerTraceRoutes(this.api, { querier: this.querier, limits: this.overrides, multitenancyEnabled: cfg.multitenancy_enabled, prefix: cfg.http_api_prefix });
    const sfe = cfg.query_frontend.search;
    const ingesters = () => this.ring.healthyInstances().map(localIngester);
    const search = new SearchService({
      backend: this.backend,
      blocklist: this.blocklist,
      ingesters,
      querier: this.querier,
      compile: searchCompiler,
      pool: this.searchPool,
      limits: {
        maxDurationSeconds: durationMs(sfe.max_duration) / 1000,
        maxResultLimit: sfe.max_result_limit,
        defaultResultLimit: sfe.default_result_limit,
        defaultSpansPerSpanSet: 3,
        maxSpansPerSpanSet: sfe.max_spans_per_span_set,
        concurrentJobs: sfe.concurrent_jobs,
      },
      logger: this.logger.child({ component: 'query-frontend' }),
    });
    registerSearchRoutes(this.api, { search, multitenancyEnabled: cfg.multitenancy_enabled, prefix: cfg.http_api_prefix });
    const tags = new TagsService({ backend: this.backend, blocklist: this.blocklist, ingesters, compile: searchCompiler, limits: this.overrides, pool: this.searchPool });
    registerTagRoutes(this.api, { tags, multitenancyEnabled: cfg.multitenancy_enabled, prefix: cfg.http_api_prefix });
    if (cfg.stream_over_http_enabled) {
      this.streaming = new GrpcOverHttp2({
        methods: streamingQuerierMethods({ search, tags, multitenancyEnabled: cfg.multitenancy_enabled }),
        logger: this.logger.child({ component: 'query-frontend-grpc' }),
      });
      shareHttpPortWithH2c(this.api.server, this.streaming.server);
    }
  }

  /** Local disk by default; S3 with request metrics (Tempo's names) when configured. */
  private createBackend(): Backend {
    const trace = this.cfg.storage.trace;
    if (trace.backend === 'local') {
      mkdirSync(resolve(trace.local.path), { recursive: true });
      return new LocalBackend(resolve(trace.local.path));
    }
    const requests = new Histogram({
      name: 'tempodb_backend_request_duration_seconds',
      help: 'Object storage requests by HTTP method and status code (request counts come from _count).',
      labelNames: ['operation', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    return new S3Backend(s3BackendConfig(trace.s3), {
      logger: this.logger.child({ component: 'backend' }),
      onRequest: (_op, durationMs, _ok, info) =>
        requests.observe({ operation: info.method, status_code: String(info.statusCode ?? 'error') }, durationMs / 1000),
    });
  }

  /** The rings as last seen through their watches (each snapshot cached for up to a second). */
  private get ring(): RingSnapshot {
    return this.rings.ingester.store.snapshot();
  }

  private get generatorRing(): RingSnapshot {
    return this.rings.generator.store.snapshot();
  }

  /** Starts every module; resolves with the bound ports (useful when configured as 0). */
  async start(): Promise<ListenAddresses> {
    this.eventLoopLag.start();
    await this.overrides.start();
    if (this.backend instanceof S3Backend) await this.backend.verifyBucket();
    await this.ingester.start();
    await this.rings.start();
    await this.blocklist.start();
    if (!this.cfg.compactor.compaction.compaction_disabled) this.compactor.start();
    this.generator.start();

    const protocols = this.cfg.distributor.receivers.otlp.protocols;
    let otlpGrpcPort: number | null = null;
    let otlpHttpPort: number | null = null;
    if (protocols.grpc) {
      this.otlpGrpc = new OtlpGrpcReceiver(
        this.distributor,
        { endpoint: protocols.grpc.endpoint, maxRecvMsgSizeMiB: protocols.grpc.max_recv_msg_size_mib, multitenancyEnabled: this.cfg.multitenancy_enabled },
        this.logger.child({ component: 'otlp-grpc' }),
      );
      await this.otlpGrpc.start();
      otlpGrpcPort = this.otlpGrpc.port;
    }
    if (protocols.http) {
      const { host, port } = splitEndpoint(protocols.http.endpoint, 'distributor.receivers.otlp.protocols.http.endpoint');
      this.otlpHttp = createOtlpHttpReceiver(
        this.distributor,
        { host, port, maxRequestBodyBytes: protocols.http.max_request_body_size, multitenancyEnabled: this.cfg.multitenancy_enabled },
        this.logger.child({ component: 'otlp-http' }),
      );
      await this.otlpHttp.listen({ host, port });
      otlpHttpPort = portOf(this.otlpHttp);
    }
    await this.api.listen({ host: this.cfg.server.http_listen_address, port: this.cfg.server.http_listen_port });
    this.ready = true;
    const ports = { http: portOf(this.api), otlpGrpc: otlpGrpcPort, otlpHttp: otlpHttpPort };
    this.logger.info('andante started', { version: VERSION, target: this.cfg.target, ports });
    return ports;
  }

  /** Stops taking data, then flushes what the ingester holds (flush_all_on_shutdown). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.ready = false;
      await this.otlpGrpc?.stop();
      await this.otlpHttp?.close();
      // What the tap holds goes into a last collection, sent within remote_write_flush_deadline,
      // while the ingester flushes (a Prometheus that is down must not hold the flush up).
      await this.generatorTap.stop();
      const generatorStopped = this.generator.stop();
      await this.ingester.stop();
      await generatorStopped;
      await this.compactor.stop();
      await this.encoder.close();
      await this.exportDecoder.close();
      await this.searchPool.close();
      await this.rings.stop();
      this.blocklist.stop();
      this.overrides.stop();
      this.eventLoopLag.stop();
      // HTTP/2 connections are not the HTTP/1 server's to close: end them, or its close waits for them.
      const apiClosed = this.api.close();
      await this.streaming?.close();
      await apiClosed;
      await this.backend.close();
      this.logger.info('andante stopped');
    })();
    return this.stopping;
  }
}

function portOf(app: FastifyInstance): number {
  const addr = app.server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}
