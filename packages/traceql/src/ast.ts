// TraceQL abstract syntax tree. Every node is a plain object tagged by `kind`, so the engine, the
// printer and the validator switch on one field and trees compare with deep equality.
//
// The tree keeps what the user wrote (no constant folding inside `{ }`), except where Tempo's
// grammar itself normalises: `{ }` is `{ true }`, `x = nil` / `x != nil` become exists tests,
// `nil = nil` is `false`, colon-scoped intrinsics (`span:name`) equal their bare form (`name`),
// and constant arithmetic in scalar and metrics positions (`avg(.a) > 1 - 3`,
// `2 * 3 + ({} | rate())`) is folded, as Tempo folds it at parse time.

/** Types a static value can have. Ints and durations are int64 in Tempo, hence bigint here. */
export type StaticType = 'nil' | 'int' | 'float' | 'string' | 'bool' | 'duration' | 'status' | 'kind';

export type StatusValue = 'error' | 'ok' | 'unset';
export type KindValue = 'unspecified' | 'internal' | 'server' | 'client' | 'producer' | 'consumer';

export interface StaticNil {
  kind: 'static';
  type: 'nil';
}
export interface StaticInt {
  kind: 'static';
  type: 'int';
  value: bigint;
}
export interface StaticFloat {
  kind: 'static';
  type: 'float';
  value: number;
}
export interface StaticString {
  kind: 'static';
  type: 'string';
  value: string;
}
export interface StaticBool {
  kind: 'static';
  type: 'bool';
  value: boolean;
}
/** A duration in nanoseconds. */
export interface StaticDuration {
  kind: 'static';
  type: 'duration';
  value: bigint;
}
export interface StaticStatus {
  kind: 'static';
  type: 'status';
  value: StatusValue;
}
export interface StaticKind {
  kind: 'static';
  type: 'kind';
  value: KindValue;
}
export type Static =
  | StaticNil
  | StaticInt
  | StaticFloat
  | StaticString
  | StaticBool
  | StaticDuration
  | StaticStatus
  | StaticKind;
/** The statics that may stand in scalar and metrics positions. */
export type StaticNumber = StaticInt | StaticFloat | StaticDuration;

/** `none` is the unscoped `.attr` form: span attributes first, then resource attributes. */
export type AttributeScope = 'none' | 'span' | 'resource' | 'event' | 'link' | 'instrumentation';

export interface Attribute {
  kind: 'attribute';
  scope: AttributeScope;
  /** `parent.` prefix: parses, but validation reports it unsupported (as Tempo does). */
  parent: boolean;
  name: string;
}

/** Intrinsic names as Tempo spells them when printing (and as the tag APIs list them). */
export type IntrinsicName =
  | 'duration'
  | 'name'
  | 'status'
  | 'statusMessage'
  | 'kind'
  | 'parent'
  | 'rootName'
  | 'rootServiceName'
  | 'traceDuration'
  | 'nestedSetLeft'
  | 'nestedSetRight'
  | 'nestedSetParent'
  | 'trace:id'
  | 'span:id'
  | 'span:parentID'
  | 'span:childCount'
  | 'event:name'
  | 'event:timeSinceStart'
  | 'link:traceID'
  | 'link:spanID'
  | 'instrumentation:name'
  | 'instrumentation:version';

export interface Intrinsic {
  kind: 'intrinsic';
  name: IntrinsicName;
}

/** What `select()`, `by (...)` and metrics functions accept. */
export type AttributeRef = Attribute | Intrinsic;

export type ArithmeticOperator = '+' | '-' | '*' | '/' | '%' | '^';
export type ComparisonOperator = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type RegexOperator = '=~' | '!~';
export type LogicalOperator = '&&' | '||';
export type BinaryOperator = ArithmeticOperator | ComparisonOperator | RegexOperator | LogicalOperator;

export interface BinaryOperation {
  kind: 'binary';
  op: BinaryOperator;
  lhs: FieldExpression;
  rhs: FieldExpression;
}

/** `exists` is `x != nil`, `notExists` is `x = nil`. */
export type UnaryOperator = '-' | '!' | 'exists' | 'notExists';

export interface UnaryOperation {
  kind: 'unary';
  op: UnaryOperator;
  expr: FieldExpression;
}

/** An expression evaluated per span, inside `{ }`, `by()` and aggregates. */
export type FieldExpression = BinaryOperation | UnaryOperation | Static | Attribute | Intrinsic;

export interface SpansetFilter {
  kind: 'spansetFilter';
  expr: FieldExpression;
}

export type StructuralOperator =
  | '>'
  | '<'
  | '>>'
  | '<<'
  | '~'
  | '!>'
  | '!<'
  | '!>>'
  | '!<<'
  | '!~'
  | '&>'
  | '&<'
  | '&>>'
  | '&<<'
  | '&~';
export type SpansetOperator = LogicalOperator | StructuralOperator;

export interface SpansetOperation {
  kind: 'spansetOperation';
  op: SpansetOperator;
  lhs: SpansetExpression;
  rhs: SpansetExpression;
}

/** A parenthesised pipeline may be an operand of a spanset operation: `({ a } | count() > 1) && { b }`. */
export type SpansetExpression = SpansetFilter | SpansetOperation | Pipeline;

export type AggregateOp = 'count' | 'avg' | 'min' | 'max' | 'sum';

