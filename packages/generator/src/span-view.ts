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
  /** Set by the decoder's views: the trace ID as hex (cached across the spans of a trace) and the parent ID's length without a Uint8Array. */
  traceIdHex?(): string;
  readonly parentSpanIdLength?: number;
}

// Hex in one native call (Node's Buffer#hexSlice, what toString('hex') ends in, without its
// encoding dispatch), giving a flat string: Map keys hash it without flattening a concatenation.
const nativeHex = (Buffer.prototype as unknown as { hexSlice?: (start: number, end: number) => string }).hexSlice;
const hexOf = (buf: Uint8Array, start: number, end: number): string =>
  nativeHex !== undefined ? nativeHex.call(buf, start, end) : Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('hex');

/** Hex of the last trace ID seen, kept while the next spans carry the same bytes (a segment is one trace). */
class TraceHex {
  /** The last trace ID's bytes, copied into a reused array (no allocation per trace). */
  private bytes = new Uint8Array(32);
  private length = -1;
  private hex = '';
  of(buf: Uint8Array, start: number, end: number): string {
    const n = end - start;
    let same = n === this.length;
    const bytes = this.bytes;
    for (let i = 0; same && i < n; i++) same = bytes[i] === buf[start + i];
    if (!same) {
      if (n > this.bytes.length) this.bytes = new Uint8Array(n);
      const to = this.bytes;
      for (let i = 0; i < n; i++) to[i] = buf[start + i]!;
      this.length = n;
      this.hex = hexOf(buf, start, end);
    }
    return this.hex;
  }
}

/**
 * One decoded span, as offsets into its segment plus the few fields processors read. The decoder
 * keeps a pool of these and refills them push after push, so decoding allocates nothing per span
 * once the pool is as large as a push (wanted attributes aside). Valid only during the push.
 * IDs are made into Uint8Arrays only when read through the GenSpan getters (tests, filters);
 * processors use traceIdHex() and the offsets (service-graphs' edge store reads the ID bytes in place).
 */
export class SpanView implements GenSpan {
  buf: Uint8Array = NO_BYTES;
  resource: { attributes: KeyValue[] } = NO_RESOURCE;
  traceAt = 0;
  traceEnd = 0;
  spanAt = 0;
  spanEnd = 0;
  parentAt = 0;
  parentEnd = 0;
  name = '';
  kind = 0;
  attributes: KeyValue[] = NO_ATTRIBUTES;
  /** Reused for the span's wanted attributes (attributes points here when there are any). */
  readonly ownAttributes: KeyValue[] = [];
  readonly status = { code: 0, message: '' };
  size = 0;
  startHi = 0;
  startLo = 0;
  endHi = 0;
  endLo = 0;

  constructor(private readonly hex: TraceHex) {}

  get traceId(): Uint8Array {
    return this.buf.subarray(this.traceAt, this.traceEnd);
  }
  get spanId(): Uint8Array {
    return this.buf.subarray(this.spanAt, this.spanEnd);
  }
  get parentSpanId(): Uint8Array {
    return this.parentEnd === this.parentAt ? NO_BYTES : this.buf.subarray(this.parentAt, this.parentEnd);
  }
  get parentSpanIdLength(): number {
    return this.parentEnd - this.parentAt;
  }
  /** This span's trace ID hex ('' until first read). */
  hexOfTrace = '';
  traceIdHex(): string {
    if (this.hexOfTrace === '') this.hexOfTrace = this.hex.of(this.buf, this.traceAt, this.traceEnd);
    return this.hexOfTrace;
  }
  get startTimeUnixNano(): bigint {
    return (BigInt(this.startHi) << 32n) | BigInt(this.startLo);
  }
  get endTimeUnixNano(): bigint {
    return (BigInt(this.endHi) << 32n) | BigInt(this.endLo);
  }
  /** Set once per span by the decoder (every processor reads them, some twice): exact while the duration is below 2^53 ns (104 days), with no BigInt. */
  durationSeconds = 0;
  endUnixMs = 0;

