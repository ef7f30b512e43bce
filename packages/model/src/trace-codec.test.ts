import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from './errors.js';
import { StringTable, TraceDecodeCache, decodeTrace, encodeTrace } from './trace-codec.js';
import { emptySpan, oracleDecode, oracleEncode, randomTrace, richTrace, rng, TracesDataType } from './test-fixtures.js';
import type { Trace } from './trace.js';

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('encodeTrace / decodeTrace', () => {
  it('round-trips every field exactly', () => {
    const t = richTrace();
    expect(decodeTrace(encodeTrace(t))).toEqual(t);
  });

  it('agrees with an independent reflection encoder in both directions', () => {
    const t = richTrace();
    expect(decodeTrace(oracleEncode(t))).toEqual(t);
    expect(oracleDecode(encodeTrace(t))).toEqual(t);
  });

  it('round-trips random traces and matches the oracle', () => {
    const r = rng(42);
    for (let i = 0; i < 300; i++) {
      const t = randomTrace(r);
      const bytes = encodeTrace(t);
      expect(decodeTrace(bytes)).toEqual(t);
      expect(oracleDecode(bytes)).toEqual(t);
      expect(decodeTrace(oracleEncode(t))).toEqual(t);
    }
  });

  it('keeps nanosecond timestamps above 2^53 exact', () => {
    const t: Trace = {
      resourceSpans: [
        {
          resource: { attributes: [], droppedAttributesCount: 0 },
          scopeSpans: [
            {
              scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
              spans: [emptySpan({ startTimeUnixNano: 1_700_000_000_000_000_001n, endTimeUnixNano: 9_007_199_254_740_993n })],
              schemaUrl: '',
            },
          ],
          schemaUrl: '',
        },
      ],
    };
    const span = decodeTrace(encodeTrace(t)).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(span.startTimeUnixNano).toBe(1_700_000_000_000_000_001n);
    expect(span.endTimeUnixNano).toBe(9_007_199_254_740_993n);
  });

  it('writes the wire layout of the proto (field numbers, wire types)', () => {
    const t: Trace = {
      resourceSpans: [
        {
          resource: { attributes: [], droppedAttributesCount: 0 },
          scopeSpans: [
            {
              scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
              spans: [
                emptySpan({
                  traceId: new Uint8Array([1]),
                  spanId: new Uint8Array([2]),
                  kind: 2,
                  startTimeUnixNano: 1n,
                  flags: 1,
                  status: { message: '', code: 2 },
                }),
              ],
              schemaUrl: '',
            },
          ],
          schemaUrl: '',
        },
      ],
    };
    // Span: 0a01 01 (trace_id) 1201 02 (span_id) 3002 (kind) 39 0100000000000000 (start fixed64)
    //       7a02 1802 (status.code) 8501 01000000 (flags, field 16 fixed32)
    const span = '0a0101' + '120102' + '3002' + '390100000000000000' + '7a021802' + '850101000000';
    const spanLen = (span.length / 2).toString(16).padStart(2, '0');
    const scopeSpans = '0a00' + '12' + spanLen + span;
    const ssLen = (scopeSpans.length / 2).toString(16).padStart(2, '0');
    const rs = '0a00' + '12' + ssLen + scopeSpans;
    const rsLen = (rs.length / 2).toString(16).padStart(2, '0');
    expect(hex(encodeTrace(t))).toBe('0a' + rsLen + rs);
  });

  it('encodes an empty trace as no bytes and decodes no bytes as an empty trace', () => {
    expect(encodeTrace({ resourceSpans: [] }).length).toBe(0);
    expect(decodeTrace(new Uint8Array(0))).toEqual({ resourceSpans: [] });
  });

  it('fills defaults for absent resource, scope, status and AnyValue', () => {
    // ResourceSpans{ scope_spans{ spans{ key-value without value } } }
    const bytes = TracesDataType.encode(
      TracesDataType.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: [{ attributes: [{ key: 'k' }] }] }] }] }),
    ).finish();
    const t = decodeTrace(bytes);
    expect(t.resourceSpans[0]!.resource).toEqual({ attributes: [], droppedAttributesCount: 0 });
    expect(t.resourceSpans[0]!.scopeSpans[0]!.scope).toEqual({ name: '', version: '', attributes: [], droppedAttributesCount: 0 });
    const span = t.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(span.status).toEqual({ message: '', code: 0 });
    expect(span.attributes).toEqual([{ key: 'k', value: {} }]);
  });

  it('skips unknown fields of every wire type, including groups', () => {
    // Top-level unknown fields: 2 varint, 3 fixed64, 4 bytes, 5 fixed32, 6 group containing a varint.
    const unknown = Buffer.from('109601' + '190102030405060708' + '2203616263' + '2d01020304' + '33' + '0801' + '34', 'hex');
    const known = encodeTrace(richTrace());
    const t = decodeTrace(Buffer.concat([unknown, known, unknown]));
    expect(t).toEqual(richTrace());
  });

  it('accepts a Buffer and a subarray with an offset', () => {
    const bytes = encodeTrace(richTrace());
    const padded = new Uint8Array(bytes.length + 10);
    padded.set(bytes, 5);
    expect(decodeTrace(padded.subarray(5, 5 + bytes.length))).toEqual(richTrace());
    expect(decodeTrace(Buffer.from(bytes))).toEqual(richTrace());
  });

  it('copies ID bytes so the result does not alias the input buffer', () => {
    const bytes = encodeTrace(richTrace());
    const t = decodeTrace(bytes);
    bytes.fill(0);
    expect(t).toEqual(richTrace());
  });

  it('rejects malformed input with InvalidArgumentError', () => {
    const cases: [string, string][] = [
      ['0a05', 'length past the end'],
      ['0a', 'truncated length'],
      ['08', 'truncated varint'],
      ['0a0208', 'nested truncated varint'],
      ['09', 'wrong wire type for resource_spans'],
      ['0f', 'invalid wire type 7'],
      ['00', 'field number 0'],
      ['0a020801', 'ResourceSpans.resource as a varint'],
      ['0a0412023a01', 'Span with a truncated fixed64 tag (field 7 wire type 2 is wrong)'],
      ['0a08120612043901', 'truncated fixed64 start time'],
      ['1b', 'group with no end'],
      ['1b24', 'mismatched end group'],
      ['0affffffff0f', 'huge length'],
    ];
    for (const [h, why] of cases) {
      expect(() => decodeTrace(Buffer.from(h, 'hex')), why).toThrow(InvalidArgumentError);
    }
  });

  it('rejects AnyValue nesting deeper than the limit without overflowing the stack', () => {
    let v = Buffer.alloc(0);
    for (let i = 0; i < 5000; i++) {
      const arr = Buffer.concat([Buffer.from([0x0a]), varint(v.length), v]); // ArrayValue{values: v}
      v = Buffer.concat([Buffer.from([0x2a]), varint(arr.length), arr]); // AnyValue{array_value}
    }
    const kv = Buffer.concat([Buffer.from([0x12]), varint(v.length), v]);
    const span = Buffer.concat([Buffer.from([0x4a]), varint(kv.length), kv]);
    const ss = Buffer.concat([Buffer.from([0x12]), varint(span.length), span]);
    const rs = Buffer.concat([Buffer.from([0x12]), varint(ss.length), ss]);
    const trace = Buffer.concat([Buffer.from([0x0a]), varint(rs.length), rs]);
    expect(() => decodeTrace(trace)).toThrow(/nested more than 100 deep/);
  });
});

