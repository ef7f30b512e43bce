import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@andante/model';
import { decodeExportRequest } from './otlp-decode.js';
import { encodeTraceSegment } from './otlp-segment.js';
import { decodeTrace, encodeTrace } from '@andante/model';
import { emptySpan, oracleDecode, randomTrace, richTrace, rng } from '@andante/model/testing';
import type { InstrumentationScope, Resource, Span, Trace } from '@andante/model';

const res = (name: string): Resource => ({ attributes: [{ key: 'service.name', value: { stringValue: name } }], droppedAttributesCount: 0 });
const scope = (name: string): InstrumentationScope => ({ name, version: '', attributes: [], droppedAttributesCount: 0 });
const span = (id: number, traceByte = 1): Span =>
  emptySpan({ traceId: new Uint8Array(16).fill(traceByte), spanId: new Uint8Array(8).fill(id), name: `span-${id}` });

/** Two resources; the first has two scopes. Spans 1..5 in buffer order. */
function sample(): Trace {
  return {
    resourceSpans: [
      {
        resource: res('a'),
        scopeSpans: [
          { scope: scope('s1'), spans: [span(1), span(2, 2)], schemaUrl: 'https://scope/1' },
          { scope: scope('s2'), spans: [span(3)], schemaUrl: '' },
        ],
        schemaUrl: 'https://res/a',
      },
      { resource: res('b'), scopeSpans: [{ scope: scope('s3'), spans: [span(4, 2), span(5)], schemaUrl: '' }], schemaUrl: '' },
    ],
  };
}

/** The trace restricted to the spans whose names are listed, keeping grouping and order. */
function only(t: Trace, names: string[]): Trace {
  return {
    resourceSpans: t.resourceSpans
      .map((rs) => ({
        ...rs,
        scopeSpans: rs.scopeSpans
          .map((ss) => ({ ...ss, spans: ss.spans.filter((s) => names.includes(s.name)) }))
          .filter((ss) => ss.spans.length > 0),
      }))
      .filter((rs) => rs.scopeSpans.length > 0),
  };
}

describe('encodeTraceSegment', () => {
  it('holds exactly the chosen spans under their resource and scope', () => {
    const t = sample();
    const batch = decodeExportRequest(encodeTrace(t));
    const seg = encodeTraceSegment(batch, [0, 2, 4]);
    const expected = only(t, ['span-1', 'span-3', 'span-5']);
    expect(decodeTrace(seg)).toEqual(expected);
    expect(oracleDecode(seg)).toEqual(expected);
  });

  it('reproduces the whole request when given every span', () => {
    const t = richTrace();
    t.resourceSpans.pop(); // a resource without spans cannot appear in a segment
    t.resourceSpans[0]!.scopeSpans.pop();
    const bytes = encodeTrace(t);
    const batch = decodeExportRequest(bytes);
    const seg = encodeTraceSegment(batch, batch.spans.map((_, i) => i));
    expect(Buffer.from(seg).equals(Buffer.from(bytes))).toBe(true);
  });

  it('copies the raw span bytes, including fields it does not know', () => {
    const t = sample();
    const bytes = encodeTrace(t);
    const batch = decodeExportRequest(bytes);
    const seg = encodeTraceSegment(batch, [1]);
    const ref = batch.spans[1]!;
    expect(Buffer.from(seg).includes(Buffer.from(bytes.subarray(ref.start, ref.end)))).toBe(true);
  });

  it('groups spans given out of order, keeping their order inside each scope', () => {
    const t = sample();
    const batch = decodeExportRequest(encodeTrace(t));
    const seg = decodeTrace(encodeTraceSegment(batch, [4, 0, 3, 2, 1]));
    expect(seg.resourceSpans.map((rs) => rs.scopeSpans.map((ss) => ss.spans.map((s) => s.name)))).toEqual([
      [['span-5', 'span-4']],
      [['span-1', 'span-2'], ['span-3']],
    ]);
    expect(seg.resourceSpans[1]!.schemaUrl).toBe('https://res/a');
    expect(seg.resourceSpans[1]!.scopeSpans[0]!.schemaUrl).toBe('https://scope/1');
  });

  it('keeps an absent resource absent and an empty one present', () => {
    // ResourceSpans without a resource field: 0a LEN { 12 LEN { 12 LEN span } }
    const spanBytes = encodeTrace({
      resourceSpans: [{ resource: res('x'), scopeSpans: [{ scope: scope(''), spans: [span(9)], schemaUrl: '' }], schemaUrl: '' }],
    });
    const ref = decodeExportRequest(spanBytes).spans[0]!;
    const rawSpan = spanBytes.subarray(ref.start, ref.end);
    const ss = Uint8Array.from([0x12, rawSpan.length, ...rawSpan]);
    const rs = Uint8Array.from([0x12, ss.length, ...ss]);
    const noResource = Uint8Array.from([0x0a, rs.length, ...rs]);
    const seg = encodeTraceSegment(decodeExportRequest(noResource), [0]);
    expect(Buffer.from(seg).equals(Buffer.from(noResource))).toBe(true);

    const withEmpty = Uint8Array.from([0x0a, rs.length + 2, 0x0a, 0x00, ...rs]);
    const seg2 = encodeTraceSegment(decodeExportRequest(withEmpty), [0]);
    expect(Buffer.from(seg2).equals(Buffer.from(withEmpty))).toBe(true);
  });

  it('concatenates: two segments of one trace form a Trace holding both', () => {
    const r = rng(99);
    for (let i = 0; i < 100; i++) {
      const t = randomTrace(r);
      const batch = decodeExportRequest(encodeTrace(t));
      const n = batch.spans.length;
      const a: number[] = [];
      const b: number[] = [];
      for (let k = 0; k < n; k++) (r() < 0.5 ? a : b).push(k);
      const joined = Buffer.concat([encodeTraceSegment(batch, a), encodeTraceSegment(batch, b)]);
      const decoded = decodeTrace(joined);
      const spans = decoded.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
      const all = t.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
      expect(spans).toEqual([...a, ...b].map((k) => all[k]));
      // And the hot decoder reads the concatenation back as one batch.
      expect(decodeExportRequest(joined).spans.length).toBe(n);
    }
  });

  it('returns no bytes for no spans and rejects bad indexes', () => {
    const batch = decodeExportRequest(encodeTrace(sample()));
    expect(encodeTraceSegment(batch, []).length).toBe(0);
    expect(() => encodeTraceSegment(batch, [5])).toThrow(InvalidArgumentError);
    expect(() => encodeTraceSegment(batch, [-1])).toThrow(InvalidArgumentError);
    expect(() => encodeTraceSegment(batch, [0.5])).toThrow(InvalidArgumentError);
  });

  it('handles spans larger than 127 bytes (multi-byte length prefixes)', () => {
    const big = emptySpan({ name: 'x'.repeat(20_000), attributes: [{ key: 'k', value: { stringValue: 'v'.repeat(300) } }] });
    const t: Trace = {
      resourceSpans: [{ resource: res('big'), scopeSpans: [{ scope: scope('s'), spans: [big, span(2)], schemaUrl: '' }], schemaUrl: '' }],
    };
    const batch = decodeExportRequest(encodeTrace(t));
    expect(decodeTrace(encodeTraceSegment(batch, [0]))).toEqual(only(t, [big.name]));
  });
});
