// Test support (`@andante/storage/testing`, not exported from index.ts): fixtures for other writers'
// blocks, random traces for round trips, and a canonical dump of a Parquet file as our reader
// (hyparquet) decodes it, for comparing with an independent reader.

import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { compareBytes, mulberry32 } from '@andante/model';
import type { AnyValue, BlockMeta, KeyValue, ResourceSpans, Span, Trace } from '@andante/model';
import type { Backend } from '@andante/backend';
import { newBlockId, writeEncodedBlock } from './backend-block.js';
import { encodeBlock, encodeBlockWith, tuningFor } from './block-encode.js';
import { encodeBlockMeta } from './block-meta.js';
import { BROTLI_QUALITY, READ_DECOMPRESSORS, brotliCompressorAt } from './block-codecs.js';
import type { EncodedBlock, TraceEntry } from './block-encode.js';
import type { BlockConfig } from './block-config.js';
import { BLOCK_SCHEMA, COLUMN_WRITE, CURRENT_FORMAT, FORMAT_V1, STATS_COLUMNS, type ColumnWrite } from './block-schema.js';
import { leafSpecs } from './column-writer.js';
import { readRowsByPages } from './row-pages.js';

/** A Tempo 2.x vParquet4 meta.json (fields of tempodb/backend/v1/v1.proto, shared/reference/tempo-api.md 4.2). */
export function tempoVParquet4Meta(tenantId: string, blockId: string): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      format: 'vParquet4',
      blockID: blockId,
      tenantID: tenantId,
      startTime: '2026-12-01T10:00:00Z',
      endTime: '2026-12-01T10:05:00Z',
      totalObjects: 120,
      size: 482_113,
      compactionLevel: 0,
      encoding: 'none',
      indexPageSize: 0,
      totalRecords: 1,
      dataEncoding: '',
      bloomShards: 1,
      footerSize: 20_480,
      dedicatedColumns: [{ s: 'resource', n: 'k8s.namespace.name', t: 'string' }],
      replicationFactor: 1,
    }),
  );
}

/** A meta.json cut short, as a writer without atomic writes leaves it when killed. */
export const TRUNCATED_META: Uint8Array = new TextEncoder().encode('{"format":"vAndante2","blockID":"');

type Rand = () => number;
const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const bytes = (r: Rand, n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(r, 256));
const u64 = (r: Rand): bigint => (BigInt(int(r, 2 ** 32)) << 32n) | BigInt(int(r, 2 ** 32));

const STRINGS = ['', 'a', 'GET', 'POST', '/orders/{id}', 'ünïcødé ✓', 'x'.repeat(300), 'line\nbreak', '\u0000nul'];
// Dedicated keys (columns of their own), in and out of their column's type, and ordinary ones.
const KEYS = ['http.method', 'http.url', 'http.route', 'http.status_code', 'db.system', 'service.name', 'k8s.pod.name', 'user.id', 'retry', 'size', 'payload', 'tags', 'nested'];

function anyValue(r: Rand, depth = 0): AnyValue {
  switch (int(r, depth > 1 ? 6 : 8)) {
    case 0:
      return { stringValue: pick(r, STRINGS) + (r() < 0.5 ? String(int(r, 1000)) : '') };
    case 1:
      return { intValue: pick(r, [0n, 1n, -1n, 200n, 9_007_199_254_740_993n, -(2n ** 63n), 2n ** 63n - 1n, BigInt.asIntN(64, u64(r))]) };
    case 2:
      return { doubleValue: pick(r, [0, -0, 1.5, -2.25, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MIN_VALUE, r() * 1e6]) };
    case 3:
      return { boolValue: r() < 0.5 };
    case 4:
      return { bytesValue: bytes(r, int(r, 20)) };
    case 5:
      return {};
    case 6:
      return { arrayValue: { values: Array.from({ length: int(r, 4) }, () => anyValue(r, depth + 1)) } };
    default:
      return { kvlistValue: { values: attributes(r, 3, depth + 1) } };
  }
}

function attributes(r: Rand, max: number, depth = 0): KeyValue[] {
  return Array.from({ length: int(r, max + 1) }, () => ({ key: r() < 0.8 ? pick(r, KEYS) : `k${int(r, 50)}`, value: anyValue(r, depth) }));
}

