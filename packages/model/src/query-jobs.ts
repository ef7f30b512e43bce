// The querier's job API: what the query-frontend asks of queriers. The frontend splits a query
// into jobs (recent data from the ingesters, one job per backend block), queues and combines them;
// a querier executes each job. In-process under `-target=all` (the Querier object itself); over
// internal gRPC when the frontend and queriers are separate processes, so every type here is
// plain data.

import type { BlockMeta } from './block-meta.js';
import type { TimeRange } from './block-selection.js';
import type { SearchPartial, SearchRequest, TagsPartial, TagsRequest, TagValuesPartial, TagValuesRequest } from './ingest.js';
import type { MetricsPartial, MetricsRequest } from './metrics-query.js';
import type { TagRef, TagScope, TagValue } from './tags.js';
import type { Trace } from './trace.js';

/** What one block's tag job collects: names (per scope) or the values of one tag. */
export type BlockTagsJob = { what: 'names' } | { what: 'values'; ref: TagRef };

/**
 * A slice of the trace-ID space, as lowercase hex: IDs from `from` (inclusive) up to `to`
 * (exclusive; '' = to the end), compared as bytes.
 */
export interface TraceIdShard {
  from: string;
  to: string;
}

/** Plain data, so it crosses a worker or process boundary as is. */
export interface BlockTagsAnswer {
  names: [TagScope, string[]][];
  values: TagValue[];
}

/**
 * Every job takes an optional `signal`: it aborts when the query is given up (the client went away,
 * a deadline passed, the search stopped early). A job queued at a frontend then leaves its queue;
 * one already running on a querier in another process is told to stop (a `cancel` message), and
 * its block reads stop at the next row-group batch.
 */
export interface QuerierJobs {
  /** Block jobs this querier runs at once without queueing (its worker threads; 0 when it runs them inline). */
  readonly parallelism: number;
  /** Recent data: each healthy ingester's matches and the blocks it flushed recently. */
  searchRecent(tenantId: string, req: SearchRequest, signal?: AbortSignal): Promise<SearchPartial[]>;
  /** One backend block's matches. Rejects with NotFoundError when the block is gone (compacted, retention). */
  searchBlock(meta: BlockMeta, req: SearchRequest, signal?: AbortSignal): Promise<SearchPartial>;
  /** The whole trace from every source (ingesters, then blocks), or null. */
  findTraceById(tenantId: string, traceId: Uint8Array, range?: TimeRange, signal?: AbortSignal): Promise<Trace | null>;
  /** Whether a source other than block `exceptBlockId` may hold spans of the trace (no data read). */
  mayHoldElsewhere(tenantId: string, traceId: Uint8Array, exceptBlockId: string, signal?: AbortSignal): Promise<boolean>;
  /** Recent tag names: each healthy ingester's part. */
  tagNamesRecent(tenantId: string, req: TagsRequest, signal?: AbortSignal): Promise<TagsPartial[]>;
  /** Recent tag values: each healthy ingester's part. */
  tagValuesRecent(tenantId: string, req: TagValuesRequest, signal?: AbortSignal): Promise<TagValuesPartial[]>;
  /** One backend block's part of a tag request. Rejects with NotFoundError when the block is gone. */
  blockTags(meta: BlockMeta, req: TagsRequest, job: BlockTagsJob, signal?: AbortSignal): Promise<BlockTagsAnswer>;
  /**
   * Recent data of a TraceQL metrics query: each healthy ingester's partial (its memory, the blocks
   * it flushed recently and those it is writing, taken at one instant).
   */
  metricsRecent(tenantId: string, req: MetricsRequest, signal?: AbortSignal): Promise<MetricsPartial[]>;
  /** One backend block's part of a metrics query (its window in req). Rejects with NotFoundError when the block is gone. */
  metricsBlock(meta: BlockMeta, req: MetricsRequest, signal?: AbortSignal): Promise<MetricsPartial>;
  /**
   * One trace-ID shard of a metrics query over replicated blocks (replication factor not 1): the
   * traces of the shard are read from every block, their copies merged by trace ID and each span
   * (trace ID, span ID, kind) counted once. A block gone since it was listed (compacted, retention)
   * is left out; the job rejects with NotFoundError only when every block is gone.
   */
  metricsReplicatedBlocks(metas: BlockMeta[], req: MetricsRequest, shard: TraceIdShard, signal?: AbortSignal): Promise<MetricsPartial>;
}

/** The QuerierJobs methods, by name: what a job over the frontend's queue names. */
export const QUERIER_JOB_METHODS = ['searchRecent', 'searchBlock', 'findTraceById', 'mayHoldElsewhere', 'tagNamesRecent', 'tagValuesRecent', 'blockTags', 'metricsRecent', 'metricsBlock', 'metricsReplicatedBlocks'] as const;
export type QuerierJobMethod = (typeof QUERIER_JOB_METHODS)[number];

/**
 * Where each method takes its `signal` (the arguments before it may be left out, as
 * findTraceById's range is): a querier running a job from the wire puts its own signal there.
 */
export const QUERIER_JOB_SIGNAL_ARG: Readonly<Record<QuerierJobMethod, number>> = {
  searchRecent: 2,
  searchBlock: 2,
  findTraceById: 3,
  mayHoldElsewhere: 3,
  tagNamesRecent: 2,
  tagValuesRecent: 2,
  blockTags: 3,
  metricsRecent: 2,
  metricsBlock: 2,
  metricsReplicatedBlocks: 3,
};

/** The blocks of a tenant the frontend shards a query over (the blocklist a poller keeps). */
export interface BlockLister {
  blocks(tenantId: string): readonly BlockMeta[];
  /**
   * Compacted blocks whose spans are all in blocks `blocks` lists, so reading them adds nothing.
   * Take it together with `blocks` (same tick): both change at each poll.
   */
  compactedBlocks(tenantId: string): ReadonlySet<string>;
}
