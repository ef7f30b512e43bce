// Reading a few rows of a row group by decoding only the pages that hold them, for every column,
// nested ones included. hyparquet narrows flat columns to their pages but decodes a nested column
// (the typed attribute lists) from the selected page to the end of its chunk; a search reads a
// handful of traces spread over many row groups, so that cost dominated. Here each column's
// offset index picks the pages, and hyparquet's own page reader decodes just those bytes (the
// dictionary page put in front when the chunk has one).

import type { AsyncBuffer, ColumnChunk, DecodedArray, FileMetaData, RowGroup } from 'hyparquet';
import type { ColumnDecoder, PageLocation } from 'hyparquet/src/types.js';
import { readOffsetIndex } from 'hyparquet';
import { parquetHeader, readPage } from 'hyparquet/src/column.js';
import { DEFAULT_PARSERS, convert } from 'hyparquet/src/convert.js';
import { getMaxDefinitionLevel, getMaxRepetitionLevel, getSchemaPath } from 'hyparquet/src/schema.js';
import { READ_DECOMPRESSORS } from './block-codecs.js';
import type { SpanRowData } from './block-decode.js';
import { decodeDataPage } from './column-chunk.js';

async function bytesOf(file: AsyncBuffer, start: number, end: number): Promise<Uint8Array> {
  return new Uint8Array(await file.slice(start, end));
}

interface ChunkLayout {
  decoder: ColumnDecoder;
  /** Data pages (offset index), or null when the chunk has none (then it is read whole). */
  pages: PageLocation[] | null;
  dictionary: DecodedArray | undefined;
}

/** Per column chunk: its decoder, page locations and decoded dictionary, read once per metadata object. */
const layouts = new WeakMap<ColumnChunk, Promise<ChunkLayout>>();

function chunkLayout(file: AsyncBuffer, metadata: FileMetaData, chunk: ColumnChunk, keep: boolean): Promise<ChunkLayout> {
  let pending = layouts.get(chunk);
  if (pending) return pending;
  pending = (async (): Promise<ChunkLayout> => {
    const meta = chunk.meta_data!;
    const schemaPath = getSchemaPath(metadata.schema, meta.path_in_schema);
    const decoder: ColumnDecoder = {
      pathInSchema: meta.path_in_schema,
      type: meta.type,
      element: schemaPath[schemaPath.length - 1]!.element,
      schemaPath,
      codec: meta.codec,
      parsers: DEFAULT_PARSERS,
      compressors: READ_DECOMPRESSORS,
      utf8: false,
    };
    let pages: PageLocation[] | null = null;
    if (chunk.offset_index_offset !== undefined && chunk.offset_index_length) {
      const start = Number(chunk.offset_index_offset);
      const bytes = await bytesOf(file, start, start + chunk.offset_index_length);
      pages = readOffsetIndex({ view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }).page_locations;
    }
    let dictionary: DecodedArray | undefined;
    const chunkStart = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
    const firstData = pages ? Number(pages[0]!.offset) : Number(meta.data_page_offset);
    if (meta.dictionary_page_offset !== undefined && chunkStart < firstData) {
      const bytes = await bytesOf(file, chunkStart, firstData);
      const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
      const header = parquetHeader(reader);
      const { data } = readPage(reader, header, decoder, undefined, undefined, 0);
      if (data) dictionary = convert(data, decoder);
    }
    return { decoder, pages, dictionary };
  })();
  if (!keep) return pending;
  layouts.set(chunk, pending);
  pending.catch(() => layouts.delete(chunk));
  return pending;
}

/**
 * One leaf column's values for rows [relStart, relEnd) of a group: `values[r]` for a flat leaf; for
 * a repeated leaf, row r's list is `values[starts[r] .. starts[r + 1])`, made into an array only
 * when the row is taken. A whole group's lists built up front outlive young-generation collections
 * while the group is handed out, and end as old-generation garbage (most of a compaction's).
 */
interface LeafValues {
  values: unknown[];
  starts: Int32Array | null;
}

