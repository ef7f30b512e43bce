// The querier's side of Tempo's pull model: it resolves `querier.frontend_worker.frontend_address`
// (every address the name has: a headless service names every frontend; Andante also takes a
// comma-separated list of host:port, for frontends that share no DNS name), keeps one
// `/andante.Frontend/Process` stream to each, tells each how many jobs it can take, runs the jobs
// with the querier's own QuerierJobs executor and sends the answers back. Names are resolved again
// every dns_lookup_duration: frontends that appear are dialled, those gone are dropped. A stream
// that fails is dialled again after a short backoff while its address still resolves. A job the
// frontend cancels (its caller gave up), or one whose stream died, has its signal aborted: its block
// reads stop, and its answer (an error) tells the frontend the slot is free again.

import { lookup } from 'node:dns/promises';
import * as grpc from '@grpc/grpc-js';
import { Counter, type Registry } from 'prom-client';
import {
  CancelledError,
  FRONTEND_PROCESS_METHOD,
  QUERIER_JOB_SIGNAL_ARG,
  decodeFrontendMessage,
  encodeFrontendMessage,
  toWireError,
  type FrontendToQuerier,
  type Logger,
  type QuerierJobs,
} from '@andante/model';

export interface FrontendWorkerConfig {
  /** host:port of the frontends' internal gRPC, or a comma-separated list of them. */
  frontendAddress: string;
  dnsLookupMs: number;
  /** querier.max_concurrent_queries: jobs in flight across every frontend (match_max_concurrent). */
  maxConcurrentQueries: number;
  /** Jobs per frontend when match_max_concurrent is false. */
  parallelism: number;
  matchMaxConcurrent: boolean;
  querierId: string;
  /** Largest message taken from / sent to a frontend. */
  maxRecvMessageBytes: number;
  maxSendMessageBytes: number;
}

/** Counts jobs that ended because they were cancelled (tempo_querier_jobs_cancelled_total). */
export type CancelCounter = (why: 'frontend' | 'stream') => void;

const identity = (b: Buffer): Buffer => b;

