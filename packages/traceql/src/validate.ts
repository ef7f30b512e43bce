// Static checks on a parsed query, following Tempo's ast_validate.go: operand types must match and
// suit the operator, filters must be boolean, regexes must compile, intrinsics cannot be nil,
// aggregates and group-bys must reference the span, metrics limits hold. Features Tempo parses but
// does not run raise UnsupportedError.

import type {
  Aggregate,
  AttributeRef,
  BinaryOperation,
  BinaryOperator,
  FieldExpression,
  MetricsExpression,
  MetricsFirstStage,
  MetricsMath,
  MetricsQuery,
  Pipeline,
  PipelineElement,
  RootExpr,
  ScalarExpression,
  ScalarOperation,
  SecondStage,
  SpansetExpression,
  SpansetFilter,
  StaticType,
  UnaryOperation,
} from './ast.js';
import { INTRINSIC_TYPES } from './ast.js';
import { UnsupportedError, ValidationError } from './errors.js';
import { compileRegex, RegexSyntaxError } from './regex.js';
import { print } from './stringer.js';

/** A static type, or `attribute` when the type is only known per span at query time. */
export type ValueType = StaticType | 'attribute';

/** Tempo's limit on metrics `by (...)` attributes. */
export const MAX_GROUP_BYS = 5;
/** Tempo's limit on compare()'s top-N. */
export const MAX_COMPARE_TOP_N = 1000;

const BOOLEAN_OPS: ReadonlySet<BinaryOperator> = new Set(['&&', '||', '=', '!=', '=~', '!~', '>', '>=', '<', '<=']);

function isNumeric(t: ValueType): boolean {
  return t === 'int' || t === 'float' || t === 'duration';
}

function isMatchingOperand(a: ValueType, b: ValueType): boolean {
  return a === 'attribute' || b === 'attribute' || a === b || (isNumeric(a) && isNumeric(b)) || a === 'nil' || b === 'nil';
}

function binaryTypeValid(op: BinaryOperator, t: ValueType): boolean {
  switch (t) {
    case 'attribute':
      return true;
    case 'bool':
      return op === '&&' || op === '||' || op === '=' || op === '!=';
    case 'int':
    case 'float':
    case 'duration':
      return !['&&', '||', '=~', '!~'].includes(op);
    case 'string':
      return ['=', '!=', '=~', '!~', '>', '>=', '<', '<='].includes(op);
    case 'nil':
    case 'status':
    case 'kind':
      return op === '=' || op === '!=';
  }
}

/** Nodes whose left operand comes first: binary operations and `x = nil` / `x != nil`. */
type LeftNode = BinaryOperation | UnaryOperation;

function asLeftNode(e: FieldExpression): LeftNode | null {
  if (e.kind === 'binary') return e;
  if (e.kind === 'unary' && (e.op === 'exists' || e.op === 'notExists')) return e;
  return null;
}

/**
 * Left-associative chains (`a || b || c ...`) can be thousands long, so they are walked in a loop:
 * returns the chain from the top down and the operand at its bottom.
 */
function leftSpine(e: FieldExpression): { spine: LeftNode[]; bottom: FieldExpression } {
  const spine: LeftNode[] = [];
  let bottom = e;
  for (let n = asLeftNode(e); n !== null; n = asLeftNode(bottom)) {
    spine.push(n);
    bottom = n.kind === 'binary' ? n.lhs : n.expr;
  }
  return { spine, bottom };
}

/** The type a field expression yields, as far as it is known before reading spans. */
export function impliedType(e: FieldExpression): ValueType {
  const { spine, bottom } = leftSpine(e);
  let t: ValueType;
  switch (bottom.kind) {
    case 'static':
      t = bottom.type;
      break;
    case 'attribute':
      t = 'attribute';
      break;
    case 'intrinsic':
      t = INTRINSIC_TYPES[bottom.name];
      break;
    default:
      // a prefix `-` or `!`
      t = impliedType((bottom as UnaryOperation).expr);
  }
  for (let i = spine.length - 1; i >= 0; i--) {
    const n = spine[i]!;
    if (n.kind === 'unary' || BOOLEAN_OPS.has(n.op)) t = 'bool';
    else if (t === 'attribute') t = impliedType(n.rhs);
  }
  return t;
}

/** Whether the expression reads the span (any attribute or intrinsic), or is constant. */
export function referencesSpan(e: FieldExpression): boolean {
  const stack = [e];
  for (let cur = stack.pop(); cur !== undefined; cur = stack.pop()) {
    switch (cur.kind) {
      case 'attribute':
      case 'intrinsic':
        return true;
      case 'unary':
        stack.push(cur.expr);
        break;
      case 'binary':
        stack.push(cur.lhs, cur.rhs);
        break;
      default:
    }
  }
  return false;
}

function validateAttribute(a: AttributeRef): void {
  if (a.kind === 'attribute' && a.parent) throw new UnsupportedError('parent');
  if (a.kind === 'intrinsic' && a.name === 'parent') throw new UnsupportedError('intrinsic (parent)');
}

