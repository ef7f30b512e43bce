import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@andante/model';
import { decodeExportRequest, type DecodedBatch } from './otlp-decode.js';
import { encodeTraceSegment } from './otlp-segment.js';
import { decodeTrace, encodeTrace } from '@andante/model';
import {
  ResourceType,
  ScopeType,
  oracleDecodeSpan,
  oracleEncode,
  randomTrace,
  richTrace,
  rng,
} from '@andante/model/testing';
import type { Trace } from '@andante/model';

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** A length-delimited field. */
function ld(field: number, content: Uint8Array | number[]): Uint8Array {
  const c = Array.from(content);
  return Uint8Array.from([...varint((field << 3) | 2), ...varint(c.length), ...c]);
}

function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => Array.from(p)));
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Checks every ref of a batch against the trace it was encoded from. */
function expectBatchMatches(batch: DecodedBatch, t: Trace): void {
  const buf = batch.buffer;
  let scopeIndex = 0;
  let spanIndex = 0;
  expect(batch.resources.length).toBe(t.resourceSpans.length);
  t.resourceSpans.forEach((rs, ri) => {
    const res = batch.resources[ri]!;
    expect(res.start).toBeGreaterThanOrEqual(0); // our encoders always write the resource
    const decodedRes = ResourceType.toObject(ResourceType.decode(buf.subarray(res.start, res.end)), { defaults: true, longs: String });
    expect(decodedRes.attributes.length).toBe(rs.resource.attributes.length);
    expect(decodedRes.droppedAttributesCount).toBe(rs.resource.droppedAttributesCount);
    expect(Buffer.from(res.schemaUrl).toString()).toBe(rs.schemaUrl);
    for (const ss of rs.scopeSpans) {
      const scope = batch.scopes[scopeIndex]!;
      expect(scope.resource).toBe(ri);
      const decodedScope = ScopeType.toObject(ScopeType.decode(buf.subarray(scope.start, scope.end)), { defaults: true });
      expect(decodedScope.name).toBe(ss.scope.name);
      expect(decodedScope.version).toBe(ss.scope.version);
      expect(Buffer.from(scope.schemaUrl).toString()).toBe(ss.schemaUrl);
      for (const span of ss.spans) {
        const ref = batch.spans[spanIndex++]!;
        expect(ref.scope).toBe(scopeIndex);
        expect(oracleDecodeSpan(buf.subarray(ref.start, ref.end))).toEqual(span);
        expect(Array.from(ref.traceId)).toEqual(Array.from(span.traceId));
        expect(Array.from(ref.spanId)).toEqual(Array.from(span.spanId));
        expect(ref.startTimeUnixNano).toBe(span.startTimeUnixNano);
        expect(ref.endTimeUnixNano).toBe(span.endTimeUnixNano);
      }
      scopeIndex++;
    }
  });
  expect(batch.scopes.length).toBe(scopeIndex);
  expect(batch.spans.length).toBe(spanIndex);
}

