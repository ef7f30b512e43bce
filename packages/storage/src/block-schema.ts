// The vAndante1 Parquet schema: one row per span, rows sorted by trace ID then span start time.
// Everything a span belongs to (trace summary, resource, scope) is repeated on each of its rows;
// dictionary + RLE encoding makes the repeats nearly free and lets a scan read any column alone.

import type { SchemaElement } from 'hyparquet';

export const FORMAT_V1 = 'vAndante1';

/** Attribute value kinds in the `type` field of an attribute list element. */
export const AttrType = {
  EMPTY: 0,
  STRING: 1,
  INT: 2,
  DOUBLE: 3,
  BOOL: 4,
  BYTES: 5,
  ARRAY: 6,
  KVLIST: 7,
  /** The value lives in the dedicated column for this key; the element keeps the key's position. */
  DEDICATED: 8,
} as const;

/** One element of an attribute list column, as hyparquet writes and reads it. */
export interface AttrRecord {
  key: string;
  type: number;
  str: string | null;
  int: bigint | null;
  dbl: number | null;
  bool: boolean | null;
  /** Bytes for BYTES; the any-value-codec encoding for ARRAY, KVLIST and a -0 DOUBLE. */
  raw: Uint8Array | null;
}

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

function attrList(name: string): Node {
  return listOf(name, [
    str('key'),
    i32('type'),
    str('str', 'OPTIONAL'),
    i64('int', 'OPTIONAL'),
    leaf('dbl', 'DOUBLE', 'OPTIONAL'),
    leaf('bool', 'BOOLEAN', 'OPTIONAL'),
    bin('raw', 'OPTIONAL'),
  ]);
}

/** Top-level columns in file order. */
const COLUMNS: Node[] = [
  // trace
  leaf('trace_id', 'FIXED_LEN_BYTE_ARRAY', 'REQUIRED', { type_length: 16 }),
  str('trace_root_service_name'),
  str('trace_root_span_name'),
  i64('trace_start_time_unix_nano'),
  i64('trace_end_time_unix_nano'),
  // position of the span in the trace as written: ResourceSpans, ScopeSpans, span order
  i32('rs_index'),
  i32('ss_index'),
  i32('span_index'),
  // resource
  str('resource_service_name'),
  ...RESOURCE_DEDICATED.slice(1).map((d) => str(d.column, 'OPTIONAL')),
  attrList('resource_attrs'),
  i32('resource_dropped_attributes_count'),
  str('resource_schema_url'),
  // scope
  str('scope_name'),
  str('scope_version'),
  attrList('scope_attrs'),
  i32('scope_dropped_attributes_count'),
  str('scope_schema_url'),
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
  attrList('attrs'),
  i32('dropped_attributes_count'),
  listOf('events', [
    i64('time_since_start_nano'),
    str('name'),
    attrList('attrs'),
    i32('dropped_attributes_count'),
  ]),
  i32('dropped_events_count'),
  listOf('links', [
    bin('trace_id'),
    bin('span_id'),
    str('trace_state'),
    attrList('attrs'),
    i32('dropped_attributes_count'),
    i32('flags'),
  ]),
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
/** Nested list columns: statistics over them say nothing useful, so they are not written. */
export const LIST_COLUMNS: ReadonlySet<string> = new Set(
  COLUMNS.filter((n) => n.children).map((n) => n.element.name),
);
