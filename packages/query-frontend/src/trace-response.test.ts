import { describe, expect, it } from 'vitest';
import { doubleJson, encodeTrace, jsonString } from '@andante/model';
import { encodeTraceByIdResponse, traceToTempoJson } from './trace-response.js';
import { TraceByIdResponseType, emptySpan, oracleDecode, richTrace } from '@andante/model/testing';
import type { Trace } from '@andante/model';

const traceId = Uint8Array.from({ length: 16 }, (_, i) => i);

function sample(): Trace {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }], droppedAttributesCount: 0 },
        scopeSpans: [
          {
            scope: { name: 'lib', version: '1.0', attributes: [], droppedAttributesCount: 0 },
            spans: [
              emptySpan({
                traceId,
                spanId: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
                name: 'GET /a?b=1&c=<2>',
                kind: 2,
                startTimeUnixNano: 1684778327699392724n,
                endTimeUnixNano: 1684778327799392724n,
                attributes: [
                  { key: 'http.status_code', value: { intValue: 200n } },
                  { key: 'ratio', value: { doubleValue: 0.5 } },
                  { key: 'ok', value: { boolValue: true } },
                  { key: 'empty', value: { stringValue: '' } },
                  { key: 'raw', value: { bytesValue: Uint8Array.from([0xff]) } },
                  { key: 'list', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: -1n }] } } },
                  { key: 'map', value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } } },
                  { key: 'none', value: {} },
                ],
                droppedAttributesCount: 2,
                events: [{ timeUnixNano: 1684778327700000000n, name: 'retry', attributes: [], droppedAttributesCount: 0 }],
                links: [
                  {
                    traceId: new Uint8Array(16).fill(0x11),
                    spanId: new Uint8Array(8).fill(0x22),
                    traceState: '',
                    attributes: [],
                    droppedAttributesCount: 0,
                    flags: 1,
                  },
                ],
                status: { message: 'boom', code: 2 },
              }),
              emptySpan({
                traceId,
                spanId: new Uint8Array(8).fill(2),
                parentSpanId: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
                flags: 256,
                kind: 9,
                startTimeUnixNano: 1684778327699392725n,
              }),
            ],
            schemaUrl: '',
          },
          { scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [emptySpan({ traceId: new Uint8Array(0), spanId: new Uint8Array(0) })], schemaUrl: 'u' },
        ],
        schemaUrl: '',
      },
    ],
  };
}

const RESOURCE_SPANS =
  '[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},"scopeSpans":[' +
  '{"scope":{"name":"lib","version":"1.0"},"spans":[' +
  '{"traceId":"AAECAwQFBgcICQoLDA0ODw==","spanId":"AQIDBAUGBwg=","name":"GET /a?b=1\\u0026c=\\u003c2\\u003e","kind":"SPAN_KIND_SERVER",' +
  '"startTimeUnixNano":"1684778327699392724","endTimeUnixNano":"1684778327799392724","attributes":[' +
  '{"key":"http.status_code","value":{"intValue":"200"}},{"key":"ratio","value":{"doubleValue":0.5}},' +
  '{"key":"ok","value":{"boolValue":true}},{"key":"empty","value":{"stringValue":""}},{"key":"raw","value":{"bytesValue":"/w=="}},' +
  '{"key":"list","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"-1"}]}}},' +
  '{"key":"map","value":{"kvlistValue":{"values":[{"key":"k","value":{"stringValue":"v"}}]}}},{"key":"none","value":{}}],' +
  '"droppedAttributesCount":2,"events":[{"timeUnixNano":"1684778327700000000","name":"retry"}],' +
  '"links":[{"traceId":"EREREREREREREREREREREQ==","spanId":"IiIiIiIiIiI=","flags":1}],' +
  '"status":{"message":"boom","code":"STATUS_CODE_ERROR"}},' +
  '{"traceId":"AAECAwQFBgcICQoLDA0ODw==","spanId":"AgICAgICAgI=","parentSpanId":"AQIDBAUGBwg=","flags":256,"kind":9,' +
  '"startTimeUnixNano":"1684778327699392725","status":{}}]},' +
  '{"scope":{},"spans":[{"status":{}}],"schemaUrl":"u"}]}]';

