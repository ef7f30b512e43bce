// TraceQL metrics, step (a) and (b): a query is compiled once into leaves (the first-stage
// functions of its expression); a MetricsAccumulator observes the spans a leaf's pipeline returns
// (the search engine's own matching: the same compiled pipeline closures) and keeps per-series,
// per-interval state that merges exactly: counts, sums, min, max, bucket counts, exemplars.
// partial() turns it into plain data (typed arrays) for a worker, a process or the wire;
// MetricsMerger adds partials from many jobs. finalize.ts turns the merged state into series.

import type { AnyValue, ExemplarPartial, FetchCondition, KeyValue, MetricsPartial, SeriesPartial, SpanColumnBatch, SpanColumnRef, SpanColumnsRequest, Trace } from '@andante/model';
import { bytesToHex } from '@andante/model';
import type { AttributeRef, FieldExpression, MetricsAggregateOp, MetricsCompare, MetricsExpression, MetricsQuery, RootExpr } from '../ast.js';
import { isMetricsQuery } from '../ast.js';
import { parse } from '../parse.js';
import { printAttribute } from '../stringer.js';
import { validate } from '../validate.js';
import { TraceQLError } from '../errors.js';
import { compileRegex } from '../regex.js';
import { fetchValue } from '../engine/conditions.js';
import type { EvalSpan, EvalTrace } from '../engine/eval-trace.js';
import { buildEvalTrace } from '../engine/eval-trace.js';
import { EvalContext, FieldCompiler, type BoolNode, type ValueNode } from '../engine/field.js';
import { PipelineCompiler, type TraceStage } from '../engine/pipeline.js';
import { T_ARR, T_DUR, T_FLOAT, T_INT, T_NIL, T_STATUS, T_KIND, T_STR, anyToValue, groupKey, typeOf, typeOfDyn, valueToAny } from '../engine/values.js';
import { IntervalMapper, type MetricsRange } from './range.js';
import { addTo, countsToFlat, log2Bucket, mergeFlat, sketchKey, type CountMap } from './sketch.js';

/** A query that is not a metrics query, sent to the metrics API. */
export class NotMetricsQueryError extends TraceQLError {
  readonly code = 'TRACEQL_NOT_METRICS_QUERY';
  override readonly name = 'NotMetricsQueryError';
  constructor() {
    super('not a metrics query: add a metrics function, e.g. `{ } | rate()`; searches go to /api/search');
  }
}

/** What a leaf keeps per series and interval. */
type Kind = 'count' | 'sum' | 'min' | 'max' | 'avg' | 'quantile' | 'histogram' | 'compare';

const KIND_OF: Readonly<Record<MetricsAggregateOp, Kind>> = {
  rate: 'count',
  count_over_time: 'count',
  sum_over_time: 'sum',
  min_over_time: 'min',
  max_over_time: 'max',
  avg_over_time: 'avg',
  quantile_over_time: 'quantile',
  histogram_over_time: 'histogram',
};

/** One first-stage function of the expression and the spans it reads. */
export interface LeafPlan {
  readonly index: number;
  readonly query: MetricsQuery;
  readonly kind: Kind;
  /** rate / count_over_time / ...: the series name of ungrouped results. */
  readonly name: string;
  /** Values are durations in ns (shown in seconds). */
  readonly durationValue: boolean;
  /** The columnar form, when storage can evaluate the whole leaf from columns exactly. */
  readonly columns: SpanColumnsRequest | null;
}

export interface MetricsPlan {
  readonly text: string;
  readonly root: RootExpr;
  readonly expr: MetricsExpression;
  readonly leaves: readonly LeafPlan[];
  /** Hints Andante accepts and ignores (`sample`, `span_sample`, ...: it never samples). */
  readonly ignoredHints: readonly string[];
}

/** Leaves in left-to-right order of the expression. */
function collectLeaves(e: MetricsExpression, out: MetricsQuery[]): void {
  if (e.kind === 'metricsQuery') out.push(e);
  else if (e.kind === 'metricsMath') {
    collectLeaves(e.lhs, out);
    collectLeaves(e.rhs, out);
  }
}

const COLUMN_INTRINSICS: ReadonlySet<string> = new Set(['name', 'status', 'kind', 'duration']);

