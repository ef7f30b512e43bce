// The ingester's push RPC message (`/andante.Ingester/Push`): a small hand-written protobuf.
// Segments travel as the bytes the distributor already holds (a `tempopb.Trace` each): the
// ingester stores them without decoding, so nothing is re-encoded on the way.
//
//   PushRequest  { string tenant_id = 1; repeated Segment segments = 2; }
//   Segment      { bytes trace_id = 1; bytes trace = 2; uint32 span_count = 3;
//                  fixed64 start_time_unix_nano = 4; fixed64 end_time_unix_nano = 5; }
//   PushResponse { repeated Rejected rejected = 1; }
//   Rejected     { bytes trace_id = 1; uint32 span_count = 2; string reason = 3; string message = 4; }

import protobuf from 'protobufjs/minimal.js';
import type { PushRequest, PushResult, TraceSegment } from '@andante/model';
import { LEN, VARINT, I64, asInvalidArgument, lenEnd, malformed, skipField, type Reader } from '@andante/model/wire';

export const PUSH_METHOD = '/andante.Ingester/Push';

const TRACE_ID_BYTES = 16;
const REASONS = new Set(['trace_too_large', 'live_traces_exceeded']);

function writeFixed64(w: protobuf.Writer, v: bigint): void {
  w.fixed32(Number(v & 0xffffffffn)).fixed32(Number((v >> 32n) & 0xffffffffn));
}

function readFixed64(r: Reader): bigint {
  const lo = BigInt(r.fixed32());
  const hi = BigInt(r.fixed32());
  return (hi << 32n) | lo;
}

export function encodePushRequest(req: PushRequest): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | LEN).string(req.tenantId);
  for (const s of req.segments) {
    w.uint32((2 << 3) | LEN).fork();
    w.uint32((1 << 3) | LEN).bytes(s.traceId);
    w.uint32((2 << 3) | LEN).bytes(s.bytes);
    w.uint32((3 << 3) | VARINT).uint32(s.spanCount);
    w.uint32((4 << 3) | I64);
    writeFixed64(w, s.startTimeUnixNano);
    w.uint32((5 << 3) | I64);
    writeFixed64(w, s.endTimeUnixNano);
    w.ldelim();
  }
  return w.finish();
}

function expectWireType(tag: number, wireType: number, what: string): void {
  if ((tag & 7) !== wireType) throw malformed(`${what} field ${tag >>> 3} has wire type ${tag & 7}, expected ${wireType}`);
}

/** Throws InvalidArgumentError for anything that is not a well-formed push request. */
export function decodePushRequest(buf: Uint8Array): PushRequest {
  try {
    const r = protobuf.Reader.create(buf) as Reader;
    let tenantId: string | undefined;
    const segments: TraceSegment[] = [];
    while (r.pos < buf.length) {
      const tag = r.uint32();
      if (tag >>> 3 === 1) {
        expectWireType(tag, LEN, 'PushRequest');
        tenantId = r.string();
      } else if (tag >>> 3 === 2) {
        expectWireType(tag, LEN, 'PushRequest');
        segments.push(decodeSegment(r, lenEnd(r, buf.length, 'segment')));
      } else skipField(r, tag, buf.length, 'PushRequest');
    }
    if (!tenantId) throw malformed('PushRequest has no tenant_id');
    return { tenantId, segments };
  } catch (err) {
    throw asInvalidArgument(err, 'push request');
  }
}

function decodeSegment(r: Reader, end: number): TraceSegment {
  let traceId: Uint8Array | undefined;
  let bytes: Uint8Array | undefined;
  let spanCount = 0;
  let start = 0n;
  let endNano = 0n;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        expectWireType(tag, LEN, 'Segment');
        traceId = r.bytes();
        break;
      case 2:
        expectWireType(tag, LEN, 'Segment');
        bytes = r.bytes();
        break;
      case 3:
        expectWireType(tag, VARINT, 'Segment');
        spanCount = r.uint32();
        break;
      case 4:
        expectWireType(tag, I64, 'Segment');
        start = readFixed64(r);
        break;
      case 5:
        expectWireType(tag, I64, 'Segment');
        endNano = readFixed64(r);
        break;
      default:
        skipField(r, tag, end, 'Segment');
    }
  }
  if (r.pos !== end) throw malformed('Segment runs past its length');
  if (traceId?.length !== TRACE_ID_BYTES) throw malformed(`Segment trace_id must be ${TRACE_ID_BYTES} bytes, got ${traceId?.length ?? 0}`);
  if (!bytes || bytes.length === 0) throw malformed('Segment has no trace bytes');
  if (spanCount === 0) throw malformed('Segment has span_count 0');
  return { traceId, bytes, spanCount, startTimeUnixNano: start, endTimeUnixNano: endNano };
}

export function encodePushResponse(res: PushResult): Uint8Array {
  const w = protobuf.Writer.create();
  for (const x of res.rejected) {
    w.uint32((1 << 3) | LEN).fork();
    w.uint32((1 << 3) | LEN).bytes(x.traceId);
    w.uint32((2 << 3) | VARINT).uint32(x.spanCount);
    w.uint32((3 << 3) | LEN).string(x.reason);
    w.uint32((4 << 3) | LEN).string(x.message);
    w.ldelim();
  }
  return w.finish();
}

export function decodePushResponse(buf: Uint8Array): PushResult {
  try {
    const r = protobuf.Reader.create(buf) as Reader;
    const rejected: PushResult['rejected'] = [];
    while (r.pos < buf.length) {
      const tag = r.uint32();
      if (tag >>> 3 !== 1) {
        skipField(r, tag, buf.length, 'PushResponse');
        continue;
      }
      expectWireType(tag, LEN, 'PushResponse');
      const end = lenEnd(r, buf.length, 'rejected');
      let traceId: Uint8Array = new Uint8Array(0);
      let spanCount = 0;
      let reason = '';
      let message = '';
      while (r.pos < end) {
        const t = r.uint32();
        switch (t >>> 3) {
          case 1: traceId = r.bytes(); break;
          case 2: spanCount = r.uint32(); break;
          case 3: reason = r.string(); break;
          case 4: message = r.string(); break;
          default: skipField(r, t, end, 'Rejected');
        }
      }
      if (!REASONS.has(reason)) throw malformed(`Rejected has an unknown reason ${JSON.stringify(reason)}`);
      rejected.push({ traceId, spanCount, reason: reason as 'trace_too_large' | 'live_traces_exceeded', message });
    }
    return { rejected };
  } catch (err) {
    throw asInvalidArgument(err, 'push response');
  }
}
