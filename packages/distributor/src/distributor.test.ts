import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import {
  InvalidArgumentError,
  LimitExceededError,
  bytesToHex,
  decodeTrace,
  defaultTenantLimits,
  encodeTrace,
  silentLogger,
  staticLimits,
  type IngesterPusher,
  type PushRequest,
  type Span,
  type TenantLimits,
  type Trace,
} from '@andante/model';
import { RingSnapshot, type InstanceDesc } from '@andante/ring';
import { Distributor } from './distributor.js';

function id(len: number, last: number, first = 1): Uint8Array {
  const b = new Uint8Array(len);
  if (len > 0) {
    b[0] = first;
    b[len - 1] = last;
  }
  return b;
}

function span(traceId: Uint8Array, spanId: Uint8Array, start = 10n, end = 20n): Span {
  return {
    traceId, spanId, traceState: '', parentSpanId: new Uint8Array(0), flags: 0, name: 'op', kind: 1,
    startTimeUnixNano: start, endTimeUnixNano: end, attributes: [], droppedAttributesCount: 0,
    events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' },
  };
}

function request(spans: Span[]): Uint8Array {
  const trace: Trace = {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 'lib', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
      schemaUrl: '',
    }],
  };
  return encodeTrace(trace);
}

class RecordingIngester implements IngesterPusher {
  readonly pushes: PushRequest[] = [];
  async push(req: PushRequest) {
    this.pushes.push(req);
    return { rejected: [] };
  }
}

function setup(limits: Partial<TenantLimits> = {}) {
  const now = Date.now();
  const instances: InstanceDesc[] = [
    { id: 'a', address: 'a', state: 'ACTIVE', tokens: [0x40000000, 0xc0000000], heartbeatMs: now, registeredMs: now, zone: '' },
    { id: 'b', address: 'b', state: 'ACTIVE', tokens: [0x80000000, 0xffffffff], heartbeatMs: now, registeredMs: now, zone: '' },
  ];
  const ingesters = new Map(instances.map((i) => [i.id, new RecordingIngester()]));
  const registry = new Registry();
  const distributor = new Distributor({
    ring: () => new RingSnapshot(instances, { replicationFactor: 1, heartbeatTimeoutMs: 60_000 }),
    ingester: (inst) => ingesters.get(inst.id)!,
    limits: staticLimits({ ...defaultTenantLimits(), ...limits }),
    registry,
    logger: silentLogger,
  });
  return { distributor, ingesters, registry };
}

describe('Distributor', () => {
  it('groups spans by trace and sends each trace to exactly one ingester', async () => {
    const { distributor, ingesters } = setup();
    const spans = [];
    for (let t = 1; t <= 20; t++) for (let s = 1; s <= 3; s++) spans.push(span(id(16, t, t * 13), id(8, s, t)));
    const result = await distributor.pushOtlp('tenant', request(spans));
    expect(result).toEqual({ acceptedSpans: 60, rejectedSpans: 0, errorMessage: '' });
    const segments = [...ingesters.values()].flatMap((i) => i.pushes.flatMap((p) => p.segments));
    expect(segments).toHaveLength(20);
    expect(new Set(segments.map((s) => bytesToHex(s.traceId))).size).toBe(20);
    for (const seg of segments) {
      const trace = decodeTrace(seg.bytes);
      const got = trace.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
      expect(got).toHaveLength(3);
      expect(got.every((s) => bytesToHex(s.traceId) === bytesToHex(seg.traceId))).toBe(true);
      expect(trace.resourceSpans[0]!.resource.attributes[0]!.key).toBe('service.name');
    }
    // Both ingesters got work: the ring spreads traces.
    expect([...ingesters.values()].every((i) => i.pushes.length === 1)).toBe(true);
  });

  it('drops invalid spans with a partial success, and refuses a request with none valid', async () => {
    const { distributor, registry } = setup();
    const good = span(id(16, 1), id(8, 1));
    const zeroTrace = span(new Uint8Array(16), id(8, 2));
    const shortSpanId = span(id(16, 1), id(4, 3));
    const backwards = span(id(16, 1), id(8, 4), 50n, 10n);
    const result = await distributor.pushOtlp('tenant', request([good, zeroTrace, shortSpanId, backwards]));
    expect(result.acceptedSpans).toBe(1);
    expect(result.rejectedSpans).toBe(3);
    expect(result.errorMessage).toContain('trace ids must be 128 bit');
    await expect(distributor.pushOtlp('tenant', request([zeroTrace]))).rejects.toBeInstanceOf(InvalidArgumentError);
    const text = await registry.metrics();
    expect(text).toContain('tempo_discarded_spans_total{reason="invalid_trace_id",tenant="tenant"} 2');
    expect(text).toContain('tempo_discarded_spans_total{reason="invalid_span_id",tenant="tenant"} 1');
  });

  it('rate-limits per tenant with a 429-class error that names the limit', async () => {
    const body = request([span(id(16, 1), id(8, 1))]);
    // The burst holds one request, and the refill (1 byte/s) cannot cover a second.
    const { distributor, registry } = setup({ ingestionRateLimitBytes: 1, ingestionBurstSizeBytes: body.length + 1 });
    await distributor.pushOtlp('tenant', body);
    const err = await distributor.pushOtlp('tenant', body).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LimitExceededError);
    expect((err as LimitExceededError).httpStatus).toBe(429);
    expect((err as LimitExceededError).message).toContain('RATE_LIMITED');
    expect((err as LimitExceededError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(await registry.metrics()).toContain('tempo_discarded_spans_total{reason="rate_limited",tenant="tenant"} 1');
    // Another tenant has its own bucket.
    await expect(distributor.pushOtlp('other', body)).resolves.toMatchObject({ acceptedSpans: 1 });
  });

  it('passes on an ingester refusal for max_unflushed_bytes as a 429, counting every valid span discarded', async () => {
    const { distributor, ingesters, registry } = setup();
    const refusal = new LimitExceededError('UNFLUSHED_BYTES_EXCEEDED', 'unflushed_bytes_exceeded', 'ingester.max_unflushed_bytes reached', 2);
    for (const ing of ingesters.values()) ing.push = () => Promise.reject(refusal);
    const spans = [span(id(16, 1), id(8, 1)), span(id(16, 2), id(8, 2)), span(id(16, 0, 0), id(8, 3))]; // the last: invalid trace ID
    const err = await distributor.pushOtlp('tenant', request(spans)).catch((e: unknown) => e);
    expect(err).toBe(refusal);
    expect((err as LimitExceededError).httpStatus).toBe(429);
    expect((err as LimitExceededError).grpcCode).toBe(8); // RESOURCE_EXHAUSTED
    const text = await registry.metrics();
    expect(text).toContain('tempo_discarded_spans_total{reason="unflushed_bytes_exceeded",tenant="tenant"} 2');
    expect(text).toContain('tempo_discarded_spans_total{reason="invalid_trace_id",tenant="tenant"} 1');
  });

  it('refuses malformed protobuf as invalid argument', async () => {
    const { distributor } = setup();
    await expect(distributor.pushOtlp('tenant', Uint8Array.from([0x0a, 0xff, 0x01, 0x02]))).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
