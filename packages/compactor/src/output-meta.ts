import type { BlockMeta } from '@andante/storage';

/**
 * A compaction output's meta. A job writes one or more outputs, in trace-ID order, each made
 * visible (meta.json) as soon as it is written; the inputs are marked compacted only after the
 * last one.
 */
export interface CompactedOutputMeta extends BlockMeta {
  /** The job's inputs, the same list on every output of the job: an interrupted job is found by it. */
  compactedFrom?: string[];
  /**
   * Set on every output of a job but its last: the output was cut at output_block_buffer_bytes and
   * the job went on into another output. So a job whose visible outputs all carry it was
   * interrupted before its last output; and a block cut at the budget is full (merging it again
   * would only cut it again).
   */
  cutAtBufferBudget?: boolean;
}

/** The key that groups the outputs of one job: its inputs, in a stable order. */
export function compactionJobId(meta: CompactedOutputMeta): string | undefined {
  return meta.compactedFrom?.length ? [...meta.compactedFrom].sort().join(',') : undefined;
}
