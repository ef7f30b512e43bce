// meta.json: Tempo's BlockMeta field names (tempodb/backend/block_meta.go), so the blocklist, the
// tenant index and tooling read alike. A block is visible once its meta.json exists; writers put it
// last.

import type { Backend } from '@andante/backend';
import { NotFoundError, validateTenantId, type BlockMeta } from '@andante/model';

export const META_NAME = 'meta.json';
export const DATA_NAME = 'data.parquet';
export const INDEX_NAME = 'index';
export const bloomName = (shard: number): string => `bloom-${shard}`;

export type { BlockMeta };

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isBlockId(name: string): boolean {
  return UUID_PATTERN.test(name);
}

/** Go's time.RFC3339Nano for a unix-nanosecond instant: fraction digits trimmed, UTC "Z". */
export function rfc3339Nano(unixNano: bigint): string {
  const seconds = unixNano / 1_000_000_000n;
  const frac = unixNano % 1_000_000_000n;
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  if (frac === 0n) return `${base}Z`;
  return `${base}.${frac.toString().padStart(9, '0').replace(/0+$/, '')}Z`;
}

/** Parses an RFC3339 timestamp (any fraction length, any offset) to unix nanoseconds. */
export function parseRfc3339Nano(value: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(value);
  if (!m) throw new Error(`invalid RFC3339 time ${JSON.stringify(value)}`);
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) throw new Error(`invalid RFC3339 time ${JSON.stringify(value)}`);
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function base64ToBytes(value: string): Uint8Array {
  return new Uint8Array(Buffer.from(value, 'base64'));
}

export function encodeBlockMeta(meta: BlockMeta): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(meta));
}

function isMeta(v: unknown): v is BlockMeta {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  const strings = ['format', 'blockID', 'tenantID', 'startTime', 'endTime', 'minID', 'maxID'];
  const numbers = ['totalObjects', 'size', 'compactionLevel', 'totalRecords', 'bloomShards', 'footerSize'];
  return strings.every((k) => typeof m[k] === 'string') && numbers.every((k) => typeof m[k] === 'number');
}

export function decodeBlockMeta(data: Uint8Array, where: string): BlockMeta {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(data));
  } catch (err) {
    throw new Error(`${where}: meta.json is not valid JSON: ${(err as Error).message}`);
  }
  if (!isMeta(parsed)) throw new Error(`${where}: meta.json lacks required BlockMeta fields`);
  // Blocks written before totalSpans existed (or by other writers) still load.
  if (typeof parsed.totalSpans !== 'number') parsed.totalSpans = 0;
  return parsed;
}

/** The block's meta.json, or null when the block is not (yet) visible. */
export async function readBlockMeta(backend: Backend, tenantId: string, blockId: string): Promise<BlockMeta | null> {
  validateTenantId(tenantId);
  let data: Uint8Array;
  try {
    data = await backend.read([tenantId, blockId], META_NAME);
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
  return decodeBlockMeta(data, `block ${tenantId}/${blockId}`);
}

/** Tenants with a folder in the backend. Names that are not valid tenant IDs are skipped. */
export async function listTenants(backend: Backend): Promise<string[]> {
  const names = await backend.list([]);
  return names.filter((n) => {
    try {
      validateTenantId(n);
      return true;
    } catch {
      return false;
    }
  });
}

/** Metas of the tenant's visible blocks (those with a meta.json), in block ID order. */
export async function listBlockMetas(backend: Backend, tenantId: string): Promise<BlockMeta[]> {
  validateTenantId(tenantId);
  const ids = (await backend.list([tenantId])).filter(isBlockId);
  const metas = await mapLimit(ids, 32, (id) => readBlockMeta(backend, tenantId, id));
  return metas.filter((m): m is BlockMeta => m !== null);
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
