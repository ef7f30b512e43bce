// The distributor's tap into the metrics-generator. Accepted segments are queued per tenant and
// handed to the generator by one background loop, so a slow, failing or crashing generator never
// fails, delays or un-acknowledges an export: onSegments() only enqueues, and a full queue drops
// the push (counted) instead of waiting. Only tenants whose overrides enable a processor are
// forwarded (checked on every push, so an overrides reload takes effect at once).

import { Counter, Gauge, type Registry } from 'prom-client';
import { RateLimitedLog, type GeneratorPusher, type LimitsProvider, type Logger, type TraceSegment } from '@andante/model';
import type { SpanStreamTap } from './distributor.js';

export interface GeneratorForwarderOptions {
  /** In-process generator under `all`; a ring-routing gRPC client in distributed mode. */
  pusher: GeneratorPusher;
  limits: LimitsProvider;
  registry: Registry;
  logger: Logger;
  /** Pushes (exports) queued per tenant before new ones are dropped (Tempo's forwarder_queue_size: 100). */
  queueSize?: number;
  /** Segment bytes queued across tenants before new pushes are dropped. */
  maxQueuedBytes?: number;
}

interface QueuedPush {
  segments: readonly TraceSegment[];
  bytes: number;
}

/**
 * Tempo's push counters, by the generator pushed to (its ring ID): what a GeneratorRingPusher's
 * `onPush` reports.
 */
export function generatorPushCounter(registry: Registry): (generatorId: string, failed: boolean) => void {
  const registers = [registry];
  const pushes = new Counter({ name: 'tempo_distributor_metrics_generator_pushes_total', help: 'Span pushes sent to metrics-generators.', labelNames: ['metrics_generator'], registers });
  const failures = new Counter({ name: 'tempo_distributor_metrics_generator_pushes_failures_total', help: 'Failed span pushes sent to metrics-generators.', labelNames: ['metrics_generator'], registers });
  return (generatorId, failed) => {
    pushes.inc({ metrics_generator: generatorId });
    if (failed) failures.inc({ metrics_generator: generatorId });
  };
}

export class GeneratorForwarder implements SpanStreamTap {
  private readonly queues = new Map<string, QueuedPush[]>();
  private queuedBytes = 0;
  private readonly queueSize: number;
  private readonly maxQueuedBytes: number;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly queuePushes: Counter<'tenant'>;
  private readonly queueFailures: Counter<'tenant'>;
  private readonly queueLength: Gauge;
  /** Failed pushes are logged at most once per 10 s (a dead generator fails every push), with a count of those left out. */
  private readonly failureLog = new RateLimitedLog();

  constructor(private readonly opts: GeneratorForwarderOptions) {
    this.queueSize = opts.queueSize ?? 100;
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 64 * 1024 * 1024;
    const registers = [opts.registry];
    this.queuePushes = new Counter({ name: 'tempo_distributor_queue_pushes_total', help: 'Pushes queued for the metrics-generator, per tenant.', labelNames: ['tenant'], registers });
    this.queueFailures = new Counter({ name: 'tempo_distributor_queue_pushes_failures_total', help: 'Pushes dropped because the metrics-generator queue was full, per tenant.', labelNames: ['tenant'], registers });
    this.queueLength = new Gauge({ name: 'tempo_distributor_metrics_generator_queue_bytes', help: 'Segment bytes waiting for the metrics-generator.', registers });
  }

  /** Never throws and never waits: the export has been acknowledged already. */
  onSegments(tenantId: string, segments: readonly TraceSegment[]): void {
    if (this.stopped || segments.length === 0) return;
    let enabled: boolean;
    try {
      enabled = this.opts.limits.forTenant(tenantId).metricsGenerator.processors.length > 0;
    } catch {
      enabled = false;
    }
    if (!enabled) return;
    let queue = this.queues.get(tenantId);
    if (!queue) this.queues.set(tenantId, (queue = []));
    let bytes = 0;
    for (const s of segments) bytes += s.bytes.byteLength;
    if (queue.length >= this.queueSize || this.queuedBytes + bytes > this.maxQueuedBytes) {
      this.queueFailures.inc({ tenant: tenantId });
      return;
    }
    queue.push({ segments, bytes });
    this.queuedBytes += bytes;
    this.queueLength.set(this.queuedBytes);
    this.queuePushes.inc({ tenant: tenantId });
    this.kick();
  }

  private kick(): void {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
      // A push queued after the loop's last look but before this callback.
      if (this.queues.size > 0 && !this.stopped) this.kick();
    });
  }

  /** One push at a time, tenants in turn, each on its own macrotask so exports keep flowing in between. */
  private async run(): Promise<void> {
    while (!this.stopped && this.queues.size > 0) {
      for (const [tenantId, queue] of [...this.queues]) {
        const next = queue.shift();
        if (queue.length === 0) this.queues.delete(tenantId);
        if (!next) continue;
        this.queuedBytes -= next.bytes;
        this.queueLength.set(this.queuedBytes);
        await new Promise<void>((resolve) => setImmediate(resolve));
        try {
          await this.opts.pusher.pushSpans({ tenantId, segments: [...next.segments] });
        } catch (err) {
          this.logFailure(tenantId, err);
        }
        if (this.stopped) return;
      }
    }
  }

  private logFailure(tenantId: string, err: unknown): void {
    this.failureLog.log('push', (notLogged) =>
      this.opts.logger.warn('push to metrics-generator failed', { tenant: tenantId, err, ...(notLogged > 0 ? { failures_not_logged: notLogged } : {}) }),
    );
  }

  /** Resolves when everything queued so far has been pushed (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Pushes what is queued, then takes no more. */
  async stop(): Promise<void> {
    await this.drain();
    this.stopped = true;
  }
}
