// The narrow interfaces components talk through. In `-target=all` they are plain in-process
// objects; in distributed mode gRPC clients implement the same interfaces.

import type { SearchMetrics, TraceSearchMetadata } from './search.js';
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

/** One source's matches (unsorted, may exceed limit) and what it inspected. */
export interface SearchPartial {
  traces: TraceSearchMetadata[];
  metrics: SearchMetrics;
}

/** What the querier needs of an ingester: recent data (live traces, head block, recent blocks). */
export interface IngesterQuerier {
  findTraceById(tenantId: string, traceId: Uint8Array): Promise<Trace | null>;
  search(tenantId: string, req: SearchRequest): Promise<SearchPartial>;
}

export type IngesterClient = IngesterPusher & IngesterQuerier;
