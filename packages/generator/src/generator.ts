// The metrics-generator: per-tenant instances (registry + processors chosen by the tenant's
// overrides), fed decoded spans by pushSpans() and collected every collection_interval into the
// remote_write queues. Runs in-process under `-target=all`; it implements GeneratorPusher so a
// gRPC server can front it in distributed mode.

import { join } from 'node:path';
import { Counter as PromCounter, Gauge as PromGauge, type Registry } from 'prom-client';
import { parseDuration, type GeneratorPushRequest, type GeneratorPusher, type LimitsProvider, type Logger } from '@andante/model';
import { SegmentDecoder, wantedSpanAttributes, type GenBatch, type SpanView } from './span-view.js';
import { effectiveProcessorConfig, UNIMPLEMENTED_PROCESSORS, type GeneratorConfig } from './config.js';
import { RemoteWriteQueue, type RemoteWriteMetrics } from './remote-write.js';
import { TenantRegistry, type Collected } from './registry.js';
import { ServiceGraphsProcessor, type ServiceGraphsCounters } from './service-graphs.js';
import type { Processor } from './processor.js';
import { SpanMetricsProcessor, type SpanMetricsCounters } from './span-metrics.js';

export interface GeneratorDeps {
  cfg: GeneratorConfig;
  limits: LimitsProvider;
  registry: Registry;
  logger: Logger;
  now?: () => number;
}

interface SelfMetrics {
  spansReceived: PromCounter<'tenant'>;
  bytesReceived: PromCounter<'tenant'>;
  spansDiscarded: PromCounter<'tenant' | 'reason' | 'processor'>;
  activeSeries: PromGauge<'tenant'>;
  seriesLimited: PromCounter<'tenant'>;
  collections: PromCounter<'tenant'>;
  sgEdges: PromCounter<'tenant'>;
  sgExpiredEdges: PromCounter<'tenant'>;
  sgDroppedSpans: PromCounter<'tenant'>;
  activeProcessors: PromGauge<'tenant' | 'processor'>;
}

function createSelfMetrics(registry: Registry): SelfMetrics {
  const registers = [registry];
  const c = <L extends string>(name: string, help: string, labelNames: L[]): PromCounter<L> => new PromCounter({ name, help, labelNames, registers });
  return {
    spansReceived: c('tempo_metrics_generator_spans_received_total', 'Spans received per tenant.', ['tenant']),
    bytesReceived: c('tempo_metrics_generator_bytes_received_total', 'Trace bytes received per tenant.', ['tenant']),
    spansDiscarded: c('tempo_metrics_generator_spans_discarded_total', 'Spans not turned into metrics, by reason.', ['tenant', 'reason', 'processor']),
    activeSeries: new PromGauge({ name: 'tempo_metrics_generator_registry_active_series', help: 'Active series per tenant.', labelNames: ['tenant'], registers }),
    seriesLimited: c('tempo_metrics_generator_registry_series_limited_total', 'Series not created because of max_active_series, per tenant.', ['tenant']),
    collections: c('tempo_metrics_generator_registry_collections_total', 'Registry collections per tenant.', ['tenant']),
    sgEdges: c('tempo_metrics_generator_processor_service_graphs_edges', 'Edges created.', ['tenant']),
    sgExpiredEdges: c('tempo_metrics_generator_processor_service_graphs_expired_edges', 'Edges that expired before finding their other half.', ['tenant']),
    sgDroppedSpans: c('tempo_metrics_generator_processor_service_graphs_dropped_spans', 'Spans dropped because the edge store was full (max_items).', ['tenant']),
    activeProcessors: new PromGauge({ name: 'tempo_metrics_generator_active_processors', help: 'Processors running per tenant.', labelNames: ['tenant', 'processor'], registers }),
  };
}

