// The generator's own decode of trace segments (tempopb.Trace bytes): only what the processors
// read, with as little allocation per span as JavaScript allows, because it runs over every span
// ingested (bench/src/generator.ts, `bench:ingest --generator 1`):
// - a span attribute is kept only when its key is wanted (dimensions, peer and database
//   attributes, filter keys, the multiplier key); keys are compared as bytes, so an unwanted
//   attribute is skipped without building a string;
// - strings that repeat (span names, wanted keys and values) are interned by their bytes, so the
//   same name is one string object (its hash computed once for every Map it keys);
// - a resource is decoded once: segments of the same service repeat the same resource bytes, and
//   the decoded resource (shared, read-only) is found again by those bytes;
// - trace, span and parent IDs are views into the segment, valid only during pushSpans (no
//   processor keeps them: they keep hex strings);
// - events and links are skipped unread; a span's size is its encoded length, as Tempo's span.Size().

import type { AnyValue, KeyValue } from '@andante/model';

/** What a processor reads of a span. A full @andante/model Span with `size` fits too. */
export interface GenSpan {
  /** A view into the segment: valid only during pushSpans. */
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: KeyValue[];
  status: { code: number; message: string };
  /** Encoded size of the span message in bytes. */
  size: number;
  /** Set by the decoder, exact, so readers need no BigInt: duration in seconds (negative counts as 0), end in ms since the epoch. */
  readonly durationSeconds?: number;
  readonly endUnixMs?: number;
}

/**
 * A decoded span. Timestamps stay as their two 32-bit halves: the BigInts of the GenSpan
 * interface are made only when read (service-graphs' messaging latency), not for every span.
 */
class DecodedSpan implements GenSpan {
  constructor(
    public traceId: Uint8Array,
    public spanId: Uint8Array,
    public parentSpanId: Uint8Array,
    public name: string,
    public kind: number,
    public attributes: KeyValue[],
    public status: { code: number; message: string },
    public size: number,
    private readonly startHi: number,
    private readonly startLo: number,
    private readonly endHi: number,
    private readonly endLo: number,
  ) {}
  get startTimeUnixNano(): bigint {
    return (BigInt(this.startHi) << 32n) | BigInt(this.startLo);
  }
  get endTimeUnixNano(): bigint {
    return (BigInt(this.endHi) << 32n) | BigInt(this.endLo);
  }
  get durationSeconds(): number {
    // Exact while the duration is below 2^53 ns (104 days); the halves' difference needs no BigInt.
    const d = (this.endHi - this.startHi) * TWO_32 + (this.endLo - this.startLo);
    return d > 0 ? d / 1e9 : 0;
  }
  get endUnixMs(): number {
    return (this.endHi * TWO_32 + this.endLo) / 1e6;
  }
}

/** Spans of one resource (every resource attribute is kept: target_info needs them all). The resource object is shared between segments: read-only. */
export interface GenBatch {
  resource: { attributes: KeyValue[] };
  scopeSpans: { spans: GenSpan[] }[];
}

const NO_BYTES: Uint8Array = new Uint8Array(0);
// Shared by every span without a wanted attribute; frozen, so a processor writing to it fails loudly.
const NO_ATTRIBUTES = Object.freeze([]) as unknown as KeyValue[];
const MAX_DEPTH = 32;
const utf8 = new TextDecoder('utf-8', { fatal: false });
const TWO_32 = 4294967296;

/** Bounds of the caches: beyond them a cache is emptied and refilled (memory bounded by configuration, never by the traffic). */
const MAX_INTERNED = 10_000;
const MAX_RESOURCES = 5_000;
/** Strings longer than this are decoded, not interned (URLs, statements: rarely repeated). */
const MAX_INTERNED_BYTES = 128;

function fnv1a(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}

function sameBytes(a: Uint8Array, buf: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[start + i]) return false;
  return true;
}

/** Values found again by their bytes: hash -> entries with that hash (collisions compared byte by byte). */
class ByteTable<V> {
  private readonly map = new Map<number, { bytes: Uint8Array; value: V }[]>();
  private count = 0;
  constructor(private readonly max: number) {}
  get(buf: Uint8Array, start: number, end: number, hash: number): V | undefined {
    const list = this.map.get(hash);
    if (list === undefined) return undefined;
    for (let i = 0; i < list.length; i++) if (sameBytes(list[i]!.bytes, buf, start, end)) return list[i]!.value;
    return undefined;
  }
  set(buf: Uint8Array, start: number, end: number, hash: number, value: V): void {
    if (this.count >= this.max) {
      this.map.clear();
      this.count = 0;
    }
    // A copy: Buffer#slice is a view, which would pin the whole export buffer the segment lives in.
    const entry = { bytes: Uint8Array.prototype.slice.call(buf, start, end), value };
    const list = this.map.get(hash);
    if (list === undefined) this.map.set(hash, [entry]);
    else list.push(entry);
    this.count++;
  }
}

