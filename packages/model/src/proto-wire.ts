// Wire-level helpers shared by the protobuf codecs (internal: not exported from index.ts).
// Reading goes through protobufjs's Reader; bounds of nested messages are checked here because the
// Reader only knows the end of the whole buffer.

import protobuf from 'protobufjs/minimal.js';
import { InvalidArgumentError } from './errors.js';

export const Reader = protobuf.Reader;
export type Reader = protobuf.Reader;

/** Wire types. */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const SGROUP = 3;
export const EGROUP = 4;
export const I32 = 5;

/** Nesting limit for AnyValue arrays/kvlists and unknown groups, so hostile input cannot blow the stack. */
export const MAX_DEPTH = 100;

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32', '6', '7'];

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

export function malformed(message: string): InvalidArgumentError {
  return new InvalidArgumentError(`malformed protobuf: ${message}`);
}

/** Turns whatever the Reader threw (RangeError, Error) into an InvalidArgumentError. */
export function asInvalidArgument(err: unknown, what: string): InvalidArgumentError {
  if (err instanceof InvalidArgumentError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new InvalidArgumentError(`malformed protobuf ${what}: ${detail}`, { cause: err });
}

/** Reads a length prefix and returns the end offset of the field, checked against `limit`. */
export function lenEnd(r: Reader, limit: number, what: string): number {
  const at = r.pos;
  const n = r.size();
  const end = r.pos + n;
  if (end > limit) {
    throw malformed(`${what} at offset ${at}: length ${n} runs past the end of its container (${limit - r.pos} bytes left)`);
  }
  return end;
}

export function wrongWireType(message: string, field: number, wireType: number, at: number): InvalidArgumentError {
  return malformed(`${message} field ${field} at offset ${at} has wire type ${WIRE_NAMES[wireType]}, which that field cannot have`);
}

/**
 * Skips one field whose tag was just read, staying within `end`. Used for unknown fields; known
 * fields with an unexpected wire type are the caller's to reject.
 */
export function skipField(r: Reader, tag: number, end: number, message: string, depth = 0): void {
  const field = tag >>> 3;
  const at = r.pos;
  if (field === 0) throw malformed(`${message} has a field number 0 at offset ${at}`);
  switch (tag & 7) {
    case VARINT: {
      const buf = r.buf;
      let p = r.pos;
      const stop = Math.min(end, p + 10);
      while (p < stop && buf[p]! >= 0x80) p++;
      if (p >= stop) throw malformed(`${message} field ${field}: truncated or overlong varint at offset ${at}`);
      r.pos = p + 1;
      return;
    }
    case I64:
      if (r.pos + 8 > end) throw malformed(`${message} field ${field}: truncated fixed64 at offset ${at}`);
      r.pos += 8;
      return;
    case LEN:
      r.pos = lenEnd(r, end, `${message} field ${field}`);
      return;
    case I32:
      if (r.pos + 4 > end) throw malformed(`${message} field ${field}: truncated fixed32 at offset ${at}`);
      r.pos += 4;
      return;
    case SGROUP: {
      // Deprecated groups are legal in unknown fields; skip to the matching end-group tag.
      if (depth >= MAX_DEPTH) throw malformed(`${message}: groups nested more than ${MAX_DEPTH} deep`);
      for (;;) {
        if (r.pos >= end) throw malformed(`${message} field ${field}: group at offset ${at} has no end`);
        const t = r.tag();
        if ((t & 7) === EGROUP) {
          if (t >>> 3 !== field) throw malformed(`${message}: end-group tag ${t >>> 3} does not match group ${field}`);
          return;
        }
        skipField(r, t, end, message, depth + 1);
      }
    }
    default:
      throw malformed(`${message} field ${field} at offset ${at} has invalid wire type ${WIRE_NAMES[tag & 7]}`);
  }
}

// Bit masks of the field numbers each message knows; a known field with the wrong wire type is an
// error (as in gogo/protobuf), an unknown one is skipped.
export const REQUEST_FIELDS = 1 << 1;
export const RESOURCE_SPANS_FIELDS = (1 << 1) | (1 << 2) | (1 << 3);
export const SCOPE_SPANS_FIELDS = RESOURCE_SPANS_FIELDS;
export const SPAN_FIELDS = 0x1fffe; // 1..16
export const RESOURCE_FIELDS = (1 << 1) | (1 << 2);
export const SCOPE_FIELDS = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4);
export const KEY_VALUE_FIELDS = (1 << 1) | (1 << 2);
export const ANY_VALUE_FIELDS = 0xfe; // 1..7
export const LIST_FIELDS = 1 << 1;
export const EVENT_FIELDS = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4);
export const LINK_FIELDS = 0x7e; // 1..6
export const STATUS_FIELDS = (1 << 2) | (1 << 3);

