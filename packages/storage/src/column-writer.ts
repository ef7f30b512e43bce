// Our Parquet column writer for the fixed block schema (issue 14): each leaf column is written
// straight from the row-group buffer's leaf arrays (typed arrays for numbers and levels, one JS
// array per string/bytes leaf), with no generic Dremel pass, no per-value arrays rebuilt per
// column and no per-value TextEncoder. The choices it makes (dictionary or not, page cuts, RLE /
// bit-packed runs, statistics, page and chunk metadata) are hyparquet-writer 0.17.0's, so the
// bytes are the same as the previous encoder's for the same rows (block-columns.test.ts checks
// that); page headers, page indexes and the footer reuse hyparquet-writer's thrift helpers.

import { endianness } from 'node:os';
import { ByteWriter } from 'hyparquet-writer';
import type { ColumnChunk, CompressionCodec, Encoding, FileMetaData, KeyValue, OffsetIndex, RowGroup, SchemaElement } from 'hyparquet';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { deltaLengthByteArray } from 'hyparquet-writer/src/delta.js';
import { writeIndexes } from 'hyparquet-writer/src/indexes.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import type { Compressor } from './block-codecs.js';

/** One leaf column of a schema: its path, element and levels. */
export interface LeafSpec {
  /** Dotted path, e.g. `attrs_str.list.element.key`. */
  key: string;
  path: string[];
  element: SchemaElement;
  maxDef: number;
  maxRep: number;
}

/** The leaves of a flattened schema, depth-first (file order). */
export function leafSpecs(schema: readonly SchemaElement[]): LeafSpec[] {
  const out: LeafSpec[] = [];
  let i = 1;
  const walk = (path: string[], def: number, rep: number): void => {
    const e = schema[i++]!;
    const p = [...path, e.name];
    const d = def + (e.repetition_type === 'OPTIONAL' || e.repetition_type === 'REPEATED' ? 1 : 0);
    const r = rep + (e.repetition_type === 'REPEATED' ? 1 : 0);
    if (e.num_children) {
      for (let c = 0; c < e.num_children; c++) walk(p, d, r);
    } else {
      out.push({ key: p.join('.'), path: p, element: e, maxDef: d, maxRep: r });
    }
  };
  while (i < schema.length) walk([], 0, 0);
  return out;
}

/**
 * One leaf's values for a row group, one slot per level entry (slot-dense): a null slot (an
 * absent optional value, an empty list) has def < maxDef and any value (undefined in JS arrays).
 */
export type LeafValues =
  | { kind: 'i32'; data: Int32Array }
  | { kind: 'i64'; data: BigInt64Array }
  | { kind: 'f64'; data: Float64Array }
  | { kind: 'bool'; data: Uint8Array }
  | { kind: 'str'; data: readonly (string | undefined | null)[] }
  | { kind: 'bytes'; data: readonly (Uint8Array | undefined | null)[] };

export interface LeafChunk {
  values: LeafValues;
  /** Slots. */
  n: number;
  def: Uint8Array | null;
  rep: Uint8Array | null;
}

export interface LeafWrite {
  /** An explicit encoding (no dictionary); unset: dictionary when it pays, else PLAIN. */
  encoding?: Encoding;
  codec: CompressionCodec;
  /** This leaf's compressor for `codec` (a Brotli quality of its own); unset: the file's for the codec. */
  compressor?: Compressor;
  statistics: boolean;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** A growable byte buffer on a Buffer (fast UTF-8 writes), reused across pages. */
class Bytes {
  buf = Buffer.allocUnsafe(64 * 1024);
  n = 0;

  reset(): void {
    this.n = 0;
  }

