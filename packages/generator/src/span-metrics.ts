// The span-metrics processor (Tempo's modules/generator/processor/spanmetrics): RED metrics per
// service / span name / kind / status and configured dimensions.

import type { KeyValue } from '@andante/model';
import { pushBatches, type Processor } from './processor.js';
import type { GenBatch, GenSpan } from './span-view.js';
import type { SpanMetricsConfig } from './config.js';
import { INTRINSIC_DIMENSIONS } from './config.js';
import { LabelBuilder, sanitizeWithCollisions } from './labels.js';
import { Counter, type Gauge, type Histogram, type HistogramSeries, type ScalarSeries, type TenantRegistry } from './registry.js';
import { SpanFilter } from './span-filter.js';
import { findAttributeString, spanDurationSeconds, spanKindName, spanMultiplier, statusCodeName, stringifyAnyValue, traceIdHexOf } from './span-data.js';

export const SPAN_METRICS_CALLS = 'traces_spanmetrics_calls_total';
export const SPAN_METRICS_LATENCY = 'traces_spanmetrics_latency';
export const SPAN_METRICS_SIZE = 'traces_spanmetrics_size_total';
export const TARGET_INFO = 'traces_target_info';

const INTRINSICS = new Set<string>(INTRINSIC_DIMENSIONS);
const TARGET_INFO_RESERVED = new Set<string>([...INTRINSIC_DIMENSIONS, 'job', 'instance']);

/** The series one label set updates, found again without building its labels (see pushSpans). */
interface Handles {
  calls: ScalarSeries | undefined;
  latency: HistogramSeries | undefined;
  size: ScalarSeries | undefined;
}

/** What a resource gives every span under it, computed once per (cached, shared) resource object. */
interface ResourceCtx {
  service: string;
  job: string;
  instance: string;
  /** Series key (span name, plus dimension values when configured) -> handles per kind * 3 + status code. */
  byKey: Map<string, (Handles | undefined)[]>;
}

/** Cached handles beyond which the cache starts over (it can hold more keys than series when intrinsic dimensions are off). */
const MAX_CACHED_HANDLES = 100_000;

export interface SpanMetricsParts {
  count: boolean;
  latency: boolean;
  size: boolean;
}

/** Self-metrics span-metrics updates (an object with methods: see generator.ts, TenantCounters). */
export interface SpanMetricsCounters {
  /** tempo_metrics_generator_spans_discarded_total{reason="span_metrics_filtered"} */
  spansFiltered(n: number): void;
}

export class SpanMetricsProcessor implements Processor {
  readonly name = 'span-metrics';
  private readonly calls: Counter | undefined;
  private readonly latency: Histogram | undefined;
  private readonly size: Counter | undefined;
  private readonly targetInfo: Gauge | undefined;
  private readonly filter: SpanFilter;
  /** Sanitized label names, computed once. */
  private readonly dimensionLabels: string[];
  private readonly mappingLabels: string[];
  private ctxs = new WeakMap<object, ResourceCtx>();
  private cachedHandles = 0;
  private epoch = -1;
  private readonly hasDimensions: boolean;
  private readonly hasFilter: boolean;

  constructor(
    private readonly cfg: SpanMetricsConfig,
    parts: SpanMetricsParts,
    private readonly registry: TenantRegistry,
    private readonly counters: SpanMetricsCounters,
  ) {
    if (parts.count) this.calls = registry.counter(SPAN_METRICS_CALLS);
    if (parts.latency) this.latency = registry.histogram(SPAN_METRICS_LATENCY, cfg.histogram_buckets);
    if (parts.size) this.size = registry.counter(SPAN_METRICS_SIZE);
    if (cfg.enable_target_info) this.targetInfo = registry.gauge(TARGET_INFO);
    this.filter = new SpanFilter(cfg.filter_policies);
    this.hasFilter = cfg.filter_policies.length > 0;
    this.dimensionLabels = cfg.dimensions.map((d) => sanitizeWithCollisions(d, INTRINSICS));
    this.mappingLabels = cfg.dimension_mappings.map((m) => sanitizeWithCollisions(m.name, INTRINSICS));
    this.hasDimensions = cfg.dimensions.length > 0 || cfg.dimension_mappings.length > 0 || cfg.intrinsic_dimensions.status_message;
  }

  private resourceCtx(resource: readonly KeyValue[], holder: object): ResourceCtx {
    let ctx = this.ctxs.get(holder);
    if (ctx) return ctx;
    const service = findAttributeString('service.name', resource) ?? '';
    const namespace = findAttributeString('service.namespace', resource) ?? '';
    const job = service === '' ? '' : namespace === '' ? service : `${namespace}/${service}`;
    const instance = findAttributeString('service.instance.id', resource) ?? '';
    ctx = { service, job, instance, byKey: new Map() };
    this.ctxs.set(holder, ctx);
    return ctx;
  }

  /** The label set of a span: built only when its series is not cached yet. */
  private labels(ctx: ResourceCtx, span: GenSpan, resource: readonly KeyValue[]): LabelBuilder {
    const cfg = this.cfg;
    const dims = cfg.intrinsic_dimensions;
    const lb = new LabelBuilder();
    if (dims.service) lb.add('service', ctx.service);
    if (dims.span_name) lb.add('span_name', span.name);
    if (dims.span_kind) lb.add('span_kind', spanKindName(span.kind));
    if (dims.status_code) lb.add('status_code', statusCodeName(span.status.code));
    if (dims.status_message) lb.add('status_message', span.status.message);
    // A dimension naming a missing attribute gives an empty label (Prometheus drops empty labels).
    for (let i = 0; i < cfg.dimensions.length; i++) lb.add(this.dimensionLabels[i]!, findAttributeString(cfg.dimensions[i]!, resource, span.attributes) ?? '');
    for (let i = 0; i < cfg.dimension_mappings.length; i++) lb.add(this.mappingLabels[i]!, this.mappingValue(i, span, resource));
    if (cfg.enable_target_info) {
      if (ctx.job) lb.add('job', ctx.job);
      if (ctx.instance && cfg.enable_instance_label) lb.add('instance', ctx.instance);
    }
    return lb;
  }

