// The span-metrics processor (Tempo's modules/generator/processor/spanmetrics): RED metrics per
// service / span name / kind / status and configured dimensions.

import { bytesEqual, bytesToHex, type KeyValue } from '@andante/model';
import type { Processor } from './processor.js';
import type { GenBatch } from './span-view.js';
import type { SpanMetricsConfig } from './config.js';
import { INTRINSIC_DIMENSIONS } from './config.js';
import { LabelBuilder, sanitizeWithCollisions } from './labels.js';
import type { Counter, Gauge, Histogram, TenantRegistry } from './registry.js';
import { SpanFilter } from './span-filter.js';
import { findAttributeString, spanDurationSeconds, spanKindName, spanMultiplier, statusCodeName, stringifyAnyValue } from './span-data.js';

export const SPAN_METRICS_CALLS = 'traces_spanmetrics_calls_total';
export const SPAN_METRICS_LATENCY = 'traces_spanmetrics_latency';
export const SPAN_METRICS_SIZE = 'traces_spanmetrics_size_total';
export const TARGET_INFO = 'traces_target_info';

const INTRINSICS = new Set<string>(INTRINSIC_DIMENSIONS);
const TARGET_INFO_RESERVED = new Set<string>([...INTRINSIC_DIMENSIONS, 'job', 'instance']);

export interface SpanMetricsParts {
  count: boolean;
  latency: boolean;
  size: boolean;
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

  constructor(
    private readonly cfg: SpanMetricsConfig,
    parts: SpanMetricsParts,
    registry: TenantRegistry,
    private readonly onFiltered: (spans: number) => void,
  ) {
    if (parts.count) this.calls = registry.counter(SPAN_METRICS_CALLS);
    if (parts.latency) this.latency = registry.histogram(SPAN_METRICS_LATENCY, cfg.histogram_buckets);
    if (parts.size) this.size = registry.counter(SPAN_METRICS_SIZE);
    if (cfg.enable_target_info) this.targetInfo = registry.gauge(TARGET_INFO);
    this.filter = new SpanFilter(cfg.filter_policies);
    this.dimensionLabels = cfg.dimensions.map((d) => sanitizeWithCollisions(d, INTRINSICS));
    this.mappingLabels = cfg.dimension_mappings.map((m) => sanitizeWithCollisions(m.name, INTRINSICS));
  }

  pushSpans(batches: readonly GenBatch[]): void {
    const cfg = this.cfg;
    const dims = cfg.intrinsic_dimensions;
    let filtered = 0;
    // Spans of a segment share their trace ID: convert it to hex once.
    let lastTraceId: Uint8Array | undefined;
    let traceId = '';
    for (const rs of batches) {
      const resource = rs.resource.attributes;
      const service = findAttributeString('service.name', resource) ?? '';
      const namespace = findAttributeString('service.namespace', resource) ?? '';
      const job = service === '' ? '' : namespace === '' ? service : `${namespace}/${service}`;
      const instance = findAttributeString('service.instance.id', resource) ?? '';
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          if (!this.filter.keep(span, resource)) {
            filtered++;
            continue;
          }
          const lb = new LabelBuilder();
          if (dims.service) lb.add('service', service);
          if (dims.span_name) lb.add('span_name', span.name);
          if (dims.span_kind) lb.add('span_kind', spanKindName(span.kind));
          if (dims.status_code) lb.add('status_code', statusCodeName(span.status.code));
          if (dims.status_message) lb.add('status_message', span.status.message);
          // A dimension naming a missing attribute gives an empty label (Prometheus drops empty labels).
          for (let i = 0; i < cfg.dimensions.length; i++) lb.add(this.dimensionLabels[i]!, findAttributeString(cfg.dimensions[i]!, resource, span.attributes) ?? '');
          for (let i = 0; i < cfg.dimension_mappings.length; i++) {
            const m = cfg.dimension_mappings[i]!;
            const values: string[] = [];
            for (const source of m.source_labels) {
              const v = findAttributeString(source, resource, span.attributes);
              if (v) values.push(v);
            }
            lb.add(this.mappingLabels[i]!, values.join(m.join));
          }
          if (cfg.enable_target_info) {
            if (job) lb.add('job', job);
            if (instance && cfg.enable_instance_label) lb.add('instance', instance);
          }
          const multiplier = spanMultiplier(cfg.span_multiplier_key, span, resource);
          if (!lastTraceId || !bytesEqual(lastTraceId, span.traceId)) {
            lastTraceId = span.traceId;
            traceId = bytesToHex(span.traceId);
          }
          this.calls?.inc(lb, multiplier, traceId);
          this.latency?.observe(lb, spanDurationSeconds(span), traceId, multiplier);
          this.size?.inc(lb, span.size);
        }
      }
      if (this.targetInfo) this.updateTargetInfo(resource, job, instance);
    }
    if (filtered > 0) this.onFiltered(filtered);
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
