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
 * Blocks whose spans are all in blocks of `listed`, so a reader that finds one elsewhere need not
 * read it. A block is covered when it is not listed itself (marked compacted) and its compaction
 * job's outputs, known from `listed` and `compacted` (the compacted metas of the same listing,
 * e.g. one tenant index), include the job's last one and are each listed or covered in turn. A job
 * writes its outputs one after another, each visible before the next starts, and marks its inputs
 * only after the last, so a listing that shows the last output shows the others too. One snapshot
 * decides: a list taken mid-compaction never hides spans, since an input whose last output it does
 * not show is not covered.
 */
export function blocksCoveredByOutputs(listed: readonly BlockMeta[], compacted: readonly BlockMeta[] = []): Set<string> {
  const listedIds = new Set(listed.map((m) => m.blockID));
  const outputsOf = new Map<string, BlockMeta[]>();
  for (const m of [...listed, ...compacted]) {
    for (const input of m.compactedFrom ?? []) {
      const outputs = outputsOf.get(input);
      if (outputs) outputs.push(m);
      else outputsOf.set(input, [m]);
    }
  }
  const memo = new Map<string, boolean>();
  const covered = (id: string, depth: number): boolean => {
    if (listedIds.has(id)) return false;
    const known = memo.get(id);
    if (known !== undefined) return known;
    memo.set(id, false); // IDs never repeat, but a malformed chain must not recurse forever
    const outputs = outputsOf.get(id) ?? [];
    const whole =
      depth < 64 && outputs.some((o) => !o.cutAtBufferBudget) && outputs.every((o) => listedIds.has(o.blockID) || covered(o.blockID, depth + 1));
    memo.set(id, whole);
    return whole;
  };
  return new Set([...outputsOf.keys()].filter((id) => covered(id, 0)));
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
