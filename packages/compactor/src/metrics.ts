import { Counter, Gauge, type Registry } from 'prom-client';

export interface CompactorMetrics {
  blocksCompacted: Counter<'level'>;
  compactorBlocks: Counter;
  objectsWritten: Counter<'level'>;
  bytesWritten: Counter<'level'>;
  objectsCombined: Counter<'level'>;
  compactionErrors: Counter;
  retentionMarked: Counter;
  retentionDeleted: Counter;
  orphansDeleted: Counter;
  outputsWithdrawn: Counter;
  blocklistLength: Gauge<'tenant'>;
}

export function createCompactorMetrics(registry: Registry): CompactorMetrics {
  const registers = [registry];
  return {
    blocksCompacted: new Counter({ name: 'tempodb_compaction_blocks_total', help: 'Input blocks compacted, by output level.', labelNames: ['level'], registers }),
    // The name several runbooks grep for; same count as tempodb_compaction_blocks_total.
    compactorBlocks: new Counter({ name: 'tempo_compactor_blocks_total', help: 'Input blocks compacted (alias of tempodb_compaction_blocks_total).', registers }),
    objectsWritten: new Counter({ name: 'tempodb_compaction_objects_written_total', help: 'Traces written by compaction.', labelNames: ['level'], registers }),
    bytesWritten: new Counter({ name: 'tempodb_compaction_bytes_written_total', help: 'Bytes written by compaction.', labelNames: ['level'], registers }),
    objectsCombined: new Counter({ name: 'tempodb_compaction_objects_combined_total', help: 'Traces found in more than one input and combined.', labelNames: ['level'], registers }),
    compactionErrors: new Counter({ name: 'tempodb_compaction_errors_total', help: 'Compactions that failed (retried next cycle).', registers }),
    retentionMarked: new Counter({ name: 'tempodb_retention_marked_for_deletion_total', help: 'Blocks past retention marked for deletion.', registers }),
    retentionDeleted: new Counter({ name: 'tempodb_retention_deleted_total', help: 'Blocks deleted after compacted_block_retention.', registers }),
    // No Tempo equivalent: Tempo leaves partial blocks to bucket lifecycle rules.
    orphansDeleted: new Counter({ name: 'tempodb_compaction_orphaned_blocks_deleted_total', help: 'Block folders without meta.json deleted after orphaned_block_grace_period.', registers }),
    outputsWithdrawn: new Counter({ name: 'tempodb_compaction_outputs_withdrawn_total', help: 'Outputs of compactions interrupted between two outputs, marked compacted (their inputs stay).', registers }),
    blocklistLength: new Gauge({ name: 'tempodb_blocklist_length', help: 'Visible blocks per tenant.', labelNames: ['tenant'], registers }),
  };
}