/** Validates a field expression and returns its implied type. */
function validateField(e: FieldExpression): ValueType {
  const { spine, bottom } = leftSpine(e);
  let t = validateFieldLeaf(bottom);
  for (let i = spine.length - 1; i >= 0; i--) t = validateLeftNode(spine[i]!, t);
  return t;
}

function validateFieldLeaf(e: FieldExpression): ValueType {
  switch (e.kind) {
    case 'static':
      return e.type;
    case 'attribute':
      validateAttribute(e);
      return 'attribute';
    case 'intrinsic':
      validateAttribute(e);
      return INTRINSIC_TYPES[e.name];
    case 'unary': {
      const t = validateField(e.expr);
      if (t !== 'attribute' && ((e.op === '-' && !isNumeric(t)) || (e.op === '!' && t !== 'bool'))) {
        throw new ValidationError(`illegal operation for the given type: ${print(e)}`);
      }
      return t;
    }
    case 'binary':
      return validateField(e);
  }
}

/** Checks one link of a chain whose left operand has already been validated with type `lt`. */
function validateLeftNode(n: LeftNode, lt: ValueType): ValueType {
  if (n.kind === 'unary') {
    const x = n.expr;
    if (n.op === 'notExists' && x.kind === 'intrinsic') {
      throw new ValidationError(`${print(x)}=nil is not valid because intrinsics cannot be nil`);
    }
    if (n.op === 'notExists' && x.kind === 'attribute' && x.scope === 'resource' && !x.parent && x.name === 'service.name') {
      throw new ValidationError(`${print(x)}=nil is not valid because resource.service.name cannot be nil`);
    }
    return 'bool';
  }
  const rt = validateField(n.rhs);
  if (!isMatchingOperand(lt, rt)) {
    throw new ValidationError(`binary operations must operate on the same type: ${print(n)}`);
  }
  if (!binaryTypeValid(n.op, lt) || !binaryTypeValid(n.op, rt)) {
    throw new ValidationError(`illegal operation for the given types: ${print(n)}`);
  }
  if (n.op === '=~' || n.op === '!~') {
    if (n.rhs.kind !== 'static' || n.rhs.type !== 'string') {
      throw new ValidationError(`invalid type for =~ or !~: ${print(n.rhs)}`);
    }
    try {
      compileRegex(n.rhs.value);
    } catch (err) {
      if (err instanceof RegexSyntaxError) throw new ValidationError(`invalid regex: ${print(n.rhs)}`);
      throw err;
    }
  }
  if (BOOLEAN_OPS.has(n.op)) return 'bool';
  return lt !== 'attribute' ? lt : rt;
}

function validateSpansetFilter(f: SpansetFilter): void {
  const t = validateField(f.expr);
  if (t !== 'attribute' && t !== 'bool') {
    throw new ValidationError(`span filter field expressions must resolve to a boolean: ${print(f)}`);
  }
}

function validateSpanset(e: SpansetExpression): void {
  // Walk the left spine of an operation chain in a loop (see leftSpine).
  const rights: SpansetExpression[] = [];
  let cur = e;
  while (cur.kind === 'spansetOperation') {
    rights.push(cur.rhs);
    cur = cur.lhs;
  }
  if (cur.kind === 'spansetFilter') validateSpansetFilter(cur);
  else validatePipeline(cur);
  for (let i = rights.length - 1; i >= 0; i--) validateSpanset(rights[i]!);
}

/** Validates a scalar expression and returns its type. */
function validateScalar(e: ScalarExpression): ValueType {
  const spine: ScalarOperation[] = [];
  let bottom = e;
  while (bottom.kind === 'scalarOperation') {
    spine.push(bottom);
    bottom = bottom.lhs;
  }
  let lt: ValueType;
  switch (bottom.kind) {
    case 'static':
      lt = bottom.type;
      break;
    case 'aggregate':
      lt = validateAggregate(bottom);
      break;
    default:
      validatePipeline(bottom.pipeline);
      lt = validateAggregate(bottom.aggregate);
  }
  for (let i = spine.length - 1; i >= 0; i--) {
    const n = spine[i]!;
    const rt = validateScalar(n.rhs);
    if (!isMatchingOperand(lt, rt)) {
      throw new ValidationError(`binary operations must operate on the same type: ${print(n)}`);
    }
    if (!binaryTypeValid(n.op, lt) || !binaryTypeValid(n.op, rt)) {
      throw new ValidationError(`illegal operation for the given types: ${print(n)}`);
    }
    if (lt === 'attribute') lt = rt;
  }
  return lt;
}

