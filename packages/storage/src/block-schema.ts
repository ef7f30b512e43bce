// The block's Parquet schema (vAndante1 and vAndante2 share it): one row per span, rows sorted by
// trace ID then span start time.
// Trace summary columns repeat on each span row (dictionary + RLE make that nearly free) so a scan
// reads any column alone. Resources and scopes are stored once per block in footer tables and
// referenced per span (resource_ref, scope_ref); their common fields also have span columns.
// Span attributes sit in dense typed lists (every leaf holds a value for every element, so pages
// split evenly and a lookup decodes only the pages of its rows); rare shapes are blobs.

import type { CompressionCodec, Encoding, SchemaElement } from 'hyparquet';
import type { Compressor } from './block-codecs.js';

/** SNAPPY pages, hyparquet-writer's default encodings. Still read. */
export const FORMAT_V1 = 'vAndante1';
/** The schema of vAndante1 with BROTLI pages and the column encodings of COLUMN_WRITE. Written today. */
export const FORMAT_V2 = 'vAndante2';
/** The format encodeBlock writes. */
export const CURRENT_FORMAT = FORMAT_V2;
/** Formats ParquetBlockReader reads (the schema is the same; only codecs and encodings differ). */
export const PARQUET_FORMATS: readonly string[] = [FORMAT_V1, FORMAT_V2];

/** Page codec of every vAndante2 column that COLUMN_WRITE does not name otherwise. */
export const BLOCK_CODEC: CompressionCodec = 'BROTLI';
/**
 * Where node:zlib has zstd (Node >= 22.15), each BROTLI leaf is written as ZSTD_LEAF_CODECS says,
 * and a leaf it does not name as ZSTD at this level.
 */
export const BLOCK_ZSTD_LEVEL = 6;

export type LeafCodec = { codec: 'ZSTD'; level: number } | { codec: 'BROTLI'; quality: number };
const zstdAt = (level: number): LeafCodec => ({ codec: 'ZSTD', level });
const brotliAt = (quality: number): LeafCodec => ({ codec: 'BROTLI', quality });

/**
 * Each leaf's page codec where ZSTD can be written, chosen per leaf by `node bench/dist/page-codecs.js`
 * on Node 24 (docs/block-format.md, "Page codecs"): the cheapest of BROTLI 1/3/4/5 and ZSTD 1-9 when
 * one byte per span at rest is worth one CPU-µs per span. Leaves under 0.05 bytes per span are left
 * to BLOCK_ZSTD_LEVEL. A Node without zstd writes COLUMN_WRITE's BROTLI qualities instead.
 */
export const ZSTD_LEAF_CODECS: Readonly<Record<string, LeafCodec>> = {
  trace_id: brotliAt(3),
  trace_start_time_unix_nano: zstdAt(2),
  trace_end_time_unix_nano: zstdAt(2),
  rs_index: brotliAt(3),
  span_index: zstdAt(1),
  resource_ref: brotliAt(3),
  resource_service_name: brotliAt(3),
  resource_k8s_pod_name: brotliAt(3),
  parent_span_id: zstdAt(2),
  parent_id: brotliAt(3),
  nested_set_left: zstdAt(2),
  nested_set_right: zstdAt(2),
  name: brotliAt(3),
  kind: brotliAt(1),
  start_time_unix_nano: zstdAt(5),
  duration_nano: brotliAt(4),
  status_code: brotliAt(3),
  status_message: brotliAt(3),
  http_method: brotliAt(1),
  http_url: zstdAt(9),
  http_route: brotliAt(1),
  http_status_code: brotliAt(3),
  'attrs_str.list.element.key': zstdAt(4),
  'attrs_str.list.element.value': zstdAt(1),
  'attrs_int.list.element.key': brotliAt(3),
  'attrs_int.list.element.value': zstdAt(1),
  'attrs_dbl.list.element.value': brotliAt(3),
  attrs_order: brotliAt(3),
  events: zstdAt(1),
};

export interface ColumnWrite {
  /** Parquet encoding of the column's leaves; unset: dictionary when it at least halves the chunk, else PLAIN. */
  encoding?: Encoding;
  codec?: CompressionCodec;
  /**
   * Brotli quality of the column's BROTLI pages (unset: BROTLI_QUALITY). Any quality is the same
   * codec to a reader; only our column writer applies it (hyparquet-writer has one compressor per codec).
   */
  brotliQuality?: number;
  /** Compresses the leaf's BROTLI pages instead (measurements: bench/src/page-codecs.ts captures pages per leaf so). */
  compressor?: Compressor;
}

/**
 * vAndante2's per-column encodings, chosen by measurement on realistic spans
 * (docs/block-format.md). Every other column: automatic dictionary and BLOCK_CODEC. Keys are
 * top-level columns; a leaf's dotted path may set `brotliQuality` for that leaf alone.
 */
