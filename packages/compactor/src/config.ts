/** Compactor settings (Tempo's `compactor.compaction` block; durations in ms here). */
export interface CompactorConfig {
  /** block_retention: blocks whose end is older than this are deleted (per-tenant override possible). */
  blockRetentionMs: number;
  /** compacted_block_retention: inputs of a compaction stay readable this long for in-flight queries. */
  compactedBlockRetentionMs: number;
  /** compaction_window: only blocks starting in the same window are merged. */
  compactionWindowMs: number;
  /** max_compaction_objects: traces in one output block at most. */
  maxCompactionObjects: number;
  /** max_block_bytes: Parquet bytes of one output block at most. */
  maxBlockBytes: number;
  /** compaction_cycle: time between cycles. */
  compactionCycleMs: number;
  /** Inputs per compaction (Tempo's selector: 2..4). */
  minInputBlocks: number;
  maxInputBlocks: number;
}

export function defaultCompactorConfig(): CompactorConfig {
  return {
    blockRetentionMs: 336 * 3_600_000,
    compactedBlockRetentionMs: 3_600_000,
    compactionWindowMs: 3_600_000,
    maxCompactionObjects: 6_000_000,
    maxBlockBytes: 100 * 1024 ** 3,
    compactionCycleMs: 30_000,
    minInputBlocks: 2,
    maxInputBlocks: 4,
  };
}
