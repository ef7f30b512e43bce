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
    blocklistLength: new Gauge({ name: 'tempodb_blocklist_length', help: 'Visible blocks per tenant.', labelNames: ['tenant'], registers }),
  };
}
