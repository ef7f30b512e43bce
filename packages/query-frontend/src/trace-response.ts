// Tempo's trace-by-ID responses, protobuf and JSON.
//
// tempopb.TraceByIDResponse (grafana/tempo pkg/tempopb/tempo.proto, v2.10.8 and main):
//   1 trace (Trace), 2 metrics (TraceByIDMetrics), 3 status (PartialStatus enum), 4 message (string)
//   TraceByIDMetrics: 1 inspectedBytes (uint64); main adds 2 backendReads, 3 backendBytes,
//   4 additionalMetrics (map<string,int64>), which Andante does not fill.
//   PartialStatus: COMPLETE = 0, PARTIAL = 1.
//
// JSON follows gogo/protobuf v1.3.2 jsonpb's default Marshaler, which Tempo uses (MarshalToJSONV1 in
// pkg/tempopb/trace_utils.go for v1, combiner/common.go for v2):
// - fields in the Go struct's (= .proto declaration) order, names from the proto json= names;
// - zero scalars, empty strings, nil slices and nil message pointers are left out, but a non-nil empty
//   message prints as {}. Tempo's block reader (vparquet4 ParquetTraceToTempopbTrace) always sets
//   Resource, Scope and Status, so they are always printed here ("scope":{}, "status":{}), matching
//   what Tempo returns (e.g. cmd/tempo-vulture/testdata/trace.json);
// - a set AnyValue oneof member prints even when zero ({"intValue":"0"});
// - 64-bit integers as strings, bytes as standard base64, enums by name (a number if unknown),
//   doubles through encoding/json (NaN and infinities as strings);
// - strings through encoding/json: <, >, & escaped as \u003c \u003e \u0026, U+2028/2029 escaped.

import { attributesJson, base64, jsonString, type Span, type Trace } from '@andante/model';
import { newWriter, sizeTrace, varintSize, writeTraceContent, writeVarint } from '@andante/model/wire';

export type PartialStatus = 'COMPLETE' | 'PARTIAL';

export interface TraceByIdResponse {
  /** The trace, or an already encoded tempopb.Trace (for example, segments concatenated). */
  trace: Trace | Uint8Array;
  status?: PartialStatus;
  message?: string;
  /** When set (even to 0n), metrics are present, as in Tempo's frontend, which always sets them. */
  inspectedBytes?: bigint;
}

export interface TraceJsonExtra {
  status?: PartialStatus;
  message?: string;
  inspectedBytes?: bigint;
}

/** Encodes a tempopb.TraceByIDResponse. */
export function encodeTraceByIdResponse(r: TraceByIdResponse): Uint8Array {
  const sizes: number[] = [];
  const encoded = r.trace instanceof Uint8Array ? r.trace : null;
  const traceSize = encoded ? encoded.length : sizeTrace(r.trace as Trace, sizes);
  let total = 1 + varintSize(traceSize) + traceSize;

  const inspected = r.inspectedBytes;
  let metricsSize = -1;
  if (inspected !== undefined) {
    metricsSize = inspected === 0n ? 0 : 1 + uint64Size(inspected);
    total += 1 + varintSize(metricsSize) + metricsSize;
  }
  const partial = r.status === 'PARTIAL';
  if (partial) total += 2;
  const message = r.message ? Buffer.from(r.message, 'utf8') : null;
  if (message) total += 1 + varintSize(message.length) + message.length;

  const w = newWriter(total, sizes);
  const out = w.out;
  out[w.pos++] = 0x0a;
  w.pos = writeVarint(out, w.pos, traceSize);
  if (encoded) {
    out.set(encoded, w.pos);
    w.pos += encoded.length;
  } else {
    w.next = 1; // skip the Trace's own length slot, written just above
    writeTraceContent(w, r.trace as Trace);
  }
  if (metricsSize >= 0) {
    out[w.pos++] = 0x12;
    w.pos = writeVarint(out, w.pos, metricsSize);
    if (metricsSize > 0) {
      out[w.pos++] = 0x08;
      let u = BigInt.asUintN(64, inspected!);
      while (u >= 0x80n) {
        out[w.pos++] = Number(u & 0x7fn) | 0x80;
        u >>= 7n;
      }
      out[w.pos++] = Number(u);
    }
  }
  if (partial) {
    out[w.pos++] = 0x18;
    out[w.pos++] = 0x01;
  }
  if (message) {
    out[w.pos++] = 0x22;
    w.pos = writeVarint(out, w.pos, message.length);
    out.set(message, w.pos);
    w.pos += message.length;
  }
  return out;
}