describe('decodeTrace with a TraceDecodeCache', () => {
  it('decodes the same traces as without one, sharing resources and scopes with equal bytes', () => {
    const r = rng(7);
    const traces = [richTrace(), richTrace(), ...Array.from({ length: 40 }, () => randomTrace(r))];
    const cache = new TraceDecodeCache();
    const cached = traces.map((t) => decodeTrace(encodeTrace(t), cache));
    expect(cached).toEqual(traces.map((t) => decodeTrace(encodeTrace(t))));
    // richTrace twice: every resource and scope of the second is the first's object.
    cached[1]!.resourceSpans.forEach((rs, i) => {
      expect(rs.resource).toBe(cached[0]!.resourceSpans[i]!.resource);
      rs.scopeSpans.forEach((ss, j) => expect(ss.scope).toBe(cached[0]!.resourceSpans[i]!.scopeSpans[j]!.scope));
    });
  });

  it('shares one copy of a trace ID and of a parent span ID repeated by consecutive spans', () => {
    const t = richTrace();
    const spans = (tr: Trace) => tr.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    const parent = new Uint8Array(8).fill(7);
    const traceId = new Uint8Array(16).fill(9);
    const input: Trace = { resourceSpans: [{ ...t.resourceSpans[0]!, scopeSpans: [{ ...t.resourceSpans[0]!.scopeSpans[0]!, spans: [1, 2, 3].map((i) => emptySpan({ traceId, parentSpanId: parent, spanId: new Uint8Array(8).fill(i) })) }] }] };
    const bytes = encodeTrace(input);
    const cached = spans(decodeTrace(bytes, new TraceDecodeCache()));
    expect(cached.map((s) => hex(s.traceId))).toEqual(Array(3).fill(hex(traceId)));
    expect(cached[1]!.traceId).toBe(cached[0]!.traceId);
    expect(cached[2]!.parentSpanId).toBe(cached[0]!.parentSpanId);
    expect(cached[1]!.spanId).not.toBe(cached[0]!.spanId);
    // Not aliasing the input, and without a cache every span has its own copies.
    expect(cached[0]!.traceId.buffer).not.toBe(bytes.buffer);
    const plain = spans(decodeTrace(bytes));
    expect(plain[1]!.traceId).not.toBe(plain[0]!.traceId);
  });

  it('merges a repeated resource field into a copy, never into the shared object', () => {
    const msg = (field: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([field]), varint(body.length), body]);
    const attr = (k: string, v: string): Buffer => msg(0x0a, Buffer.concat([msg(0x0a, Buffer.from(k)), msg(0x12, msg(0x0a, Buffer.from(v)))]));
    const first = attr('service.name', 'a');
    const once = msg(0x0a, msg(0x0a, first));
    const twice = msg(0x0a, Buffer.concat([msg(0x0a, first), msg(0x0a, attr('pod', 'p1'))]));
    const cache = new TraceDecodeCache();
    const shared = decodeTrace(once, cache).resourceSpans[0]!.resource;
    const merged = decodeTrace(twice, cache).resourceSpans[0]!.resource;
    expect(merged.attributes.map((kv) => kv.key)).toEqual(['service.name', 'pod']);
    expect(shared.attributes.map((kv) => kv.key)).toEqual(['service.name']);
    expect(decodeTrace(once, cache).resourceSpans[0]!.resource).toBe(shared);
  });
});