/** A cursor over protobuf wire bytes; every read checks its bounds (malformed bytes throw). */
class Wire {
  pos = 0;
  end = 0;
  buf: Uint8Array = NO_BYTES;

  reset(buf: Uint8Array): void {
    this.buf = buf;
    this.pos = 0;
    this.end = buf.length;
  }

  varint(): number {
    const buf = this.buf;
    let pos = this.pos;
    let b = buf[pos++]!;
    let v = b & 0x7f;
    if (b >= 0x80) {
      b = buf[pos++]!;
      v |= (b & 0x7f) << 7;
      if (b >= 0x80) {
        b = buf[pos++]!;
        v |= (b & 0x7f) << 14;
        if (b >= 0x80) {
          b = buf[pos++]!;
          v |= (b & 0x7f) << 21;
          if (b >= 0x80) {
            // Bits 28 and up: as a double (lengths and enums never get there; int64 values may).
            b = buf[pos++]!;
            let hi = (b & 0x7f) * 268435456;
            let mul = 268435456 * 128;
            while (b >= 0x80) {
              if (pos - this.pos >= 10) throw new RangeError('varint too long');
              b = buf[pos++]!;
              hi += (b & 0x7f) * mul;
              mul *= 128;
            }
            if (pos > this.end) throw new RangeError('index out of range');
            this.pos = pos;
            return (v >>> 0) + hi;
          }
        }
      }
    }
    if (pos > this.end) throw new RangeError('index out of range');
    this.pos = pos;
    return v >>> 0;
  }

  /** A length-delimited field's end, checked against the enclosing end. */
  lengthEnd(limit: number): number {
    const len = this.varint();
    const e = this.pos + len;
    if (e > limit) throw new RangeError('index out of range');
    return e;
  }

  /** An unsigned 32-bit little-endian word (a fixed64 is two: low, then high). */
  fixed32(): number {
    const buf = this.buf;
    const p = this.pos;
    if (p + 4 > this.end) throw new RangeError('index out of range');
    this.pos = p + 4;
    return (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new RangeError('index out of range');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  skip(wireType: number, limit: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        break;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.lengthEnd(limit);
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new RangeError(`invalid wire type ${wireType}`);
    }
    if (this.pos > limit) throw new RangeError('index out of range');
  }
}

/**
 * Decodes segments for one tenant's processors. Holds the wanted keys (as bytes) and the caches;
 * one per tenant instance, rebuilt when the wanted keys change.
 */
export class SegmentDecoder {
  private readonly w = new Wire();
  /** Wanted span attribute keys by their UTF-8 bytes -> the key string. */
  private readonly wanted = new ByteTable<string>(Infinity);
  private readonly wantedLengths = new Set<number>();
  private readonly strings = new ByteTable<string>(MAX_INTERNED);
  private readonly resources = new ByteTable<{ attributes: KeyValue[] }>(MAX_RESOURCES);

  constructor(readonly wantedKeys: ReadonlySet<string>) {
    const enc = new TextEncoder();
    for (const k of wantedKeys) {
      const b = enc.encode(k);
      this.wanted.set(b, 0, b.length, fnv1a(b, 0, b.length), k);
      this.wantedLengths.add(b.length);
    }
  }

  /** A tempopb.Trace (or several concatenated) in the processors' view. Malformed bytes throw; the caller counts the failure. */
  decode(buf: Uint8Array): GenBatch[] {
    const w = this.w;
    w.reset(buf);
    const out: GenBatch[] = [];
    const end = buf.length;
    while (w.pos < end) {
      const tag = w.varint();
      if (tag !== 0x0a) {
        w.skip(tag & 7, end);
        continue;
      }
      const rsEnd = w.lengthEnd(end);
      let resource: { attributes: KeyValue[] } | undefined;
      const scopeSpans: { spans: GenSpan[] }[] = [];
      while (w.pos < rsEnd) {
        const t = w.varint();
        if (t === 0x0a) {
          const resEnd = w.lengthEnd(rsEnd);
          resource = this.resource(w.pos, resEnd);
          w.pos = resEnd;
        } else if (t === 0x12) {
          const ssEnd = w.lengthEnd(rsEnd);
          const spans: GenSpan[] = [];
          while (w.pos < ssEnd) {
            const st = w.varint();
            if (st === 0x12) {
              const spanEnd = w.lengthEnd(ssEnd);
              spans.push(this.span(spanEnd, spanEnd - w.pos));
            } else w.skip(st & 7, ssEnd);
          }
          scopeSpans.push({ spans });
        } else w.skip(t & 7, rsEnd);
      }
      out.push({ resource: resource ?? { attributes: [] }, scopeSpans });
    }
    return out;
  }