function span(r: Rand, traceId: Uint8Array, spanId: Uint8Array, parent: Uint8Array, t0: bigint): Span {
  const start = r() < 0.05 ? u64(r) : t0 + BigInt(int(r, 1e9));
  // Mostly forward durations; a few negative or wrapping ones (stored modulo 2^64).
  const end = r() < 0.05 ? u64(r) : start + BigInt(int(r, 5e8));
  return {
    traceId,
    spanId,
    traceState: r() < 0.2 ? 'vendor=abc,other=1' : '',
    parentSpanId: parent,
    flags: pick(r, [0, 1, 0x100, 0xffffffff]),
    name: pick(r, ['GET /orders', 'SELECT', 'checkout', '', 'ünïcødé']),
    kind: int(r, 6),
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes: attributes(r, 8),
    droppedAttributesCount: pick(r, [0, 0, 3, 0xffffffff]),
    events: Array.from({ length: r() < 0.3 ? 1 + int(r, 3) : 0 }, () => ({
      timeUnixNano: r() < 0.1 ? u64(r) : start + BigInt(int(r, 1e6)),
      name: pick(r, ['exception', '', 'retry']),
      attributes: attributes(r, 3),
      droppedAttributesCount: int(r, 3),
    })),
    droppedEventsCount: int(r, 2),
    links: Array.from({ length: r() < 0.2 ? 1 + int(r, 2) : 0 }, () => ({
      traceId: bytes(r, 16),
      spanId: bytes(r, 8),
      traceState: r() < 0.5 ? '' : 'k=v',
      attributes: attributes(r, 2),
      droppedAttributesCount: int(r, 2),
      flags: pick(r, [0, 1, 0x301]),
    })),
    droppedLinksCount: int(r, 2),
    status: { code: int(r, 3), message: r() < 0.2 ? 'upstream failed' : '' },
  };
}

/** One random trace: 1-3 resources, 1-2 scopes each, 1-8 spans each, mostly a tree. */
function randomTrace(r: Rand, traceId: Uint8Array): Trace {
  const t0 = 1_700_000_000_000_000_000n + BigInt(int(r, 1e9));
  const ids: Uint8Array[] = [];
  const resourceSpans: ResourceSpans[] = Array.from({ length: 1 + int(r, 3) }, (_, ri) => ({
    resource: {
      attributes: [...(r() < 0.9 ? [{ key: 'service.name', value: { stringValue: `svc-${ri}-${int(r, 3)}` } }] : []), ...attributes(r, 4)],
      droppedAttributesCount: int(r, 2),
    },
    scopeSpans: Array.from({ length: 1 + int(r, 2) }, () => ({
      scope: { name: pick(r, ['http', 'pg', '']), version: pick(r, ['1.0', '']), attributes: attributes(r, 2), droppedAttributesCount: int(r, 2) },
      spans: Array.from({ length: int(r, 9) }, () => {
        const id = r() < 0.03 ? bytes(r, pick(r, [0, 4, 16])) : bytes(r, 8);
        // The first span is a root; others hang off an earlier span, or a missing or empty parent.
        const parent = ids.length === 0 || r() < 0.05 ? new Uint8Array(0) : r() < 0.05 ? bytes(r, 8) : pick(r, ids);
        ids.push(id);
        return span(r, traceId, id, parent, t0);
      }),
      schemaUrl: r() < 0.3 ? 'https://opentelemetry.io/schemas/1.21.0' : '',
    })),
    schemaUrl: r() < 0.3 ? 'https://opentelemetry.io/schemas/1.20.0' : '',
  }));
  return { resourceSpans };
}

/** What a block gives back (docs/block-format.md, Exactness): empty groups dropped. */
export function normaliseTrace(trace: Trace): Trace {
  return {
    resourceSpans: trace.resourceSpans
      .map((rs) => ({ ...rs, scopeSpans: rs.scopeSpans.filter((ss) => ss.spans.length > 0) }))
      .filter((rs) => rs.scopeSpans.length > 0),
  };
}

/**
 * About n random traces (seeded: a failure names its seed) sorted by ID, each ID once, none empty:
 * every span field, attribute values of every type (-0, NaN, int64 extremes, bytes, arrays,
 * kvlists, empty values), dedicated keys in and out of their column's type, events, links,
 * wrapping uint64 times.
 */
export function randomTraces(seed: number, n: number): TraceEntry[] {
  const r = mulberry32(seed);
  const out: TraceEntry[] = [];
  for (let i = 0; i < n; i++) {
    const traceId = bytes(r, 16);
    out.push({ traceId, trace: randomTrace(r, traceId) });
  }
  return out
    .sort((a, b) => compareBytes(a.traceId, b.traceId))
    .filter((t, i, all) => i === 0 || compareBytes(all[i - 1]!.traceId, t.traceId) !== 0)
    .filter((t) => normaliseTrace(t.trace).resourceSpans.length > 0);
}


