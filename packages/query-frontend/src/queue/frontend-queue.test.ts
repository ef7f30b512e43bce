import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { InvalidArgumentError, NotFoundError, createLogger, decodeFrontendMessage, encodeFrontendMessage, type BlockMeta, type FrontendToQuerier, type QuerierToFrontend } from '@andante/model';
import type { BidiStreamCall } from '@andante/service';
import { FrontendQueue } from './frontend-queue.js';

/** One querier's end of a Process stream, driven by the test: what it sends, and what it received. */
class QuerierStream {
  private readonly inbox: (Uint8Array | null)[] = [];
  private wake: (() => void) | undefined;
  readonly received: FrontendToQuerier[] = [];
  private waiters: (() => void)[] = [];
  readonly abort = new AbortController();
  readonly call: BidiStreamCall;

  constructor() {
    const self = this;
    this.call = {
      metadata: {},
      signal: this.abort.signal,
      send: async (m) => {
        self.received.push(decodeFrontendMessage(m));
        for (const w of self.waiters.splice(0)) w();
      },
      messages: {
        async *[Symbol.asyncIterator]() {
          for (;;) {
            while (self.inbox.length === 0) await new Promise<void>((r) => (self.wake = r));
            const m = self.inbox.shift()!;
            if (m === null) return;
            yield m;
          }
        },
      },
    };
  }

  send(m: QuerierToFrontend | Uint8Array): void {
    this.inbox.push(m instanceof Uint8Array ? m : encodeFrontendMessage(m));
    this.wake?.();
  }

  /** The stream ends (the querier's process died: the transport closed it). */
  die(): void {
    this.inbox.push(null);
    this.wake?.();
  }

  private async first<T extends FrontendToQuerier['type']>(type: T, n: number): Promise<Extract<FrontendToQuerier, { type: T }>[]> {
    const of = (): Extract<FrontendToQuerier, { type: T }>[] => this.received.filter((m): m is Extract<FrontendToQuerier, { type: T }> => m.type === type);
    while (of().length < n) await new Promise<void>((r) => this.waiters.push(r));
    return of().slice(0, n);
  }

  jobs(n: number): Promise<Extract<FrontendToQuerier, { type: 'job' }>[]> {
    return this.first('job', n);
  }

  cancels(n: number): Promise<Extract<FrontendToQuerier, { type: 'cancel' }>[]> {
    return this.first('cancel', n);
  }
}

const meta = (blockID: string): BlockMeta => ({ blockID, tenantID: 't1' }) as BlockMeta;
const req = { query: '{ }', startSeconds: 0, endSeconds: 0, limit: 20, spss: 3 };

function frontend(registry = new Registry()): FrontendQueue {
  return new FrontendQueue({ maxOutstandingPerTenant: 100, maxSendMessageBytes: 1 << 20, registry, logger: createLogger('error', {}) });
}