export const COLUMN_WRITE: Readonly<Record<string, ColumnWrite>> = {
  // Random 8 bytes: no 4-byte length prefix per ID (the lengths delta-pack to ~nothing), and no
  // codec can shrink the rest, so the cheapest one.
  span_id: { encoding: 'DELTA_LENGTH_BYTE_ARRAY', codec: 'SNAPPY' },
  // Byte planes: the high bytes of times and durations are nearly constant and compress away.
  start_time_unix_nano: { encoding: 'BYTE_STREAM_SPLIT', brotliQuality: 4 },
  duration_nano: { encoding: 'BYTE_STREAM_SPLIT', brotliQuality: 4 },
  nested_set_left: { encoding: 'BYTE_STREAM_SPLIT' },
  nested_set_right: { encoding: 'BYTE_STREAM_SPLIT' },
  span_index: { encoding: 'BYTE_STREAM_SPLIT' },
  // Brotli quality per column (issue 14; docs/block-format.md, "Brotli quality per column"): page
  // compression was a fifth of a block encode's CPU, and the string attribute values a third of
  // that. Those are smaller at quality 3 than at 5 (mixed keys' values: the cheaper matcher finds
  // the same repeats) and three times cheaper. Start times, durations and trace IDs are as small
  // at 4. Every other column stays at 5: at 3 or 4 each costs bytes (http_url ~0.45 per span).
  'attrs_str.list.element.value': { brotliQuality: 3 },
  trace_id: { brotliQuality: 4 },
};

/**
 * Codes in a span's `attrs_order` bytes, one per attribute in original order: which typed list
 * holds the next value, or (DEDICATED | i) for the i-th dedicated span column.
 */
export const AttrSlot = {
  STRING: 1,
  INT: 2,
  DOUBLE: 3,
  BOOL: 4,
  /** bytes, arrays, kvlists, empty values and -0 (which a dictionary would fold into 0). */
  OTHER: 5,
  DEDICATED: 0x80,
} as const;

/** Footer key-value metadata keys of the resource and scope tables (base64 of binary tables). */
export const RESOURCE_TABLE_KEY = 'andante.resources';
export const SCOPE_TABLE_KEY = 'andante.scopes';

export interface DedicatedColumn {
  /** Attribute key. */
  key: string;
  column: string;
  type: 'string' | 'int';
}

/** Resource attributes with their own columns (Tempo vParquet4's well-known resource columns). */
export const RESOURCE_DEDICATED: readonly DedicatedColumn[] = [
  { key: 'service.name', column: 'resource_service_name', type: 'string' },
  { key: 'cluster', column: 'resource_cluster', type: 'string' },
  { key: 'namespace', column: 'resource_namespace', type: 'string' },
  { key: 'pod', column: 'resource_pod', type: 'string' },
  { key: 'container', column: 'resource_container', type: 'string' },
  { key: 'k8s.cluster.name', column: 'resource_k8s_cluster_name', type: 'string' },
  { key: 'k8s.namespace.name', column: 'resource_k8s_namespace_name', type: 'string' },
  { key: 'k8s.pod.name', column: 'resource_k8s_pod_name', type: 'string' },
  { key: 'k8s.container.name', column: 'resource_k8s_container_name', type: 'string' },
];

/** Span attributes with their own columns (vParquet4's HTTP columns plus route and db.system). */
export const SPAN_DEDICATED: readonly DedicatedColumn[] = [
  { key: 'http.method', column: 'http_method', type: 'string' },
  { key: 'http.url', column: 'http_url', type: 'string' },
  { key: 'http.route', column: 'http_route', type: 'string' },
  { key: 'http.status_code', column: 'http_status_code', type: 'int' },
  { key: 'db.system', column: 'db_system', type: 'string' },
];

// Schema building: a tree, flattened depth-first with num_children as Parquet wants it.
interface Node {
  element: SchemaElement;
  children?: Node[];
}

const leaf = (name: string, type: SchemaElement['type'], repetition: 'REQUIRED' | 'OPTIONAL', extra: Partial<SchemaElement> = {}): Node => ({
  element: { name, type, repetition_type: repetition, ...extra },
});
const str = (name: string, repetition: 'REQUIRED' | 'OPTIONAL' = 'REQUIRED'): Node =>
  leaf(name, 'BYTE_ARRAY', repetition, { converted_type: 'UTF8' });
const bin = (name: string, repetition: 'REQUIRED' | 'OPTIONAL' = 'REQUIRED'): Node => leaf(name, 'BYTE_ARRAY', repetition);
const i32 = (name: string): Node => leaf(name, 'INT32', 'REQUIRED');
const i64 = (name: string, repetition: 'REQUIRED' | 'OPTIONAL' = 'REQUIRED'): Node => leaf(name, 'INT64', repetition);

