// Search queries: compiled once into closures, then applied to whole traces (live traces in
// ingesters, traces read from blocks) and turned into Tempo's search results.

import type { AnyValue, CompiledSearch, KeyValue, SearchCompiler, SearchSpan, SearchSpanSet, ServiceStats, Trace, TraceSearchMetadata } from '@andante/model';
import { bytesToHex } from '@andante/model';
import type { AttributeRef, FieldExpression, Pipeline, PipelineElement, RootExpr, SpansetExpression } from '../ast.js';
import { isMetricsQuery } from '../ast.js';
import { parse } from '../parse.js';
import { validate } from '../validate.js';
import type { QueryConditions } from './conditions.js';
import { fetchSpansRequest, queryConditions } from './conditions.js';
import { MetricsQueryError } from './errors.js';
import type { EvalSpan, EvalTrace } from './eval-trace.js';
import { buildEvalTrace } from './eval-trace.js';
import { EvalContext, FieldCompiler } from './field.js';
import type { Spanset, TraceStage } from './pipeline.js';
import { PipelineCompiler } from './pipeline.js';
import { anyToValue, T_NIL, typeOf, valueToAny } from './values.js';

export interface SearchOptions {
  /** Spans per spanset in results; 0 keeps them all. Tempo's default is 3. */
  spss: number;
}

export const DEFAULT_SPANS_PER_SPAN_SET = 3;

export interface SearchQuery {
  readonly text: string;
  /** The `with (most_recent=true)` hint. */
  readonly mostRecent: boolean;
  /** What storage may prune on and which columns the query reads. */
  readonly conditions: QueryConditions;
  /**
   * Every spanset the query yields for this trace ([] when the trace does not match). Results are
   * read-only: empty ones and attribute lists may be shared (frozen), spans may be the trace's. Throws
   * EvaluationError where Tempo's engine fails on the data (a structural operator given several
   * spansets). Not re-entrant: one query object evaluates one trace at a time.
   */
  evaluate(trace: EvalTrace): Spanset[];
  /**
   * The search result for a matching trace: spans cut to `spss` with the attributes the query
   * names (intrinsics too, `status` as "error"..., but not name or duration, which have fields of
   * their own), `matched` counts, spanset attributes from by() and aggregates, and per-service
   * span and error counts over the whole trace.
   */
  toSearchMetadata(trace: EvalTrace, spansets: Spanset[], opts: SearchOptions): TraceSearchMetadata;
}

const NO_MATCH = Object.freeze([]) as unknown as Spanset[];

/** Intrinsics Tempo leaves out of a result span's attributes: they have fields of their own. */
const NOT_SHOWN: ReadonlySet<string> = new Set(['name', 'duration', 'traceDuration', 'rootServiceName', 'rootName', 'trace:id', 'span:id']);

