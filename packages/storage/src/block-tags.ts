// Tag names and values of a block (Grafana's dropdowns) read from what the block stores once per
// distinct value: the resource and scope tables, column dictionaries, and the key/value columns of
// the attribute lists decoded without assembling rows. Answers equal collecting from every trace
// (test: test/src/block-tags.test.ts), at a fraction of the cost. Root names are left to that
// slow path (null), as the block's root columns define the root slightly differently.

import type { FileMetaData } from 'hyparquet';
import { tagValueOf, type KeyValue, type TagRef, type TagScope, type TagValue } from '@andante/model';
import { decodeEvents, decodeKeyValues, decodeLinks } from './binary-codec.js';
import type { BlockTables } from './block-decode.js';
import { RowGroupScan } from './block-scan.js';
import { SPAN_DEDICATED } from './block-schema.js';
import type { ScanValue } from './column-chunk.js';

export interface TagSource {
  metadata: FileMetaData;
  tables: BlockTables;
  readRange(start: number, end: number): Promise<Uint8Array>;
}

const LISTS = ['attrs_str', 'attrs_int', 'attrs_dbl', 'attrs_bool'] as const;
const STATUS_NAMES = ['unset', 'ok', 'error'];
const KIND_NAMES = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

/** A column value as its typed tag value (strings, exact int64s, doubles, booleans). */
function typedScan(v: ScanValue, list: (typeof LISTS)[number] | 'string' | 'int'): TagValue | null {
  if (v === undefined) return null;
  switch (list) {
    case 'attrs_str':
    case 'string':
      return { type: 'string', value: String(v) };
    case 'attrs_int':
    case 'int':
      return { type: 'int', value: String(v) };
    case 'attrs_dbl':
      return { type: 'float', value: String(v) };
    case 'attrs_bool':
      return { type: 'bool', value: String(v) };
  }
}

function rowGroups(src: TagSource): RowGroupScan[] {
  let start = 0;
  return src.metadata.row_groups.map((rg) => {
    const scan = new RowGroupScan(src, src.metadata.schema, rg, start, Number(rg.num_rows), 'bigint');
    start += Number(rg.num_rows);
    return scan;
  });
}

/** The distinct present values of a flat column, per row group (nulls skipped). */
async function distinctValues(scan: RowGroupScan, column: string): Promise<ScanValue[]> {
  const pending = scan.column([column]);
  if (!pending) return [];
  const { codes, values } = await pending;
  const used = new Uint8Array(values.length);
  for (let i = 0; i < codes.length; i++) if (codes[i]! >= 0) used[codes[i]!] = 1;
  return values.filter((_, i) => used[i] === 1);
}

/** Keys of the attribute lists (their key dictionaries) and dedicated columns that hold a value. */
async function spanKeys(scan: RowGroupScan, into: Set<string>): Promise<void> {
  for (const list of LISTS) {
    const keys = scan.column([list, 'list', 'element', 'key']);
    if (!keys) continue;
    const { codes, values } = await keys;
    const used = new Uint8Array(values.length);
    for (let i = 0; i < codes.length; i++) used[codes[i]!] = 1;
    values.forEach((k, i) => used[i] && into.add(String(k)));
  }
  for (const d of SPAN_DEDICATED) if ((await distinctValues(scan, d.column)).length > 0) into.add(d.key);
  for (const blob of await distinctValues(scan, 'attrs_other')) for (const kv of decodeKeyValues(blob as Uint8Array)) into.add(kv.key);
}

/** Attribute lists of the events (or links) blobs of a row group. */
async function blobAttributes(scan: RowGroupScan, scope: 'event' | 'link'): Promise<KeyValue[][]> {
  const blobs = await distinctValues(scan, scope === 'event' ? 'events' : 'links');
  return blobs.flatMap((b) => (scope === 'event' ? decodeEvents(b as Uint8Array, 0n) : decodeLinks(b as Uint8Array)).map((x) => x.attributes));
}

