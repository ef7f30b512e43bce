// The generator's own decode of trace segments (tempopb.Trace bytes): only what the processors
// read. Span attributes are kept only when their key is wanted (dimensions, peer and database
// attributes, filter keys, the multiplier key); events and links are skipped unread; a span's
// size is its encoded length, as Tempo's span.Size(). A full decodeTrace spent half the
// generator's CPU on values nothing looked at (bench/src/generator.ts).

import protobuf from 'protobufjs/minimal.js';
import type { AnyValue, KeyValue } from '@andante/model';

/** What a processor reads of a span. A full @andante/model Span with `size` fits too. */
export interface GenSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: KeyValue[];
  status: { code: number; message: string };
  /** Encoded size of the span message in bytes. */
  size: number;
}

/** Spans of one resource (every resource attribute is kept: target_info needs them all). */
export interface GenBatch {
  resource: { attributes: KeyValue[] };
  scopeSpans: { spans: GenSpan[] }[];
}

const NO_BYTES = new Uint8Array(0);
const MAX_DEPTH = 32;

type Reader = protobuf.Reader;

function fixed64(r: Reader): bigint {
  const lo = r.fixed32();
  const hi = r.fixed32();
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function bytesCopy(r: Reader): Uint8Array {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > r.len) throw new RangeError('index out of range');
  // A copy (Buffer#slice would be a view pinning the whole segment).
  const out = Uint8Array.prototype.slice.call(r.buf, r.pos, end);
  r.pos = end;
  return out;
}

function decodeAnyValue(r: Reader, end: number, depth: number): AnyValue {
  if (depth > MAX_DEPTH) throw new Error('AnyValue nested too deeply');
  let v: AnyValue = {};
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        v = { stringValue: r.string() };
        break;
      case 2:
        v = { boolValue: r.bool() };
        break;
      case 3:
        v = { intValue: BigInt(r.int64().toString()) };
        break;
      case 4:
        v = { doubleValue: r.double() };
        break;
      case 5: {
        const e = r.uint32() + r.pos;
        const values: AnyValue[] = [];
        while (r.pos < e) {
          const t = r.uint32();
          if (t >>> 3 === 1) values.push(decodeAnyValue(r, r.uint32() + r.pos, depth + 1));
          else r.skipType(t & 7);
        }
        v = { arrayValue: { values } };
        break;
      }
      case 6: {
        const e = r.uint32() + r.pos;
        const values: KeyValue[] = [];
        while (r.pos < e) {
          const t = r.uint32();
          if (t >>> 3 === 1) values.push(decodeKeyValue(r, r.uint32() + r.pos, depth + 1));
          else r.skipType(t & 7);
        }
        v = { kvlistValue: { values } };
        break;
      }
      case 7:
        v = { bytesValue: bytesCopy(r) };
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  if (r.pos !== end) throw new RangeError('AnyValue overruns its length');
  return v;
}

function decodeKeyValue(r: Reader, end: number, depth: number): KeyValue {
  let key = '';
  let value: AnyValue = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 0x0a) key = r.string();
    else if (tag === 0x12) value = decodeAnyValue(r, r.uint32() + r.pos, depth);
    else r.skipType(tag & 7);
  }
  return { key, value };
}

/** A KeyValue whose key is in `wanted`, else undefined (the value is skipped unread). */
function decodeWantedKeyValue(r: Reader, end: number, wanted: ReadonlySet<string>): KeyValue | undefined {
  let key: string | undefined;
  let value: AnyValue = {};
  // A value before its key (legal, if unusual): remember where it is.
  let valueAt = -1;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === 0x0a) {
      key = r.string();
      if (!wanted.has(key)) {
        r.pos = end;
        return undefined;
      }
    } else if (tag === 0x12) {
      if (key !== undefined) value = decodeAnyValue(r, r.uint32() + r.pos, 0);
      else {
        valueAt = r.pos;
        r.skipType(2);
      }
    } else r.skipType(tag & 7);
  }
  if (key === undefined || !wanted.has(key)) return undefined;
  if (valueAt >= 0) {
    r.pos = valueAt;
    value = decodeAnyValue(r, r.uint32() + r.pos, 0);
    r.pos = end;
  }
  return { key, value };
}

