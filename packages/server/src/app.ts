// One Andante process: the modules `-target` selects (modules.ts), each built by its package's
// factory from its config section, wired to the others through interfaces (in-process objects
// when the provider runs here; remote clients otherwise), started in dependency order and
// stopped in reverse. The servers are this file's: HTTP (:3200) with the gRPC methods modules
// serve on it, and the internal gRPC port (a RemoteClients.server, when a transport provides one).

import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger, parseDuration, type GeneratorPusher, type IngesterClient, type IngesterPusher, type IngesterQuerier, type Logger } from '@andante/model';
import { IngesterClientPool } from '@andante/ingester-client';
import { GeneratorClientPool } from '@andante/generator-client';
import { LocalBackend, S3Backend, s3BackendConfig, type Backend } from '@andante/backend';
import { RingJobOwnership, createCompactor, type CompactorService } from '@andante/compactor';
import { BlockEncoderPool, type BlockConfig } from '@andante/storage';
import type { InstanceDesc, RingSnapshot } from '@andante/ring';
import { createDistributor, type DistributorService } from '@andante/distributor';
import { createGenerator, type GeneratorService } from '@andante/generator';
import { createIngester, type IngesterService } from '@andante/ingester';
import { Blocklist, RingIngesterQuerier, createQuerier, type QuerierService } from '@andante/querier';
import { createQueryFrontend } from '@andante/query-frontend';
import { grpcServings, service, type GrpcBidiMethods, type GrpcMethods, type GrpcUnaryMethods, type ServerStreamMethod, type Service } from '@andante/service';
import { metricsEngine, searchCompiler } from '@andante/traceql';
import { durationMs, parseTarget, type AndanteConfig } from './config.js';
import { configWarnings } from './config-warnings.js';
import { createRequestDuration, instrumentRequests, observeGrpc } from './request-metrics.js';
import { GrpcOverHttp2 } from './grpc-over-http2.js';
import { Overrides } from './overrides.js';
import { shareHttpPortWithH2c } from './shared-port.js';
import { registerStatusRoutes } from './routes/status.js';
import { createRing, ringModule, withMembership, type RingMember, type RingService } from './rings.js';
import { EventLoopLagSampler } from './eventloop-lag.js';
import { MODULES, checkSelection, selectModules, servesRemoteCallers, startOrder, stopWaves, type AnyModuleName, type ModuleName, type RemoteInterface, type RingModuleName } from './modules.js';
import { GrpcInternalServer } from './internal-grpc.js';

export const VERSION = '0.1.0';

export interface ListenAddresses {
  http: number;
  otlpGrpc: number | null;
  otlpHttp: number | null;
  /** The Zipkin receiver's port, when distributor.receivers.zipkin is set. */
  zipkin: number | null;
  /** The internal gRPC port, when this process serves a module to other processes. */
  grpc: number | null;
}

