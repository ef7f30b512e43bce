// Block searches on worker threads, so scans use every core and the event loop keeps serving
// pushes and reads. Workers do the CPU work (column decoding, trace assembly, the engine); every
// byte still comes through the main thread's Backend, which keeps one S3 client, its credentials,
// retries and request metrics in one place. A worker compiles the query itself from the module
// the pool is given (the querier does not depend on a query language).

import { availableParallelism } from 'node:os';
import type { Backend } from '@andante/backend';
import { NotFoundError, WorkerPool, type BlockTagsAnswer, type BlockTagsJob, type CompiledSearch, type MetricsPartial, type MetricsRequest, type SearchRequest, type TagsRequest, type TraceIdShard } from '@andante/model';
import { BackendBlock, type BlockMeta, type BlockSearchResult } from '@andante/storage';

/** Where a worker finds the search compiler: a module URL and the name of its SearchCompiler export. */
export interface CompilerModule {
  url: string;
  exportName: string;
}

/** One block search, inline or on a worker. */
export function searchBlockWith(block: BackendBlock, req: SearchRequest, query: CompiledSearch, signal?: AbortSignal): Promise<BlockSearchResult> {
  return block.search(query.fetch, signal ? { ...req, signal } : req, (trace) => query.match(trace, req, req.spss));
}

/** A block job: a search, a tag request's part, a metrics query's part, or a trace-ID shard of one over replicated blocks. */
export type BlockJob =
  | { kind: 'search'; meta: BlockMeta; req: SearchRequest }
  | { kind: 'tags'; meta: BlockMeta; req: TagsRequest; job: BlockTagsJob }
  | { kind: 'metrics'; meta: BlockMeta; req: MetricsRequest }
  | { kind: 'metricsReplicated'; metas: BlockMeta[]; req: MetricsRequest; shard: TraceIdShard };

type BlockAnswer = BlockSearchResult | BlockTagsAnswer | MetricsPartial;

/** Messages between the pool and its workers. */
export type ToWorker =
  | (BlockJob & { id: number })
  | { kind: 'read'; id: number; data?: Uint8Array; error?: SerializedError }
  /** Nobody waits for job `id` any more: stop it at its next batch. */
  | { kind: 'cancel'; id: number };
export type FromWorker =
  | { kind: 'done'; id: number; result?: BlockAnswer; error?: SerializedError }
  /** A byte range, or the whole object when `length` is absent. */
  | { kind: 'read'; id: number; keypath: string[]; name: string; offset?: number; length?: number };

export interface SerializedError {
  name: string;
  message: string;
}

export function serializeError(err: unknown): SerializedError {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e instanceof NotFoundError ? 'NotFoundError' : e.name, message: e.message };
}

/** NotFoundError keeps its class across the thread boundary: a block deleted mid-search holds nothing. */
export function deserializeError(e: SerializedError): Error {
  return e.name === 'NotFoundError' ? new NotFoundError(e.message) : Object.assign(new Error(e.message), { name: e.name });
}

// From TypeScript sources (tests) there is no compiled worker script: search inline.
const WORKER_URL = import.meta.url.endsWith('.ts') ? null : new URL('./search-worker.js', import.meta.url);

export class BlockSearchPool {
  private pool: WorkerPool<BlockJob, BlockAnswer> | null = null;
  private closed = false;

  constructor(
    private readonly backend: Backend,
    /** Asked when the first worker starts (never when searches run inline). */
    private readonly compiler: () => CompilerModule,
    readonly size: number = availableParallelism(),
  ) {}

  /** True when searches run on worker threads. */
  get threaded(): boolean {
    return WORKER_URL !== null && this.size > 0;
  }

  search(meta: BlockMeta, req: SearchRequest, signal?: AbortSignal): Promise<BlockSearchResult> {
    return this.run({ kind: 'search', meta, req }, signal) as Promise<BlockSearchResult>;
  }

  /** A tag request's part from one block (tag names or values). */
  tags(meta: BlockMeta, req: TagsRequest, job: BlockTagsJob, signal?: AbortSignal): Promise<BlockTagsAnswer> {
    // Only what the job reads crosses the thread boundary (not the v2/tag fields of a values request).
    return this.run({ kind: 'tags', meta, req: { query: req.query, startSeconds: req.startSeconds, endSeconds: req.endSeconds }, job }, signal) as Promise<BlockTagsAnswer>;
  }

  /** A metrics query's part from one block (the worker imports the engine from the compiler's module, export `metricsEngine`). */
  metrics(meta: BlockMeta, req: MetricsRequest, signal?: AbortSignal): Promise<MetricsPartial> {
    return this.run({ kind: 'metrics', meta, req }, signal) as Promise<MetricsPartial>;
  }

  /** A trace-ID shard of a metrics query over replicated blocks, copies merged (metrics-replicated-job.ts). */
  metricsReplicated(metas: BlockMeta[], req: MetricsRequest, shard: TraceIdShard, signal?: AbortSignal): Promise<MetricsPartial> {
    return this.run({ kind: 'metricsReplicated', metas, req, shard }, signal) as Promise<MetricsPartial>;
  }

  private run(job: BlockJob, signal?: AbortSignal): Promise<BlockAnswer> {
    if (this.closed) return Promise.reject(new Error('block search pool is closed'));
    this.pool ??= new WorkerPool({
      name: 'block search',
      url: WORKER_URL!,
      size: this.size,
      workerOptions: () => ({ workerData: this.compiler() }),
      post: (worker, id, job) => worker.postMessage({ ...job, id } satisfies ToWorker),
      cancel: (worker, id) => worker.postMessage({ kind: 'cancel', id } satisfies ToWorker),
      done: (msg) => {
        const m = msg as FromWorker;
        if (m.kind !== 'done') return null;
        return m.result ? { id: m.id, result: m.result } : { id: m.id, error: deserializeError(m.error ?? { name: 'Error', message: 'block search failed' }) };
      },
      // A worker asks for bytes: the main thread's backend reads them.
      onOther: (worker, msg) => {
        const m = msg as Extract<FromWorker, { kind: 'read' }>;
        const read = m.length === undefined ? this.backend.read(m.keypath, m.name) : this.backend.readRange(m.keypath, m.name, m.offset ?? 0, m.length);
        read.then(
          (data) => worker.postMessage({ kind: 'read', id: m.id, data } satisfies ToWorker),
          (err: unknown) => worker.postMessage({ kind: 'read', id: m.id, error: serializeError(err) } satisfies ToWorker),
        );
      },
    });
    return this.pool.run(job, signal);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.close();
  }
}
