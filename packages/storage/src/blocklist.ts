// The lifecycle of blocks in the backend beyond writing: compacted markers, clearing, and the
// per-tenant index (index.json.gz) that lets queriers load a tenant's blocklist with one read
// instead of a LIST plus one GET per block (a known S3 cost of Tempo's polling).

import { gunzipSync, gzipSync } from 'node:zlib';
import type { Backend } from '@andante/backend';
import { NotFoundError, validateTenantId } from '@andante/model';
import { META_NAME, decodeBlockMeta, encodeBlockMeta, isBlockId, mapLimit, type BlockMeta } from './block-meta.js';

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

/** A tenant's blocks as listed from the backend, with the folders that have no marker at all. */
export interface TenantListing extends TenantBlocks {
  /**
   * Block folders with neither meta.json nor meta.compacted.json: a block still being written, or
   * one whose writer died (kill -9 mid-flush or mid-compaction). Invisible to readers.
   */
  metaless: string[];
}

/**
 * Every block of a tenant by listing the backend: visible ones (meta.json), compacted ones
 * (meta.compacted.json) and the folders with neither.
 */
export async function listTenantBlocks(backend: Backend, tenantId: string): Promise<TenantListing> {
  validateTenantId(tenantId);
  const ids = (await backend.list([tenantId])).filter(isBlockId);
  const out: TenantListing = { metas: [], compacted: [], metaless: [] };
  await mapLimit(ids, 32, async (id) => {
    const where = `block ${tenantId}/${id}`;
    const meta = await readOptional(backend, [tenantId, id], META_NAME);
    if (meta) {
      out.metas.push(decodeBlockMeta(meta, where));
      return;
    }
    const compacted = await readOptional(backend, [tenantId, id], COMPACTED_META_NAME);
    if (compacted) out.compacted.push(decodeBlockMeta(compacted, where) as CompactedBlockMeta);
    else out.metaless.push(id);
  });
  const byId = (a: BlockMeta, b: BlockMeta): number => a.blockID.localeCompare(b.blockID);
  out.metas.sort(byId);
  out.compacted.sort(byId);
  out.metaless.sort();
  return out;
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

export async function writeTenantIndex(backend: Backend, tenantId: string, blocks: TenantBlocks, nowMs: number): Promise<void> {
  validateTenantId(tenantId);
  const doc: TenantIndexJson = { created_at: new Date(nowMs).toISOString(), meta: blocks.metas, compacted: blocks.compacted };
  await backend.write([tenantId], TENANT_INDEX_NAME, gzipSync(JSON.stringify(doc)));
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
    return { createdAtMs: Date.parse(doc.created_at), metas: doc.meta ?? [], compacted: doc.compacted ?? [] };
  } catch {
    return null;
  }
}
