// Prints an AST back to TraceQL. The output parses back to an equal AST and printing is stable
// (print(parse(print(x))) === print(x)). Parentheses are added only where precedence needs them,
// with one subtlety from Tempo's grammar: a prefix `-` or `!` takes a whole multiplicative operand
// (`-a * b` is `-(a * b)`), so a left operand that ends in a prefix expression is wrapped before
// `* / % ^`.

import type {
  AttributeRef,
  BinaryOperation,
  FieldExpression,
  Hint,
  MetricsExpression,
  MetricsFirstStage,
  MetricsMath,
  MetricsQuery,
  Node,
  Pipeline,
  PipelineElement,
  RootExpr,
  ScalarExpression,
  ScalarOperation,
  SecondStage,
  SpansetExpression,
  SpansetOperation,
  Static,
  UnaryOperation,
} from './ast.js';
import { MAX_INT, MIN_INT } from './ast.js';
import { formatDuration } from './duration.js';
import { quoteAttributeName, quoteString } from './literals.js';

const LOGIC = 1;
const COMPARE = 2;
const ADD = 3;
const MUL = 4;
const POW = 5;
const ATOM = 6;

function binaryPrecedence(op: string): number {
  switch (op) {
    case '&&':
    case '||':
      return LOGIC;
    case '+':
    case '-':
      return ADD;
    case '*':
    case '/':
    case '%':
      return MUL;
    case '^':
      return POW;
    default:
      return COMPARE;
  }
}

// --- statics --------------------------------------------------------------------------------------