/** Attribute names per scope (intrinsics are static: not collected here). */
export async function blockTagNames(src: TagSource, into: Map<TagScope, Set<string>>): Promise<void> {
  const set = (scope: TagScope): Set<string> => {
    let s = into.get(scope);
    if (!s) into.set(scope, (s = new Set()));
    return s;
  };
  const add = (scope: TagScope, kvs: readonly KeyValue[]): void => {
    if (kvs.length === 0) return;
    const s = set(scope);
    for (const kv of kvs) s.add(kv.key);
  };
  for (const r of src.tables.resources) add('resource', r.attributes);
  for (const sc of src.tables.scopes) add('instrumentation', sc.attributes);
  for (const scan of rowGroups(src)) {
    const span = new Set<string>();
    await spanKeys(scan, span);
    if (span.size > 0) for (const k of span) set('span').add(k);
    for (const attrs of await blobAttributes(scan, 'event')) add('event', attrs);
    for (const attrs of await blobAttributes(scan, 'link')) add('link', attrs);
  }
}

/**
 * Adds the values of `ref` in the block, keyed like collectTagValues (type NUL value); false when
 * this path does not answer that tag (root names), and nothing was added.
 */
export async function blockTagValues(src: TagSource, ref: TagRef, into: Map<string, TagValue>): Promise<boolean> {
  const put = (v: TagValue | null): void => {
    if (v) into.set(`${v.type}\u0000${v.value}`, v);
  };
  const fromAttrs = (kvs: readonly KeyValue[], key: string): void => {
    for (const kv of kvs) if (kv.key === key) put(tagValueOf(kv.value));
  };
  if (ref.kind === 'intrinsic' && (ref.name === 'rootName' || ref.name === 'rootServiceName')) return false;
  if (ref.kind === 'attribute' && (ref.scope === 'resource' || ref.scope === 'unscoped')) {
    for (const r of src.tables.resources) fromAttrs(r.attributes, ref.key);
  }
  if (ref.kind === 'attribute' && ref.scope === 'instrumentation') {
    for (const sc of src.tables.scopes) fromAttrs(sc.attributes, ref.key);
    return true;
  }
  if (ref.kind === 'attribute' && ref.scope === 'resource') return true;
  for (const scan of rowGroups(src)) {
    if (ref.kind === 'intrinsic') {
      switch (ref.name) {
        case 'name':
          for (const v of await distinctValues(scan, 'name')) put(typedScan(v, 'string'));
          break;
        case 'statusMessage':
          for (const v of await distinctValues(scan, 'status_message')) if (v) put(typedScan(v, 'string'));
          break;
        case 'status':
          for (const v of await distinctValues(scan, 'status_code')) put({ type: 'keyword', value: STATUS_NAMES[Number(v)] ?? 'unset' });
          break;
        case 'kind':
          for (const v of await distinctValues(scan, 'kind')) put({ type: 'keyword', value: KIND_NAMES[Number(v)] ?? 'unspecified' });
          break;
        case 'instrumentation:name':
          for (const v of await distinctValues(scan, 'scope_name')) if (v) put(typedScan(v, 'string'));
          break;
        case 'instrumentation:version':
          for (const v of await distinctValues(scan, 'scope_version')) if (v) put(typedScan(v, 'string'));
          break;
        case 'event:name':
          for (const b of await distinctValues(scan, 'events')) for (const e of decodeEvents(b as Uint8Array, 0n)) put({ type: 'string', value: e.name });
          break;
      }
      continue;
    }
    if (ref.scope === 'event' || ref.scope === 'link') {
      for (const attrs of await blobAttributes(scan, ref.scope)) fromAttrs(attrs, ref.key);
      continue;
    }
    // span. and unscoped: the dedicated column, the typed lists' pairs, and the blobs of other values.
    const dedicated = SPAN_DEDICATED.find((d) => d.key === ref.key);
    if (dedicated) for (const v of await distinctValues(scan, dedicated.column)) put(typedScan(v, dedicated.type));
    for (const list of LISTS) {
      const keys = scan.column([list, 'list', 'element', 'key']);
      if (!keys) continue;
      const k = await keys;
      const keyOk = k.values.map((x) => x === ref.key);
      if (!keyOk.includes(true)) continue;
      const v = await scan.column([list, 'list', 'element', 'value'])!;
      const seen = new Uint8Array(v.values.length);
      for (let i = 0; i < k.codes.length; i++) if (keyOk[k.codes[i]!]) seen[v.codes[i]!] = 1;
      v.values.forEach((x, i) => seen[i] && put(typedScan(x, list)));
    }
    for (const blob of await distinctValues(scan, 'attrs_other')) fromAttrs(decodeKeyValues(blob as Uint8Array), ref.key);
  }
  return true;
}
