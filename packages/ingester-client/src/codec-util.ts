// Small pieces the ingester's query codecs share: 64-bit fixed fields, wire-type checks, block
// metas as their meta.json, and one error path for whatever a malformed message throws.

import protobuf from 'protobufjs/minimal.js';
import type { BlockMeta } from '@andante/model';
import { I64, LEN, asInvalidArgument, malformed, type Reader } from '@andante/model/wire';

export function writeFixed64(w: protobuf.Writer, v: bigint): void {
  w.fixed32(Number(v & 0xffffffffn)).fixed32(Number((v >> 32n) & 0xffffffffn));
}

export function expectWireType(tag: number, wireType: number, what: string): void {
  if ((tag & 7) !== wireType) throw malformed(`${what} field ${tag >>> 3} has wire type ${tag & 7}, expected ${wireType}`);
}

export const lenTag = (field: number): number => (field << 3) | LEN;
export const i64Tag = (field: number): number => (field << 3) | I64;

/** Recently flushed blocks travel as Tempo's meta.json, which every backend reader already parses. */
export function writeMetas(w: protobuf.Writer, field: number, metas: readonly BlockMeta[] | undefined): void {
  for (const meta of metas ?? []) w.uint32(lenTag(field)).string(JSON.stringify(meta));
}

export function parseMeta(text: string): BlockMeta {
  const m = JSON.parse(text) as Partial<BlockMeta>;
  if (typeof m !== 'object' || m === null || typeof m.blockID !== 'string' || typeof m.tenantID !== 'string' || typeof m.format !== 'string') {
    throw malformed('flushed_block_meta is not a block meta (blockID, tenantID, format)');
  }
  return m as BlockMeta;
}

/** Runs a decoder over `buf`; anything it throws becomes an InvalidArgumentError naming the message. */
export function decodeWith<T>(buf: Uint8Array, what: string, read: (r: Reader, end: number) => T): T {
  try {
    return read(protobuf.Reader.create(buf) as Reader, buf.length);
  } catch (err) {
    throw asInvalidArgument(err, what);
  }
}

/** A tenant ID is required on every request: the ingester's data is per tenant. */
export function requireTenant(tenantId: string, message: string): string {
  if (!tenantId) throw malformed(`${message} has no tenant_id`);
  return tenantId;
}
