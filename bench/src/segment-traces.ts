// Realistic trace segments as an ingester holds them before a flush: export requests from
// payloads.ts, cut per trace by the distributor's own encodeTraceSegment.

import { decodeExportRequest, encodeTraceSegment } from '@andante/distributor';
import type { SegmentTrace } from '@andante/storage';
import { encodeBatches } from './payloads.js';

/** About `spans` spans in exports of `batch`, `spansPerTrace` per trace; traces unsorted (the encoder sorts). */
export function segmentTraces(spans: number, batch: number, spansPerTrace: number): { traces: SegmentTrace[]; spans: number; otlpBytes: number } {
  const batches = encodeBatches(Math.ceil(spans / batch), batch, spansPerTrace);
  const otlpBytes = batches.reduce((n, b) => n + b.byteLength, 0);
  const byTrace = new Map<string, SegmentTrace>();
  let count = 0;
  for (const buf of batches) {
    const decoded = decodeExportRequest(buf);
    const groups = new Map<string, number[]>();
    decoded.spans.forEach((s, i) => {
      const key = Buffer.from(s.traceId).toString('hex');
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(i);
    });
    for (const [key, idx] of groups) {
      count += idx.length;
      let e = byTrace.get(key);
      if (!e) byTrace.set(key, (e = { traceId: new Uint8Array(Buffer.from(key, 'hex')), segments: [] }));
      e.segments.push(encodeTraceSegment(decoded, idx));
    }
  }
  return { traces: [...byTrace.values()], spans: count, otlpBytes };
}
