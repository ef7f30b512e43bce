// The write path's front door: validate, limit, group spans by trace, and push each trace to the
// ingesters that own it on the ring. Every accepted span is durable on a write quorum of its
// replicas before push() resolves (replicated-push.ts).

import {
  InvalidArgumentError,
  LimitExceededError,
  bytesToHex,
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
import { ReplicatedPusher } from './replicated-push.js';

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
  /** Push calls one ingester may have in flight from this distributor (see ReplicatedPusher). */
  maxInflightPerIngester?: number;
}

/** Enough for many concurrent exports per ingester; a hung replica reaches it within its deadline. */
export const DEFAULT_MAX_INFLIGHT_PER_INGESTER = 256;

export interface ExportResult {
  acceptedSpans: number;
  rejectedSpans: number;
  errorMessage: string;
}

export class Distributor {
  readonly metrics: DistributorMetrics;
  private readonly limiter = new TenantRateLimiter();
  private readonly decoder: ExportDecoderPool;
  private readonly replicas: ReplicatedPusher;

  constructor(private readonly deps: DistributorDeps) {
    this.metrics = createDistributorMetrics(deps.registry);
    this.decoder = deps.decoder ?? new ExportDecoderPool(0);
    const m = this.metrics;
    this.replicas = new ReplicatedPusher({
      ring: deps.ring,
      ingester: deps.ingester,
      metrics: { appends: m.ingesterAppends, appendFailures: m.ingesterAppendFailures, background: m.backgroundPushes, retries: m.replicaRetries },
      logger: deps.logger,
      maxInflightPerIngester: deps.maxInflightPerIngester ?? DEFAULT_MAX_INFLIGHT_PER_INGESTER,
    });
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

  private pushToIngesters(tenantId: string, segments: readonly TraceSegment[]): Promise<PushResult> {
    return this.replicas.push(tenantId, segments);
  }
}