function createRemoteWriteMetrics(registry: Registry): RemoteWriteMetrics {
  const registers = [registry];
  const sent = new PromCounter({ name: 'prometheus_remote_storage_samples_total', help: 'Samples sent to remote storage.', labelNames: ['remote_name', 'tenant'], registers });
  const exemplars = new PromCounter({ name: 'prometheus_remote_storage_exemplars_total', help: 'Exemplars sent to remote storage.', labelNames: ['remote_name', 'tenant'], registers });
  const dropped = new PromCounter({
    name: 'tempo_metrics_generator_remote_write_samples_dropped_total',
    help: 'Samples never delivered, by reason (queue_full: the oldest beyond the queue bound; http_4xx: refused by the receiver; shutdown).',
    labelNames: ['remote_name', 'tenant', 'reason'],
    registers,
  });
  const retried = new PromCounter({ name: 'prometheus_remote_storage_retried_requests_total', help: 'remote_write requests retried.', labelNames: ['remote_name', 'tenant'], registers });
  const pending = new PromGauge({ name: 'prometheus_remote_storage_samples_pending', help: 'Samples queued for remote storage.', labelNames: ['remote_name'], registers });
  return {
    samplesSent: (r, t, n) => sent.inc({ remote_name: r, tenant: t }, n),
    exemplarsSent: (r, t, n) => exemplars.inc({ remote_name: r, tenant: t }, n),
    samplesDropped: (r, t, reason, n) => dropped.inc({ remote_name: r, tenant: t, reason }, n),
    retries: (r, t) => retried.inc({ remote_name: r, tenant: t }),
    pendingSamples: (r, n) => pending.set({ remote_name: r }, n),
  };
}

/**
 * One tenant's processor self-metrics. Prototype methods, not closures: the processors' endPush
 * calls are inlined into pushViews, and a closure made per processor set (each tenant, each
 * overrides rebuild) sent it into a deoptimization loop ("wrong call target": ~650 deopts in one
 * `bench:generator` run, which builds several sets; 4 with methods, and +7 % spans per CPU-second).
 */
class TenantCounters implements ServiceGraphsCounters, SpanMetricsCounters {
  private readonly tenantLabels: { tenant: string };
  private readonly filteredLabels: { tenant: string; reason: string; processor: string };
  constructor(
    private readonly self: SelfMetrics,
    tenant: string,
  ) {
    this.tenantLabels = { tenant };
    this.filteredLabels = { tenant, reason: 'span_metrics_filtered', processor: 'span-metrics' };
  }
  edges(n: number): void {
    this.self.sgEdges.inc(this.tenantLabels, n);
  }
  expiredEdges(n: number): void {
    this.self.sgExpiredEdges.inc(this.tenantLabels, n);
  }
  droppedSpans(n: number): void {
    this.self.sgDroppedSpans.inc(this.tenantLabels, n);
  }
  spansFiltered(n: number): void {
    this.self.spansDiscarded.inc(this.filteredLabels, n);
  }
}

/** One tenant: its registry, processors and collection timer. */
class TenantInstance {
  readonly registry: TenantRegistry;
  processors: Processor[] = [];
  /** Decodes only the span attributes the processors read; keeps its caches while they stay the same. */
  decoder = new SegmentDecoder(new Set());
  private appliedLimits: unknown;
  private appliedSignature = '';
  private collectTimer: NodeJS.Timeout | undefined;
  private collectEveryMs = 0;
  /** metrics_generator.disable_collection: series are kept but never sent. */
  collectionDisabled = false;
  private readonly counters: TenantCounters;

  constructor(
    readonly tenant: string,
    private readonly gen: Generator,
  ) {
    this.counters = new TenantCounters(gen.self, tenant);
    const r = gen.cfg.registry;
    this.registry = new TenantRegistry({
      tenant,
      staleDurationMs: parseDuration(r.stale_duration),
      externalLabels: r.external_labels,
      generatorInstance: gen.cfg.ring.instance_id,
      injectTenantIdAs: r.inject_tenant_id_as,
      maxLabelNameLength: r.max_label_name_length,
      maxLabelValueLength: r.max_label_value_length,
      maxActiveSeries: () => gen.limits.forTenant(tenant).metricsGenerator.max_active_series,
      onSeriesLimited: () => gen.self.seriesLimited.inc({ tenant }),
      now: gen.now,
    });
    this.refresh();
  }