/** The `&&` operands of a filter expression, or null when it has another shape. */
function conjuncts(e: FieldExpression, out: FieldExpression[]): boolean {
  if (e.kind === 'binary' && e.op === '&&') return conjuncts(e.lhs, out) && conjuncts(e.rhs, out);
  out.push(e);
  return true;
}

/**
 * One conjunct as a condition storage evaluates exactly on a column, or null. Only shapes whose
 * column test equals the engine's semantics: name = / =~ (always present), status = , kind = ,
 * duration compared with a number, resource attributes = / =~ (storage refuses the scan if a
 * resource holds an array there: TraceQL matches inside arrays).
 */
function columnCondition(e: FieldExpression): FetchCondition | null {
  if (e.kind === 'static' && e.type === 'bool' && e.value) return null;
  if (e.kind !== 'binary') return null;
  let ref = e.lhs;
  let lit = e.rhs;
  let op = e.op;
  if (ref.kind === 'static' && (lit.kind === 'attribute' || lit.kind === 'intrinsic') && (op === '=' || op === '<' || op === '<=' || op === '>' || op === '>=')) {
    [ref, lit] = [lit, ref];
    op = ({ '=': '=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' } as const)[op];
  }
  if (lit.kind !== 'static') return null;
  const value = fetchValue(lit);
  if (value === undefined) return null;
  if (ref.kind === 'intrinsic') {
    switch (ref.name) {
      case 'name':
        if (op === '=' && lit.type === 'string') return { scope: 'intrinsic', name: 'name', op, value };
        if (op === '=~' && lit.type === 'string') return regexCondition('intrinsic', 'name', lit.value);
        return null;
      case 'status':
        return op === '=' && lit.type === 'status' ? { scope: 'intrinsic', name: 'status', op, value } : null;
      case 'kind':
        return op === '=' && lit.type === 'kind' ? { scope: 'intrinsic', name: 'kind', op, value } : null;
      case 'duration':
        if ((lit.type === 'duration' || lit.type === 'int' || lit.type === 'float') && (op === '=' || op === '<' || op === '<=' || op === '>' || op === '>=')) {
          return { scope: 'intrinsic', name: 'duration', op, value };
        }
        return null;
      default:
        return null;
    }
  }
  if (ref.kind === 'attribute' && ref.scope === 'resource' && !ref.parent) {
    if (op === '=' && (lit.type === 'string' || lit.type === 'bool' || lit.type === 'int' || lit.type === 'float')) return { scope: 'resource', name: ref.name, op, value };
    if (op === '=~' && lit.type === 'string') return regexCondition('resource', ref.name, lit.value);
  }
  return null;
}

function regexCondition(scope: 'intrinsic' | 'resource', name: string, pattern: string): FetchCondition | null {
  try {
    const re = compileRegex(pattern);
    return { scope, name, op: '=~', value: pattern, matches: (s) => re.test(s) };
  } catch {
    return null;
  }
}

function columnRef(r: AttributeRef): SpanColumnRef | null {
  if (r.kind === 'intrinsic') return COLUMN_INTRINSICS.has(r.name) ? ({ scope: 'intrinsic', name: r.name as 'name' } as SpanColumnRef) : null;
  if (r.scope === 'resource' && !r.parent) return { scope: 'resource', name: r.name };
  return null;
}

/** The leaf as a columnar scan, when storage can answer it exactly from columns. */
function columnPlan(q: MetricsQuery): SpanColumnsRequest | null {
  if (q.firstStage.kind !== 'metricsAggregate') return null;
  if (q.pipeline.elements.length !== 1) return null;
  const f = q.pipeline.elements[0]!;
  if (f.kind !== 'spansetFilter') return null;
  const parts: FieldExpression[] = [];
  if (!conjuncts(f.expr, parts)) return null;
  const conditions: FetchCondition[] = [];
  for (const p of parts) {
    if (p.kind === 'static' && p.type === 'bool' && p.value) continue; // `{ }`
    const c = columnCondition(p);
    if (!c) return null;
    conditions.push(c);
  }
  const groups: SpanColumnRef[] = [];
  for (const b of q.firstStage.by) {
    const r = columnRef(b);
    if (!r) return null;
    groups.push(r);
  }
  let value: SpanColumnRef | null = null;
  if (q.firstStage.attribute) {
    const a = q.firstStage.attribute;
    if (a.kind !== 'intrinsic' || a.name !== 'duration') return null;
    value = { scope: 'intrinsic', name: 'duration' };
  }
  return { conditions, groups, value, startNs: 0, endNs: 0, baseNs: 0n };
}

