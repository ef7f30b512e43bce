// OTLP/JSON input (opentelemetry-proto docs/specification.md, "JSON Protobuf Encoding"): the proto3
// JSON mapping with lowerCamel keys, except trace and span IDs are hex rather than base64. Receivers
// must ignore unknown fields. Like the Collector, this also accepts the proto field names
// (snake_case), enums by name as well as by number, and 64-bit integers as strings or numbers.

import { InvalidArgumentError } from '@andante/model';
import type {
  AnyValue,
  InstrumentationScope,
  KeyValue,
  Resource,
  ResourceSpans,
  ScopeSpans,
  Span,
  SpanEvent,
  SpanLink,
  SpanStatus,
  Trace,
} from '@andante/model';
import { MAX_DEPTH } from '@andante/model/wire';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Thrown when a 64-bit field arrived as a JSON number JSON.parse could not hold exactly. */
class LossyNumber extends Error {}

/** Field path for error messages, kept as a stack so the happy path builds no strings. */
class Path {
  private readonly segs: (string | number)[] = [];
  push(seg: string | number): void {
    this.segs.push(seg);
  }
  pop(): void {
    this.segs.pop();
  }
  at(field: string): string {
    let s = '';
    for (const seg of this.segs) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
    return s ? `${s}.${field}` : field;
  }
}

class Parser {
  readonly path = new Path();
  constructor(private readonly exact: boolean) {}

  fail(field: string, problem: string): never {
    throw new InvalidArgumentError(`invalid OTLP JSON: ${this.path.at(field)}: ${problem}`);
  }

  get(o: Obj, camel: string, snake: string): Json | undefined {
    const v = o[camel];
    if (v !== undefined && v !== null) return v;
    if (snake === camel) return undefined;
    const w = o[snake];
    return w === null ? undefined : w;
  }

  obj(o: Obj, camel: string, snake: string): Obj | undefined {
    const v = this.get(o, camel, snake);
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(camel, `expected an object, got ${describe(v)}`);
    return v as Obj;
  }

  arr(o: Obj, camel: string, snake: string): Json[] {
    const v = this.get(o, camel, snake);
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(camel, `expected an array, got ${describe(v)}`);
    return v;
  }

  /** Each element of an array field, with the path pointing at it. */
  each<T>(o: Obj, camel: string, snake: string, fn: (el: Obj) => T): T[] {
    const items = this.arr(o, camel, snake);
    const out: T[] = new Array<T>(items.length);
    this.path.push(camel);
    for (let i = 0; i < items.length; i++) {
      const el = items[i];
      if (el === null || typeof el !== 'object' || Array.isArray(el)) {
        this.path.pop();
        this.fail(`${camel}[${i}]`, `expected an object, got ${describe(el ?? null)}`);
      }
      this.path.push(i);
      out[i] = fn(el as Obj);
      this.path.pop();
    }
    this.path.pop();
    return out;
  }

  str(o: Obj, camel: string, snake: string): string {
    const v = this.get(o, camel, snake);
    if (v === undefined) return '';
    if (typeof v !== 'string') this.fail(camel, `expected a string, got ${describe(v)}`);
    return v;
  }

  hex(o: Obj, camel: string, snake: string): Uint8Array {
    const v = this.get(o, camel, snake);
    if (v === undefined) return new Uint8Array(0);
    if (typeof v !== 'string') this.fail(camel, `expected a hex string, got ${describe(v)}`);
    const bytes = hexBytes(v);
    if (!bytes) this.fail(camel, `${JSON.stringify(v)} is not valid hex`);
    return bytes;
  }

  uint32(o: Obj, camel: string, snake: string): number {
    const v = this.get(o, camel, snake);
    if (v === undefined) return 0;
    const n = this.integer(v, camel);
    if (n < 0n || n > 0xffffffffn) this.fail(camel, `${JSON.stringify(v)} is out of range for uint32`);
    return Number(n);
  }

