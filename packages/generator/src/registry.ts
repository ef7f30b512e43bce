// One tenant's metric registry: counters, classic-bucket histograms and gauges keyed by label
// set, with Tempo's series limit (max_active_series), stale-series removal and one exemplar per
// series (per bucket for histograms), collected every collection_interval into remote_write
// time series. Memory is bounded by max_active_series: a series over the limit is never created.

import type { LabelBuilder } from './labels.js';

export interface Exemplar {
  traceId: string;
  value: number;
  timestampMs: number;
}

/** A remote_write TimeSeries: labels sorted by name, `__name__` included. */
export interface TimeSeries {
  labels: [string, string][];
  samples: { value: number; timestampMs: number }[];
  exemplars: Exemplar[];
}

export const METRICS_GEN_INSTANCE_LABEL = '__metrics_gen_instance';

export interface RegistryOptions {
  tenant: string;
  staleDurationMs: number;
  externalLabels: Record<string, string>;
  /**
   * Tempo's `__metrics_gen_instance` label on every series: this generator's instance ID. Two
   * generators hold series of the same name and labels (a tenant's spans are spread over them);
   * without it Prometheus takes them for one series and refuses one side's samples as out of
   * order. Empty: not added (an external label of that name wins too).
   */
  generatorInstance?: string;
  injectTenantIdAs: string;
  maxLabelNameLength: number;
  maxLabelValueLength: number;
  /** Read on every new series so an overrides reload applies at once (0 = unlimited). */
  maxActiveSeries: () => number;
  /** Exemplar label name; Tempo's default is `traceID`. */
  traceIdLabelName?: string;
  onSeriesLimited?: () => void;
  now?: () => number;
}

export interface Collected {
  /** First appearance of a counter or histogram: a 0 sample at the end of the previous minute,
   * so increase() sees the first increment. Sent apart from `series`: Prometheus refuses a whole
   * request when one sample is out of order, which these can be after a restart. */
  initial: TimeSeries[];
  series: TimeSeries[];
}

interface SeriesBase {
  labels: [string, string][];
  lastUpdatedMs: number;
  isNew: boolean;
  /** False once removed (stale, or its metric replaced): a processor's cached handle to it is dead. */
  live: boolean;
}
/** Exemplar fields are kept inline (no object per update); exTraceId '' = none since the last collection. */
export interface ScalarSeries extends SeriesBase {
  value: number;
  exTraceId: string;
  exValue: number;
  exTs: number;
}
export interface HistogramSeries extends SeriesBase {
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
  /** The latest exemplar per bucket: trace ID ('' = none), value, timestamp. */
  exTraceIds: string[];
  exValues: Float64Array;
  exTs: Float64Array;
}

abstract class Metric<S extends SeriesBase> {
  readonly series = new Map<string, S>();
  constructor(
    protected readonly registry: TenantRegistry,
    readonly name: string,
    /** Prometheus series one entry stands for. */
    readonly seriesCost: number,
  ) {}

  protected resolve(lb: LabelBuilder, create: (labels: [string, string][]) => S, nowMs = this.registry.now()): S | undefined {
    const key = lb.key();
    let s = this.series.get(key);
    if (!s) {
      if (!this.registry.admit(this.seriesCost)) return undefined;
      s = create(this.registry.buildLabels(lb));
      this.series.set(key, s);
    }
    s.lastUpdatedMs = nowMs;
    return s;
  }

  removeStale(cutoffMs: number): number {
    let removed = 0;
    for (const [key, s] of this.series) {
      if (s.lastUpdatedMs < cutoffMs) {
        this.series.delete(key);
        s.live = false;
        removed += this.seriesCost;
      }
    }
    return removed;
  }

  abstract collect(timestampMs: number, out: Collected): void;
}

const withName = (labels: [string, string][], name: string, extra?: [string, string]): [string, string][] => {
  // An empty value is no label at all in Prometheus; leave it out.
  const out: [string, string][] = [['__name__', name], ...labels.filter((l) => l[1] !== '')];
  if (extra) out.push(extra);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
};
const endOfPreviousMinute = (ms: number): number => Math.floor(ms / 60_000) * 60_000 - 1;

const newScalar = (labels: [string, string][], isNew: boolean): ScalarSeries => ({ labels, lastUpdatedMs: 0, isNew, live: true, value: 0, exTraceId: '', exValue: 0, exTs: 0 });

