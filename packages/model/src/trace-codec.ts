// Full protobuf decode and encode of a Trace (tempopb.Trace = OTLP TracesData =
// ExportTraceServiceRequest on the wire). Field numbers are listed in the distributor's otlp-decode.ts.
//
// The decoder follows the same structural rules as decodeExportRequest (known fields with the wrong
// wire type, nesting deeper than MAX_DEPTH, lengths past their container are errors; unknown fields
// are skipped), so anything the ingest path accepted decodes here.
//
// The encoder makes two passes: one computes the length of every nested message and string in
// pre-order into a flat array, the next writes into one buffer of the exact size.

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
} from './trace.js';
import {
  ANY_VALUE_FIELDS,
  EVENT_FIELDS,
  KEY_VALUE_FIELDS,
  LINK_FIELDS,
  LIST_FIELDS,
  MAX_DEPTH,
  REQUEST_FIELDS,
  RESOURCE_FIELDS,
  RESOURCE_SPANS_FIELDS,
  Reader,
  SCOPE_FIELDS,
  SCOPE_SPANS_FIELDS,
  SPAN_FIELDS,
  STATUS_FIELDS,
  asInvalidArgument,
  checkEnd,
  lenEnd,
  malformed,
  otherField,
  readFixed32,
  readFixed64,
  readInt64,
  readUint32,
  varintSize,
  writeVarint,
} from './proto-wire.js';


// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Shares decoded resources and scopes across the traces of one batch of work (a block encode):
 * identical message bytes decode once to one object, so per-resource work downstream (table
 * entries, combine keys) can be cached by object. Objects taken from it must not be mutated.
 */
export class TraceDecodeCache {
  readonly resources = new Map<string, Resource>();
  readonly scopes = new Map<string, InstrumentationScope>();
  /** Short strings (span names, attribute keys and values) shared by their bytes. */
  readonly strings = new StringTable();
  /** Bounds the maps: a stream of distinct resources costs no more than not caching. */
  constructor(readonly limit = 4096) {}
}

/** Longest string StringTable shares; longer ones (URLs, messages) are rarely repeated. */
const MAX_SHARED_STRING_BYTES = 64;

/**
 * A direct-mapped table of decoded ASCII strings keyed by their bytes. A block repeats the same
 * span names, attribute keys and values on many spans; decoding each to the one string object
 * already made means every later Map lookup of it (dedicated-key checks, column dictionaries)
 * finds the hash V8 cached on that object and compares by identity, instead of hashing and
 * comparing a fresh copy, and a repeat costs no native call or allocation. A slot holds the last
 * string that hashed to it, so memory stays fixed whatever the data.
 */
export class StringTable {
  private readonly strings: (string | undefined)[];
  private readonly hashes: Int32Array;
  private readonly mask: number;

  constructor(slotBits = 12) {
    this.strings = new Array<string | undefined>(1 << slotBits).fill(undefined);
    this.hashes = new Int32Array(1 << slotBits);
    this.mask = (1 << slotBits) - 1;
  }

  /** The UTF-8 string of buf[pos, end), shared when it is short ASCII. */
  decode(buf: Buffer, pos: number, end: number): string {
    const length = end - pos;
    if (length > MAX_SHARED_STRING_BYTES) return buf.toString('utf8', pos, end);
    let h = 0x811c9dc5 ^ length;
    let bits = 0;
    for (let i = pos; i < end; i++) {
      const b = buf[i]!;
      bits |= b;
      h = Math.imul(h ^ b, 0x01000193);
    }
    // Non-ASCII bytes go through the UTF-8 decoder (replacement characters included).
    if (bits & 0x80) return buf.toString('utf8', pos, end);
    const slot = (h ^ (h >>> 15)) & this.mask;
    const found = this.strings[slot];
    if (found !== undefined && this.hashes[slot] === h && found.length === length) {
      let i = 0;
      while (i < length && found.charCodeAt(i) === buf[pos + i]) i++;
      if (i === length) return found;
    }
    // ASCII: latin1 gives the same characters as UTF-8, without validation.
    const s = buf.toString('latin1', pos, end);
    this.strings[slot] = s;
    this.hashes[slot] = h;
    return s;
  }
}

/** The table decodeTrace's strings go through while it runs (decoding is synchronous). */
let sharedStrings: StringTable | undefined;
/**
 * With a cache, the last trace ID and parent span ID decoded in this call: the spans of a trace
 * repeat them, and sharing one read-only copy saves two allocations per span and lets column
 * dictionaries match by identity.
 */
let lastTraceId: Uint8Array | undefined;
let lastParentId: Uint8Array | undefined;

/**
 * Decodes tempopb.Trace / TracesData / ExportTraceServiceRequest bytes. With a cache, resources
 * and scopes with byte-identical encodings are the same (shared, read-only) objects.
 */