  fixed64(o: Obj, camel: string, snake: string): bigint {
    const v = this.get(o, camel, snake);
    if (v === undefined) return 0n;
    const n = this.integer(v, camel);
    if (n < 0n || n > UINT64_MAX) this.fail(camel, `${JSON.stringify(v)} is out of range for uint64`);
    return n;
  }

  enumValue(o: Obj, camel: string, snake: string, names: Record<string, number>): number {
    const v = this.get(o, camel, snake);
    if (v === undefined) return 0;
    if (typeof v === 'string' && Object.prototype.hasOwnProperty.call(names, v)) return names[v]!;
    if (typeof v === 'string' && !/^-?\d+$/.test(v)) this.fail(camel, `unknown enum value ${JSON.stringify(v)}`);
    const n = this.integer(v, camel);
    if (n < -0x80000000n || n > 0x7fffffffn) this.fail(camel, `${JSON.stringify(v)} is out of range for an enum`);
    return Number(n);
  }

  /** An integer given as a JSON number or a decimal string. */
  integer(v: Json, field: string): bigint {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) this.fail(field, `expected an integer, got ${v}`);
      // Beyond 2^53 JSON.parse has already rounded: start over with such numbers quoted.
      if (!Number.isSafeInteger(v) && !this.exact) throw new LossyNumber();
      return BigInt(v);
    }
    if (typeof v === 'string') {
      const t = v.trim();
      if (/^-?\d+$/.test(t)) return BigInt(t);
      // proto3 JSON also allows exponent notation for integers ("1e3").
      if (/^-?\d+(\.\d+)?[eE][+-]?\d+$/.test(t)) {
        const n = Number(t);
        if (Number.isSafeInteger(n)) return BigInt(n);
      }
      this.fail(field, `${JSON.stringify(v)} is not an integer`);
    }
    this.fail(field, `expected an integer, got ${describe(v)}`);
  }

  trace(root: Json): Trace {
    if (root === null || typeof root !== 'object' || Array.isArray(root)) {
      throw new InvalidArgumentError(`invalid OTLP JSON: expected an object at the top level, got ${describe(root)}`);
    }
    return { resourceSpans: this.each(root as Obj, 'resourceSpans', 'resource_spans', (rs) => this.resourceSpans(rs)) };
  }

  resourceSpans(o: Obj): ResourceSpans {
    const r = this.obj(o, 'resource', 'resource');
    let resource: Resource = { attributes: [], droppedAttributesCount: 0 };
    if (r) {
      this.path.push('resource');
      resource = {
        attributes: this.attributes(r),
        droppedAttributesCount: this.uint32(r, 'droppedAttributesCount', 'dropped_attributes_count'),
      };
      this.path.pop();
    }
    return {
      resource,
      scopeSpans: this.each(o, 'scopeSpans', 'scope_spans', (ss) => this.scopeSpans(ss)),
      schemaUrl: this.str(o, 'schemaUrl', 'schema_url'),
    };
  }

  scopeSpans(o: Obj): ScopeSpans {
    const s = this.obj(o, 'scope', 'scope');
    let scope: InstrumentationScope = { name: '', version: '', attributes: [], droppedAttributesCount: 0 };
    if (s) {
      this.path.push('scope');
      scope = {
        name: this.str(s, 'name', 'name'),
        version: this.str(s, 'version', 'version'),
        attributes: this.attributes(s),
        droppedAttributesCount: this.uint32(s, 'droppedAttributesCount', 'dropped_attributes_count'),
      };
      this.path.pop();
    }
    return {
      scope,
      spans: this.each(o, 'spans', 'spans', (sp) => this.span(sp)),
      schemaUrl: this.str(o, 'schemaUrl', 'schema_url'),
    };
  }

  span(o: Obj): Span {
    const st = this.obj(o, 'status', 'status');
    let status: SpanStatus = { message: '', code: 0 };
    if (st) {
      this.path.push('status');
      status = { message: this.str(st, 'message', 'message'), code: this.enumValue(st, 'code', 'code', STATUS_CODES) };
      this.path.pop();
    }
    return {
      traceId: this.hex(o, 'traceId', 'trace_id'),
      spanId: this.hex(o, 'spanId', 'span_id'),
      traceState: this.str(o, 'traceState', 'trace_state'),
      parentSpanId: this.hex(o, 'parentSpanId', 'parent_span_id'),
      flags: this.uint32(o, 'flags', 'flags'),
      name: this.str(o, 'name', 'name'),
      kind: this.enumValue(o, 'kind', 'kind', SPAN_KINDS),
      startTimeUnixNano: this.fixed64(o, 'startTimeUnixNano', 'start_time_unix_nano'),
      endTimeUnixNano: this.fixed64(o, 'endTimeUnixNano', 'end_time_unix_nano'),
      attributes: this.attributes(o),
      droppedAttributesCount: this.uint32(o, 'droppedAttributesCount', 'dropped_attributes_count'),
      events: this.each(o, 'events', 'events', (e) => this.event(e)),
      droppedEventsCount: this.uint32(o, 'droppedEventsCount', 'dropped_events_count'),
      links: this.each(o, 'links', 'links', (l) => this.link(l)),
      droppedLinksCount: this.uint32(o, 'droppedLinksCount', 'dropped_links_count'),
      status,
    };
  }

  event(o: Obj): SpanEvent {
    return {
      timeUnixNano: this.fixed64(o, 'timeUnixNano', 'time_unix_nano'),
      name: this.str(o, 'name', 'name'),
      attributes: this.attributes(o),
      droppedAttributesCount: this.uint32(o, 'droppedAttributesCount', 'dropped_attributes_count'),
    };
  }

  link(o: Obj): SpanLink {
    return {
      traceId: this.hex(o, 'traceId', 'trace_id'),
      spanId: this.hex(o, 'spanId', 'span_id'),
      traceState: this.str(o, 'traceState', 'trace_state'),
      attributes: this.attributes(o),
      droppedAttributesCount: this.uint32(o, 'droppedAttributesCount', 'dropped_attributes_count'),
      flags: this.uint32(o, 'flags', 'flags'),
    };
  }

  attributes(o: Obj, field = 'attributes', depth = 0): KeyValue[] {
    return this.each(o, field, field, (kv) => this.keyValue(kv, depth));
  }

  keyValue(o: Obj, depth: number): KeyValue {
    const key = this.str(o, 'key', 'key');
    const v = this.obj(o, 'value', 'value');
    if (!v) return { key, value: {} };
    this.path.push('value');
    const value = this.anyValue(v, depth);
    this.path.pop();
    return { key, value };
  }

  anyValue(o: Obj, depth: number): AnyValue {
    let out: AnyValue = {};
    let found: string | undefined;
    const one = (name: string): void => {
      if (found !== undefined) this.fail(name, `only one of ${found} and ${name} may be set`);
      found = name;
    };
    let v = this.get(o, 'stringValue', 'string_value');
    if (v !== undefined) {
      one('stringValue');
      if (typeof v !== 'string') this.fail('stringValue', `expected a string, got ${describe(v)}`);
      out = { stringValue: v };
    }
    v = this.get(o, 'boolValue', 'bool_value');
    if (v !== undefined) {
      one('boolValue');
      if (typeof v !== 'boolean') this.fail('boolValue', `expected true or false, got ${describe(v)}`);
      out = { boolValue: v };
    }
    v = this.get(o, 'intValue', 'int_value');
    if (v !== undefined) {
      one('intValue');
      const n = this.integer(v, 'intValue');
      if (n < INT64_MIN || n > INT64_MAX) this.fail('intValue', `${JSON.stringify(v)} is out of range for int64`);
      out = { intValue: n };
    }
    v = this.get(o, 'doubleValue', 'double_value');
    if (v !== undefined) {
      one('doubleValue');
      out = { doubleValue: this.double(v, 'doubleValue') };
    }
    v = this.get(o, 'arrayValue', 'array_value');
    if (v !== undefined) {
      one('arrayValue');
      if (depth >= MAX_DEPTH) this.fail('arrayValue', `values nested more than ${MAX_DEPTH} deep`);
      const a = this.obj(o, 'arrayValue', 'array_value')!;
      this.path.push('arrayValue');
      const values = this.each(a, 'values', 'values', (x) => this.anyValue(x, depth + 1));
      this.path.pop();
      out = { arrayValue: { values } };
    }
    v = this.get(o, 'kvlistValue', 'kvlist_value');
    if (v !== undefined) {
      one('kvlistValue');
      if (depth >= MAX_DEPTH) this.fail('kvlistValue', `values nested more than ${MAX_DEPTH} deep`);
      const l = this.obj(o, 'kvlistValue', 'kvlist_value')!;
      this.path.push('kvlistValue');
      const values = this.attributes(l, 'values', depth + 1);
      this.path.pop();
      out = { kvlistValue: { values } };
    }
    v = this.get(o, 'bytesValue', 'bytes_value');
    if (v !== undefined) {
      one('bytesValue');
      if (typeof v !== 'string') this.fail('bytesValue', `expected a base64 string, got ${describe(v)}`);
      const b = base64Bytes(v);
      if (!b) this.fail('bytesValue', `${JSON.stringify(v)} is not valid base64`);
      out = { bytesValue: b };
    }
    return out;
  }

  double(v: Json, field: string): number {
    if (typeof v === 'number') return v;
    if (typeof v === 'string') {
      if (v === 'NaN') return NaN;
      if (v === 'Infinity') return Infinity;
      if (v === '-Infinity') return -Infinity;
      if (/^\s*-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(v)) return Number(v);
    }
    this.fail(field, `expected a number, got ${describe(v)}`);
  }
}

