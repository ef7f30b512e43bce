// A small pool of worker threads, one job per worker at a time, started on demand: the shape both
// the block encoder pool and the block search pool need. What a job looks like on the wire, and
// any other messages a worker sends (a search worker asks for bytes), are the caller's.

import type { WorkerOptions } from 'node:worker_threads';
import { Worker } from 'node:worker_threads';

/** What a worker posts when a job ends: its result, or an error. */
export interface JobDone<R> {
  id: number;
  result?: R;
  error?: Error;
}

export interface WorkerPoolOptions<J, R> {
  /** For error messages: "block encoder", "block search". */
  name: string;
  url: URL;
  size: number;
  /** Options of each new worker (asked when it starts). */
  workerOptions?: () => WorkerOptions;
  /** Posts job `id` to a worker (with whatever transfer list suits it). */
  post(worker: Worker, id: number, job: J): void;
  /** The job's end if `msg` is one, else null (for messages `onOther` handles). */
  done(msg: unknown): JobDone<R> | null;
  /** Any other message from a worker. */
  onOther?(worker: Worker, msg: unknown): void;
}

interface PoolWorker<R> {
  worker: Worker;
  job: { id: number; resolve: (r: R) => void; reject: (e: Error) => void } | null;
}

export class WorkerPool<J, R> {
  private readonly workers: PoolWorker<R>[] = [];
  private readonly queue: { job: J; resolve: (r: R) => void; reject: (e: Error) => void }[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly opts: WorkerPoolOptions<J, R>) {}

  get size(): number {
    return this.opts.size;
  }

  run(job: J): Promise<R> {
    if (this.closed) return Promise.reject(new Error(`${this.opts.name} pool is closed`));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let w = this.workers.find((x) => x.job === null);
      if (!w && this.workers.length < this.opts.size) w = this.spawn();
      if (!w) return;
      const { job, resolve, reject } = this.queue.shift()!;
      const id = this.nextId++;
      w.job = { id, resolve, reject };
      this.opts.post(w.worker, id, job);
    }
  }

  private spawn(): PoolWorker<R> {
    const w: PoolWorker<R> = { worker: new Worker(this.opts.url, this.opts.workerOptions?.()), job: null };
    w.worker.unref();
    w.worker.on('message', (msg: unknown) => {
      const done = this.opts.done(msg);
      if (!done) {
        this.opts.onOther?.(w.worker, msg);
        return;
      }
      const job = w.job;
      w.job = null;
      if (job && job.id === done.id) {
        if (done.error) job.reject(done.error);
        else job.resolve(done.result as R);
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
    w.worker.on('exit', (code) => fail(new Error(`${this.opts.name} worker exited with code ${code}`)));
    this.workers.push(w);
    return w;
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }
}