/** The internal gRPC server (server.grpc_listen_port) a transport provides. */
export interface InternalGrpcServer {
  mount(methods: GrpcMethods, unary?: GrpcUnaryMethods, bidi?: GrpcBidiMethods): void;
  listen(port: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Where a module's interfaces come from when its provider runs in another process. Internal gRPC
 * fills `ingesterPusher`, `ingester`, `generator` and `server` by default (@andante/ingester-client,
 * @andante/generator-client, internal-grpc.ts); the rest is still empty, so targets that need them
 * are refused at startup.
 */
export interface RemoteClients {
  /** An ingester elsewhere, by its ring entry (the address is its internal gRPC endpoint): the push side. */
  ingesterPusher?: (instance: InstanceDesc) => IngesterPusher;
  /** An ingester elsewhere, by its ring entry: push and query sides. */
  ingester?: (instance: InstanceDesc) => IngesterClient;
  /** A metrics-generator elsewhere, by its ring entry. */
  generator?: (instance: InstanceDesc) => GeneratorPusher;
  /** Serves this process's modules' internal methods to other processes. */
  server?: InternalGrpcServer;
}

const title = (name: string): string => name.charAt(0).toUpperCase() + name.slice(1);

export class Andante {
  readonly registry = new Registry();
  readonly logger: Logger;
  /** The modules this process runs (internal ones included), in start order. */
  readonly modules: readonly AnyModuleName[];
  private readonly services = new Map<AnyModuleName, Service>();
  private readonly api: FastifyInstance;
  /** gRPC methods modules serve on the HTTP port (StreamingQuerier, stream_over_http_enabled). */
  private streaming: GrpcOverHttp2 | undefined;
  private readonly eventLoopLag: EventLoopLagSampler;
  private started: AnyModuleName[] = [];
  private listening = false;
  /** Set by a signal: not ready, no keep-alive; served as before until shutdown_delay ends. */
  private shuttingDown = false;
  private stopping: Promise<void> | undefined;

  private resolveStopped: () => void = () => undefined;
  /** Resolves once stop() finished, whoever asked for it (a signal, or /shutdown). */
  readonly stopped: Promise<void> = new Promise((r) => (this.resolveStopped = r));

  private readonly remote: RemoteClients;
  /** Clients of ingesters in other processes (closed on stop). */
  private ingesterClients: IngesterClientPool | undefined;
  /** Clients of metrics-generators in other processes (closed on stop; pruned as members leave the ring). */
  private generatorClients: GeneratorClientPool | undefined;

  constructor(
    readonly cfg: AndanteConfig,
    remote: RemoteClients = {},
  ) {
    const selected = (this.selected = selectModules(parseTarget(cfg.target)));
    this.logger = createLogger(cfg.server.log_level, { app: 'andante' });
    this.remote = this.withInternalGrpc(remote);
    const clients = new Set<RemoteInterface>([
      ...(this.remote.ingesterPusher || this.remote.ingester ? (['IngesterPusher'] as const) : []),
      ...(this.remote.ingester ? (['IngesterQuerier'] as const) : []),
      ...(this.remote.generator ? (['GeneratorPusher'] as const) : []),
    ]);
    // Modules whose internal methods exist: the ingester's and the generator's push, the frontend's job queue.
    const serves = new Set<ModuleName>(this.remote.server ? ['ingester', 'metrics-generator', 'query-frontend'] : []);
    // A querier without a frontend beside it pulls jobs from the frontends at frontend_address.
    const pulls = new Set<ModuleName>(cfg.querier.frontend_worker.frontend_address !== '' ? ['querier'] : []);
    checkSelection(selected, { clients, serves, pulls });
    this.modules = startOrder(selected);
    for (const warning of configWarnings(cfg)) this.logger.warn(warning);
    collectDefaultMetrics({ register: this.registry });
    this.eventLoopLag = new EventLoopLagSampler(this.registry);
    this.api = Fastify({ logger: false });
    const requestDuration = (this.requestDuration = createRequestDuration(this.registry));
    instrumentRequests(this.api, requestDuration);
    // Shutting down: each connection closes after its answer, so the next request opens one to a
    // member the load balancer still sends to.
    this.api.addHook('onSend', async (_req, reply) => {
      if (this.shuttingDown || this.stopping) reply.header('connection', 'close');
    });
    registerStatusRoutes(this.api, {
      prefix: cfg.http_api_prefix,
      version: VERSION,
      registry: this.registry,
      notReady: () => this.notReady(),
      config: cfg,
      shutdown: () => void this.stop(),
    });

    for (const name of this.modules) this.services.set(name, this.build(name));

    const onHttp: [string, ServerStreamMethod][] = [];
    for (const s of this.services.values()) {
      s.registerHttp?.(this.api);
      for (const g of grpcServings(s)) {
        if (g.listener === 'http') onHttp.push(...g.methods);
        // Internal methods are served only to callers in other processes: under `all` no port opens.
        else if (!servesRemoteCallers(s.name as ModuleName, selected)) continue;
        else if (this.remote.server) {
          this.remote.server.mount(g.methods, g.unary, g.bidi);
          this.internalMounted = true;
        } else throw new Error(`${s.name} serves internal gRPC methods, but this process has no internal gRPC server (server.grpc_listen_port)`);
      }
    }
    if (onHttp.length > 0) {
      this.streaming = new GrpcOverHttp2({
        methods: new Map(onHttp),
        logger: this.logger.child({ component: 'grpc-http' }),
        onFinished: (path, code, seconds) => observeGrpc(requestDuration, path, code, seconds),
      });
      shareHttpPortWithH2c(this.api.server, this.streaming.server);
    }
  }

  private readonly selected: ReadonlySet<ModuleName>;
  private requestDuration: ReturnType<typeof createRequestDuration> | undefined;
  private internalMounted = false;
  private internalPort: number | null = null;

  /** The internal gRPC transport's defaults for what `remote` leaves empty. */
  private withInternalGrpc(remote: RemoteClients): RemoteClients {
    const server = this.cfg.server;
    const out: RemoteClients = { ...remote };
    if (!out.server) {
      out.server = new GrpcInternalServer(
        { address: server.grpc_listen_address, maxRecvMessageBytes: server.grpc_server_max_recv_msg_size, maxSendMessageBytes: server.grpc_server_max_send_msg_size },
        this.logger.child({ component: 'internal-grpc' }),
        (path, code, seconds) => {
          if (this.requestDuration) observeGrpc(this.requestDuration, path, code, seconds);
        },
      );
    }
    if (!out.ingesterPusher && !out.ingester) {
      const pool = (this.ingesterClients = new IngesterClientPool({
        remoteTimeoutMs: durationMs(this.cfg.ingester_client.remote_timeout),
        queryTimeoutMs: durationMs(this.cfg.querier.search.query_timeout),
        traceByIdTimeoutMs: durationMs(this.cfg.querier.trace_by_id.query_timeout),
        maxSendMessageBytes: server.grpc_server_max_recv_msg_size,
        maxRecvMessageBytes: server.grpc_server_max_send_msg_size,
      }));
      // One client per ingester address; a member's client is closed once it left the ring.
      let seen: RingSnapshot | undefined;
      const client = (instance: InstanceDesc) => {
        const ring = this.has('ring') ? this.service<RingService>('ring').ring.store.snapshot() : undefined;
        if (ring && ring !== seen) {
          seen = ring;
          pool.retain(new Set([...ring.instances.map((i) => i.address), instance.address]));
        }
        return pool.get(instance.address);
      };
      out.ingesterPusher = client;
      out.ingester = client;
    }
    if (!out.generator) {
      const pool = (this.generatorClients = new GeneratorClientPool({
        remoteTimeoutMs: durationMs(this.cfg.metrics_generator_client.remote_timeout),
        maxSendMessageBytes: server.grpc_server_max_recv_msg_size,
        maxRecvMessageBytes: server.grpc_server_max_send_msg_size,
      }));
      // The ring hands out a new snapshot when it changes (and at least once a second): then the
      // clients of addresses no longer on it are closed, so departed generators leave no channels.
      let seen: RingSnapshot | undefined;
      out.generator = (instance) => {
        const ring = this.has('generator-ring') ? this.service<RingService>('generator-ring').ring.store.snapshot() : undefined;
        if (ring && ring !== seen) {
          seen = ring;
          pool.retain(ring.instances.map((i) => i.address));
        }
        return pool.get(instance.address);
      };
    }
    return out;
  }

  /**
   * The querier's ingesters: in-process objects of every healthy member under `all`; otherwise
   * one IngesterQuerier over the ring that fans out to the members' clients and merges replicas.
   */
  private ingesterQueriers(): () => IngesterQuerier[] {
    const ingesterRing = this.service<RingService>('ring').ring.store;
    if (this.has('ingester')) {
      const i = this.service<IngesterService>('ingester').ingester;
      return () => ingesterRing.snapshot().readableInstances().map(() => i);
    }
    const ring = this.cfg.ingester.lifecycler.ring;
    const fanout = (this.ingesterFanout ??= new RingIngesterQuerier({
      ring: () => ingesterRing.snapshot(),
      replicationFactor: ring.replication_factor,
      zoneAwarenessEnabled: ring.zone_awareness_enabled,
      queryRelevantIngesters: this.cfg.querier.query_relevant_ingesters,
      client: this.remote.ingester!,
      logger: this.logger.child({ component: 'querier' }),
    }));
    return () => [fanout];
  }

  private ingesterFanout: RingIngesterQuerier | undefined;

  private service<T extends Service>(name: AnyModuleName): T {
    const s = this.services.get(name);
    if (!s) throw new Error(`module ${name} is not running in this process`);
    return s as T;
  }

  private has(name: AnyModuleName): boolean {
    return this.services.has(name);
  }

  /** Builds one module with its package's factory; every module it depends on is built already. */
  private build(name: AnyModuleName): Service {
    const cfg = this.cfg;
    const logger = (component: string): Logger => this.logger.child({ component });
    const overrides = (): Overrides => this.service<Service & { overrides: Overrides }>('overrides').overrides;
    const store = (): StoreService => this.service<StoreService>('store');
    const blocklist = (): Blocklist => this.service<Service & { blocklist: Blocklist }>('blocklist').blocklist;
    const ring = (module: RingModuleName): RingMember => this.service<RingService>(module).ring;
    switch (name) {
      case 'server':
        return service('server', {
          start: async () => this.eventLoopLag.start(),
          stop: async () => this.eventLoopLag.stop(),
        });
      case 'overrides': {
        const o = new Overrides(cfg.overrides.defaults, cfg.overrides.per_tenant_override_config, durationMs(cfg.overrides.per_tenant_override_period), this.logger);
        return Object.assign(service('overrides', { start: () => o.start(), stop: async () => o.stop() }), { overrides: o });
      }
      case 'store':
        return this.createStore();
      // Each ring's view over its kvstore and its page; the member joins with its component module.
      case 'ring':
        return ringModule('ring', 'ingester', createRing('ingester', cfg, this.logger, () => this.internalPort ?? 0));
      case 'generator-ring':
        return ringModule('generator-ring', 'metrics-generator', createRing('metrics-generator', cfg, this.logger, () => this.internalPort ?? 0));
      case 'compactor-ring':
        return ringModule('compactor-ring', 'compactor', createRing('compactor', cfg, this.logger, () => this.internalPort ?? 0));
      case 'distributor-ring':
        return ringModule('distributor-ring', 'distributor', createRing('distributor', cfg, this.logger, () => this.internalPort ?? 0));
      case 'blocklist': {
        const b = new Blocklist(store().backend, durationMs(cfg.storage.trace.blocklist_poll), logger('querier'), this.registry);
        return Object.assign(
          service('blocklist', {
            start: () => b.start(),
            stop: async () => b.stop(),
            notReady: () => (b.pollsCompleted > 0 ? undefined : 'waiting for the first blocklist poll'),
          }),
          { blocklist: b },
        );
      }
      case 'ingester': {
        const s = createIngester(cfg.ingester, {
          backend: store().backend,
          walPath: cfg.storage.trace.wal.path,
          blockConfig: store().blockConfig,
          encoder: store().encoder,
          limits: overrides(),
          registry: this.registry,
          logger: logger('ingester'),
          compileSearch: searchCompiler,
          metricsEngine,
          // Recorded in each block's meta: TraceQL metrics count the spans of replicated blocks once.
          replicationFactor: cfg.ingester.lifecycler.ring.replication_factor,
          // An in-process blocklist lists a flushed block at once, before its next poll.
          ...(this.has('blocklist') ? { onBlockFlushed: (meta) => blocklist().add(meta) } : {}),
        });
        // The ring member joins once the WAL is replayed, and leaves after the ingester stopped
        // taking pushes and flushed (flush_all_on_shutdown).
        return withMembership<IngesterService>(s, ring('ring'));
      }
      case 'metrics-generator': {
        const gen = cfg.metrics_generator;
        const s = createGenerator(gen, { limits: overrides(), registry: this.registry, logger: logger('metrics-generator') });
        return withMembership<GeneratorService>(s, ring('generator-ring'));
      }
      case 'distributor': {
        const ingester = this.has('ingester') ? (() => { const i = this.service<IngesterService>('ingester').ingester; return () => i; })() : (this.remote.ingesterPusher ?? this.remote.ingester)!;
        const generator = this.has('metrics-generator')
          ? (() => { const p = this.service<GeneratorService>('metrics-generator').pusher; return () => p; })()
          : this.remote.generator;
        if (!generator) this.logger.info('no metrics-generator in this target and no client for one: spans are not forwarded to a metrics-generator');
        const ingesterRing = ring('ring').store;
        const generatorRing = ring('generator-ring').store;
        const d = createDistributor(cfg.distributor, {
          ring: () => ingesterRing.snapshot(),
          ingester,
          // The same routing distributed mode uses, to the in-process generator under `all`.
          ...(generator ? { generator: { ring: () => generatorRing.snapshot(), client: generator } } : {}),
          limits: overrides(),
          registry: this.registry,
          logger: logger('distributor'),
          multitenancyEnabled: cfg.multitenancy_enabled,
        });
        return withMembership<DistributorService>(d, ring('distributor-ring'));
      }
      case 'querier': {
        return createQuerier(cfg.querier, {
          backend: store().backend,
          blocklist: blocklist(),
          ingesters: this.ingesterQueriers(),
          compile: searchCompiler,
          // Workers compile queries with the same engine, found by module URL.
          compilerModule: () => ({ url: import.meta.resolve('@andante/traceql'), exportName: 'searchCompiler' }),
          metricsEngine,
          logger: logger('querier'),
          registry: this.registry,
          // No frontend here: pull jobs from the frontends at querier.frontend_worker.frontend_address.
          // (The frontend is built after the querier: ask the selection, not what is built.)
          ...(this.selected.has('query-frontend')
            ? {}
            : { pullFromFrontends: { maxRecvMessageBytes: cfg.server.grpc_server_max_recv_msg_size, maxSendMessageBytes: cfg.server.grpc_server_max_send_msg_size } }),
        });
      }
      case 'query-frontend': {
        // In-process under `all` (no queue, no copy); otherwise queriers pull from this frontend's queue.
        const querier = this.has('querier') ? { querier: this.service<QuerierService>('querier').jobs } : {};
        return createQueryFrontend(cfg.query_frontend, {
          blocklist: blocklist(),
          ...querier,
          maxSendMessageBytes: cfg.server.grpc_server_max_send_msg_size,
          compile: searchCompiler,
          metricsEngine,
          limits: overrides(),
          registry: this.registry,
          logger: logger('query-frontend'),
          multitenancyEnabled: cfg.multitenancy_enabled,
          prefix: cfg.http_api_prefix,
          streamOverHttp: cfg.stream_over_http_enabled,
          drainTimeoutMs: parseDuration(cfg.server.graceful_shutdown_timeout),
        });
      }
      case 'compactor': {
        const compactorRing = ring('compactor-ring');
        const c = createCompactor(cfg.compactor, {
          backend: store().backend,
          encoder: store().encoder,
          blockConfig: store().blockConfig,
          limits: overrides(),
          registry: this.registry,
          logger: logger('compactor'),
          // Tenants the in-process blocklist knows of, compacted even when no listing shows them.
          ...(this.has('blocklist') ? { knownTenants: () => blocklist().tenants() } : {}),
          // Each job key is owned by the first healthy compactor clockwise on the compactor ring.
          ownership: new RingJobOwnership(cfg.compactor.ring.instance_id, () => compactorRing.store.snapshot()),
        });
        return withMembership<CompactorService>(c, compactorRing);
      }
    }
  }

  /** Local disk by default; S3 with request metrics (Tempo's names) when configured. */
  private createStore(): StoreService {
    const trace = this.cfg.storage.trace;
    let backend: Backend;
    if (trace.backend === 'local') {
      mkdirSync(resolve(trace.local.path), { recursive: true });
      backend = new LocalBackend(resolve(trace.local.path));
    } else {
      const requests = new Histogram({
        name: 'tempodb_backend_request_duration_seconds',
        help: 'Object storage requests by HTTP method and status code (request counts come from _count).',
        labelNames: ['operation', 'status_code'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [this.registry],
      });
      backend = new S3Backend(s3BackendConfig(trace.s3), {
        logger: this.logger.child({ component: 'backend' }),
        onRequest: (_op, durationMs, _ok, info) =>
          requests.observe({ operation: info.method, status_code: String(info.statusCode ?? 'error') }, durationMs / 1000),
      });
    }
    // Shared by the ingester and the compactor; its workers start on first use.
    const encoder = new BlockEncoderPool();
    const blockConfig: Partial<BlockConfig> = {
      rowGroupSpans: trace.block.row_group_size_spans,
      bloomFalsePositive: trace.block.bloom_filter_false_positive,
      bloomShardSizeBytes: trace.block.bloom_filter_shard_size_bytes,
    };
    return {
      ...service('store', {
        start: async () => {
          if (backend instanceof S3Backend) await backend.verifyBucket();
        },
        stop: async () => {
          await encoder.close();
          await backend.close();
        },
      }),
      backend,
      encoder,
      blockConfig,
    };
  }

  /** One line per module not ready (Tempo's "Ingester not ready: ..."); empty when every one is. */
  notReady(): string[] {
    if (this.stopping) return ['Andante not ready: stopping'];
    if (this.shuttingDown) return ['Andante not ready: shutting down'];
    const out: string[] = [];
    for (const [name, s] of this.services) {
      const why = s.notReady();
      if (why !== undefined) out.push(`${title(name)} not ready: ${why}`);
    }
    if (out.length === 0 && !this.listening) out.push('Andante not ready: starting');
    return out;
  }

  /** Starts every module in dependency order, then listens; resolves with the bound ports. */
  async start(): Promise<ListenAddresses> {
    // The internal port binds before any module starts: ring members register the bound port
    // (grpc_listen_port 0), and nothing calls a module before its member joined the ring.
    if (this.internalMounted) this.internalPort = await this.remote.server!.listen(this.cfg.server.grpc_listen_port);
    for (const name of this.modules) {
      if (this.stopping) throw new Error('stopped while starting');
      await this.services.get(name)!.start();
      this.started.push(name);
    }
    await this.api.listen({ host: this.cfg.server.http_listen_address, port: this.cfg.server.http_listen_port });
    this.listening = true;
    const receivers = this.has('distributor') ? this.service<DistributorService>('distributor').ports() : { otlpGrpc: null, otlpHttp: null, zipkin: null };
    const ports = { http: portOf(this.api), ...receivers, grpc: this.internalPort };
    this.logger.info('andante started', { version: VERSION, target: this.cfg.target, modules: this.modules.filter((m) => !MODULES[m].internal), ports });
    return ports;
  }

  /**
   * A signal's stop (Tempo's shutdown_delay): /ready answers 503 at once and connections are not
   * kept alive, while every module keeps serving for `shutdown_delay`; then stop().
   */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    const delayMs = parseDuration(this.cfg.shutdown_delay);
    if (delayMs > 0 && !this.stopping) {
      this.logger.info('shutdown delayed: /ready answers 503 while still serving', { shutdown_delay: this.cfg.shutdown_delay });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    await this.stop();
  }

  /**
   * Stops the started modules in reverse dependency order (the distributor stops taking data
   * first; the ingester flushes what it holds, flush_all_on_shutdown), then the servers.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const started = new Set(this.started);
      for (const wave of stopWaves(this.modules)) {
        const results = await Promise.allSettled(wave.filter((m) => started.has(m) && m !== 'server').map((m) => this.services.get(m)!.stop()));
        for (const r of results) if (r.status === 'rejected') this.logger.error('module stop failed', { err: r.reason });
      }
      // HTTP/2 connections are not the HTTP/1 server's to close: end them, or its close waits for them.
      const apiClosed = this.api.close();
      await this.streaming?.close();
      await apiClosed;
      if (this.internalMounted) await this.remote.server?.close();
      this.ingesterClients?.close();
      this.generatorClients?.close();
      if (started.has('server')) await this.services.get('server')!.stop();
      this.logger.info('andante stopped');
      this.resolveStopped();
    })();
    return this.stopping;
  }
}

interface StoreService extends Service {
  backend: Backend;
  encoder: BlockEncoderPool;
  blockConfig: Partial<BlockConfig>;
}

function portOf(app: FastifyInstance): number {
  const addr = app.server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}