export interface Aggregate {
  kind: 'aggregate';
  op: AggregateOp;
  /** null only for count(). */
  expr: FieldExpression | null;
}

export interface ScalarOperation {
  kind: 'scalarOperation';
  op: ArithmeticOperator;
  lhs: ScalarExpression;
  rhs: ScalarExpression;
}

/** `({ ... } | count())`: a wrapped pipeline ending in an aggregate (only in root scalar filters). */
export interface ScalarPipeline {
  kind: 'scalarPipeline';
  pipeline: Pipeline;
  aggregate: Aggregate;
}

export type ScalarExpression = Aggregate | ScalarOperation | StaticNumber | ScalarPipeline;

export interface ScalarFilter {
  kind: 'scalarFilter';
  op: ComparisonOperator;
  lhs: ScalarExpression;
  rhs: ScalarExpression;
}

export interface GroupOperation {
  kind: 'groupBy';
  expr: FieldExpression;
}

export interface CoalesceOperation {
  kind: 'coalesce';
}

export interface SelectOperation {
  kind: 'select';
  attributes: AttributeRef[];
}

export type PipelineElement =
  | SpansetFilter
  | SpansetOperation
  | ScalarFilter
  | GroupOperation
  | CoalesceOperation
  | SelectOperation;

export interface Pipeline {
  kind: 'pipeline';
  elements: PipelineElement[];
}

export type MetricsAggregateOp =
  | 'rate'
  | 'count_over_time'
  | 'min_over_time'
  | 'max_over_time'
  | 'avg_over_time'
  | 'sum_over_time'
  | 'quantile_over_time'
  | 'histogram_over_time';

export interface MetricsAggregate {
  kind: 'metricsAggregate';
  op: MetricsAggregateOp;
  /** null for rate() and count_over_time(). */
  attribute: AttributeRef | null;
  /** quantile_over_time's quantiles; empty for the others. */
  quantiles: number[];
  by: AttributeRef[];
}

export interface MetricsCompare {
  kind: 'compare';
  filter: SpansetFilter;
  /** Defaults to 10 when not given, as in Tempo. */
  topN: number;
  /** Unix nanoseconds, 0 when not given. */
  start: bigint;
  end: bigint;
}

export type MetricsFirstStage = MetricsAggregate | MetricsCompare;

export interface TopKBottomK {
  kind: 'topk' | 'bottomk';
  limit: number;
}

/** `{} | rate() > 10`: keeps the data points that satisfy the comparison. */
export interface MetricsFilter {
  kind: 'metricsFilter';
  op: ComparisonOperator;
  value: StaticNumber;
}

export type SecondStage = TopKBottomK | MetricsFilter;

export interface MetricsQuery {
  kind: 'metricsQuery';
  pipeline: Pipeline;
  firstStage: MetricsFirstStage;
  secondStages: SecondStage[];
}

export type MetricsMathOperator = '+' | '-' | '*' | '/';

/** Arithmetic between parenthesised metrics queries, or a query and a number. */
export interface MetricsMath {
  kind: 'metricsMath';
  op: MetricsMathOperator;
  lhs: MetricsExpression;
  rhs: MetricsExpression;
  /** Second stages applied to the result; only the outermost node of a query has any. */
  secondStages: SecondStage[];
}

/** A Static operand is int or float only; at least one side of a MetricsMath is not a Static. */
export type MetricsExpression = MetricsQuery | MetricsMath | StaticInt | StaticFloat;

export interface Hint {
  kind: 'hint';
  name: string;
  value: Static;
}

export interface RootExpr {
  kind: 'root';
  /** A search (Pipeline) or a metrics query. */
  query: Pipeline | MetricsQuery | MetricsMath;
  /** `with (name=value, ...)`; empty when absent. */
  hints: Hint[];
}

export type Node =
  | RootExpr
  | Pipeline
  | PipelineElement
  | SpansetExpression
  | FieldExpression
  | Aggregate
  | ScalarOperation
  | ScalarPipeline
  | MetricsQuery
  | MetricsMath
  | MetricsAggregate
  | MetricsCompare
  | TopKBottomK
  | MetricsFilter
  | Hint;

/** The type each intrinsic yields, for static checks. */
export const INTRINSIC_TYPES: Readonly<Record<IntrinsicName, StaticType>> = {
  duration: 'duration',
  name: 'string',
  status: 'status',
  statusMessage: 'string',
  kind: 'kind',
  parent: 'nil',
  rootName: 'string',
  rootServiceName: 'string',
  traceDuration: 'duration',
  nestedSetLeft: 'int',
  nestedSetRight: 'int',
  nestedSetParent: 'int',
  'trace:id': 'string',
  'span:id': 'string',
  'span:parentID': 'string',
  'span:childCount': 'int',
  'event:name': 'string',
  'event:timeSinceStart': 'duration',
  'link:traceID': 'string',
  'link:spanID': 'string',
  'instrumentation:name': 'string',
  'instrumentation:version': 'string',
};

/** int64 bounds, the values of the `minInt` / `maxInt` identifiers. */
export const MIN_INT = -(2n ** 63n);
export const MAX_INT = 2n ** 63n - 1n;

export function isMetricsQuery(root: RootExpr): boolean {
  return root.query.kind !== 'pipeline';
}