  /** The decoded resource for these bytes, from the cache when seen before. */
  private resource(start: number, end: number): { attributes: KeyValue[] } {
    const w = this.w;
    const buf = w.buf;
    const hash = fnv1a(buf, start, end);
    const cached = this.resources.get(buf, start, end, hash);
    if (cached) return cached;
    const attributes: KeyValue[] = [];
    w.pos = start;
    while (w.pos < end) {
      const t = w.varint();
      if (t === 0x0a) {
        const e = w.lengthEnd(end);
        attributes.push(this.keyValue(e, 0));
        w.pos = e;
      } else w.skip(t & 7, end);
    }
    const res = { attributes };
    this.resources.set(buf, start, end, hash, res);
    return res;
  }

  private string(end: number): string {
    const w = this.w;
    const e = w.lengthEnd(end);
    const s = this.stringAt(w.pos, e);
    w.pos = e;
    return s;
  }

  private stringAt(start: number, end: number): string {
    const buf = this.w.buf;
    const n = end - start;
    if (n === 0) return '';
    if (n > MAX_INTERNED_BYTES) return utf8.decode(buf.subarray(start, end));
    const hash = fnv1a(buf, start, end);
    let s = this.strings.get(buf, start, end, hash);
    if (s === undefined) {
      s = utf8.decode(buf.subarray(start, end));
      this.strings.set(buf, start, end, hash, s);
    }
    return s;
  }

  private bytesView(end: number): Uint8Array {
    const w = this.w;
    const e = w.lengthEnd(end);
    const v = w.buf.subarray(w.pos, e);
    w.pos = e;
    return v;
  }

  private anyValue(end: number, depth: number): AnyValue {
    if (depth > MAX_DEPTH) throw new Error('AnyValue nested too deeply');
    const w = this.w;
    let v: AnyValue = {};
    while (w.pos < end) {
      const tag = w.varint();
      switch (tag) {
        case 0x0a:
          v = { stringValue: this.string(end) };
          break;
        case 0x10:
          v = { boolValue: w.varint() !== 0 };
          break;
        case 0x18:
          v = { intValue: this.int64() };
          break;
        case 0x21:
          v = { doubleValue: w.double() };
          break;
        case 0x2a: {
          const e = w.lengthEnd(end);
          const values: AnyValue[] = [];
          while (w.pos < e) {
            const t = w.varint();
            if (t === 0x0a) {
              const ve = w.lengthEnd(e);
              values.push(this.anyValue(ve, depth + 1));
              w.pos = ve;
            } else w.skip(t & 7, e);
          }
          v = { arrayValue: { values } };
          break;
        }
        case 0x32: {
          const e = w.lengthEnd(end);
          const values: KeyValue[] = [];
          while (w.pos < e) {
            const t = w.varint();
            if (t === 0x0a) {
              const ke = w.lengthEnd(e);
              values.push(this.keyValue(ke, depth + 1));
              w.pos = ke;
            } else w.skip(t & 7, e);
          }
          v = { kvlistValue: { values } };
          break;
        }
        case 0x3a:
          v = { bytesValue: Uint8Array.prototype.slice.call(this.bytesView(end)) };
          break;
        default:
          w.skip(tag & 7, end);
      }
    }
    if (w.pos !== end) throw new RangeError('AnyValue overruns its length');
    return v;
  }

