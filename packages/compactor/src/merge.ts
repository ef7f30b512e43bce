import { combineTraces, compareBytes, type Trace } from '@andante/model';
import type { BackendBlock } from '@andante/storage';

export interface MergedTrace {
  traceId: Uint8Array;
  trace: Trace;
  /** How many inputs held part of this trace. */
  parts: number;
}

/**
 * K-way merge of blocks that are each sorted by trace ID: yields every trace once, in ID order,
 * with its parts from all inputs combined and duplicate spans removed.
 */
export async function* mergeBlocks(blocks: readonly BackendBlock[]): AsyncIterable<MergedTrace> {
  // Each trace is combined and re-encoded at once, never kept or changed: no copies of its IDs and resources.
  const iters = blocks.map((b) => b.iterateTraces(undefined, { shared: true })[Symbol.asyncIterator]());
  const heads = await Promise.all(iters.map((it) => it.next()));
  for (;;) {
    let min: Uint8Array | null = null;
    for (const h of heads) if (!h.done && (min === null || compareBytes(h.value.traceId, min) < 0)) min = h.value.traceId;
    if (min === null) return;
    const parts: Trace[] = [];
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i]!;
      if (h.done || compareBytes(h.value.traceId, min) !== 0) continue;
      parts.push(h.value.trace);
      heads[i] = await iters[i]!.next();
    }
    yield { traceId: min, trace: parts.length === 1 ? parts[0]! : combineTraces(parts), parts: parts.length };
  }
}
