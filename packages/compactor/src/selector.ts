import type { BlockMeta } from '@andante/storage';
import type { CompactorConfig } from './config.js';

export interface CompactionJob {
  /** tenant + window: the unit of ownership. */
  key: string;
  inputs: BlockMeta[];
}

/**
 * Picks blocks to merge: blocks whose start falls in the same compaction_window, smallest first,
 * 2..maxInputBlocks of them within max_compaction_objects and max_block_bytes. Oldest windows go
 * first. Repeating this bounds the blocks per window, whatever the cut rate.
 */
export function selectCompactionJobs(tenantId: string, metas: readonly BlockMeta[], cfg: CompactorConfig): CompactionJob[] {
  const windows = new Map<number, BlockMeta[]>();
  for (const m of metas) {
    const w = Math.floor(Date.parse(m.startTime) / cfg.compactionWindowMs);
    const list = windows.get(w) ?? [];
    list.push(m);
    windows.set(w, list);
  }
  const jobs: CompactionJob[] = [];
  for (const [window, blocks] of [...windows].sort((a, b) => a[0] - b[0])) {
    if (blocks.length < cfg.minInputBlocks) continue;
    const bySize = [...blocks].sort((a, b) => a.size - b.size || a.blockID.localeCompare(b.blockID));
    const inputs: BlockMeta[] = [];
    let objects = 0;
    let bytes = 0;
    for (const b of bySize) {
      if (inputs.length >= cfg.maxInputBlocks) break;
      if (objects + b.totalObjects > cfg.maxCompactionObjects || bytes + b.size > cfg.maxBlockBytes) continue;
      inputs.push(b);
      objects += b.totalObjects;
      bytes += b.size;
    }
    if (inputs.length >= cfg.minInputBlocks) jobs.push({ key: `${tenantId}-${window}`, inputs });
  }
  return jobs;
}
