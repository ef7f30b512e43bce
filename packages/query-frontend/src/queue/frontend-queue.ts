// Queriers in other processes pull the frontend's jobs (Tempo's pull model): QueueJobs implements
// QuerierJobs by queueing each call as a job in the per-tenant fair queue, and `process` serves one
// querier's `/andante.Frontend/Process` stream: it sends as many jobs as the querier said it can
// take, and settles each job with the answer it sends back. A job whose caller gives up while a
// querier holds it is cancelled there (a `cancel` message), so the querier stops reading blocks for
// nobody. When the stream dies, the jobs it held go back to the queue (once) for another querier.

import { Counter, Gauge, type Registry } from 'prom-client';
import {
  InvalidArgumentError,
  PayloadTooLargeError,
  decodeQuerierMessage,
  encodeFrontendMessage,
  fromWireError,
  type BlockMeta,
  type BlockTagsAnswer,
  type BlockTagsJob,
  type Logger,
  type MetricsPartial,
  type MetricsRequest,
  type QuerierJobMethod,
  type QuerierJobs,
  type TraceIdShard,
  type SearchPartial,
  type SearchRequest,
  type TagsPartial,
  type TagsRequest,
  type TagValuesPartial,
  type TagValuesRequest,
  type TimeRange,
  type Trace,
} from '@andante/model';
import type { BidiStreamCall } from '@andante/service';
import { RequestQueue, type QueuedJob } from './request-queue.js';

export interface JobPayload {
  method: QuerierJobMethod;
  args: unknown[];
}

export interface FrontendQueueOptions {
  /** query_frontend.max_outstanding_per_tenant */
  maxOutstandingPerTenant: number;
  /** Largest job message sent to a querier (server.grpc_server_max_send_msg_size). */
  maxSendMessageBytes: number;
  registry: Registry;
  logger: Logger;
}

interface Connection {
  querierId: string;
  /** Jobs the querier said it can take that were not sent yet. */
  credits: number;
  /** It said it is stopping: it gets no more jobs, and answers those it holds. */
  stopping: boolean;
  inFlight: Map<number, InFlightJob>;
}

interface InFlightJob {
  job: QueuedJob<JobPayload>;
  /** Stops listening for the caller giving up (which would send the querier a cancel). */
  unwatch: () => void;
}

export class FrontendQueue {
  readonly queue: RequestQueue<JobPayload>;
  private readonly connections = new Set<Connection>();
  private nextId = 1;
  /** Resolves when the frontend stops: every stream then ends (queriers dial again elsewhere). */
  private readonly closing: Promise<{ done: true; value: undefined }>;
  private endStreams!: () => void;
  private readonly inFlightGauge: Gauge;

  constructor(private readonly opts: FrontendQueueOptions) {
    this.closing = new Promise((resolve) => (this.endStreams = () => resolve({ done: true, value: undefined })));
    const queueLength = new Gauge({ name: 'tempo_query_frontend_queue_length', help: 'Number of queries in the queue.', labelNames: ['user'], registers: [opts.registry] });
    const requeued = new Counter({
      name: 'tempo_query_frontend_requeued_jobs_total',
      help: 'Jobs queued again because the querier holding them went away.',
      labelNames: ['user'],
      registers: [opts.registry],
    });
    this.inFlightGauge = new Gauge({
      name: 'tempo_query_frontend_jobs_in_flight',
      help: 'Jobs sent to a querier and not answered yet, by querier ID.',
      labelNames: ['querier'],
      registers: [opts.registry],
    });
    const connections = this.connections;
    new Gauge({
      name: 'tempo_query_frontend_connected_clients',
      help: 'Number of worker clients currently connected to the frontend.',
      registers: [opts.registry],
      collect() {
        this.set(connections.size);
      },
    });
    this.queue = new RequestQueue<JobPayload>({
      maxOutstandingPerTenant: opts.maxOutstandingPerTenant,
      onLength: (tenant, n) => queueLength.set({ user: tenant }, n),
      onRequeue: (tenant) => requeued.inc({ user: tenant }),
    });
  }

  /** Querier streams connected now. */
  get connectedClients(): number {
    return this.connections.size;
  }

  /** Jobs the connected queriers take at once (what they announced). */
  get capacity(): number {
    let n = 0;
    for (const c of this.connections) n += c.credits + c.inFlight.size;
    return n;
  }

  /** QuerierJobs over the queue: what the frontend's services call when queriers are remote. */
  readonly jobs: QuerierJobs = createQueueJobs(this);

  enqueue<T>(tenant: string, method: QuerierJobMethod, args: unknown[], signal?: AbortSignal): Promise<T> {
    return this.queue.enqueue<T>(tenant, { method, args }, signal);
  }

