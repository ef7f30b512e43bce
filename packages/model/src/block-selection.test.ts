import { describe, expect, it } from 'vitest';
import type { BlockMeta } from './block-meta.js';
import { blocksForRequest } from './block-selection.js';

const meta = (blockID: string, startSec: number, endSec: number): BlockMeta => ({
  format: 'vAndante1', blockID, tenantID: 't', startTime: new Date(startSec * 1000).toISOString(), endTime: new Date(endSec * 1000).toISOString(),
  totalObjects: 1, totalSpans: 1, size: 1, compactionLevel: 0, totalRecords: 1, bloomShards: 1, footerSize: 1, minID: '', maxID: '',
});

describe('blocksForRequest', () => {
  const output = meta('out', 100, 200);
  const input = meta('in', 100, 150);
  const fresh = meta('fresh', 190, 210);
  const compacted = new Set(['in']);

  it('with a window: listed blocks in it and flushed ones, but not a compacted input (its output is listed)', () => {
    const ids = blocksForRequest([output, meta('old', 0, 50)], [[input, fresh]], { startSeconds: 120, endSeconds: 300 }, compacted).map((m) => m.blockID);
    expect(ids).toEqual(['fresh', 'out']);
  });

  it('without a window: only the flushed blocks, compacted or not (listed ones are not read, so no output stands in)', () => {
    const ids = blocksForRequest([output], [[input], [fresh, input]], { startSeconds: 0, endSeconds: 0 }, compacted).map((m) => m.blockID);
    expect(ids).toEqual(['fresh', 'in']);
  });
});
