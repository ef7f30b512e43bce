import { describe, expect, it } from 'vitest';
import { UnavailableError } from '@andante/model';
import { RequestQueue, TooManyOutstandingError } from './request-queue.js';

/** Takes every queued job, in the order a querier would get them. */
async function drain<P>(q: RequestQueue<P>, n: number): Promise<P[]> {
  const out: P[] = [];
  for (let i = 0; i < n; i++) {
    const job = await q.next();
    out.push(job.payload);
    job.resolve(job.payload);
  }
  return out;
}

describe('RequestQueue', () => {
  it('serves tenants round robin: one job of a quiet tenant is not stuck behind 1000 of a busy one', async () => {
    const q = new RequestQueue<string>({ maxOutstandingPerTenant: 0 });
    const answers: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) answers.push(q.enqueue('busy', `busy-${i}`));
    answers.push(q.enqueue('quiet', 'quiet-0'));
    const order = await drain(q, 1001);
    // The busy tenant's first job was next in line when the quiet one arrived; the quiet one is second.
    expect(order.indexOf('quiet-0')).toBe(1);
    expect(order.filter((p) => p.startsWith('busy'))).toEqual(Array.from({ length: 1000 }, (_, i) => `busy-${i}`));
    await Promise.all(answers);
  });

  it('alternates between tenants, each in its own FIFO order; a new tenant joins at the end of the round', async () => {
    const q = new RequestQueue<string>({ maxOutstandingPerTenant: 0 });
    for (const p of ['a1', 'a2', 'a3']) void q.enqueue('a', p);
    for (const p of ['b1', 'b2']) void q.enqueue('b', p);
    expect(await drain(q, 2)).toEqual(['a1', 'b1']);
    void q.enqueue('c', 'c1');
    expect(await drain(q, 4)).toEqual(['a2', 'b2', 'c1', 'a3']);
  });

  it('refuses a job beyond max_outstanding_per_tenant with 429, per tenant, and takes it again once one left the queue', async () => {
    const lengths: [string, number][] = [];
    const q = new RequestQueue<number>({ maxOutstandingPerTenant: 2, onLength: (t, n) => lengths.push([t, n]) });
    void q.enqueue('a', 1);
    void q.enqueue('a', 2);
    const refused = q.enqueue('a', 3);
    await expect(refused).rejects.toBeInstanceOf(TooManyOutstandingError);
    await expect(refused).rejects.toMatchObject({ httpStatus: 429, message: expect.stringMatching(/^too many outstanding requests: .*max_outstanding_per_tenant/) });
    void q.enqueue('b', 10); // another tenant is not affected
    expect(q.length('a')).toBe(2);
    await drain(q, 1);
    expect(q.length('a')).toBe(1);
    void q.enqueue('a', 4);
    expect(q.length('a')).toBe(2);
    expect(lengths.at(-1)).toEqual(['a', 2]);
  });

  it('drops a queued job whose caller gives up: it rejects with the reason and no querier gets it', async () => {
    const q = new RequestQueue<string>({ maxOutstandingPerTenant: 0 });
    const ac = new AbortController();
    const gone = q.enqueue('a', 'cancelled', ac.signal);
    const kept = q.enqueue('a', 'kept');
    ac.abort(new Error('client went away'));
    await expect(gone).rejects.toThrow('client went away');
    expect(q.length('a')).toBe(1);
    expect(await drain(q, 1)).toEqual(['kept']);
    await expect(kept).resolves.toBe('kept');
    // An already aborted signal is refused before queueing.
    await expect(q.enqueue('a', 'late', ac.signal)).rejects.toThrow('client went away');
    expect(q.length('a')).toBe(0);
  });

  it('settles a job a querier holds when its caller gives up; the late answer is ignored', async () => {
    const q = new RequestQueue<string>({ maxOutstandingPerTenant: 0 });
    const ac = new AbortController();
    const answer = q.enqueue('a', 'running', ac.signal);
    const job = await q.next();
    ac.abort(new Error('deadline'));
    await expect(answer).rejects.toThrow('deadline');
    expect(job.settled).toBe(true);
    job.resolve('too late'); // no effect, no throw
  });

  it('queues a job again at the head of its tenant when its querier goes away, once; the second loss fails it', async () => {
    const requeued: string[] = [];
    const q = new RequestQueue<string>({ maxOutstandingPerTenant: 0, onRequeue: (t) => requeued.push(t) });
    const answer = q.enqueue('a', 'first');
    void q.enqueue('a', 'second');
    const held = await q.next();
    expect(held.payload).toBe('first');
    q.requeue(held, 'querier q1 went away');
    const again = await q.next();
    expect(again.payload).toBe('first'); // ahead of 'second'
    expect(again.attempts).toBe(2);
    q.requeue(again, 'querier q2 went away');
    await expect(answer).rejects.toBeInstanceOf(UnavailableError);
    await expect(answer).rejects.toThrow(/querier q2 went away \(after 2 attempts\)/);
    expect(requeued).toEqual(['a']);
    expect((await q.next()).payload).toBe('second');
  });

  it('hands a job to a waiting querier at once; a waiting querier whose stream closes stops waiting', async () => {
    const q = new RequestQueue<string>({ maxOutstandingPerTenant: 0 });
    const waiting = q.next();
    const answer = q.enqueue('a', 'x');
    const job = await waiting;
    expect(job.payload).toBe('x');
    job.resolve(42);
    await expect(answer).resolves.toBe(42);
    const ac = new AbortController();
    const gone = q.next(ac.signal);
    ac.abort(new Error('stream closed'));
    await expect(gone).rejects.toThrow('stream closed');
    // The aborted waiter took nothing: the next job stays queued for a live querier.
    void q.enqueue('a', 'y');
    expect(q.length('a')).toBe(1);
  });

  it('fails queued jobs and waiting queriers when it closes', async () => {
    const q = new RequestQueue<string>({ maxOutstandingPerTenant: 0 });
    const queued = q.enqueue('a', 'x');
    q.close();
    await expect(queued).rejects.toBeInstanceOf(UnavailableError);
    await expect(q.next()).rejects.toBeInstanceOf(UnavailableError);
    await expect(q.enqueue('a', 'y')).rejects.toBeInstanceOf(UnavailableError);
  });
});
