// The CPU part of accepting an export: decode the OTLP request, validate every span, and cut one
// tempopb.Trace segment per trace. A pure function of the body, so it runs on the export decoder
// workers (decoder-pool.ts) or inline; its result crosses the thread boundary packed into one
// transferred ArrayBuffer.

import {
  bytesEqual,
  bytesToHex,
  isAllZero,
  type TraceSegment,
} from '@andante/model';
import { decodeExportRequest, type DecodedBatch } from './otlp-decode.js';
import { encodeTraceSegment } from './otlp-segment.js';

export type InvalidReason = 'invalid_trace_id' | 'invalid_span_id' | 'invalid_timestamps';

/** Spans refused for one reason, with the message of the first. */
export interface InvalidSpans {
  reason: InvalidReason;
  count: number;
  example: string;
}

export interface SplitExport {
  /** Every span in the request, valid or not. */
  spanCount: number;
  /** The valid spans, one segment per trace, in order of first appearance. */
  segments: TraceSegment[];
  invalid: InvalidSpans[];
}

/** Decodes an ExportTraceServiceRequest and splits its valid spans by trace. Throws InvalidArgumentError on a malformed body. */
export function splitExportRequest(body: Uint8Array): SplitExport {
  const batch = decodeExportRequest(body);
  const { byTrace, invalid } = groupValidSpans(batch);
  const segments: TraceSegment[] = [];
  for (const idxs of byTrace.values()) segments.push(buildSegment(batch, idxs));
  return { spanCount: batch.spans.length, segments, invalid: [...invalid.values()] };
}

function buildSegment(batch: DecodedBatch, idxs: number[]): TraceSegment {
  let start = batch.spans[idxs[0]!]!.startTimeUnixNano;
  let end = batch.spans[idxs[0]!]!.endTimeUnixNano;
  for (const i of idxs) {
    const s = batch.spans[i]!;
    if (s.startTimeUnixNano < start) start = s.startTimeUnixNano;
    if (s.endTimeUnixNano > end) end = s.endTimeUnixNano;
  }
  return {
    traceId: batch.spans[idxs[0]!]!.traceId,
    bytes: encodeTraceSegment(batch, idxs),
    spanCount: idxs.length,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
  };
}

/** Splits a batch's valid spans by trace ID and counts invalid ones by reason. */
function groupValidSpans(batch: DecodedBatch): { byTrace: Map<string, number[]>; invalid: Map<InvalidReason, InvalidSpans> } {
  const byTrace = new Map<string, number[]>();
  const invalid = new Map<InvalidReason, InvalidSpans>();
  const refuse = (reason: InvalidReason, message: string): void => {
    const cur = invalid.get(reason);
    if (cur) cur.count++;
    else invalid.set(reason, { reason, count: 1, example: message });
  };
  // Exporters send a trace's spans together: the previous span's trace is looked up once, not per span.
  let lastId: Uint8Array | null = null;
  let lastList: number[] | null = null;
  batch.spans.forEach((span, i) => {
    if (span.traceId.length !== 16 || isAllZero(span.traceId)) {
      refuse('invalid_trace_id', `trace ids must be 128 bit and not all zero, received ${span.traceId.length * 8} bits (${bytesToHex(span.traceId) || 'empty'})`);
    } else if (span.spanId.length !== 8 || isAllZero(span.spanId)) {
      refuse('invalid_span_id', `span ids must be 64 bit and not all zero, received ${span.spanId.length * 8} bits (${bytesToHex(span.spanId) || 'empty'})`);
    } else if (span.endTimeUnixNano < span.startTimeUnixNano) {
      refuse('invalid_timestamps', `span ${bytesToHex(span.spanId)} ends (${span.endTimeUnixNano}) before it starts (${span.startTimeUnixNano})`);
    } else if (lastList !== null && bytesEqual(span.traceId, lastId!)) {
      lastList.push(i);
    } else {
      const key = bytesToHex(span.traceId);
      let list = byTrace.get(key);
      if (list) list.push(i);
      else byTrace.set(key, (list = [i]));
      lastId = span.traceId;
      lastList = list;
    }
  });
  return { byTrace, invalid };
}

// Packed segments: u32 count, then per segment: trace ID (16) | u64 start | u64 end | u32 span
// count | u32 byte length | bytes. Valid segments always have 16-byte trace IDs.
const SEGMENT_HEADER_BYTES = 16 + 8 + 8 + 4 + 4;

/** The segments in one ArrayBuffer, to transfer rather than clone (one copy instead of two, no per-object cost). */
export function packSegments(segments: readonly TraceSegment[]): ArrayBuffer {
  let size = 4;
  for (const s of segments) size += SEGMENT_HEADER_BYTES + s.bytes.byteLength;
  const buf = new ArrayBuffer(size);
  const view = new DataView(buf);
  const bytes = new Uint8Array(buf);
  view.setUint32(0, segments.length, true);
  let pos = 4;
  for (const s of segments) {
    bytes.set(s.traceId, pos);
    view.setBigUint64(pos + 16, s.startTimeUnixNano, true);
    view.setBigUint64(pos + 24, s.endTimeUnixNano, true);
    view.setUint32(pos + 32, s.spanCount, true);
    view.setUint32(pos + 36, s.bytes.byteLength, true);
    pos += SEGMENT_HEADER_BYTES;
    bytes.set(s.bytes, pos);
    pos += s.bytes.byteLength;
  }
  return buf;
}

/** The inverse of packSegments: trace IDs and bytes are views into `buf`. */
export function unpackSegments(buf: ArrayBuffer): TraceSegment[] {
  const view = new DataView(buf);
  const segments: TraceSegment[] = new Array(view.getUint32(0, true));
  let pos = 4;
  for (let i = 0; i < segments.length; i++) {
    const length = view.getUint32(pos + 36, true);
    segments[i] = {
      traceId: new Uint8Array(buf, pos, 16),
      startTimeUnixNano: view.getBigUint64(pos + 16, true),
      endTimeUnixNano: view.getBigUint64(pos + 24, true),
      spanCount: view.getUint32(pos + 32, true),
      bytes: new Uint8Array(buf, pos + SEGMENT_HEADER_BYTES, length),
    };
    pos += SEGMENT_HEADER_BYTES + length;
  }
  return segments;
}