describe('traceToTempoJson', () => {
  it('v1: {"batches":[...]} in gogo jsonpb style', () => {
    expect(traceToTempoJson(sample(), 'v1')).toBe(`{"batches":${RESOURCE_SPANS}}`);
  });

  it('v2: {"trace":{"resourceSpans":[...]}} with metrics, status and message', () => {
    expect(traceToTempoJson(sample(), 'v2')).toBe(`{"trace":{"resourceSpans":${RESOURCE_SPANS}}}`);
    expect(
      traceToTempoJson(sample(), 'v2', {
        inspectedBytes: 1234n,
        status: 'PARTIAL',
        message: 'Trace exceeds maximum size of 5000000 bytes, a partial trace is returned',
      }),
    ).toBe(
      `{"trace":{"resourceSpans":${RESOURCE_SPANS}},"metrics":{"inspectedBytes":"1234"},"status":"PARTIAL",` +
        '"message":"Trace exceeds maximum size of 5000000 bytes, a partial trace is returned"}',
    );
  });

  it('omits COMPLETE (the zero value), prints set-but-zero metrics as {}, and handles an empty trace', () => {
    const empty: Trace = { resourceSpans: [] };
    expect(traceToTempoJson(empty, 'v1')).toBe('{}');
    expect(traceToTempoJson(empty, 'v2')).toBe('{"trace":{}}');
    expect(traceToTempoJson(empty, 'v2', { status: 'COMPLETE', message: '' })).toBe('{"trace":{}}');
    expect(traceToTempoJson(empty, 'v2', { inspectedBytes: 0n })).toBe('{"trace":{},"metrics":{}}');
  });

  it('always prints resource, scope and status, as Tempo does for traces read from blocks', () => {
    const t: Trace = {
      resourceSpans: [
        {
          resource: { attributes: [], droppedAttributesCount: 0 },
          scopeSpans: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [], schemaUrl: '' }],
          schemaUrl: '',
        },
      ],
    };
    expect(traceToTempoJson(t, 'v1')).toBe('{"batches":[{"resource":{},"scopeSpans":[{"scope":{}}]}]}');
  });

  it('prints all of richTrace as valid JSON', () => {
    const parsed = JSON.parse(traceToTempoJson(richTrace(), 'v2', { inspectedBytes: 5n })) as { trace: { resourceSpans: unknown[] } };
    expect(parsed.trace.resourceSpans).toHaveLength(2);
    const text = traceToTempoJson(richTrace(), 'v1');
    expect(text).toContain('"endTimeUnixNano":"18446744073709551615"');
    expect(text).toContain('{"key":"int.neg","value":{"intValue":"-9223372036854775808"}}');
    expect(text).toContain('{"key":"double.nan","value":{"doubleValue":"NaN"}}');
    expect(text).toContain('{"key":"double.inf","value":{"doubleValue":"-Infinity"}}');
    expect(text).toContain('{"key":"array","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"2"},{"arrayValue":{}},{}]}}}');
    expect(text).toContain('{"key":"bytes.empty","value":{"bytesValue":""}}');
    expect(text).toContain('"flags":769');
    expect(text).toContain('"kind":-1');
  });
});

describe('Go encoding/json compatible scalars', () => {
  it('escapes strings as Go does with HTML escaping on', () => {
    expect(jsonString('plain')).toBe('"plain"');
    expect(jsonString('a<b>&c')).toBe('"a\\u003cb\\u003e\\u0026c"');
    expect(jsonString('q"\\\n\t\u0001\u001f')).toBe('"q\\"\\\\\\n\\t\\u0001\\u001f"');
    expect(jsonString('line\u2028para\u2029')).toBe('"line\\u2028para\\u2029"');
    expect(jsonString('ok 😀 é')).toBe('"ok 😀 é"');
    expect(jsonString('lone \ud800 x')).toBe('"lone \\ufffd x"');
    expect(jsonString('<\ud83d\ude00>')).toBe('"\\u003c😀\\u003e"');
  });

  it('formats doubles as Go does', () => {
    expect(doubleJson(0.5)).toBe('0.5');
    expect(doubleJson(100)).toBe('100');
    expect(doubleJson(1e21)).toBe('1e+21');
    expect(doubleJson(1e20)).toBe('100000000000000000000');
    expect(doubleJson(1.5e-7)).toBe('1.5e-7');
    expect(doubleJson(0.000001)).toBe('0.000001');
    expect(doubleJson(-0)).toBe('-0');
    expect(doubleJson(NaN)).toBe('"NaN"');
    expect(doubleJson(Infinity)).toBe('"Infinity"');
  });
});

describe('encodeTraceByIdResponse', () => {
  const decode = (b: Uint8Array) =>
    TraceByIdResponseType.toObject(TraceByIdResponseType.decode(b), { longs: String, enums: String, defaults: false }) as {
      trace?: unknown;
      metrics?: { inspectedBytes?: string };
      status?: string;
      message?: string;
    };

  it('encodes trace (1), metrics.inspectedBytes (2.1), status PARTIAL (3) and message (4)', () => {
    const t = richTrace();
    const bytes = encodeTraceByIdResponse({ trace: t, status: 'PARTIAL', message: 'too big', inspectedBytes: 300n });
    const m = decode(bytes);
    expect(m.metrics).toEqual({ inspectedBytes: '300' });
    expect(m.status).toBe('PARTIAL');
    expect(m.message).toBe('too big');
    // The embedded trace is the tempopb.Trace encoding.
    const inner = bytes.subarray(1 + varintLength(bytes, 1), 1 + varintLength(bytes, 1) + encodeTrace(t).length);
    expect(oracleDecode(inner)).toEqual(t);
  });

  it('leaves out metrics when not given, COMPLETE and an empty message; keeps an empty trace present', () => {
    const bytes = encodeTraceByIdResponse({ trace: { resourceSpans: [] }, status: 'COMPLETE' });
    expect(Buffer.from(bytes).toString('hex')).toBe('0a00');
    expect(Buffer.from(encodeTraceByIdResponse({ trace: { resourceSpans: [] }, inspectedBytes: 0n })).toString('hex')).toBe('0a001200');
  });

  it('accepts pre-encoded trace bytes and gives the same output', () => {
    const t = richTrace();
    const a = encodeTraceByIdResponse({ trace: t, inspectedBytes: 1n << 40n, status: 'PARTIAL', message: 'm' });
    const b = encodeTraceByIdResponse({ trace: encodeTrace(t), inspectedBytes: 1n << 40n, status: 'PARTIAL', message: 'm' });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(decode(a).metrics).toEqual({ inspectedBytes: String(1n << 40n) });
  });
});

function varintLength(b: Uint8Array, at: number): number {
  let n = 1;
  while (b[at + n - 1]! >= 0x80) n++;
  return n;
}
