import { InvalidArgumentError } from '@andante/model';

export interface BlockConfig {
  /** Target spans per Parquet row group. A row group ends at a trace boundary unless one trace alone is bigger. */
  rowGroupSpans: number;
  /** Bloom filter false-positive rate (Tempo: bloom_filter_false_positive, 0.01). */
  bloomFalsePositive: number;
  /** Target bytes per bloom shard (Tempo: bloom_filter_shard_size_bytes, 100 KiB). */
  bloomShardSizeBytes: number;
  /** Target uncompressed Parquet page size. Small pages let a trace lookup decode only the pages holding its rows. */
  pageSizeBytes: number;
}

export const defaultBlockConfig: BlockConfig = {
  // Measured (docs/block-format.md): 10k-span groups with 16 KiB pages look a trace up ~5x faster
  // than 50k/64 KiB at the same size and scan speed.
  rowGroupSpans: 10_000,
  bloomFalsePositive: 0.01,
  bloomShardSizeBytes: 100 * 1024,
  pageSizeBytes: 16 * 1024,
};

export function resolveBlockConfig(cfg: Partial<BlockConfig> = {}): BlockConfig {
  const out: BlockConfig = { ...defaultBlockConfig };
  for (const [k, v] of Object.entries(cfg) as [keyof BlockConfig, number | undefined][]) {
    if (v !== undefined) out[k] = v;
  }
  if (!Number.isSafeInteger(out.rowGroupSpans) || out.rowGroupSpans < 1) {
    throw new InvalidArgumentError(`block rowGroupSpans must be a positive integer, got ${out.rowGroupSpans}`);
  }
  if (!(out.bloomFalsePositive > 0 && out.bloomFalsePositive < 1)) {
    throw new InvalidArgumentError(`block bloomFalsePositive must be between 0 and 1, got ${out.bloomFalsePositive}`);
  }
  if (!Number.isSafeInteger(out.bloomShardSizeBytes) || out.bloomShardSizeBytes < 1) {
    throw new InvalidArgumentError(`block bloomShardSizeBytes must be a positive integer, got ${out.bloomShardSizeBytes}`);
  }
  if (!Number.isSafeInteger(out.pageSizeBytes) || out.pageSizeBytes < 1024) {
    throw new InvalidArgumentError(`block pageSizeBytes must be an integer of at least 1024, got ${out.pageSizeBytes}`);
  }
  return out;
}