export class Counter extends Metric<ScalarSeries> {
  constructor(registry: TenantRegistry, name: string) {
    super(registry, name, 1);
  }
  /** Adds `value`; an exemplar (value 1, as Tempo's counters would carry) when a trace ID is given. */
  inc(lb: LabelBuilder, value: number, traceId?: string): void {
    const s = this.handle(lb);
    if (s) Counter.add(s, value, traceId, s.lastUpdatedMs);
  }
  /** The series for these labels (created if admitted), for a processor to keep and update with add(). */
  handle(lb: LabelBuilder, nowMs?: number): ScalarSeries | undefined {
    return this.resolve(lb, (labels) => newScalar(labels, true), nowMs);
  }
  static add(s: ScalarSeries, value: number, traceId: string | undefined, nowMs: number): void {
    s.value += value;
    s.lastUpdatedMs = nowMs;
    if (traceId) {
      s.exTraceId = traceId;
      s.exValue = 1;
      s.exTs = nowMs;
    }
  }
  collect(ts: number, out: Collected): void {
    for (const s of this.series.values()) {
      const labels = withName(s.labels, this.name);
      if (s.isNew) {
        out.initial.push({ labels, samples: [{ value: 0, timestampMs: endOfPreviousMinute(ts) }], exemplars: [] });
        s.isNew = false;
      }
      out.series.push({ labels, samples: [{ value: s.value, timestampMs: ts }], exemplars: s.exTraceId ? [{ traceId: s.exTraceId, value: s.exValue, timestampMs: s.exTs }] : [] });
      s.exTraceId = ''; // sent once
    }
  }
}

export class Gauge extends Metric<ScalarSeries> {
  constructor(registry: TenantRegistry, name: string) {
    super(registry, name, 1);
  }
  set(lb: LabelBuilder, value: number): void {
    const s = this.resolve(lb, (labels) => newScalar(labels, false));
    if (s) s.value = value;
  }
  collect(ts: number, out: Collected): void {
    for (const s of this.series.values()) out.series.push({ labels: withName(s.labels, this.name), samples: [{ value: s.value, timestampMs: ts }], exemplars: [] });
  }
}

export class Histogram extends Metric<HistogramSeries> {
  private readonly les: string[];
  private readonly bounds: Float64Array;
  constructor(
    registry: TenantRegistry,
    name: string,
    readonly buckets: readonly number[],
  ) {
    // One series per bucket, +Inf, _sum and _count.
    super(registry, name, buckets.length + 3);
    this.les = [...buckets.map(formatLe), '+Inf'];
    this.bounds = Float64Array.from(buckets);
  }

  observe(lb: LabelBuilder, value: number, traceId?: string, multiplier = 1): void {
    const s = this.handle(lb);
    if (s) this.observeSeries(s, value, traceId, multiplier, s.lastUpdatedMs);
  }

  handle(lb: LabelBuilder, nowMs?: number): HistogramSeries | undefined {
    const n = this.buckets.length + 1;
    return this.resolve(
      lb,
      (labels) => ({ labels, lastUpdatedMs: 0, isNew: true, live: true, counts: new Float64Array(n), sum: 0, count: 0, exTraceIds: new Array<string>(n).fill(''), exValues: new Float64Array(n), exTs: new Float64Array(n) }),
      nowMs,
    );
  }

  observeSeries(s: HistogramSeries, value: number, traceId: string | undefined, multiplier: number, nowMs: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    s.counts[i]! += multiplier;
    s.sum += value * multiplier;
    s.count += multiplier;
    s.lastUpdatedMs = nowMs;
    // Tempo keeps the latest exemplar per bucket.
    if (traceId) {
      s.exTraceIds[i] = traceId;
      s.exValues[i] = value;
      s.exTs[i] = nowMs;
    }
  }

  collect(ts: number, out: Collected): void {
    const init = endOfPreviousMinute(ts);
    for (const s of this.series.values()) {
      const countLabels = withName(s.labels, `${this.name}_count`);
      if (s.isNew) out.initial.push({ labels: countLabels, samples: [{ value: 0, timestampMs: init }], exemplars: [] });
      out.series.push({ labels: withName(s.labels, `${this.name}_sum`), samples: [{ value: s.sum, timestampMs: ts }], exemplars: [] });
      out.series.push({ labels: countLabels, samples: [{ value: s.count, timestampMs: ts }], exemplars: [] });
      let cumulative = 0;
      for (let i = 0; i < this.les.length; i++) {
        cumulative += s.counts[i]!;
        const labels = withName(s.labels, `${this.name}_bucket`, ['le', this.les[i]!]);
        if (s.isNew) out.initial.push({ labels, samples: [{ value: 0, timestampMs: init }], exemplars: [] });
        const ex = s.exTraceIds[i]!;
        out.series.push({ labels, samples: [{ value: cumulative, timestampMs: ts }], exemplars: ex ? [{ traceId: ex, value: s.exValues[i]!, timestampMs: s.exTs[i]! }] : [] });
        s.exTraceIds[i] = '';
      }
      s.isNew = false;
    }
  }
}