  /** int64 as a two's-complement varint, exactly. */
  private int64(): bigint {
    const w = this.w;
    const buf = w.buf;
    let pos = w.pos;
    let v = 0n;
    let shift = 0n;
    for (let i = 0; ; i++) {
      if (i >= 10 || pos >= w.end) throw new RangeError('bad varint');
      const b = buf[pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (b < 0x80) break;
    }
    w.pos = pos;
    return BigInt.asIntN(64, v);
  }

  private keyValue(end: number, depth: number): KeyValue {
    const w = this.w;
    let key = '';
    let value: AnyValue = {};
    while (w.pos < end) {
      const tag = w.varint();
      if (tag === 0x0a) key = this.string(end);
      else if (tag === 0x12) {
        const e = w.lengthEnd(end);
        value = this.anyValue(e, depth);
        w.pos = e;
      } else w.skip(tag & 7, end);
    }
    return { key, value };
  }

  /** A KeyValue whose key is wanted, else undefined (skipped without decoding its key or value). */
  private wantedKeyValue(end: number): KeyValue | undefined {
    const w = this.w;
    let key: string | undefined;
    let valueAt = -1;
    let valueEnd = -1;
    while (w.pos < end) {
      const tag = w.varint();
      if (tag === 0x0a) {
        const e = w.lengthEnd(end);
        const n = e - w.pos;
        key = this.wantedLengths.has(n) ? this.wanted.get(w.buf, w.pos, e, fnv1a(w.buf, w.pos, e)) : undefined;
        if (key === undefined) return undefined;
        w.pos = e;
      } else if (tag === 0x12) {
        // The value may come before the key (legal, if unusual): remember where it is.
        valueEnd = w.lengthEnd(end);
        valueAt = w.pos;
        w.pos = valueEnd;
      } else w.skip(tag & 7, end);
    }
    if (key === undefined) return undefined;
    let value: AnyValue = {};
    if (valueAt >= 0) {
      w.pos = valueAt;
      value = this.anyValue(valueEnd, 0);
      w.pos = end;
    }
    return { key, value };
  }

  private span(end: number, size: number): GenSpan {
    const w = this.w;
    let traceId: Uint8Array = NO_BYTES;
    let spanId: Uint8Array = NO_BYTES;
    let parentSpanId: Uint8Array = NO_BYTES;
    let name = '';
    let kind = 0;
    let startLo = 0;
    let startHi = 0;
    let endLo = 0;
    let endHi = 0;
    let attributes = NO_ATTRIBUTES;
    let code = 0;
    let message = '';
    const anyWanted = this.wantedLengths.size > 0;
    while (w.pos < end) {
      const tag = w.varint();
      switch (tag) {
        case 0x0a:
          traceId = this.bytesView(end);
          break;
        case 0x12:
          spanId = this.bytesView(end);
          break;
        case 0x22:
          parentSpanId = this.bytesView(end);
          break;
        case 0x2a:
          name = this.string(end);
          break;
        case 0x30:
          kind = w.varint();
          break;
        case 0x39:
          startLo = w.fixed32();
          startHi = w.fixed32();
          break;
        case 0x41:
          endLo = w.fixed32();
          endHi = w.fixed32();
          break;
        case 0x4a: {
          const e = w.lengthEnd(end);
          if (anyWanted) {
            const kv = this.wantedKeyValue(e);
            if (kv) {
              if (attributes === NO_ATTRIBUTES) attributes = [];
              attributes.push(kv);
            }
          }
          w.pos = e;
          break;
        }
        case 0x7a: {
          const e = w.lengthEnd(end);
          while (w.pos < e) {
            const t = w.varint();
            if (t === 0x12) message = this.string(e);
            else if (t === 0x18) code = w.varint();
            else w.skip(t & 7, e);
          }
          break;
        }
        default:
          // trace_state, events, links, counts, flags: not read by any processor.
          w.skip(tag & 7, end);
      }
    }
    if (w.pos !== end) throw new RangeError('Span overruns its length');
    return new DecodedSpan(traceId, spanId, parentSpanId, name, kind, attributes, { code, message }, size, startHi, startLo, endHi, endLo);
  }
}

/** Decodes with a one-off decoder (tests; the generator keeps one per tenant for its caches). */
export function decodeForGenerator(buf: Uint8Array, wantedSpanAttributes: ReadonlySet<string>): GenBatch[] {
  return new SegmentDecoder(wantedSpanAttributes).decode(buf);
}

/** Span attribute keys any configured processor reads. */
export function wantedSpanAttributes(cfg: {
  span_metrics: { dimensions: string[]; dimension_mappings: { source_labels: string[] }[]; span_multiplier_key: string; filter_policies: { include?: { attributes: { key: string }[] }; exclude?: { attributes: { key: string }[] } }[] };
  service_graphs: { dimensions: string[]; peer_attributes: string[]; database_name_attributes: string[]; span_multiplier_key: string };
}): Set<string> {
  const sm = cfg.span_metrics;
  const sg = cfg.service_graphs;
  const keys = new Set<string>([...sm.dimensions, ...sm.dimension_mappings.flatMap((m) => m.source_labels), ...sg.dimensions, ...sg.peer_attributes, ...sg.database_name_attributes]);
  for (const k of ['peer.service', 'server.address', 'network.peer.address', 'network.peer.port']) keys.add(k);
  if (sm.span_multiplier_key) keys.add(sm.span_multiplier_key);
  if (sg.span_multiplier_key) keys.add(sg.span_multiplier_key);
  for (const p of sm.filter_policies) {
    for (const a of [...(p.include?.attributes ?? []), ...(p.exclude?.attributes ?? [])]) if (a.key.startsWith('span.')) keys.add(a.key.slice('span.'.length));
  }
  return keys;
}