/** Validates an aggregate and returns the type it yields. */
function validateAggregate(a: Aggregate): ValueType {
  if (a.expr === null) return 'int';
  const t = validateField(a.expr);
  if (t !== 'attribute' && !isNumeric(t)) {
    throw new ValidationError(`aggregate field expressions must resolve to a number type: ${print(a)}`);
  }
  if (!referencesSpan(a.expr)) {
    throw new ValidationError(`aggregate field expressions must reference the span: ${print(a)}`);
  }
  return a.op === 'count' ? 'int' : t;
}

function validateElement(e: PipelineElement): void {
  switch (e.kind) {
    case 'spansetFilter':
    case 'spansetOperation':
      return validateSpanset(e);
    case 'scalarFilter': {
      const lt = validateScalar(e.lhs);
      const rt = validateScalar(e.rhs);
      if (!isMatchingOperand(lt, rt)) {
        throw new ValidationError(`binary operations must operate on the same type: ${print(e)}`);
      }
      if (!binaryTypeValid(e.op, lt) || !binaryTypeValid(e.op, rt)) {
        throw new ValidationError(`illegal operation for the given types: ${print(e)}`);
      }
      // Tempo only evaluates `aggregate op number`.
      if (e.lhs.kind !== 'aggregate') throw new UnsupportedError(`scalar filter lhs of type (${e.lhs.kind})`);
      if (e.rhs.kind !== 'static') throw new UnsupportedError(`scalar filter rhs of type (${e.rhs.kind})`);
      return;
    }
    case 'groupBy':
      if (!referencesSpan(e.expr)) {
        throw new ValidationError(`grouping field expressions must reference the span: ${print(e)}`);
      }
      validateField(e.expr);
      return;
    case 'coalesce':
      return;
    case 'select':
      for (const a of e.attributes) validateAttribute(a);
      return;
  }
}

function validatePipeline(p: Pipeline): void {
  for (const e of p.elements) validateElement(e);
}

function validateFirstStage(f: MetricsFirstStage): void {
  if (f.kind === 'compare') {
    validateSpansetFilter(f.filter);
    if (f.topN <= 0 || f.topN > MAX_COMPARE_TOP_N) {
      throw new ValidationError(`compare() top number of values must be an integer between 1 and ${MAX_COMPARE_TOP_N}`);
    }
    if (f.start === 0n && f.end === 0n) return;
    if (f.start <= 0n || f.end <= 0n) throw new ValidationError('compare() timestamps must be positive integer unix nanoseconds');
    if (f.end <= f.start) throw new ValidationError('compare() end timestamp must be greater than start timestamp');
    return;
  }
  // quantile, histogram and avg add a series label of their own, so they allow one group-by less.
  const reserved = f.op === 'quantile_over_time' || f.op === 'histogram_over_time' || f.op === 'avg_over_time' ? 1 : 0;
  if (f.by.length > MAX_GROUP_BYS - reserved) throw new UnsupportedError(`metrics group by ${f.by.length} values`);
  for (const q of f.quantiles) {
    if (q < 0 || q > 1) throw new ValidationError(`quantile must be between 0 and 1: ${q}`);
  }
  // Stricter than Tempo, which ignores these: a parent attribute cannot be evaluated here either.
  if (f.attribute !== null) validateAttribute(f.attribute);
  for (const a of f.by) validateAttribute(a);
}

function validateStages(stages: SecondStage[]): void {
  for (const s of stages) {
    if (s.kind !== 'metricsFilter' && s.limit <= 0) throw new ValidationError('limit must be greater than 0');
  }
}

function validateMetricsQuery(q: MetricsQuery): void {
  validatePipeline(q.pipeline);
  validateFirstStage(q.firstStage);
  validateStages(q.secondStages);
}

const COMPARE_WITH_STAGES = '`compare()` cannot be used with second stage functions';

/** Validates a metrics expression; returns whether it uses compare(). */
function validateMetrics(e: MetricsExpression): boolean {
  // Math chains are walked down their left spine in a loop.
  const spine: MetricsMath[] = [];
  let bottom = e;
  while (bottom.kind === 'metricsMath') {
    spine.push(bottom);
    bottom = bottom.lhs;
  }
  let compare = false;
  if (bottom.kind === 'metricsQuery') {
    validateMetricsQuery(bottom);
    compare = bottom.firstStage.kind === 'compare';
  }
  for (let i = spine.length - 1; i >= 0; i--) {
    const n = spine[i]!;
    compare = validateMetrics(n.rhs) || compare;
    validateStages(n.secondStages);
  }
  return compare;
}

/**
 * Type-checks a parsed query. Throws ValidationError, or UnsupportedError (a subclass) for
 * features Tempo parses but does not execute.
 */
export function validate(root: RootExpr): void {
  const q = root.query;
  if (q.kind === 'pipeline') return validatePipeline(q);
  const compare = validateMetrics(q);
  // compare() stands alone: no topk/bottomk, filters or arithmetic around it.
  if (compare && (q.kind === 'metricsMath' || q.secondStages.length > 0)) {
    throw new ValidationError(COMPARE_WITH_STAGES);
  }
}