/** Hints accepted and ignored: Andante never samples (counts and sums are exact), nor extrapolates. */
const IGNORED_HINTS: ReadonlySet<string> = new Set(['sample', 'span_sample', 'trace_sample', 'extrapolate', 'most_recent']);

/** Parses, validates and plans a metrics query (a 400-class error for anything else). */
export function planMetricsQuery(text: string): MetricsPlan {
  const root = parse(text);
  validate(root);
  if (!isMetricsQuery(root)) throw new NotMetricsQueryError();
  const expr = root.query as MetricsExpression;
  const queries: MetricsQuery[] = [];
  collectLeaves(expr, queries);
  const leaves = queries.map((query, index): LeafPlan => {
    const fs = query.firstStage;
    if (fs.kind === 'compare') return { index, query, kind: 'compare', name: 'compare', durationValue: false, columns: null };
    const durationValue = fs.attribute !== null && fs.attribute.kind === 'intrinsic' && (fs.attribute.name === 'duration' || fs.attribute.name === 'traceDuration' || fs.attribute.name === 'event:timeSinceStart');
    return { index, query, kind: KIND_OF[fs.op], name: fs.op, durationValue, columns: columnPlan(query) };
  });
  return { text, root, expr, leaves, ignoredHints: root.hints.filter((h) => IGNORED_HINTS.has(h.name)).map((h) => h.name) };
}

// ------------------------------------------------------------------------------------------------
// Series state

/** Tempo keeps at most 2 exemplars per time bucket, buckets = exemplars / 2 over the range. */
const EXEMPLARS_PER_BUCKET = 2;

/** Spreads a series' exemplars over the range (Tempo's bucketSet). */
export class ExemplarBuckets {
  private readonly counts: Int32Array;
  private total = 0;
  private readonly startMs: number;
  private readonly width: number;

  constructor(
    private readonly max: number,
    startMs: number,
    endMs: number,
  ) {
    const buckets = Math.max(1, Math.floor(max / EXEMPLARS_PER_BUCKET));
    this.counts = new Int32Array(buckets);
    this.startMs = startMs;
    this.width = Math.max(1, Math.floor((endMs - startMs) / buckets));
  }

  get full(): boolean {
    return this.total >= this.max;
  }

  /** Whether an exemplar at `ms` is wanted; if so it is counted. */
  take(ms: number): boolean {
    if (this.total >= this.max) return false;
    const i = Math.min(this.counts.length - 1, Math.max(0, Math.floor((ms - this.startMs) / this.width)));
    if (this.counts[i]! >= EXEMPLARS_PER_BUCKET) return false;
    this.counts[i]!++;
    this.total++;
    return true;
  }
}

/** Per-series state, while accumulating and while merging. */
export class SeriesState {
  readonly count: Float64Array;
  readonly sum: Float64Array | null;
  readonly min: Float64Array | null;
  readonly max: Float64Array | null;
  readonly dist: (CountMap | undefined)[] | null;
  readonly exemplars: ExemplarPartial[] = [];
  exemplarBuckets: ExemplarBuckets | null = null;

  constructor(
    readonly key: string,
    readonly labels: KeyValue[],
    kind: Kind,
    intervals: number,
  ) {
    this.count = new Float64Array(intervals);
    const value = kind === 'sum' || kind === 'avg';
    this.sum = value ? new Float64Array(intervals) : null;
    this.min = kind === 'min' ? new Float64Array(intervals).fill(Infinity) : null;
    this.max = kind === 'max' ? new Float64Array(intervals).fill(-Infinity) : null;
    this.dist = kind === 'quantile' || kind === 'histogram' ? new Array<CountMap | undefined>(intervals) : null;
  }

  toPartial(): SeriesPartial {
    return {
      key: this.key,
      labels: this.labels,
      count: this.count,
      sum: this.sum,
      min: this.min,
      max: this.max,
      dist: this.dist ? Array.from(this.dist, (m) => (m ? countsToFlat(m) : null)) : null,
      exemplars: this.exemplars,
    };
  }

