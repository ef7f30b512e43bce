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
  // The two settings below are optional so that a config built before they existed still
  // type-checks; the Compactor falls back to the defaults here.
  /**
   * orphaned_block_grace_period (Andante; Tempo leaves partial blocks to bucket lifecycle rules):
   * a block folder without meta.json is deleted once it has stayed so this long, and the outputs
   * of a compaction interrupted between two of its outputs are withdrawn after it. Must exceed the
   * longest flush or compaction output write, or a block still being written could be deleted.
   */
  orphanedBlockGracePeriodMs?: number;
  /**
   * output_block_buffer_bytes (Andante): Parquet bytes of one output block, which the streaming
   * encoder holds in memory until the block is written (the backend writes an object whole). A
   * job's output is cut into several blocks at this size, at a trace boundary; with the traces
   * streamed to the encoder row group by row group, this and one row group bound the compactor's
   * memory whatever the size of the job.
   */
  outputBlockBufferBytes?: number;
}

export const DEFAULT_ORPHANED_BLOCK_GRACE_PERIOD_MS = 3_600_000;
export const DEFAULT_OUTPUT_BLOCK_BUFFER_BYTES = 128 * 1024 ** 2;

export function defaultCompactorConfig(): Required<CompactorConfig> {
  return {
    blockRetentionMs: 336 * 3_600_000,
    compactedBlockRetentionMs: 3_600_000,
    compactionWindowMs: 3_600_000,
    maxCompactionObjects: 6_000_000,
    maxBlockBytes: 100 * 1024 ** 3,
    compactionCycleMs: 30_000,
    minInputBlocks: 2,
    maxInputBlocks: 4,
    orphanedBlockGracePeriodMs: DEFAULT_ORPHANED_BLOCK_GRACE_PERIOD_MS,
    outputBlockBufferBytes: DEFAULT_OUTPUT_BLOCK_BUFFER_BYTES,
  };
}