function uint64Size(v: bigint): number {
  let u = BigInt.asUintN(64, v);
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

/**
 * Tempo's trace-by-ID JSON. v1 (`/api/traces/{id}`): the Trace with `resourceSpans` renamed to
 * `batches` (`{}` for an empty trace). v2 (`/api/v2/traces/{id}`): TraceByIDResponse, i.e.
 * `{"trace":{...},"metrics":{...},"status":"PARTIAL","message":"..."}`.
 */
export function traceToTempoJson(trace: Trace, shape: 'v1' | 'v2', extra?: TraceJsonExtra): string {
  const body = traceJson(trace, shape === 'v1' ? 'batches' : 'resourceSpans');
  if (shape === 'v1') return body;
  let s = `{"trace":${body}`;
  if (extra?.inspectedBytes !== undefined) {
    s += extra.inspectedBytes === 0n ? ',"metrics":{}' : `,"metrics":{"inspectedBytes":"${BigInt.asUintN(64, extra.inspectedBytes)}"}`;
  }
  if (extra?.status === 'PARTIAL') s += ',"status":"PARTIAL"';
  if (extra?.message) s += `,"message":${jsonString(extra.message)}`;
  return s + '}';
}

function traceJson(t: Trace, key: string): string {
  if (t.resourceSpans.length === 0) return '{}';
  const parts: string[] = [];
  for (const rs of t.resourceSpans) {
    let s = '{"resource":{';
    let sep = '';
    if (rs.resource.attributes.length > 0) {
      s += `"attributes":${attributesJson(rs.resource.attributes)}`;
      sep = ',';
    }
    if (rs.resource.droppedAttributesCount >>> 0 !== 0) s += `${sep}"droppedAttributesCount":${rs.resource.droppedAttributesCount >>> 0}`;
    s += '}';
    if (rs.scopeSpans.length > 0) {
      const scopes: string[] = [];
      for (const ss of rs.scopeSpans) {
        const f: string[] = [];
        const sc = ss.scope;
        if (sc.name) f.push(`"name":${jsonString(sc.name)}`);
        if (sc.version) f.push(`"version":${jsonString(sc.version)}`);
        if (sc.attributes.length > 0) f.push(`"attributes":${attributesJson(sc.attributes)}`);
        if (sc.droppedAttributesCount >>> 0 !== 0) f.push(`"droppedAttributesCount":${sc.droppedAttributesCount >>> 0}`);
        let x = `{"scope":{${f.join(',')}}`;
        if (ss.spans.length > 0) x += `,"spans":[${ss.spans.map(spanJson).join(',')}]`;
        if (ss.schemaUrl) x += `,"schemaUrl":${jsonString(ss.schemaUrl)}`;
        scopes.push(x + '}');
      }
      s += `,"scopeSpans":[${scopes.join(',')}]`;
    }
    if (rs.schemaUrl) s += `,"schemaUrl":${jsonString(rs.schemaUrl)}`;
    parts.push(s + '}');
  }
  return `{"${key}":[${parts.join(',')}]}`;
}

const SPAN_KIND_NAMES = [
  'SPAN_KIND_UNSPECIFIED',
  'SPAN_KIND_INTERNAL',
  'SPAN_KIND_SERVER',
  'SPAN_KIND_CLIENT',
  'SPAN_KIND_PRODUCER',
  'SPAN_KIND_CONSUMER',
];
const STATUS_CODE_NAMES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

/** jsonpb prints a known enum value by name (quoted) and an unknown one as a bare number. */
function enumJson(names: readonly string[], v: number): string {
  const name = names[v];
  return name !== undefined ? `"${name}"` : String(v);
}

function spanJson(sp: Span): string {
  const f: string[] = [];
  if (sp.traceId.length > 0) f.push(`"traceId":"${base64(sp.traceId)}"`);
  if (sp.spanId.length > 0) f.push(`"spanId":"${base64(sp.spanId)}"`);
  if (sp.traceState) f.push(`"traceState":${jsonString(sp.traceState)}`);
  if (sp.parentSpanId.length > 0) f.push(`"parentSpanId":"${base64(sp.parentSpanId)}"`);
  if (sp.flags >>> 0 !== 0) f.push(`"flags":${sp.flags >>> 0}`);
  if (sp.name) f.push(`"name":${jsonString(sp.name)}`);
  if ((sp.kind | 0) !== 0) f.push(`"kind":${enumJson(SPAN_KIND_NAMES, sp.kind | 0)}`);
  if (sp.startTimeUnixNano !== 0n) f.push(`"startTimeUnixNano":"${BigInt.asUintN(64, sp.startTimeUnixNano)}"`);
  if (sp.endTimeUnixNano !== 0n) f.push(`"endTimeUnixNano":"${BigInt.asUintN(64, sp.endTimeUnixNano)}"`);
  if (sp.attributes.length > 0) f.push(`"attributes":${attributesJson(sp.attributes)}`);
  if (sp.droppedAttributesCount >>> 0 !== 0) f.push(`"droppedAttributesCount":${sp.droppedAttributesCount >>> 0}`);
  if (sp.events.length > 0) {
    const evs = sp.events.map((ev) => {
      const e: string[] = [];
      if (ev.timeUnixNano !== 0n) e.push(`"timeUnixNano":"${BigInt.asUintN(64, ev.timeUnixNano)}"`);
      if (ev.name) e.push(`"name":${jsonString(ev.name)}`);
      if (ev.attributes.length > 0) e.push(`"attributes":${attributesJson(ev.attributes)}`);
      if (ev.droppedAttributesCount >>> 0 !== 0) e.push(`"droppedAttributesCount":${ev.droppedAttributesCount >>> 0}`);
      return `{${e.join(',')}}`;
    });
    f.push(`"events":[${evs.join(',')}]`);
  }
  if (sp.droppedEventsCount >>> 0 !== 0) f.push(`"droppedEventsCount":${sp.droppedEventsCount >>> 0}`);
  if (sp.links.length > 0) {
    const links = sp.links.map((l) => {
      const e: string[] = [];
      if (l.traceId.length > 0) e.push(`"traceId":"${base64(l.traceId)}"`);
      if (l.spanId.length > 0) e.push(`"spanId":"${base64(l.spanId)}"`);
      if (l.traceState) e.push(`"traceState":${jsonString(l.traceState)}`);
      if (l.attributes.length > 0) e.push(`"attributes":${attributesJson(l.attributes)}`);
      if (l.droppedAttributesCount >>> 0 !== 0) e.push(`"droppedAttributesCount":${l.droppedAttributesCount >>> 0}`);
      if (l.flags >>> 0 !== 0) e.push(`"flags":${l.flags >>> 0}`);
      return `{${e.join(',')}}`;
    });
    f.push(`"links":[${links.join(',')}]`);
  }
  if (sp.droppedLinksCount >>> 0 !== 0) f.push(`"droppedLinksCount":${sp.droppedLinksCount >>> 0}`);
  const st: string[] = [];
  if (sp.status.message) st.push(`"message":${jsonString(sp.status.message)}`);
  if ((sp.status.code | 0) !== 0) st.push(`"code":${enumJson(STATUS_CODE_NAMES, sp.status.code | 0)}`);
  f.push(`"status":{${st.join(',')}}`);
  return `{${f.join(',')}}`;
}