/** Columns whose chunks carry min/max statistics in every block we write. */
export const STATISTICS_COLUMNS: ReadonlySet<string> = STATS_COLUMNS;

/** A vAndante1 block (SNAPPY pages, hyparquet-writer's default encodings), as older builds wrote. */
export function encodeV1Block(tenantId: string, blockId: string, traces: Iterable<TraceEntry>, cfg: Partial<BlockConfig>): EncodedBlock {
  return encodeBlockWith(tenantId, blockId, traces, cfg, 0, tuningFor(FORMAT_V1));
}

/**
 * A value in a form two readers can agree on in JSON: strings as they are, integers as decimal
 * strings prefixed `i`, doubles as `d` + the hex of their little-endian bytes (so -0 and NaN are
 * exact; any NaN is `dNaN`), bytes as `b` + hex, booleans and null as they are; lists and structs
 * element by element. test/src/parquet-independent-reader.test.ts's Python side does the same.
 */
export type Canonical = string | boolean | null | Canonical[] | { [key: string]: Canonical };

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function canonicalValue(v: unknown): Canonical {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return `i${v}`;
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'dNaN';
    return `d${hex(new Uint8Array(Float64Array.of(v).buffer))}`;
  }
  if (v instanceof Uint8Array) return `b${hex(v)}`;
  if (Array.isArray(v)) return v.map(canonicalValue);
  if (typeof v === 'object') {
    const out: Record<string, Canonical> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = canonicalValue(x);
    return out;
  }
  throw new Error(`no canonical form for ${typeof v}`);
}

export interface CanonicalParquet {
  /** Per row group: its row count and each top-level column's values, row by row. */
  rowGroups: { numRows: number; columns: Record<string, Canonical[]> }[];
}

function memoryFile(data: Uint8Array): AsyncBuffer {
  return {
    byteLength: data.byteLength,
    slice: (start: number, end?: number) => data.slice(start, end).buffer,
  };
}

/**
 * data.parquet as hyparquet reads it (every column of every row group, whole), in canonical
 * form. INT32 columns read as numbers come back as `i` integers like the Python side's.
 */
export async function readParquetCanonical(data: Uint8Array): Promise<CanonicalParquet> {
  const file = memoryFile(data);
  const metadata = parquetMetadata(data.slice().buffer);
  const int32 = new Set(metadata.schema.filter((e) => e.type === 'INT32').map((e) => e.name));
  const rowGroups: CanonicalParquet['rowGroups'] = [];
  let rowStart = 0;
  for (const rg of metadata.row_groups) {
    const numRows = Number(rg.num_rows);
    const rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd: rowStart + numRows, compressors: READ_DECOMPRESSORS, utf8: false });
    rowGroups.push({ numRows, columns: columnsOf(rows, metadata.schema.slice(1).map((e) => e.name), int32) });
    rowStart += numRows;
  }
  return { rowGroups };
}

const footers = new WeakMap<Uint8Array, FileMetaData>();

/**
 * Rows [rowStart, rowEnd) of one row group read the way a trace lookup reads them (the offset
 * index picks each column's pages), in canonical form per column.
 */
export async function readParquetRowsCanonical(data: Uint8Array, rowGroup: number, rowStart: number, rowEnd: number): Promise<Record<string, Canonical[]>> {
  const file = memoryFile(data);
  let metadata = footers.get(data);
  if (!metadata) footers.set(data, (metadata = parquetMetadata(data.slice().buffer)));
  let groupStart = 0;
  for (let i = 0; i < rowGroup; i++) groupStart += Number(metadata.row_groups[i]!.num_rows);
  const names = metadata.schema.slice(1).map((e) => e.name);
  const int32 = new Set(metadata.schema.filter((e) => e.type === 'INT32').map((e) => e.name));
  const top = topLevelNames(metadata.schema);
  const rows = await readRowsByPages(file, metadata, metadata.row_groups[rowGroup]!, groupStart, top, groupStart + rowStart, groupStart + rowEnd);
  // Array rows (values in `top`'s order) keyed by column, as parquetReadObjects gives them.
  return columnsOf(rows.map((r) => Object.fromEntries(top.map((name, i) => [name, r[i]]))), names, int32);
}

