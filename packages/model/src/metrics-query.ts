// TraceQL metrics as they travel between the query-frontend, ingesters and block jobs, in a form
// that needs no query language (the engine lives in @andante/traceql) and crosses worker-thread
// and process boundaries as plain data (typed arrays, strings, bigints).

import type { FetchCondition, FetchSpansRequest } from './search.js';
import type { Trace } from './trace.js';
import type { RecentBlocks } from './ingest.js';
import type { BlockMeta } from './block-meta.js';
import type { KeyValue } from './trace.js';

/** A metrics query over a time range (Tempo's QueryRangeRequest, times in unix ns). */
export interface MetricsRequest {
  query: string;
  startNs: bigint;
  endNs: bigint;
  /** Step in ns; for an instant query end - start. Already aligned by the frontend. */
  stepNs: bigint;
  instant: boolean;
  /** Exemplars per series, at most. */
  exemplars: number;
  /** This job observes spans starting in (windowStartNs, windowEndNs] only (0, 0: the whole range); a time split. */
  windowStartNs?: bigint;
  windowEndNs?: bigint;
  /**
   * Only traces whose ring token falls in one of these inclusive [start, end] pairs (sorted): at
   * replication factor > 1 each ingester counts its share only, so a span held by three replicas
   * is counted once. Absent: every trace.
   */
  tokenRanges?: number[];
  /**
   * The split between the query's sources (query_frontend.metrics.query_backend_after before
   * now): where ingesters answer for their token shares (replication factor > 1), they count only
   * spans starting after it, and backend blocks only spans up to it, so a span one replica has
   * flushed while another still holds it is counted by one source. Ignored at replication factor 1,
   * where memory and blocks never hold the same span.
   */
  recentAfterNs?: bigint;
}

export interface ExemplarPartial {
  traceId: string;
  spanId: string;
  timestampMs: number;
  /** NaN: the sample's value (counts and rates). */
  value: number;
}

/** One series of one leaf query, per interval of the whole range. */
export interface SeriesPartial {
  key: string;
  labels: KeyValue[];
  count: Float64Array;
  sum: Float64Array | null;
  min: Float64Array | null;
  max: Float64Array | null;
  /** Per interval, bucket counts as [key, count, ...] (quantile sketches, log2 histograms). */
  dist: (Float64Array | null)[] | null;
  exemplars: ExemplarPartial[];
}

/**
 * What one job (an ingester's memory, a block, a time slice) found: mergeable exactly (counts,
 * sums, min, max and bucket counts add up), so the frontend's combine is order-independent.
 */
export interface MetricsPartial extends RecentBlocks {
  /** One per first-stage query of the expression (arithmetic has several). */
  leaves: { series: SeriesPartial[] }[];
  inspectedTraces: number;
  inspectedSpans: number;
  inspectedBytes: number;
  /** Block IDs whose spans this partial already holds (an ingester's blocks being flushed): readers skip them. */
  coveredBlocks?: string[];
  /**
   * Set when this recent answer counted only spans starting after the split (MetricsRequest.
   * recentAfterNs): the reader then counts blocks for spans up to it only, and reads `ownBlocks`
   * for the spans after it.
   */
  recentAfterNs?: bigint;
  /**
   * Blocks a replica flushed recently (named for complete_block_timeout), each to be read for the
   * spans after the split of the traces in that replica's token ranges only: its share of what it
   * no longer holds in memory.
   */
  ownBlocks?: { meta: BlockMeta; tokenRanges: number[] }[];
}

/**
 * A span column storage reads for a metrics query: an intrinsic it stores as a column, or a
 * resource attribute (resource table).
 */
export type SpanColumnRef = { scope: 'intrinsic'; name: 'name' | 'status' | 'kind' | 'duration' } | { scope: 'resource'; name: string };

/**
 * A columnar metrics scan: every condition must hold on a span, and storage evaluates each one
 * exactly or refuses the scan (then the caller reads whole traces and lets the engine decide).
 */