  merge(p: SeriesPartial): void {
    const n = this.count.length;
    for (let i = 0; i < n; i++) this.count[i]! += p.count[i]!;
    if (this.sum && p.sum) for (let i = 0; i < n; i++) this.sum[i]! += p.sum[i]!;
    if (this.min && p.min) for (let i = 0; i < n; i++) if (p.min[i]! < this.min[i]!) this.min[i] = p.min[i]!;
    if (this.max && p.max) for (let i = 0; i < n; i++) if (p.max[i]! > this.max[i]!) this.max[i] = p.max[i]!;
    if (this.dist && p.dist) {
      for (let i = 0; i < n; i++) {
        const f = p.dist[i];
        if (f && f.length > 0) mergeFlat((this.dist[i] ??= new Map()), f);
      }
    }
    for (const e of p.exemplars) this.exemplars.push(e);
  }
}

// ------------------------------------------------------------------------------------------------
// Accumulation

const NIL_LABEL: AnyValue = {};

/** A by() reference compiled to the engine's value closure. */
interface GroupRef {
  label: string;
  node: ValueNode;
}

function labelValue(t: number, v: unknown): AnyValue {
  return valueToAny(t, v);
}

/** Leaf accumulation over whole traces (and columns). */
class LeafAccumulator {
  readonly series = new Map<string, SeriesState>();
  private readonly run: TraceStage;
  private readonly groups: GroupRef[];
  private readonly value: ValueNode | null;
  private readonly compare: { test: BoolNode; start: bigint; end: bigint; topN: number } | null;
  private readonly keyParts: string[];
  /** The range's start as float64 (exemplar timestamps and windows only need ms). */
  private readonly base: number;
  private readonly typeBuf: number[];
  private readonly valBuf: unknown[];

  constructor(
    readonly plan: LeafPlan,
    ctx: EvalContext,
    private readonly mapper: IntervalMapper,
    private readonly exemplars: number,
    private readonly window: { start: number; end: number } | null,
  ) {
    const fields = new FieldCompiler(ctx);
    this.run = new PipelineCompiler(ctx, fields).root(plan.query.pipeline);
    const fs = plan.query.firstStage;
    if (fs.kind === 'metricsAggregate') {
      this.groups = fs.by.map((r) => ({ label: printAttribute(r), node: fields.refValue(r) }));
      this.value = fs.attribute ? fields.refValue(fs.attribute) : null;
      this.compare = null;
    } else {
      this.groups = [];
      this.value = null;
      this.compare = { test: fields.test((fs as MetricsCompare).filter.expr), start: fs.start, end: fs.end, topN: fs.topN };
    }
    this.base = Number(mapper.range.startNs);
    this.keyParts = new Array<string>(this.groups.length);
    this.typeBuf = new Array<number>(this.groups.length);
    this.valBuf = new Array<unknown>(this.groups.length);
  }

  private newSeries(key: string, labels: KeyValue[]): SeriesState {
    const s = new SeriesState(key, labels, this.plan.kind, this.mapper.count);
    if (this.exemplars > 0) {
      const r = this.mapper.range;
      s.exemplarBuckets = new ExemplarBuckets(this.exemplars, Number(r.startNs / 1_000_000n), Number(r.endNs / 1_000_000n));
    }
    this.series.set(key, s);
    return s;
  }

  /** The series of a group (values in typeBuf/valBuf), created on first use. */
  private seriesFor(): SeriesState {
    const n = this.groups.length;
    if (n === 0) {
      const s = this.series.get('');
      return s ?? this.newSeries('', [{ key: '__name__', value: { stringValue: this.plan.name } }]);
    }
    for (let i = 0; i < n; i++) this.keyParts[i] = groupKey(this.typeBuf[i]!, this.valBuf[i]);
    const key = this.keyParts.join('\u0000');
    const s = this.series.get(key);
    if (s) return s;
    // Tempo's labelsFor: nil values are left out; all nil keeps the first label, as nil.
    const labels: KeyValue[] = [];
    for (let i = 0; i < n; i++) if (this.typeBuf[i] !== T_NIL) labels.push({ key: this.groups[i]!.label, value: labelValue(this.typeBuf[i]!, this.valBuf[i]) });
    if (labels.length === 0) labels.push({ key: this.groups[0]!.label, value: NIL_LABEL });
    return this.newSeries(key, labels);
  }