  /**
   * Rebuilds processors when the tenant's overrides changed. The overrides file is re-read every
   * period into new objects: only a change of content rebuilds (a rebuild forgets waiting edges).
   */
  refresh(): void {
    const limits = this.gen.limits.forTenant(this.tenant).metricsGenerator;
    if (limits === this.appliedLimits) return;
    this.appliedLimits = limits;
    const signature = JSON.stringify(limits);
    if (signature === this.appliedSignature) return;
    this.appliedSignature = signature;
    for (const p of this.processors) {
      p.shutdown();
      this.gen.self.activeProcessors.set({ tenant: this.tenant, processor: p.name }, 0);
    }
    const cfg = effectiveProcessorConfig(this.gen.cfg, limits);
    const wanted = wantedSpanAttributes(cfg);
    if (wanted.size !== this.decoder.wantedKeys.size || [...wanted].some((k) => !this.decoder.wantedKeys.has(k))) this.decoder = new SegmentDecoder(wanted);
    const names = new Set(limits.processors);
    const processors: Processor[] = [];
    const parts = {
      count: names.has('span-metrics') || names.has('span-metrics-count'),
      latency: names.has('span-metrics') || names.has('span-metrics-latency'),
      size: names.has('span-metrics') || names.has('span-metrics-size'),
    };
    if (parts.count || parts.latency || parts.size) {
      processors.push(
        new SpanMetricsProcessor(cfg.span_metrics, parts, this.registry, this.counters),
      );
    }
    if (names.has('service-graphs')) {
      processors.push(new ServiceGraphsProcessor(cfg.service_graphs, this.registry, this.counters, this.gen.now));
    }
    for (const name of names) {
      if (UNIMPLEMENTED_PROCESSORS.includes(name)) this.gen.logger.warn('processor not supported by Andante yet; ignored', { tenant: this.tenant, processor: name });
    }
    this.processors = processors;
    for (const p of processors) this.gen.self.activeProcessors.set({ tenant: this.tenant, processor: p.name }, 1);
    this.collectionDisabled = limits.disable_collection;
    this.schedule(limits.disable_collection ? 0 : parseDuration(limits.collection_interval) || parseDuration(this.gen.cfg.registry.collection_interval));
  }

  private schedule(everyMs: number): void {
    if (everyMs === this.collectEveryMs) return;
    this.collectEveryMs = everyMs;
    if (this.collectTimer) clearInterval(this.collectTimer);
    this.collectTimer = undefined;
    if (everyMs > 0) {
      this.collectTimer = setInterval(() => this.collect(), everyMs);
      this.collectTimer.unref();
    }
  }

  push(batches: GenBatch[]): void {
    for (const p of this.processors) p.pushSpans(batches);
  }

  /**
   * Runs the processors over the spans the decoder holds (views[0..count)), skipping those whose
   * end is outside [oldestMs, newestMs] (Tempo's ingestion slack). Returns how many were skipped.
   */
  pushViews(views: readonly SpanView[], count: number, oldestMs: number, newestMs: number): number {
    const processors = this.processors;
    const n = processors.length;
    for (let i = 0; i < n; i++) processors[i]!.beginPush();
    let outside = 0;
    let resource: SpanView['resource'] | undefined;
    for (let j = 0; j < count; j++) {
      const v = views[j]!;
      const end = v.endUnixMs;
      if (end < oldestMs || end > newestMs) {
        outside++;
        continue;
      }
      if (v.resource !== resource) {
        resource = v.resource;
        for (let i = 0; i < n; i++) processors[i]!.resource(resource);
      }
      for (let i = 0; i < n; i++) processors[i]!.span(v);
    }
    for (let i = 0; i < n; i++) processors[i]!.endPush();
    return outside;
  }

  tick(): void {
    for (const p of this.processors) p.tick?.();
  }

  /** Collects every series into the remote_write queues; stale series go first. */
  collect(): Collected {
    this.registry.removeStaleSeries();
    const out = this.registry.collect(this.gen.now());
    this.gen.self.collections.inc({ tenant: this.tenant });
    this.gen.self.activeSeries.set({ tenant: this.tenant }, this.registry.activeSeries);
    for (const q of this.gen.remoteWrite) {
      q.enqueue(this.tenant, out.initial);
      q.enqueue(this.tenant, out.series);
    }
    return out;
  }

  stop(): void {
    this.schedule(0);
    for (const p of this.processors) p.shutdown();
  }
}

export class Generator implements GeneratorPusher {
  readonly cfg: GeneratorConfig;
  readonly limits: LimitsProvider;
  readonly logger: Logger;
  readonly now: () => number;
  readonly self: SelfMetrics;
  readonly remoteWrite: RemoteWriteQueue[];
  private readonly instances = new Map<string, TenantInstance>();
  private readonly slackMs: number;
  private tickTimer: NodeJS.Timeout | undefined;