function describe(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

const HEX_VALUES = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 10; i++) t[48 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[65 + i] = 10 + i;
    t[97 + i] = 10 + i;
  }
  return t;
})();

/** Case-insensitive hex to bytes; null when not valid hex. */
function hexBytes(s: string): Uint8Array | null {
  if (s.length % 2 !== 0) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) {
    const a = s.charCodeAt(2 * i);
    const b = s.charCodeAt(2 * i + 1);
    const hi = a < 128 ? HEX_VALUES[a]! : -1;
    const lo = b < 128 ? HEX_VALUES[b]! : -1;
    if (hi < 0 || lo < 0) return null;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Standard or URL-safe base64, padding optional (as the proto3 JSON mapping accepts). */
function base64Bytes(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/\-_]*={0,2}$/.test(s)) return null;
  const body = s.replace(/=+$/, '');
  if (body.length % 4 === 1) return null;
  if (s.length !== body.length && s.length % 4 !== 0) return null;
  const buf = Buffer.from(body, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice();
}

/**
 * Quotes integer literals too long for a double (more than 15 digits) outside strings, so the second
 * JSON.parse keeps them exact; fields that take numbers accept decimal strings.
 */
function quoteLongIntegers(text: string): string {
  let out = '';
  let last = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string literal, honouring escapes.
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if ((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) i++;
        else break;
      }
      const lit = text.slice(start, i);
      if (/^-?\d{16,}$/.test(lit)) {
        out += `${text.slice(last, start)}"${lit}"`;
        last = i;
      }
    } else i++;
  }
  return last === 0 ? text : out + text.slice(last);
}

/** Parses an OTLP/JSON ExportTraceServiceRequest (or TracesData). */
export function parseOtlpJson(text: string): Trace {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let root: Json;
  try {
    root = JSON.parse(text) as Json;
  } catch (err) {
    throw new InvalidArgumentError(`invalid OTLP JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return new Parser(false).trace(root);
  } catch (err) {
    if (!(err instanceof LossyNumber)) throw err;
  }
  return new Parser(true).trace(JSON.parse(quoteLongIntegers(text)) as Json);
}
