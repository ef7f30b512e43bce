// Decoding one column chunk for a scan, without assembling rows: values come back as codes into a
// small value table (the dictionary when the chunk has one), so a predicate is tested once per
// distinct value and then applied per row by index. INT64 becomes a JS number (exact below 2^53,
// which covers durations and timestamps to ~256 ns; scans only prune, the engine decides), never a
// BigInt per row. Page parsing and decompression reuse hyparquet's own page readers.

import type { ColumnMetaData, DecodedArray, Encoding, PageHeader, SchemaTree } from 'hyparquet';
import type { ColumnDecoder, DataPage } from 'hyparquet/src/types.js';
import { parquetHeader } from 'hyparquet/src/column.js';
import { decompressPage, readDataPage, readDataPageV2 } from 'hyparquet/src/datapage.js';
import { readPlain } from 'hyparquet/src/plain.js';
import { getMaxDefinitionLevel, getMaxRepetitionLevel } from 'hyparquet/src/schema.js';
import { READ_DECOMPRESSORS } from './block-codecs.js';

/** A decoded value as a scan compares it; undefined is a null / absent value. */
export type ScanValue = string | number | bigint | boolean | Uint8Array | undefined;

export interface DecodedChunk {
  /** One entry per present leaf value (per row for a flat column, nulls as -1): index into `values`. */
  codes: Int32Array;
  /** Row (within the row group) of each entry in `codes`. Absent for flat columns, where it is the entry's index. */
  rowOf: Int32Array | null;
  values: ScanValue[];
}

const utf8 = new TextDecoder();

/** The chunk's column decoder inputs, as hyparquet's page readers want them. */
export interface LeafColumn {
  schemaPath: SchemaTree[];
  meta: ColumnMetaData;
}

/**
 * How INT64 values come back: numbers (scans compare them), exact bigints (values shown to users),
 * or numbers that are the exact difference from a base (times within 2^53 ns of a query's start).
 */
export type Int64As = 'number' | 'bigint' | { offsetFrom: bigint };

function int64ToNumbers(a: BigInt64Array): number[] {
  const words = new Int32Array(a.buffer, a.byteOffset, a.length * 2);
  const out = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) out[i] = words[2 * i + 1]! * 4294967296 + (words[2 * i]! >>> 0);
  return out;
}

/** v - base per value, from the 32-bit words: exact while the difference is below 2^53. */
function int64ToOffsets(a: BigInt64Array, base: bigint): number[] {
  const words = new Int32Array(a.buffer, a.byteOffset, a.length * 2);
  const baseHi = Number(BigInt.asIntN(64, base) >> 32n);
  const baseLo = Number(base & 0xffffffffn);
  const out = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (words[2 * i + 1]! - baseHi) * 4294967296 + ((words[2 * i]! >>> 0) - baseLo);
  return out;
}

