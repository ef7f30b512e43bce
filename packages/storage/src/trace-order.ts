// A block's traces in ascending trace-ID order for a streamed flush, without sorting the whole
// block in one turn of the event loop (100k traces took ~250 ms): runs of RUN_TRACES are sorted one
// per turn, then merged lazily as the encoder takes them.

import { compareBytes } from '@andante/model';
import type { SegmentTrace } from './block-encoder-pool.js';

/** Traces sorted per turn of the event loop: a few milliseconds each. */
const RUN_TRACES = 4096;

const byId = (a: SegmentTrace, b: SegmentTrace): number => compareBytes(a.traceId, b.traceId);

/**
 * Sorts `traces` (any order, each ID once) into runs, yielding to the event loop between runs, and
 * returns an iterator over them in ascending ID order (a k-way merge on a binary heap of run heads).
 * The input array is not modified.
 */
export async function sortedByIdInTurns(traces: readonly SegmentTrace[], yieldTurn: () => Promise<void> = nextTurn): Promise<Iterable<SegmentTrace>> {
  const runs: SegmentTrace[][] = [];
  for (let i = 0; i < traces.length; i += RUN_TRACES) {
    if (i > 0) await yieldTurn();
    runs.push(traces.slice(i, i + RUN_TRACES).sort(byId));
  }
  return runs.length <= 1 ? (runs[0] ?? []) : mergeRuns(runs);
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function* mergeRuns(runs: SegmentTrace[][]): Generator<SegmentTrace> {
  // heap[k] = index of a run; at[run] = its next position. Ordered by the run's next trace ID.
  const at = new Int32Array(runs.length);
  const heap = runs.map((_, i) => i);
  const less = (x: number, y: number): boolean => byId(runs[x]![at[x]!]!, runs[y]![at[y]!]!) < 0;
  const down = (from: number): void => {
    let i = from;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) return;
      const c = l + 1 < heap.length && less(heap[l + 1]!, heap[l]!) ? l + 1 : l;
      if (!less(heap[c]!, heap[i]!)) return;
      [heap[i], heap[c]] = [heap[c]!, heap[i]!];
      i = c;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
  while (heap.length > 0) {
    const run = heap[0]!;
    yield runs[run]![at[run]!]!;
    if (++at[run]! < runs[run]!.length) {
      down(0);
    } else {
      heap[0] = heap[heap.length - 1]!;
      heap.pop();
      down(0);
    }
  }
}
