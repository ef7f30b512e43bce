// A small pool of worker threads started on demand, each running up to `jobsPerWorker` jobs (one
// for long jobs such as a block encode; a few for short ones such as decoding an export, so a
// worker has its next job queued while the main thread takes the last result). Shared by the
// block encoder, block search and export decoder pools. What a job looks like on the wire, and any
// other messages a worker sends (a search worker asks for bytes), are the caller's.

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
  /** Jobs posted to one worker before it answers; 1 unless given. */
  jobsPerWorker?: number;
  /** Options of each new worker (asked when it starts). */
  workerOptions?: () => WorkerOptions;
  /** Posts job `id` to a worker (with whatever transfer list suits it). */
  post(worker: Worker, id: number, job: J): void;
  /** The job's end if `msg` is one, else null (for messages `onOther` handles). */
  done(msg: unknown): JobDone<R> | null;
  /** Any other message from a worker. */
  onOther?(worker: Worker, msg: unknown): void;
}

interface PendingJob<R> {
  resolve: (r: R) => void;
  reject: (e: Error) => void;
}

interface PoolWorker<R> {
  worker: Worker;
  jobs: Map<number, PendingJob<R>>;
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
    const capacity = this.opts.jobsPerWorker ?? 1;
    while (this.queue.length > 0) {
      // The least busy worker; a new one while there is room, before doubling up on a busy one.
      let w: PoolWorker<R> | undefined;
      for (const x of this.workers) if (x.jobs.size < capacity && (!w || x.jobs.size < w.jobs.size)) w = x;
      if ((!w || w.jobs.size > 0) && this.workers.length < this.opts.size) w = this.spawn();
      if (!w) return;
      const { job, resolve, reject } = this.queue.shift()!;
      const id = this.nextId++;
      w.jobs.set(id, { resolve, reject });
      this.opts.post(w.worker, id, job);
    }
  }

  private spawn(): PoolWorker<R> {
    const w: PoolWorker<R> = { worker: new Worker(this.opts.url, this.opts.workerOptions?.()), jobs: new Map() };
    w.worker.unref();
    w.worker.on('message', (msg: unknown) => {
      const done = this.opts.done(msg);
      if (!done) {
        this.opts.onOther?.(w.worker, msg);
        return;
      }
      const job = w.jobs.get(done.id);
      w.jobs.delete(done.id);
      if (job) {
        if (done.error) job.reject(done.error);
        else job.resolve(done.result as R);
      }
      this.dispatch();
    });
    const fail = (err: Error): void => {
      for (const job of w.jobs.values()) job.reject(err);
      w.jobs.clear();
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