/** Raw page values (PLAIN / dictionary page content) converted to scan values. */
function toScanValues(raw: DecodedArray, leaf: LeafColumn, int64: Int64As): ScanValue[] {
  const element = leaf.schemaPath[leaf.schemaPath.length - 1]!.element;
  if (raw instanceof BigInt64Array) {
    if (typeof int64 === 'object') return int64ToOffsets(raw, int64.offsetFrom);
    return int64 === 'bigint' ? Array.from(raw) : int64ToNumbers(raw);
  }
  if (element.type === 'BYTE_ARRAY' && (element.converted_type === 'UTF8' || element.logical_type?.type === 'STRING')) {
    const out = new Array<ScanValue>(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = utf8.decode(raw[i] as Uint8Array);
    return out;
  }
  return Array.from(raw as ArrayLike<ScanValue>);
}

/**
 * A data page's levels and values as hyparquet's page readers decode them (dictionary indexes for
 * dictionary-encoded pages), and its encoding; null for other page types.
 */
export function decodeDataPage(header: PageHeader, page: Uint8Array, decoder: ColumnDecoder): { data: DataPage; encoding: Encoding } | null {
  if (header.type === 'DATA_PAGE_V2') return { data: readDataPageV2(page, header, decoder), encoding: header.data_page_header_v2!.encoding };
  if (header.type === 'DATA_PAGE') {
    const plain = decompressPage(page, header.uncompressed_page_size, decoder.codec, READ_DECOMPRESSORS);
    return { data: readDataPage(plain, header.data_page_header!, decoder), encoding: header.data_page_header!.encoding };
  }
  return null;
}

/** hyparquet's page decoder settings for one leaf column (raw values: no parsers, no UTF-8). */
function pageDecoder(leaf: LeafColumn, element: LeafColumn['schemaPath'][number]['element']) {
  return {
    pathInSchema: leaf.meta.path_in_schema,
    type: leaf.meta.type,
    element,
    schemaPath: leaf.schemaPath,
    codec: leaf.meta.codec,
    parsers: undefined as never,
    compressors: READ_DECOMPRESSORS,
    utf8: false,
  };
}

/** Decodes every page of one column chunk (`bytes` starts at the chunk's first page). */
export function decodeColumnChunk(bytes: Uint8Array, leaf: LeafColumn, int64: Int64As = 'number'): DecodedChunk {
  const { schemaPath, meta } = leaf;
  const element = schemaPath[schemaPath.length - 1]!.element;
  const decoder = pageDecoder(leaf, element);
  const maxDef = getMaxDefinitionLevel(schemaPath);
  const maxRep = getMaxRepetitionLevel(schemaPath);
  const total = Number(meta.num_values);
  const codes = new Int32Array(total);
  const rowOf = maxRep > 0 ? new Int32Array(total) : null;
  let n = 0;
  let row = -1;
  let values: ScanValue[] = [];
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };

  while (reader.offset < bytes.byteLength && n < total) {
    const header = parquetHeader(reader);
    const page = bytes.subarray(reader.offset, reader.offset + header.compressed_page_size);
    reader.offset += header.compressed_page_size;
    if (header.type === 'DICTIONARY_PAGE') {
      const plain = decompressPage(page, header.uncompressed_page_size, meta.codec, READ_DECOMPRESSORS);
      const r = { view: new DataView(plain.buffer, plain.byteOffset, plain.byteLength), offset: 0 };
      values = toScanValues(readPlain(r, meta.type, header.dictionary_page_header!.num_values, element.type_length), leaf, int64);
      continue;
    }
    const decoded = decodeDataPage(header, page, decoder);
    if (!decoded) continue; // index pages: nothing to scan
    const { data, encoding } = decoded;
    const { repetitionLevels: reps, dataPage } = data;
    const defs = data.definitionLevels ?? [];
    let indices: ArrayLike<number>;
    if (encoding.endsWith('_DICTIONARY')) {
      indices = dataPage as ArrayLike<number>;
    } else {
      // Plain values join the value table (after the dictionary, which comes first in a chunk).
      const base = values.length;
      const converted = toScanValues(dataPage, leaf, int64);
      for (const v of converted) values.push(v);
      const offsets = new Int32Array(converted.length);
      for (let i = 0; i < offsets.length; i++) offsets[i] = base + i;
      indices = offsets;
    }
    const levels = defs.length > 0 ? defs.length : (indices.length as number);
    let vi = 0;
    for (let i = 0; i < levels; i++) {
      if (maxRep === 0 || reps[i] === 0) row++;
      const present = maxDef === 0 || defs[i] === maxDef;
      if (rowOf) {
        if (!present) continue; // an empty list: no element
        rowOf[n] = row;
        codes[n++] = indices[vi++]!;
      } else {
        codes[n++] = present ? indices[vi++]! : -1;
      }
    }
  }
  return { codes: n === total ? codes : codes.subarray(0, n), rowOf: rowOf && (n === total ? rowOf : rowOf.subarray(0, n)), values };
}

/** Page values of a numeric column as float64 (INT64 per `int64`, never BigInt per value). */
function numericValues(raw: DecodedArray, int64: Int64As): Float64Array {
  if (raw instanceof Float64Array) return raw;
  if (raw instanceof BigInt64Array) {
    const words = new Int32Array(raw.buffer, raw.byteOffset, raw.length * 2);
    const out = new Float64Array(raw.length);
    let baseHi = 0;
    let baseLo = 0;
    if (typeof int64 === 'object') {
      baseHi = Number(BigInt.asIntN(64, int64.offsetFrom) >> 32n);
      baseLo = Number(int64.offsetFrom & 0xffffffffn);
    }
    for (let i = 0; i < raw.length; i++) out[i] = (words[2 * i + 1]! - baseHi) * 4294967296 + ((words[2 * i]! >>> 0) - baseLo);
    return out;
  }
  return Float64Array.from(raw as ArrayLike<number>);
}

