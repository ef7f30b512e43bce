// JSON in Tempo's style (gogo/protobuf jsonpb, encoding/json strings), for the API responses that
// more than one package writes (search results here, trace-by-ID in the query-frontend).

import type { AnyValue, KeyValue } from './trace.js';
import { anyValueKind, type AnyFields } from './trace-codec.js';

export function attributesJson(attrs: readonly KeyValue[]): string {
  let s = '[';
  for (let i = 0; i < attrs.length; i++) {
    if (i > 0) s += ',';
    s += keyValueJson(attrs[i]!);
  }
  return s + ']';
}

function keyValueJson(kv: KeyValue): string {
  return kv.key ? `{"key":${jsonString(kv.key)},"value":${anyValueJson(kv.value)}}` : `{"value":${anyValueJson(kv.value)}}`;
}

export function anyValueJson(v: AnyValue): string {
  const a = v as AnyFields;
  switch (anyValueKind(v)) {
    case 1:
      return `{"stringValue":${jsonString(a.stringValue)}}`;
    case 2:
      return a.boolValue ? '{"boolValue":true}' : '{"boolValue":false}';
    case 3:
      return `{"intValue":"${BigInt.asIntN(64, a.intValue)}"}`;
    case 4:
      return `{"doubleValue":${doubleJson(a.doubleValue)}}`;
    case 5: {
      const vals = a.arrayValue.values;
      return vals.length > 0 ? `{"arrayValue":{"values":[${vals.map(anyValueJson).join(',')}]}}` : '{"arrayValue":{}}';
    }
    case 6: {
      const vals = a.kvlistValue.values;
      return vals.length > 0 ? `{"kvlistValue":{"values":${attributesJson(vals)}}}` : '{"kvlistValue":{}}';
    }
    case 7:
      return `{"bytesValue":"${base64(a.bytesValue)}"}`;
    default:
      return '{}';
  }
}

/** A float64 as Go's encoding/json writes it (which matches JavaScript except for -0 and non-finite). */
export function doubleJson(d: number): string {
  if (Number.isFinite(d)) return d === 0 && Object.is(d, -0) ? '-0' : String(d);
  return Number.isNaN(d) ? '"NaN"' : d > 0 ? '"Infinity"' : '"-Infinity"';
}

export function base64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

const NEEDS_GO_ESCAPES = /[<>&\u2028\u2029\ud800-\udfff]/;

/** A JSON string literal as Go's encoding/json (HTML-escaping on, as jsonpb uses it) writes it. */
export function jsonString(s: string): string {
  if (!NEEDS_GO_ESCAPES.test(s)) return JSON.stringify(s);
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c < 0x20) out += JSON.stringify(s[i]!).slice(1, -1);
    else if (c === 0x3c) out += '\\u003c';
    else if (c === 0x3e) out += '\\u003e';
    else if (c === 0x26) out += '\\u0026';
    else if (c === 0x2028) out += '\\u2028';
    else if (c === 0x2029) out += '\\u2029';
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c < 0xdc00 && next >= 0xdc00 && next <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
      } else {
        out += '\\ufffd'; // Go writes invalid UTF-8 as an escaped replacement character
      }
    } else out += s[i]!;
  }
  return out + '"';
}