  /** A copy that stays valid after the push (decodeForGenerator, tests). */
  detach(): GenSpan {
    const d = {
      traceId: Uint8Array.prototype.slice.call(this.buf, this.traceAt, this.traceEnd),
      spanId: Uint8Array.prototype.slice.call(this.buf, this.spanAt, this.spanEnd),
      parentSpanId: Uint8Array.prototype.slice.call(this.buf, this.parentAt, this.parentEnd),
      name: this.name,
      kind: this.kind,
      startTimeUnixNano: this.startTimeUnixNano,
      endTimeUnixNano: this.endTimeUnixNano,
      attributes: this.attributes === NO_ATTRIBUTES ? [] : [...this.attributes],
      status: { ...this.status },
      size: this.size,
    };
    // Exact figures without BigInts, as on the view (not enumerable: the span compares equal to a model Span).
    return Object.defineProperties(d, { durationSeconds: { value: this.durationSeconds }, endUnixMs: { value: this.endUnixMs } });
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
const NO_RESOURCE: { attributes: KeyValue[] } = Object.freeze({ attributes: NO_ATTRIBUTES }) as { attributes: KeyValue[] };
const MAX_DEPTH = 32;
const utf8 = new TextDecoder('utf-8', { fatal: false });
const TWO_32 = 4294967296;

/** Bounds of the caches (memory bounded by configuration, never by the traffic): interned strings are direct-mapped (a colliding string replaces an entry), resources start over when full. */
const MAX_INTERNED_SLOTS = 16_384;
const MAX_RESOURCES = 5_000;
/** Strings longer than this are decoded, not interned (URLs, statements: rarely repeated). */
const MAX_INTERNED_BYTES = 128;
/** Span views kept pooled between pushes (a push of more spans uses more, then the pool is trimmed). */
const MAX_POOLED_VIEWS = 20_000;
/** Longest wanted attribute key, in bytes. */
const MAX_WANTED_KEY_BYTES = 1024;
const EMPTY_RESOURCE: { attributes: KeyValue[] } = { attributes: [] };
/** Slots for the values of one wanted key at most. */
const MAX_VALUES_PER_KEY = 4_096;

/** A wanted span attribute key: its bytes, its string and the KeyValues seen with it. */
interface WantedKey {
  bytes: Uint8Array;
  key: string;
  values: ByteCache<KeyValue>;
}

// Hashes are int32 (`| 0`), not uint32 (`>>> 0`): a Map key above 2^31 - 1 is a heap number,
// allocated per lookup and hashed as a double; an int32 is a small integer.
function fnv1a(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h;
}

/** FNV-1a over at most 32 bytes (long ranges are sampled: resources are hundreds of bytes); equality is checked on every hit anyway. */
function sampledHash(buf: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n <= 32) return fnv1a(buf, start, end);
  let h = Math.imul((0x811c9dc5 | 0) ^ n, 0x01000193);
  const step = Math.floor(n / 24);
  for (let i = start; i < end; i += step) h = Math.imul(h ^ buf[i]!, 0x01000193);
  for (let i = end - 8; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h;
}

const bufferCompare = Buffer.prototype.compare;

function sameBytes(a: Uint8Array, buf: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  // Long ranges (resources) natively: one call instead of hundreds of loop steps.
  if (a.length > 48) return bufferCompare.call(a, buf, start, end, 0, a.length) === 0;
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

/**
 * Values found again by their bytes, direct-mapped: one entry per slot, chosen by the hash; a
 * value hashing to a taken slot replaces its entry. A lookup is an index and a byte compare (no
 * Map), memory is bounded by the slots, and a table that keeps replacing grows (up to `maxSlots`)
 * so the distinct values of ordinary traffic each keep a slot.
 */
class ByteCache<V> {
  private hashes: Int32Array;
  private keys: (Uint8Array | undefined)[];
  private values: (V | undefined)[];
  private mask: number;
  private replaced = 0;
  constructor(
    slots: number,
    private readonly maxSlots: number,
  ) {
    this.hashes = new Int32Array(slots);
    this.keys = new Array<Uint8Array | undefined>(slots).fill(undefined);
    this.values = new Array<V | undefined>(slots).fill(undefined);
    this.mask = slots - 1;
  }
  get(buf: Uint8Array, start: number, end: number, hash: number): V | undefined {
    const i = hash & this.mask;
    if (this.hashes[i] !== hash) return undefined;
    const k = this.keys[i];
    return k !== undefined && sameBytes(k, buf, start, end) ? this.values[i] : undefined;
  }
  set(buf: Uint8Array, start: number, end: number, hash: number, value: V): void {
    let i = hash & this.mask;
    if (this.keys[i] !== undefined && ++this.replaced > this.keys.length >> 1 && this.keys.length < this.maxSlots) {
      this.grow();
      i = hash & this.mask;
    }
    this.hashes[i] = hash;
    // A copy: Buffer#slice is a view, which would pin the whole export buffer the segment lives in.
    this.keys[i] = Uint8Array.prototype.slice.call(buf, start, end);
    this.values[i] = value;
  }
  private grow(): void {
    const { hashes, keys, values } = this;
    const n = keys.length * 2;
    this.hashes = new Int32Array(n);
    this.keys = new Array<Uint8Array | undefined>(n).fill(undefined);
    this.values = new Array<V | undefined>(n).fill(undefined);
    this.mask = n - 1;
    this.replaced = 0;
    for (let j = 0; j < keys.length; j++) {
      if (keys[j] === undefined) continue;
      const i = hashes[j]! & this.mask;
      this.hashes[i] = hashes[j]!;
      this.keys[i] = keys[j];
      this.values[i] = values[j];
    }
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

/** The key of `list` (wanted keys of one length) that the bytes [start, end) spell, if any. */
function matchWantedKey(list: readonly WantedKey[], buf: Uint8Array, start: number, end: number): WantedKey | undefined {
  const n = end - start;
  for (let k = 0; k < list.length; k++) {
    const b = list[k]!.bytes;
    // From the end: wanted keys share prefixes (db., network.peer.).
    let i = n - 1;
    while (i >= 0 && b[i] === buf[start + i]) i--;
    if (i < 0) return list[k];
  }
  return undefined;
}

/**
 * Decodes segments for one tenant's processors. Holds the wanted keys (as bytes) and the caches;
 * one per tenant instance, rebuilt when the wanted keys change.
 */
export class SegmentDecoder {
  private readonly w = new Wire();
  /**
   * Wanted span attribute keys by their length in bytes (an index, not a hash, per attribute:
   * most attributes are skipped on their key's length alone, the rest compared byte by byte).
   */
  private readonly wantedByLength: (WantedKey[] | undefined)[] = new Array<WantedKey[] | undefined>(MAX_WANTED_KEY_BYTES + 1).fill(undefined);
  private wantedCount = 0;
  private readonly strings = new ByteCache<string>(256, MAX_INTERNED_SLOTS);
  private readonly resources = new ByteTable<{ attributes: KeyValue[] }>(MAX_RESOURCES);

  constructor(readonly wantedKeys: ReadonlySet<string>) {
    const enc = new TextEncoder();
    for (const k of wantedKeys) {
      const b = enc.encode(k);
      // Keys longer than this (none in practice) are not looked for.
      if (b.length > MAX_WANTED_KEY_BYTES) continue;
      (this.wantedByLength[b.length] ??= []).push({ bytes: b, key: k, values: new ByteCache<KeyValue>(16, MAX_VALUES_PER_KEY) });
      this.wantedCount++;
    }
  }

  private readonly hex = new TraceHex();
  /** Span views, refilled push after push: the spans of the last decodePush() are views[0..count). */
  private readonly pool: SpanView[] = [];
  private count = 0;
  /** Set by decode() only: the resource / scope structure, for callers that want GenBatches. */
  private structure: { resource: { attributes: KeyValue[] }; scopes: number[] }[] | undefined;

  get views(): readonly SpanView[] {
    return this.pool;
  }

  /**
   * Decodes every segment of a push into the pool, all of them before any processor sees a span,
   * so malformed bytes (which throw) refuse the whole push. Returns how many views hold spans;
   * they are valid until release().
   */
  decodePush(segments: readonly { bytes: Uint8Array }[]): number {
    this.release();
    try {
      for (let i = 0; i < segments.length; i++) this.decodeInto(segments[i]!.bytes);
    } catch (err) {
      this.release();
      throw err;
    }
    return this.count;
  }

  /** Drops the views' references to the push's buffers (so a pooled view pins no export). */
  release(): void {
    for (let i = 0; i < this.count; i++) {
      const v = this.pool[i]!;
      v.buf = NO_BYTES;
      v.resource = NO_RESOURCE;
      // ownAttributes is left as it is (refilled by the next span): its KeyValues hold no push bytes.
      v.attributes = NO_ATTRIBUTES;
    }
    this.count = 0;
    // The pool is as large as the largest push; past this it is trimmed back.
    if (this.pool.length > MAX_POOLED_VIEWS) this.pool.length = MAX_POOLED_VIEWS;
  }

  /** A tempopb.Trace (or several concatenated) as detached GenBatches (tests, tools; the generator uses decodePush). Malformed bytes throw. */
  decode(buf: Uint8Array): GenBatch[] {
    const structure: { resource: { attributes: KeyValue[] }; scopes: number[] }[] = [];
    this.structure = structure;
    try {
      this.decodePush([{ bytes: buf }]);
    } finally {
      this.structure = undefined;
    }
    const out: GenBatch[] = [];
    let i = 0;
    for (const rs of structure) out.push({ resource: rs.resource, scopeSpans: rs.scopes.map((n) => ({ spans: Array.from({ length: n }, () => this.pool[i++]!.detach()) })) });
    this.release();
    return out;
  }

  private decodeInto(buf: Uint8Array): void {
    const w = this.w;
    w.reset(buf);
    const end = buf.length;
    while (w.pos < end) {
      const tag = w.varint();
      if (tag !== 0x0a) {
        w.skip(tag & 7, end);
        continue;
      }
      const rsEnd = w.lengthEnd(end);
      let resource: { attributes: KeyValue[] } | undefined;
      const first = this.count;
      const scopes: number[] | undefined = this.structure ? [] : undefined;
      while (w.pos < rsEnd) {
        const t = w.varint();
        if (t === 0x0a) {
          const resEnd = w.lengthEnd(rsEnd);
          resource = this.resource(w.pos, resEnd);
          w.pos = resEnd;
        } else if (t === 0x12) {
          const ssEnd = w.lengthEnd(rsEnd);
          const before = this.count;
          while (w.pos < ssEnd) {
            const st = w.varint();
            if (st === 0x12) {
              const spanEnd = w.lengthEnd(ssEnd);
              let v = this.pool[this.count];
              if (v === undefined) this.pool.push((v = new SpanView(this.hex)));
              this.count++;
              v.buf = buf;
              this.span(v, spanEnd, spanEnd - w.pos);
            } else w.skip(st & 7, ssEnd);
          }
          scopes?.push(this.count - before);
        } else w.skip(t & 7, rsEnd);
      }
      // The resource may come after its spans (legal, if unusual): set it once the message is read.
      const r = resource ?? EMPTY_RESOURCE;
      for (let i = first; i < this.count; i++) this.pool[i]!.resource = r;
      if (scopes) this.structure!.push({ resource: r, scopes });
    }
  }

  /** The decoded resource for these bytes, from the cache when seen before. */
  private resource(start: number, end: number): { attributes: KeyValue[] } {
    const w = this.w;
    const buf = w.buf;
    const hash = sampledHash(buf, start, end);
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

  /** The wanted key these bytes spell, if any. */
  private wantedKey(buf: Uint8Array, start: number, end: number): WantedKey | undefined {
    const n = end - start;
    const list = n <= MAX_WANTED_KEY_BYTES ? this.wantedByLength[n] : undefined;
    return list === undefined ? undefined : matchWantedKey(list, buf, start, end);
  }

  /**
   * A KeyValue whose key is wanted, else undefined (skipped without decoding its key or value).
   * Short values are found again by their bytes, per key: the same attribute (peer.service=cart)
   * is one shared, read-only KeyValue, not two objects per span.
   */
  private wantedKeyValue(end: number): KeyValue | undefined {
    const w = this.w;
    const buf = w.buf;
    let key: WantedKey | undefined;
    let valueAt = -1;
    let valueEnd = -1;
    while (w.pos < end) {
      const tag = w.varint();
      if (tag === 0x0a) {
        const e = w.lengthEnd(end);
        key = this.wantedKey(buf, w.pos, e);
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
    return this.wantedValue(key, valueAt, valueEnd, end);
  }

  /**
   * The attribute whose key is known to be `key`, the rest of its message (from w.pos) holding the
   * value: the fast path of wantedKeyValue for the canonical encoding (key first), taken from the
   * span loop once the key's bytes matched in place. Another key field (legal: the last one wins)
   * hands the whole attribute back to wantedKeyValue.
   */
  private wantedAfterKey(key: WantedKey, start: number, end: number): KeyValue | undefined {
    const w = this.w;
    let valueAt = -1;
    let valueEnd = -1;
    while (w.pos < end) {
      const tag = w.varint();
      if (tag === 0x12) {
        valueEnd = w.lengthEnd(end);
        valueAt = w.pos;
        w.pos = valueEnd;
      } else if (tag === 0x0a) {
        w.pos = start;
        return this.wantedKeyValue(end);
      } else w.skip(tag & 7, end);
    }
    return this.wantedValue(key, valueAt, valueEnd, end);
  }

  /** The shared KeyValue of a wanted key and the value bytes [valueAt, valueEnd) (-1: no value). */
  private wantedValue(key: WantedKey, valueAt: number, valueEnd: number, end: number): KeyValue {
    const w = this.w;
    const buf = w.buf;
    if (valueAt < 0) return { key: key.key, value: {} };
    const short = valueEnd - valueAt <= MAX_INTERNED_BYTES;
    const hash = short ? fnv1a(buf, valueAt, valueEnd) : 0;
    if (short) {
      const hit = key.values.get(buf, valueAt, valueEnd, hash);
      if (hit !== undefined) return hit;
    }
    w.pos = valueAt;
    const kv = { key: key.key, value: this.anyValue(valueEnd, 0) };
    w.pos = end;
    if (short) key.values.set(buf, valueAt, valueEnd, hash, kv);
    return kv;
  }

  /** Fills `v` from the span message ending at `end`. */
  private span(v: SpanView, end: number, size: number): void {
    const w = this.w;
    v.traceAt = v.traceEnd = v.spanAt = v.spanEnd = v.parentAt = v.parentEnd = 0;
    v.name = '';
    v.kind = 0;
    v.startLo = v.startHi = v.endLo = v.endHi = 0;
    v.attributes = NO_ATTRIBUTES;
    const own = v.ownAttributes;
    let owned = 0;
    v.status.code = 0;
    v.status.message = '';
    v.hexOfTrace = '';
    v.size = size;
    const anyWanted = this.wantedCount > 0;
    while (w.pos < end) {
      const tag = w.varint();
      switch (tag) {
        case 0x0a:
          v.traceEnd = w.lengthEnd(end);
          v.traceAt = w.pos;
          w.pos = v.traceEnd;
          break;
        case 0x12:
          v.spanEnd = w.lengthEnd(end);
          v.spanAt = w.pos;
          w.pos = v.spanEnd;
          break;
        case 0x22:
          v.parentEnd = w.lengthEnd(end);
          v.parentAt = w.pos;
          w.pos = v.parentEnd;
          break;
        case 0x2a:
          v.name = this.string(end);
          break;
        case 0x30:
          v.kind = w.varint();
          break;
        case 0x39:
          v.startLo = w.fixed32();
          v.startHi = w.fixed32();
          break;
        case 0x41:
          v.endLo = w.fixed32();
          v.endHi = w.fixed32();
          break;
        case 0x4a: {
          const e = w.lengthEnd(end);
          if (anyWanted) {
            // Every encoder writes the key first; a key under 128 bytes has its length in one
            // byte, so an attribute whose key length no wanted key has is skipped right here.
            // Those of a wanted length are compared in place, and only a match is read further.
            const p = w.pos;
            const buf = w.buf;
            let kv: KeyValue | undefined;
            if (p + 1 < e && buf[p] === 0x0a && buf[p + 1]! < 0x80) {
              const list = this.wantedByLength[buf[p + 1]!];
              const keyEnd = p + 2 + buf[p + 1]!;
              if (list === undefined) kv = undefined;
              else if (keyEnd > e) kv = this.wantedKeyValue(e); // malformed: throws there
              else {
                const key = matchWantedKey(list, buf, p + 2, keyEnd);
                if (key !== undefined) {
                  w.pos = keyEnd;
                  kv = this.wantedAfterKey(key, p, e);
                }
              }
            } else kv = this.wantedKeyValue(e);
            if (kv) {
              own[owned++] = kv;
              v.attributes = own;
            }
          }
          w.pos = e;
          break;
        }
        case 0x7a: {
          const e = w.lengthEnd(end);
          while (w.pos < e) {
            const t = w.varint();
            if (t === 0x12) v.status.message = this.string(e);
            else if (t === 0x18) v.status.code = w.varint();
            else w.skip(t & 7, e);
          }
          break;
        }
        default:
          // trace_state, events, links, counts, flags: not read by any processor.
          w.skip(tag & 7, end);
      }
    }
    if (own.length !== owned) own.length = owned;
    if (w.pos !== end) throw new RangeError('Span overruns its length');
    // The halves' difference needs no BigInt; a negative duration counts as 0.
    const d = (v.endHi - v.startHi) * TWO_32 + (v.endLo - v.startLo);
    v.durationSeconds = d > 0 ? d / 1e9 : 0;
    v.endUnixMs = (v.endHi * TWO_32 + v.endLo) / 1e6;
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