/** Skips an unexpected tag: an error if it is a known field with the wrong wire type. */
export function otherField(r: Reader, tag: number, end: number, message: string, known: number): void {
  const field = tag >>> 3;
  if (field < 32 && (known & (1 << field)) !== 0) throw wrongWireType(message, field, tag & 7, r.pos);
  skipField(r, tag, end, message);
}

/** Checks that a message's fields ended exactly at its declared end. */
export function checkEnd(r: Reader, end: number, message: string): void {
  if (r.pos !== end) throw malformed(`${message}: last field runs past the end of the message (offset ${r.pos} > ${end})`);
}

/** Reads a varint as a signed 64-bit integer (proto int64), bounded by `end`. */
export function readInt64(r: Reader, end: number, what: string): bigint {
  const buf = r.buf;
  let p = r.pos;
  let lo = 0;
  let hi = 0;
  let shift = 0;
  let b = 0x80;
  // Low 28 bits.
  for (; shift < 28 && p < end; shift += 7) {
    b = buf[p++]!;
    lo |= (b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  if (b >= 0x80 && p < end) {
    // Bits 28..34 straddle the two halves.
    b = buf[p++]!;
    lo |= (b & 0x7f) << 28;
    hi = (b & 0x7f) >>> 4;
    for (shift = 3; b >= 0x80 && shift < 32 && p < end; shift += 7) {
      b = buf[p++]!;
      hi |= (b & 0x7f) << shift;
    }
  }
  if (b >= 0x80) throw malformed(`${what}: truncated or overlong varint at offset ${r.pos}`);
  r.pos = p;
  lo >>>= 0;
  hi >>>= 0;
  if (hi < 0x200000) return BigInt(hi * 0x100000000 + lo); // fits in 53 bits: one BigInt
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

/** Reads a little-endian fixed64 as an unsigned bigint. */
export function readFixed64(r: Reader, end: number, what: string): bigint {
  const p = r.pos;
  if (p + 8 > end) throw malformed(`${what}: truncated fixed64 at offset ${p}`);
  const b = r.buf;
  const lo = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  const hi = (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
  r.pos = p + 8;
  if (hi < 0x200000) return BigInt(hi * 0x100000000 + lo);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Reads a varint (at most 10 bytes) bounded by `end`, keeping the low 32 bits as unsigned. */
export function readUint32(r: Reader, end: number, what: string): number {
  const buf = r.buf;
  let p = r.pos;
  let v = 0;
  let b = 0x80;
  let i = 0;
  for (; i < 10 && p < end; i++) {
    b = buf[p++]!;
    if (i < 5) v |= (b & 0x7f) << (7 * i);
    if (b < 0x80) break;
  }
  if (b >= 0x80) throw malformed(`${what}: truncated or overlong varint at offset ${r.pos}`);
  r.pos = p;
  return v >>> 0;
}

export function readFixed32(r: Reader, end: number, what: string): number {
  const p = r.pos;
  if (p + 4 > end) throw malformed(`${what}: truncated fixed32 at offset ${p}`);
  const b = r.buf;
  r.pos = p + 4;
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

// ---- writing ----

export function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Writes an unsigned 32-bit varint; returns the new position. */
export function writeVarint(out: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    out[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[pos++] = v;
  return pos;
}