function leafAt(leaf: LeafValues, r: number): unknown {
  const starts = leaf.starts;
  return starts === null ? leaf.values[r] : leaf.values.slice(starts[r]!, starts[r + 1]!);
}

/** The values of one leaf column for the group-relative rows [relStart, relEnd). */
async function leafRows(file: AsyncBuffer, metadata: FileMetaData, chunk: ColumnChunk, relStart: number, relEnd: number, keepLayout: boolean): Promise<LeafValues> {
  const meta = chunk.meta_data!;
  const { decoder, pages, dictionary } = await chunkLayout(file, metadata, chunk, keepLayout);
  let bytes: Uint8Array;
  let base = 0;
  if (pages === null) {
    // No offset index (the writer leaves it out for chunks without data, e.g. all nulls): the whole chunk.
    const start = Number(meta.data_page_offset);
    bytes = await bytesOf(file, start, Number(meta.dictionary_page_offset ?? meta.data_page_offset) + Number(meta.total_compressed_size));
  } else {
    let first = 0;
    while (first + 1 < pages.length && Number(pages[first + 1]!.first_row_index) <= relStart) first++;
    let last = first;
    while (last + 1 < pages.length && Number(pages[last + 1]!.first_row_index) < relEnd) last++;
    bytes = await bytesOf(file, Number(pages[first]!.offset), Number(pages[last]!.offset) + pages[last]!.compressed_page_size);
    base = Number(pages[first]!.first_row_index);
  }
  // Page by page: levels and values decoded by hyparquet, rows assembled here and only those
  // selected (hyparquet would assemble every row of every page).
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
  const maxDef = getMaxDefinitionLevel(decoder.schemaPath);
  const repeated = getMaxRepetitionLevel(decoder.schemaPath) > 0;
  const selectStart = relStart - base;
  const selectEnd = relEnd - base;
  const rowCount = relEnd - relStart;
  const out: unknown[] = repeated ? [] : new Array(rowCount);
  // starts[r] = index in `out` of row r's first list element (rows not reached stay 0: fixed below).
  const starts = repeated ? new Int32Array(rowCount + 1) : null;
  let row = -1;
  while (reader.offset < bytes.byteLength && row < selectEnd) {
    const header = parquetHeader(reader);
    const page = bytes.subarray(reader.offset, reader.offset + header.compressed_page_size);
    reader.offset += header.compressed_page_size;
    // A v2 page says how many rows it holds: pages before the rows wanted are not decoded.
    const pageRows = header.data_page_header_v2?.num_rows;
    if (pageRows !== undefined && row + pageRows < selectStart) {
      row += pageRows;
      continue;
    }
    const decoded = decodeDataPage(header, page, decoder);
    if (!decoded) continue; // dictionary (already decoded) or index pages
    const { data, encoding } = decoded;
    const values = dictionary && encoding.endsWith('_DICTIONARY') ? null : convert(data.dataPage, decoder);
    const valueAt = (i: number): unknown => (values ? values[i] : dictionary![data.dataPage[i] as number]);
    const defs = data.definitionLevels ?? [];
    const reps = data.repetitionLevels;
    const levels = defs.length > 0 ? defs.length : repeated ? reps.length : data.dataPage.length;
    if (!repeated && defs.length === 0) {
      // A required flat column: value i is row i of the page.
      const pageStart = row + 1;
      const from = Math.max(selectStart, pageStart);
      const to = Math.min(selectEnd, pageStart + levels);
      for (let r = from; r < to; r++) out[r - selectStart] = valueAt(r - pageStart);
      row += levels;
      continue;
    }
    let vi = 0;
    for (let i = 0; i < levels; i++) {
      if (!repeated || reps[i] === 0) {
        row++;
        if (starts !== null && row >= selectStart && row < selectEnd) starts[row - selectStart] = out.length;
      }
      if (row >= selectEnd) break;
      const present = maxDef === 0 || defs[i] === maxDef;
      if (row < selectStart) {
        if (present) vi++;
        continue;
      }
      if (repeated) {
        if (present) out.push(valueAt(vi++));
      } else {
        out[row - selectStart] = present ? valueAt(vi++) : undefined;
      }
    }
  }
  if (starts !== null) {
    // Rows past the last level (none in a well-formed chunk) hold empty lists.
    const reached = Math.min(Math.max(row - selectStart + 1, 0), rowCount);
    starts.fill(out.length, reached);
  }
  return { values: out, starts };
}

