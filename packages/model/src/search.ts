// Search results as Tempo's SearchResponse (tempopb), and their JSON as Grafana's Tempo data
// source parses it: strictly, with gogo jsonpb rules (lowerCamel names, 64-bit integers as
// strings, zero values omitted) and no field that Tempo's mid-2025 SearchResponse lacks.

import { attributesJson, jsonString } from './json.js';
import type { KeyValue, Trace } from './trace.js';

export interface SearchSpan {
  /** Hex. */
  spanID: string;
  name: string;
  startTimeUnixNano: bigint;
  durationNanos: bigint;
  /** The attributes the query named (and select()ed ones). */
  attributes: KeyValue[];
}

export interface SearchSpanSet {
  spans: SearchSpan[];
  /** Spans that matched; `spans` holds at most `spss` of them. */
  matched: number;
  /** Spanset-level values: by() groups and aggregates. */
  attributes: KeyValue[];
}

export interface ServiceStats {
  spanCount: number;
  errorCount: number;
}

export interface TraceSearchMetadata {
  /** Hex, 32 digits. */
  traceID: string;
  rootServiceName: string;
  rootTraceName: string;
  startTimeUnixNano: bigint;
  durationMs: number;
  spanSets: SearchSpanSet[];
  serviceStats: Record<string, ServiceStats>;
}

/** SearchMetrics fields 1-7; Tempo's later backendReads/backendBytes/additionalMetrics are left out on purpose. */
export interface SearchMetrics {
  inspectedTraces: number;
  inspectedBytes: bigint;
  totalBlocks: number;
  completedJobs: number;
  totalJobs: number;
  totalBlockBytes: bigint;
  inspectedSpans: bigint;
}

export interface SearchResponse {
  traces: TraceSearchMetadata[];
  metrics: SearchMetrics;
}

export function emptySearchMetrics(): SearchMetrics {
  return { inspectedTraces: 0, inspectedBytes: 0n, totalBlocks: 0, completedJobs: 0, totalJobs: 0, totalBlockBytes: 0n, inspectedSpans: 0n };
}

export function addSearchMetrics(into: SearchMetrics, m: SearchMetrics): void {
  into.inspectedTraces += m.inspectedTraces;
  into.inspectedBytes += m.inspectedBytes;
  into.totalBlocks += m.totalBlocks;
  into.completedJobs += m.completedJobs;
  into.totalJobs += m.totalJobs;
  into.totalBlockBytes += m.totalBlockBytes;
  into.inspectedSpans += m.inspectedSpans;
}

/** Builds a JSON object from [key, json] pairs, dropping the ones that are zero values. */
function object(fields: [string, string | null][]): string {
  return `{${fields
    .filter((f): f is [string, string] => f[1] !== null)
    .map(([k, v]) => `"${k}":${v}`)
    .join(',')}}`;
}

const str = (s: string): string | null => (s ? jsonString(s) : null);
const u64 = (v: bigint): string | null => (v !== 0n ? `"${v}"` : null);
const u32 = (v: number): string | null => (v !== 0 ? String(v) : null);
const attrs = (a: readonly KeyValue[]): string | null => (a.length ? attributesJson(a) : null);

function spanJson(s: SearchSpan): string {
  return object([
    ['spanID', str(s.spanID)],
    ['name', str(s.name)],
    ['startTimeUnixNano', u64(s.startTimeUnixNano)],
    ['durationNanos', u64(s.durationNanos)],
    ['attributes', attrs(s.attributes)],
  ]);
}

function spanSetJson(s: SearchSpanSet): string {
  return object([
    ['spans', s.spans.length ? `[${s.spans.map(spanJson).join(',')}]` : null],
    ['matched', u32(s.matched)],
    ['attributes', attrs(s.attributes)],
  ]);
}

