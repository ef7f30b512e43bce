// Our column writer (column-writer.ts) against hyparquet-writer, the generic writer it replaces:
// for the same rows both must write the same bytes (data.parquet, and so every page, dictionary,
// statistic, page index and the footer), for every format and for row groups and pages of every
// size. The independent reader check (test/src/parquet-independent-reader.test.ts) and the round
// trips (block-roundtrip.test.ts) cover what the bytes mean.

import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { READ_DECOMPRESSORS, ZSTD_AVAILABLE, zstdCompressorAt, zstdDecompressJs } from './block-codecs.js';
import { encodeBlockWith, tuningFor } from './block-encode.js';
import { COLUMN_WRITE, FORMAT_V1, FORMAT_V2, ZSTD_LEAF_CODECS } from './block-schema.js';
import { newBlockId } from './backend-block.js';
import { leafSpecs } from './column-writer.js';
import { BLOCK_SCHEMA } from './block-schema.js';
import { randomTraces } from './testing.js';

const CONFIGS = [
  { rowGroupSpans: 1, pageSizeBytes: 1024 },
  { rowGroupSpans: 23, pageSizeBytes: 1024 },
  { rowGroupSpans: 500, pageSizeBytes: 4096 },
  { rowGroupSpans: 10_000, pageSizeBytes: 16 * 1024 },
];

describe('column writer', () => {
  it('lists the leaves of the block schema with their levels', () => {
    const leaves = leafSpecs(BLOCK_SCHEMA);
    expect(leaves).toHaveLength(54);
    expect(leaves.find((l) => l.key === 'attrs_int.list.element.value')).toMatchObject({ maxDef: 1, maxRep: 1 });
    expect(leaves.find((l) => l.key === 'http_status_code')).toMatchObject({ maxDef: 1, maxRep: 0 });
    expect(leaves.find((l) => l.key === 'trace_id')).toMatchObject({ maxDef: 0, maxRep: 0 });
  });

  it('gives the columns COLUMN_WRITE names their own Brotli quality: other page bytes, the same values', async () => {
    expect(Object.values(COLUMN_WRITE).some((w) => w.brotliQuality !== undefined)).toBe(true);
    const traces = randomTraces(4, 60);
    const id = newBlockId();
    const cfg = { rowGroupSpans: 500, pageSizeBytes: 4096 };
    // BROTLI qualities alone (ZSTD columns: the next case).
    const data = (columnQualities: boolean): ArrayBuffer => {
      const bytes = encodeBlockWith('t', id, traces, cfg, 0, { ...tuningFor(FORMAT_V2, 'andante', columnQualities), zstd: false }).objects[0]!.data;
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    };
    const uniform = data(false);
    const perColumn = data(true);
    expect(Buffer.from(perColumn).equals(Buffer.from(uniform))).toBe(false);
    // Only compressed sizes differ: the same chunks with the same values, codec and encodings.
    const shape = (file: ArrayBuffer) =>
      parquetMetadata(file).row_groups.map((g) => g.columns.map((c) => ({ path: c.meta_data!.path_in_schema, codec: c.meta_data!.codec, encodings: c.meta_data!.encodings, values: c.meta_data!.num_values })));
    expect(shape(perColumn)).toEqual(shape(uniform));
    const rows = (file: ArrayBuffer) => parquetReadObjects({ file, utf8: false, compressors: READ_DECOMPRESSORS });
    expect(await rows(perColumn)).toEqual(await rows(uniform));
  });

  it('writes ZSTD leaves where this Node has zstd, as ZSTD_LEAF_CODECS says: the same values, only codecs and page bytes differ', async () => {
    const leafKeys = new Set(leafSpecs(BLOCK_SCHEMA).map((l) => l.key));
    expect(Object.keys(ZSTD_LEAF_CODECS).filter((k) => !leafKeys.has(k))).toEqual([]);
    const tuning = tuningFor(FORMAT_V2, 'andante');
    // A Node without zstd in node:zlib (20) writes BROTLI only; the blocks of one with it read everywhere (fzstd).
    expect(tuning.zstd).toBe(ZSTD_AVAILABLE);
    if (!ZSTD_AVAILABLE) {
      expect(() => zstdCompressorAt(1)).toThrow(/no zstd/);
      return;
    }
    const traces = randomTraces(5, 60);
    const id = newBlockId();
    const cfg = { rowGroupSpans: 500, pageSizeBytes: 4096 };
    const file = (zstd: boolean): ArrayBuffer => {
      const bytes = encodeBlockWith('t', id, traces, cfg, 0, { ...tuning, zstd }).objects[0]!.data;
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    };
    const withZstd = file(true);
    const brotliOnly = file(false);
    const codecs = (f: ArrayBuffer) => new Map(parquetMetadata(f).row_groups[0]!.columns.map((c) => [c.meta_data!.path_in_schema.join('.'), c.meta_data!.codec]));
    const z = codecs(withZstd);
    const b = codecs(brotliOnly);
    for (const [path, codec] of b) expect(z.get(path), path).toBe(codec === 'BROTLI' ? (ZSTD_LEAF_CODECS[path]?.codec ?? 'ZSTD') : codec);
    expect([...z.values()].filter((c) => c === 'ZSTD').length).toBeGreaterThan(20);
    const rows = (f: ArrayBuffer, compressors = READ_DECOMPRESSORS) => parquetReadObjects({ file: f, utf8: false, compressors });
    const expected = await rows(brotliOnly);
    expect(await rows(withZstd)).toEqual(expected);
    // The pure-JS decoder a Node without zstd reads them with gives the same rows.
    expect(await rows(withZstd, { ...READ_DECOMPRESSORS, ZSTD: zstdDecompressJs })).toEqual(expected);
  });

  it.each(
    [FORMAT_V2, FORMAT_V1].flatMap((format) => CONFIGS.flatMap((cfg) => [1, 2, 3].map((seed) => [format, cfg.rowGroupSpans, cfg.pageSizeBytes, seed] as const))),
  )('%s, %i-span row groups, %i-byte pages, seed %i: the same bytes as hyparquet-writer', (format, rowGroupSpans, pageSizeBytes, seed) => {
    // 1-span row groups: a footer entry per span for all 54 columns, so 10 traces already give
    // hundreds of row groups (40 took seconds per case).
    const traces = randomTraces(seed, rowGroupSpans === 1 ? 10 : 40);
    const id = newBlockId();
    const cfg = { rowGroupSpans, pageSizeBytes };
    // Per-column Brotli qualities are ours alone: the comparison is of everything else.
    const ours = encodeBlockWith('t', id, traces, cfg, 0, tuningFor(format, 'andante', false));
    const theirs = encodeBlockWith('t', id, traces, cfg, 0, tuningFor(format, 'hyparquet-writer'));
    expect(ours.meta).toEqual(theirs.meta);
    expect(ours.objects.map((o) => o.name)).toEqual(theirs.objects.map((o) => o.name));
    for (let i = 0; i < ours.objects.length; i++) {
      const a = ours.objects[i]!.data;
      const b = theirs.objects[i]!.data;
      let at = 0;
      while (at < Math.min(a.length, b.length) && a[at] === b[at]) at++;
      expect({ object: ours.objects[i]!.name, length: a.length, firstDifference: at === a.length && a.length === b.length ? -1 : at }).toEqual({
        object: theirs.objects[i]!.name,
        length: b.length,
        firstDifference: -1,
      });
    }
  });
});