  constructor(deps: GeneratorDeps) {
    this.cfg = deps.cfg;
    this.limits = deps.limits;
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
    this.self = createSelfMetrics(deps.registry);
    this.slackMs = parseDuration(deps.cfg.metrics_ingestion_time_range_slack);
    const rwMetrics = createRemoteWriteMetrics(deps.registry);
    this.remoteWrite = deps.cfg.storage.remote_write.map(
      (rw, i) =>
        new RemoteWriteQueue({
          cfg: rw,
          addOrgIdHeader: deps.cfg.storage.remote_write_add_org_id_header,
          metrics: rwMetrics,
          logger: deps.logger.child({ remote: rw.name }),
          // storage.path: queued requests survive a restart (one directory per remote_write entry).
          ...(deps.cfg.storage.path ? { walDir: join(deps.cfg.storage.path, 'remote-write', `${i}-${rw.name.replace(/[^A-Za-z0-9._-]/g, '_')}`) } : {}),
        }),
    );
  }

  /** Edge expiry every 2 s, as Tempo's service-graphs processor does. */
  start(): void {
    this.tickTimer = setInterval(() => {
      for (const i of this.instances.values()) i.tick();
    }, 2_000);
    this.tickTimer.unref();
  }

  /** Whether the tenant's overrides enable any processor (the distributor skips the tap otherwise). */
  enabledFor(tenantId: string): boolean {
    return this.limits.forTenant(tenantId).metricsGenerator.processors.length > 0;
  }

  async pushSpans(req: GeneratorPushRequest): Promise<void> {
    this.pushSpansSync(req);
  }

  /** Decodes the segments and runs the tenant's processors over their spans. Bad bytes throw (counted by the caller), never crash. */
  pushSpansSync(req: GeneratorPushRequest): void {
    const { tenantId } = req;
    if (!this.enabledFor(tenantId) && !this.instances.has(tenantId)) return;
    const instance = this.instance(tenantId);
    instance.refresh();
    const nowMs = this.now();
    let bytes = 0;
    for (const segment of req.segments) bytes += segment.bytes.byteLength;
    // Every segment is decoded (into the decoder's reused span views) before any processor runs:
    // malformed bytes throw here and refuse the whole push.
    const decoder = instance.decoder;
    const spans = decoder.decodePush(req.segments);
    let outside: number;
    try {
      outside = instance.pushViews(decoder.views, spans, nowMs - this.slackMs, nowMs + this.slackMs);
    } finally {
      decoder.release();
    }
    this.self.spansReceived.inc({ tenant: tenantId }, spans);
    this.self.bytesReceived.inc({ tenant: tenantId }, bytes);
    if (outside > 0) this.self.spansDiscarded.inc({ tenant: tenantId, reason: 'outside_metrics_ingestion_slack', processor: 'all' }, outside);
    this.self.activeSeries.set({ tenant: tenantId }, instance.registry.activeSeries);
  }

  private instance(tenantId: string): TenantInstance {
    let i = this.instances.get(tenantId);
    if (!i) this.instances.set(tenantId, (i = new TenantInstance(tenantId, this)));
    return i;
  }

  /** Collects one tenant now (tests, shutdown); returns what went to the remote_write queues. */
  collectNow(tenantId: string): Collected | undefined {
    return this.instances.get(tenantId)?.collect();
  }

  /** Expires waiting service-graph edges now (tests). */
  tickNow(): void {
    for (const i of this.instances.values()) i.tick();
  }

  activeSeries(tenantId: string): number {
    return this.instances.get(tenantId)?.registry.activeSeries ?? 0;
  }

  /** Samples waiting in each remote_write queue. */
  pendingSamples(): number {
    return this.remoteWrite.reduce((n, q) => n + q.pendingSamples, 0);
  }

  /** A last collection, then up to remote_write_flush_deadline to deliver it. */
  async stop(): Promise<void> {
    if (this.tickTimer) clearInterval(this.tickTimer);
    for (const i of this.instances.values()) {
      i.stop();
      if (!i.collectionDisabled) i.collect();
    }
    const deadline = parseDuration(this.cfg.storage.remote_write_flush_deadline);
    await Promise.all(this.remoteWrite.map((q) => q.stop(deadline)));
  }
}
