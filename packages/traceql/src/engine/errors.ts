// Errors the search engine adds to the parser's: both are the query's fault, so 400 like the rest.

import { TraceQLError } from '../errors.js';

/** A metrics query (`{ } | rate()`) sent to search. */
export class MetricsQueryError extends TraceQLError {
  readonly code = 'TRACEQL_METRICS_QUERY';
  override readonly name = 'MetricsQueryError';
  constructor() {
    super('metrics queries are not supported by search; use /api/metrics/query_range');
  }
}

/** A query that fails on the data it meets, as Tempo's engine does (message is Tempo's). */
export class EvaluationError extends TraceQLError {
  readonly code = 'TRACEQL_EVALUATION_ERROR';
  override readonly name = 'EvaluationError';
}

export const MULTIPLE_SPANSETS_MESSAGE =
  'spanset operators are not supported for multiple spansets per trace. consider using coalesce()';
