import { describe, expect, it } from 'vitest';
import type { BlockMeta } from './block-meta.js';
import { blocksCoveredByOutputs, blocksForRequest } from './block-selection.js';

const meta = (blockID: string, startSec = 0, endSec = 1, from?: string[], cut = false): BlockMeta => ({
  ...(from ? { compactedFrom: from } : {}),
  ...(cut ? { cutAtBufferBudget: true } : {}),
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

describe('blocksCoveredByOutputs', () => {
  const covered = (listed: BlockMeta[], compacted: BlockMeta[] = []): string[] => [...blocksCoveredByOutputs(listed, compacted)].sort();

  it('covers a marked input once its job\'s last output is listed, not while only a cut output is', () => {
    expect(covered([meta('y1', 0, 1, ['a', 'b'], true)])).toEqual([]);
    expect(covered([meta('y1', 0, 1, ['a', 'b'], true), meta('y2', 0, 1, ['a', 'b'])])).toEqual(['a', 'b']);
    // An input still listed (not marked yet) is read as itself.
    expect(covered([meta('a'), meta('y', 0, 1, ['a', 'b'])])).toEqual(['b']);
  });

  it('follows outputs compacted again through the same listing\'s compacted metas', () => {
    const y = meta('y', 0, 1, ['x1', 'x2']);
    const z = meta('z', 0, 1, ['y', 'w']);
    expect(covered([z], [y])).toEqual(['w', 'x1', 'x2', 'y']);
    // Without y's meta nothing says where x1's spans went.
    expect(covered([z])).toEqual(['w', 'y']);
    // y's job had an earlier (cut) output that is neither listed nor covered: x1's spans may be there.
    expect(covered([z], [y, meta('y0', 0, 1, ['x1', 'x2'], true)])).toEqual(['w', 'y']);
    // ... and covered once that output's own job is listed whole.
    expect(covered([z, meta('v', 0, 1, ['y0'])], [y, meta('y0', 0, 1, ['x1', 'x2'], true)])).toEqual(['w', 'x1', 'x2', 'y', 'y0']);
  });
});
