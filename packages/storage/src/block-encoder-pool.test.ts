import { describe, expect, it } from 'vitest';
import { BlockEncoderPool, encodeSegmentBlock, packTraces, splitTraces, unpackTraces } from './block-encoder-pool.js';
import { decodeBlockMeta } from './block-meta.js';
import type { SegmentTrace } from './block-encoder-pool.js';
import { compareBytes, encodeTrace, mulberry32, type Trace } from '@andante/model';

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

  it('packs a range of a job, and an empty one', () => {
    const trace = (i: number, n: number): SegmentTrace => ({ traceId: new Uint8Array(16).fill(i), segments: [new Uint8Array(n).fill(i)] });
    const plain = (ts: SegmentTrace[]): unknown => ts.map((t) => ({ traceId: [...t.traceId], segments: t.segments.map((x) => [...x]) }));
    const traces = [trace(1, 300), trace(2, 300), trace(3, 5000), trace(4, 100)];
    const back = [[0, 3], [3, 4]].flatMap(([a, b]) => unpackTraces(packTraces(traces, a, b)));
    expect(plain(back)).toEqual(plain(traces));
    expect(unpackTraces(packTraces(traces, 2, 2))).toEqual([]);
  });

  it('packs a trace held in a WAL file as its ranges, beside traces in memory', () => {
    const onDisk: SegmentTrace = { traceId: new Uint8Array(16).fill(5), segments: [], ranges: [2 ** 33 + 17, 6500, 40, 1] };
    const inMemory: SegmentTrace = { traceId: new Uint8Array(16).fill(6), segments: [Uint8Array.of(1, 2)], ranges: [8, 2] };
    const [a, b] = unpackTraces(packTraces([onDisk, inMemory]));
    expect({ traceId: [...a!.traceId], segments: a!.segments, ranges: a!.ranges }).toEqual({ traceId: [...onDisk.traceId], segments: [], ranges: onDisk.ranges });
    expect({ segments: b!.segments.map((x) => [...x]), ranges: b!.ranges }).toEqual({ segments: [[1, 2]], ranges: undefined });
  });
});

describe('splitTraces', () => {
  const traces = (sizes: number[]): SegmentTrace[] =>
    sizes.map((n, i) => ({ traceId: new Uint8Array(16).fill(i + 1), segments: [new Uint8Array(n)] }));
  const bytes = (part: SegmentTrace[]): number => part.reduce((n, t) => n + t.segments[0]!.byteLength, 0);

  it('cuts sorted traces into contiguous runs of about equal bytes, every trace once', () => {
    const input = traces(Array.from({ length: 100 }, (_, i) => 100 + (i % 7) * 50));
    const parts = splitTraces(input, 3, 1000);
    expect(parts).toHaveLength(3);
    expect(parts.flat()).toEqual(input);
    const total = bytes(input);
    for (const p of parts) expect(Math.abs(bytes(p) - total / 3)).toBeLessThan(total * 0.05);
  });

  it('keeps one part when the block is under two minimum parts, or for one trace', () => {
    expect(splitTraces(traces([400, 400]), 4, 500)).toHaveLength(1);
    expect(splitTraces(traces([10_000]), 4, 10)).toHaveLength(1);
    expect(splitTraces(traces([600, 600, 600]), 4, 500)).toHaveLength(3);
    expect(splitTraces([], 2, 1)).toEqual([[]]);
  });

  it('cuts traces in any order into non-overlapping ID ranges of about equal bytes, without sorting them', () => {
    const random = mulberry32(9);
    // X-Ray-style IDs: the first 4 bytes (a timestamp) shared by every trace.
    const input: SegmentTrace[] = Array.from({ length: 2000 }, () => ({
      traceId: Uint8Array.from({ length: 16 }, (_, i) => (i < 4 ? 0x65 : Math.floor(random() * 256))),
      segments: [new Uint8Array(200 + Math.floor(random() * 800))],
    }));
    const parts = splitTraces(input, 4, 1000);
    expect(parts).toHaveLength(4);
    expect(parts.flat().length).toBe(input.length);
    expect(new Set(parts.flat())).toEqual(new Set(input));
    const hex = (t: SegmentTrace): string => Buffer.from(t.traceId).toString('hex');
    for (let i = 1; i < parts.length; i++) {
      const maxBefore = parts[i - 1]!.map(hex).sort().at(-1)!;
      const minHere = parts[i]!.map(hex).sort()[0]!;
      expect(maxBefore < minHere, `part ${i - 1} ends before part ${i} starts`).toBe(true);
    }
    // Each part keeps the input's order (the encoder sorts it).
    for (const p of parts) expect(p.map((t) => input.indexOf(t))).toEqual(p.map((t) => input.indexOf(t)).sort((a, b) => a - b));
    const total = bytes(input);
    for (const p of parts) expect(Math.abs(bytes(p) - total / 4)).toBeLessThan(total * 0.05);
  });
});

