// Block searches on worker threads, so scans use every core and the event loop keeps serving
// pushes and reads. Workers do the CPU work (column decoding, trace assembly, the engine); every
// byte still comes through the main thread's Backend, which keeps one S3 client, its credentials,
// retries and request metrics in one place. A worker compiles the query itself from the module
// the pool is given (the querier does not depend on a query language).

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Backend } from '@andante/backend';
import { NotFoundError, type CompiledSearch, type SearchRequest } from '@andante/model';
import { BackendBlock, type BlockMeta, type BlockSearchResult } from '@andante/storage';

/** Where a worker finds the search compiler: a module URL and the name of its SearchCompiler export. */
export interface CompilerModule {
  url: string;
  exportName: string;
}

/** One block search, inline or on a worker. */
export function searchBlockWith(block: BackendBlock, req: SearchRequest, query: CompiledSearch): Promise<BlockSearchResult> {
  return block.search(query.fetch, req, (trace) => query.match(trace, req, req.spss));
}

/** Messages between the pool and its workers. */
export type ToWorker =
  | { kind: 'search'; id: number; meta: BlockMeta; req: SearchRequest }
  | { kind: 'read'; id: number; data?: Uint8Array; error?: SerializedError };
export type FromWorker =
  | { kind: 'done'; id: number; result?: BlockSearchResult; error?: SerializedError }
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

interface PoolWorker {
  worker: Worker;
  busy: boolean;
  job: { id: number; resolve: (r: BlockSearchResult) => void; reject: (e: Error) => void } | null;
}

// From TypeScript sources (tests) there is no compiled worker script: search inline.
const WORKER_URL = import.meta.url.endsWith('.ts') ? null : new URL('./search-worker.js', import.meta.url);

export class BlockSearchPool {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: { meta: BlockMeta; req: SearchRequest; resolve: (r: BlockSearchResult) => void; reject: (e: Error) => void }[] = [];
  private nextId = 0;
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

  search(meta: BlockMeta, req: SearchRequest): Promise<BlockSearchResult> {
    if (this.closed) return Promise.reject(new Error('block search pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ meta, req, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let w = this.workers.find((x) => !x.busy);
      if (!w && this.workers.length < this.size) w = this.spawn();
      if (!w) return;
      const { meta, req, resolve, reject } = this.queue.shift()!;
      const id = this.nextId++;
      w.busy = true;
      w.job = { id, resolve, reject };
      w.worker.postMessage({ kind: 'search', id, meta, req } satisfies ToWorker);
    }
  }

  private spawn(): PoolWorker {
    const w: PoolWorker = { worker: new Worker(WORKER_URL!, { workerData: this.compiler() }), busy: false, job: null };
    w.worker.unref();
    w.worker.on('message', (msg: FromWorker) => {
      if (msg.kind === 'read') {
        const read = msg.length === undefined ? this.backend.read(msg.keypath, msg.name) : this.backend.readRange(msg.keypath, msg.name, msg.offset ?? 0, msg.length);
        read.then(
          (data) => w.worker.postMessage({ kind: 'read', id: msg.id, data } satisfies ToWorker),
          (err: unknown) => w.worker.postMessage({ kind: 'read', id: msg.id, error: serializeError(err) } satisfies ToWorker),
        );
        return;
      }
      const job = w.job;
      w.job = null;
      w.busy = false;
      if (job && job.id === msg.id) {
        if (msg.result) job.resolve(msg.result);
        else job.reject(deserializeError(msg.error ?? { name: 'Error', message: 'block search failed' }));
      }
      this.dispatch();
    });
    const fail = (err: Error): void => {
      w.job?.reject(err);
      w.job = null;
      const i = this.workers.indexOf(w);
      if (i >= 0) this.workers.splice(i, 1);
      this.dispatch();
    };
    w.worker.on('error', fail);
    w.worker.on('exit', (code) => fail(new Error(`block search worker exited with code ${code}`)));
    this.workers.push(w);
    return w;
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }
}
