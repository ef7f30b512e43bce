// The ingester's find-by-ID RPC (`/andante.Ingester/FindTraceByID`): what the querier asks an
// ingester for a trace. The trace travels as a `tempopb.Trace`; recently flushed blocks as their
// meta.json (Tempo's BlockMeta JSON), which readers of the backend already parse.
//
//   FindTraceByIDRequest  { string tenant_id = 1; bytes trace_id = 2; }
//   FindTraceByIDResponse { bytes trace = 1 (absent: not held); repeated bytes flushed_block_meta = 2; }

import protobuf from 'protobufjs/minimal.js';
import { decodeTrace, encodeTrace, type BlockMeta, type IngesterTrace } from '@andante/model';
import { LEN, asInvalidArgument, malformed, skipField, type Reader } from '@andante/model/wire';
import { parseMeta } from './codec-util.js';

export const FIND_TRACE_BY_ID_METHOD = '/andante.Ingester/FindTraceByID';

export interface FindTraceByIdRequest {
  tenantId: string;
  traceId: Uint8Array;
}

export function encodeFindTraceByIdRequest(req: FindTraceByIdRequest): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | LEN).string(req.tenantId);
  w.uint32((2 << 3) | LEN).bytes(req.traceId);
  return w.finish();
}

export function decodeFindTraceByIdRequest(buf: Uint8Array): FindTraceByIdRequest {
  try {
    const r = protobuf.Reader.create(buf) as Reader;
    let tenantId = '';
    let traceId: Uint8Array | undefined;
    while (r.pos < buf.length) {
      const tag = r.uint32();
      if (tag === ((1 << 3) | LEN)) tenantId = r.string();
      else if (tag === ((2 << 3) | LEN)) traceId = r.bytes();
      else skipField(r, tag, buf.length, 'FindTraceByIDRequest');
    }
    if (!tenantId) throw malformed('FindTraceByIDRequest has no tenant_id');
    if (traceId?.length !== 16) throw malformed(`FindTraceByIDRequest trace_id must be 16 bytes, got ${traceId?.length ?? 0}`);
    return { tenantId, traceId };
  } catch (err) {
    throw asInvalidArgument(err, 'find-by-ID request');
  }
}

export function encodeFindTraceByIdResponse(res: IngesterTrace): Uint8Array {
  const w = protobuf.Writer.create();
  if (res.trace) w.uint32((1 << 3) | LEN).bytes(encodeTrace(res.trace));
  for (const meta of res.flushedBlocks ?? []) w.uint32((2 << 3) | LEN).string(JSON.stringify(meta));
  return w.finish();
}

export function decodeFindTraceByIdResponse(buf: Uint8Array): IngesterTrace {
  try {
    const r = protobuf.Reader.create(buf) as Reader;
    let trace: IngesterTrace['trace'] = null;
    const flushedBlocks: BlockMeta[] = [];
    while (r.pos < buf.length) {
      const tag = r.uint32();
      if (tag === ((1 << 3) | LEN)) trace = decodeTrace(r.bytes());
      else if (tag === ((2 << 3) | LEN)) flushedBlocks.push(parseMeta(r.string()));
      else skipField(r, tag, buf.length, 'FindTraceByIDResponse');
    }
    return { trace, flushedBlocks };
  } catch (err) {
    throw asInvalidArgument(err, 'find-by-ID response');
  }
}
