// The write path's front door: validate, limit, group spans by trace, and push each trace to the
// ingesters that own it on the ring. Every accepted span is durable before push() resolves.

import {
  AndanteError,
  InvalidArgumentError,
  LimitExceededError,
  UnavailableError,
  bytesToHex,
  tokenForTraceId,
  type IngesterPusher,
  type LimitsProvider,
  type Logger,
  type PushResult,
  type TraceSegment,
} from '@andante/model';
import type { InstanceDesc, RingSnapshot } from '@andante/ring';
import type { Registry } from 'prom-client';
import { createDistributorMetrics, type DistributorMetrics } from './metrics.js';
import { TenantRateLimiter } from './rate-limiter.js';
import { ExportDecoderPool } from './decoder-pool.js';

/**
 * Receives every accepted trace segment after it is durable; the metrics-generator taps the stream
 * here through GeneratorForwarder, whose onSegments only enqueues (it must never throw or wait:
 * the export is acknowledged already).
 */
export interface SpanStreamTap {
  onSegments(tenantId: string, segments: readonly TraceSegment[]): void;
}

export interface DistributorDeps {
  ring: () => RingSnapshot;
  ingester: (instance: InstanceDesc) => IngesterPusher;
  limits: LimitsProvider;
  registry: Registry;
  logger: Logger;
  tap?: SpanStreamTap;
  /** Where exports are decoded and split; inline on the event loop when absent. */
  decoder?: ExportDecoderPool;
}

export interface ExportResult {
  acceptedSpans: number;
  rejectedSpans: number;
  errorMessage: string;
}

export class Distributor {
  readonly metrics: DistributorMetrics;
  private readonly limiter = new TenantRateLimiter();
  private readonly decoder: ExportDecoderPool;

  constructor(private readonly deps: DistributorDeps) {
    this.metrics = createDistributorMetrics(deps.registry);
    this.decoder = deps.decoder ?? new ExportDecoderPool(0);
  }

  /**
   * Accepts one OTLP ExportTraceServiceRequest (protobuf). Whole-request refusals throw an
   * AndanteError (bad protobuf, rate limit); per-span and per-trace refusals come back as a
   * partial success. `body` is the distributor's from here on: its memory may be handed to a
   * decode worker (detached), so the caller must not read it afterwards.
   */
  async pushOtlp(tenantId: string, body: Uint8Array): Promise<ExportResult> {
    const timer = this.metrics.pushDuration.startTimer();
    try {
      return await this.push(tenantId, body);
    } finally {
      timer();
    }
  }

  private async push(tenantId: string, body: Uint8Array): Promise<ExportResult> {
    const bodyBytes = body.byteLength;
    const { spanCount: spanTotal, segments, invalid } = await this.decoder.split(body);
    this.metrics.spansReceived.inc({ tenant: tenantId }, spanTotal);
    this.metrics.bytesReceived.inc({ tenant: tenantId }, bodyBytes);
    if (spanTotal === 0) return { acceptedSpans: 0, rejectedSpans: 0, errorMessage: '' };

    const limits = this.deps.limits.forTenant(tenantId);
    try {
      this.limiter.take(tenantId, bodyBytes, limits.ingestionRateLimitBytes, limits.ingestionBurstSizeBytes);
    } catch (err) {
      this.discard(tenantId, 'rate_limited', spanTotal);
      throw err;
    }

    let rejectedSpans = 0;
    const messages = new Set<string>();
    for (const { reason, count, example } of invalid) {
      this.discard(tenantId, reason, count);
      rejectedSpans += count;
      messages.add(example);
    }
    if (segments.length === 0) throw new InvalidArgumentError([...messages].join('; '));

    let result: PushResult;
    try {
      result = await this.pushToIngesters(tenantId, segments);
    } catch (err) {
      // A whole-request refusal by the ingesters (max_unflushed_bytes): the valid spans are discarded.
      if (err instanceof LimitExceededError) this.discard(tenantId, err.reason, spanTotal - rejectedSpans);
      throw err;
    }
    const refusedTraces = new Set<string>();
    for (const r of result.rejected) {
      const key = bytesToHex(r.traceId);
      if (refusedTraces.has(key)) continue; // replicas report the same trace
      refusedTraces.add(key);
      this.discard(tenantId, r.reason, r.spanCount);
      rejectedSpans += r.spanCount;
      messages.add(r.message);
    }

    if (this.deps.tap) {
      const accepted = refusedTraces.size === 0 ? segments : segments.filter((s) => !refusedTraces.has(bytesToHex(s.traceId)));
      this.deps.tap.onSegments(tenantId, accepted);
    }
    return { acceptedSpans: spanTotal - rejectedSpans, rejectedSpans, errorMessage: [...messages].join('; ') };
  }

  private discard(tenantId: string, reason: string, spans: number): void {
    this.metrics.discardedSpans.inc({ reason, tenant: tenantId }, spans);
  }

  private async pushToIngesters(tenantId: string, segments: readonly TraceSegment[]): Promise<PushResult> {
    const ring = this.deps.ring();
    const perInstance = new Map<string, { instance: InstanceDesc; segments: TraceSegment[]; indexes: number[] }>();
    // Acknowledgements each segment still needs (by index into segments).
    const needed = new Array<number>(segments.length);
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      let set;
      try {
        set = ring.replicationSetFor(tokenForTraceId(segment.traceId));
      } catch (err) {
        throw new UnavailableError((err as Error).message);
      }
      needed[i] = set.minSuccess;
      for (const instance of set.instances) {
        let target = perInstance.get(instance.id);
        if (!target) perInstance.set(instance.id, (target = { instance, segments: [], indexes: [] }));
        target.segments.push(segment);
        target.indexes.push(i);
      }
    }

    const targets = [...perInstance.values()];
    const settled = await Promise.allSettled(
      targets.map((t) => this.deps.ingester(t.instance).push({ tenantId, segments: t.segments })),
    );
    const rejected: PushResult['rejected'] = [];
    let firstError: unknown;
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled') {
        rejected.push(...s.value.rejected);
        for (const k of targets[i]!.indexes) needed[k]!--;
      } else {
        firstError ??= s.reason;
        // A limit refusal is counted in tempo_discarded_spans_total; under overload a line per
        // refused request would flood the log.
        if (!(s.reason instanceof LimitExceededError)) {
          this.deps.logger.warn('push to ingester failed', { ingester: targets[i]!.instance.id, err: s.reason });
        }
      }
    });
    if (needed.some((remaining) => remaining > 0)) {
      if (firstError instanceof AndanteError) throw firstError;
      throw new UnavailableError(`could not write to enough ingesters: ${(firstError as Error)?.message ?? 'unknown error'}`);
    }
    return { rejected };
  }
}
