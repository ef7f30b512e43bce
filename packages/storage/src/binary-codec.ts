// Compact, exact binary forms for the parts of a trace that are stored as blobs rather than typed
// Parquet columns: unusual attribute values (bytes, arrays, kvlists, empty, -0), span events and
// links (rare per span; as nested Parquet lists they would cost every span a level in a dozen
// mostly-empty leaf columns), and the per-block resource and scope tables.
//
// AnyValue: tag byte, then
//   0 empty | 1 string: varint length, UTF-8 | 2 int: 8 bytes LE int64 | 3 double: 8 bytes LE
//   4 bool: 1 byte | 5 bytes: varint length, bytes | 6 array: varint count, values
//   7 kvlist: varint count, (string key, value)...
// Other records are documented at their encoders. Integers that are uint32 in OTLP are varints.

import type { AnyValue, KeyValue, SpanEvent, SpanLink } from '@andante/model';

const TAG_EMPTY = 0;
const TAG_STRING = 1;
const TAG_INT = 2;
const TAG_DOUBLE = 3;
const TAG_BOOL = 4;
const TAG_BYTES = 5;
const TAG_ARRAY = 6;
const TAG_KVLIST = 7;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class BinaryWriter {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private len = 0;

  get capacity(): number {
    return this.buf.length;
  }

  /** Empties the writer for reuse (its buffer stays). */
  reset(): void {
    this.len = 0;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  /** Unsigned varint of a non-negative safe integer. */
  varint(v: number): void {
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }

  int64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.len, BigInt.asIntN(64, v), true);
    this.len += 8;
  }

  float64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.len, v, true);
    this.len += 8;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  string(s: string): void {
    // Short ASCII (most keys, names and values) is copied by code unit: no TextEncoder allocation.
    const n = s.length;
    if (n < 0x80) {
      let i = 0;
      while (i < n && s.charCodeAt(i) < 0x80) i++;
      if (i === n) {
        this.ensure(n + 1);
        const buf = this.buf;
        let at = this.len;
        buf[at++] = n; // the varint length: one byte below 0x80
        for (let k = 0; k < n; k++) buf[at++] = s.charCodeAt(k);
        this.len = at;
        return;
      }
    }
    this.bytes(encoder.encode(s));
  }

  anyValue(v: AnyValue): void {
    if ('stringValue' in v) {
      this.byte(TAG_STRING);
      this.string(v.stringValue);
    } else if ('intValue' in v) {
      this.byte(TAG_INT);
      this.int64(v.intValue);
    } else if ('doubleValue' in v) {
      this.byte(TAG_DOUBLE);
      this.float64(v.doubleValue);
    } else if ('boolValue' in v) {
      this.byte(TAG_BOOL);
      this.byte(v.boolValue ? 1 : 0);
    } else if ('bytesValue' in v) {
      this.byte(TAG_BYTES);
      this.bytes(v.bytesValue);
    } else if ('arrayValue' in v) {
      this.byte(TAG_ARRAY);
      this.varint(v.arrayValue.values.length);
      for (const item of v.arrayValue.values) this.anyValue(item);
    } else if ('kvlistValue' in v) {
      this.byte(TAG_KVLIST);
      this.keyValues(v.kvlistValue.values);
    } else {
      this.byte(TAG_EMPTY);
    }
  }

  keyValues(kvs: readonly KeyValue[]): void {
    this.varint(kvs.length);
    for (const kv of kvs) {
      this.string(kv.key);
      this.anyValue(kv.value);
    }
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export class BinaryReader {
  private readonly view: DataView;
  private pos = 0;

  constructor(private readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.data.length) throw new Error('truncated binary record');
  }

  get done(): boolean {
    return this.pos >= this.data.length;
  }

  byte(): number {
    this.need(1);
    return this.data[this.pos++]!;
  }

  varint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = this.byte();
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
    }
  }

  int64(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  float64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  bytes(): Uint8Array {
    const n = this.varint();
    this.need(n);
    const out = this.data.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    const n = this.varint();
    this.need(n);
    const out = decoder.decode(this.data.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  anyValue(): AnyValue {
    const tag = this.byte();
    switch (tag) {
      case TAG_EMPTY:
        return {};
      case TAG_STRING:
        return { stringValue: this.string() };
      case TAG_INT:
        return { intValue: this.int64() };
      case TAG_DOUBLE:
        return { doubleValue: this.float64() };
      case TAG_BOOL:
        return { boolValue: this.byte() === 1 };
      case TAG_BYTES:
        return { bytesValue: this.bytes() };
      case TAG_ARRAY: {
        const n = this.varint();
        const values: AnyValue[] = [];
        for (let i = 0; i < n; i++) values.push(this.anyValue());
        return { arrayValue: { values } };
      }
      case TAG_KVLIST:
        return { kvlistValue: { values: this.keyValues() } };
      default:
        throw new Error(`unknown attribute value tag ${tag}`);
    }
  }

  keyValues(): KeyValue[] {
    const n = this.varint();
    const out: KeyValue[] = [];
    for (let i = 0; i < n; i++) {
      const key = this.string();
      out.push({ key, value: this.anyValue() });
    }
    return out;
  }
}

/**
 * The writer of the one-shot encoders below, reused: each call resets it and returns a copy, and
 * none calls out while writing, so calls never interleave. A writer per span was a 256-byte
 * buffer and a DataView of garbage for every span with events, links or unusual attributes.
 */
let scratch = new BinaryWriter();

function scratchWriter(): BinaryWriter {
  // One very large record does not pin its buffer for the life of the process.
  if (scratch.capacity > 1 << 20) scratch = new BinaryWriter();
  scratch.reset();
  return scratch;
}

export function encodeKeyValues(kvs: readonly KeyValue[]): Uint8Array {
  const w = scratchWriter();
  w.keyValues(kvs);
  return w.finish();
}

export function decodeKeyValues(data: Uint8Array): KeyValue[] {
  return new BinaryReader(data).keyValues();
}

/** Events of one span: varint count, then per event int64 time since span start, name, attributes, varint dropped. */
export function encodeEvents(events: readonly SpanEvent[], spanStart: bigint): Uint8Array {
  const w = scratchWriter();
  w.varint(events.length);
  for (const e of events) {
    w.int64(e.timeUnixNano - spanStart);
    w.string(e.name);
    w.keyValues(e.attributes);
    w.varint(e.droppedAttributesCount >>> 0);
  }
  return w.finish();
}

export function decodeEvents(data: Uint8Array, spanStart: bigint): SpanEvent[] {
  const r = new BinaryReader(data);
  const n = r.varint();
  const out: SpanEvent[] = [];
  for (let i = 0; i < n; i++) {
    const timeUnixNano = BigInt.asUintN(64, spanStart + r.int64());
    const name = r.string();
    const attributes = r.keyValues();
    out.push({ timeUnixNano, name, attributes, droppedAttributesCount: r.varint() });
  }
  return out;
}

/** Links of one span: varint count, then per link trace ID, span ID, trace state, attributes, varint dropped, varint flags. */
export function encodeLinks(links: readonly SpanLink[]): Uint8Array {
  const w = scratchWriter();
  w.varint(links.length);
  for (const l of links) {
    w.bytes(l.traceId);
    w.bytes(l.spanId);
    w.string(l.traceState);
    w.keyValues(l.attributes);
    w.varint(l.droppedAttributesCount >>> 0);
    w.varint(l.flags >>> 0);
  }
  return w.finish();
}

export function decodeLinks(data: Uint8Array): SpanLink[] {
  const r = new BinaryReader(data);
  const n = r.varint();
  const out: SpanLink[] = [];
  for (let i = 0; i < n; i++) {
    const traceId = r.bytes();
    const spanId = r.bytes();
    const traceState = r.string();
    const attributes = r.keyValues();
    const droppedAttributesCount = r.varint();
    out.push({ traceId, spanId, traceState, attributes, droppedAttributesCount, flags: r.varint() });
  }
  return out;
}