function decodeSpan(r: Reader, end: number, size: number, wanted: ReadonlySet<string>): GenSpan {
  const span: GenSpan = {
    traceId: NO_BYTES,
    spanId: NO_BYTES,
    parentSpanId: NO_BYTES,
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: [],
    status: { code: 0, message: '' },
    size,
  };
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case 0x0a:
        span.traceId = bytesCopy(r);
        break;
      case 0x12:
        span.spanId = bytesCopy(r);
        break;
      case 0x22:
        span.parentSpanId = bytesCopy(r);
        break;
      case 0x2a:
        span.name = r.string();
        break;
      case 0x30:
        span.kind = r.uint32();
        break;
      case 0x39:
        span.startTimeUnixNano = fixed64(r);
        break;
      case 0x41:
        span.endTimeUnixNano = fixed64(r);
        break;
      case 0x4a: {
        const e = r.uint32() + r.pos;
        const kv = wanted.size > 0 ? decodeWantedKeyValue(r, e, wanted) : undefined;
        if (kv) span.attributes.push(kv);
        r.pos = e;
        break;
      }
      case 0x7a: {
        const e = r.uint32() + r.pos;
        while (r.pos < e) {
          const t = r.uint32();
          if (t === 0x12) span.status.message = r.string();
          else if (t === 0x18) span.status.code = r.uint32();
          else r.skipType(t & 7);
        }
        break;
      }
      default:
        // trace_state, events, links, counts, flags: not read by any processor.
        r.skipType(tag & 7);
    }
  }
  if (r.pos !== end) throw new RangeError('Span overruns its length');
  return span;
}

/**
 * Decodes a tempopb.Trace (or several concatenated) into the processors' view. Malformed bytes
 * throw; the caller counts the failure.
 */
export function decodeForGenerator(buf: Uint8Array, wantedSpanAttributes: ReadonlySet<string>): GenBatch[] {
  const r = protobuf.Reader.create(buf);
  const out: GenBatch[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag !== 0x0a) {
      r.skipType(tag & 7);
      continue;
    }
    const rsEnd = r.uint32() + r.pos;
    if (rsEnd > r.len) throw new RangeError('ResourceSpans overruns the buffer');
    const batch: GenBatch = { resource: { attributes: [] }, scopeSpans: [] };
    while (r.pos < rsEnd) {
      const t = r.uint32();
      if (t === 0x0a) {
        const resEnd = r.uint32() + r.pos;
        while (r.pos < resEnd) {
          const rt = r.uint32();
          if (rt === 0x0a) batch.resource.attributes.push(decodeKeyValue(r, r.uint32() + r.pos, 0));
          else r.skipType(rt & 7);
        }
      } else if (t === 0x12) {
        const ssEnd = r.uint32() + r.pos;
        const spans: GenSpan[] = [];
        while (r.pos < ssEnd) {
          const st = r.uint32();
          if (st === 0x12) {
            const len = r.uint32();
            spans.push(decodeSpan(r, r.pos + len, len, wantedSpanAttributes));
          } else r.skipType(st & 7);
        }
        batch.scopeSpans.push({ spans });
      } else r.skipType(t & 7);
    }
    out.push(batch);
  }
  return out;
}

/** Span attribute keys any configured processor reads. */
export function wantedSpanAttributes(cfg: {
  span_metrics: { dimensions: string[]; dimension_mappings: { source_labels: string[] }[]; span_multiplier_key: string; filter_policies: { include?: { attributes: { key: string }[] }; exclude?: { attributes: { key: string }[] } }[] };
  service_graphs: { dimensions: string[]; peer_attributes: string[]; database_name_attributes: string[]; span_multiplier_key: string };
}): Set<string> {
  const sm = cfg.span_metrics;
  const sg = cfg.service_graphs;
  const keys = new Set<string>([...sm.dimensions, ...sm.dimension_mappings.flatMap((m) => m.source_labels), ...sg.dimensions, ...sg.peer_attributes, ...sg.database_name_attributes]);
  for (const k of ['peer.service', 'server.address', 'network.peer.address', 'network.peer.port']) keys.add(k);
  if (sm.span_multiplier_key) keys.add(sm.span_multiplier_key);
  if (sg.span_multiplier_key) keys.add(sg.span_multiplier_key);
  for (const p of sm.filter_policies) {
    for (const a of [...(p.include?.attributes ?? []), ...(p.exclude?.attributes ?? [])]) if (a.key.startsWith('span.')) keys.add(a.key.slice('span.'.length));
  }
  return keys;
}
