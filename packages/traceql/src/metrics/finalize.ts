// TraceQL metrics, step (c): merged state -> Tempo's series. Each leaf becomes value arrays (NaN
// where a function has no value: no samples are written there), arithmetic joins series by their
// labels, second stages filter per sample (`> 10`) or keep the top/bottom k per timestamp
// (Tempo's processTopK), and the result lists samples oldest first, exemplars in range.

import type { AnyValue, ExemplarPartial, KeyValue, MetricsExemplar, MetricsSample, MetricsSeries } from '@andante/model';
import type { ComparisonOperator, MetricsExpression, MetricsMathOperator, SecondStage, StaticNumber } from '../ast.js';
import { ExemplarBuckets, HISTOGRAM_LOW, type MetricsMerger, type SeriesState } from './evaluator.js';
import type { IntervalMapper } from './range.js';
import { sketchQuantile } from './sketch.js';


/** Series while the expression is evaluated: values per interval, NaN = no sample. */
interface Work {
  key: string;
  labels: KeyValue[];
  values: Float64Array;
  exemplars: ExemplarPartial[];
}

function labelsKey(labels: readonly KeyValue[], skipName: boolean): string {
  return labels
    .filter((l) => !(skipName && l.key === '__name__'))
    .map((l) => `${l.key}=${anyKey(l.value)}`)
    .sort()
    .join('\u0000');
}

function anyKey(v: AnyValue): string {
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) return `${k}:${String(o[k])}`;
  return 'nil';
}

function leafSeries(merger: MetricsMerger, leaf: number, stepSeconds: number): Work[] {
  const plan = merger.plan.leaves[leaf]!;
  const n = merger.mapper.count;
  const scale = plan.durationValue ? 1e-9 : 1;
  const out: Work[] = [];
  const push = (s: SeriesState, labels: KeyValue[], values: Float64Array): void => {
    out.push({ key: labelsKey(labels, false), labels, values, exemplars: s.exemplars });
  };
  const series = [...merger.leaves[leaf]!.values()];
  if (plan.kind === 'compare') return compareSeries(series, plan.query.firstStage.kind === 'compare' ? plan.query.firstStage.topN : 10);
  for (const s of series) {
    switch (plan.kind) {
      case 'count': {
        const v = new Float64Array(n);
        const div = plan.name === 'rate' ? stepSeconds : 1;
        for (let i = 0; i < n; i++) v[i] = s.count[i]! / div;
        push(s, s.labels, v);
        break;
      }
      case 'sum':
      case 'avg':
      case 'min':
      case 'max': {
        const v = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          if (s.count[i] === 0) v[i] = NaN;
          else if (plan.kind === 'sum') v[i] = s.sum![i]! * scale;
          else if (plan.kind === 'avg') v[i] = (s.sum![i]! / s.count[i]!) * scale;
          else if (plan.kind === 'min') v[i] = s.min![i]! * scale;
          else v[i] = s.max![i]! * scale;
        }
        push(s, s.labels, v);
        break;
      }
      case 'quantile': {
        const qs = plan.query.firstStage.kind === 'metricsAggregate' ? plan.query.firstStage.quantiles : [];
        for (const q of qs) {
          const v = new Float64Array(n);
          // Tempo writes 0 for an interval without spans.
          for (let i = 0; i < n; i++) v[i] = s.dist![i] ? sketchQuantile(s.dist![i]!, q) * scale : 0;
          push(s, [...s.labels, { key: 'p', value: { doubleValue: q } }], v);
        }
        break;
      }
      case 'histogram': {
        const buckets = new Map<number, Float64Array>();
        for (let i = 0; i < n; i++) {
          const m = s.dist![i];
          if (!m) continue;
          for (const [k, c] of m) {
            let v = buckets.get(k);
            if (!v) buckets.set(k, (v = new Float64Array(n)));
            v[i] = c;
          }
        }
        for (const [k, v] of [...buckets].sort((a, b) => a[0] - b[0])) {
          const bound = k === HISTOGRAM_LOW ? -1 : Math.pow(2, k) * scale;
          push(s, [...s.labels, { key: '__bucket', value: { doubleValue: bound } }], v);
        }
        break;
      }
    }
  }
  return out;
}

/** compare(): the top N values per attribute (by total count), and the totals. */
function compareSeries(series: SeriesState[], topN: number): Work[] {
  const byAttr = new Map<string, SeriesState[]>();
  const out: Work[] = [];
  for (const s of series) {
    const type = (s.labels[0]!.value as { stringValue: string }).stringValue;
    if (type.endsWith('_total')) {
      out.push({ key: labelsKey(s.labels, false), labels: s.labels, values: Float64Array.from(s.count), exemplars: [] });
      continue;
    }
    const k = `${type}\u0000${s.labels[1]!.key}`;
    let list = byAttr.get(k);
    if (!list) byAttr.set(k, (list = []));
    list.push(s);
  }
  const total = (s: SeriesState): number => s.count.reduce((a, b) => a + b, 0);
  for (const list of byAttr.values()) {
    list.sort((a, b) => total(b) - total(a) || (a.key < b.key ? -1 : 1));
    for (const s of list.slice(0, topN)) out.push({ key: labelsKey(s.labels, false), labels: s.labels, values: Float64Array.from(s.count), exemplars: [] });
  }
  return out;
}