/** Prometheus formats `le` with Go's strconv 'g'-like shortest form: 0.002, 16.384, 1e-05. */
function formatLe(v: number): string {
  return String(v);
}

type AnyMetric = Counter | Gauge | Histogram;

export class TenantRegistry {
  readonly now: () => number;
  private readonly metrics = new Map<string, AnyMetric>();
  private active = 0;
  /** Bumped whenever series are removed: processors drop the handles they cached. */
  epoch = 0;
  private readonly fixedLabels: [string, string][];
  private readonly traceIdLabel: string;

  constructor(private readonly opts: RegistryOptions) {
    this.now = opts.now ?? Date.now;
    this.traceIdLabel = opts.traceIdLabelName ?? 'traceID';
    this.fixedLabels = Object.entries(opts.externalLabels).map(([k, v]): [string, string] => [k, v]);
    if (opts.generatorInstance && !(METRICS_GEN_INSTANCE_LABEL in opts.externalLabels)) this.fixedLabels.push([METRICS_GEN_INSTANCE_LABEL, opts.generatorInstance]);
    if (opts.injectTenantIdAs) this.fixedLabels.push([opts.injectTenantIdAs, opts.tenant]);
  }

  get tenant(): string {
    return this.opts.tenant;
  }
  get traceIdLabelName(): string {
    return this.traceIdLabel;
  }
  /** Prometheus series the registry holds (a histogram entry counts buckets + 3). */
  get activeSeries(): number {
    return this.active;
  }

  counter(name: string): Counter {
    const m = this.metrics.get(name) ?? this.add(new Counter(this, name));
    if (!(m instanceof Counter)) throw new Error(`metric ${name} is already registered with another type`);
    return m;
  }
  gauge(name: string): Gauge {
    const m = this.metrics.get(name) ?? this.add(new Gauge(this, name));
    if (!(m instanceof Gauge)) throw new Error(`metric ${name} is already registered with another type`);
    return m;
  }
  histogram(name: string, buckets: readonly number[]): Histogram {
    const m = this.metrics.get(name) ?? this.add(new Histogram(this, name, buckets));
    if (!(m instanceof Histogram)) throw new Error(`metric ${name} is already registered with another type`);
    if (m.buckets.length === buckets.length && m.buckets.every((b, i) => b === buckets[i])) return m;
    // New buckets (an overrides change): the old series cannot continue under the same name.
    this.active -= m.removeStale(Infinity);
    this.epoch++;
    return this.add(new Histogram(this, name, buckets));
  }

  private add<M extends AnyMetric>(m: M): M {
    this.metrics.set(m.name, m);
    return m;
  }

  /** Whether a new entry costing `cost` series may be created; refusals are counted. */
  admit(cost: number): boolean {
    const max = this.opts.maxActiveSeries();
    if (max > 0 && this.active + cost > max) {
      this.opts.onSeriesLimited?.();
      return false;
    }
    this.active += cost;
    return true;
  }

  /** Truncates names and values to the configured lengths and adds external labels. */
  buildLabels(lb: LabelBuilder): [string, string][] {
    const out: [string, string][] = [];
    const maxName = this.opts.maxLabelNameLength;
    const maxValue = this.opts.maxLabelValueLength;
    for (let i = 0; i < lb.names.length; i++) {
      const name = lb.names[i]!;
      const value = lb.values[i]!;
      out.push([name.length > maxName ? name.slice(0, maxName) : name, value.length > maxValue ? value.slice(0, maxValue) : value]);
    }
    for (const l of this.fixedLabels) out.push([l[0], l[1]]);
    return out;
  }

  /** Series not updated for stale_duration are dropped (Tempo's removeStaleSeries). */
  removeStaleSeries(): number {
    const cutoff = this.now() - this.opts.staleDurationMs;
    let removed = 0;
    for (const m of this.metrics.values()) removed += m.removeStale(cutoff);
    this.active -= removed;
    if (removed > 0) this.epoch++;
    return removed;
  }

  collect(timestampMs = this.now()): Collected {
    const out: Collected = { initial: [], series: [] };
    for (const m of this.metrics.values()) m.collect(timestampMs, out);
    return out;
  }
}