export function decodeTrace(buf: Uint8Array, cache?: TraceDecodeCache): Trace {
  // A Buffer view (no copy) gives strings Node's native UTF-8 decoder.
  const r = new Reader(buf instanceof Buffer ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  const end = buf.length;
  const resourceSpans: ResourceSpans[] = [];
  const outerStrings = sharedStrings;
  const outerIds = [lastTraceId, lastParentId] as const;
  sharedStrings = cache?.strings;
  lastTraceId = lastParentId = undefined;
  try {
    while (r.pos < end) {
      const tag = r.tag();
      if (tag === 0x0a) {
        const e = lenEnd(r, end, 'ResourceSpans');
        resourceSpans.push(decodeResourceSpans(r, e, cache));
      } else {
        otherField(r, tag, end, 'Trace', REQUEST_FIELDS);
      }
    }
  } catch (err) {
    throw asInvalidArgument(err, 'trace');
  } finally {
    sharedStrings = outerStrings;
    [lastTraceId, lastParentId] = outerIds;
  }
  return { resourceSpans };
}

/** A length-delimited UTF-8 string field, bounded by `end` (the Reader's buffer must be a Buffer). */
export function str(r: Reader, end: number, what: string): string {
  const e = lenEnd(r, end, what);
  // r.buf is always a Buffer here (see decodeTrace); invalid UTF-8 becomes U+FFFD, as in TextDecoder.
  const s = e === r.pos ? '' : sharedStrings ? sharedStrings.decode(r.buf as Buffer, r.pos, e) : (r.buf as Buffer).toString('utf8', r.pos, e);
  r.pos = e;
  return s;
}

function bytes(r: Reader, end: number, what: string): Uint8Array {
  const e = lenEnd(r, end, what);
  // A copy, so a decoded trace does not pin the (possibly large) source buffer.
  const out = new Uint8Array(r.buf.subarray(r.pos, e));
  r.pos = e;
  return out;
}

/** bytes(), but the previous result when the bytes are equal to it (only while a cache is in use). */
function repeatedBytes(r: Reader, end: number, what: string, previous: Uint8Array | undefined): Uint8Array {
  if (!sharedStrings || !previous) return bytes(r, end, what);
  const e = lenEnd(r, end, what);
  const src = r.buf;
  const at = r.pos;
  const n = e - at;
  let i = 0;
  if (n === previous.length) while (i < n && src[at + i] === previous[i]) i++;
  r.pos = e;
  return i === n && n === previous.length ? previous : new Uint8Array(src.subarray(at, e));
}

/** The message bytes [pos, end) as a Map key (one char per byte). */
function rawKey(r: Reader, end: number): string {
  return (r.buf as Buffer).toString('latin1', r.pos, end);
}

/**
 * Decodes one Resource / InstrumentationScope field [r.pos, end) into `current` and returns the
 * object to use. The first occurrence in its message goes through `shared` (byte-identical fields
 * decode once to one object); a repeated occurrence merges into `current` (protobuf semantics), into
 * a private copy when a cache is in use, never into a shared object.
 */
function decodeMaybeShared<T>(
  r: Reader,
  end: number,
  current: T,
  occurrence: number,
  shared: Map<string, T> | undefined,
  limit: number,
  decodeInto: (r: Reader, end: number, into: T) => void,
  copy: (value: T) => T,
): T {
  if (!shared) {
    decodeInto(r, end, current);
    return current;
  }
  if (occurrence > 0) {
    const own = copy(current);
    decodeInto(r, end, own);
    return own;
  }
  const key = rawKey(r, end);
  const found = shared.get(key);
  if (found) {
    r.pos = end;
    return found;
  }
  decodeInto(r, end, current);
  if (shared.size < limit) shared.set(key, current);
  return current;
}

function decodeResourceSpans(r: Reader, end: number, cache: TraceDecodeCache | undefined): ResourceSpans {
  let resource: Resource = { attributes: [], droppedAttributesCount: 0 };
  let resourceFields = 0;
  const scopeSpans: ScopeSpans[] = [];
  let schemaUrl = '';
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a: {
        const e = lenEnd(r, end, 'Resource');
        const copy = (res: Resource): Resource => ({ ...res, attributes: [...res.attributes] });
        resource = decodeMaybeShared(r, e, resource, resourceFields++, cache?.resources, cache?.limit ?? 0, decodeResourceInto, copy);
        break;
      }
      case 0x12: {
        const e = lenEnd(r, end, 'ScopeSpans');
        scopeSpans.push(decodeScopeSpans(r, e, cache));
        break;
      }
      case 0x1a:
        schemaUrl = str(r, end, 'ResourceSpans.schema_url');
        break;
      default:
        otherField(r, tag, end, 'ResourceSpans', RESOURCE_SPANS_FIELDS);
    }
  }
  checkEnd(r, end, 'ResourceSpans');
  return { resource, scopeSpans, schemaUrl };
}