/** Top-level column names of a flattened schema. */
function topLevelNames(schema: readonly { name: string; num_children?: number }[]): string[] {
  const out: string[] = [];
  let i = 1;
  const skip = (): void => {
    const n = schema[i++]!.num_children ?? 0;
    for (let c = 0; c < n; c++) skip();
  };
  while (i < schema.length) {
    out.push(schema[i]!.name);
    skip();
  }
  return out;
}

function columnsOf(rows: readonly Record<string, unknown>[], names: readonly string[], int32: ReadonlySet<string>): Record<string, Canonical[]> {
  const columns: Record<string, Canonical[]> = {};
  const first = rows[0] ?? {};
  for (const name of Object.keys(first)) {
    if (!names.includes(name)) continue;
    columns[name] = rows.map((r) => {
      const v = r[name];
      return int32.has(name) && typeof v === 'number' ? `i${v}` : canonicalValue(v);
    });
  }
  return columns;
}

/**
 * A compaction output as the compactor writes it: meta.json names the job's inputs
 * (`compactedFrom`), and `cutAtBufferBudget` marks an output that is not the job's last.
 */
export async function writeCompactionOutput(
  backend: Backend,
  tenantId: string,
  blockId: string,
  traces: Iterable<TraceEntry>,
  inputs: readonly BlockMeta[],
  opts: { cutAtBufferBudget?: boolean } = {},
): Promise<BlockMeta> {
  const block = encodeBlock(tenantId, blockId, traces, {}, 1);
  const meta: BlockMeta = { ...block.meta, compactedFrom: inputs.map((m) => m.blockID), ...(opts.cutAtBufferBudget ? { cutAtBufferBudget: true } : {}) };
  const objects = block.objects.map((o) => (o.name === 'meta.json' ? { name: o.name, data: encodeBlockMeta(meta) } : o));
  return writeEncodedBlock(backend, { ...block, meta, objects });
}

/** A trace of one span: trace ID 16 x `traceByte`, span ID 8 x `spanByte`. */
export function oneSpanTrace(traceByte: number, spanByte = traceByte): TraceEntry {
  const traceId = new Uint8Array(16).fill(traceByte);
  const span: Span = {
    traceId, spanId: new Uint8Array(8).fill(spanByte), parentSpanId: new Uint8Array(0), traceState: '', name: 'op', kind: 2,
    startTimeUnixNano: 1_700_000_000_000_000_000n, endTimeUnixNano: 1_700_000_000_100_000_000n, attributes: [], droppedAttributesCount: 0,
    events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' }, flags: 0,
  };
  return {
    traceId,
    trace: { resourceSpans: [{ resource: { attributes: [], droppedAttributesCount: 0 }, scopeSpans: [{ scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [span], schemaUrl: '' }], schemaUrl: '' }] },
  };
}

// The page codecs blocks are written and read with, for benchmarks that compare them (bench/src/page-codecs.ts).
export { READ_DECOMPRESSORS, ZSTD_AVAILABLE, brotliCompressorAt, zstdCompressorAt } from './block-codecs.js';

/** One page a block encode compressed, with its leaf and the Brotli quality it had. */
export interface CapturedPage {
  leaf: string;
  quality: number;
  bytes: Uint8Array;
}

/**
 * Encodes `traces` as the current format does with BROTLI pages only (no ZSTD), handing every page
 * to `onPage` with its leaf before compressing it as usual (bench/src/page-codecs.ts).
 */
export function encodeCapturingPages(traces: Iterable<TraceEntry>, onPage: (page: CapturedPage) => void): EncodedBlock {
  const columns: Record<string, ColumnWrite> = { ...COLUMN_WRITE };
  for (const leaf of leafSpecs(BLOCK_SCHEMA)) {
    const top = leaf.path[0]!;
    if (COLUMN_WRITE[top]?.codec !== undefined && COLUMN_WRITE[top]?.codec !== 'BROTLI') continue;
    const quality = COLUMN_WRITE[leaf.key]?.brotliQuality ?? COLUMN_WRITE[top]?.brotliQuality ?? BROTLI_QUALITY;
    const brotli = brotliCompressorAt(quality);
    const base = leaf.key === top ? COLUMN_WRITE[top] : COLUMN_WRITE[leaf.key];
    columns[leaf.key] = {
      ...base,
      compressor: (input) => {
        onPage({ leaf: leaf.key, quality, bytes: Uint8Array.prototype.slice.call(input) });
        return brotli(input);
      },
    };
  }
  return encodeBlockWith('bench', newBlockId(), traces, {}, 0, { ...tuningFor(CURRENT_FORMAT, 'andante', true), zstd: false, columns });
}