  /** Adds one observation; returns the series when it wants this span as an exemplar. */
  private observe(s: SeriesState, i: number, v: number, startNs: number): boolean {
    s.count[i]!++;
    switch (this.plan.kind) {
      case 'sum':
      case 'avg':
        s.sum![i]! += v;
        break;
      case 'min':
        if (v < s.min![i]!) s.min![i] = v;
        break;
      case 'max':
        if (v > s.max![i]!) s.max![i] = v;
        break;
      case 'quantile':
        addTo((s.dist![i] ??= new Map()), sketchKey(v), 1);
        break;
      case 'histogram': {
        const b = log2Bucket(v);
        addTo((s.dist![i] ??= new Map()), b === null ? HISTOGRAM_LOW : b, 1);
        break;
      }
      default:
        break;
    }
    const eb = s.exemplarBuckets;
    return eb !== null && !eb.full && eb.take(Math.floor(startNs / 1e6));
  }

  /** Within the job's time slice; `off` from the range's start (exact), window bounds likewise. */
  private inWindow(off: number): boolean {
    const w = this.window;
    return w === null || (off > w.start && off <= w.end);
  }

  /** A span's value for *_over_time, or NaN when it has none (Tempo skips such spans). */
  private valueOf(s: EvalSpan): number {
    const node = this.value!;
    const raw = node.fn(s);
    const t = typeOf(node.type, raw);
    if (t === T_INT || t === T_DUR) return Number(raw as bigint);
    if (t === T_FLOAT) return raw as number;
    return NaN;
  }

  observeTrace(t: EvalTrace): number {
    const sets = this.run(t);
    if (sets.length === 0) return 0;
    let spans: Iterable<EvalSpan>;
    if (sets.length === 1) spans = sets[0]!.spans;
    else {
      const all = new Set<EvalSpan>();
      for (const ss of sets) for (const s of ss.spans) all.add(s);
      spans = all;
    }
    let n = 0;
    for (const s of spans) {
      n++;
      const off = this.mapper.offsetOf(s.startTimeUnixNano);
      const i = this.mapper.intervalOf(off);
      const ts = off + this.base;
      if (i < 0 || !this.inWindow(off)) continue;
      if (this.compare) {
        this.observeCompare(s, i);
        continue;
      }
      let v = 0;
      if (this.value) {
        v = this.valueOf(s);
        if (Number.isNaN(v)) continue;
      }
      for (let g = 0; g < this.groups.length; g++) {
        const node = this.groups[g]!.node;
        const raw = node.fn(s);
        this.typeBuf[g] = typeOf(node.type, raw);
        this.valBuf[g] = raw;
      }
      const series = this.seriesFor();
      if (this.observe(series, i, v, ts)) {
        series.exemplars.push({ traceId: bytesToHex(t.traceId).padStart(32, '0'), spanId: bytesToHex(s.spanId), timestampMs: Math.floor(ts / 1e6), value: this.exemplarValue(v) });
      }
    }
    return n;
  }

  private exemplarValue(v: number): number {
    if (!this.value) return NaN;
    return this.plan.durationValue ? v / 1e9 : v;
  }

  /** compare(): counts per attribute value, for the selection and the baseline, and totals per attribute. */
  private observeCompare(s: EvalSpan, i: number): void {
    const c = this.compare!;
    let selected = false;
    if (c.start > 0n && c.end > 0n) selected = s.startTimeUnixNano > c.start && s.startTimeUnixNano <= c.end && c.test.fn(s);
    else selected = c.test.fn(s);
    const type = selected ? 'selection' : 'baseline';
    const add = (attr: string, t: number, v: unknown): void => {
      if (t === T_NIL || t === T_DUR || t === T_ARR) return;
      const key = `${type}\u0000${attr}\u0000${groupKey(t, v)}`;
      let series = this.series.get(key);
      series ??= this.newSeries(key, [{ key: '__meta_type', value: { stringValue: type } }, { key: attr, value: labelValue(t, v) }]);
      series.count[i]!++;
      const totalKey = `${type}_total\u0000${attr}`;
      let total = this.series.get(totalKey);
      total ??= this.newSeries(totalKey, [{ key: '__meta_type', value: { stringValue: `${type}_total` } }, { key: attr, value: NIL_LABEL }]);
      total.count[i]!++;
    };
    add('name', T_STR, s.name);
    add('status', T_STATUS, s.statusCode);
    add('kind', T_KIND, s.kind);
    for (const [k, v] of s.resource) {
      const x = anyToValue(v);
      add(`resource.${k}`, typeOfDyn(x), x);
    }
    for (const [k, v] of s.attrs) {
      const x = anyToValue(v);
      add(`span.${k}`, typeOfDyn(x), x);
    }
  }

