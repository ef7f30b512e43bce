// Cancellation across the query-frontend <-> querier stream, over real gRPC on loopback: a job whose
// caller gives up while a querier runs it is cancelled on the querier (its signal aborts, so block
// reads stop), the querier's slot frees when the job ends, and a job whose stream dies is stopped too.

import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { FRONTEND_PROCESS_METHOD, silentLogger, type BlockMeta, type QuerierJobs, type SearchPartial } from '@andante/model';
import { FrontendWorker } from '@andante/querier';
import { FrontendQueue } from '@andante/query-frontend';
import { GrpcInternalServer } from './internal-grpc.js';

const meta = (blockID: string): BlockMeta => ({ blockID, tenantID: 't1' }) as BlockMeta;
const req = { query: '{ }', startSeconds: 0, endSeconds: 0, limit: 20, spss: 3 };
const answer = (inspectedTraces: number): SearchPartial => ({ traces: [], metrics: { inspectedTraces } }) as unknown as SearchPartial;

/** A querier's executor whose block jobs run until released or until their signal aborts. */
class HangingJobs {
  readonly started: string[] = [];
  readonly aborted = new Map<string, unknown>();
  /** Jobs of blocks named `gated-*` answer when their gate is opened. */
  readonly gates = new Map<string, () => void>();
  private waiters: (() => void)[] = [];

  readonly jobs = {
    parallelism: 1,
    searchBlock: (m: BlockMeta, _req: unknown, signal?: AbortSignal): Promise<SearchPartial> => {
      this.started.push(m.blockID);
      for (const w of this.waiters.splice(0)) w();
      if (m.blockID.startsWith('quick')) return Promise.resolve(answer(1));
      if (m.blockID.startsWith('gated')) return new Promise((resolve) => this.gates.set(m.blockID, () => resolve(answer(2))));
      return new Promise((_, reject) => {
        signal?.addEventListener('abort', () => {
          this.aborted.set(m.blockID, signal.reason);
          reject(signal.reason as Error);
        });
      });
    },
  } as unknown as QuerierJobs;

  async until(check: () => boolean): Promise<void> {
    while (!check()) await new Promise<void>((r) => this.waiters.push(r));
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp(): Promise<{ fe: FrontendQueue; querier: HangingJobs; registry: Registry; server: GrpcInternalServer; worker: FrontendWorker }> {
  const fe = new FrontendQueue({ maxOutstandingPerTenant: 100, maxSendMessageBytes: 1 << 20, registry: new Registry(), logger: silentLogger });
  const server = new GrpcInternalServer({ address: '127.0.0.1', maxRecvMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20 }, silentLogger);
  server.mount(new Map(), new Map(), new Map([[FRONTEND_PROCESS_METHOD, (call) => fe.process(call)]]));
  const port = await server.listen(0);
  const querier = new HangingJobs();
  const registry = new Registry();
  const worker = new FrontendWorker(
    { frontendAddress: `127.0.0.1:${port}`, dnsLookupMs: 60_000, maxConcurrentQueries: 1, parallelism: 1, matchMaxConcurrent: true, querierId: 'q1', maxRecvMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20 },
    querier.jobs,
    silentLogger,
    registry,
  );
  await worker.start();
  cleanups.push(() => server.close(), () => fe.close(), () => worker.stop());
  await until(() => fe.connectedClients === 1 && fe.jobs.parallelism === 1, 'the querier connected with room for one job');
  return { fe, querier, registry, server, worker };
}

async function cancelled(registry: Registry, reason: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'tempo_querier_jobs_cancelled_total');
  return (m?.values.find((v) => v.labels.reason === reason)?.value as number | undefined) ?? 0;
}

describe('job cancellation between a query-frontend and a querier over gRPC', () => {
  it("stops a running job on the querier when its caller gives up, and the querier's only slot serves the next job", async () => {
    const { fe, querier, registry } = await setUp();
    const caller = new AbortController();
    const first = fe.jobs.searchBlock(meta('slow'), req, caller.signal);
    await querier.until(() => querier.started.includes('slow'));
    // Queued behind it: the querier has room for one job, held by the slow one.
    const next = fe.jobs.searchBlock(meta('quick-1'), req);
    caller.abort(new Error('client went away'));
    await expect(first).rejects.toThrow('client went away');
    await querier.until(() => querier.aborted.has('slow'));
    expect(String(querier.aborted.get('slow'))).toContain('the query-frontend cancelled the job');
    await expect(next).resolves.toEqual(answer(1));
    expect(querier.started).toEqual(['slow', 'quick-1']);
    expect(await cancelled(registry, 'frontend')).toBe(1);
  });

  it('leaves a job alone when its caller is answered (no cancel after the fact)', async () => {
    const { fe, querier, registry } = await setUp();
    const caller = new AbortController();
    await expect(fe.jobs.searchBlock(meta('quick-2'), req, caller.signal)).resolves.toEqual(answer(1));
    caller.abort(new Error('late'));
    await expect(fe.jobs.searchBlock(meta('quick-3'), req)).resolves.toEqual(answer(1));
    expect(querier.aborted.size).toBe(0);
    expect(await cancelled(registry, 'frontend')).toBe(0);
  });

  it('drains on a graceful stop (a querier taking SIGTERM): the job it holds is answered, not queued again, and it takes no other', async () => {
    const { fe, querier, worker } = await setUp();
    const held = fe.jobs.searchBlock(meta('gated-1'), req);
    await querier.until(() => querier.gates.has('gated-1'));
    const stopped = worker.stop(10_000);
    // Queued while the querier stops: it must not reach this querier, whose only slot frees when gated-1 is answered.
    const next = fe.jobs.searchBlock(meta('quick-5'), req).catch((err: unknown) => err);
    querier.gates.get('gated-1')!();
    // Bounded: a drain that loses the answer leaves the job queued with no querier, and this would hang.
    await expect(within(held, 'the held job answered')).resolves.toEqual(answer(2));
    await within(stopped, 'the worker stopped');
    await until(() => fe.connectedClients === 0, 'the stream closed after the drain');
    expect(querier.started).toEqual(['gated-1']);
    expect(querier.aborted.size).toBe(0);
    // Still queued for another querier; the frontend's stop fails it.
    fe.close();
    expect(await next).toBeInstanceOf(Error);
  });

  it('stops the jobs of a stream that ends (the frontend went away): nobody can take their answers', async () => {
    const { fe, querier, registry, server } = await setUp();
    const held = fe.jobs.searchBlock(meta('orphan'), req).catch((err: unknown) => err);
    await querier.until(() => querier.started.includes('orphan'));
    fe.close();
    await server.close();
    await querier.until(() => querier.aborted.has('orphan'));
    await until(async () => (await cancelled(registry, 'stream')) === 1, 'the stream cancellation counted');
    expect(await held).toBeInstanceOf(Error);
  });
});
