// @andante/traceql: the TraceQL language — lexer, parser, AST, static checks, printer — and the search engine.

export type {
  Aggregate,
  AggregateOp,
  ArithmeticOperator,
  Attribute,
  AttributeRef,
  AttributeScope,
  BinaryOperation,
  BinaryOperator,
  CoalesceOperation,
  ComparisonOperator,
  FieldExpression,
  GroupOperation,
  Hint,
  Intrinsic,
  IntrinsicName,
  KindValue,
  LogicalOperator,
  MetricsAggregate,
  MetricsAggregateOp,
  MetricsCompare,
  MetricsExpression,
  MetricsFilter,
  MetricsFirstStage,
  MetricsMath,
  MetricsMathOperator,
  MetricsQuery,
  Node,
  Pipeline,
  PipelineElement,
  RegexOperator,
  RootExpr,
  ScalarExpression,
  ScalarFilter,
  ScalarOperation,
  ScalarPipeline,
  SecondStage,
  SelectOperation,
  SpansetExpression,
  SpansetFilter,
  SpansetOperation,
  SpansetOperator,
  Static,
  StaticBool,
  StaticDuration,
  StaticFloat,
  StaticInt,
  StaticKind,
  StaticNil,
  StaticNumber,
  StaticStatus,
  StaticString,
  StaticType,
  StatusValue,
  StructuralOperator,
  TopKBottomK,
  UnaryOperation,
  UnaryOperator,
} from './ast.js';
export { INTRINSIC_TYPES, MAX_INT, MIN_INT, isMetricsQuery } from './ast.js';
export { ParseError, TraceQLError, UnsupportedError, ValidationError } from './errors.js';
export { parse } from './parse.js';
export { MAX_NESTING } from './parser.js';
export { print } from './stringer.js';
export type { ValueType } from './validate.js';
export { MAX_COMPARE_TOP_N, MAX_GROUP_BYS, impliedType, referencesSpan, validate } from './validate.js';
export { RegexSyntaxError, compileRegex } from './regex.js';
export { formatDuration, parseDuration } from './duration.js';

// Search engine: queries compiled into closures and evaluated over whole traces.
export type { EvalEvent, EvalLink, EvalSpan, EvalTrace } from './engine/eval-trace.js';
export { buildEvalTrace } from './engine/eval-trace.js';
export type { SearchOptions, SearchQuery } from './engine/engine.js';
export { DEFAULT_SPANS_PER_SPAN_SET, compileSearch, searchCompiler } from './engine/engine.js';
export type { Spanset } from './engine/pipeline.js';
export type { QueryCondition, QueryConditions } from './engine/conditions.js';
export { queryConditions } from './engine/conditions.js';
export { EvaluationError, MetricsQueryError } from './engine/errors.js';

// Metrics engine: first-stage accumulation into mergeable partials, exact merge, series.
export type { MetricsRange } from './metrics/range.js';
export { IntervalMapper, alignRange, defaultStepNs } from './metrics/range.js';
export { SKETCH_RELATIVE_ACCURACY } from './metrics/sketch.js';
export type { MetricsPlan, LeafPlan, AccumulatorOptions } from './metrics/evaluator.js';
export { MetricsAccumulator, MetricsMerger, NotMetricsQueryError, planMetricsQuery } from './metrics/evaluator.js';
export { finalizeMetrics } from './metrics/finalize.js';
export { metricsEngine } from './metrics/engine.js';
