// A compact, exact binary form of an OTLP AnyValue, used for the attribute values that have no
// typed Parquet column of their own (arrays, kvlists) and for the odd double a dictionary would
// fold (-0). Layout: tag byte, then
//   0 empty | 1 string: varint length, UTF-8 | 2 int: 8 bytes LE int64 | 3 double: 8 bytes LE
//   4 bool: 1 byte | 5 bytes: varint length, bytes | 6 array: varint count, values
//   7 kvlist: varint count, (varint key length, key UTF-8, value)...

import type { AnyValue, KeyValue } from '@andante/model';

const enum Tag {
  Empty = 0,
  String = 1,
  Int = 2,
  Double = 3,
  Bool = 4,
  Bytes = 5,
  Array = 6,
  KvList = 7,
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

class Out {
  buf = new Uint8Array(64);
  view = new DataView(this.buf.buffer);
  len = 0;
  ensure(n: number): void {
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
  varint(v: number): void {
    while (v >= 0x80) {
      this.byte((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }
  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
}

export function encodeAnyValue(value: AnyValue): Uint8Array {
  const out = new Out();
  writeValue(out, value);
  return out.buf.slice(0, out.len);
}

function writeValue(out: Out, v: AnyValue): void {
  if ('stringValue' in v) {
    out.byte(Tag.String);
    out.bytes(encoder.encode(v.stringValue));
  } else if ('intValue' in v) {
    out.byte(Tag.Int);
    out.ensure(8);
    out.view.setBigInt64(out.len, BigInt.asIntN(64, v.intValue), true);
    out.len += 8;
  } else if ('doubleValue' in v) {
    out.byte(Tag.Double);
    out.ensure(8);
    out.view.setFloat64(out.len, v.doubleValue, true);
    out.len += 8;
  } else if ('boolValue' in v) {
    out.byte(Tag.Bool);
    out.byte(v.boolValue ? 1 : 0);
  } else if ('bytesValue' in v) {
    out.byte(Tag.Bytes);
    out.bytes(v.bytesValue);
  } else if ('arrayValue' in v) {
    out.byte(Tag.Array);
    out.varint(v.arrayValue.values.length);
    for (const item of v.arrayValue.values) writeValue(out, item);
  } else if ('kvlistValue' in v) {
    out.byte(Tag.KvList);
    out.varint(v.kvlistValue.values.length);
    for (const kv of v.kvlistValue.values) {
      out.bytes(encoder.encode(kv.key));
      writeValue(out, kv.value);
    }
  } else {
    out.byte(Tag.Empty);
  }
}

export function decodeAnyValue(data: Uint8Array): AnyValue {
  const r = { data, view: new DataView(data.buffer, data.byteOffset, data.byteLength), pos: 0 };
  const v = readValue(r);
  if (r.pos !== data.length) throw new Error('trailing bytes after encoded attribute value');
  return v;
}

interface In {
  data: Uint8Array;
  view: DataView;
  pos: number;
}

function need(r: In, n: number): void {
  if (r.pos + n > r.data.length) throw new Error('truncated attribute value');
}

function readVarint(r: In): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    need(r, 1);
    const b = r.data[r.pos++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 128;
  }
}

function readBytes(r: In): Uint8Array {
  const n = readVarint(r);
  need(r, n);
  const out = r.data.slice(r.pos, r.pos + n);
  r.pos += n;
  return out;
}

function readValue(r: In): AnyValue {
  need(r, 1);
  const tag = r.data[r.pos++]!;
  switch (tag) {
    case Tag.Empty:
      return {};
    case Tag.String:
      return { stringValue: decoder.decode(readBytes(r)) };
    case Tag.Int: {
      need(r, 8);
      const intValue = r.view.getBigInt64(r.pos, true);
      r.pos += 8;
      return { intValue };
    }
    case Tag.Double: {
      need(r, 8);
      const doubleValue = r.view.getFloat64(r.pos, true);
      r.pos += 8;
      return { doubleValue };
    }
    case Tag.Bool:
      need(r, 1);
      return { boolValue: r.data[r.pos++] === 1 };
    case Tag.Bytes:
      return { bytesValue: readBytes(r) };
    case Tag.Array: {
      const n = readVarint(r);
      const values: AnyValue[] = [];
      for (let i = 0; i < n; i++) values.push(readValue(r));
      return { arrayValue: { values } };
    }
    case Tag.KvList: {
      const n = readVarint(r);
      const values: KeyValue[] = [];
      for (let i = 0; i < n; i++) {
        const key = decoder.decode(readBytes(r));
        values.push({ key, value: readValue(r) });
      }
      return { kvlistValue: { values } };
    }
    default:
      throw new Error(`unknown attribute value tag ${tag}`);
  }
}
