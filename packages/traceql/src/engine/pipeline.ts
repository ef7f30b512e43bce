// Pipelines: stages applied left to right to a list of spansets (one per trace to start with,
// several after by()), as Tempo's Pipeline.evaluate does. A stage that leaves nothing ends the
// pipeline.

import type { KeyValue } from '@andante/model';
import type { Aggregate, Pipeline, PipelineElement, SpansetExpression, SpansetOperation } from '../ast.js';
import { print } from '../stringer.js';
import type { EvalSpan, EvalTrace } from './eval-trace.js';
import { EvaluationError, MULTIPLE_SPANSETS_MESSAGE } from './errors.js';
import type { EvalContext, FieldCompiler } from './field.js';
import { structural, union } from './structural.js';
import type { CompareOp } from './values.js';
import { T_ARR, T_DUR, T_FLOAT, T_INT, compareValues, groupKey, typeOf, valueToAny } from './values.js';

interface Group {
  spans: EvalSpan[];
  t: number;
  v: unknown;
}

/** What a query yields for one trace: matched spans and the spanset-level attributes. */
export interface Spanset {
  /** In trace order (by() groups keep the order of their input). Do not mutate: may be shared. */
  readonly spans: EvalSpan[];
  /** by() values and aggregate results, in the order the stages added them. */
  readonly attributes: KeyValue[];
}

export type Stage = (input: Spanset[]) => Spanset[];

// Shared, frozen: stages never write to their inputs, and a caller that tries fails loudly.
const NOTHING = Object.freeze([]) as unknown as Spanset[];
const NO_ATTRIBUTES = Object.freeze([]) as unknown as KeyValue[];

/** A compiled query applied to one trace. */
export type TraceStage = (trace: EvalTrace) => Spanset[];

export class PipelineCompiler {
  constructor(
    private readonly ctx: EvalContext,
    private readonly fields: FieldCompiler,
  ) {}

  pipeline(p: Pipeline): Stage {
    return this.chain(p.elements.map((e) => this.element(e)));
  }

  private chain(stages: Stage[]): Stage {
    if (stages.length === 1) return stages[0]!;
    return (input) => {
      let r = input;
      for (const st of stages) {
        r = st(r);
        if (r.length === 0) return NOTHING;
      }
      return r;
    };
  }

  /**
   * The whole query over one trace. A leading spanset filter runs straight over the trace's
   * spans, so a trace that does not match costs no allocation at all.
   */
  root(p: Pipeline): TraceStage {
    const [first, ...rest] = p.elements;
    const test = first?.kind === 'spansetFilter' ? this.fields.test(first.expr) : null;
    if (test === null || test.constant !== null) {
      const stage = this.pipeline(p);
      return (t) => stage([{ spans: t.spans, attributes: NO_ATTRIBUTES }]);
    }
    const f = test.fn;
    const after = rest.length > 0 ? this.chain(rest.map((e) => this.element(e))) : null;
    return (t) => {
      const spans = t.spans;
      let matched: EvalSpan[] | null = null;
      for (let j = 0; j < spans.length; j++) {
        const s = spans[j]!;
        if (f(s)) (matched ??= []).push(s);
      }
      if (matched === null) return NOTHING;
      const sets = [{ spans: matched.length === spans.length ? spans : matched, attributes: NO_ATTRIBUTES }];
      return after === null ? sets : after(sets);
    };
  }

  private element(e: PipelineElement): Stage {
    switch (e.kind) {
      case 'spansetFilter':
      case 'spansetOperation':
        return this.spanset(e);
      case 'scalarFilter': {
        if (e.lhs.kind !== 'aggregate' || e.rhs.kind !== 'static') {
          // validate() reports these as unsupported, as Tempo does.
          throw new Error(`scalar filter ${print(e)} is not supported`);
        }
        return this.scalarFilter(e.lhs, e.op, e.rhs);
      }
      case 'groupBy':
        return this.groupBy(e.expr, print(e));
      case 'coalesce':
        // Merges the spansets back into one; their attributes go (Tempo's CoalesceOperation).
        return (input) => (input.length === 0 ? NOTHING : [{ spans: input.length === 1 ? input[0]!.spans : input.flatMap((s) => s.spans), attributes: [] }]);
      case 'select':
        // select() only decides what results show; see engine.ts.
        return (input) => input;
    }
  }

  private spanset(e: SpansetExpression): Stage {
    switch (e.kind) {
      case 'pipeline':
        return this.pipeline(e);
      case 'spansetOperation':
        return this.operation(e);
      case 'spansetFilter': {
        const test = this.fields.test(e.expr);
        if (test.constant === true) return (input) => (input.every((s) => s.spans.length > 0) ? input : input.filter((s) => s.spans.length > 0));
        if (test.constant === false) return () => NOTHING;
        const f = test.fn;
        return (input) => {
          let out: Spanset[] | null = null;
          for (let i = 0; i < input.length; i++) {
            const ss = input[i]!;
            const spans = ss.spans;
            let matched: EvalSpan[] | null = null;
            for (let j = 0; j < spans.length; j++) {
              const s = spans[j]!;
              if (f(s)) (matched ??= []).push(s);
            }
            if (matched === null) continue;
            (out ??= []).push(matched.length === spans.length ? ss : { spans: matched, attributes: ss.attributes });
          }
          return out ?? NOTHING;
        };
      }
    }
  }

