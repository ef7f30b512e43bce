import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@andante/model';
import { decodeExportRequest } from './otlp-decode.js';
import { parseOtlpJson } from './otlp-json.js';
import { decodeTrace, encodeTrace } from '@andante/model';
import { emptySpan } from '@andante/model/testing';

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

// Shaped like opentelemetry-proto examples/trace.json.
const SPEC_EXAMPLE = `{
  "resourceSpans": [{
    "resource": { "attributes": [{ "key": "service.name", "value": { "stringValue": "my.service" } }] },
    "scopeSpans": [{
      "scope": { "name": "my.library", "version": "1.0.0",
                 "attributes": [{ "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }] },
      "spans": [{
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "parentSpanId": "EEE19B7EC3C1B173",
        "name": "I'm a server span",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
        "kind": 2,
        "attributes": [{ "key": "my.span.attr", "value": { "stringValue": "some value" } }]
      }]
    }]
  }]
}`;

function firstSpan(text: string) {
  return parseOtlpJson(text).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
}

function wrapSpan(span: object): string {
  return JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] });
}

describe('parseOtlpJson', () => {
  it('parses the spec example', () => {
    const t = parseOtlpJson(SPEC_EXAMPLE);
    expect(t).toEqual({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'my.service' } }], droppedAttributesCount: 0 },
          scopeSpans: [
            {
              scope: {
                name: 'my.library',
                version: '1.0.0',
                attributes: [{ key: 'my.scope.attribute', value: { stringValue: 'some scope attribute' } }],
                droppedAttributesCount: 0,
              },
              spans: [
                emptySpan({
                  traceId: hex('5b8efff798038103d269b633813fc60c'),
                  spanId: hex('eee19b7ec3c1b174'),
                  parentSpanId: hex('eee19b7ec3c1b173'),
                  name: "I'm a server span",
                  startTimeUnixNano: 1544712660000000000n,
                  endTimeUnixNano: 1544712661000000000n,
                  kind: 2,
                  attributes: [{ key: 'my.span.attr', value: { stringValue: 'some value' } }],
                }),
              ],
              schemaUrl: '',
            },
          ],
          schemaUrl: '',
        },
      ],
    });
  });

  it('gives the bytes the protobuf path decodes (JSON -> encodeTrace -> decodeExportRequest)', () => {
    const t = parseOtlpJson(SPEC_EXAMPLE);
    const bytes = encodeTrace(t);
    const batch = decodeExportRequest(bytes);
    expect(batch.spans).toHaveLength(1);
    expect(Buffer.from(batch.spans[0]!.traceId).toString('hex')).toBe('5b8efff798038103d269b633813fc60c');
    expect(batch.spans[0]!.startTimeUnixNano).toBe(1544712660000000000n);
    expect(decodeTrace(bytes)).toEqual(t);
  });

  it('reads every field, lowerCamel or snake_case', () => {
    const camel = {
      traceId: '0102030405060708090a0b0c0d0e0f10',
      spanId: '0102030405060708',
      traceState: 'k=v',
      parentSpanId: '',
      flags: 257,
      name: 'n',
      kind: 'SPAN_KIND_CLIENT',
      startTimeUnixNano: 1700000000000000001,
      endTimeUnixNano: '1700000000000000002',
      attributes: [
        { key: 'i', value: { intValue: '-9223372036854775808' } },
        { key: 'i2', value: { intValue: 42 } },
        { key: 'd', value: { doubleValue: 1.5 } },
        { key: 'dn', value: { doubleValue: 'NaN' } },
        { key: 'b', value: { boolValue: false } },
        { key: 'y', value: { bytesValue: 'AP8=' } },
        { key: 'a', value: { arrayValue: { values: [{ stringValue: 'x' }, {}] } } },
        { key: 'kv', value: { kvlistValue: { values: [{ key: 'z', value: { intValue: '1' } }] } } },
        { key: 'empty', value: {} },
        { key: 'novalue' },
      ],
      droppedAttributesCount: 1,
      events: [{ timeUnixNano: '5', name: 'e', attributes: [], droppedAttributesCount: 2 }],
      droppedEventsCount: 3,
      links: [{ traceId: 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', spanId: 'ffffffffffffffff', traceState: 's', flags: 1, droppedAttributesCount: 4 }],
      droppedLinksCount: 5,
      status: { code: 'STATUS_CODE_ERROR', message: 'bad' },
    };
    const snake = {
      trace_id: camel.traceId,
      span_id: camel.spanId,
      trace_state: camel.traceState,
      parent_span_id: camel.parentSpanId,
      flags: camel.flags,
      name: camel.name,
      kind: 3,
      start_time_unix_nano: '1700000000000000001',
      end_time_unix_nano: camel.endTimeUnixNano,
      attributes: [
        { key: 'i', value: { int_value: '-9223372036854775808' } },
        { key: 'i2', value: { int_value: 42 } },
        { key: 'd', value: { double_value: 1.5 } },
        { key: 'dn', value: { double_value: 'NaN' } },
        { key: 'b', value: { bool_value: false } },
        { key: 'y', value: { bytes_value: 'AP8' } },
        { key: 'a', value: { array_value: { values: [{ string_value: 'x' }, {}] } } },
        { key: 'kv', value: { kvlist_value: { values: [{ key: 'z', value: { int_value: '1' } }] } } },
        { key: 'empty', value: {} },
        { key: 'novalue', value: null },
      ],
      dropped_attributes_count: 1,
      events: [{ time_unix_nano: 5, name: 'e', dropped_attributes_count: 2 }],
      dropped_events_count: '3',
      links: [{ trace_id: camel.links[0]!.traceId, span_id: 'FFFFFFFFFFFFFFFF', trace_state: 's', flags: 1, dropped_attributes_count: 4 }],
      dropped_links_count: 5,
      status: { code: 2, message: 'bad' },
    };
    const expected = emptySpan({
      traceId: hex('0102030405060708090a0b0c0d0e0f10'),
      spanId: hex('0102030405060708'),
      traceState: 'k=v',
      parentSpanId: new Uint8Array(0),
      flags: 257,
      name: 'n',
      kind: 3,
      startTimeUnixNano: 1700000000000000001n,
      endTimeUnixNano: 1700000000000000002n,
      attributes: [
        { key: 'i', value: { intValue: -9223372036854775808n } },
        { key: 'i2', value: { intValue: 42n } },
        { key: 'd', value: { doubleValue: 1.5 } },
        { key: 'dn', value: { doubleValue: NaN } },
        { key: 'b', value: { boolValue: false } },
        { key: 'y', value: { bytesValue: Uint8Array.from([0, 255]) } },
        { key: 'a', value: { arrayValue: { values: [{ stringValue: 'x' }, {}] } } },
        { key: 'kv', value: { kvlistValue: { values: [{ key: 'z', value: { intValue: 1n } }] } } },
        { key: 'empty', value: {} },
        { key: 'novalue', value: {} },
      ],
      droppedAttributesCount: 1,
      events: [{ timeUnixNano: 5n, name: 'e', attributes: [], droppedAttributesCount: 2 }],
      droppedEventsCount: 3,
      links: [
        { traceId: new Uint8Array(16).fill(255), spanId: new Uint8Array(8).fill(255), traceState: 's', attributes: [], droppedAttributesCount: 4, flags: 1 },
      ],
      droppedLinksCount: 5,
      status: { message: 'bad', code: 2 },
    });
    // The camel payload's startTimeUnixNano is a JSON number above 2^53: it must still come out exact.
    const camelText = wrapSpan(camel).replace('"startTimeUnixNano":1700000000000000000', '"startTimeUnixNano":1700000000000000001');
    expect(camelText).toContain('"startTimeUnixNano":1700000000000000001');
    expect(firstSpan(camelText)).toEqual(expected);
    expect(firstSpan(wrapSpan(snake))).toEqual(expected);
  });

  it('keeps 64-bit JSON numbers exact and accepts numbers inside strings elsewhere', () => {
    const text = '{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x 12345678901234567890","startTimeUnixNano":18446744073709551615,' +
      '"attributes":[{"key":"n","value":{"intValue":-9223372036854775807}},{"key":"d","value":{"doubleValue":12345678901234567890}}]}]}]}]}';
    const span = firstSpan(text);
    expect(span.name).toBe('x 12345678901234567890');
    expect(span.startTimeUnixNano).toBe(18446744073709551615n);
    expect(span.attributes[0]!.value).toEqual({ intValue: -9223372036854775807n });
    expect(span.attributes[1]!.value).toEqual({ doubleValue: 12345678901234567890 });
  });

  it('accepts an empty object, a missing resourceSpans, nulls, unknown fields and a BOM', () => {
    expect(parseOtlpJson('{}')).toEqual({ resourceSpans: [] });
    expect(parseOtlpJson('\ufeff{"resourceSpans":null}')).toEqual({ resourceSpans: [] });
    const t = parseOtlpJson(
      '{"resourceSpans":[{"resource":null,"futureField":{"x":[1,2]},"scopeSpans":[{"scope":{"name":"s","newThing":1},' +
        '"spans":[{"spanId":"01","unknown":true,"status":{"code":0,"extra":"y"}}]}]}],"other":1}',
    );
    expect(t.resourceSpans[0]!.scopeSpans[0]!.scope.name).toBe('s');
    expect(Array.from(t.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId)).toEqual([1]);
  });

  it('rejects bad input with InvalidArgumentError naming the field path', () => {
    const cases: [string, RegExp][] = [
      ['not json', /invalid OTLP JSON: /],
      ['[]', /expected an object at the top level/],
      ['{"resourceSpans":{}}', /resourceSpans: expected an array/],
      ['{"resourceSpans":[1]}', /resourceSpans\[0\]: expected an object/],
      [
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{},{},{"traceId":"zz"}]}]}]}',
        /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[2\]\.traceId: "zz" is not valid hex/,
      ],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"abc"}]}]}]}', /spans\[0\]\.spanId: "abc" is not valid hex/],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":12}]}]}]}', /spanId: expected a hex string, got number 12/],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_BOGUS"}]}]}]}', /spans\[0\]\.kind: unknown enum value/],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"-1"}]}]}]}', /startTimeUnixNano: "-1" is out of range for uint64/],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":1.5}]}]}]}', /startTimeUnixNano: expected an integer/],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"endTimeUnixNano":"12x"}]}]}]}', /endTimeUnixNano: "12x" is not an integer/],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]}', /spans\[0\]\.name: expected a string, got number 5/],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"flags":-1}]}]}]}', /flags: -1 is out of range for uint32/],
      [
        '{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"intValue":"9223372036854775808"}}]}}]}',
        /resourceSpans\[0\]\.resource\.attributes\[0\]\.value\.intValue: "9223372036854775808" is out of range for int64/,
      ],
      [
        '{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"stringValue":"a","intValue":1}}]}}]}',
        /value\.intValue: only one of stringValue and intValue may be set/,
      ],
      ['{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"bytesValue":"***"}}]}}]}', /bytesValue: "\*\*\*" is not valid base64/],
      ['{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"boolValue":"true"}}]}}]}', /boolValue: expected true or false/],
      [
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{"links":[{"traceId":"0g"}]}]}]}]}',
        /spans\[0\]\.links\[0\]\.traceId: "0g" is not valid hex/,
      ],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[{"status":{"code":"NOPE"}}]}]}]}', /spans\[0\]\.status\.code: unknown enum value/],
    ];
    for (const [text, msg] of cases) {
      let err: unknown;
      try {
        parseOtlpJson(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(InvalidArgumentError);
      expect((err as Error).message, text).toMatch(msg);
    }
  });

  it('limits AnyValue nesting', () => {
    let v = '{"stringValue":"x"}';
    for (let i = 0; i < 150; i++) v = `{"arrayValue":{"values":[${v}]}}`;
    expect(() => parseOtlpJson(`{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":${v}}]}}]}`)).toThrow(/nested more than 100 deep/);
    let deep = '1';
    for (let i = 0; i < 200_000; i++) deep = `[${deep}]`;
    expect(() => parseOtlpJson(deep)).toThrow(InvalidArgumentError);
  });
});
