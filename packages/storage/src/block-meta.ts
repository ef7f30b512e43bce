// meta.json: Tempo's BlockMeta field names (tempodb/backend/block_meta.go), so the blocklist, the
// tenant index and tooling read alike. A block is visible once its meta.json exists; writers put it
// last.

import type { Backend } from '@andante/backend';
import { NotFoundError, validateTenantId, type BlockMeta } from '@andante/model';
import { FORMAT_V1, FORMAT_V2 } from './block-schema.js';

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

/**
 * The encoded block with `replicationFactor` recorded in its meta (and its meta.json, the last
 * object). 0 leaves the key out, as Tempo's omitempty does. Writers pass the factor to the encoder
 * (EncodeJob.replicationFactor); this is for blocks made without it (test fixtures).
 */
export function withReplicationFactor<B extends { meta: BlockMeta; objects: { name: string; data: Uint8Array }[] }>(block: B, replicationFactor: number): B {
  const meta: BlockMeta = { ...block.meta };
  if (replicationFactor > 0) meta.replicationFactor = replicationFactor;
  else delete meta.replicationFactor;
  const objects = block.objects.map((o) => (o.name === META_NAME ? { name: META_NAME, data: encodeBlockMeta(meta) } : o));
  return { ...block, meta, objects };
}

function isMeta(v: unknown): v is BlockMeta {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  const strings = ['format', 'blockID', 'tenantID', 'startTime', 'endTime', 'minID', 'maxID'];
  const numbers = ['totalObjects', 'size', 'compactionLevel', 'totalRecords', 'bloomShards', 'footerSize'];
  return strings.every((k) => typeof m[k] === 'string') && numbers.every((k) => typeof m[k] === 'number');
}

/** Block encodings this build reads (the keys of backend-block.ts's readers). */
const ANDANTE_FORMATS: ReadonlySet<string> = new Set([FORMAT_V1, FORMAT_V2]);

/**
 * Why a block's meta cannot be served, as the `reason` label of
 * tempodb_blocklist_skipped_blocks_total: not JSON (e.g. truncated), JSON without Andante's
 * fields (e.g. a Tempo vParquet4 meta has no minID/maxID), a format this build does not read, or
 * a meta naming another block or tenant than the folder it sits in.
 */
export type BlockMetaProblem = 'invalid_json' | 'missing_fields' | 'unsupported_format' | 'wrong_location';

/** A meta.json (or meta.compacted.json) that is not an Andante block this build can read. */
export class UnreadableBlockMetaError extends Error {
  override readonly name = 'UnreadableBlockMetaError';
  readonly code = 'UNREADABLE_BLOCK_META';
  constructor(
    /** tenant/block/object, for logs. */
    readonly path: string,
    readonly reason: BlockMetaProblem,
    detail: string,
  ) {
    super(`${path}: ${detail}`);
  }
}

/**
 * Decodes a meta.json. `where` is the object's path (tenant/block/name); when `expected` names the
 * folder it was read from, a meta naming another block or tenant is refused too.
 */
export function decodeBlockMeta(data: Uint8Array, where: string, expected?: { tenantId: string; blockId: string }): BlockMeta {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(data));
  } catch (err) {
    throw new UnreadableBlockMetaError(where, 'invalid_json', `not valid JSON: ${(err as Error).message}`);
  }
  if (!isMeta(parsed)) throw new UnreadableBlockMetaError(where, 'missing_fields', 'lacks required BlockMeta fields (not an Andante block)');
  if (!ANDANTE_FORMATS.has(parsed.format)) {
    throw new UnreadableBlockMetaError(
      where,
      'unsupported_format',
      `format ${JSON.stringify(parsed.format)} is not one this build reads (${[...ANDANTE_FORMATS].join(', ')})`,
    );
  }
  if (expected && (parsed.tenantID !== expected.tenantId || parsed.blockID !== expected.blockId)) {
    throw new UnreadableBlockMetaError(where, 'wrong_location', `names block ${parsed.tenantID}/${parsed.blockID}`);
  }
  // Blocks written before totalSpans existed (or by other writers) still load.
  if (typeof parsed.totalSpans !== 'number') parsed.totalSpans = 0;
  // Not a positive integer (absent, 0, anything else): a replicated block, read deduplicated.
  if (parsed.replicationFactor !== undefined && !(Number.isInteger(parsed.replicationFactor) && parsed.replicationFactor > 0)) delete parsed.replicationFactor;
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
  return decodeBlockMeta(data, `${tenantId}/${blockId}/${META_NAME}`, { tenantId, blockId });
}

function isTenantId(name: string): boolean {
  try {
    validateTenantId(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Tenants in the backend, found three ways so that no single listing call decides: the delimiter
 * listing of the root, a scan of keys at any depth that jumps from one top-level folder to the
 * next (one call per folder: some S3-protocol servers' delimiter listings miss a folder whose
 * objects all sit two levels down, as `<tenant>/<block>/meta.json` do), and `known` (tenants this
 * process wrote to). Names that are not valid tenant IDs are skipped.
 */
export async function listTenants(backend: Backend, known: Iterable<string> = []): Promise<string[]> {
  const found = new Set<string>();
  for (const name of await backend.list([])) if (isTenantId(name)) found.add(name);
  let after = '';
  for (;;) {
    const [key] = await backend.scanKeys([], after, 1);
    if (key === undefined) break;
    const slash = key.indexOf('/');
    // An object at the root is no folder: go on after it.
    const next = slash === -1 ? key : `${key.slice(0, slash)}0`; // every "<folder>/..." key sorts before "<folder>0"
    if (slash !== -1 && isTenantId(key.slice(0, slash))) found.add(key.slice(0, slash));
    if (next <= after) break; // a server that does not order its keys: the other two ways still count
    after = next;
  }
  for (const name of known) if (isTenantId(name)) found.add(name);
  return [...found].sort();
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
