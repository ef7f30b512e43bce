// The block's `index` object: per Parquet row group, the first and last trace ID and the row
// range, so a lookup picks row groups without reading the Parquet footer's statistics. JSON like
// Tempo's index object ({"rowGroups": [...]}), but with min and max rather than max alone.

import { base64ToBytes, bytesToBase64 } from './block-meta.js';

export interface RowGroupIndex {
  minID: Uint8Array;
  maxID: Uint8Array;
  rowStart: number;
  rowCount: number;
}

interface RowGroupJson {
  minID: string;
  maxID: string;
  rowStart: number;
  rowCount: number;
}

export function encodeBlockIndex(rowGroups: readonly RowGroupIndex[]): Uint8Array {
  const json: { rowGroups: RowGroupJson[] } = {
    rowGroups: rowGroups.map((g) => ({
      minID: bytesToBase64(g.minID),
      maxID: bytesToBase64(g.maxID),
      rowStart: g.rowStart,
      rowCount: g.rowCount,
    })),
  };
  return new TextEncoder().encode(JSON.stringify(json));
}

export function decodeBlockIndex(data: Uint8Array): RowGroupIndex[] {
  const parsed = JSON.parse(new TextDecoder().decode(data)) as { rowGroups?: RowGroupJson[] };
  if (!Array.isArray(parsed.rowGroups)) throw new Error('block index lacks rowGroups');
  return parsed.rowGroups.map((g) => ({
    minID: base64ToBytes(g.minID),
    maxID: base64ToBytes(g.maxID),
    rowStart: g.rowStart,
    rowCount: g.rowCount,
  }));
}
