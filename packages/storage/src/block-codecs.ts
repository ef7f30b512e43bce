// Parquet page codecs beyond hyparquet's built-in SNAPPY, from node:zlib: compressors for
// hyparquet-writer (`compressors`) and decompressors for hyparquet (`compressors` in read options).
//
// - BROTLI: Parquet's BROTLI codec is a raw brotli stream (RFC 7932), which is what
//   zlib.brotliCompressSync writes and brotliDecompressSync reads (no framing on either side).
// - GZIP: Parquet's GZIP codec is the gzip format (RFC 1952), zlib.gzipSync / gunzipSync.
// - ZSTD: node:zlib has zstd from Node 22.15. Such a Node writes each leaf as block-schema's
//   ZSTD_LEAF_CODECS says (ZSTD for most); an older one keeps writing BROTLI. Every Node reads both: without zstd in
//   node:zlib, pages are decompressed by fzstd (a pure-JS decoder), so a block written by a Node 24
//   ingester reads on a Node 20 querier.
//
// Measured choices (docs/block-format.md): BROTLI quality 5 gives 5-15% smaller pages than GZIP
// level 6 at about the same write and read speed; quality 9+ gains <1% and writes 10x slower.
// Chosen per leaf with ZSTD, the pages are 3 % smaller for 40 % less compression CPU ("Page codecs").

import zlib from 'node:zlib';
import { decompress as fzstdDecompress } from 'fzstd';
import type { CompressionCodec } from 'hyparquet';

export type Compressor = (input: Uint8Array) => Uint8Array;
export type Decompressor = (input: Uint8Array, outputLength: number) => Uint8Array;

export const BROTLI_QUALITY = 5;
export const GZIP_LEVEL = 6;

/** Smallest brotli window that holds the whole input (a page): less memory per call, same output size. */
function brotliWindow(bytes: number): number {
  let bits = zlib.constants.BROTLI_MIN_WINDOW_BITS;
  while (bits < zlib.constants.BROTLI_MAX_WINDOW_BITS && 1 << bits < bytes + 16) bits++;
  return bits;
}

export function brotliCompressor(quality = BROTLI_QUALITY): Compressor {
  return (input) =>
    zlib.brotliCompressSync(input, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: quality,
        [zlib.constants.BROTLI_PARAM_LGWIN]: brotliWindow(input.byteLength),
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: input.byteLength,
      },
    });
}

const brotliByQuality = new Map<number, Compressor>();

/** One shared compressor per Brotli quality (per-column qualities, block-schema's COLUMN_WRITE). */
export function brotliCompressorAt(quality: number): Compressor {
  let c = brotliByQuality.get(quality);
  if (!c) brotliByQuality.set(quality, (c = brotliCompressor(quality)));
  return c;
}

export function gzipCompressor(level = GZIP_LEVEL): Compressor {
  return (input) => zlib.gzipSync(input, { level });
}

type ZstdZlib = {
  zstdCompressSync?: (input: Uint8Array, options?: object) => Buffer;
  zstdDecompressSync?: (input: Uint8Array, options?: object) => Buffer;
};
const zstd = zlib as unknown as ZstdZlib;

/** True when this Node's zlib has zstd (Node >= 22.15): blocks are then written with ZSTD columns. */
export const ZSTD_AVAILABLE = typeof zstd.zstdCompressSync === 'function' && typeof zstd.zstdDecompressSync === 'function';

const zstdByLevel = new Map<number, Compressor>();

/** One shared ZSTD compressor per level; only where ZSTD_AVAILABLE. */
export function zstdCompressorAt(level: number): Compressor {
  if (!ZSTD_AVAILABLE) throw new Error('this Node has no zstd in node:zlib (Node >= 22.15 has)');
  let c = zstdByLevel.get(level);
  if (!c) {
    const params = { [(zlib.constants as unknown as Record<string, number>)['ZSTD_c_compressionLevel']!]: level };
    zstdByLevel.set(level, (c = (input) => zstd.zstdCompressSync!(input, { params })));
  }
  return c;
}

/** ZSTD pages read without node:zlib's zstd: fzstd writes into an array of the page's exact size. */
export function zstdDecompressJs(input: Uint8Array, outputLength: number): Uint8Array {
  return fzstdDecompress(input, new Uint8Array(outputLength));
}

/** Compressors for writing, by Parquet codec (SNAPPY is hyparquet-writer's own). */
export const WRITE_COMPRESSORS: Partial<Record<CompressionCodec, Compressor>> = {
  BROTLI: brotliCompressor(),
  GZIP: gzipCompressor(),
  ...(ZSTD_AVAILABLE ? { ZSTD: (input: Uint8Array) => zstd.zstdCompressSync!(input) } : {}),
};

/**
 * Decompressors for reading, by Parquet codec (SNAPPY and UNCOMPRESSED are hyparquet's own).
 * maxOutputLength bounds the work a corrupt page can cause; hyparquet checks the exact length.
 */
export const READ_DECOMPRESSORS: Partial<Record<CompressionCodec, Decompressor>> = {
  BROTLI: (input, outputLength) => zlib.brotliDecompressSync(input, { maxOutputLength: Math.max(1, outputLength) }),
  GZIP: (input, outputLength) => zlib.gunzipSync(input, { maxOutputLength: Math.max(1, outputLength) }),
  ZSTD: ZSTD_AVAILABLE
    ? (input, outputLength) => zstd.zstdDecompressSync!(input, { maxOutputLength: Math.max(1, outputLength) })
    : zstdDecompressJs,
};
