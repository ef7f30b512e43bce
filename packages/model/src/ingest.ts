// The narrow interfaces components talk through. In `-target=all` they are plain in-process
// objects; in distributed mode gRPC clients implement the same interfaces.

import type { MetricsPartial, MetricsRequest } from './metrics-query.js';
import type { BlockMeta } from './block-meta.js';
import type { SearchMetrics, TraceSearchMetadata } from './search.js';
import type { TagScope, TagValue } from './tags.js';
import type { Trace } from './trace.js';

/**
 * Spans of one trace from one export, encoded as a `tempopb.Trace` protobuf. Segments of the same
 * trace concatenate into a valid `tempopb.Trace` (protobuf repeated-field semantics), so an
 * ingester stores and forwards them without decoding.
 */
export interface TraceSegment {
  traceId: Uint8Array;
  bytes: Uint8Array;
  spanCount: number;
  /** Earliest span start and latest span end in the segment, unix nanoseconds. */
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
}

export interface PushRequest {
  tenantId: string;
  segments: TraceSegment[];
}

/** Per-trace refusals an ingester reports without failing the whole push (Tempo's errorsByTrace). */
export interface PushResult {
  rejected: { traceId: Uint8Array; spanCount: number; reason: 'trace_too_large' | 'live_traces_exceeded'; message: string }[];
}

/** What the distributor needs of an ingester. */
export interface IngesterPusher {
  /** Resolves only once every accepted segment is durable (WAL fsynced). */
  push(req: PushRequest): Promise<PushResult>;
}

/** The accepted segments of one export, as the distributor hands them to the metrics-generator. */
export interface GeneratorPushRequest {
  tenantId: string;
  segments: TraceSegment[];
}

/**
 * What the distributor needs of the metrics-generator: in-process under `-target=all`; in
 * distributed mode a client that sends each trace's segments to the generator owning the trace
 * on the generator ring (service-graph pairing needs every span of a trace in one place).
 * Resolves once the generator has taken the spans; the distributor never waits on it in an export.
 */
export interface GeneratorPusher {
  pushSpans(req: GeneratorPushRequest): Promise<void>;
}

/** A search as it travels from the frontend to ingesters and block jobs (TraceQL text, not AST). */
export interface SearchRequest {
  query: string;
  /** Unix seconds; 0 = unbounded. A trace matches the window when it overlaps it. */
  startSeconds: number;
  endSeconds: number;
  limit: number;
  /** Spans per spanset in results (0 = all). */
  spss: number;
}

/**
 * What an ingester answers besides the data it holds in memory: the blocks it wrote to the backend
 * within complete_block_timeout, taken at the same instant as the in-memory part. A block leaves
 * memory only after it joined this list, so memory plus these blocks always cover an acknowledged
 * trace, whatever a blocklist poll has seen yet; the reader reads them (each block once, however
 * many sources name it).
 */
export interface RecentBlocks {
  flushedBlocks?: BlockMeta[];
}

/** One source's matches (unsorted, may exceed limit) and what it inspected. */
export interface SearchPartial extends RecentBlocks {
  traces: TraceSearchMetadata[];
  metrics: SearchMetrics;
}

/** Tag names or values over a window, optionally only of traces matching a TraceQL query. */
export interface TagsRequest {
  /** TraceQL narrowing the traces; '' for none. An incomplete query narrows nothing (never fails). */
  query: string;
  startSeconds: number;
  endSeconds: number;
}

export interface TagsPartial extends RecentBlocks {
  names: Partial<Record<TagScope, string[]>>;
  inspectedBytes: bigint;
}

export interface TagValuesRequest extends TagsRequest {
  /** As the API got it, e.g. `resource.service.name` (v2) or `service.name` (v1). */
  tag: string;
  v2: boolean;
}

export interface TagValuesPartial extends RecentBlocks {
  values: TagValue[];
  inspectedBytes: bigint;
}

/** An ingester's part of a trace: the spans it holds in memory, and its recently flushed blocks. */
export interface IngesterTrace extends RecentBlocks {
  trace: Trace | null;
}

/**
 * What the querier needs of an ingester: recent data (live traces, head block, recent blocks).
 * `signal`: the caller went away (an aborted HTTP request, a cancelled gRPC call); the ingester
 * stops its scan and the call rejects.
 */
export interface IngesterQuerier {
  findTraceById(tenantId: string, traceId: Uint8Array, signal?: AbortSignal): Promise<IngesterTrace>;
  search(tenantId: string, req: SearchRequest, signal?: AbortSignal): Promise<SearchPartial>;
  searchTags(tenantId: string, req: TagsRequest, signal?: AbortSignal): Promise<TagsPartial>;
  searchTagValues(tenantId: string, req: TagValuesRequest, signal?: AbortSignal): Promise<TagValuesPartial>;
  /**
   * A metrics query over the spans held in memory, as a mergeable partial, with the blocks flushed
   * recently (taken at the same instant: memory and those blocks never hold the same span).
   */
  metricsQueryRange(tenantId: string, req: MetricsRequest, signal?: AbortSignal): Promise<MetricsPartial>;
}

export type IngesterClient = IngesterPusher & IngesterQuerier;