describe('StringTable', () => {
  const decodeAll = (table: StringTable, values: Buffer[]): string[] => values.map((b) => table.decode(b, 0, b.length));

  it('decodes exactly as the UTF-8 decoder, for every kind of string', () => {
    const values = [
      Buffer.from('GET'),
      Buffer.from('héllo wörld'),
      Buffer.from('日本語のスパン名'),
      Buffer.from([0x61, 0xff, 0x62]), // invalid UTF-8: a replacement character, as toString gives
      Buffer.from([0xf0, 0x9f, 0x98]), // a truncated sequence
      Buffer.from('x'.repeat(64)),
      Buffer.from('y'.repeat(65)), // longer than what is shared
      Buffer.from([0x00, 0x7f, 0x41]),
    ];
    const table = new StringTable();
    for (let round = 0; round < 2; round++) expect(decodeAll(table, values)).toEqual(values.map((b) => b.toString('utf8')));
  });

  it('returns the same string object for the same short ASCII bytes, wherever they are', () => {
    const table = new StringTable();
    const buf = Buffer.from('..http.method..http.method');
    const a = table.decode(buf, 2, 13);
    expect(a).toBe('http.method');
    expect(table.decode(buf, 15, 26)).toBe(a);
    // Same hash slot, different text: never confused.
    expect(table.decode(Buffer.from('http.methoe'), 0, 11)).toBe('http.methoe');
  });

  it('stays exact when slots are overwritten (a table of two slots)', () => {
    const table = new StringTable(1);
    const r = rng(11);
    const words = Array.from({ length: 50 }, (_, i) => Buffer.from(`w${i}-${Math.floor(r() * 1000)}`));
    const picks = Array.from({ length: 2000 }, () => words[Math.floor(r() * words.length)]!);
    expect(decodeAll(table, picks)).toEqual(picks.map((b) => b.toString('utf8')));
  });

  it('leaves decodeTrace without a cache unaffected by one used before', () => {
    const t = richTrace();
    const bytes = encodeTrace(t);
    decodeTrace(bytes, new TraceDecodeCache());
    expect(decodeTrace(bytes)).toEqual(decodeTrace(bytes, new TraceDecodeCache()));
  });
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
