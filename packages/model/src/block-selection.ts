// Which blocks a read opens: the blocklist's (what polls and announcements listed) and the blocks
// ingesters name as flushed recently (a poll may not list them yet), each block once.

import type { BlockMeta } from './block-meta.js';
import { compareBytes } from './ids.js';

export interface TimeRange {
  /** Unix seconds; 0 = unbounded. */
  startSeconds: number;
  endSeconds: number;
}

export const UNBOUNDED: TimeRange = { startSeconds: 0, endSeconds: 0 };

/** Whether the block's spans may fall in the window; its last second counts whole. */
export function overlapsWindow(meta: BlockMeta, range: TimeRange): boolean {
  if (range.startSeconds > 0 && Date.parse(meta.endTime) < range.startSeconds * 1000) return false;
  if (range.endSeconds > 0 && Date.parse(meta.startTime) > range.endSeconds * 1000 + 999) return false;
  return true;
}

/** Whether the block's trace-ID range may hold the ID. */
export function mayHoldTraceId(meta: BlockMeta, traceId: Uint8Array): boolean {
  if (!meta.minID || !meta.maxID) return true;
  return compareBytes(traceId, Buffer.from(meta.minID, 'base64')) >= 0 && compareBytes(traceId, Buffer.from(meta.maxID, 'base64')) <= 0;
}

/** Collects blocks from several sources, keeping the first of each block ID. */
export class BlockSet {
  private readonly seen = new Set<string>();

  /** The blocks of `metas` not added before that pass `keep`; they are added. */
  add(metas: Iterable<BlockMeta> | undefined, keep: (meta: BlockMeta) => boolean = () => true): BlockMeta[] {
    const added: BlockMeta[] = [];
    for (const meta of metas ?? []) {
      if (this.seen.has(meta.blockID) || !keep(meta)) continue;
      this.seen.add(meta.blockID);
      added.push(meta);
    }
    return added;
  }
}

/**
 * Blocks whose spans are all in blocks of `listed`: inputs of a compaction whose last output is
 * listed (a job writes its outputs one after another, each visible before the next starts, and
 * marks its inputs only after the last), that are not listed themselves (marked compacted). One
 * list decides, so a list taken mid-compaction never hides spans: an input whose outputs are not
 * all in it does not count.
 */
export function blocksCoveredByOutputs(listed: readonly BlockMeta[]): Set<string> {
  const ids = new Set(listed.map((m) => m.blockID));
  const covered = new Set<string>();
  for (const m of listed) {
    if (!m.compactedFrom || m.cutAtBufferBudget) continue;
    for (const input of m.compactedFrom) if (!ids.has(input)) covered.add(input);
  }
  return covered;
}

/** Newest first (by end time), block ID breaking ties: searches stop early on older blocks. */
export function newestFirst(metas: BlockMeta[]): BlockMeta[] {
  return metas.sort((a, b) => Date.parse(b.endTime) - Date.parse(a.endTime) || a.blockID.localeCompare(b.blockID));
}

/**
 * The blocks a search or tag request reads, newest first: with a window, the listed blocks in it;
 * always, the blocks ingesters flushed recently (in the window, if any), since Tempo's ingesters
 * answer for their complete blocks until complete_block_timeout, except those `compacted` names
 * (with a window, their output is read instead).
 */
export function blocksForRequest(
  listed: readonly BlockMeta[],
  flushed: readonly (readonly BlockMeta[] | undefined)[],
  range: TimeRange,
  compacted: ReadonlySet<string> = new Set(),
): BlockMeta[] {
  const set = new BlockSet();
  const inWindow = (m: BlockMeta): boolean => overlapsWindow(m, range);
  const windowed = Boolean(range.startSeconds && range.endSeconds);
  const out = windowed ? set.add(listed, inWindow) : [];
  const flushedInWindow = (m: BlockMeta): boolean => inWindow(m) && !(windowed && compacted.has(m.blockID));
  for (const list of flushed) out.push(...set.add(list, flushedInWindow));
  return newestFirst(out);
}