  private mappingValue(i: number, span: GenSpan, resource: readonly KeyValue[]): string {
    const m = this.cfg.dimension_mappings[i]!;
    const values: string[] = [];
    for (const source of m.source_labels) {
      const v = findAttributeString(source, resource, span.attributes);
      if (v) values.push(v);
    }
    return values.join(m.join);
  }

  /** The cache key of a span's series within its resource: everything its labels are made of but kind and status. */
  private seriesKey(span: GenSpan, resource: readonly KeyValue[]): string {
    if (!this.hasDimensions) return span.name;
    const cfg = this.cfg;
    let key = span.name;
    if (cfg.intrinsic_dimensions.status_message) key += '\xff' + span.status.message;
    for (let i = 0; i < cfg.dimensions.length; i++) key += '\xfe' + (findAttributeString(cfg.dimensions[i]!, resource, span.attributes) ?? '');
    for (let i = 0; i < cfg.dimension_mappings.length; i++) key += '\xfe' + this.mappingValue(i, span, resource);
    return key;
  }

  pushSpans(batches: readonly GenBatch[]): void {
    pushBatches(this, batches);
  }

  // State of the push in progress (beginPush .. endPush).
  private pushNow = 0;
  private filtered = 0;
  private resourceAttrs: readonly KeyValue[] = [];
  private ctx: ResourceCtx | undefined;

  beginPush(): void {
    const registry = this.registry;
    if (registry.epoch !== this.epoch || this.cachedHandles > MAX_CACHED_HANDLES) {
      // Series were removed (stale) since the handles were cached: find them again.
      this.ctxs = new WeakMap();
      this.cachedHandles = 0;
      this.epoch = registry.epoch;
    }
    this.pushNow = registry.now();
    this.filtered = 0;
    this.ctx = undefined;
  }

  resource(resource: GenBatch['resource']): void {
    this.resourceAttrs = resource.attributes;
    this.ctx = this.resourceCtx(resource.attributes, resource);
    if (this.targetInfo) this.updateTargetInfo(resource.attributes, this.ctx.job, this.ctx.instance);
  }

  span(span: GenSpan): void {
    const resource = this.resourceAttrs;
    const ctx = this.ctx!;
    if (this.hasFilter && !this.filter.keep(span, resource)) {
      this.filtered++;
      return;
    }
    const now = this.pushNow;
    const multiplierKey = this.cfg.span_multiplier_key;
    const multiplier = multiplierKey ? spanMultiplier(multiplierKey, span, resource) : 1;
    const code = span.status.code;
    const slot = span.kind < 6 && code < 3 ? span.kind * 3 + code : -1;
    const key = this.seriesKey(span, resource);
    let slots = ctx.byKey.get(key);
    let h = slot >= 0 ? slots?.[slot] : undefined;
    if (h === undefined) {
      const calls = this.calls;
      const latency = this.latency;
      const size = this.size;
      const lb = this.labels(ctx, span, resource);
      h = { calls: calls?.handle(lb, now), latency: latency?.handle(lb, now), size: size?.handle(lb, now) };
      // Only a complete set is kept: a refused series (max_active_series) is asked for again, and counted again, as Tempo does.
      if (slot >= 0 && (!calls || h.calls) && (!latency || h.latency) && (!size || h.size)) {
        if (!slots) ctx.byKey.set(key, (slots = new Array<Handles | undefined>(18)));
        slots[slot] = h;
        this.cachedHandles++;
      }
    }
    // Exemplars carry the trace ID: the decoder's view converts it once per trace.
    const traceId = h.calls || h.latency ? traceIdHexOf(span) : '';
    if (h.calls) Counter.add(h.calls, multiplier, traceId, now);
    if (h.latency) this.latency!.observeSeries(h.latency, spanDurationSeconds(span), traceId, multiplier, now);
    if (h.size) Counter.add(h.size, span.size, undefined, now);
  }

  endPush(): void {
    if (this.filtered > 0) this.counters.spansFiltered(this.filtered);
    this.filtered = 0;
  }

  /** traces_target_info: one series per resource with its attributes as labels (needs job or instance and one more). */
  private updateTargetInfo(resource: readonly KeyValue[], job: string, instance: string): void {
    const lb = new LabelBuilder();
    let attrs = 0;
    for (const kv of resource) {
      const key = kv.key;
      if (key === '' || (key.charCodeAt(0) >= 48 && key.charCodeAt(0) <= 57)) continue;
      if (key === 'service.name' || key === 'service.namespace' || key === 'service.instance.id') continue;
      if (this.cfg.target_info_excluded_dimensions.includes(key)) continue;
      lb.add(sanitizeWithCollisions(key, TARGET_INFO_RESERVED), stringifyAnyValue(kv.value));
      attrs++;
    }
    if (attrs === 0) return;
    if (job) lb.add('job', job);
    if (instance && this.cfg.enable_instance_label) lb.add('instance', instance);
    if (lb.names.length > attrs) this.targetInfo!.set(lb, 1);
  }

  shutdown(): void {}
}
