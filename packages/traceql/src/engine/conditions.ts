// What a search query reads, for storage to prune with and to read only the columns it needs
// (Tempo's extractConditions / FetchSpansRequest). The engine still evaluates the full query on
// whatever storage returns, so these only have to be safe, not exact.

import type { AttributeRef, AttributeScope, FieldExpression, MetricsExpression, Pipeline, PipelineElement, RegexOperator, RootExpr, ScalarExpression, SpansetExpression, Static, StaticNumber } from '../ast.js';
import type { ComparisonOperator } from '../ast.js';
import type { FetchCondition, FetchSpansRequest, FetchValue } from '@andante/model';
import { compileRegex } from '../regex.js';
import { print } from '../stringer.js';

export interface QueryCondition {
  /** The attribute's name after its scope (`http.method`), or the intrinsic's (`duration`, `trace:id`). */
  readonly name: string;
  /** `intrinsic` for intrinsics; `none` is the unscoped `.x` (span attribute, else resource). */
  readonly scope: AttributeScope | 'intrinsic';
  /**
   * How the value is constrained, read as `<name> <op> <literal>` (literals on the left are moved
   * right). `exists` is `!= nil`, `notExists` is `= nil`. null: the value is needed (by(),
   * select(), aggregates, arithmetic, operands of `!`, attribute-to-attribute comparisons) but
   * constrains nothing here. event./link. conditions hold for a span when some event (link) does.
   * A trace:id / span:id literal is kept as written; IDs compare ignoring leading zeros.
   */
  readonly op: ComparisonOperator | RegexOperator | 'exists' | 'notExists' | null;
  readonly literal: Static | null;
}

export interface QueryConditions {
  /** Distinct conditions in the order the query mentions them. */
  readonly conditions: QueryCondition[];
  /**
   * What storage may skip on:
   * - `all`: every span the query returns satisfies every condition that has an op, so a row
   *   group (or trace) where some such condition cannot hold has no result;
   * - `any`: a trace matches only if one of its spans satisfies at least one condition that has
   *   an op, so a row group where none can hold has no matching trace;
   * - `none`: no pruning by value (`{ }`, `count() > 2`, `!`, negated structural with `{ }` on the right...).
   */
  readonly prune: 'all' | 'any' | 'none';
  /** Whether structural operators need the nested-set columns. */
  readonly structural: boolean;
  /**
   * Spans a trace needs (in what storage evaluates, one block's part of it) to match: a search
   * pipeline stage `count() > N` (or >=, =) passes only spansets of more than N spans, and every
   * spanset is a subset of the trace's spans. 0 when the query says nothing of the kind.
   */
  readonly minSpans: number;
}

