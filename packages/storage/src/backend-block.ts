// Blocks in a backend: writing one (data, blooms, index, then meta.json) and reading one through
// the reader its meta.format names, so the encoding can evolve while old blocks stay readable.

import { randomUUID } from 'node:crypto';
import type { Backend } from '@andante/backend';
import { InvalidArgumentError } from '@andante/model';
import type { FetchSpansRequest, SpanColumnBatch, SpanColumnsRequest, TagRef, TagScope, TagValue, Trace, TraceSearchMetadata } from '@andante/model';
import type { ScanDedup, SpanColumnsResult } from './block-metrics-scan.js';
import type { BlockSearchOptions, BlockSearchResult } from './block-scan.js';
import type { BlockConfig } from './block-config.js';
import { encodeBlock } from './block-encode.js';
import type { EncodedBlock, TraceEntry } from './block-encode.js';
import { mapLimit } from './block-meta.js';
import type { BlockMeta } from './block-meta.js';
import { FORMAT_V1, FORMAT_V2 } from './block-schema.js';
import { ParquetV1Reader } from './parquet-v1-reader.js';
import type { BlockReader, IterateOptions, TraceIdRange } from './parquet-v1-reader.js';

const WRITE_CONCURRENCY = 16;

const READERS: Record<string, (backend: Backend, meta: BlockMeta) => BlockReader> = {
  [FORMAT_V1]: (backend, meta) => new ParquetV1Reader(backend, meta),
  [FORMAT_V2]: (backend, meta) => new ParquetV1Reader(backend, meta),
};

export function supportedBlockFormats(): string[] {
  return Object.keys(READERS);
}

export function newBlockId(): string {
  return randomUUID();
}

/**
 * Encodes and writes one block. `traces`: sorted ascending by trace ID, each ID at most once, each
 * trace already combined. Data, blooms and index go first; meta.json last makes the block visible.
 */
export async function writeBlock(
  backend: Backend,
  tenantId: string,
  blockId: string,
  traces: Iterable<TraceEntry>,
  cfg?: Partial<BlockConfig>,
  compactionLevel?: number,
): Promise<BlockMeta> {
  return writeEncodedBlock(backend, encodeBlock(tenantId, blockId, traces, cfg, compactionLevel));
}

/** Writes an encoded block's objects, meta.json last so readers only see a complete block. */
export async function writeEncodedBlock(backend: Backend, block: EncodedBlock): Promise<BlockMeta> {
  const { meta, objects } = block;
  const keypath = [meta.tenantID, meta.blockID];
  const body = objects.slice(0, -1);
  const metaObject = objects[objects.length - 1]!;
  await mapLimit(body, WRITE_CONCURRENCY, (o) => backend.write(keypath, o.name, o.data));
  await backend.write(keypath, metaObject.name, metaObject.data);
  return meta;
}

/** A block in a backend, opened from its meta. Immutable, so footer and index are read once. */
export class BackendBlock {
  private readonly reader: BlockReader;

  constructor(
    backend: Backend,
    readonly meta: BlockMeta,
  ) {
    const make = READERS[meta.format];
    if (!make) {
      throw new InvalidArgumentError(
        `block ${meta.tenantID}/${meta.blockID} has format ${JSON.stringify(meta.format)}; this build reads ${supportedBlockFormats().join(', ')}`,
      );
    }
    this.reader = make(backend, meta);
  }

  /** The trace's spans stored in this block, or null when the block holds none. */
  findTraceById(traceId: Uint8Array): Promise<Trace | null> {
    return this.reader.findTraceById(traceId);
  }

  /** False when the block surely lacks the trace (ID range, bloom filter); reads at most one bloom shard. */
  mayContain(traceId: Uint8Array): Promise<boolean> {
    return this.reader.mayContain(traceId);
  }

  /**
   * Search with the query's conditions pushed down to the columns; `evaluate` (the engine, on a
   * whole trace) decides each candidate, most recent first, until `limit` match.
   */
  search(
    fetch: FetchSpansRequest | undefined,
    opts: BlockSearchOptions,
    evaluate: (trace: Trace) => TraceSearchMetadata | null,
  ): Promise<BlockSearchResult> {
    return this.reader.search(fetch, opts, evaluate);
  }

  /** Adds the block's attribute names per scope (from tables, dictionaries and key columns; no trace is read). */
  tagNames(into: Map<TagScope, Set<string>>): Promise<void> {
    return this.reader.tagNames(into);
  }

  /** Adds the block's values of a tag; false when this tag needs every trace read (root names). */
  tagValues(ref: TagRef, into: Map<string, TagValue>): Promise<boolean> {
    return this.reader.tagValues(ref, into);
  }

  /**
   * A TraceQL metrics leaf answered from columns (no trace assembled), or null, with nothing
   * read, when some condition cannot be decided exactly on columns.
   */
  scanSpanColumns(req: SpanColumnsRequest, visit: (batch: SpanColumnBatch) => Promise<void>, dedup?: ScanDedup): Promise<SpanColumnsResult | null> {
    return this.reader.scanSpanColumns(req, visit, dedup);
  }

  /** Whether scanSpanColumns can answer `req` exactly on this block (reads the footer, no data). */
  canScanColumns(req: SpanColumnsRequest): Promise<boolean> {
    return this.reader.canScanColumns(req);
  }

  /**
   * Every trace in ascending trace-ID order (for the compactor), or only those in `range` (row
   * groups outside it are not read: a trace-ID shard of a metrics query over replicated blocks).
   */
  iterateTraces(range?: TraceIdRange, opts?: IterateOptions): AsyncIterable<TraceEntry> {
    return this.reader.iterateTraces(range, opts);
  }
}
