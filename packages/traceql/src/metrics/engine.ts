// @andante/model's MetricsEngine, implemented by the TraceQL metrics evaluator: ingesters and
// queriers get it injected (or, on worker threads, import it by module URL), as with search.

import type { FetchSpansRequest, MetricsCombiner, MetricsEngine, MetricsJob, MetricsPartial, MetricsRequest, MetricsSeries, SpanColumnBatch, Trace } from '@andante/model';
import { fetchSpansRequest, queryConditions } from '../engine/conditions.js';
import type { RootExpr } from '../ast.js';
import { MetricsAccumulator, MetricsMerger, planMetricsQuery, type MetricsPlan } from './evaluator.js';
import { finalizeMetrics } from './finalize.js';
import { IntervalMapper, alignRange, defaultStepNs, type MetricsRange } from './range.js';

function rangeOf(req: MetricsRequest): MetricsRange {
  return { startNs: req.startNs, endNs: req.endNs, stepNs: req.stepNs, instant: req.instant };
}

// Plans are immutable: a worker serving many jobs of one query plans it once.
const plans = new Map<string, MetricsPlan>();
function plan(text: string): MetricsPlan {
  let p = plans.get(text);
  if (!p) {
    p = planMetricsQuery(text);
    plans.set(text, p);
    if (plans.size > 32) plans.delete(plans.keys().next().value!);
  }
  return p;
}

/** The union of the leaves' pushdown: a block trace scan may skip only what no leaf needs. */
function jobFetch(p: MetricsPlan): FetchSpansRequest | undefined {
  if (p.leaves.length !== 1) return undefined;
  const leaf = p.leaves[0]!;
  const root: RootExpr = { kind: 'root', query: leaf.query.pipeline, hints: [] };
  return fetchSpansRequest(queryConditions(root));
}

class Job implements MetricsJob {
  private readonly acc: MetricsAccumulator;
  readonly columnPlans;
  readonly fetch;

  constructor(req: MetricsRequest) {
    const p = plan(req.query);
    this.acc = new MetricsAccumulator(p, {
      range: rangeOf(req),
      exemplars: req.exemplars,
      window: req.windowStartNs !== undefined && req.windowEndNs !== undefined ? { startNs: req.windowStartNs, endNs: req.windowEndNs } : null,
    });
    const start = Number(req.windowStartNs || req.startNs);
    const end = Number(req.windowEndNs || req.endNs);
    this.columnPlans = p.leaves.map((l) => (l.columns ? { ...l.columns, startNs: start, endNs: end, baseNs: req.startNs } : null));
    this.fetch = jobFetch(p);
  }

  observeTrace(trace: Trace, leaves?: readonly number[]): void {
    this.acc.observeTrace(trace, leaves);
  }

  observeColumns(leaf: number, batch: SpanColumnBatch): Promise<number> {
    return this.acc.observeColumns(leaf, batch);
  }

  addInspected(traces: number, spans: number, bytes: number): void {
    this.acc.inspectedTraces += traces;
    this.acc.inspectedSpans += spans;
    this.acc.inspectedBytes += bytes;
  }

  partial(): MetricsPartial {
    return this.acc.partial();
  }
}

class Combiner implements MetricsCombiner {
  private readonly merger: MetricsMerger;

  constructor(private readonly req: MetricsRequest) {
    this.merger = new MetricsMerger(plan(req.query), new IntervalMapper(rangeOf(req)));
  }

  add(partial: MetricsPartial): void {
    this.merger.add(partial);
  }

  series(): MetricsSeries[] {
    return finalizeMetrics(this.merger, { exemplars: this.req.exemplars });
  }

  get inspectedTraces(): number {
    return this.merger.inspectedTraces;
  }
  get inspectedSpans(): number {
    return this.merger.inspectedSpans;
  }
  get inspectedBytes(): number {
    return this.merger.inspectedBytes;
  }
}

export const metricsEngine: MetricsEngine = {
  check(query) {
    const p = plan(query);
    // Tempo's `with (exemplars=N)` / `with (exemplars=false)` override the request's exemplars.
    const h = p.root.hints.find((x) => x.name === 'exemplars');
    let exemplars: number | undefined;
    if (h?.value.type === 'int') exemplars = Math.max(0, Number(h.value.value));
    else if (h?.value.type === 'bool' && !h.value.value) exemplars = 0;
    return exemplars === undefined ? { ignoredHints: [...p.ignoredHints] } : { ignoredHints: [...p.ignoredHints], exemplars };
  },
  job: (req) => new Job(req),
  combiner: (req) => new Combiner(req),
  defaultStepNs,
  alignRange,
};
