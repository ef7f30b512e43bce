import { describe, expect, it } from 'vitest';
import { packTraces, unpackTraces } from './block-encoder-pool.js';

describe('packTraces', () => {
  it('round-trips trace IDs and segments of any length, in order', () => {
    const traces = [
      { traceId: Uint8Array.from({ length: 16 }, (_, i) => i), segments: [Uint8Array.of(1, 2, 3), new Uint8Array(0)] },
      { traceId: new Uint8Array(16).fill(9), segments: [new Uint8Array(70_000).fill(7)] },
      { traceId: new Uint8Array(16).fill(1), segments: [] },
    ];
    const back = unpackTraces(packTraces(traces));
    expect(back.map((t) => ({ traceId: [...t.traceId], segments: t.segments.map((s) => [...s]) }))).toEqual(
      traces.map((t) => ({ traceId: [...t.traceId], segments: t.segments.map((s) => [...s]) })),
    );
    expect(unpackTraces(packTraces([]))).toEqual([]);
  });
});
