export { ReadArena, Wal, WalFile, WalReader, replayWalFile } from './wal.js';
export type { WalRecord } from './wal.js';
export type { WalReplay, WalEntry, FlushedRecord } from './wal.js';
export { defaultBlockConfig, resolveBlockConfig } from './block-config.js';
export type { BlockConfig } from './block-config.js';
export {
  META_NAME,
  DATA_NAME,
  INDEX_NAME,
  bloomName,
  isBlockId,
  rfc3339Nano,
  parseRfc3339Nano,
  encodeBlockMeta,
  readBlockMeta,
  listTenants,
  UnreadableBlockMetaError,
  withReplicationFactor,
} from './block-meta.js';
export type { BlockMeta, BlockMetaProblem } from './block-meta.js';
export { encodeBlock, BlockWriter } from './block-encode.js';
export type { EncodedBlock, BlockObject, TraceEntry } from './block-encode.js';
export { BackendBlock, writeBlock, writeEncodedBlock, newBlockId, supportedBlockFormats } from './backend-block.js';
export type { IterateOptions, TraceIdRange } from './parquet-v1-reader.js';
export type { ScanDedup } from './block-metrics-scan.js';
export { BlockEncoderPool, encodeSegmentBlock, splitTraces } from './block-encoder-pool.js';
export type { SegmentTrace, EncodeJob, BlockEncodeStream, EncodeStreamHeader } from './block-encoder-pool.js';
export { FORMAT_V1 } from './block-schema.js';
export { assignNestedSet, ROOT_PARENT_ID } from './nested-set.js';
export type { NestedSet, NestedSetInput } from './nested-set.js';
export {
  COMPACTED_META_NAME,
  TENANT_INDEX_NAME,
  listTenantBlocks,
  listVisibleBlocks,
  listBlockMetas,
  markBlockCompacted,
  clearBlock,
  clearPartialBlock,
  writeTenantIndex,
  readTenantIndex,
} from './blocklist.js';
export type { CompactedBlockMeta, TenantBlocks, TenantListing, TenantIndex, SkippedBlock } from './blocklist.js';
export type { BlockSearchOptions, BlockSearchResult } from './block-scan.js';
export type { SpanColumnsResult } from './block-metrics-scan.js';
