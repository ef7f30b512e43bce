// meta.json: Tempo's BlockMeta field names (tempodb/backend/block_meta.go). The type lives here,
// not in storage, because ingesters hand the metas of blocks they just flushed to queriers.

export interface BlockMeta {
  /** Block encoding; readers dispatch on it (e.g. "vAndante1"). */
  format: string;
  blockID: string;
  tenantID: string;
  /** RFC3339 (nanoseconds, as Go writes them): earliest span start in the block. */
  startTime: string;
  /** RFC3339: latest span end in the block. */
  endTime: string;
  /** Traces in the block. */
  totalObjects: number;
  totalSpans: number;
  /** Bytes of data.parquet. */
  size: number;
  compactionLevel: number;
  /** Parquet row groups. */
  totalRecords: number;
  bloomShards: number;
  /** Bytes of the Parquet footer's FileMetaData (without the 8-byte length + magic trailer). */
  footerSize: number;
  /** Smallest and largest trace ID, base64 (Go's []byte JSON form). */
  minID: string;
  maxID: string;
  /**
   * Tempo's `replicationFactor` (int, omitted when 0): how many copies of each trace the blocks
   * of its kind hold. 1: this block's spans are held once (Andante ingesters at RF 1, Tempo's
   * generator and live-store blocks); absent or 0: a replicated ingester block (Tempo's default);
   * Andante ingesters write their ring's factor (3 at RF 3) over the 1 the encoder puts in.
   */
  replicationFactor?: number;
  /**
   * A compaction output: the job's inputs, the same list on every output of the job (an
   * interrupted job is found by it; a reader knows whose spans the output holds).
   */
  compactedFrom?: string[];
  /**
   * Set on every output of a compaction job but its last: the output was cut at
   * output_block_buffer_bytes and the job went on into another. A job whose visible outputs all
   * carry it was interrupted before its last output.
   */
  cutAtBufferBudget?: boolean;
}

/**
 * Whether a block may share spans with other blocks of the same replication: every block whose
 * factor is not 1 (absent and 0 included). TraceQL metrics read such blocks deduplicated.
 */
export function isReplicatedBlock(meta: Pick<BlockMeta, 'replicationFactor'>): boolean {
  return meta.replicationFactor !== 1;
}