function randomSegmentTraces(seed: number, count: number): SegmentTrace[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, (_, i) => {
      const traceId = Uint8Array.from({ length: 16 }, () => 1 + Math.floor(random() * 255));
      const trace: Trace = {
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: `svc-${i % 3}` } }], droppedAttributesCount: 0 },
            scopeSpans: [
              {
                scope: { name: 's', version: '1', attributes: [], droppedAttributesCount: 0 },
                spans: [
                  {
                    traceId, spanId: Uint8Array.from({ length: 8 }, () => 1 + Math.floor(random() * 255)), traceState: '', parentSpanId: new Uint8Array(0), flags: 0,
                    name: `op-${i}`, kind: 2, startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(i), endTimeUnixNano: 1_700_000_000_001_000_000n + BigInt(i),
                    attributes: [], droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' },
                  },
                ],
                schemaUrl: '',
              },
            ],
            schemaUrl: '',
          },
        ],
      };
      return { traceId, segments: [encodeTrace(trace)] };
    });
}

describe('encodeSegmentBlock', () => {
  it('writes the same block whatever the order of its traces', () => {
    const traces = randomSegmentTraces(3, 50);
    const sorted = [...traces].sort((a, b) => compareBytes(a.traceId, b.traceId));
    const job = (ts: SegmentTrace[]) => ({ tenantId: 't', blockId: '00000000-0000-4000-8000-000000000001', traces: ts, cfg: {}, compactionLevel: 0 });
    const a = encodeSegmentBlock(job(traces));
    const b = encodeSegmentBlock(job(sorted));
    expect(traces).not.toEqual(sorted);
    expect(a.objects.map((o) => o.name)).toEqual(b.objects.map((o) => o.name));
    for (let i = 0; i < a.objects.length; i++) expect(Buffer.compare(a.objects[i]!.data, b.objects[i]!.data), a.objects[i]!.name).toBe(0);

    // The replication factor is the encoder's argument, written into the meta and its meta.json
    // as the block is made (1 when not given; 0 leaves the key out, Tempo's omitempty).
    const metaJson = (blk: typeof a) => decodeBlockMeta(blk.objects.find((o) => o.name === 'meta.json')!.data, 'test');
    expect([a.meta.replicationFactor, metaJson(a).replicationFactor]).toEqual([1, 1]);
    const rf3 = encodeSegmentBlock({ ...job(traces), replicationFactor: 3 });
    expect([rf3.meta.replicationFactor, metaJson(rf3).replicationFactor]).toEqual([3, 3]);
    const none = encodeSegmentBlock({ ...job(traces), replicationFactor: 0 });
    expect('replicationFactor' in none.meta || 'replicationFactor' in metaJson(none)).toBe(false);
  });
});

describe('BlockEncoderPool.encode', () => {
  it('writes the same block as a whole encode, from traces in any order', async () => {
    const traces = randomSegmentTraces(5, 300);
    const job = { tenantId: 't', blockId: '00000000-0000-4000-8000-000000000002', traces, cfg: { rowGroupSpans: 40 }, compactionLevel: 0, replicationFactor: 3 };
    const pool = new BlockEncoderPool();
    try {
      const streamed = await pool.encode(job);
      const whole = encodeSegmentBlock(job);
      expect(streamed.meta).toEqual(whole.meta);
      expect(streamed.objects.map((o) => o.name)).toEqual(whole.objects.map((o) => o.name));
      for (let i = 0; i < whole.objects.length; i++) expect(Buffer.compare(streamed.objects[i]!.data, whole.objects[i]!.data), whole.objects[i]!.name).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('rejects once the pool is closed', async () => {
    const pool = new BlockEncoderPool();
    await pool.close();
    await expect(pool.encode({ tenantId: 't', blockId: '00000000-0000-4000-8000-000000000003', traces: randomSegmentTraces(1, 2), cfg: {}, compactionLevel: 0 })).rejects.toThrow(/closed/);
  });
});