  /** Serves one querier's stream until it ends; the jobs it holds then are queued again. */
  async process(call: BidiStreamCall): Promise<void> {
    const messages = call.messages[Symbol.asyncIterator]();
    const first = await messages.next();
    if (first.done) return;
    const hello = decodeQuerierMessage(first.value);
    if (hello.type !== 'hello') throw new InvalidArgumentError(`the first message of /andante.Frontend/Process must be hello, got ${hello.type}`);
    const conn: Connection = { querierId: hello.querierId || 'unknown', credits: 0, stopping: false, inFlight: new Map() };
    this.connections.add(conn);
    const log = this.opts.logger.child({ querier: conn.querierId });
    log.info('querier connected');
    const stop = new AbortController();
    const onCallAbort = (): void => stop.abort(call.signal.reason);
    call.signal.addEventListener('abort', onCallAbort, { once: true });
    let wake: (() => void) | undefined;
    const pump = async (): Promise<void> => {
      while (!stop.signal.aborted) {
        if (conn.credits === 0) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        let job: QueuedJob<JobPayload>;
        try {
          job = await this.queue.next(stop.signal);
        } catch {
          return; // the stream ended, or the queue closed
        }
        if (stop.signal.aborted) {
          job.attempts--; // taken, never sent
          this.queue.requeue(job, `querier ${conn.querierId} went away`);
          return;
        }
        if (job.settled) continue;
        const id = this.nextId++;
        const message = encodeFrontendMessage({ type: 'job', id, method: job.payload.method, args: job.payload.args });
        if (message.length > this.opts.maxSendMessageBytes) {
          job.reject(new PayloadTooLargeError(`query job of ${message.length} bytes exceeds server.grpc_server_max_send_msg_size (${this.opts.maxSendMessageBytes})`));
          continue;
        }
        conn.credits--;
        // The job stays in flight until the querier answers (it says ready then): its slot is busy
        // until the cancelled job has stopped.
        let cancelSent = false;
        const onGiveUp = (): void => {
          if (cancelSent || !conn.inFlight.has(id)) return;
          cancelSent = true;
          void call.send(encodeFrontendMessage({ type: 'cancel', id })).catch(() => undefined);
        };
        job.signal?.addEventListener('abort', onGiveUp, { once: true });
        conn.inFlight.set(id, { job, unwatch: () => job.signal?.removeEventListener('abort', onGiveUp) });
        this.inFlightGauge.inc({ querier: conn.querierId });
        await call.send(message).catch(() => undefined); // a dead stream is noticed by the reader
        if (job.signal?.aborted) onGiveUp(); // gave up while the job was being sent
      }
    };
    const pumping = pump();
    try {
      for (;;) {
        const next = await Promise.race([messages.next(), this.closing]);
        if (next.done) break;
        const m = decodeQuerierMessage(next.value);
        if (m.type === 'ready') {
          if (!conn.stopping) conn.credits += m.n;
          wake?.();
        } else if (m.type === 'stopping') {
          conn.stopping = true;
          conn.credits = 0;
        } else if (m.type === 'result') {
          const held = conn.inFlight.get(m.id);
          if (!held) continue;
          conn.inFlight.delete(m.id);
          held.unwatch();
          this.inFlightGauge.dec({ querier: conn.querierId });
          // A job whose caller gave up is settled already: its answer goes nowhere.
          if (m.ok) held.job.resolve(m.value);
          else held.job.reject(fromWireError(m.error));
        }
      }
    } catch (err) {
      if (!stop.signal.aborted && !call.signal.aborted) log.warn('querier stream failed', { err });
      if (err instanceof InvalidArgumentError) throw err;
    } finally {
      stop.abort(new Error('querier stream ended'));
      call.signal.removeEventListener('abort', onCallAbort);
      wake?.();
      await pumping;
      this.connections.delete(conn);
      for (const { job, unwatch } of conn.inFlight.values()) {
        unwatch();
        this.inFlightGauge.dec({ querier: conn.querierId });
        this.queue.requeue(job, `querier ${conn.querierId} went away`);
      }
      conn.inFlight.clear();
      log.info('querier disconnected');
    }
  }

  close(): void {
    this.queue.close();
    this.endStreams();
  }
}

function createQueueJobs(q: FrontendQueue): QuerierJobs {
  return {
    get parallelism() {
      return q.capacity;
    },
    searchRecent: (tenantId: string, req: SearchRequest, signal?: AbortSignal) => q.enqueue<SearchPartial[]>(tenantId, 'searchRecent', [tenantId, req], signal),
    searchBlock: (meta: BlockMeta, req: SearchRequest, signal?: AbortSignal) => q.enqueue<SearchPartial>(meta.tenantID, 'searchBlock', [meta, req], signal),
    findTraceById: (tenantId: string, traceId: Uint8Array, range?: TimeRange, signal?: AbortSignal) =>
      q.enqueue<Trace | null>(tenantId, 'findTraceById', range ? [tenantId, traceId, range] : [tenantId, traceId], signal),
    mayHoldElsewhere: (tenantId: string, traceId: Uint8Array, exceptBlockId: string, signal?: AbortSignal) =>
      q.enqueue<boolean>(tenantId, 'mayHoldElsewhere', [tenantId, traceId, exceptBlockId], signal),
    tagNamesRecent: (tenantId: string, req: TagsRequest, signal?: AbortSignal) => q.enqueue<TagsPartial[]>(tenantId, 'tagNamesRecent', [tenantId, req], signal),
    tagValuesRecent: (tenantId: string, req: TagValuesRequest, signal?: AbortSignal) => q.enqueue<TagValuesPartial[]>(tenantId, 'tagValuesRecent', [tenantId, req], signal),
    blockTags: (meta: BlockMeta, req: TagsRequest, job: BlockTagsJob, signal?: AbortSignal) => q.enqueue<BlockTagsAnswer>(meta.tenantID, 'blockTags', [meta, req, job], signal),
    metricsRecent: (tenantId: string, req: MetricsRequest, signal?: AbortSignal) => q.enqueue<MetricsPartial[]>(tenantId, 'metricsRecent', [tenantId, req], signal),
    metricsBlock: (meta: BlockMeta, req: MetricsRequest, signal?: AbortSignal) => q.enqueue<MetricsPartial>(meta.tenantID, 'metricsBlock', [meta, req], signal),
    metricsReplicatedBlocks: (metas: BlockMeta[], req: MetricsRequest, shard: TraceIdShard, signal?: AbortSignal) =>
      q.enqueue<MetricsPartial>(metas[0]?.tenantID ?? '', 'metricsReplicatedBlocks', [metas, req, shard], signal),
  };
}
