import { InvalidArgumentError } from './errors.js';

export const TRACE_ID_BYTES = 16;
export const SPAN_ID_BYTES = 8;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
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