function decodeResourceInto(r: Reader, end: number, res: Resource): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x0a) {
      const e = lenEnd(r, end, 'Resource.attributes');
      res.attributes.push(decodeKeyValue(r, e, 0));
    } else if (tag === 0x10) {
      res.droppedAttributesCount = readUint32(r, end, 'Resource.dropped_attributes_count');
    } else {
      otherField(r, tag, end, 'Resource', RESOURCE_FIELDS);
    }
  }
  checkEnd(r, end, 'Resource');
}

function decodeScopeSpans(r: Reader, end: number, cache: TraceDecodeCache | undefined): ScopeSpans {
  let scope: InstrumentationScope = { name: '', version: '', attributes: [], droppedAttributesCount: 0 };
  let scopeFields = 0;
  const spans: Span[] = [];
  let schemaUrl = '';
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a: {
        const e = lenEnd(r, end, 'InstrumentationScope');
        const copy = (sc: InstrumentationScope): InstrumentationScope => ({ ...sc, attributes: [...sc.attributes] });
        scope = decodeMaybeShared(r, e, scope, scopeFields++, cache?.scopes, cache?.limit ?? 0, decodeScopeInto, copy);
        break;
      }
      case 0x12: {
        const e = lenEnd(r, end, 'Span');
        spans.push(decodeSpan(r, e));
        break;
      }
      case 0x1a:
        schemaUrl = str(r, end, 'ScopeSpans.schema_url');
        break;
      default:
        otherField(r, tag, end, 'ScopeSpans', SCOPE_SPANS_FIELDS);
    }
  }
  checkEnd(r, end, 'ScopeSpans');
  return { scope, spans, schemaUrl };
}

function decodeScopeInto(r: Reader, end: number, scope: InstrumentationScope): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a:
        scope.name = str(r, end, 'InstrumentationScope.name');
        break;
      case 0x12:
        scope.version = str(r, end, 'InstrumentationScope.version');
        break;
      case 0x1a: {
        const e = lenEnd(r, end, 'InstrumentationScope.attributes');
        scope.attributes.push(decodeKeyValue(r, e, 0));
        break;
      }
      case 0x20:
        scope.droppedAttributesCount = readUint32(r, end, 'InstrumentationScope.dropped_attributes_count');
        break;
      default:
        otherField(r, tag, end, 'InstrumentationScope', SCOPE_FIELDS);
    }
  }
  checkEnd(r, end, 'InstrumentationScope');
}

const NO_BYTES: Uint8Array = new Uint8Array(0);

function decodeSpan(r: Reader, end: number): Span {
  const span: Span = {
    traceId: NO_BYTES,
    spanId: NO_BYTES,
    traceState: '',
    parentSpanId: NO_BYTES,
    flags: 0,
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { message: '', code: 0 },
  };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a:
        span.traceId = lastTraceId = repeatedBytes(r, end, 'Span.trace_id', lastTraceId);
        break;
      case 0x12:
        span.spanId = bytes(r, end, 'Span.span_id');
        break;
      case 0x1a:
        span.traceState = str(r, end, 'Span.trace_state');
        break;
      case 0x22:
        span.parentSpanId = lastParentId = repeatedBytes(r, end, 'Span.parent_span_id', lastParentId);
        break;
      case 0x2a:
        span.name = str(r, end, 'Span.name');
        break;
      case 0x30:
        span.kind = readUint32(r, end, 'Span.kind') | 0;
        break;
      case 0x39:
        span.startTimeUnixNano = readFixed64(r, end, 'Span.start_time_unix_nano');
        break;
      case 0x41:
        span.endTimeUnixNano = readFixed64(r, end, 'Span.end_time_unix_nano');
        break;
      case 0x4a: {
        const e = lenEnd(r, end, 'Span.attributes');
        span.attributes.push(decodeKeyValue(r, e, 0));
        break;
      }
      case 0x50:
        span.droppedAttributesCount = readUint32(r, end, 'Span.dropped_attributes_count');
        break;
      case 0x5a: {
        const e = lenEnd(r, end, 'Span.events');
        span.events.push(decodeEvent(r, e));
        break;
      }
      case 0x60:
        span.droppedEventsCount = readUint32(r, end, 'Span.dropped_events_count');
        break;
      case 0x6a: {
        const e = lenEnd(r, end, 'Span.links');
        span.links.push(decodeLink(r, e));
        break;
      }
      case 0x70:
        span.droppedLinksCount = readUint32(r, end, 'Span.dropped_links_count');
        break;
      case 0x7a: {
        const e = lenEnd(r, end, 'Span.status');
        decodeStatusInto(r, e, span.status);
        break;
      }
      case 0x85:
        span.flags = readFixed32(r, end, 'Span.flags');
        break;
      default:
        otherField(r, tag, end, 'Span', SPAN_FIELDS);
    }
  }
  checkEnd(r, end, 'Span');
  return span;
}