export interface SpanColumnsRequest {
  conditions: FetchCondition[];
  groups: SpanColumnRef[];
  value: SpanColumnRef | null;
  /** Unix ns: row groups whose spans all start outside [startNs, endNs] are skipped. */
  startNs: number;
  endNs: number;
  /** Span start times are handed over as offsets from this (the range's start). */
  baseNs: bigint;
}

/** One row group's columns for the spans that passed (or all rows with a mask). */
export interface SpanColumnBatch {
  rows: number;
  /** 1 for rows that satisfy every condition; null: all do. */
  mask: Uint8Array | null;
  /** Span start minus the request's baseNs, in ns: exact (computed from the int64 words) within 2^53 ns. */
  startOffsetNs: Float64Array;
  /** The value column (durations in ns); null when none was asked. */
  value: Float64Array | null;
  /**
   * Per group ref: a code per row into `values`; values are what the column holds (strings for
   * names, numeric codes for status and kind, OTLP AnyValues or undefined for resource attributes).
   */
  groups: { codes: Int32Array; values: unknown[] }[];
  /** Trace and span IDs of some rows (for exemplars). */
  ids(rows: readonly number[]): Promise<{ traceId: Uint8Array; spanId: Uint8Array }[]>;
}

export interface MetricsSample {
  timestampMs: bigint;
  value: number;
}

export interface MetricsExemplar {
  /** `trace:id` and `span:id` (hex). */
  labels: KeyValue[];
  value: number;
  timestampMs: bigint;
}

/** One series of a query_range answer (Tempo's TimeSeries); samples oldest first. */
export interface MetricsSeries {
  labels: KeyValue[];
  samples: MetricsSample[];
  exemplars: MetricsExemplar[];
}

/** One job's accumulation (step a of the evaluation): fed whole traces or, per leaf, columns. */
export interface MetricsJob {
  /** Per first-stage query: the columnar scan that answers it exactly, or null (read whole traces). */
  readonly columnPlans: readonly (SpanColumnsRequest | null)[];
  /** A conservative pushdown for reading whole traces (the union of the leaves' conditions). */
  readonly fetch?: FetchSpansRequest;
  /** Observes a whole trace for every leaf, or only these leaves (the others were answered from columns). Counts nothing: see addInspected. */
  observeTrace(trace: Trace, leaves?: readonly number[]): void;
  observeColumns(leaf: number, batch: SpanColumnBatch): Promise<number>;
  /** Counters the caller adds to what observe* counted. */
  addInspected(traces: number, spans: number, bytes: number): void;
  partial(): MetricsPartial;
}

/** Merges partials (step b) and answers the series (step c: Tempo's shape, second stages applied). */
export interface MetricsCombiner {
  add(partial: MetricsPartial): void;
  series(): MetricsSeries[];
  readonly inspectedTraces: number;
  readonly inspectedSpans: number;
  readonly inspectedBytes: number;
}

/** The metrics side of the query language, injected into ingesters and queriers (they do not own the language). */
export interface MetricsEngine {
  /** Parses and validates; throws a 400-class error for a bad or non-metrics query. */
  check(query: string): { ignoredHints: string[]; exemplars?: number };
  job(req: MetricsRequest): MetricsJob;
  combiner(req: MetricsRequest): MetricsCombiner;
  /** Tempo's DefaultQueryRangeStep. */
  defaultStepNs(startNs: bigint, endNs: bigint): bigint;
  /** Tempo's AlignRequest (start and end to the step, one step more in front; instant ranges unchanged). */
  alignRange(r: { startNs: bigint; endNs: bigint; stepNs: bigint; instant: boolean }): { startNs: bigint; endNs: bigint; stepNs: bigint; instant: boolean };
}

/** An instant answer's series (Tempo's QueryInstantResponse InstantSeries). */
export interface InstantSeries {
  labels: KeyValue[];
  value: number;
}