function traceJson(t: TraceSearchMetadata): string {
  const stats = Object.keys(t.serviceStats).sort();
  return object([
    ['traceID', str(t.traceID)],
    ['rootServiceName', str(t.rootServiceName)],
    ['rootTraceName', str(t.rootTraceName)],
    ['startTimeUnixNano', u64(t.startTimeUnixNano)],
    ['durationMs', u32(t.durationMs)],
    // Deprecated single spanset: the first of spanSets, as Tempo still sends it.
    ['spanSet', t.spanSets.length ? spanSetJson(t.spanSets[0]!) : null],
    ['spanSets', t.spanSets.length ? `[${t.spanSets.map(spanSetJson).join(',')}]` : null],
    [
      'serviceStats',
      stats.length
        ? `{${stats.map((k) => `${jsonString(k)}:${object([['spanCount', u32(t.serviceStats[k]!.spanCount)], ['errorCount', u32(t.serviceStats[k]!.errorCount)]])}`).join(',')}}`
        : null,
    ],
  ]);
}

export function searchMetricsJson(m: SearchMetrics): string {
  return object([
    ['inspectedTraces', u32(m.inspectedTraces)],
    ['inspectedBytes', u64(m.inspectedBytes)],
    ['totalBlocks', u32(m.totalBlocks)],
    ['completedJobs', u32(m.completedJobs)],
    ['totalJobs', u32(m.totalJobs)],
    ['totalBlockBytes', u64(m.totalBlockBytes)],
    ['inspectedSpans', u64(m.inspectedSpans)],
  ]);
}

export function searchResponseToJson(r: SearchResponse): string {
  return object([
    ['traces', r.traces.length ? `[${r.traces.map(traceJson).join(',')}]` : null],
    ['metrics', searchMetricsJson(r.metrics)],
  ]);
}

/** A search query compiled once and applied to whole traces (ingesters and block jobs share it). */
/** A literal a fetch condition compares with: strings; numbers for ints, floats, durations (ns), status and kind codes; booleans. */
export type FetchValue = string | number | boolean;

export type FetchOperator = '=' | '!=' | '<' | '<=' | '>' | '>=' | '=~' | '!~' | 'exists' | 'notExists';

/**
 * One thing a query reads, in a form storage understands without the query language (Tempo's
 * FetchSpansRequest conditions). Storage uses these only to skip what cannot match; the engine
 * still decides on whatever storage returns, so a storage that ignores a condition stays correct.
 */
export interface FetchCondition {
  /** `none` is the unscoped `.x` (span attribute, else resource); `intrinsic` names `duration`, `status`... */
  readonly scope: 'none' | 'span' | 'resource' | 'event' | 'link' | 'instrumentation' | 'intrinsic';
  readonly name: string;
  /** null: the value is read but not constrained by this condition. */
  readonly op: FetchOperator | null;
  /** The literal of a comparison; absent for exists/notExists and when it has no plain form. */
  readonly value?: FetchValue;
  /** For =~ and !~: the engine's regex test (anchored like Tempo's). */
  readonly matches?: (s: string) => boolean;
}

/** Whether one value (a string, number or boolean as stored; undefined when absent) may satisfy a condition. */
export type FetchTest = (v: unknown) => boolean;

/**
 * The test a storage applies to values for a condition, or null when the condition constrains
 * nothing a storage can check on its own (`!=`, `!~`, `= nil` and value-less reads: which types and
 * absent values satisfy those is the engine's call). Numbers compare with numbers, strings with
 * strings; a value of another type never satisfies an ordering.
 */
export function fetchConditionTest(c: FetchCondition): FetchTest | null {
  const lit = c.value;
  switch (c.op) {
    case 'exists':
      return (v) => v !== undefined;
    case '=':
      return lit === undefined ? null : (v) => v === lit;
    case '<':
      return lit === undefined ? null : (v) => typeof v === typeof lit && (v as number) < (lit as number);
    case '<=':
      return lit === undefined ? null : (v) => typeof v === typeof lit && (v as number) <= (lit as number);
    case '>':
      return lit === undefined ? null : (v) => typeof v === typeof lit && (v as number) > (lit as number);
    case '>=':
      return lit === undefined ? null : (v) => typeof v === typeof lit && (v as number) >= (lit as number);
    case '=~':
      return c.matches ? (v) => typeof v === 'string' && c.matches!(v) : null;
    default:
      return null;
  }
}

