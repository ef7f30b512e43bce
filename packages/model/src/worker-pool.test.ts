import { afterEach, describe, expect, it } from 'vitest';
import { WorkerPool } from './worker-pool.js';

// A real worker thread: a job waits `ms` and answers with the job IDs it has seen, unless it is
// cancelled first; then it answers at once with an error.
const WORKER = `
import { parentPort } from 'node:worker_threads';
const seen = [];
const timers = new Map();
parentPort.on('message', (m) => {
  if (m.kind === 'cancel') {
    const t = timers.get(m.id);
    if (!t) return;
    clearTimeout(t);
    timers.delete(m.id);
    parentPort.postMessage({ id: m.id, error: 'cancelled', seen: [...seen] });
    return;
  }
  seen.push(m.label);
  timers.set(m.id, setTimeout(() => {
    timers.delete(m.id);
    parentPort.postMessage({ id: m.id, result: [...seen] });
  }, m.ms));
});
`;

interface Job {
  label: string;
  ms: number;
}

type Msg = { id: number; result?: string[]; error?: string };

function pool(cancelled: number[]): WorkerPool<Job, string[]> {
  return new WorkerPool<Job, string[]>({
    name: 'test',
    url: new URL(`data:text/javascript,${encodeURIComponent(WORKER)}`),
    size: 1,
    post: (worker, id, job) => worker.postMessage({ id, ...job }),
    cancel: (worker, id) => {
      cancelled.push(id);
      worker.postMessage({ kind: 'cancel', id });
    },
    done: (msg) => {
      const m = msg as Msg;
      return m.error ? { id: m.id, error: new Error(m.error) } : { id: m.id, result: m.result! };
    },
  });
}

describe('WorkerPool cancellation', () => {
  const pools: WorkerPool<Job, string[]>[] = [];
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.close();
  });

  it('drops a queued job whose signal aborts (it never reaches a worker) and answers its caller with the reason', async () => {
    const cancelled: number[] = [];
    const p = pool(cancelled);
    pools.push(p);
    const first = p.run({ label: 'a', ms: 300 });
    const caller = new AbortController();
    const queued = p.run({ label: 'b', ms: 10 }, caller.signal);
    const third = p.run({ label: 'c', ms: 10 });
    caller.abort(new Error('gave up'));
    await expect(queued).rejects.toThrow('gave up');
    expect(await first).toEqual(['a']);
    expect(await third).toEqual(['a', 'c']); // b was never posted
    expect(cancelled).toEqual([]); // nothing to cancel on a worker
  });

  it('cancels a running job on its worker: the caller is answered at once, and the slot frees when the worker ends the job', async () => {
    const cancelled: number[] = [];
    const p = pool(cancelled);
    pools.push(p);
    const caller = new AbortController();
    const started = Date.now();
    const running = p.run({ label: 'long', ms: 60_000 }, caller.signal);
    const next = p.run({ label: 'next', ms: 10 });
    await new Promise((r) => setTimeout(r, 100));
    caller.abort(new Error('client went away'));
    await expect(running).rejects.toThrow('client went away');
    expect(cancelled).toHaveLength(1);
    // Without the cancel the next job would wait the long job's 60 s.
    expect(await next).toEqual(['long', 'next']);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('does not cancel a job that finished before its signal aborted', async () => {
    const cancelled: number[] = [];
    const p = pool(cancelled);
    pools.push(p);
    const caller = new AbortController();
    expect(await p.run({ label: 'quick', ms: 5 }, caller.signal)).toEqual(['quick']);
    caller.abort(new Error('late'));
    expect(cancelled).toEqual([]);
  });

  it('refuses at once a job whose signal already aborted', async () => {
    const p = pool([]);
    pools.push(p);
    await expect(p.run({ label: 'x', ms: 1 }, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });
});