  private operation(e: SpansetOperation): Stage {
    const lhs = this.spanset(e.lhs);
    const rhs = this.spanset(e.rhs);
    const ctx = this.ctx;
    const op = e.op;
    const all = (sets: Spanset[]): EvalSpan[] => (sets.length === 1 ? sets[0]!.spans : sets.flatMap((s) => s.spans));
    return (input) => {
      const out: Spanset[] = [];
      for (const ss of input) {
        const one = [ss];
        const l = lhs(one);
        let spans: EvalSpan[];
        if (op === '&&') {
          // Both sides must match in the trace; the result is every span of both.
          if (l.length === 0) continue;
          const r = rhs(one);
          if (r.length === 0) continue;
          spans = union(all(l), all(r), ctx.trace.spans);
        } else if (op === '||') {
          const r = rhs(one);
          if (l.length === 0 && r.length === 0) continue;
          spans = union(all(l), all(r), ctx.trace.spans);
        } else {
          // Negated operators still answer with an empty left side; the others cannot.
          if (l.length === 0 && !op.startsWith('!')) continue;
          const r = rhs(one);
          if (r.length === 0) continue;
          if (l.length > 1 || r.length > 1) throw new EvaluationError(MULTIPLE_SPANSETS_MESSAGE);
          spans = structural(op, l.length === 0 ? [] : l[0]!.spans, r[0]!.spans, ctx.trace.spans);
        }
        // The result keeps the input spanset's attributes, not the operands' (Tempo clones the input).
        if (spans.length > 0) out.push({ spans, attributes: ss.attributes });
      }
      return out;
    };
  }

  private groupBy(expr: Parameters<FieldCompiler['value']>[0], key: string): Stage {
    const v = this.fields.value(expr);
    const f = v.fn;
    const vt = v.type;
    return (input) => {
      const out: Spanset[] = [];
      for (const ss of input) {
        // Scalars are their own keys (a node has one static type, and ints are bigints, floats
        // numbers, so they stay apart as in Tempo); arrays are keyed by content.
        const groups = new Map<unknown, Group>();
        let arrays: Map<string, Group> | null = null;
        const order: Group[] = [];
        for (const s of ss.spans) {
          const x = f(s);
          const t = typeOf(vt, x);
          const k = t === T_ARR ? groupKey(t, x) : x;
          const m: Map<unknown, Group> = t === T_ARR ? (arrays ??= new Map()) : groups;
          const g = m.get(k);
          if (g) g.spans.push(s);
          else {
            const ng = { spans: [s], t, v: x };
            m.set(k, ng);
            order.push(ng);
          }
        }
        // Groups in order of first appearance (Tempo's order is its map's, i.e. random).
        for (const g of order) out.push({ spans: g.spans, attributes: [...ss.attributes, { key, value: valueToAny(g.t, g.v) }] });
      }
      return out;
    };
  }

  /** The aggregate of one spanset as [type, value], or null when no span has a number for it. */
  private aggregate(a: Aggregate): (spans: EvalSpan[]) => [number, unknown] | null {
    if (a.op === 'count' || a.expr === null) return (spans) => [T_INT, BigInt(spans.length)];
    const v = this.fields.value(a.expr);
    const f = v.fn;
    const vt = v.type;
    const op = a.op;
    return (spans) => {
      let n = 0;
      let ints = 0;
      let durs = 0;
      let sumBig = 0n;
      let sumFloat = 0;
      let bestT = 0;
      let best: bigint | number = 0;
      for (const s of spans) {
        const x = f(s);
        const t = typeOf(vt, x);
        // Non-numbers are skipped (Tempo skips nil and folds other types in inconsistently).
        if (t !== T_INT && t !== T_FLOAT && t !== T_DUR) continue;
        const num = x as bigint | number;
        if (n === 0 || (op === 'min' ? num < best : op === 'max' ? num > best : false)) {
          best = num;
          bestT = t;
        }
        n++;
        if (t === T_INT) ints++;
        else if (t === T_DUR) durs++;
        if (t !== T_FLOAT) sumBig += num as bigint;
        sumFloat += Number(num);
      }
      if (n === 0) return null;
      switch (op) {
        case 'min':
        case 'max':
          return [bestT, best];
        case 'sum':
          if (ints === n) return [T_INT, BigInt.asIntN(64, sumBig)];
          if (durs === n) return [T_DUR, sumBig];
          return [T_FLOAT, sumFloat];
        case 'avg':
          // An average of ints is a float, of durations a (truncated) duration, as in Tempo.
          if (ints === n) return [T_FLOAT, Number(sumBig) / n];
          if (durs === n) return [T_DUR, sumBig / BigInt(n)];
          return [T_FLOAT, sumFloat / n];
      }
    };
  }

  private scalarFilter(a: Aggregate, op: CompareOp, rhs: { type: 'int' | 'float' | 'duration'; value: bigint | number }): Stage {
    const agg = this.aggregate(a);
    const key = print(a);
    const rt = rhs.type === 'int' ? T_INT : rhs.type === 'float' ? T_FLOAT : T_DUR;
    const rv = rhs.value;
    return (input) => {
      const out: Spanset[] = [];
      for (const ss of input) {
        const r = agg(ss.spans);
        if (r === null) continue;
        if (!compareValues(op, r[0], r[1], rt, rv)) continue;
        out.push({ spans: ss.spans, attributes: [...ss.attributes, { key, value: valueToAny(r[0], r[1]) }] });
      }
      return out;
    };
  }
}