describe('decodeExportRequest', () => {
  it('records resource, scope and span ranges and the distributor fields (oracle-encoded input)', () => {
    const t = richTrace();
    const bytes = oracleEncode(t);
    const batch = decodeExportRequest(bytes);
    expect(batch.buffer).toBe(bytes);
    expectBatchMatches(batch, t);
  });

  it('matches random traces encoded by the oracle and by encodeTrace', () => {
    const r = rng(7);
    for (let i = 0; i < 200; i++) {
      const t = randomTrace(r);
      expectBatchMatches(decodeExportRequest(oracleEncode(t)), t);
      expectBatchMatches(decodeExportRequest(encodeTrace(t)), t);
    }
  });

  it('gives -1 ranges for absent resource and scope, and views of the buffer for IDs', () => {
    const span = cat(ld(1, [1, 2, 3]), ld(2, [4, 5]));
    const bytes = cat(ld(1, ld(2, ld(2, span))));
    const batch = decodeExportRequest(bytes);
    expect(batch.resources).toEqual([{ start: -1, end: -1, schemaUrl: new Uint8Array(0) }]);
    expect(batch.scopes).toEqual([{ resource: 0, start: -1, end: -1, schemaUrl: new Uint8Array(0) }]);
    const ref = batch.spans[0]!;
    expect(Array.from(ref.traceId)).toEqual([1, 2, 3]); // length is the caller's to validate
    expect(Array.from(ref.spanId)).toEqual([4, 5]);
    expect(ref.traceId.buffer).toBe(bytes.buffer);
    expect(ref.startTimeUnixNano).toBe(0n);
    expect(Array.from(bytes.subarray(ref.start, ref.end))).toEqual(Array.from(span));
  });

  it('distinguishes an empty resource (present) from an absent one', () => {
    const bytes = cat(ld(1, cat(ld(1, []), ld(3, utf8('s')))));
    const batch = decodeExportRequest(bytes);
    expect(batch.resources[0]!.start).toBe(batch.resources[0]!.end);
    expect(batch.resources[0]!.start).toBeGreaterThan(0);
    expect(Buffer.from(batch.resources[0]!.schemaUrl).toString()).toBe('s');
  });

  it('reads schema_url and resource in any field order', () => {
    const res = ld(1, ld(1, cat(ld(1, utf8('service.name')), ld(2, ld(1, utf8('a'))))));
    const bytes = cat(ld(1, cat(ld(3, utf8('url')), ld(2, ld(2, [])), res)));
    const batch = decodeExportRequest(bytes);
    expect(batch.scopes[0]!.resource).toBe(0);
    expect(Buffer.from(batch.resources[0]!.schemaUrl).toString()).toBe('url');
    expect(batch.resources[0]!.end - batch.resources[0]!.start).toBe(res.length - 2);
  });

  it('skips unknown fields at every level', () => {
    const unknown = Uint8Array.from(Buffer.from('f8070a' + 'f1010102030405060708' + 'aa0602ffff' + 'fd0101020304' + 'b307' + '0801' + 'b407', 'hex'));
    // Fields 127 varint, 30 fixed64, 101 bytes, 31 fixed32, 118 group (none known anywhere).
    const kv = cat(ld(1, utf8('k')), unknown, ld(2, cat(unknown, ld(1, utf8('v')))));
    const span = cat(unknown, ld(1, new Uint8Array(16).fill(7)), ld(9, kv), ld(15, cat(unknown, [0x18, 2])), unknown);
    const scope = cat(ld(1, utf8('lib')), unknown);
    const bytes = cat(unknown, ld(1, cat(unknown, ld(1, unknown), ld(2, cat(ld(1, scope), unknown, ld(2, span))))), unknown);
    const batch = decodeExportRequest(bytes);
    expect(batch.spans).toHaveLength(1);
    expect(Array.from(batch.spans[0]!.traceId)).toEqual(new Array(16).fill(7));
    const t = decodeTrace(bytes);
    expect(t.resourceSpans[0]!.scopeSpans[0]!.scope.name).toBe('lib');
    expect(t.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes).toEqual([{ key: 'k', value: { stringValue: 'v' } }]);
    expect(t.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.status.code).toBe(2);
  });

  it('rejects known fields with the wrong wire type, naming the message and field', () => {
    expect(() => decodeExportRequest(Uint8Array.from([0x08, 0x01]))).toThrow(/ExportTraceServiceRequest field 1 .* wire type varint/);
    expect(() => decodeExportRequest(cat(ld(1, ld(2, ld(2, [0x38, 0x01])))))).toThrow(/Span field 7 .* wire type varint/);
    expect(() => decodeExportRequest(cat(ld(1, ld(2, ld(2, ld(15, [0x19, 0, 0, 0, 0, 0, 0, 0, 0]))))))).toThrow(/Status field 3/);
  });

  it('rejects a second resource or scope field (a byte range cannot merge them)', () => {
    expect(() => decodeExportRequest(cat(ld(1, cat(ld(1, []), ld(1, [])))))).toThrow(/more than one resource/);
    expect(() => decodeExportRequest(cat(ld(1, ld(2, cat(ld(1, []), ld(1, []))))))).toThrow(/more than one scope/);
  });

  it('rejects lengths running past their container', () => {
    // The span claims 5 bytes but its ScopeSpans holds only 2.
    const bytes = Uint8Array.from([0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x12, 0x05]);
    expect(() => decodeExportRequest(bytes)).toThrow(/runs past the end/);
  });

  it('rejects AnyValue nesting deeper than 100, like decodeTrace', () => {
    let v: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < 101; i++) v = ld(5, ld(1, v));
    const ok = (depth: number): Uint8Array => {
      let x: Uint8Array = new Uint8Array(0);
      for (let i = 0; i < depth; i++) x = ld(5, ld(1, x));
      return cat(ld(1, ld(2, ld(2, ld(9, ld(2, x))))));
    };
    expect(() => decodeExportRequest(ok(100))).not.toThrow();
    expect(() => decodeTrace(ok(100))).not.toThrow();
    expect(() => decodeExportRequest(ok(101))).toThrow(/nested more than 100 deep/);
    expect(() => decodeTrace(ok(101))).toThrow(/nested more than 100 deep/);
  });
});

