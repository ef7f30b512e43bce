import { describe, expect, it } from 'vitest';
import {
  emptySearchMetrics,
  type TraceSearchMetadata,
} from '@andante/model';
import { decodeSearchResponse } from '@andante/model';
import { MAX_SEARCH_MESSAGE_BYTES, encodeSearchMessages } from './streaming.js';

const trace = (i: number, nameBytes: number): TraceSearchMetadata => ({
  traceID: i.toString(16).padStart(32, '0'),
  rootServiceName: 'svc',
  rootTraceName: 'x'.repeat(nameBytes),
  startTimeUnixNano: BigInt(i),
  durationMs: 1,
  spanSets: [],
  serviceStats: {},
});

describe('encodeSearchMessages', () => {
  it('splits a large answer into messages of at most 1 MiB that together hold every trace in order, each with the metrics', () => {
    const traces = Array.from({ length: 40 }, (_, i) => trace(i, 100_000)); // ~4 MB in all
    const metrics = { ...emptySearchMetrics(), completedJobs: 3, totalJobs: 3 };
    const messages = encodeSearchMessages(traces, metrics);
    expect(messages.length).toBeGreaterThanOrEqual(4);
    for (const m of messages) expect(m.length).toBeLessThanOrEqual(MAX_SEARCH_MESSAGE_BYTES);
    const decoded = messages.map((m) => decodeSearchResponse(m));
    expect(decoded.flatMap((d) => d.traces.map((t) => t.traceID))).toEqual(traces.map((t) => t.traceID));
    for (const d of decoded) expect(d.metrics).toEqual(metrics);
  });

  it('sends one message for a small answer, and one (metrics only) for no traces', () => {
    expect(encodeSearchMessages([trace(1, 10), trace(2, 10)], emptySearchMetrics())).toHaveLength(1);
    const empty = encodeSearchMessages([], { ...emptySearchMetrics(), totalJobs: 2 });
    expect(empty).toHaveLength(1);
    expect(decodeSearchResponse(empty[0]!)).toEqual({ traces: [], metrics: { ...emptySearchMetrics(), totalJobs: 2 } });
  });
});