  /**
   * A row group's columns (the columnar plan): rows that pass the mask, in the window and range,
   * are observed; exemplar rows get their IDs afterwards.
   */
  async observeColumns(b: SpanColumnBatch, refs: readonly SpanColumnRef[]): Promise<number> {
    const mask = b.mask;
    const starts = b.startOffsetNs;
    const values = b.value;
    const n = this.groups.length;
    const groupTypes = refs.map((r) => columnType(r));
    const wanted: { row: number; series: SeriesState; ts: number; v: number }[] = [];
    let observed = 0;
    // Group codes -> series, cached per distinct code tuple (one Map lookup per row otherwise).
    const single: (SeriesState | undefined)[] | null = n === 1 ? [] : null;
    let none: SeriesState | null = null;
    // The hot loop: the interval rule of IntervalMapper.intervalOf inlined for range queries.
    const mapper = this.mapper;
    const instant = mapper.range.instant;
    const endOff = Number(mapper.range.endNs - mapper.range.startNs);
    const stepF = Number(mapper.range.stepNs) || 1;
    const last = mapper.count - 1;
    const lo = this.window === null ? 0 : Math.max(0, this.window.start);
    const hi = this.window === null ? endOff : Math.min(endOff, this.window.end);
    const countOnly = this.plan.kind === 'count';
    for (let r = 0; r < b.rows; r++) {
      if (mask !== null && mask[r] === 0) continue;
      observed++;
      const off = starts[r]!;
      let i: number;
      if (instant) {
        i = mapper.intervalOf(off);
        if (i < 0 || !this.inWindow(off)) continue;
      } else {
        if (!(off > lo && off <= hi) || last < 0) continue;
        i = Math.ceil(off / stepF) - 1;
        if (i > last) i = last;
        else if (i < 0) i = 0;
      }
      const ts = off + this.base;
      const v = values === null ? 0 : values[r]!;
      let series: SeriesState;
      if (n === 0) series = none ??= this.seriesFor();
      else if (single !== null) {
        const code = b.groups[0]!.codes[r]!;
        let s = single[code + 1];
        if (s === undefined) {
          this.setColumnGroup(0, groupTypes[0]!, code < 0 ? undefined : b.groups[0]!.values[code]);
          s = this.seriesFor();
          single[code + 1] = s;
        }
        series = s;
      } else {
        for (let g = 0; g < n; g++) {
          const code = b.groups[g]!.codes[r]!;
          this.setColumnGroup(g, groupTypes[g]!, code < 0 ? undefined : b.groups[g]!.values[code]);
        }
        series = this.seriesFor();
      }
      if (countOnly) {
        series.count[i]!++;
        const eb = series.exemplarBuckets;
        if (eb !== null && !eb.full && eb.take(Math.floor(ts / 1e6))) wanted.push({ row: r, series, ts, v });
        continue;
      }
      if (this.observe(series, i, v, ts)) wanted.push({ row: r, series, ts, v });
    }
    if (wanted.length > 0) {
      const ids = await b.ids(wanted.map((w) => w.row));
      for (let k = 0; k < wanted.length; k++) {
        const w = wanted[k]!;
        const id = ids[k]!;
        w.series.exemplars.push({ traceId: bytesToHex(id.traceId).padStart(32, '0'), spanId: bytesToHex(id.spanId), timestampMs: Math.floor(w.ts / 1e6), value: this.exemplarValue(w.v) });
      }
    }
    return observed;
  }

