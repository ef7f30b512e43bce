import type { BlockMeta } from '@andante/storage';

/**
 * A compaction output's meta (`compactedFrom`, `cutAtBufferBudget`: see BlockMeta). A job writes
 * one or more outputs, in trace-ID order, each made visible (meta.json) as soon as it is written;
 * the inputs are marked compacted only after the last one. A block cut at the budget is full:
 * merging it again would only cut it again.
 */
export type CompactedOutputMeta = BlockMeta;

/** The key that groups the outputs of one job: its inputs, in a stable order. */
export function compactionJobId(meta: CompactedOutputMeta): string | undefined {
  return meta.compactedFrom?.length ? [...meta.compactedFrom].sort().join(',') : undefined;
}

/**
 * The replication factor a job's outputs record: the inputs' common factor (the selector groups
 * by it, as Tempo's does, whose outputs take their first input's). Inputs that differ (a job
 * resumed from another build) make the output replicated (no factor): only inputs that all hold
 * each span once make an output that does.
 */
export function outputReplicationFactor(inputs: readonly BlockMeta[]): number | undefined {
  const first = inputs[0]?.replicationFactor;
  return first !== undefined && first > 0 && inputs.every((m) => m.replicationFactor === first) ? first : undefined;
}
