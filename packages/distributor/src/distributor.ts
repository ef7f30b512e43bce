// The write path's front door: validate, limit, group spans by trace, and push each trace to the
// ingesters that own it on the ring. Every accepted span is durable before push() resolves.

import {
  AndanteError,
  InvalidArgumentError,
  LimitExceededError,
  UnavailableError,
  bytesToHex,
  decodeExportRequest,
  encodeTraceSegment,
  bytesEqual,
  isAllZero,
  tokenForTraceId,
  type DecodedBatch,
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

/**
 * Receives every accepted span batch after it is durable; the metrics-generator taps the stream
 * here (in-process in `all`, over gRPC in distributed mode).
 */
export interface SpanStreamTap {
  onSpans(tenantId: string, batch: DecodedBatch, acceptedSpans: readonly number[]): void;
}

export interface DistributorDeps {
  ring: () => RingSnapshot;
  ingester: (instance: InstanceDesc) => IngesterPusher;
  limits: LimitsProvider;
  registry: Registry;
  logger: Logger;
  tap?: SpanStreamTap;
}

export interface ExportResult {
  acceptedSpans: number;
  rejectedSpans: number;
  errorMessage: string;
}

type InvalidReason = 'invalid_trace_id' | 'invalid_span_id' | 'invalid_timestamps';

export class Distributor {
  readonly metrics: DistributorMetrics;
  private readonly limiter = new TenantRateLimiter();

  constructor(private readonly deps: DistributorDeps) {
    this.metrics = createDistributorMetrics(deps.registry);
  }

  /**
   * Accepts one OTLP ExportTraceServiceRequest (protobuf). Whole-request refusals throw an
   * AndanteError (bad protobuf, rate limit); per-span and per-trace refusals come back as a
   * partial success.
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
    const batch = decodeExportRequest(body);
    const spanTotal = batch.spans.length;
    this.metrics.spansReceived.inc({ tenant: tenantId }, spanTotal);
    this.metrics.bytesReceived.inc({ tenant: tenantId }, body.byteLength);
    if (spanTotal === 0) return { acceptedSpans: 0, rejectedSpans: 0, errorMessage: '' };

    const limits = this.deps.limits.forTenant(tenantId);
    try {
      this.limiter.take(tenantId, body.byteLength, limits.ingestionRateLimitBytes, limits.ingestionBurstSizeBytes);
    } catch (err) {
      this.discard(tenantId, 'rate_limited', spanTotal);
      throw err;
    }

    const { byTrace, invalid } = groupValidSpans(batch);
    let rejectedSpans = 0;
    const messages = new Set<string>();
    for (const [reason, { count, example }] of invalid) {
      this.discard(tenantId, reason, count);
      rejectedSpans += count;
      messages.add(example);
    }
    if (byTrace.size === 0) throw new InvalidArgumentError([...messages].join('; '));

    let result: PushResult;
    try {
      result = await this.pushToIngesters(tenantId, batch, byTrace);
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
      const accepted: number[] = [];
      for (const [key, idxs] of byTrace) if (!refusedTraces.has(key)) accepted.push(...idxs);
      this.deps.tap.onSpans(tenantId, batch, accepted);
    }
    return { acceptedSpans: spanTotal - rejectedSpans, rejectedSpans, errorMessage: [...messages].join('; ') };
  }

  private discard(tenantId: string, reason: string, spans: number): void {
    this.metrics.discardedSpans.inc({ reason, tenant: tenantId }, spans);
  }

  private async pushToIngesters(tenantId: string, batch: DecodedBatch, byTrace: Map<string, number[]>): Promise<PushResult> {
    const ring = this.deps.ring();
    const perInstance = new Map<string, { instance: InstanceDesc; segments: TraceSegment[] }>();
    const needed = new Map<string, number>();
    for (const [key, idxs] of byTrace) {
      const segment = buildSegment(batch, idxs);
      let set;
      try {
        set = ring.replicationSetFor(tokenForTraceId(segment.traceId));
      } catch (err) {
        throw new UnavailableError((err as Error).message);
      }
      needed.set(key, set.minSuccess);
      for (const instance of set.instances) {
        let target = perInstance.get(instance.id);
        if (!target) perInstance.set(instance.id, (target = { instance, segments: [] }));
        target.segments.push(segment);
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
        for (const seg of targets[i]!.segments) {
          const key = bytesToHex(seg.traceId);
          needed.set(key, needed.get(key)! - 1);
        }
      } else {
        firstError ??= s.reason;
        // A limit refusal is counted in tempo_discarded_spans_total; under overload a line per
        // refused request would flood the log.
        if (!(s.reason instanceof LimitExceededError)) {
          this.deps.logger.warn('push to ingester failed', { ingester: targets[i]!.instance.id, err: s.reason });
        }
      }
    });
    for (const remaining of needed.values()) {
      if (remaining > 0) {
        if (firstError instanceof AndanteError) throw firstError;
        throw new UnavailableError(`could not write to enough ingesters: ${(firstError as Error)?.message ?? 'unknown error'}`);
      }
    }
    return { rejected };
  }
}

function buildSegment(batch: DecodedBatch, idxs: number[]): TraceSegment {
  let start = batch.spans[idxs[0]!]!.startTimeUnixNano;
  let end = batch.spans[idxs[0]!]!.endTimeUnixNano;
  for (const i of idxs) {
    const s = batch.spans[i]!;
    if (s.startTimeUnixNano < start) start = s.startTimeUnixNano;
    if (s.endTimeUnixNano > end) end = s.endTimeUnixNano;
  }
  return {
    traceId: batch.spans[idxs[0]!]!.traceId,
    bytes: encodeTraceSegment(batch, idxs),
    spanCount: idxs.length,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
  };
}

/** Splits a batch's valid spans by trace ID and counts invalid ones by reason. */
function groupValidSpans(batch: DecodedBatch): {
  byTrace: Map<string, number[]>;
  invalid: Map<InvalidReason, { count: number; example: string }>;
} {
  const byTrace = new Map<string, number[]>();
  const invalid = new Map<InvalidReason, { count: number; example: string }>();
  const refuse = (reason: InvalidReason, message: string): void => {
    const cur = invalid.get(reason);
    if (cur) cur.count++;
    else invalid.set(reason, { count: 1, example: message });
  };
  // Exporters send a trace's spans together: the previous span's trace is looked up once, not per span.
  let lastId: Uint8Array | null = null;
  let lastList: number[] | null = null;
  batch.spans.forEach((span, i) => {
    if (span.traceId.length !== 16 || isAllZero(span.traceId)) {
      refuse('invalid_trace_id', `trace ids must be 128 bit and not all zero, received ${span.traceId.length * 8} bits (${bytesToHex(span.traceId) || 'empty'})`);
    } else if (span.spanId.length !== 8 || isAllZero(span.spanId)) {
      refuse('invalid_span_id', `span ids must be 64 bit and not all zero, received ${span.spanId.length * 8} bits (${bytesToHex(span.spanId) || 'empty'})`);
    } else if (span.endTimeUnixNano < span.startTimeUnixNano) {
      refuse('invalid_timestamps', `span ${bytesToHex(span.spanId)} ends (${span.endTimeUnixNano}) before it starts (${span.startTimeUnixNano})`);
    } else if (lastList !== null && bytesEqual(span.traceId, lastId!)) {
      lastList.push(i);
    } else {
      const key = bytesToHex(span.traceId);
      let list = byTrace.get(key);
      if (list) list.push(i);
      else byTrace.set(key, (list = [i]));
      lastId = span.traceId;
      lastList = list;
    }
  });
  return { byTrace, invalid };
}