describe('decodeExportRequest on malformed input', () => {
  const r = rng(1234);
  const valid = encodeTrace({ resourceSpans: [...richTrace().resourceSpans, ...randomTrace(r, 4).resourceSpans] });

  /** Either InvalidArgumentError, or a batch the full decoder and the segment encoder also accept. */
  function check(bytes: Uint8Array): void {
    let batch: DecodedBatch | undefined;
    let hotError: unknown;
    try {
      batch = decodeExportRequest(bytes);
    } catch (err) {
      hotError = err;
      expect(err).toBeInstanceOf(InvalidArgumentError);
    }
    let fullError: unknown;
    try {
      decodeTrace(bytes);
    } catch (err) {
      fullError = err;
      expect(err).toBeInstanceOf(InvalidArgumentError);
    }
    if (batch) {
      // Everything the ingest path accepts must decode on the read path.
      expect(fullError).toBeUndefined();
      const all = batch.spans.map((_, i) => i);
      const segment = decodeTrace(encodeTraceSegment(batch, all));
      expect(segment.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)).length).toBe(batch.spans.length);
    } else if (!fullError) {
      // The only input the hot path refuses and the full decoder takes: repeated resource/scope fields.
      expect(String(hotError)).toMatch(/more than one (resource|scope) field/);
    }
  }

  it('handles the input truncated at every offset', () => {
    for (let i = 0; i <= valid.length; i++) check(valid.subarray(0, i));
  });

  it('handles random byte flips', () => {
    const started = Date.now();
    for (let i = 0; i < 3000; i++) {
      const bytes = valid.slice();
      const flips = 1 + Math.floor(r() * 3);
      for (let f = 0; f < flips; f++) bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
      check(bytes);
    }
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('handles random buffers and random protobuf-shaped buffers', () => {
    for (let i = 0; i < 3000; i++) {
      const n = Math.floor(r() * 300);
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
      if (i % 2 === 0 && n > 2) {
        // Start like a ResourceSpans so the parser gets past the first tag more often.
        bytes[0] = 0x0a;
        bytes[1] = Math.min(n - 2, 0x7f);
      }
      check(bytes);
    }
  });

  it('never hangs on a huge declared length or a long run of continuation bytes', () => {
    const started = Date.now();
    check(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x07]));
    check(new Uint8Array(100_000).fill(0xff));
    check(new Uint8Array(100_000).fill(0x80));
    check(new Uint8Array(100_000));
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