  /** A column value as the engine would see it (so both paths give one series key and label). */
  private setColumnGroup(g: number, t: number, raw: unknown): void {
    if (t === T_DYN_RESOURCE) {
      const x = anyToValue(raw as AnyValue | undefined);
      this.typeBuf[g] = typeOfDyn(x);
      this.valBuf[g] = x;
    } else {
      this.typeBuf[g] = raw === undefined ? T_NIL : t;
      this.valBuf[g] = raw;
    }
  }
}

/** Key of values below 2 in a histogram (Tempo's -1 bucket). */
export const HISTOGRAM_LOW = -1e6;

const T_DYN_RESOURCE = -100;

function columnType(r: SpanColumnRef): number {
  if (r.scope === 'resource') return T_DYN_RESOURCE;
  switch (r.name) {
    case 'name':
      return T_STR;
    case 'status':
      return T_STATUS;
    case 'kind':
      return T_KIND;
    default:
      return T_DUR;
  }
}

export interface AccumulatorOptions {
  range: MetricsRange;
  exemplars: number;
  /** Observe only spans starting in (startNs, endNs] (a job's time slice). */
  window?: { startNs: bigint; endNs: bigint } | null;
}

/** Step (a): per-job accumulation. Not re-entrant (one compiled pipeline per accumulator). */
export class MetricsAccumulator {
  readonly mapper: IntervalMapper;
  private readonly leaves: LeafAccumulator[];
  private readonly ctx = new EvalContext();
  inspectedTraces = 0;
  inspectedSpans = 0;
  inspectedBytes = 0;

  constructor(
    readonly plan: MetricsPlan,
    opts: AccumulatorOptions,
  ) {
    this.mapper = new IntervalMapper(opts.range);
    const r = opts.range;
    const w = opts.window && (opts.window.startNs !== 0n || opts.window.endNs !== 0n) ? { start: Number(opts.window.startNs - r.startNs), end: Number(opts.window.endNs - r.startNs) } : null;
    this.leaves = plan.leaves.map((l) => new LeafAccumulator(l, this.ctx, this.mapper, opts.exemplars, w));
  }

  /**
   * Observes a whole trace (every leaf's pipeline decides which of its spans count), for every
   * leaf or only the ones listed. Inspected counts are the caller's.
   */
  observeTrace(trace: Trace | EvalTrace, leaves?: readonly number[]): void {
    const t = 'resourceSpans' in trace ? buildEvalTrace(trace) : trace;
    if (t.spans.length === 0) return;
    for (let i = 0; i < this.leaves.length; i++) {
      if (leaves && !leaves.includes(i)) continue;
      this.ctx.setTrace(t);
      this.leaves[i]!.observeTrace(t);
    }
  }

  /** Observes one row group's columns for a leaf that has a columnar plan. */
  observeColumns(leaf: number, batch: SpanColumnBatch): Promise<number> {
    const l = this.leaves[leaf]!;
    return l.observeColumns(batch, l.plan.columns!.groups);
  }

  partial(): MetricsPartial {
    return {
      leaves: this.leaves.map((l) => ({ series: [...l.series.values()].map((s) => s.toPartial()) })),
      inspectedTraces: this.inspectedTraces,
      inspectedSpans: this.inspectedSpans,
      inspectedBytes: this.inspectedBytes,
    };
  }
}

/** Step (b): exact merge of partials from many jobs. */
export class MetricsMerger {
  readonly leaves: Map<string, SeriesState>[];
  inspectedTraces = 0;
  inspectedSpans = 0;
  inspectedBytes = 0;

  constructor(
    readonly plan: MetricsPlan,
    readonly mapper: IntervalMapper,
  ) {
    this.leaves = plan.leaves.map(() => new Map());
  }

  add(p: MetricsPartial): void {
    this.inspectedTraces += p.inspectedTraces;
    this.inspectedSpans += p.inspectedSpans;
    this.inspectedBytes += p.inspectedBytes;
    p.leaves.forEach((leaf, i) => {
      const into = this.leaves[i];
      if (!into) return;
      const kind = this.plan.leaves[i]!.kind;
      for (const sp of leaf.series) {
        let s = into.get(sp.key);
        if (!s) into.set(sp.key, (s = new SeriesState(sp.key, sp.labels, kind, this.mapper.count)));
        s.merge(sp);
      }
    });
  }
}
