// google.rpc.Status, the error body OTLP/HTTP servers send (field 1: int32 code, 2: string message).

function varint(value: number, out: number[]): void {
  let v = value >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

export function encodeRpcStatus(code: number, message: string): Uint8Array {
  const msg = Buffer.from(message, 'utf8');
  const head: number[] = [];
  if (code !== 0) {
    head.push(0x08);
    varint(code, head);
  }
  if (msg.length > 0) {
    head.push(0x12);
    varint(msg.length, head);
  }
  return Buffer.concat([Buffer.from(head), msg]);
}