function decodeEvent(r: Reader, end: number): SpanEvent {
  const ev: SpanEvent = { timeUnixNano: 0n, name: '', attributes: [], droppedAttributesCount: 0 };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x09:
        ev.timeUnixNano = readFixed64(r, end, 'Span.Event.time_unix_nano');
        break;
      case 0x12:
        ev.name = str(r, end, 'Span.Event.name');
        break;
      case 0x1a: {
        const e = lenEnd(r, end, 'Span.Event.attributes');
        ev.attributes.push(decodeKeyValue(r, e, 0));
        break;
      }
      case 0x20:
        ev.droppedAttributesCount = readUint32(r, end, 'Span.Event.dropped_attributes_count');
        break;
      default:
        otherField(r, tag, end, 'Span.Event', EVENT_FIELDS);
    }
  }
  checkEnd(r, end, 'Span.Event');
  return ev;
}

function decodeLink(r: Reader, end: number): SpanLink {
  const link: SpanLink = {
    traceId: NO_BYTES,
    spanId: NO_BYTES,
    traceState: '',
    attributes: [],
    droppedAttributesCount: 0,
    flags: 0,
  };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a:
        link.traceId = bytes(r, end, 'Span.Link.trace_id');
        break;
      case 0x12:
        link.spanId = bytes(r, end, 'Span.Link.span_id');
        break;
      case 0x1a:
        link.traceState = str(r, end, 'Span.Link.trace_state');
        break;
      case 0x22: {
        const e = lenEnd(r, end, 'Span.Link.attributes');
        link.attributes.push(decodeKeyValue(r, e, 0));
        break;
      }
      case 0x28:
        link.droppedAttributesCount = readUint32(r, end, 'Span.Link.dropped_attributes_count');
        break;
      case 0x35:
        link.flags = readFixed32(r, end, 'Span.Link.flags');
        break;
      default:
        otherField(r, tag, end, 'Span.Link', LINK_FIELDS);
    }
  }
  checkEnd(r, end, 'Span.Link');
  return link;
}

function decodeStatusInto(r: Reader, end: number, status: SpanStatus): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x12) status.message = str(r, end, 'Status.message');
    else if (tag === 0x18) status.code = readUint32(r, end, 'Status.code') | 0;
    else otherField(r, tag, end, 'Status', STATUS_FIELDS);
  }
  checkEnd(r, end, 'Status');
}

function decodeKeyValue(r: Reader, end: number, depth: number): KeyValue {
  let key = '';
  let value: AnyValue = {};
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x0a) {
      key = str(r, end, 'KeyValue.key');
    } else if (tag === 0x12) {
      const e = lenEnd(r, end, 'KeyValue.value');
      value = decodeAnyValue(r, e, depth);
    } else {
      otherField(r, tag, end, 'KeyValue', KEY_VALUE_FIELDS);
    }
  }
  checkEnd(r, end, 'KeyValue');
  return { key, value };
}

function decodeAnyValue(r: Reader, end: number, depth: number): AnyValue {
  // A oneof: the last member on the wire wins.
  let v: AnyValue = {};
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a:
        v = { stringValue: str(r, end, 'AnyValue.string_value') };
        break;
      case 0x10:
        v = { boolValue: readInt64(r, end, 'AnyValue.bool_value') !== 0n };
        break;
      case 0x18:
        v = { intValue: readInt64(r, end, 'AnyValue.int_value') };
        break;
      case 0x21:
        if (r.pos + 8 > end) throw malformed(`AnyValue.double_value: truncated fixed64 at offset ${r.pos}`);
        v = { doubleValue: r.double() };
        break;
      case 0x2a:
      case 0x32: {
        if (depth >= MAX_DEPTH) throw malformed(`AnyValue nested more than ${MAX_DEPTH} deep`);
        const e = lenEnd(r, end, 'AnyValue');
        if (tag === 0x2a) v = { arrayValue: { values: decodeArrayValues(r, e, depth + 1) } };
        else v = { kvlistValue: { values: decodeKvListValues(r, e, depth + 1) } };
        break;
      }
      case 0x3a:
        v = { bytesValue: bytes(r, end, 'AnyValue.bytes_value') };
        break;
      default:
        otherField(r, tag, end, 'AnyValue', ANY_VALUE_FIELDS);
    }
  }
  checkEnd(r, end, 'AnyValue');
  return v;
}

function decodeArrayValues(r: Reader, end: number, depth: number): AnyValue[] {
  const values: AnyValue[] = [];
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x0a) {
      const e = lenEnd(r, end, 'ArrayValue.values');
      values.push(decodeAnyValue(r, e, depth));
    } else {
      otherField(r, tag, end, 'ArrayValue', LIST_FIELDS);
    }
  }
  checkEnd(r, end, 'ArrayValue');
  return values;
}

