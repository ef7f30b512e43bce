// The frontend's job queue (Tempo's modules/frontend/queue, in our own way): one FIFO per tenant,
// served round robin, so a tenant with 1000 jobs queued waits its turn like a tenant with 1; each
// tenant's queue is bounded (query_frontend.max_outstanding_per_tenant, 429 beyond it). Queriers
// take jobs with `next()` (waiting when there are none). A job whose caller gives up (its signal
// aborts) leaves the queue at once; one a querier holds is settled by the first of its answer,
// the caller giving up (the querier is then told to cancel it), or the querier going away (then it is queued again, once, at the head of
// its tenant's queue, and failed the second time).

import { AndanteError, GrpcCode, UnavailableError } from '@andante/model';

/** Tempo's refusal when a tenant's queue is full: 429 "too many outstanding requests". */
export class TooManyOutstandingError extends AndanteError {
  readonly code = 'TOO_MANY_OUTSTANDING_REQUESTS';
  readonly httpStatus = 429;
  readonly grpcCode = GrpcCode.RESOURCE_EXHAUSTED;
  override readonly name = 'TooManyOutstandingError';
}

/** A job in the queue or on a querier. */
export interface QueuedJob<P> {
  readonly tenant: string;
  readonly payload: P;
  /** Times it was handed to a querier. */
  attempts: number;
  /** Settles the caller's promise (once; later calls do nothing). */
  resolve(value: unknown): void;
  reject(err: unknown): void;
  /** Whether the caller has its answer (or gave up). */
  readonly settled: boolean;
  /** The caller's signal: a querier holding the job is told to stop when it aborts. */
  readonly signal?: AbortSignal;
}

export interface RequestQueueOptions {
  /** Jobs queued per tenant at most (0 = unlimited). */
  maxOutstandingPerTenant: number;
  /** Called with a tenant's queue length whenever it changes (tempo_query_frontend_queue_length). */
  onLength?: (tenant: string, length: number) => void;
  /** Called when a job is queued again after its querier went away. */
  onRequeue?: (tenant: string) => void;
}

interface Job<P> extends QueuedJob<P> {
  queued: boolean;
  done: boolean;
  cleanup: () => void;
}

export class RequestQueue<P> {
  /** Tenants with queued jobs, in round-robin order; `cursor` is the next to serve. */
  private readonly tenants = new Map<string, Job<P>[]>();
  private order: string[] = [];
  private cursor = 0;
  /** Queriers waiting for a job. */
  private readonly waiting: { take: (job: Job<P>) => void; fail: (err: Error) => void }[] = [];
  private closed: Error | undefined;

  constructor(private readonly opts: RequestQueueOptions) {}

  /** Jobs queued for `tenant` (not yet on a querier). */
  length(tenant: string): number {
    return this.tenants.get(tenant)?.length ?? 0;
  }

  /**
   * Queues a job; resolves with its answer. Refuses at once (429) when the tenant already has
   * max_outstanding_per_tenant jobs queued; rejects with the signal's reason when it aborts.
   */
  enqueue<T>(tenant: string, payload: P, signal?: AbortSignal): Promise<T> {
    if (this.closed) return Promise.reject(this.closed);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const max = this.opts.maxOutstandingPerTenant;
    if (max > 0 && this.length(tenant) >= max) {
      return Promise.reject(
        new TooManyOutstandingError(`too many outstanding requests: tenant ${tenant} has ${max} jobs queued (query_frontend.max_outstanding_per_tenant); retry later, query a shorter range or raise the limit`),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => job.reject(signal?.reason ?? new Error('aborted'));
      const job: Job<P> = {
        tenant,
        payload,
        signal,
        attempts: 0,
        queued: false,
        done: false,
        get settled() {
          return this.done;
        },
        cleanup: () => signal?.removeEventListener('abort', onAbort),
        resolve: (value) => {
          if (job.done) return;
          job.done = true;
          job.cleanup();
          resolve(value as T);
        },
        reject: (err) => {
          if (job.done) return;
          job.done = true;
          job.cleanup();
          if (job.queued) this.remove(job);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.push(job, false);
    });
  }

  /**
   * A querier went away holding `job`: queue it again at the head of its tenant's queue, once;
   * the second time it fails (a job that kills queriers should not kill them all).
   */
  requeue(job: QueuedJob<P>, why: string): void {
    const j = job as Job<P>;
    if (j.done) return;
    if (j.attempts >= 2 || this.closed) {
      j.reject(new UnavailableError(`query job failed: ${why} (after ${j.attempts} attempts)`));
      return;
    }
    this.opts.onRequeue?.(j.tenant);
    this.push(j, true);
  }

  /**
   * The next job for a querier, round robin over tenants; waits while none is queued. Rejects when
   * `signal` aborts (the querier's stream closed) or the queue closes.
   */
  next(signal?: AbortSignal): Promise<QueuedJob<P>> {
    if (this.closed) return Promise.reject(this.closed);
    const job = this.pick();
    if (job) return Promise.resolve(job);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      const waiter = {
        take: (j: Job<P>) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(j);
        },
        fail: (err: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Fails every queued job and waiting querier (the frontend is stopping). */
  close(err: Error = new UnavailableError('query-frontend stopping')): void {
    this.closed = err;
    for (const jobs of [...this.tenants.values()]) for (const j of [...jobs]) j.reject(err);
    for (const w of this.waiting.splice(0)) w.fail(err);
  }

  private push(job: Job<P>, front: boolean): void {
    const waiter = this.waiting.shift();
    if (waiter) {
      // Queriers wait only while every queue is empty: no one is skipped.
      job.attempts++;
      waiter.take(job);
      return;
    }
    let jobs = this.tenants.get(job.tenant);
    if (!jobs) {
      jobs = [];
      this.tenants.set(job.tenant, jobs);
      // A tenant new to the rotation is served after those already waiting.
      this.order.splice(this.cursor, 0, job.tenant);
      this.cursor = (this.cursor + 1) % this.order.length;
    }
    if (front) jobs.unshift(job);
    else jobs.push(job);
    job.queued = true;
    this.opts.onLength?.(job.tenant, jobs.length);
  }

  private pick(): Job<P> | undefined {
    if (this.order.length === 0) return undefined;
    if (this.cursor >= this.order.length) this.cursor = 0;
    const tenant = this.order[this.cursor]!;
    const jobs = this.tenants.get(tenant)!;
    const job = jobs.shift()!;
    job.queued = false;
    job.attempts++;
    if (jobs.length === 0) this.dropTenant(tenant);
    else this.cursor = (this.cursor + 1) % this.order.length;
    this.opts.onLength?.(tenant, jobs.length);
    return job;
  }

  private remove(job: Job<P>): void {
    const jobs = this.tenants.get(job.tenant);
    if (!jobs) return;
    const i = jobs.indexOf(job);
    if (i >= 0) jobs.splice(i, 1);
    job.queued = false;
    if (jobs.length === 0) this.dropTenant(job.tenant);
    this.opts.onLength?.(job.tenant, jobs.length);
  }

  /** Takes a tenant with no queued jobs out of the rotation (the cursor keeps pointing at the next one). */
  private dropTenant(tenant: string): void {
    this.tenants.delete(tenant);
    const i = this.order.indexOf(tenant);
    this.order.splice(i, 1);
    if (i < this.cursor) this.cursor--;
    if (this.order.length === 0 || this.cursor >= this.order.length) this.cursor = 0;
  }
}