/** Block rows [rowStart, rowEnd) of the row group `rg`, which starts at block row `groupStart`, with the top-level `columns` in that order. */
type RowRange = [file: AsyncBuffer, metadata: FileMetaData, rg: RowGroup, groupStart: number, columns: readonly string[], rowStart: number, rowEnd: number];

/** Rows of a row group, each assembled when taken (see LeafValues). */
export interface RowSource {
  readonly length: number;
  /** Row i (0-based within the source), a new array each call. */
  row(i: number): SpanRowData;
}

/**
 * Rows [rowStart, rowEnd) of the row group that starts at block row `groupStart`, as hyparquet's
 * array rows: each row holds the top-level `columns`' values in their order (TRACE_COLUMNS makes
 * SpanRowData); key/value lists become arrays of {key, value}.
 * Needs the columns' offset indexes (every vAndante block has them).
 */
export async function readRowsByPages(...rows: RowRange): Promise<SpanRowData[]> {
  const source = await readRowSource(...rows, true);
  return Array.from({ length: source.length }, (_, i) => source.row(i));
}

/**
 * The same rows as readRowsByPages, decoded column by column up front but each row assembled only
 * when taken, so a reader handing rows out one trace at a time (a whole-block iteration) makes its
 * rows young garbage.
 */
export async function readRowSource(
  ...[file, metadata, rg, groupStart, columns, rowStart, rowEnd, keepLayouts]: [
    ...RowRange,
    /**
     * Keep each column chunk's layout (page locations, decoded dictionary) for the next read of the
     * same chunk, as lookups do; a reader that passes over each row group once (a whole-block
     * iteration) does not, so its memory does not grow with the block.
     */
    keepLayouts: boolean,
  ]
): Promise<RowSource> {
  const relStart = rowStart - groupStart;
  const relEnd = rowEnd - groupStart;
  const wanted = new Set(columns);
  const leaves = rg.columns.filter((c) => wanted.has(c.meta_data!.path_in_schema[0]!));
  const values = await Promise.all(leaves.map((c) => leafRows(file, metadata, c, relStart, relEnd, keepLayouts)));
  const flat: { at: number; leaf: LeafValues }[] = [];
  const lists = new Map<number, { keys?: LeafValues; values?: LeafValues }>();
  leaves.forEach((c, i) => {
    const path = c.meta_data!.path_in_schema;
    const at = columns.indexOf(path[0]!);
    if (path.length === 1) {
      flat.push({ at, leaf: values[i]! });
      return;
    }
    // A list of {key, value} structs: one leaf per field, zipped when a row is taken.
    const entry = lists.get(at) ?? {};
    if (path[path.length - 1] === 'key') entry.keys = values[i];
    else entry.values = values[i];
    lists.set(at, entry);
  });
  const keyed = [...lists].map(([at, { keys, values: vals }]) => ({ at, keys, vals }));
  const width = columns.length;
  return {
    length: relEnd - relStart,
    row(r: number): SpanRowData {
      const row = new Array<unknown>(width);
      for (let f = 0; f < flat.length; f++) row[flat[f]!.at] = leafAt(flat[f]!.leaf, r);
      for (let k = 0; k < keyed.length; k++) {
        const { at, keys, vals } = keyed[k]!;
        const ks = (keys ? leafAt(keys, r) : undefined) as unknown[] | undefined;
        const vs = (vals ? leafAt(vals, r) : undefined) as unknown[] | undefined;
        const n = ks?.length ?? 0;
        const pairs = new Array<{ key: unknown; value: unknown }>(n);
        for (let j = 0; j < n; j++) pairs[j] = { key: ks![j], value: vs?.[j] };
        row[at] = pairs;
      }
      return row;
    },
  };
}