function decodeKvListValues(r: Reader, end: number, depth: number): KeyValue[] {
  const values: KeyValue[] = [];
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x0a) {
      const e = lenEnd(r, end, 'KeyValueList.values');
      values.push(decodeKeyValue(r, e, depth));
    } else {
      otherField(r, tag, end, 'KeyValueList', LIST_FIELDS);
    }
  }
  checkEnd(r, end, 'KeyValueList');
  return values;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Output state of the write pass; `sizes` holds the lengths computed by the size pass, in order. */
export interface ProtoWriter {
  out: Uint8Array;
  view: DataView;
  pos: number;
  sizes: number[];
  next: number;
}

export function newWriter(size: number, sizes: number[]): ProtoWriter {
  const out = new Uint8Array(size);
  return { out, view: new DataView(out.buffer, out.byteOffset, out.byteLength), pos: 0, sizes, next: 0 };
}

/** Encodes a Trace as tempopb.Trace (= TracesData = ExportTraceServiceRequest) bytes. */
export function encodeTrace(trace: Trace): Uint8Array {
  const sizes: number[] = [];
  const n = sizeTrace(trace, sizes);
  const w = newWriter(n, sizes);
  w.next = 1; // the Trace's own length slot: not written at the top level
  writeTraceContent(w, trace);
  return w.out;
}

/**
 * Encoded sizes of one Span, Resource or InstrumentationScope message, without the field tag and
 * length prefix that place it in its parent: for callers that budget bytes before encoding.
 */
export function encodedSpanSize(span: Span): number {
  return sizeSpan(span, []);
}
export function encodedResourceSize(resource: Resource): number {
  return sizeResource(resource, []);
}
export function encodedScopeSize(scope: InstrumentationScope): number {
  return sizeScope(scope, []);
}

const encoder = new TextEncoder();

/** UTF-8 length, counting lone surrogates as U+FFFD (3 bytes) like TextEncoder does. */
export function utf8Length(s: string): number {
  const n = s.length;
  if (n > 64) return Buffer.byteLength(s, 'utf8');
  let len = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) len += 1;
    else if ((c & 0xfc00) === 0xd800 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      len += 2; // 4 bytes for the pair of 2 code units
      i++;
    } else len += 2;
  }
  return len;
}

// Field sizes: tag (one byte, except Span.flags) + length varint + payload. Zero values are not
// written (proto3), except inside the AnyValue oneof where presence matters.

function strField(s: string, sizes: number[]): number {
  if (s.length === 0) return 0;
  const n = utf8Length(s);
  sizes.push(n);
  return 1 + varintSize(n) + n;
}

function bytesField(b: Uint8Array): number {
  const n = b.length;
  return n === 0 ? 0 : 1 + varintSize(n) + n;
}

function u32Field(v: number): number {
  v >>>= 0;
  return v === 0 ? 0 : 1 + varintSize(v);
}

function enumField(v: number): number {
  v |= 0;
  return v === 0 ? 0 : 1 + (v < 0 ? 10 : varintSize(v));
}

function msgField(n: number): number {
  return 1 + varintSize(n) + n;
}

