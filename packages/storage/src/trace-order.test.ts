import { describe, expect, it } from 'vitest';
import { compareBytes, mulberry32 } from '@andante/model';
import type { SegmentTrace } from './block-encoder-pool.js';
import { sortedByIdInTurns } from './trace-order.js';

function traces(seed: number, count: number): SegmentTrace[] {
  const random = mulberry32(seed);
  const ids = new Set<string>();
  const out: SegmentTrace[] = [];
  while (out.length < count) {
    // Shared prefixes too (IDs that begin with a timestamp, as X-Ray's do): the order is by every byte.
    const traceId = Uint8Array.from({ length: 16 }, (_, i) => (i < 4 && random() < 0.7 ? 7 : Math.floor(random() * 256)));
    const key = Buffer.from(traceId).toString('hex');
    if (ids.has(key)) continue;
    ids.add(key);
    out.push({ traceId, segments: [Uint8Array.of(out.length & 0xff)] });
  }
  return out;
}

describe('sortedByIdInTurns', () => {
  it.each([0, 1, 4095, 4096, 4097, 20_000])('%i traces: every trace once, in ascending ID order, the input untouched', async (count) => {
    const input = traces(count + 1, count);
    const before = [...input];
    let turns = 0;
    const sorted = [...(await sortedByIdInTurns(input, async () => void turns++))];
    expect(sorted).toHaveLength(count);
    for (let i = 1; i < sorted.length; i++) expect(compareBytes(sorted[i - 1]!.traceId, sorted[i]!.traceId)).toBeLessThan(0);
    expect(new Set(sorted)).toEqual(new Set(input));
    expect(input).toEqual(before);
    // One run of 4,096 traces sorted per turn of the event loop.
    expect(turns).toBe(Math.max(0, Math.ceil(count / 4096) - 1));
  });
});