/** The attributes and intrinsics a query names, in order, once each. */
function namedRefs(p: Pipeline): AttributeRef[] {
  const out: AttributeRef[] = [];
  const seen = new Set<string>();
  const add = (r: AttributeRef): void => {
    const k = r.kind === 'intrinsic' ? r.name : `${r.scope}.${r.name}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push(r);
  };
  const field = (e: FieldExpression): void => {
    const stack: FieldExpression[] = [e];
    while (stack.length > 0) {
      const cur = stack.pop()!;
      if (cur.kind === 'attribute' || cur.kind === 'intrinsic') add(cur);
      else if (cur.kind === 'unary') stack.push(cur.expr);
      else if (cur.kind === 'binary') stack.push(cur.rhs, cur.lhs);
    }
  };
  const element = (el: PipelineElement | SpansetExpression): void => {
    switch (el.kind) {
      case 'pipeline':
        el.elements.forEach(element);
        return;
      case 'spansetFilter':
        return field(el.expr);
      case 'spansetOperation':
        element(el.lhs);
        element(el.rhs);
        return;
      case 'scalarFilter':
        if (el.lhs.kind === 'aggregate' && el.lhs.expr) field(el.lhs.expr);
        return;
      case 'groupBy':
        return field(el.expr);
      case 'coalesce':
        return;
      case 'select':
        el.attributes.forEach(add);
    }
  };
  element(p);
  return out;
}

interface Shown {
  key: string;
  get: (s: EvalSpan) => AnyValue | undefined;
}

class CompiledQuery implements SearchQuery {
  readonly mostRecent: boolean;
  readonly conditions: QueryConditions;
  private readonly ctx = new EvalContext();
  private readonly run: TraceStage;
  private readonly shown: Shown[];

  constructor(
    readonly text: string,
    root: RootExpr,
  ) {
    const pipeline = root.query as Pipeline;
    this.mostRecent = root.hints.some((h) => h.name === 'most_recent' && h.value.type === 'bool' && h.value.value);
    this.conditions = queryConditions(root);
    const fields = new FieldCompiler(this.ctx);
    this.run = new PipelineCompiler(this.ctx, fields).root(pipeline);
    this.shown = namedRefs(pipeline)
      .filter((r) => r.kind === 'attribute' || !NOT_SHOWN.has(r.name))
      .map((r): Shown => {
        if (r.kind === 'attribute') {
          const get = fields.lookup(r);
          return { key: r.name, get: (s) => { const v = get(s); return anyToValue(v) === undefined ? undefined : v; } };
        }
        const i = fields.intrinsic(r);
        return { key: r.name, get: (s) => { const v = i.fn(s); const t = typeOf(i.type, v); return t === T_NIL ? undefined : valueToAny(t, v); } };
      });
  }

  evaluate(trace: EvalTrace): Spanset[] {
    if (trace.spans.length === 0) return NO_MATCH;
    this.ctx.setTrace(trace);
    return this.run(trace);
  }

  toSearchMetadata(trace: EvalTrace, spansets: Spanset[], opts: SearchOptions): TraceSearchMetadata {
    this.ctx.setTrace(trace);
    const spss = opts.spss;
    const spanSets: SearchSpanSet[] = spansets.map((ss) => ({
      spans: (spss > 0 && ss.spans.length > spss ? ss.spans.slice(0, spss) : ss.spans).map((s) => this.searchSpan(s)),
      matched: ss.spans.length,
      attributes: ss.attributes,
    }));
    const stats = new Map<string, ServiceStats>();
    for (const s of trace.spans) {
      let st = stats.get(s.serviceName);
      if (st === undefined) stats.set(s.serviceName, (st = { spanCount: 0, errorCount: 0 }));
      st.spanCount++;
      if (s.statusCode === 2) st.errorCount++;
    }
    const durationNanos = trace.endTimeUnixNano > trace.startTimeUnixNano ? trace.endTimeUnixNano - trace.startTimeUnixNano : 0n;
    const ms = durationNanos / 1_000_000n;
    return {
      traceID: bytesToHex(trace.traceId).padStart(32, '0'),
      rootServiceName: trace.rootServiceName,
      rootTraceName: trace.rootSpanName,
      startTimeUnixNano: trace.startTimeUnixNano,
      // uint32 in Tempo's response; saturate rather than wrap.
      durationMs: ms > 0xffffffffn ? 0xffffffff : Number(ms),
      spanSets,
      serviceStats: Object.fromEntries(stats),
    };
  }

  private searchSpan(s: EvalSpan): SearchSpan {
    const attributes: KeyValue[] = [];
    for (const sh of this.shown) {
      const v = sh.get(s);
      if (v === undefined) continue;
      // `.x` and `span.x` can name the same value: show it once.
      if (attributes.some((kv) => kv.key === sh.key && kv.value === v)) continue;
      attributes.push({ key: sh.key, value: v });
    }
    return { spanID: bytesToHex(s.spanId), name: s.name, startTimeUnixNano: s.startTimeUnixNano, durationNanos: s.durationNanos, attributes };
  }
}

/**
 * Parses, validates and compiles a search query. Throws the parser's ParseError, ValidationError
 * or UnsupportedError unchanged, and MetricsQueryError for a metrics query; all are 400-class.
 */
export function compileSearch(query: string): SearchQuery {
  const root = parse(query);
  validate(root);
  if (isMetricsQuery(root)) throw new MetricsQueryError();
  return new CompiledQuery(query, root);
}

/**
 * The engine behind @andante/model's SearchCompiler: a blank query is `{ }`; a trace outside the
 * window (start and end in unix seconds, both set) does not match, as in Tempo's block search.
 */
export const searchCompiler: SearchCompiler = (query: string): CompiledSearch => {
  const q = compileSearch(query.trim() === '' ? '{ }' : query);
  /** The trace's spansets (with its eval view), or null when it is empty, outside the window or does not match. */
  const evaluate = (trace: Trace, window: { startSeconds: number; endSeconds: number }): { t: EvalTrace; sets: Spanset[] } | null => {
    const t = buildEvalTrace(trace);
    if (t.spans.length === 0) return null;
    if (window.startSeconds > 0 && window.endSeconds > 0) {
      const start = BigInt(Math.floor(window.startSeconds)) * 1_000_000_000n;
      const end = BigInt(Math.floor(window.endSeconds)) * 1_000_000_000n;
      if (t.startTimeUnixNano > end || t.endTimeUnixNano < start) return null;
    }
    const sets = q.evaluate(t);
    return sets.length === 0 ? null : { t, sets };
  };
  return {
    fetch: fetchSpansRequest(q.conditions),
    match(trace, window, spss) {
      const r = evaluate(trace, window);
      return r && q.toSearchMetadata(r.t, r.sets, { spss });
    },
    matchingSpans(trace, window) {
      const r = evaluate(trace, window);
      if (!r) return null;
      // EvalTrace spans are in resourceSpans, scopeSpans, spans order: their positions are the indexes.
      const position = new Map(r.t.spans.map((s, i) => [s, i]));
      const out = new Set<number>();
      for (const set of r.sets) for (const s of set.spans) out.add(position.get(s)!);
      return out;
    },
  };
};