describe('FrontendQueue over a Process stream', () => {
  it('sends a job to a querier that has room, and resolves the caller with its answer', async () => {
    const registry = new Registry();
    const fe = frontend(registry);
    const q = new QuerierStream();
    const serving = fe.process(q.call);
    q.send({ type: 'hello', querierId: 'q1' });
    q.send({ type: 'ready', n: 2 });
    const answer = fe.jobs.searchBlock(meta('b1'), req);
    const [job] = await q.jobs(1);
    expect(job).toMatchObject({ type: 'job', method: 'searchBlock', args: [meta('b1'), req] });
    expect(fe.connectedClients).toBe(1);
    expect(fe.jobs.parallelism).toBe(2);
    expect(await registry.getSingleMetricAsString('tempo_query_frontend_connected_clients')).toContain('tempo_query_frontend_connected_clients 1');
    q.send({ type: 'result', id: job!.id, ok: true, value: { traces: [], metrics: { inspectedTraces: 7 } } });
    await expect(answer).resolves.toEqual({ traces: [], metrics: { inspectedTraces: 7 } });
    q.die();
    await serving;
    expect(fe.connectedClients).toBe(0);
  });

  it('tells the querier to cancel a job whose caller gave up, keeps its slot busy until the querier answers, and ignores that answer', async () => {
    const fe = frontend();
    const q = new QuerierStream();
    const serving = fe.process(q.call);
    q.send({ type: 'hello', querierId: 'q1' });
    q.send({ type: 'ready', n: 1 });
    const caller = new AbortController();
    const answer = fe.jobs.searchBlock(meta('b1'), req, caller.signal);
    const [job] = await q.jobs(1);
    const other = fe.jobs.searchBlock(meta('b2'), req); // queued: the querier has no room
    caller.abort(new Error('client went away'));
    await expect(answer).rejects.toThrow('client went away');
    const [cancel] = await q.cancels(1);
    expect(cancel).toEqual({ type: 'cancel', id: job!.id });
    await new Promise((r) => setImmediate(r));
    expect(q.received.filter((m) => m.type === 'job')).toHaveLength(1); // the slot is still the cancelled job's
    q.send({ type: 'result', id: job!.id, ok: false, error: { code: 'CANCELLED', message: 'cancelled', httpStatus: 499, grpcCode: 1 } });
    q.send({ type: 'ready', n: 1 });
    const [, second] = await q.jobs(2);
    expect(second!.args[0]).toEqual(meta('b2'));
    q.send({ type: 'result', id: second!.id, ok: true, value: 2 });
    await expect(other).resolves.toBe(2);
    expect(q.received.filter((m) => m.type === 'cancel')).toHaveLength(1); // answered jobs are never cancelled
    q.die();
    await serving;
  });

  it('rebuilds a querier refusal as the typed error (a block gone is NotFoundError; a bad query is 400)', async () => {
    const fe = frontend();
    const q = new QuerierStream();
    const serving = fe.process(q.call);
    q.send({ type: 'hello', querierId: 'q1' });
    q.send({ type: 'ready', n: 2 });
    const gone = fe.jobs.searchBlock(meta('b1'), req);
    const bad = fe.jobs.searchRecent('t1', req);
    const [a, b] = await q.jobs(2);
    q.send({ type: 'result', id: a!.id, ok: false, error: { code: 'NOT_FOUND', message: 'block b1 not found', httpStatus: 404, grpcCode: 5 } });
    q.send({ type: 'result', id: b!.id, ok: false, error: { code: 'INVALID_ARGUMENT', message: 'parse error', httpStatus: 400, grpcCode: 3 } });
    await expect(gone).rejects.toBeInstanceOf(NotFoundError);
    await expect(bad).rejects.toBeInstanceOf(InvalidArgumentError);
    q.die();
    await serving;
  });

  it('queues the jobs of a querier whose stream dies again, and another querier answers them', async () => {
    const registry = new Registry();
    const fe = frontend(registry);
    const q1 = new QuerierStream();
    const s1 = fe.process(q1.call);
    q1.send({ type: 'hello', querierId: 'q1' });
    q1.send({ type: 'ready', n: 1 });
    const answer = fe.jobs.mayHoldElsewhere('t1', new Uint8Array(16), 'b1');
    await q1.jobs(1);
    q1.die();
    await s1;
    const q2 = new QuerierStream();
    const s2 = fe.process(q2.call);
    q2.send({ type: 'hello', querierId: 'q2' });
    q2.send({ type: 'ready', n: 1 });
    const [job] = await q2.jobs(1);
    expect(job).toMatchObject({ method: 'mayHoldElsewhere', args: ['t1', new Uint8Array(16), 'b1'] });
    q2.send({ type: 'result', id: job!.id, ok: true, value: true });
    await expect(answer).resolves.toBe(true);
    expect(await registry.getSingleMetricAsString('tempo_query_frontend_requeued_jobs_total')).toContain('tempo_query_frontend_requeued_jobs_total{user="t1"} 1');
    q2.die();
    await s2;
  });

  it('sends no more jobs than the querier has room for', async () => {
    const fe = frontend();
    const q = new QuerierStream();
    const serving = fe.process(q.call);
    q.send({ type: 'hello', querierId: 'q1' });
    q.send({ type: 'ready', n: 1 });
    const answers = [fe.jobs.searchBlock(meta('b1'), req), fe.jobs.searchBlock(meta('b2'), req)];
    const [first] = await q.jobs(1);
    await new Promise((r) => setImmediate(r));
    expect(q.received).toHaveLength(1);
    expect(fe.queue.length('t1')).toBe(1);
    q.send({ type: 'result', id: first!.id, ok: true, value: 1 });
    q.send({ type: 'ready', n: 1 });
    const [, second] = await q.jobs(2);
    expect(second!.args[0]).toEqual(meta('b2'));
    q.send({ type: 'result', id: second!.id, ok: true, value: 2 });
    await expect(Promise.all(answers)).resolves.toEqual([1, 2]);
    q.die();
    await serving;
  });

  it('sends a stopping querier no more jobs and takes its answers to the jobs it holds (a graceful querier shutdown)', async () => {
    const registry = new Registry();
    const fe = frontend(registry);
    const q = new QuerierStream();
    const serving = fe.process(q.call);
    q.send({ type: 'hello', querierId: 'q1' });
    q.send({ type: 'ready', n: 1 });
    const held = fe.jobs.searchBlock(meta('b1'), req);
    const waiting = fe.jobs.searchBlock(meta('b2'), req);
    const [job] = await q.jobs(1);
    q.send({ type: 'stopping' });
    q.send({ type: 'result', id: job!.id, ok: true, value: 'answered' });
    q.send({ type: 'ready', n: 5 }); // ignored once stopping
    await expect(held).resolves.toBe('answered');
    await new Promise((r) => setImmediate(r));
    expect(q.received).toHaveLength(1);
    expect(fe.queue.length('t1')).toBe(1);
    q.die();
    await serving;
    // Nothing was held when it left: nothing queued again; the waiting job goes to the next querier.
    expect(await registry.getSingleMetricAsString('tempo_query_frontend_requeued_jobs_total')).not.toContain('user="t1"');
    const next = new QuerierStream();
    const s2 = fe.process(next.call);
    next.send({ type: 'hello', querierId: 'q2' });
    next.send({ type: 'ready', n: 1 });
    const [second] = await next.jobs(1);
    next.send({ type: 'result', id: second!.id, ok: true, value: 'b2' });
    await expect(waiting).resolves.toBe('b2');
    next.die();
    await s2;
  });

  it('ends every querier stream and fails queued jobs when the frontend stops', async () => {
    const fe = frontend();
    const q = new QuerierStream();
    const serving = fe.process(q.call);
    q.send({ type: 'hello', querierId: 'q1' });
    await new Promise((r) => setImmediate(r));
    expect(fe.connectedClients).toBe(1);
    const queued = fe.jobs.searchRecent('t1', req);
    fe.close();
    await expect(queued).rejects.toThrow(/query-frontend stopping/);
    await serving; // the stream ends without the querier closing it
    expect(fe.connectedClients).toBe(0);
  });

  it('fails a stream whose first message is not hello, or that is not a message at all, and keeps serving others', async () => {
    const fe = frontend();
    const bad = new QuerierStream();
    bad.send({ type: 'ready', n: 5 });
    await expect(fe.process(bad.call)).rejects.toThrow(/must be hello/);
    const garbage = new QuerierStream();
    garbage.send(new Uint8Array([0xff, 0x0d, 0x22, 0x01]));
    await expect(fe.process(garbage.call)).rejects.toBeInstanceOf(InvalidArgumentError);
    const ok = new QuerierStream();
    const serving = fe.process(ok.call);
    ok.send({ type: 'hello', querierId: 'q' });
    ok.send({ type: 'ready', n: 1 });
    const answer = fe.jobs.tagNamesRecent('t1', { query: '', startSeconds: 0, endSeconds: 0 });
    const [job] = await ok.jobs(1);
    ok.send({ type: 'result', id: job!.id, ok: true, value: [] });
    await expect(answer).resolves.toEqual([]);
    ok.die();
    await serving;
  });
});