/** Splits host:port; an IPv6 literal in brackets keeps its brackets off. */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address.trim());
  if (!m) throw new Error(`querier.frontend_worker.frontend_address: expected host:port, got ${JSON.stringify(address)}`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

/** Every host:port of a frontend_address (one, or a comma-separated list); throws naming the key. */
export function parseFrontendAddresses(address: string): { host: string; port: number }[] {
  return address.split(',').map(splitHostPort);
}

/** How long a drained stream waits for the frontend to end it before it is cancelled. */
const DRAIN_CLOSE_MS = 5_000;

class FrontendConnection {
  private readonly client: grpc.Client;
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private backoffMs = 100;
  /** Jobs running now (by the frontend's job ID, with their signal), and who waits for them to finish (a graceful stop). */
  private readonly running = new Map<number, AbortController>();
  private idle: (() => void)[] = [];
  private stopping = false;

  constructor(
    readonly target: string,
    private readonly share: () => number,
    private readonly cfg: FrontendWorkerConfig,
    private readonly jobs: QuerierJobs,
    private readonly logger: Logger,
    private readonly onCancelled: CancelCounter,
  ) {
    this.client = new grpc.Client(target, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': cfg.maxSendMessageBytes,
      'grpc.max_receive_message_length': cfg.maxRecvMessageBytes,
      // A frontend that dies without a FIN (a pulled cable) is noticed within ~30 s.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 20_000,
      // A restarted frontend is reconnected within a second, not after grpc-js's backoff of up to 2 minutes.
      'grpc.max_reconnect_backoff_ms': 1000,
    });
  }

  open(): void {
    if (this.closed) return;
    const call = this.client.makeBidiStreamRequest<Buffer, Buffer>(FRONTEND_PROCESS_METHOD, identity, identity);
    this.call = call;
    let connected = false;
    call.on('data', (bytes: Buffer) => {
      if (!connected) {
        connected = true;
        this.backoffMs = 100;
      }
      let m: FrontendToQuerier;
      try {
        m = decodeFrontendMessage(bytes);
      } catch (err) {
        this.logger.warn('malformed message from the query-frontend; dropping the stream', { err });
        call.cancel();
        return;
      }
      if (m.type === 'cancel') this.cancel(m.id, 'frontend', new CancelledError('the query-frontend cancelled the job: its caller gave up'));
      // After the half-close of a drain an answer could not be sent: the frontend queues the job again when the stream ends.
      else if (!this.closed) void this.run(call, m);
    });
    const again = (why: unknown): void => {
      if (this.call !== call) return;
      this.call = undefined;
      // Nobody can receive these answers now (the frontend queues the jobs again): stop them.
      for (const id of [...this.running.keys()]) this.cancel(id, 'stream', new CancelledError('the query-frontend stream ended'));
      if (this.closed) return;
      this.logger.debug('frontend stream ended; dialling again', { frontend: this.target, why: String(why) });
      this.retry = setTimeout(() => this.open(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
    };
    call.on('error', (err) => again(err));
    call.on('end', () => again('end'));
    call.write(encodeFrontendMessage({ type: 'hello', querierId: this.cfg.querierId }));
    call.write(encodeFrontendMessage({ type: 'ready', n: this.share() }));
  }

  private cancel(id: number, why: 'frontend' | 'stream', reason: Error): void {
    const controller = this.running.get(id);
    if (!controller || controller.signal.aborted) return;
    controller.abort(reason);
    this.onCancelled(why);
  }

  private async run(call: grpc.ClientDuplexStream<Buffer, Buffer>, job: Extract<FrontendToQuerier, { type: 'job' }>): Promise<void> {
    const controller = new AbortController();
    this.running.set(job.id, controller);
    try {
      await this.answer(call, job, controller.signal);
    } finally {
      this.running.delete(job.id);
      if (this.running.size === 0) for (const wake of this.idle.splice(0)) wake();
    }
  }

  private async answer(call: grpc.ClientDuplexStream<Buffer, Buffer>, job: Extract<FrontendToQuerier, { type: 'job' }>, signal: AbortSignal): Promise<void> {
    let message: Buffer;
    try {
      const method = this.jobs[job.method] as (...args: unknown[]) => Promise<unknown>;
      // The signal goes where the method takes it (arguments left out before it stay undefined).
      const at = QUERIER_JOB_SIGNAL_ARG[job.method];
      const args = job.args.slice(0, at);
      args[at] = signal;
      const value = await method.apply(this.jobs, args);
      message = encodeFrontendMessage({ type: 'result', id: job.id, ok: true, value });
      if (message.length > this.cfg.maxSendMessageBytes) {
        const error = toWireError(new Error(`the answer to ${job.method} is ${message.length} bytes, over the largest gRPC message (${this.cfg.maxSendMessageBytes}); narrow the query`));
        message = encodeFrontendMessage({ type: 'result', id: job.id, ok: false, error: { ...error, code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 } });
      }
    } catch (err) {
      message = encodeFrontendMessage({ type: 'result', id: job.id, ok: false, error: toWireError(err) });
    }
    if (this.call !== call) return; // the stream died meanwhile: the frontend queued the job again
    call.write(message);
    if (!this.stopping) call.write(encodeFrontendMessage({ type: 'ready', n: 1 }));
  }

  /**
   * A graceful stop: tells the frontend to send no more jobs, answers those running (up to
   * `timeoutMs`; after it, the frontend queues what is left again), then closes.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const call = this.call;
    // The frontend sends no more jobs once it reads this (one already on its way is still run).
    call?.write(encodeFrontendMessage({ type: 'stopping' }));
    if (call && this.running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => this.idle.push(resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    }
    if (call && this.call === call && this.running.size === 0) {
      // Half-close and wait for the frontend to end the stream: cancelling at once would drop the
      // answers just written (the frontend would queue those jobs again). No redial once it ends.
      this.closed = true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DRAIN_CLOSE_MS);
        call.on('status', () => {
          clearTimeout(timer);
          resolve();
        });
        call.end();
      });
    }
    this.close();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    const call = this.call;
    this.call = undefined;
    for (const id of [...this.running.keys()]) this.cancel(id, 'stream', new CancelledError('the querier stopped'));
    call?.end();
    call?.cancel();
    this.client.close();
  }
}

export class FrontendWorker {
  private readonly connections = new Map<string, FrontendConnection>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly countCancelled: CancelCounter;

  constructor(
    private readonly cfg: FrontendWorkerConfig,
    private readonly jobs: QuerierJobs,
    private readonly logger: Logger,
    registry?: Registry,
  ) {
    const cancelled = registry
      ? new Counter({
          name: 'tempo_querier_jobs_cancelled_total',
          help: 'Jobs from query-frontends stopped before they finished: cancelled by the frontend (its caller gave up) or their stream ended.',
          labelNames: ['reason'],
          registers: [registry],
        })
      : undefined;
    this.countCancelled = (why) => cancelled?.inc({ reason: why });
  }

  /** Frontends connected (or being dialled) now. */
  get frontends(): string[] {
    return [...this.connections.keys()];
  }

  /** Jobs each frontend may hand this querier at once. */
  private share(): number {
    if (!this.cfg.matchMaxConcurrent) return Math.max(1, this.cfg.parallelism);
    return Math.max(1, Math.floor(this.cfg.maxConcurrentQueries / Math.max(1, this.connections.size)));
  }

  async start(): Promise<void> {
    await this.resolve();
    this.timer = setInterval(() => void this.resolve(), this.cfg.dnsLookupMs);
    this.timer.unref();
  }

  /** Dials frontends the name resolves to now, drops those it no longer does. */
  async resolve(): Promise<void> {
    let targets: string[];
    try {
      const resolved = await Promise.all(
        parseFrontendAddresses(this.cfg.frontendAddress).map(async ({ host, port }) =>
          (await lookup(host, { all: true })).map((a) => (a.family === 6 ? `[${a.address}]:${port}` : `${a.address}:${port}`)),
        ),
      );
      targets = [...new Set(resolved.flat())];
    } catch (err) {
      // Keep the streams we have: a DNS hiccup is no reason to drop working frontends.
      this.logger.warn('cannot resolve querier.frontend_worker.frontend_address', { address: this.cfg.frontendAddress, err });
      return;
    }
    if (this.stopped) return;
    for (const [target, conn] of this.connections) {
      if (!targets.includes(target)) {
        conn.close();
        this.connections.delete(target);
      }
    }
    const added: FrontendConnection[] = [];
    for (const target of targets) {
      if (this.connections.has(target)) continue;
      this.logger.info('connecting to query-frontend', { frontend: target });
      const conn = new FrontendConnection(target, () => this.share(), this.cfg, this.jobs, this.logger.child({ frontend: target }), this.countCancelled);
      this.connections.set(target, conn);
      added.push(conn);
    }
    // Opened once all are counted, so each announces its share of max_concurrent_queries.
    for (const conn of added) conn.open();
  }

  /**
   * Stops pulling: each frontend is told to send no more jobs, the jobs running are answered
   * (up to `drainMs`), then the streams close. Jobs not answered by then are queued again by the
   * frontends for other queriers.
   */
  async stop(drainMs = 0): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const conns = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(conns.map((c) => c.drain(drainMs)));
  }
}
