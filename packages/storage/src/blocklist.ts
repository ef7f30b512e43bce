// The lifecycle of blocks in the backend beyond writing: compacted markers, clearing, and the
// per-tenant index (index.json.gz) that lets queriers load a tenant's blocklist with one read
// instead of a LIST plus one GET per block (a known S3 cost of Tempo's polling).

import { gunzipSync, gzipSync } from 'node:zlib';
import type { Backend } from '@andante/backend';
import { NotFoundError, validateTenantId } from '@andante/model';
import {
  META_NAME,
  UnreadableBlockMetaError,
  decodeBlockMeta,
  encodeBlockMeta,
  isBlockId,
  mapLimit,
  type BlockMeta,
  type BlockMetaProblem,
} from './block-meta.js';

export const COMPACTED_META_NAME = 'meta.compacted.json';
export const TENANT_INDEX_NAME = 'index.json.gz';

export interface CompactedBlockMeta extends BlockMeta {
  /** RFC3339: when the block was marked compacted; it is deleted compacted_block_retention later. */
  compactedTime: string;
}

export interface TenantBlocks {
  metas: BlockMeta[];
  compacted: CompactedBlockMeta[];
}

async function readOptional(backend: Backend, keypath: string[], name: string): Promise<Uint8Array | null> {
  try {
    return await backend.read(keypath, name);
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}

/** A block folder whose meta cannot be served: left alone by readers and the compactor. */
export interface SkippedBlock {
  blockId: string;
  /** tenant/block/object */
  path: string;
  reason: BlockMetaProblem;
  message: string;
}

/** A tenant's blocks as listed from the backend, with the folders that have no marker at all. */
export interface TenantListing extends TenantBlocks {
  /**
   * Block folders with neither meta.json nor meta.compacted.json: a block still being written, or
   * one whose writer died (kill -9 mid-flush or mid-compaction). Invisible to readers.
   */
  metaless: string[];
  /**
   * Folders with a marker that is not an Andante block this build reads (another writer's block,
   * a truncated file). Never compacted, never deleted: Andante did not write them.
   */
  skipped: SkippedBlock[];
}

/** Decodes a marker, or records why the block is skipped. */
function decodeOrSkip(data: Uint8Array, tenantId: string, blockId: string, name: string, skipped: SkippedBlock[]): BlockMeta | null {
  try {
    return decodeBlockMeta(data, `${tenantId}/${blockId}/${name}`, { tenantId, blockId });
  } catch (err) {
    if (!(err instanceof UnreadableBlockMetaError)) throw err;
    skipped.push({ blockId, path: err.path, reason: err.reason, message: err.message });
    return null;
  }
}

/**
 * Every block of a tenant by listing the backend: visible ones (meta.json), compacted ones
 * (meta.compacted.json), the folders with neither, and those whose marker is not an Andante block.
 * Only folders named like block IDs count; anything else under the tenant is not Andante's.
 */
export async function listTenantBlocks(backend: Backend, tenantId: string): Promise<TenantListing> {
  validateTenantId(tenantId);
  const ids = (await backend.list([tenantId])).filter(isBlockId);
  const out: TenantListing = { metas: [], compacted: [], metaless: [], skipped: [] };
  await mapLimit(ids, 32, async (id) => {
    const meta = await readOptional(backend, [tenantId, id], META_NAME);
    if (meta) {
      const decoded = decodeOrSkip(meta, tenantId, id, META_NAME, out.skipped);
      if (decoded) out.metas.push(decoded);
      return;
    }
    const compacted = await readOptional(backend, [tenantId, id], COMPACTED_META_NAME);
    if (compacted) {
      const decoded = decodeOrSkip(compacted, tenantId, id, COMPACTED_META_NAME, out.skipped);
      if (decoded && typeof (decoded as CompactedBlockMeta).compactedTime === 'string') out.compacted.push(decoded as CompactedBlockMeta);
      else if (decoded) out.skipped.push({ blockId: id, path: `${tenantId}/${id}/${COMPACTED_META_NAME}`, reason: 'missing_fields', message: 'no compactedTime' });
    } else out.metaless.push(id);
  });
  const byId = (a: BlockMeta, b: BlockMeta): number => a.blockID.localeCompare(b.blockID);
  out.metas.sort(byId);
  out.compacted.sort(byId);
  out.metaless.sort();
  out.skipped.sort((a, b) => a.blockId.localeCompare(b.blockId));
  return out;
}

/**
 * The tenant's visible blocks (a meta.json Andante reads) and the folders skipped, in block ID order.
 * `knownCompacted`: blocks known to be compacted (a tenant index said so; a compacted block never
 * becomes visible again), whose meta.json is not asked for: each would be a GET answered 404.
 */
export async function listVisibleBlocks(backend: Backend, tenantId: string, knownCompacted: ReadonlySet<string> = new Set()): Promise<{ metas: BlockMeta[]; skipped: SkippedBlock[] }> {
  validateTenantId(tenantId);
  const ids = (await backend.list([tenantId])).filter((id) => isBlockId(id) && !knownCompacted.has(id));
  const skipped: SkippedBlock[] = [];
  const metas = await mapLimit(ids, 32, async (id) => {
    const data = await readOptional(backend, [tenantId, id], META_NAME);
    return data ? decodeOrSkip(data, tenantId, id, META_NAME, skipped) : null;
  });
  skipped.sort((a, b) => a.blockId.localeCompare(b.blockId));
  return { metas: metas.filter((m): m is BlockMeta => m !== null), skipped };
}

/** Metas of the tenant's visible blocks (those with a meta.json this build reads), in block ID order. */
export async function listBlockMetas(backend: Backend, tenantId: string): Promise<BlockMeta[]> {
  return (await listVisibleBlocks(backend, tenantId)).metas;
}

/**
 * Hides a block from readers: meta.compacted.json is written first, then meta.json removed, so a
 * crash in between leaves a block that is both (readers see it; the next cycle finishes the job).
 */
export async function markBlockCompacted(backend: Backend, meta: BlockMeta, nowMs: number): Promise<CompactedBlockMeta> {
  const compacted: CompactedBlockMeta = { ...meta, compactedTime: new Date(nowMs).toISOString() };
  await backend.write([meta.tenantID, meta.blockID], COMPACTED_META_NAME, encodeBlockMeta(compacted));
  await backend.delete([meta.tenantID, meta.blockID], META_NAME);
  return compacted;
}

/** Deletes every object of a block; its markers go last so a half-cleared block is still recognised. */
export async function clearBlock(backend: Backend, tenantId: string, blockId: string): Promise<void> {
  validateTenantId(tenantId);
  const names = await backend.list([tenantId, blockId]);
  const markers = new Set([META_NAME, COMPACTED_META_NAME]);
  await mapLimit(names.filter((n) => !markers.has(n)), 8, (n) => backend.delete([tenantId, blockId], n));
  await backend.delete([tenantId, blockId], META_NAME);
  await backend.delete([tenantId, blockId], COMPACTED_META_NAME);
}

/**
 * Deletes the objects of a block folder that has no marker (a partial block). It checks the
 * markers first and never deletes one: a folder that has become a block (meta.json) or a
 * compacted block is left alone (`cleared: false`). Callers wait a grace period first, since a
 * folder without meta.json may be a block still being written.
 */
export async function clearPartialBlock(backend: Backend, tenantId: string, blockId: string): Promise<{ cleared: boolean; objects: number }> {
  validateTenantId(tenantId);
  for (const marker of [META_NAME, COMPACTED_META_NAME]) {
    if (await readOptional(backend, [tenantId, blockId], marker)) return { cleared: false, objects: 0 };
  }
  const markers = new Set([META_NAME, COMPACTED_META_NAME]);
  const names = (await backend.list([tenantId, blockId])).filter((n) => !markers.has(n));
  await mapLimit(names, 8, (n) => backend.delete([tenantId, blockId], n));
  return { cleared: true, objects: names.length };
}

interface TenantIndexJson {
  created_at: string;
  meta: BlockMeta[];
  compacted: CompactedBlockMeta[];
}

/**
 * Writes the tenant index. Entries of the index already at that key that this build cannot read
 * (another writer's: Tempo writes one at the same key) are kept, so a rewrite drops nothing
 * Andante did not write.
 */
export async function writeTenantIndex(backend: Backend, tenantId: string, blocks: TenantBlocks, nowMs: number): Promise<void> {
  validateTenantId(tenantId);
  const foreign = await foreignIndexEntries(backend, tenantId);
  const doc: TenantIndexJson = {
    created_at: new Date(nowMs).toISOString(),
    meta: [...blocks.metas, ...(foreign.meta as BlockMeta[])],
    compacted: [...blocks.compacted, ...(foreign.compacted as CompactedBlockMeta[])],
  };
  await backend.write([tenantId], TENANT_INDEX_NAME, gzipSync(JSON.stringify(doc)));
}

/** Whether this build reads an index entry as one of its own blocks. */
function isOwnIndexEntry(tenantId: string, m: BlockMeta): boolean {
  try {
    decodeBlockMeta(encodeBlockMeta(m), `${tenantId}/${TENANT_INDEX_NAME}`, { tenantId, blockId: m.blockID });
    return isBlockId(m.blockID);
  } catch {
    return false;
  }
}

async function foreignIndexEntries(backend: Backend, tenantId: string): Promise<{ meta: unknown[]; compacted: unknown[] }> {
  const data = await readOptional(backend, [tenantId], TENANT_INDEX_NAME);
  if (!data) return { meta: [], compacted: [] };
  try {
    const doc = JSON.parse(gunzipSync(data).toString('utf8')) as Partial<TenantIndexJson>;
    const foreign = (list: BlockMeta[] | undefined): BlockMeta[] => (Array.isArray(list) ? list.filter((m) => !isOwnIndexEntry(tenantId, m)) : []);
    return { meta: foreign(doc.meta), compacted: foreign(doc.compacted) };
  } catch {
    return { meta: [], compacted: [] }; // not an index at all: nothing in it names a block
  }
}

export interface TenantIndex extends TenantBlocks {
  createdAtMs: number;
}

/** The tenant index, or null when none was written yet (or it is unreadable: callers then list). */
export async function readTenantIndex(backend: Backend, tenantId: string): Promise<TenantIndex | null> {
  validateTenantId(tenantId);
  const data = await readOptional(backend, [tenantId], TENANT_INDEX_NAME);
  if (!data) return null;
  try {
    const doc = JSON.parse(gunzipSync(data).toString('utf8')) as TenantIndexJson;
    // Another writer's index (Tempo writes one at the same key) may name blocks this build cannot read.
    const readable = <M extends BlockMeta>(list: M[] | undefined): M[] => (list ?? []).filter((m) => isOwnIndexEntry(tenantId, m));
    return { createdAtMs: Date.parse(doc.created_at), metas: readable(doc.meta), compacted: readable(doc.compacted) };
  } catch {
    return null;
  }
}
