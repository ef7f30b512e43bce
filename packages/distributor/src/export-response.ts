// The OTLP receiver's answer: ExportTraceServiceResponse (opentelemetry-proto
// collector/trace/v1/trace_service.proto): 1 partial_success (ExportTracePartialSuccess:
// 1 rejected_spans int64, 2 error_message string). A full success is the empty message.

import { varintSize, writeVarint } from '@andante/model/wire';

/** ExportTraceServiceResponse bytes; empty when nothing was rejected and there is no message. */
export function encodeExportTraceServiceResponse(rejectedSpans: number, errorMessage: string): Uint8Array {
  const rejected = BigInt.asUintN(64, BigInt(Math.trunc(rejectedSpans)));
  if (rejected === 0n && errorMessage.length === 0) return new Uint8Array(0);
  const msg = Buffer.from(errorMessage, 'utf8');
  let inner = 0;
  if (rejected !== 0n) inner += 1 + uvarintSize(rejected);
  if (msg.length > 0) inner += 1 + varintSize(msg.length) + msg.length;
  const out = new Uint8Array(1 + varintSize(inner) + inner);
  out[0] = 0x0a;
  let pos = writeVarint(out, 1, inner);
  if (rejected !== 0n) {
    out[pos++] = 0x08;
    let u = rejected;
    while (u >= 0x80n) {
      out[pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    out[pos++] = Number(u);
  }
  if (msg.length > 0) {
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, msg.length);
    out.set(msg, pos);
  }
  return out;
}

function uvarintSize(u: bigint): number {
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

/** The same response as OTLP/JSON: `{}` or `{"partialSuccess":{"rejectedSpans":"3","errorMessage":"..."}}`. */
export function exportResponseToJson(rejectedSpans: number, errorMessage: string): string {
  const rejected = Math.trunc(rejectedSpans);
  if (rejected === 0 && errorMessage.length === 0) return '{}';
  const f: string[] = [];
  if (rejected !== 0) f.push(`"rejectedSpans":"${rejected}"`);
  if (errorMessage.length > 0) f.push(`"errorMessage":${JSON.stringify(errorMessage)}`);
  return `{"partialSuccess":{${f.join(',')}}}`;
}
