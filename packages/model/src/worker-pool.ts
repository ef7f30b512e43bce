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
  /**
   * Tells a worker that nobody waits for job `id` any more (its caller's signal aborted), so it
   * can stop early. The worker still ends the job with a message, which frees its slot.
   */
  cancel?(worker: Worker, id: number): void;
  /** The job's end if `msg` is one, else null (for messages `onOther` handles). */
  done(msg: unknown): JobDone<R> | null;
  /** Any other message from a worker. */
  onOther?(worker: Worker, msg: unknown): void;
}

interface PendingJob<R> {
  resolve: (r: R) => void;
  reject: (e: Error) => void;
  /** Stops listening to the caller's signal. */
  unwatch?: () => void;
}

interface QueuedJob<J, R> extends PendingJob<R> {
  job: J;
  signal?: AbortSignal;
}

interface PoolWorker<R> {
  worker: Worker;
  jobs: Map<number, PendingJob<R>>;
}

export class WorkerPool<J, R> {
  private readonly workers: PoolWorker<R>[] = [];
  private readonly queue: QueuedJob<J, R>[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly opts: WorkerPoolOptions<J, R>) {}

  get size(): number {
    return this.opts.size;
  }

  /**
   * Runs `job` on a worker. When `signal` aborts, the caller is answered at once with its reason:
   * a job still queued leaves the queue; a running one is cancelled on its worker (`cancel`), and
   * its slot stays taken until the worker ends it.
   */
  run(job: J, signal?: AbortSignal): Promise<R> {
    if (this.closed) return Promise.reject(new Error(`${this.opts.name} pool is closed`));
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<R>((resolve, reject) => {
      const queued: QueuedJob<J, R> = { job, resolve, reject };
      if (signal) {
        queued.signal = signal;
        const onAbort = (): void => {
          const at = this.queue.indexOf(queued);
          if (at >= 0) this.queue.splice(at, 1);
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        queued.unwatch = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(queued);
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
      const { job, resolve, reject, unwatch, signal } = this.queue.shift()!;
      const id = this.nextId++;
      unwatch?.();
      const pending: PendingJob<R> = { resolve, reject };
      if (signal) {
        // Answered by the abort already (the promise ignores the later outcome); the worker is told to stop.
        const onAbort = (): void => {
          reject(signal.reason as Error);
          this.opts.cancel?.(w!.worker, id);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        pending.unwatch = () => signal.removeEventListener('abort', onAbort);
      }
      w.jobs.set(id, pending);
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
      job?.unwatch?.();
      if (job) {
        if (done.error) job.reject(done.error);
        else job.resolve(done.result as R);
      }
      this.dispatch();
    });
    const fail = (err: Error): void => {
      for (const job of w.jobs.values()) {
        job.unwatch?.();
        job.reject(err);
      }
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