function applyOp(op: MetricsMathOperator, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
  }
}

function staticValue(s: StaticNumber): number {
  return s.type === 'duration' ? Number(s.value) / 1e9 : Number(s.value);
}

function compare(op: ComparisonOperator, a: number, b: number): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

/** Second stages in order: filters keep matching samples; topk/bottomk keep k series per timestamp. */
function applyStages(input: Work[], stages: readonly SecondStage[], n: number): Work[] {
  let cur = input;
  for (const st of stages) {
    if (st.kind === 'metricsFilter') {
      const lit = staticValue(st.value);
      cur = cur.map((w) => {
        const v = Float64Array.from(w.values, (x) => (Number.isNaN(x) || !compare(st.op, x, lit) ? NaN : x));
        return { ...w, values: v };
      });
      continue;
    }
    const top = st.kind === 'topk';
    const out = new Map<string, Work>();
    // Deterministic ties: by value, then by label key (Tempo compares series keys too).
    const ordered = [...cur].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (let i = 0; i < n; i++) {
      const cand = ordered.filter((w) => !Number.isNaN(w.values[i]!));
      cand.sort((a, b) => (top ? b.values[i]! - a.values[i]! : a.values[i]! - b.values[i]!));
      for (const w of cand.slice(0, st.limit)) {
        let o = out.get(w.key);
        if (!o) out.set(w.key, (o = { ...w, values: new Float64Array(n).fill(NaN) }));
        o.values[i] = w.values[i]!;
      }
    }
    cur = [...out.values()];
  }
  return cur;
}

/** The expression's series: leaves in order, arithmetic joining series on labels (without __name__). */
function evaluate(e: MetricsExpression, leaves: Work[][], next: { i: number }, n: number): Work[] | number {
  if (e.kind === 'static') return Number(e.value);
  if (e.kind === 'metricsQuery') return applyStages(leaves[next.i++]!, e.secondStages, n);
  const l = evaluate(e.lhs, leaves, next, n);
  const r = evaluate(e.rhs, leaves, next, n);
  let out: Work[];
  if (typeof l === 'number' && typeof r === 'number') out = [];
  else if (typeof l === 'number') out = (r as Work[]).map((w) => ({ ...w, values: Float64Array.from(w.values, (x) => applyOp(e.op, l, x)) }));
  else if (typeof r === 'number') out = l.map((w) => ({ ...w, values: Float64Array.from(w.values, (x) => applyOp(e.op, x, r)) }));
  else {
    const right = new Map(r.map((w) => [labelsKey(w.labels, true), w]));
    out = [];
    for (const w of l) {
      const m = right.get(labelsKey(w.labels, true));
      if (!m) continue;
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = applyOp(e.op, w.values[i]!, m.values[i]!);
      out.push({ ...w, values: v, exemplars: [] });
    }
  }
  return applyStages(out, e.secondStages, n);
}

export interface FinalizeOptions {
  exemplars: number;
}

/** Step (c): the merged partials as Tempo's series, sorted by labels for stable answers. */
export function finalizeMetrics(merger: MetricsMerger, opts: FinalizeOptions): MetricsSeries[] {
  const mapper: IntervalMapper = merger.mapper;
  const n = mapper.count;
  const leaves = merger.plan.leaves.map((_, i) => leafSeries(merger, i, mapper.stepSeconds));
  const result = evaluate(merger.plan.expr, leaves, { i: 0 }, n);
  const works = typeof result === 'number' ? [] : result;
  const range = mapper.range;
  const out: MetricsSeries[] = [];
  for (const w of works.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const samples: MetricsSample[] = [];
    for (let i = 0; i < n; i++) {
      const v = w.values[i]!;
      if (!Number.isNaN(v)) samples.push({ timestampMs: mapper.timestampMs(i), value: v });
    }
    if (samples.length === 0) continue;
    // Exemplars of intervals that have a sample, spread over the range again after the merge.
    const buckets = new ExemplarBuckets(opts.exemplars, Number(range.startNs / 1_000_000n), Number(range.endNs / 1_000_000n));
    const exemplars: MetricsExemplar[] = [];
    const sorted = [...w.exemplars].sort((a, b) => a.timestampMs - b.timestampMs || (a.traceId < b.traceId ? -1 : 1));
    const seen = new Set<string>();
    for (const e of sorted) {
      if (opts.exemplars <= 0) break;
      // Exemplars carry ms; the span itself was in (ms, ms + 1 ms).
      const off = mapper.offsetOf(BigInt(e.timestampMs) * 1_000_000n);
      const i = mapper.intervalOf(off);
      const iv = i >= 0 ? i : mapper.intervalOf(off + 999_999);
      if (iv < 0 || Number.isNaN(w.values[iv]!)) continue;
      const id = `${e.traceId}/${e.spanId}`;
      if (seen.has(id) || !buckets.take(e.timestampMs)) continue;
      seen.add(id);
      exemplars.push({
        labels: [
          { key: 'trace:id', value: { stringValue: e.traceId } },
          { key: 'span:id', value: { stringValue: e.spanId } },
        ],
        value: Number.isNaN(e.value) ? w.values[iv]! : e.value,
        timestampMs: BigInt(e.timestampMs),
      });
    }
    out.push({ labels: w.labels, samples, exemplars });
  }
  return out;
}