/** A required LIST of required structs (3-level list encoding, as the Parquet spec recommends). */
function listOf(name: string, fields: Node[]): Node {
  return {
    element: { name, repetition_type: 'REQUIRED', converted_type: 'LIST' },
    children: [
      {
        element: { name: 'list', repetition_type: 'REPEATED' },
        children: [{ element: { name: 'element', repetition_type: 'REQUIRED' }, children: fields }],
      },
    ],
  };
}

/** A LIST of {key, value} with a required value of one type. */
function typedAttrList(name: string, value: Node): Node {
  return listOf(name, [str('key'), value]);
}

/** Top-level columns in file order. */
const COLUMNS: Node[] = [
  // trace (repeated on each span row; RLE makes that nearly free)
  leaf('trace_id', 'FIXED_LEN_BYTE_ARRAY', 'REQUIRED', { type_length: 16 }),
  str('trace_root_service_name'),
  str('trace_root_span_name'),
  i64('trace_start_time_unix_nano'),
  i64('trace_end_time_unix_nano'),
  // position of the span in the trace as written: ResourceSpans, ScopeSpans, span order
  i32('rs_index'),
  i32('ss_index'),
  i32('span_index'),
  // resource and scope: full content in the footer tables, plus columns for scanning
  i32('resource_ref'),
  i32('scope_ref'),
  ...RESOURCE_DEDICATED.map((d, i) => str(d.column, i === 0 ? 'REQUIRED' : 'OPTIONAL')),
  str('scope_name'),
  str('scope_version'),
  // span
  bin('span_id'),
  bin('parent_span_id'),
  i32('parent_id'),
  i32('nested_set_left'),
  i32('nested_set_right'),
  str('name'),
  i32('kind'),
  i64('start_time_unix_nano'),
  i64('duration_nano'),
  i32('status_code'),
  str('status_message'),
  str('trace_state'),
  i32('flags'),
  ...SPAN_DEDICATED.map((d) => (d.type === 'int' ? i64(d.column, 'OPTIONAL') : str(d.column, 'OPTIONAL'))),
  typedAttrList('attrs_str', str('value')),
  typedAttrList('attrs_int', i64('value')),
  typedAttrList('attrs_dbl', leaf('value', 'DOUBLE', 'REQUIRED')),
  typedAttrList('attrs_bool', leaf('value', 'BOOLEAN', 'REQUIRED')),
  bin('attrs_other', 'OPTIONAL'),
  bin('attrs_order'),
  i32('dropped_attributes_count'),
  bin('events', 'OPTIONAL'),
  i32('dropped_events_count'),
  bin('links', 'OPTIONAL'),
  i32('dropped_links_count'),
];

function flatten(nodes: Node[], out: SchemaElement[]): SchemaElement[] {
  for (const n of nodes) {
    if (n.children) {
      out.push({ ...n.element, num_children: n.children.length });
      flatten(n.children, out);
    } else {
      out.push(n.element);
    }
  }
  return out;
}

export const BLOCK_SCHEMA: SchemaElement[] = flatten(COLUMNS, [{ name: 'root', num_children: COLUMNS.length }]);
export const COLUMN_NAMES: readonly string[] = COLUMNS.map((n) => n.element.name);
/** Physical storage of each top-level column in the encoder's row-group buffer. */
export const COLUMN_KINDS: Readonly<Record<string, 'i32' | 'i64' | 'any'>> = Object.fromEntries(
  COLUMNS.map((n) => [
    n.element.name,
    n.children || n.element.repetition_type !== 'REQUIRED' ? 'any' : n.element.type === 'INT32' ? 'i32' : n.element.type === 'INT64' ? 'i64' : 'any',
  ]),
);
/**
 * Columns with min/max statistics: those a query filters on. Statistics elsewhere (IDs, blobs,
 * lists, positions) would only grow the footer and the write time.
 */
export const STATS_COLUMNS: ReadonlySet<string> = new Set([
  'trace_root_service_name',
  'trace_root_span_name',
  'trace_start_time_unix_nano',
  'trace_end_time_unix_nano',
  ...RESOURCE_DEDICATED.map((d) => d.column),
  'scope_name',
  'name',
  'kind',
  'start_time_unix_nano',
  'duration_nano',
  'status_code',
  ...SPAN_DEDICATED.map((d) => d.column),
]);

/** Columns a trace is rebuilt from; the rest (trace summary, resource/scope copies, nested set) are derived. */
export const TRACE_COLUMNS: readonly string[] = [
  'trace_id',
  'rs_index',
  'ss_index',
  'span_index',
  'resource_ref',
  'scope_ref',
  'span_id',
  'parent_span_id',
  'name',
  'kind',
  'start_time_unix_nano',
  'duration_nano',
  'status_code',
  'status_message',
  'trace_state',
  'flags',
  ...SPAN_DEDICATED.map((d) => d.column),
  'attrs_str',
  'attrs_int',
  'attrs_dbl',
  'attrs_bool',
  'attrs_other',
  'attrs_order',
  'dropped_attributes_count',
  'events',
  'dropped_events_count',
  'links',
  'dropped_links_count',
];
