import type { BlockMeta } from '@andante/storage';
import type { CompactorConfig } from './config.js';
import type { CompactedOutputMeta } from './output-meta.js';

export interface CompactionJob {
  /** tenant + window: the unit of ownership. */
  key: string;
  inputs: BlockMeta[];
}

/** The ownership key of the compaction window a block starting at `startTime` falls in. */
export function windowJobKey(tenantId: string, startTime: string, cfg: CompactorConfig): string {
  return `${tenantId}-${Math.floor(Date.parse(startTime) / cfg.compactionWindowMs)}`;
}

/**
 * Picks blocks to merge: blocks whose start falls in the same compaction_window and which record
 * the same replication factor, smallest first,
 * 2..maxInputBlocks of them within max_compaction_objects and max_block_bytes. Oldest windows go
 * first. Repeating this bounds the blocks per window, whatever the cut rate. Left out: blocks in
 * `exclude` (those of an interrupted compaction) and blocks cut at the output buffer budget,
 * which are full.
 */
export function selectCompactionJobs(
  tenantId: string,
  metas: readonly BlockMeta[],
  cfg: CompactorConfig,
  exclude: ReadonlySet<string> = new Set(),
): CompactionJob[] {
  // Grouped by window and replication factor, as Tempo's selector does: a block whose spans are
  // held once (factor 1) is not merged with replicated ones, so its output keeps factor 1 and
  // TraceQL metrics keep reading it block by block. The ownership key stays the window's.
  const groups = new Map<string, { key: string; blocks: BlockMeta[] }>();
  for (const m of metas as CompactedOutputMeta[]) {
    if (exclude.has(m.blockID) || m.cutAtBufferBudget) continue;
    const key = windowJobKey(tenantId, m.startTime, cfg);
    const group = `${key}/${m.replicationFactor ?? 0}`;
    const entry = groups.get(group) ?? { key, blocks: [] };
    entry.blocks.push(m);
    groups.set(group, entry);
  }
  const jobs: CompactionJob[] = [];
  const windowStart = (blocks: BlockMeta[]): number => Date.parse(blocks[0]!.startTime);
  for (const { key, blocks } of [...groups.values()].sort((a, b) => windowStart(a.blocks) - windowStart(b.blocks))) {
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
    if (inputs.length >= cfg.minInputBlocks) jobs.push({ key, inputs });
  }
  return jobs;
}