export interface FetchSpansRequest {
  readonly conditions: readonly FetchCondition[];
  /**
   * `all`: every span in a result satisfies every condition that has an op; `any`: a matching
   * trace has a span satisfying at least one of them; `none`: nothing can be skipped by value.
   */
  readonly prune: 'all' | 'any' | 'none';
  /**
   * A matching trace has at least this many spans in the block searched (the query counts its
   * spans: `| count() > N`), so a trace with fewer rows need not be read. Absent: no such bound.
   */
  readonly minSpans?: number;
}

export interface CompiledSearch {
  /** The trace's search result when it matches and overlaps the window, else null. */
  match(trace: Trace, window: { startSeconds: number; endSeconds: number }, spss: number): TraceSearchMetadata | null;
  /** What a block scan may prune with; absent: scan everything. */
  readonly fetch?: FetchSpansRequest;
  /**
   * The spans the query returns for this trace (indexes in resourceSpans, scopeSpans, spans
   * order), null when the trace does not match or lies outside the window.
   */
  matchingSpans?(trace: Trace, window: { startSeconds: number; endSeconds: number }): SpanSelection;
}

/** Compiles query text; throws a 400-class error (parse, validation, unsupported) for bad queries. */
export type SearchCompiler = (query: string) => CompiledSearch;

/** Tempo's order for results: most recent first; the trace ID breaks ties so answers are deterministic. */
export function compareSearchResults(a: TraceSearchMetadata, b: TraceSearchMetadata): number {
  if (a.startTimeUnixNano !== b.startTimeUnixNano) return a.startTimeUnixNano > b.startTimeUnixNano ? -1 : 1;
  return a.traceID < b.traceID ? -1 : a.traceID > b.traceID ? 1 : 0;
}

/** The `limit` most recent results, one per trace ID. */
export function topSearchResults(traces: Iterable<TraceSearchMetadata>, limit: number): TraceSearchMetadata[] {
  const byId = new Map<string, TraceSearchMetadata>();
  for (const t of traces) {
    const prev = byId.get(t.traceID);
    // Parts of one trace found in several places: keep the earliest start (the fuller view).
    if (!prev || t.startTimeUnixNano < prev.startTimeUnixNano) byId.set(t.traceID, t);
  }
  const sorted = [...byId.values()].sort(compareSearchResults);
  return limit > 0 ? sorted.slice(0, limit) : sorted;
}

/** The spans of a trace a tag request takes values from: none (null), all, or these (indexes in resourceSpans, scopeSpans, spans order). */
export type SpanSelection = null | 'all' | ReadonlySet<number>;

/**
 * The spans a tag request covers, per trace: those of traces overlapping the window and, when
 * `query` compiles, the spans matching it (as Tempo narrows tag values by span). An incomplete
 * query (a half-typed Grafana filter) narrows nothing instead of failing.
 */
export function tagSelector(compile: SearchCompiler, query: string, window: { startSeconds: number; endSeconds: number }): (trace: Trace) => SpanSelection {
  let compiled: CompiledSearch;
  let narrows = query.trim() !== '';
  try {
    compiled = compile(query.trim() || '{ }');
  } catch {
    compiled = compile('{ }');
    narrows = false;
  }
  if (!narrows || !compiled.matchingSpans) return (trace) => (compiled.match(trace, window, 1) !== null ? 'all' : null);
  const spans = compiled.matchingSpans.bind(compiled);
  return (trace) => spans(trace, window);
}