/** `count` INT64 values in 8 byte planes into out[n..], as numbers (or offsets); returns the new n. */
function byteSplitInt64(body: Uint8Array, count: number, out: Float64Array, n: number, rows: number, int64: Int64As): number {
  let baseHi = 0;
  let baseLo = 0;
  if (typeof int64 === 'object') {
    baseHi = Number(BigInt.asIntN(64, int64.offsetFrom) >> 32n);
    baseLo = Number(int64.offsetFrom & 0xffffffffn);
  }
  const take = Math.min(count, rows - n);
  const p0 = 0, p1 = count, p2 = 2 * count, p3 = 3 * count, p4 = 4 * count, p5 = 5 * count, p6 = 6 * count, p7 = 7 * count;
  for (let i = 0; i < take; i++) {
    const lo = (body[p0 + i]! | (body[p1 + i]! << 8) | (body[p2 + i]! << 16) | (body[p3 + i]! << 24)) >>> 0;
    const hi = body[p4 + i]! | (body[p5 + i]! << 8) | (body[p6 + i]! << 16) | (body[p7 + i]! << 24); // signed
    out[n + i] = (hi - baseHi) * 4294967296 + (lo - baseLo);
  }
  return n + take;
}

/**
 * A flat, required numeric column (times, durations, codes) as one float64 per row: the scan's
 * fast path, with no per-row code table or boxed values. Null when the column is not flat and
 * required (the caller then uses decodeColumnChunk).
 */
export function decodeRequiredNumbers(bytes: Uint8Array, leaf: LeafColumn, rows: number, int64: Int64As = 'number'): Float64Array | null {
  const { schemaPath, meta } = leaf;
  if (getMaxDefinitionLevel(schemaPath) !== 0 || getMaxRepetitionLevel(schemaPath) !== 0) return null;
  const element = schemaPath[schemaPath.length - 1]!.element;
  if (element.type !== 'INT64' && element.type !== 'INT32' && element.type !== 'DOUBLE') return null;
  const decoder = pageDecoder(leaf, element);
  const out = new Float64Array(rows);
  let n = 0;
  let dict: Float64Array | null = null;
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
  while (reader.offset < bytes.byteLength && n < rows) {
    const header = parquetHeader(reader);
    const page = bytes.subarray(reader.offset, reader.offset + header.compressed_page_size);
    reader.offset += header.compressed_page_size;
    if (header.type === 'DICTIONARY_PAGE') {
      const plain = decompressPage(page, header.uncompressed_page_size, meta.codec, READ_DECOMPRESSORS);
      const r = { view: new DataView(plain.buffer, plain.byteOffset, plain.byteLength), offset: 0 };
      dict = numericValues(readPlain(r, meta.type, header.dictionary_page_header!.num_values, element.type_length), int64);
      continue;
    }
    // INT64 in byte planes (times, durations): the planes straight to float64, no BigInt array.
    const v2 = header.data_page_header_v2;
    if (v2 && v2.encoding === 'BYTE_STREAM_SPLIT' && meta.type === 'INT64' && v2.num_nulls === 0) {
      const levels = v2.definition_levels_byte_length + v2.repetition_levels_byte_length;
      let body = page.subarray(levels);
      if (v2.is_compressed !== false) body = decompressPage(body, header.uncompressed_page_size - levels, meta.codec, READ_DECOMPRESSORS);
      n = byteSplitInt64(body, v2.num_values, out, n, rows, int64);
      continue;
    }
    const decoded = decodeDataPage(header, page, decoder);
    if (!decoded) continue;
    const values = decoded.data.dataPage;
    if (decoded.encoding.endsWith('_DICTIONARY')) {
      const idx = values as ArrayLike<number>;
      for (let i = 0; i < idx.length && n < rows; i++) out[n++] = dict![idx[i]!]!;
    } else {
      const v = numericValues(values, int64);
      const take = Math.min(v.length, rows - n);
      out.set(take === v.length ? v : v.subarray(0, take), n);
      n += take;
    }
  }
  return out;
}
