// Per-block tables of distinct resources and scopes, stored in the Parquet footer's key-value
// metadata and referenced by index from each span row. A block holds few distinct resources
// (services x pods), so storing them once saves repeating ~10 attributes on every span, and a
// query on a resource attribute can be answered per resource instead of per span.
//
// Table: varint count, then each entry as varint length + bytes.
// Resource entry: attributes, varint dropped count, ResourceSpans schema URL.
// Scope entry: name, version, attributes, varint dropped count, ScopeSpans schema URL.

import type { KeyValue, ResourceSpans, ScopeSpans } from '@andante/model';
import { BinaryReader, BinaryWriter } from './binary-codec.js';

export interface ResourceEntry {
  attributes: KeyValue[];
  droppedAttributesCount: number;
  schemaUrl: string;
}

export interface ScopeEntry {
  name: string;
  version: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  schemaUrl: string;
}

/** Collects distinct encoded entries; identical content gets one index. */
export class TableBuilder {
  private readonly index = new Map<string, number>();
  readonly entries: Uint8Array[] = [];

  add(entry: Uint8Array): number {
    const key = Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength).toString('latin1');
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.entries.length;
      this.entries.push(entry);
      this.index.set(key, i);
    }
    return i;
  }

  encode(): Uint8Array {
    const w = new BinaryWriter();
    w.varint(this.entries.length);
    for (const e of this.entries) w.bytes(e);
    return w.finish();
  }
}

export function encodeResourceEntry(rs: ResourceSpans): Uint8Array {
  const w = new BinaryWriter();
  w.keyValues(rs.resource.attributes);
  w.varint(rs.resource.droppedAttributesCount >>> 0);
  w.string(rs.schemaUrl);
  return w.finish();
}

export function encodeScopeEntry(ss: ScopeSpans): Uint8Array {
  const w = new BinaryWriter();
  w.string(ss.scope.name);
  w.string(ss.scope.version);
  w.keyValues(ss.scope.attributes);
  w.varint(ss.scope.droppedAttributesCount >>> 0);
  w.string(ss.schemaUrl);
  return w.finish();
}

function decodeTable<T>(data: Uint8Array, entry: (r: BinaryReader) => T): T[] {
  const r = new BinaryReader(data);
  const n = r.varint();
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(entry(new BinaryReader(r.bytes())));
  return out;
}

export function decodeResourceTable(data: Uint8Array): ResourceEntry[] {
  return decodeTable(data, (r) => ({
    attributes: r.keyValues(),
    droppedAttributesCount: r.varint(),
    schemaUrl: r.string(),
  }));
}

export function decodeScopeTable(data: Uint8Array): ScopeEntry[] {
  return decodeTable(data, (r) => ({
    name: r.string(),
    version: r.string(),
    attributes: r.keyValues(),
    droppedAttributesCount: r.varint(),
    schemaUrl: r.string(),
  }));
}