function formatFloat(v: number): string {
  const s = String(v);
  // Keep it a float literal: `3` would read back as an int.
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** A static inside `{ }` or a hint. Negative numbers do not come out of the parser there. */
export function printStatic(s: Static): string {
  switch (s.type) {
    case 'nil':
      return 'nil';
    case 'int':
      if (s.value === MIN_INT) return 'minInt';
      if (s.value === MAX_INT) return 'maxInt';
      return String(s.value);
    case 'float':
      return formatFloat(s.value);
    case 'string':
      return quoteString(s.value);
    case 'bool':
      return String(s.value);
    case 'duration':
      return formatDuration(s.value);
    case 'status':
    case 'kind':
      return s.value;
  }
}

/**
 * A number in scalar and metrics positions, where `-` and constant arithmetic are folded on
 * parse, so values no literal spells (minInt, NaN, infinities) are written as arithmetic.
 */
function printNumber(s: Static): string {
  if (s.type === 'int' && s.value === MIN_INT) return '(-9223372036854775807 - 1)';
  if (s.type === 'float' && !Number.isFinite(s.value)) {
    if (Number.isNaN(s.value)) return '(0.0 / 0.0)';
    return s.value > 0 ? '(1.0 / 0.0)' : '(-1.0 / 0.0)';
  }
  if (s.type === 'float' && Object.is(s.value, -0)) return '-0.0';
  return printStatic(s);
}

// --- attributes -----------------------------------------------------------------------------------

export function printAttribute(a: AttributeRef): string {
  if (a.kind === 'intrinsic') return a.name;
  let prefix: string;
  if (a.parent) prefix = a.scope === 'none' ? 'parent.' : `parent.${a.scope}.`;
  else prefix = a.scope === 'none' ? '.' : `${a.scope}.`;
  const name = a.name;
  // Names the lexer would read differently unquoted: `.5x` is a float, and after a bare
  // `parent.` a leading `span.` / `resource.` would be taken as a scope.
  const ambiguous =
    (prefix === '.' && /^[0-9]/.test(name)) ||
    (prefix === 'parent.' && (name.startsWith('span.') || name.startsWith('resource.')));
  return prefix + quoteAttributeName(name, ambiguous);
}

// --- field expressions ----------------------------------------------------------------------------

function fieldPrecedence(e: FieldExpression): number {
  switch (e.kind) {
    case 'binary':
      return binaryPrecedence(e.op);
    case 'unary':
      return e.op === 'exists' || e.op === 'notExists' ? COMPARE : ATOM;
    default:
      return ATOM;
  }
}

/** Whether printing `e` ends in a prefix operator's operand, which would absorb a following `*`. */
function endsInPrefix(e: FieldExpression): boolean {
  for (let cur: FieldExpression = e; ; ) {
    if (cur.kind === 'unary') {
      if (cur.op === '-' || cur.op === '!') return true;
      return false; // `x = nil` ends with nil
    }
    if (cur.kind !== 'binary') return false;
    // The right operand is printed bare only when it binds at least as tightly.
    if (needsRightParens(cur.op, cur.rhs)) return false;
    cur = cur.rhs;
  }
}

function needsRightParens(op: string, rhs: FieldExpression): boolean {
  const p = binaryPrecedence(op);
  const r = fieldPrecedence(rhs);
  return op === '^' ? r < p : r <= p;
}

function needsLeftParens(op: string, lhs: FieldExpression): boolean {
  const p = binaryPrecedence(op);
  const l = fieldPrecedence(lhs);
  if (op === '^' ? l <= p : l < p) return true;
  // && and || share one level in TraceQL; spell out a mix so nobody reads `a || b && c` wrongly.
  if (p === LOGIC && lhs.kind === 'binary' && lhs.op !== op && binaryPrecedence(lhs.op) === LOGIC) return true;
  return p >= MUL && endsInPrefix(lhs);
}

/** Nodes printed after their left operand: binary operations and `x = nil` / `x != nil`. */
type LeftNode = BinaryOperation | (UnaryOperation & { op: 'exists' | 'notExists' });

function asLeftNode(e: FieldExpression): LeftNode | null {
  if (e.kind === 'binary') return e;
  if (e.kind === 'unary' && (e.op === 'exists' || e.op === 'notExists')) return e as LeftNode;
  return null;
}

function leftOperand(n: LeftNode): FieldExpression {
  return n.kind === 'binary' ? n.lhs : n.expr;
}

function leftNeedsParens(n: LeftNode): boolean {
  return n.kind === 'binary' ? needsLeftParens(n.op, n.lhs) : fieldPrecedence(n.expr) < COMPARE;
}

export function printField(e: FieldExpression): string {
  // Left-associative chains (`a || b || c ...`) can be thousands long: walk the left spine in a
  // loop rather than recursing, so the depth of recursion is bounded by the nesting limit.
  const spine: LeftNode[] = [];
  let bottom = e;
  for (let n = asLeftNode(e); n !== null; n = asLeftNode(bottom)) {
    spine.push(n);
    bottom = leftOperand(n);
    if (leftNeedsParens(n)) break;
  }
  if (spine.length === 0) return printFieldLeaf(e);
  let out = leftNeedsParens(spine[spine.length - 1]!) ? `(${printField(bottom)})` : printFieldLeaf(bottom);
  for (let i = spine.length - 1; i >= 0; i--) {
    const n = spine[i]!;
    if (n.kind === 'unary') {
      out += n.op === 'exists' ? ' != nil' : ' = nil';
    } else {
      out += ` ${n.op} ${needsRightParens(n.op, n.rhs) ? `(${printField(n.rhs)})` : printField(n.rhs)}`;
    }
  }
  return out;
}

/** Statics, attributes and prefix operators (anything but a LeftNode). */
function printFieldLeaf(e: FieldExpression): string {
  switch (e.kind) {
    case 'static':
      return printStatic(e);
    case 'attribute':
    case 'intrinsic':
      return printAttribute(e);
    case 'unary': {
      // The operand of a prefix operator is a multiplicative expression.
      const inner = fieldPrecedence(e.expr) < MUL ? `(${printField(e.expr)})` : printField(e.expr);
      return inner.startsWith('-') ? `${e.op} ${inner}` : `${e.op}${inner}`;
    }
    case 'binary':
      return printField(e);
  }
}

// --- spansets and pipelines -----------------------------------------------------------------------

function spansetPrecedence(e: SpansetExpression): number {
  if (e.kind === 'spansetOperation') return e.op === '&&' || e.op === '||' ? 1 : 2;
  return 3;
}

function printSpanset(e: SpansetExpression): string {
  switch (e.kind) {
    case 'spansetFilter':
      return isTrue(e.expr) ? '{ }' : `{ ${printField(e.expr)} }`;
    case 'pipeline':
      return `(${printPipeline(e)})`;
    case 'spansetOperation': {
      // Iterate down the left spine (see printField).
      const spine: SpansetOperation[] = [];
      let bottom: SpansetExpression = e;
      while (bottom.kind === 'spansetOperation') {
        const n: SpansetOperation = bottom;
        spine.push(n);
        bottom = n.lhs;
        if (spansetLeftNeedsParens(n)) break;
      }
      let out = spansetLeftNeedsParens(spine[spine.length - 1]!) ? `(${printSpanset(bottom)})` : printSpanset(bottom);
      for (let i = spine.length - 1; i >= 0; i--) {
        const n = spine[i]!;
        const r = spansetPrecedence(n.rhs) <= spansetPrecedence(n) ? `(${printSpanset(n.rhs)})` : printSpanset(n.rhs);
        out += ` ${n.op} ${r}`;
      }
      return out;
    }
  }
}

function spansetLeftNeedsParens(e: SpansetOperation): boolean {
  const p = spansetPrecedence(e);
  // && and || share a level; spell out a mix of them.
  const mixed = p === 1 && e.lhs.kind === 'spansetOperation' && spansetPrecedence(e.lhs) === 1 && e.lhs.op !== e.op;
  return spansetPrecedence(e.lhs) < p || mixed;
}

function isTrue(e: FieldExpression): boolean {
  return e.kind === 'static' && e.type === 'bool' && e.value;
}

function scalarPrecedence(e: ScalarExpression): number {
  return e.kind === 'scalarOperation' ? binaryPrecedence(e.op) : ATOM;
}

function printScalar(e: ScalarExpression): string {
  switch (e.kind) {
    case 'static':
      return printNumber(e);
    case 'aggregate':
      return e.expr === null ? `${e.op}()` : `${e.op}(${printField(e.expr)})`;
    case 'scalarPipeline':
      return `(${printPipeline(e.pipeline)} | ${printScalar(e.aggregate)})`;
    case 'scalarOperation': {
      const spine: ScalarOperation[] = [];
      let bottom: ScalarExpression = e;
      while (bottom.kind === 'scalarOperation') {
        const n: ScalarOperation = bottom;
        spine.push(n);
        bottom = n.lhs;
        if (scalarLeftNeedsParens(n)) break;
      }
      let out = scalarLeftNeedsParens(spine[spine.length - 1]!) ? `(${printScalar(bottom)})` : printScalar(bottom);
      for (let i = spine.length - 1; i >= 0; i--) {
        const n = spine[i]!;
        const p = binaryPrecedence(n.op);
        const rp = scalarPrecedence(n.rhs);
        out += ` ${n.op} ${(n.op === '^' ? rp < p : rp <= p) ? `(${printScalar(n.rhs)})` : printScalar(n.rhs)}`;
      }
      return out;
    }
  }
}

function scalarLeftNeedsParens(e: ScalarOperation): boolean {
  const p = binaryPrecedence(e.op);
  const lp = scalarPrecedence(e.lhs);
  return e.op === '^' ? lp <= p : lp < p;
}

function printElement(e: PipelineElement): string {
  switch (e.kind) {
    case 'spansetFilter':
    case 'spansetOperation':
      return printSpanset(e);
    case 'scalarFilter':
      return `${printScalar(e.lhs)} ${e.op} ${printScalar(e.rhs)}`;
    case 'groupBy':
      return `by(${printField(e.expr)})`;
    case 'coalesce':
      return 'coalesce()';
    case 'select':
      return `select(${e.attributes.map(printAttribute).join(', ')})`;
  }
}

function printPipeline(p: Pipeline): string {
  return p.elements.map(printElement).join(' | ');
}

// --- metrics --------------------------------------------------------------------------------------

function printFirstStage(f: MetricsFirstStage): string {
  if (f.kind === 'compare') {
    const args = [printSpanset(f.filter)];
    if (f.start !== 0n || f.end !== 0n) args.push(String(f.topN), String(f.start), String(f.end));
    else if (f.topN !== 10) args.push(String(f.topN));
    return `compare(${args.join(', ')})`;
  }
  const args: string[] = [];
  if (f.attribute !== null) args.push(printAttribute(f.attribute));
  for (const q of f.quantiles) args.push(String(q));
  const by = f.by.length > 0 ? ` by (${f.by.map(printAttribute).join(', ')})` : '';
  return `${f.op}(${args.join(', ')})${by}`;
}

function printStages(stages: SecondStage[]): string {
  return stages
    .map((s) => (s.kind === 'metricsFilter' ? ` ${s.op} ${printNumber(s.value)}` : ` | ${s.kind}(${s.limit})`))
    .join('');
}

function printMetricsQuery(q: MetricsQuery): string {
  return `${printPipeline(q.pipeline)} | ${printFirstStage(q.firstStage)}${printStages(q.secondStages)}`;
}

function mathPrecedence(e: MetricsExpression): number {
  return e.kind === 'metricsMath' ? binaryPrecedence(e.op) : ATOM;
}

function printMath(e: MetricsExpression): string {
  switch (e.kind) {
    case 'static':
      return printNumber(e);
    case 'metricsQuery':
      return `(${printMetricsQuery(e)})`;
    case 'metricsMath': {
      const spine: MetricsMath[] = [];
      let bottom: MetricsExpression = e;
      while (bottom.kind === 'metricsMath') {
        const n: MetricsMath = bottom;
        spine.push(n);
        bottom = n.lhs;
        if (mathPrecedence(n.lhs) < binaryPrecedence(n.op)) break;
      }
      const last = spine[spine.length - 1]!;
      let out = mathPrecedence(last.lhs) < binaryPrecedence(last.op) ? `(${printMath(bottom)})` : printMath(bottom);
      for (let i = spine.length - 1; i >= 0; i--) {
        const n = spine[i]!;
        const r = mathPrecedence(n.rhs) <= binaryPrecedence(n.op) ? `(${printMath(n.rhs)})` : printMath(n.rhs);
        out += ` ${n.op} ${r}${printStages(n.secondStages)}`;
      }
      return out;
    }
  }
}

function printHints(hints: Hint[]): string {
  if (hints.length === 0) return '';
  return ` with (${hints.map((h) => `${h.name}=${printStatic(h.value)}`).join(', ')})`;
}

function printRoot(r: RootExpr): string {
  const q = r.query;
  const body = q.kind === 'pipeline' ? printPipeline(q) : q.kind === 'metricsQuery' ? printMetricsQuery(q) : printMath(q);
  return body + printHints(r.hints);
}

/** Prints any AST node as TraceQL. */
export function print(node: Node): string {
  switch (node.kind) {
    case 'root':
      return printRoot(node);
    case 'pipeline':
      return printPipeline(node);
    case 'spansetFilter':
    case 'spansetOperation':
    case 'scalarFilter':
    case 'groupBy':
    case 'coalesce':
    case 'select':
      return printElement(node);
    case 'binary':
    case 'unary':
    case 'static':
    case 'attribute':
    case 'intrinsic':
      return printField(node);
    case 'aggregate':
    case 'scalarOperation':
    case 'scalarPipeline':
      return printScalar(node);
    case 'metricsQuery':
      return printMetricsQuery(node);
    case 'metricsMath':
      return printMath(node);
    case 'metricsAggregate':
    case 'compare':
      return printFirstStage(node);
    case 'topk':
    case 'bottomk':
    case 'metricsFilter':
      return printStages([node]).trimStart().replace(/^\| /, '');
    case 'hint':
      return `${node.name}=${printStatic(node.value)}`;
  }
}
