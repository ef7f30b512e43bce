import { InvalidArgumentError } from './errors.js';

export const TRACE_ID_BYTES = 16;
export const SPAN_ID_BYTES = 8;

const HEX_DIGIT_CODES = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
/** Longest input converted through character codes; longer ones go through Buffer. */
const MAX_CODE_BYTES = 32;
/** Scratch character codes by input length (reused: fromCharCode copies them). */
const hexCodes: number[][] = Array.from({ length: MAX_CODE_BYTES + 1 }, (_, n) => new Array<number>(n * 2).fill(0));

/**
 * Lowercase hex. Built in one flat string: appending two digits at a time left each 32-digit key a
 * tree of ~10 cons-strings, and the ingester's maps of live traces held hundreds of thousands of
 * them for the garbage collector to walk (half the server's GC marking under load).
 */
export function bytesToHex(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n > MAX_CODE_BYTES) return Buffer.from(bytes.buffer, bytes.byteOffset, n).toString('hex');
  const codes = hexCodes[n]!;
  for (let i = 0; i < n; i++) {
    codes[2 * i] = HEX_DIGIT_CODES[bytes[i]! >> 4]!;
    codes[2 * i + 1] = HEX_DIGIT_CODES[bytes[i]! & 15]!;
  }
  return String.fromCharCode.apply(null, codes);
}

/** Strict hex (even length) to bytes; throws InvalidArgumentError naming `what`. */
export function hexToBytes(hex: string, what = 'id'): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new InvalidArgumentError(`${what} ${JSON.stringify(hex)} is not a valid hex string`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

/**
 * Parses a trace ID as the query API accepts it: up to 32 hex digits, left-padded with zeros
 * (Tempo accepts IDs whose leading zeros were trimmed).
 */
export function parseTraceIdParam(value: string): Uint8Array {
  if (value.length === 0 || value.length > 32 || !/^[0-9a-fA-F]+$/.test(value)) {
    throw new InvalidArgumentError(`invalid trace ID ${JSON.stringify(value)}: expected 1 to 32 hex digits`);
  }
  const id = hexToBytes(value.padStart(32, '0'), 'trace ID');
  if (isAllZero(id)) throw new InvalidArgumentError('invalid trace ID: all zeros');
  return id;
}

export function isAllZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic byte comparison, the order of trace IDs in blocks. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * FNV-1 32-bit hash of a trace ID: Tempo's TokenForTraceID. Used for ring tokens and for
 * choosing a bloom-filter shard, so both agree with Tempo's placement.
 */
export function tokenForTraceId(traceId: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < traceId.length; i++) {
    h = Math.imul(h, 0x01000193) >>> 0;
    h = (h ^ traceId[i]!) >>> 0;
  }
  return h >>> 0;
}

/**
 * Whether a ring token falls in one of the inclusive [start, end] pairs of `ranges` (sorted, as
 * the querier hands a replica its share of the ring).
 */
export function inTokenRanges(ranges: readonly number[], token: number): boolean {
  let lo = 0;
  let hi = ranges.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ranges[mid * 2 + 1]! < token) lo = mid + 1;
    else hi = mid;
  }
  return lo < ranges.length / 2 && ranges[lo * 2]! <= token && token <= 0xffff_ffff;
}