  ensure(extra: number): void {
    if (this.n + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + extra));
    this.buf.copy(next, 0, 0, this.n);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.n++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.n);
    this.n += 4;
  }

  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32LE(v, this.n);
    this.n += 4;
  }

  i64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64LE(v, this.n);
    this.n += 8;
  }

  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.n);
    this.n += 8;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.byteLength);
    this.buf.set(b, this.n);
    this.n += b.byteLength;
  }

  varint(v: number): void {
    while (v > 0x7f) {
      this.u8((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    this.u8(v);
  }

  /** A BYTE_ARRAY value: 4-byte length, then the UTF-8 bytes. */
  lengthPrefixedString(s: string): void {
    const max = s.length * 3;
    this.ensure(4 + max);
    const len = this.buf.write(s, this.n + 4, 'utf8');
    this.buf.writeUInt32LE(len, this.n);
    this.n += 4 + len;
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.n);
  }
}

/**
 * RLE / bit-packed hybrid of values[0..count) at `bitWidth` (hyparquet-writer's run choice: a run
 * of 8 or more equal values is RLE, otherwise groups of 8 are bit-packed).
 */
function writeRleBitPackedHybrid(out: Bytes, values: ArrayLike<number>, count: number, bitWidth: number): number {
  const start = out.n;
  let pendingGroups = 0;
  let packedStart = 0;
  let i = 0;
  while (i < count) {
    const first = values[i]!;
    let run = 1;
    while (i + run < count && values[i + run] === first) run++;
    if (run >= 8) {
      if (pendingGroups) {
        writeBitPacked(out, values, count, packedStart, pendingGroups, bitWidth);
        pendingGroups = 0;
      }
      out.varint(run << 1);
      const width = (bitWidth + 7) >> 3;
      for (let j = 0; j < width; j++) out.u8((first >> (j << 3)) & 0xff);
      i += run;
    } else {
      if (pendingGroups === 0) packedStart = i;
      pendingGroups++;
      i += 8;
    }
  }
  if (pendingGroups) writeBitPacked(out, values, count, packedStart, pendingGroups, bitWidth);
  return out.n - start;
}

function writeBitPacked(out: Bytes, values: ArrayLike<number>, count: number, start: number, groups: number, bitWidth: number): void {
  out.varint((groups << 1) | 1);
  if (bitWidth === 0) return;
  const mask = (1 << bitWidth) - 1;
  let buffer = 0;
  let used = 0;
  const total = groups * 8;
  out.ensure(groups * bitWidth + 1);
  for (let k = 0; k < total; k++) {
    const idx = start + k;
    const v = idx < count ? values[idx]! & mask : 0;
    buffer |= v << used;
    used += bitWidth;
    while (used >= 8) {
      out.buf[out.n++] = buffer & 0xff;
      buffer >>>= 8;
      used -= 8;
    }
  }
  if (used > 0) out.buf[out.n++] = buffer & 0xff;
}

function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type Value = number | bigint | string | Uint8Array | boolean;

function valueAt(v: LeafValues, i: number): Value | undefined {
  const x = v.data[i];
  return v.kind === 'bool' ? x === 1 : (x ?? undefined);
}

/** hyparquet-writer's size estimate of one value (page cuts and the dictionary decision). */
function estimateSize(v: LeafValues, x: Value | undefined, typeLength: number | undefined): number {
  if (x === undefined) return 0;
  switch (v.kind) {
    case 'bool':
      return 0.125;
    case 'i32':
      return 4;
    case 'i64':
    case 'f64':
      return 8;
    case 'str':
      return (x as string).length;
    case 'bytes':
      return typeLength ?? (x as Uint8Array).byteLength;
  }
}

interface Dictionary {
  values: Value[];
  /** Per slot: the value's index, -1 for a null slot. */
  indexes: Int32Array;
}

const SAMPLE_REJECTION_RATIO = 0.9;

/**
 * hyparquet-writer's useDictionary: sample, then build, keep when it at least halves the plain
 * bytes. The indexes go to `scratch` (at least n long, reused: a fresh array per leaf per row
 * group was young-generation garbage).
 */
function buildDictionary(leaf: LeafSpec, chunk: LeafChunk, isNull: (i: number) => boolean, scratch: Int32Array): Dictionary | null {
  const { values: v, n } = chunk;
  if (v.kind === 'bool') return null;
  const type = leaf.element.type;
  const typeLength = type === 'FIXED_LEN_BYTE_ARRAY' ? leaf.element.type_length : undefined;
  const prefix = type === 'BYTE_ARRAY' ? 4 : 0;

  const sampleSize = Math.min(n, 1000);
  const sampleSizes = new Map<unknown, number>();
  let sampleDict = 0;
  let sampleTotal = 0;
  for (let i = 0; i < sampleSize; i++) {
    const at = sampleSize === 1 ? 0 : Math.floor((i * (n - 1)) / (sampleSize - 1));
    const x = isNull(at) ? undefined : valueAt(v, at);
    const key = x instanceof Uint8Array ? hashBytes(x) : x;
    let size = sampleSizes.get(key);
    if (size === undefined) {
      size = estimateSize(v, x, typeLength) + (x === undefined ? 0 : prefix);
      sampleSizes.set(key, size);
      sampleDict += size;
    }
    sampleTotal += size;
  }
  if (!sampleTotal || sampleDict / sampleTotal > SAMPLE_REJECTION_RATIO) return null;

  const dictionary: Value[] = [];
  const indexes = scratch.subarray(0, n);
  let dictSize = 0;
  let totalSize = 0;
  let nonNull = 0;
  if (v.kind === 'bytes') {
    const byObject = new Map<Uint8Array, number>();
    const buckets = new Map<number, number[]>();
    const data = v.data;
    for (let i = 0; i < n; i++) {
      const x = isNull(i) ? undefined : data[i];
      if (x === undefined || x === null) {
        indexes[i] = -1;
        continue;
      }
      nonNull++;
      totalSize += x.byteLength;
      let index = byObject.get(x);
      if (index === undefined) {
        const hash = hashBytes(x);
        const bucket = buckets.get(hash);
        if (bucket) {
          for (const j of bucket) {
            if (bytesEqual(dictionary[j] as Uint8Array, x)) {
              index = j;
              break;
            }
          }
        }
        if (index === undefined) {
          dictSize += x.byteLength;
          index = dictionary.length;
          dictionary.push(x);
          if (bucket) bucket.push(index);
          else buckets.set(hash, [index]);
        }
        byObject.set(x, index);
      }
      indexes[i] = index;
    }
  } else if (v.kind === 'i64') {
    // Keyed by the value's two 32-bit words (a number when exact, else a string), not a BigInt
    // per slot; equal words are equal values, as hyparquet-writer's bigint keys. A run of equal
    // values (trace columns repeat on every span of a trace) skips the lookup.
    const words = new Int32Array(v.data.buffer, v.data.byteOffset, v.data.length * 2);
    const byValue = new Map<number | string, number>();
    let prevLo = 0;
    let prevHi = 0;
    let prevIndex = -1;
    for (let i = 0; i < n; i++) {
      if (isNull(i)) {
        indexes[i] = -1;
        continue;
      }
      nonNull++;
      totalSize += 8;
      const lo = words[2 * i]!;
      const hi = words[2 * i + 1]!;
      if (prevIndex >= 0 && lo === prevLo && hi === prevHi) {
        indexes[i] = prevIndex;
        continue;
      }
      const key = hi >= -0x200000 && hi < 0x200000 ? hi * 4294967296 + (lo >>> 0) : `${hi}:${lo}`;
      let index = byValue.get(key);
      if (index === undefined) {
        dictSize += 8;
        index = dictionary.length;
        dictionary.push(v.data[i]!);
        byValue.set(key, index);
      }
      indexes[i] = prevIndex = index;
      prevLo = lo;
      prevHi = hi;
    }
  } else {
    const byValue = new Map<unknown, number>();
    const sizes: number[] = [];
    let prev: Value | undefined;
    let prevIndex = -1;
    for (let i = 0; i < n; i++) {
      const x = isNull(i) ? undefined : valueAt(v, i);
      if (x === undefined || x === null) {
        indexes[i] = -1;
        continue;
      }
      nonNull++;
      // A run of the same value (SameValueZero, as the Map) skips the lookup.
      let index = prevIndex >= 0 && (x === prev || (x !== x && prev !== prev)) ? prevIndex : byValue.get(x);
      if (index === undefined) {
        const size = estimateSize(v, x, typeLength);
        totalSize += size;
        dictSize += size;
        index = dictionary.length;
        dictionary.push(x);
        sizes[index] = size;
        byValue.set(x, index);
      } else {
        totalSize += sizes[index]!;
      }
      indexes[i] = prevIndex = index;
      prev = x;
    }
  }
  const bitWidth = Math.ceil(Math.log2(dictionary.length));
  const indexSize = Math.ceil((nonNull * bitWidth) / 8);
  const plainSize = totalSize + nonNull * prefix;
  const dictionaryValueSize = dictSize + dictionary.length * prefix;
  if (2 * (dictionaryValueSize + indexSize) > plainSize) return null;
  return { values: dictionary, indexes };
}

/** UTF-8 (code point) order of two strings, as Parquet orders BYTE_ARRAY statistics. */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const len = Math.min(a.length, b.length);
  let i = 0;
  while (i < len && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i > 0) {
    const prev = a.charCodeAt(i - 1);
    if (prev >= 0xd800 && prev <= 0xdbff) i--;
  }
  while (i < a.length && i < b.length) {
    const x = codePoint(a, i);
    const y = codePoint(b, i);
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

function codePoint(s: string, i: number): number {
  const c = s.codePointAt(i) ?? 0xfffd;
  return c >= 0xd800 && c <= 0xdfff ? 0xfffd : c;
}

function compareValues(a: Value, b: Value): number {
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    const len = Math.min(a.length, b.length);
    for (let i = 0; i < len; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return a.length - b.length;
  }
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Statistics {
  min_value: Value | undefined;
  max_value: Value | undefined;
  null_count: bigint;
  nan_count: bigint | undefined;
}

function statistics(candidates: Iterable<Value | undefined>, nulls: number, isFloat: boolean): Statistics {
  let min: Value | undefined;
  let max: Value | undefined;
  let nan = 0n;
  for (const x of candidates) {
    if (x === undefined) continue;
    if (typeof x === 'number' && Number.isNaN(x)) {
      nan++;
      continue;
    }
    if (min === undefined || compareValues(x, min) < 0) min = x;
    if (max === undefined || compareValues(x, max) > 0) max = x;
  }
  if (min === 0) min = -0;
  if (max === 0) max = 0;
  return { min_value: min, max_value: max, null_count: BigInt(nulls), nan_count: isFloat ? nan : undefined };
}

/** Min/max of INT64 slots compared as words (signed high, unsigned low): one BigInt per bound, not per slot. */
function int64Statistics(data: BigInt64Array, n: number, isNull: (i: number) => boolean, nulls: number): Statistics {
  const words = new Int32Array(data.buffer, data.byteOffset, data.length * 2);
  let min = -1;
  let max = -1;
  for (let i = 0; i < n; i++) {
    if (isNull(i)) continue;
    const hi = words[2 * i + 1]!;
    const lo = words[2 * i]! >>> 0;
    if (min < 0) {
      min = max = i;
      continue;
    }
    const minHi = words[2 * min + 1]!;
    if (hi < minHi || (hi === minHi && lo < words[2 * min]! >>> 0)) min = i;
    const maxHi = words[2 * max + 1]!;
    if (hi > maxHi || (hi === maxHi && lo > words[2 * max]! >>> 0)) max = i;
  }
  return { min_value: min < 0 ? undefined : data[min], max_value: max < 0 ? undefined : data[max], null_count: BigInt(nulls), nan_count: undefined };
}

function* slotValues(v: LeafValues, n: number, isNull: (i: number) => boolean): Iterable<Value | undefined> {
  for (let i = 0; i < n; i++) yield isNull(i) ? undefined : valueAt(v, i);
}

/** The byte-array values of slots [start, end) that are present. */
function presentBytes(v: LeafValues, start: number, end: number, isNull: (i: number) => boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  const data = v.data as readonly (Uint8Array | undefined | null)[];
  for (let i = start; i < end; i++) if (!isNull(i)) out.push(data[i]!);
  return out;
}

/** PLAIN values of the present slots in [start, end). */
function writePlain(out: Bytes, leaf: LeafSpec, v: LeafValues, start: number, end: number, isNull: (i: number) => boolean): void {
  switch (v.kind) {
    case 'i32':
      for (let i = start; i < end; i++) if (!isNull(i)) out.i32(v.data[i]!);
      return;
    case 'i64': {
      // The slots' own bytes (Parquet is little-endian, as the typed array is on such a host): no BigInt per value.
      if (!LITTLE_ENDIAN) {
        for (let i = start; i < end; i++) if (!isNull(i)) out.i64(v.data[i]!);
        return;
      }
      const bytes = new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
      out.ensure((end - start) * 8);
      const buf = out.buf;
      let at = out.n;
      for (let i = start; i < end; i++) {
        if (isNull(i)) continue;
        for (let b = i * 8, e = b + 8; b < e; b++) buf[at++] = bytes[b]!;
      }
      out.n = at;
      return;
    }
    case 'f64':
      for (let i = start; i < end; i++) if (!isNull(i)) out.f64(v.data[i]!);
      return;
    case 'bool': {
      let byte = 0;
      let k = 0;
      for (let i = start; i < end; i++) {
        if (isNull(i)) continue;
        if (v.data[i]) byte |= 1 << (k & 7);
        if ((k & 7) === 7) {
          out.u8(byte);
          byte = 0;
        }
        k++;
      }
      if (k & 7) out.u8(byte);
      return;
    }
    case 'str':
      for (let i = start; i < end; i++) if (!isNull(i)) out.lengthPrefixedString(v.data[i]!);
      return;
    case 'bytes': {
      const fixed = leaf.element.type === 'FIXED_LEN_BYTE_ARRAY';
      for (let i = start; i < end; i++) {
        if (isNull(i)) continue;
        const b = v.data[i]!;
        if (!fixed) out.u32(b.byteLength);
        out.bytes(b);
      }
      return;
    }
  }
}

/** PLAIN encoding of dictionary values (the dictionary page). */
function writePlainValues(out: Bytes, leaf: LeafSpec, values: readonly Value[]): void {
  const type = leaf.element.type;
  for (const x of values) {
    if (type === 'INT32') out.i32(x as number);
    else if (type === 'INT64') out.i64(x as bigint);
    else if (type === 'DOUBLE') out.f64(x as number);
    else if (typeof x === 'string') out.lengthPrefixedString(x);
    else {
      if (type === 'BYTE_ARRAY') out.u32((x as Uint8Array).byteLength);
      out.bytes(x as Uint8Array);
    }
  }
}

function byteStreamSplit(out: Bytes, v: LeafValues, start: number, end: number, isNull: (i: number) => boolean): void {
  if (v.kind !== 'i32' && v.kind !== 'i64' && v.kind !== 'f64') throw new Error(`BYTE_STREAM_SPLIT of ${v.kind}`);
  const width = v.kind === 'i32' ? 4 : 8;
  const bytes = new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
  let count = 0;
  for (let i = start; i < end; i++) if (!isNull(i)) count++;
  out.ensure(count * width);
  for (let b = 0; b < width; b++) {
    for (let i = start; i < end; i++) if (!isNull(i)) out.buf[out.n++] = bytes[i * width + b]!;
  }
}

/** Scratch for hyparquet-writer's DELTA_LENGTH_BYTE_ARRAY encoder (it writes to a ByteWriter). */
const DELTA_SCRATCH = new ByteWriter();

/** One Parquet file of fixed-schema row groups, written leaf by leaf into `writer`. */
export class ColumnFileWriter {
  private readonly rowGroups: RowGroup[] = [];
  private readonly pendingIndexes: { chunk: ColumnChunk; offsetIndex?: OffsetIndex }[] = [];
  private numRows = 0n;
  private readonly levels = new Bytes();
  private readonly page = new Bytes();
  private scratch = new Int32Array(1024);
  private indexes = new Int32Array(1024);

  constructor(
    private readonly writer: ByteWriter & { flush?(): void },
    private readonly schema: SchemaElement[],
    private readonly compressors: Partial<Record<CompressionCodec, Compressor>>,
    private readonly createdBy: string,
  ) {
    writer.appendUint32(0x31524150); // PAR1
  }

  /** Writes one row group: one chunk per leaf, in schema order. */
  writeRowGroup(leaves: readonly { leaf: LeafSpec; chunk: LeafChunk; write: LeafWrite }[], numRows: number, pageSize: number): void {
    const groupStart = this.writer.offset;
    const columns: ColumnChunk[] = [];
    for (const { leaf, chunk, write } of leaves) {
      const result = this.writeLeaf(leaf, chunk, write, pageSize);
      columns.push(result.chunk);
      this.pendingIndexes.push(result);
    }
    let totalByteSize = 0n;
    for (const c of columns) totalByteSize += c.meta_data!.total_uncompressed_size;
    this.numRows += BigInt(numRows);
    this.rowGroups.push({
      columns,
      total_byte_size: totalByteSize,
      num_rows: BigInt(numRows),
      total_compressed_size: BigInt(this.writer.offset - groupStart),
    });
    this.writer.flush?.();
  }

  /** Page indexes, the footer and the closing magic. */
  finish(kvMetadata: KeyValue[]): void {
    writeIndexes(this.writer, this.pendingIndexes as Parameters<typeof writeIndexes>[1]);
    const metadata = {
      version: 2,
      created_by: this.createdBy,
      schema: this.schema,
      num_rows: this.numRows,
      row_groups: this.rowGroups,
      key_value_metadata: kvMetadata,
    } as unknown as FileMetaData;
    writeMetadata(this.writer, metadata);
    this.writer.appendUint32(0x31524150);
  }

  private compress(codec: CompressionCodec, bytes: Uint8Array, own?: Compressor): Uint8Array {
    if (codec === 'UNCOMPRESSED') return bytes;
    if (own) return own(bytes);
    if (codec === 'SNAPPY' && !this.compressors.SNAPPY) return snappyCompress(bytes);
    const c = this.compressors[codec];
    if (!c) throw new Error(`parquet no compressor for codec ${codec}`);
    return c(bytes);
  }

  private writeLeaf(leaf: LeafSpec, chunk: LeafChunk, write: LeafWrite, pageSize: number): { chunk: ColumnChunk; offsetIndex?: OffsetIndex } {
    const writer = this.writer;
    const { element, maxDef, maxRep } = leaf;
    const type = element.type!;
    const { values: v, n, def, rep } = chunk;
    const isNull = def && maxDef > 0 ? (i: number): boolean => def[i]! < maxDef : (): boolean => false;
    const offsetStart = writer.offset;
    let uncompressed = 0;
    const encodings: Encoding[] = [];
    let nulls = 0;
    if (def && maxDef > 0) for (let i = 0; i < n; i++) if (def[i]! < maxDef) nulls++;

    if (this.indexes.length < n) this.indexes = new Int32Array(Math.max(n, this.indexes.length * 2));
    const dict = write.encoding ? null : buildDictionary(leaf, chunk, isNull, this.indexes);
    const stats = write.statistics
      ? v.kind === 'i64' && !dict
        ? int64Statistics(v.data, n, isNull, nulls)
        : statistics(dict ? dict.values : slotValues(v, n, isNull), nulls, type === 'DOUBLE' || type === 'FLOAT')
      : undefined;

    let dictionaryPageOffset: bigint | undefined;
    let encoding: Encoding;
    if (dict) {
      encoding = 'RLE_DICTIONARY';
      dictionaryPageOffset = BigInt(writer.offset);
      const page = this.page;
      page.reset();
      writePlainValues(page, leaf, dict.values);
      const plain = page.view();
      const compressed = this.compress(write.codec, plain, write.compressor);
      const headerStart = writer.offset;
      writePageHeader(writer, {
        type: 'DICTIONARY_PAGE',
        uncompressed_page_size: plain.byteLength,
        compressed_page_size: compressed.byteLength,
        dictionary_page_header: { num_values: dict.values.length, encoding: 'PLAIN' },
      });
      uncompressed += writer.offset - headerStart + plain.byteLength;
      writer.appendBytes(compressed);
      encodings.push('PLAIN');
    } else {
      encoding = write.encoding ?? (type === 'BOOLEAN' && n > 16 ? 'RLE' : 'PLAIN');
    }
    encodings.push(encoding);

    // Page cuts by estimated size, only at row starts (hyparquet-writer's getPageBoundaries).
    const bounds: number[] = [0];
    // Fixed-size values without a per-slot value (no BigInt per INT64 slot).
    const fixed = dict ? 4 : v.kind === 'i32' ? 4 : v.kind === 'i64' || v.kind === 'f64' ? 8 : v.kind === 'bool' ? 0.125 : -1;
    if (pageSize && fixed > 0 && nulls === 0 && !rep) {
      // Every slot the same size: the loop below would cut pages of this many slots.
      const perPage = Math.max(1, Math.ceil(pageSize / fixed) - 1);
      for (let i = perPage; i < n; i += perPage) bounds.push(i);
    } else if (pageSize) {
      const typeLength = type === 'FIXED_LEN_BYTE_ARRAY' ? element.type_length : undefined;
      let start = 0;
      let acc = 0;
      for (let i = 0; i < n; i++) {
        const size = isNull(i) ? 0 : fixed >= 0 ? fixed : estimateSize(v, valueAt(v, i), typeLength);
        acc += size;
        if (acc >= pageSize && i > start && (!rep || rep[i] === 0)) {
          bounds.push(i);
          start = i;
          acc = size;
        }
      }
    }
    if (n > 0) bounds.push(n);

    const dataPageOffset = BigInt(writer.offset);
    const pages = bounds.length - 1;
    const locations: OffsetIndex['page_locations'] = [];
    let row = 0;
    for (let p = 0; p < pages; p++) {
      const start = bounds[p]!;
      const end = bounds[p + 1]!;
      const pageOffset = writer.offset;
      if (pages > 1) locations.push({ offset: BigInt(pageOffset), compressed_page_size: 0, first_row_index: BigInt(row) });

      // Levels.
      const levels = this.levels;
      levels.reset();
      let numRows = end - start;
      let repBytes = 0;
      if (maxRep > 0 && rep) {
        numRows = 0;
        for (let i = start; i < end; i++) if (rep[i] === 0) numRows++;
        repBytes = writeRleBitPackedHybrid(levels, rep.subarray(start, end), end - start, Math.ceil(Math.log2(maxRep + 1)));
      }
      let defBytes = 0;
      let pageNulls = 0;
      if (maxDef > 0 && def) {
        for (let i = start; i < end; i++) if (def[i]! < maxDef) pageNulls++;
        defBytes = writeRleBitPackedHybrid(levels, def.subarray(start, end), end - start, Math.ceil(Math.log2(maxDef + 1)));
      }
      row += numRows;

      // Values.
      const page = this.page;
      page.reset();
      if (dict) {
        if (this.scratch.length < end - start) this.scratch = new Int32Array(end - start);
        const idx = this.scratch;
        let k = 0;
        let max = 0;
        for (let i = start; i < end; i++) {
          const x = dict.indexes[i]!;
          if (x < 0) continue;
          idx[k++] = x;
          if (x > max) max = x;
        }
        const bitWidth = Math.ceil(Math.log2(max + 1));
        page.u8(bitWidth);
        writeRleBitPackedHybrid(page, idx, k, bitWidth);
      } else if (encoding === 'PLAIN') {
        writePlain(page, leaf, v, start, end, isNull);
      } else if (encoding === 'RLE') {
        // BOOLEAN: 4-byte length, then the hybrid at bit width 1.
        const bits = new Uint8Array(end - start);
        let k = 0;
        for (let i = start; i < end; i++) if (!isNull(i)) bits[k++] = (v.data as Uint8Array)[i]!;
        const at = page.n;
        page.u32(0);
        const len = writeRleBitPackedHybrid(page, bits, k, 1);
        page.buf.writeUInt32LE(len, at);
      } else if (encoding === 'BYTE_STREAM_SPLIT') {
        byteStreamSplit(page, v, start, end, isNull);
      } else if (encoding === 'DELTA_LENGTH_BYTE_ARRAY') {
        const w = DELTA_SCRATCH;
        w.index = 0;
        w.offset = 0;
        deltaLengthByteArray(w, presentBytes(v, start, end, isNull));
        page.bytes(w.getBytes());
      } else {
        throw new Error(`parquet encoding ${encoding} is not written by the column writer`);
      }

      const body = page.view();
      const compressed = this.compress(write.codec, body, write.compressor);
      const headerStart = writer.offset;
      writePageHeader(writer, {
        type: 'DATA_PAGE_V2',
        uncompressed_page_size: levels.n + body.byteLength,
        compressed_page_size: levels.n + compressed.byteLength,
        data_page_header_v2: {
          num_values: end - start,
          num_nulls: pageNulls,
          num_rows: numRows,
          encoding,
          definition_levels_byte_length: defBytes,
          repetition_levels_byte_length: repBytes,
          // hyparquet-writer marks every page compressed, UNCOMPRESSED ones too (the codec decides).
          is_compressed: true,
        },
      });
      const headerSize = writer.offset - headerStart;
      writer.appendBytes(levels.view());
      writer.appendBytes(compressed);
      uncompressed += headerSize + levels.n + body.byteLength;
      if (pages > 1) locations[p]!.compressed_page_size = writer.offset - pageOffset;
    }

    const columnChunk: ColumnChunk = {
      meta_data: {
        type,
        encodings,
        path_in_schema: leaf.path,
        codec: write.codec,
        num_values: BigInt(n),
        total_compressed_size: BigInt(writer.offset - offsetStart),
        total_uncompressed_size: BigInt(uncompressed),
        data_page_offset: dataPageOffset,
        ...(dictionaryPageOffset !== undefined ? { dictionary_page_offset: dictionaryPageOffset } : {}),
        ...(stats
          ? {
              statistics: stats as never,
              encoding_stats: [
                ...(dict ? [{ page_type: 'DICTIONARY_PAGE' as const, encoding: 'PLAIN' as const, count: 1 }] : []),
                { page_type: 'DATA_PAGE_V2' as const, encoding, count: pages },
              ],
            }
          : {}),
      },
      file_offset: BigInt(offsetStart),
    };
    return pages > 1 ? { chunk: columnChunk, offsetIndex: { page_locations: locations } } : { chunk: columnChunk };
  }
}