function int64Size(v: bigint): number {
  if (v >= 0n && v < 0x10000000n) return varintSize(Number(v));
  let u = BigInt.asUintN(64, v);
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

/** Pushes a slot for the message's own length, then sizes its children; returns the content size. */
export function sizeTrace(t: Trace, sizes: number[]): number {
  const slot = sizes.push(0) - 1;
  let n = 0;
  for (const rs of t.resourceSpans) n += msgField(sizeResourceSpans(rs, sizes));
  sizes[slot] = n;
  return n;
}

function sizeResourceSpans(rs: ResourceSpans, sizes: number[]): number {
  const slot = sizes.push(0) - 1;
  let n = msgField(sizeResource(rs.resource, sizes));
  for (const ss of rs.scopeSpans) n += msgField(sizeScopeSpans(ss, sizes));
  n += strField(rs.schemaUrl, sizes);
  sizes[slot] = n;
  return n;
}

export function sizeResource(res: Resource, sizes: number[]): number {
  const slot = sizes.push(0) - 1;
  let n = 0;
  for (const kv of res.attributes) n += msgField(sizeKeyValue(kv, sizes));
  n += u32Field(res.droppedAttributesCount);
  sizes[slot] = n;
  return n;
}

function sizeScopeSpans(ss: ScopeSpans, sizes: number[]): number {
  const slot = sizes.push(0) - 1;
  let n = msgField(sizeScope(ss.scope, sizes));
  for (const s of ss.spans) n += msgField(sizeSpan(s, sizes));
  n += strField(ss.schemaUrl, sizes);
  sizes[slot] = n;
  return n;
}

export function sizeScope(sc: InstrumentationScope, sizes: number[]): number {
  const slot = sizes.push(0) - 1;
  let n = strField(sc.name, sizes);
  n += strField(sc.version, sizes);
  for (const kv of sc.attributes) n += msgField(sizeKeyValue(kv, sizes));
  n += u32Field(sc.droppedAttributesCount);
  sizes[slot] = n;
  return n;
}

function statusIsEmpty(st: SpanStatus): boolean {
  return st.message.length === 0 && (st.code | 0) === 0;
}

/** A span's protobuf-encoded size in bytes (what Tempo's span-metrics counts in traces_spanmetrics_size_total). */
export function spanWireSize(s: Span): number {
  return sizeSpan(s, []);
}

function sizeSpan(s: Span, sizes: number[]): number {
  const slot = sizes.push(0) - 1;
  let n = bytesField(s.traceId) + bytesField(s.spanId);
  n += strField(s.traceState, sizes);
  n += bytesField(s.parentSpanId);
  n += strField(s.name, sizes);
  n += enumField(s.kind);
  if (s.startTimeUnixNano !== 0n) n += 9;
  if (s.endTimeUnixNano !== 0n) n += 9;
  for (const kv of s.attributes) n += msgField(sizeKeyValue(kv, sizes));
  n += u32Field(s.droppedAttributesCount);
  for (const ev of s.events) n += msgField(sizeEvent(ev, sizes));
  n += u32Field(s.droppedEventsCount);
  for (const l of s.links) n += msgField(sizeLink(l, sizes));
  n += u32Field(s.droppedLinksCount);
  if (!statusIsEmpty(s.status)) n += msgField(sizeStatus(s.status, sizes));
  if (s.flags >>> 0 !== 0) n += 6; // two-byte tag (field 16) + fixed32
  sizes[slot] = n;
  return n;
}

function sizeEvent(ev: SpanEvent, sizes: number[]): number {
  const slot = sizes.push(0) - 1;
  let n = ev.timeUnixNano !== 0n ? 9 : 0;
  n += strField(ev.name, sizes);
  for (const kv of ev.attributes) n += msgField(sizeKeyValue(kv, sizes));
  n += u32Field(ev.droppedAttributesCount);
  sizes[slot] = n;
  return n;
}

function sizeLink(l: SpanLink, sizes: number[]): number {
  const slot = sizes.push(0) - 1;
  let n = bytesField(l.traceId) + bytesField(l.spanId);
  n += strField(l.traceState, sizes);
  for (const kv of l.attributes) n += msgField(sizeKeyValue(kv, sizes));
  n += u32Field(l.droppedAttributesCount);
  if (l.flags >>> 0 !== 0) n += 5;
  sizes[slot] = n;
  return n;
}

function sizeStatus(st: SpanStatus, sizes: number[]): number {
  const slot = sizes.push(0) - 1;
  const n = strField(st.message, sizes) + enumField(st.code);
  sizes[slot] = n;
  return n;
}

function sizeKeyValue(kv: KeyValue, sizes: number[]): number {
  const slot = sizes.push(0) - 1;
  const n = strField(kv.key, sizes) + msgField(sizeAnyValue(kv.value, sizes));
  sizes[slot] = n;
  return n;
}

// AnyValue members, in field-number order.
const STRING = 1;
const BOOL = 2;
const INT = 3;
const DOUBLE = 4;
const ARRAY = 5;
const KVLIST = 6;
const BYTES = 7;

/** Which oneof member an AnyValue holds (0 when empty). */
export function anyValueKind(v: AnyValue): number {
  if ('stringValue' in v) return STRING;
  if ('intValue' in v) return INT;
  if ('boolValue' in v) return BOOL;
  if ('doubleValue' in v) return DOUBLE;
  if ('arrayValue' in v) return ARRAY;
  if ('kvlistValue' in v) return KVLIST;
  if ('bytesValue' in v) return BYTES;
  return 0;
}

/** An AnyValue's fields by name (one set at a time), for reading the oneof without narrowing. */
export type AnyFields = {
  stringValue: string;
  boolValue: boolean;
  intValue: bigint;
  doubleValue: number;
  arrayValue: { values: AnyValue[] };
  kvlistValue: { values: KeyValue[] };
  bytesValue: Uint8Array;
};

function sizeAnyValue(v: AnyValue, sizes: number[]): number {
  const slot = sizes.push(0) - 1;
  const a = v as AnyFields;
  let n = 0;
  switch (anyValueKind(v)) {
    case STRING: {
      // Present even when empty: the oneof member is set.
      const len = utf8Length(a.stringValue);
      sizes.push(len);
      n = 1 + varintSize(len) + len;
      break;
    }
    case BOOL:
      n = 2;
      break;
    case INT:
      n = 1 + int64Size(a.intValue);
      break;
    case DOUBLE:
      n = 9;
      break;
    case ARRAY: {
      const inner = sizes.push(0) - 1;
      let m = 0;
      for (const x of a.arrayValue.values) m += msgField(sizeAnyValue(x, sizes));
      sizes[inner] = m;
      n = msgField(m);
      break;
    }
    case KVLIST: {
      const inner = sizes.push(0) - 1;
      let m = 0;
      for (const x of a.kvlistValue.values) m += msgField(sizeKeyValue(x, sizes));
      sizes[inner] = m;
      n = msgField(m);
      break;
    }
    case BYTES: {
      const len = a.bytesValue.length;
      n = 1 + varintSize(len) + len;
      break;
    }
  }
  sizes[slot] = n;
  return n;
}

// ---- write pass: must visit exactly what the size pass visited, in the same order ----

function tag(w: ProtoWriter, t: number): void {
  w.out[w.pos++] = t;
}

/** Writes the next precomputed length. */
function len(w: ProtoWriter): void {
  w.pos = writeVarint(w.out, w.pos, w.sizes[w.next++]!);
}

function writeStr(w: ProtoWriter, t: number, s: string): void {
  if (s.length === 0) return;
  w.out[w.pos++] = t;
  writeStrPayload(w, s);
}

function writeStrPayload(w: ProtoWriter, s: string): void {
  const n = w.sizes[w.next++]!;
  const out = w.out;
  let pos = writeVarint(out, w.pos, n);
  if (n === s.length && n < 64) {
    // ASCII: a plain loop beats encodeInto's call overhead on short strings.
    for (let i = 0; i < n; i++) out[pos++] = s.charCodeAt(i);
  } else {
    encoder.encodeInto(s, out.subarray(pos, pos + n));
    pos += n;
  }
  w.pos = pos;
}

function writeBytes(w: ProtoWriter, t: number, b: Uint8Array): void {
  if (b.length === 0) return;
  w.out[w.pos++] = t;
  w.pos = writeVarint(w.out, w.pos, b.length);
  w.out.set(b, w.pos);
  w.pos += b.length;
}

function writeU32(w: ProtoWriter, t: number, v: number): void {
  v >>>= 0;
  if (v === 0) return;
  w.out[w.pos++] = t;
  w.pos = writeVarint(w.out, w.pos, v);
}

function writeEnum(w: ProtoWriter, t: number, v: number): void {
  v |= 0;
  if (v === 0) return;
  w.out[w.pos++] = t;
  if (v > 0) w.pos = writeVarint(w.out, w.pos, v);
  else writeInt64Varint(w, BigInt(v));
}

function writeInt64Varint(w: ProtoWriter, v: bigint): void {
  if (v >= 0n && v < 0x10000000n) {
    w.pos = writeVarint(w.out, w.pos, Number(v));
    return;
  }
  let u = BigInt.asUintN(64, v);
  const out = w.out;
  while (u >= 0x80n) {
    out[w.pos++] = Number(u & 0x7fn) | 0x80;
    u >>= 7n;
  }
  out[w.pos++] = Number(u);
}

function writeFixed64(w: ProtoWriter, t: number, v: bigint): void {
  if (v === 0n) return;
  w.out[w.pos++] = t;
  w.view.setBigUint64(w.pos, BigInt.asUintN(64, v), true);
  w.pos += 8;
}

function writeFixed32(w: ProtoWriter, v: number): void {
  w.view.setUint32(w.pos, v >>> 0, true);
  w.pos += 4;
}

export function writeTraceContent(w: ProtoWriter, t: Trace): void {
  for (const rs of t.resourceSpans) {
    tag(w, 0x0a);
    len(w);
    writeResourceSpans(w, rs);
  }
}

function writeResourceSpans(w: ProtoWriter, rs: ResourceSpans): void {
  tag(w, 0x0a);
  len(w);
  writeResource(w, rs.resource);
  for (const ss of rs.scopeSpans) {
    tag(w, 0x12);
    len(w);
    writeScopeSpans(w, ss);
  }
  writeStr(w, 0x1a, rs.schemaUrl);
}

export function writeResource(w: ProtoWriter, res: Resource): void {
  for (const kv of res.attributes) writeKeyValueField(w, 0x0a, kv);
  writeU32(w, 0x10, res.droppedAttributesCount);
}

function writeScopeSpans(w: ProtoWriter, ss: ScopeSpans): void {
  tag(w, 0x0a);
  len(w);
  writeScope(w, ss.scope);
  for (const s of ss.spans) {
    tag(w, 0x12);
    len(w);
    writeSpan(w, s);
  }
  writeStr(w, 0x1a, ss.schemaUrl);
}

export function writeScope(w: ProtoWriter, sc: InstrumentationScope): void {
  writeStr(w, 0x0a, sc.name);
  writeStr(w, 0x12, sc.version);
  for (const kv of sc.attributes) writeKeyValueField(w, 0x1a, kv);
  writeU32(w, 0x20, sc.droppedAttributesCount);
}

function writeSpan(w: ProtoWriter, s: Span): void {
  writeBytes(w, 0x0a, s.traceId);
  writeBytes(w, 0x12, s.spanId);
  writeStr(w, 0x1a, s.traceState);
  writeBytes(w, 0x22, s.parentSpanId);
  writeStr(w, 0x2a, s.name);
  writeEnum(w, 0x30, s.kind);
  writeFixed64(w, 0x39, s.startTimeUnixNano);
  writeFixed64(w, 0x41, s.endTimeUnixNano);
  for (const kv of s.attributes) writeKeyValueField(w, 0x4a, kv);
  writeU32(w, 0x50, s.droppedAttributesCount);
  for (const ev of s.events) {
    tag(w, 0x5a);
    len(w);
    writeFixed64(w, 0x09, ev.timeUnixNano);
    writeStr(w, 0x12, ev.name);
    for (const kv of ev.attributes) writeKeyValueField(w, 0x1a, kv);
    writeU32(w, 0x20, ev.droppedAttributesCount);
  }
  writeU32(w, 0x60, s.droppedEventsCount);
  for (const l of s.links) {
    tag(w, 0x6a);
    len(w);
    writeBytes(w, 0x0a, l.traceId);
    writeBytes(w, 0x12, l.spanId);
    writeStr(w, 0x1a, l.traceState);
    for (const kv of l.attributes) writeKeyValueField(w, 0x22, kv);
    writeU32(w, 0x28, l.droppedAttributesCount);
    if (l.flags >>> 0 !== 0) {
      tag(w, 0x35);
      writeFixed32(w, l.flags);
    }
  }
  writeU32(w, 0x70, s.droppedLinksCount);
  if (!statusIsEmpty(s.status)) {
    tag(w, 0x7a);
    len(w);
    writeStr(w, 0x12, s.status.message);
    writeEnum(w, 0x18, s.status.code);
  }
  if (s.flags >>> 0 !== 0) {
    tag(w, 0x85);
    tag(w, 0x01);
    writeFixed32(w, s.flags);
  }
}

function writeKeyValueField(w: ProtoWriter, t: number, kv: KeyValue): void {
  tag(w, t);
  len(w);
  writeKeyValueContent(w, kv);
}

function writeKeyValueContent(w: ProtoWriter, kv: KeyValue): void {
  writeStr(w, 0x0a, kv.key);
  tag(w, 0x12);
  len(w);
  writeAnyValue(w, kv.value);
}

function writeAnyValue(w: ProtoWriter, v: AnyValue): void {
  const a = v as AnyFields;
  switch (anyValueKind(v)) {
    case STRING:
      tag(w, 0x0a);
      writeStrPayload(w, a.stringValue);
      break;
    case BOOL:
      tag(w, 0x10);
      tag(w, a.boolValue ? 1 : 0);
      break;
    case INT:
      tag(w, 0x18);
      writeInt64Varint(w, a.intValue);
      break;
    case DOUBLE:
      tag(w, 0x21);
      w.view.setFloat64(w.pos, a.doubleValue, true);
      w.pos += 8;
      break;
    case ARRAY:
      tag(w, 0x2a);
      len(w);
      for (const x of a.arrayValue.values) {
        tag(w, 0x0a);
        len(w);
        writeAnyValue(w, x);
      }
      break;
    case KVLIST:
      tag(w, 0x32);
      len(w);
      for (const x of a.kvlistValue.values) writeKeyValueField(w, 0x0a, x);
      break;
    case BYTES:
      tag(w, 0x3a);
      w.pos = writeVarint(w.out, w.pos, a.bytesValue.length);
      w.out.set(a.bytesValue, w.pos);
      w.pos += a.bytesValue.length;
      break;
  }
}

/** Decodes a common.v1.KeyValue whose content spans r.pos..end (for other tempopb messages that embed one). */
export function decodeKeyValueMessage(r: Reader, end: number): KeyValue {
  return decodeKeyValue(r, end, 0);
}

/** The protobuf encoding of a common.v1.KeyValue message (its content, without tag and length). */
export function encodeKeyValueMessage(kv: KeyValue): Uint8Array {
  const sizes: number[] = [];
  sizeKeyValue(kv, sizes);
  const w = newWriter(sizes[0]!, sizes);
  w.next = 1;
  writeKeyValueContent(w, kv);
  return w.out;
}

/** The protobuf encoding of a Resource message (its content, without tag and length). */
export function encodeResourceMessage(res: Resource): Uint8Array {
  const sizes: number[] = [];
  const w = newWriter(sizeResource(res, sizes), sizes);
  w.next = 1;
  writeResource(w, res);
  return w.out;
}

/** The protobuf encoding of an InstrumentationScope message (its content). */
export function encodeScopeMessage(scope: InstrumentationScope): Uint8Array {
  const sizes: number[] = [];
  const w = newWriter(sizeScope(scope, sizes), sizes);
  w.next = 1;
  writeScope(w, scope);
  return w.out;
}