const COMPARISONS: ReadonlySet<string> = new Set(['=', '!=', '<', '<=', '>', '>=', '=~', '!~']);
const FLIP: Readonly<Record<string, ComparisonOperator>> = { '=': '=', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

function isRef(e: FieldExpression): e is AttributeRef {
  return e.kind === 'attribute' || e.kind === 'intrinsic';
}

/** `ref op literal` (either way round) as a condition, or null. */
function simpleCondition(e: FieldExpression): QueryCondition | null {
  if (e.kind === 'unary' && (e.op === 'exists' || e.op === 'notExists') && isRef(e.expr)) return cond(e.expr, e.op, null);
  if (e.kind !== 'binary' || !COMPARISONS.has(e.op)) return null;
  if (isRef(e.lhs) && e.rhs.kind === 'static' && e.rhs.type !== 'nil') return cond(e.lhs, e.op as ComparisonOperator | RegexOperator, e.rhs);
  if (isRef(e.rhs) && e.lhs.kind === 'static' && e.lhs.type !== 'nil' && e.op !== '=~' && e.op !== '!~') return cond(e.rhs, FLIP[e.op]!, e.lhs);
  return null;
}

function cond(r: AttributeRef, op: QueryCondition['op'], literal: Static | null): QueryCondition {
  return r.kind === 'intrinsic' ? { name: r.name, scope: 'intrinsic', op, literal } : { name: r.name, scope: r.scope, op, literal };
}

class Collector {
  readonly out: QueryCondition[] = [];
  private readonly seen = new Set<string>();
  structural = false;

  add(c: QueryCondition): void {
    const k = `${c.scope}\u0000${c.name}\u0000${c.op ?? ''}\u0000${c.literal ? print(c.literal) : ''}`;
    if (this.seen.has(k)) return;
    this.seen.add(k);
    this.out.push(c);
  }

  /** Every reference in `e`, as conditions where they are simple and not under `!`. */
  field(e: FieldExpression): void {
    const stack: { e: FieldExpression; negated: boolean }[] = [{ e, negated: false }];
    const found: QueryCondition[] = [];
    while (stack.length > 0) {
      const { e: cur, negated } = stack.pop()!;
      const simple = negated ? null : simpleCondition(cur);
      if (simple) {
        found.push(simple);
        continue;
      }
      switch (cur.kind) {
        case 'attribute':
        case 'intrinsic':
          found.push(cond(cur, null, null));
          break;
        case 'unary':
          stack.push({ e: cur.expr, negated: negated || cur.op === '!' });
          break;
        case 'binary':
          stack.push({ e: cur.rhs, negated }, { e: cur.lhs, negated });
          break;
        default:
      }
    }
    for (const c of found) this.add(c);
  }

  ref(r: AttributeRef): void {
    this.add(cond(r, null, null));
  }
}

/**
 * Whether `e` being true implies one of its simple conditions holds (false for `!`, constants
 * true, attribute comparisons...). Iterative over `&&` / `||` chains.
 */
function guardedField(e: FieldExpression): boolean {
  if (simpleCondition(e)) return true;
  if (e.kind === 'static') return !(e.type === 'bool' && e.value);
  if (e.kind !== 'binary' || (e.op !== '&&' && e.op !== '||')) return false;
  const operands: FieldExpression[] = [];
  const stack: FieldExpression[] = [e];
  while (stack.length > 0) {
    const cur = stack.pop()!;
    if (cur.kind === 'binary' && cur.op === e.op) stack.push(cur.rhs, cur.lhs);
    else operands.push(cur);
  }
  return e.op === '&&' ? operands.some(guardedField) : operands.every(guardedField);
}

/** Whether `e` is an `&&` chain of simple conditions (and constants). */
function allSimple(e: FieldExpression): boolean {
  const stack: FieldExpression[] = [e];
  while (stack.length > 0) {
    const cur = stack.pop()!;
    if (cur.kind === 'binary' && cur.op === '&&') stack.push(cur.rhs, cur.lhs);
    else if (cur.kind === 'static') continue;
    else if (!simpleCondition(cur)) return false;
  }
  return true;
}

function guardedSpanset(e: SpansetExpression): boolean {
  switch (e.kind) {
    case 'spansetFilter':
      return guardedField(e.expr);
    case 'pipeline':
      return guardedPipeline(e);
    case 'spansetOperation':
      if (e.op === '||') return guardedSpanset(e.lhs) && guardedSpanset(e.rhs);
      // Negated operators need only the right side to match.
      if (e.op.startsWith('!')) return guardedSpanset(e.rhs);
      return guardedSpanset(e.lhs) || guardedSpanset(e.rhs);
  }
}

function guardedPipeline(p: Pipeline): boolean {
  return p.elements.some((el) => (el.kind === 'spansetFilter' || el.kind === 'spansetOperation') && guardedSpanset(el));
}

function walkElement(c: Collector, el: PipelineElement | Pipeline): void {
  switch (el.kind) {
    case 'pipeline':
      for (const x of el.elements) walkElement(c, x);
      return;
    case 'spansetFilter':
      c.field(el.expr);
      return;
    case 'spansetOperation':
      if (el.op !== '&&' && el.op !== '||') c.structural = true;
      walkElement(c, el.lhs);
      walkElement(c, el.rhs);
      return;
    case 'scalarFilter':
      if (el.lhs.kind === 'aggregate' && el.lhs.expr) c.field(el.lhs.expr);
      return;
    case 'groupBy':
      c.field(el.expr);
      return;
    case 'coalesce':
      return;
    case 'select':
      for (const a of el.attributes) c.ref(a);
  }
}

/** The conditions a search query needs (metrics queries: those of their span pipeline). */
export function queryConditions(root: RootExpr): QueryConditions {
  const c = new Collector();
  const pipelines: Pipeline[] = [];
  const stack: (RootExpr['query'] | MetricsExpression)[] = [root.query];
  while (stack.length > 0) {
    const q = stack.pop()!;
    if (q.kind === 'pipeline') pipelines.push(q);
    else if (q.kind === 'metricsQuery') pipelines.push(q.pipeline);
    else if (q.kind === 'metricsMath') stack.push(q.rhs, q.lhs);
  }
  for (const p of pipelines) walkElement(c, p);

  let prune: QueryConditions['prune'] = 'none';
  if (pipelines.length === 1) {
    const p = pipelines[0]!;
    const spansetStages = p.elements.filter((e) => e.kind === 'spansetFilter' || e.kind === 'spansetOperation');
    if (spansetStages.length > 0 && spansetStages.every((e) => e.kind === 'spansetFilter' && allSimple(e.expr))) prune = 'all';
    else if (guardedPipeline(p)) prune = 'any';
  } else if (pipelines.length > 1 && pipelines.every(guardedPipeline)) prune = 'any';
  return { conditions: c.out, prune, structural: c.structural, minSpans: root.query.kind === 'pipeline' ? minSpansOf(root.query) : 0 };
}

/** The most spans any top-level `count() <op> <number>` stage of a search pipeline requires (0: none). */
function minSpansOf(p: Pipeline): number {
  let min = 0;
  for (const el of p.elements) {
    if (el.kind !== 'scalarFilter') continue;
    const countLeft = isCount(el.lhs) && isNumber(el.rhs);
    const countRight = isCount(el.rhs) && isNumber(el.lhs);
    if (!countLeft && !countRight) continue;
    const n = Number(((countLeft ? el.rhs : el.lhs) as StaticNumber).value);
    const op = countLeft ? el.op : FLIP[el.op];
    let need = 0;
    if (op === '>') need = Math.floor(n) + 1;
    else if (op === '>=') need = Math.ceil(n);
    else if (op === '=' && Number.isInteger(n)) need = n;
    if (Number.isSafeInteger(need) && need > min) min = need;
  }
  return min;
}

function isCount(e: ScalarExpression): boolean {
  return e.kind === 'aggregate' && e.op === 'count';
}

function isNumber(e: ScalarExpression): e is StaticNumber {
  return e.kind === 'static' && (e.type === 'int' || e.type === 'float');
}

const STATUS_CODES: Readonly<Record<string, number>> = { unset: 0, ok: 1, error: 2 };
const KIND_CODES: Readonly<Record<string, number>> = { unspecified: 0, internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };

/** The literal as storage compares it, or undefined when it has no plain form. */
export function fetchValue(s: Static): FetchValue | undefined {
  switch (s.type) {
    case 'string':
    case 'bool':
    case 'float':
      return s.value;
    case 'int':
    case 'duration':
      // Beyond 2^53 a number is inexact; storage then simply does not prune on it.
      return Number.isSafeInteger(Number(s.value)) ? Number(s.value) : undefined;
    case 'status':
      return STATUS_CODES[s.value];
    case 'kind':
      return KIND_CODES[s.value];
    default:
      return undefined;
  }
}

/** The conditions in the format-neutral form storage takes (regexes compiled once, here). */
export function fetchSpansRequest(qc: QueryConditions): FetchSpansRequest {
  const conditions = qc.conditions.map((c): FetchCondition => {
    if (c.op === null || c.op === 'exists' || c.op === 'notExists' || c.literal === null) return { scope: c.scope, name: c.name, op: c.op };
    const value = fetchValue(c.literal);
    if (value === undefined) return { scope: c.scope, name: c.name, op: null };
    if (c.op === '=~' || c.op === '!~') {
      if (typeof value !== 'string') return { scope: c.scope, name: c.name, op: null };
      const re = compileRegex(value);
      return { scope: c.scope, name: c.name, op: c.op, value, matches: (s) => re.test(s) };
    }
    return { scope: c.scope, name: c.name, op: c.op, value };
  });
  return qc.minSpans > 1 ? { conditions, prune: qc.prune, minSpans: qc.minSpans } : { conditions, prune: qc.prune };
}
