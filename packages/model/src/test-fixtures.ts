// Test support only (not exported from index.ts): an independent encoder/decoder built by protobufjs
// reflection from the official .proto layouts, used as an oracle for the hand-written codecs, plus
// trace generators.

import protobuf from 'protobufjs';
import type { AnyValue, KeyValue, Span, Trace } from './trace.js';
import { mulberry32 } from './seeded-random.js';

// Field numbers and types as in opentelemetry-proto (trace/v1, common/v1, resource/v1,
// collector/trace/v1) and grafana/tempo pkg/tempopb/tempo.proto.
export const OTLP_PROTO = `
syntax = "proto3";
package oracle;
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message TracesData { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
  message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
  repeated Event events = 11; uint32 dropped_events_count = 12;
  message Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4; uint32 dropped_attributes_count = 5; fixed32 flags = 6; }
  repeated Link links = 13; uint32 dropped_links_count = 14;
  Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }
message ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }
message TraceByIDResponse { TracesData trace = 1; TraceByIDMetrics metrics = 2; PartialStatus status = 3; string message = 4; }
message TraceByIDMetrics { uint64 inspectedBytes = 1; }
enum PartialStatus { COMPLETE = 0; PARTIAL = 1; }
`;

export const oracleRoot = protobuf.parse(OTLP_PROTO).root;
export const TracesDataType = oracleRoot.lookupType('oracle.TracesData');
export const SpanType = oracleRoot.lookupType('oracle.Span');
export const ResourceType = oracleRoot.lookupType('oracle.Resource');
export const ScopeType = oracleRoot.lookupType('oracle.InstrumentationScope');
export const ExportResponseType = oracleRoot.lookupType('oracle.ExportTraceServiceResponse');
export const TraceByIdResponseType = oracleRoot.lookupType('oracle.TraceByIDResponse');

type Plain = Record<string, unknown>;

function anyToPlain(v: AnyValue): Plain {
  const a = v as Record<string, unknown>;
  if ('stringValue' in a) return { stringValue: a.stringValue };
  if ('boolValue' in a) return { boolValue: a.boolValue };
  if ('intValue' in a) return { intValue: String(a.intValue) };
  if ('doubleValue' in a) return { doubleValue: a.doubleValue };
  if ('arrayValue' in a) return { arrayValue: { values: (a.arrayValue as { values: AnyValue[] }).values.map(anyToPlain) } };
  if ('kvlistValue' in a) return { kvlistValue: { values: (a.kvlistValue as { values: KeyValue[] }).values.map(kvToPlain) } };
  if ('bytesValue' in a) return { bytesValue: a.bytesValue };
  return {};
}

function kvToPlain(kv: KeyValue): Plain {
  return { key: kv.key, value: anyToPlain(kv.value) };
}

export function spanToPlain(s: Span): Plain {
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    traceState: s.traceState,
    parentSpanId: s.parentSpanId,
    flags: s.flags,
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: s.startTimeUnixNano.toString(),
    endTimeUnixNano: s.endTimeUnixNano.toString(),
    attributes: s.attributes.map(kvToPlain),
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({
      timeUnixNano: e.timeUnixNano.toString(),
      name: e.name,
      attributes: e.attributes.map(kvToPlain),
      droppedAttributesCount: e.droppedAttributesCount,
    })),
    droppedEventsCount: s.droppedEventsCount,
    links: s.links.map((l) => ({
      traceId: l.traceId,
      spanId: l.spanId,
      traceState: l.traceState,
      attributes: l.attributes.map(kvToPlain),
      droppedAttributesCount: l.droppedAttributesCount,
      flags: l.flags,
    })),
    droppedLinksCount: s.droppedLinksCount,
    status: { message: s.status.message, code: s.status.code },
  };
}

export function traceToPlain(t: Trace): Plain {
  return {
    resourceSpans: t.resourceSpans.map((rs) => ({
      resource: { attributes: rs.resource.attributes.map(kvToPlain), droppedAttributesCount: rs.resource.droppedAttributesCount },
      scopeSpans: rs.scopeSpans.map((ss) => ({
        scope: {
          name: ss.scope.name,
          version: ss.scope.version,
          attributes: ss.scope.attributes.map(kvToPlain),
          droppedAttributesCount: ss.scope.droppedAttributesCount,
        },
        spans: ss.spans.map(spanToPlain),
        schemaUrl: ss.schemaUrl,
      })),
      schemaUrl: rs.schemaUrl,
    })),
  };
}

/** Encodes with the reflection oracle. */
export function oracleEncode(t: Trace): Uint8Array {
  return TracesDataType.encode(TracesDataType.fromObject(traceToPlain(t))).finish();
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, defaults: true, arrays: true };

function u8(x: unknown): Uint8Array {
  return new Uint8Array(x as Uint8Array);
}

function anyFromPlain(p: Plain | null | undefined): AnyValue {
  if (!p) return {};
  if (p.stringValue !== undefined) return { stringValue: p.stringValue as string };
  if (p.boolValue !== undefined) return { boolValue: p.boolValue as boolean };
  if (p.intValue !== undefined) return { intValue: BigInt(p.intValue as string) };
  if (p.doubleValue !== undefined) return { doubleValue: p.doubleValue as number };
  if (p.arrayValue !== undefined) return { arrayValue: { values: ((p.arrayValue as Plain).values as Plain[]).map(anyFromPlain) } };
  if (p.kvlistValue !== undefined) return { kvlistValue: { values: ((p.kvlistValue as Plain).values as Plain[]).map(kvFromPlain) } };
  if (p.bytesValue !== undefined) return { bytesValue: u8(p.bytesValue) };
  return {};
}

function kvFromPlain(p: Plain): KeyValue {
  return { key: p.key as string, value: anyFromPlain(p.value as Plain | null) };
}

export function spanFromPlain(p: Plain): Span {
  const st = p.status as Plain | null;
  return {
    traceId: u8(p.traceId),
    spanId: u8(p.spanId),
    traceState: p.traceState as string,
    parentSpanId: u8(p.parentSpanId),
    flags: p.flags as number,
    name: p.name as string,
    kind: p.kind as number,
    startTimeUnixNano: BigInt(p.startTimeUnixNano as string),
    endTimeUnixNano: BigInt(p.endTimeUnixNano as string),
    attributes: (p.attributes as Plain[]).map(kvFromPlain),
    droppedAttributesCount: p.droppedAttributesCount as number,
    events: (p.events as Plain[]).map((e) => ({
      timeUnixNano: BigInt(e.timeUnixNano as string),
      name: e.name as string,
      attributes: (e.attributes as Plain[]).map(kvFromPlain),
      droppedAttributesCount: e.droppedAttributesCount as number,
    })),
    droppedEventsCount: p.droppedEventsCount as number,
    links: (p.links as Plain[]).map((l) => ({
      traceId: u8(l.traceId),
      spanId: u8(l.spanId),
      traceState: l.traceState as string,
      attributes: (l.attributes as Plain[]).map(kvFromPlain),
      droppedAttributesCount: l.droppedAttributesCount as number,
      flags: l.flags as number,
    })),
    droppedLinksCount: p.droppedLinksCount as number,
    status: st ? { message: st.message as string, code: st.code as number } : { message: '', code: 0 },
  };
}

export function traceFromPlain(p: Plain): Trace {
  return {
    resourceSpans: (p.resourceSpans as Plain[]).map((rs) => {
      const res = rs.resource as Plain | null;
      return {
        resource: res
          ? { attributes: (res.attributes as Plain[]).map(kvFromPlain), droppedAttributesCount: res.droppedAttributesCount as number }
          : { attributes: [], droppedAttributesCount: 0 },
        scopeSpans: (rs.scopeSpans as Plain[]).map((ss) => {
          const sc = ss.scope as Plain | null;
          return {
            scope: sc
              ? {
                  name: sc.name as string,
                  version: sc.version as string,
                  attributes: (sc.attributes as Plain[]).map(kvFromPlain),
                  droppedAttributesCount: sc.droppedAttributesCount as number,
                }
              : { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
            spans: (ss.spans as Plain[]).map(spanFromPlain),
            schemaUrl: ss.schemaUrl as string,
          };
        }),
        schemaUrl: rs.schemaUrl as string,
      };
    }),
  };
}

/** Decodes with the reflection oracle. */
export function oracleDecode(bytes: Uint8Array): Trace {
  return traceFromPlain(TracesDataType.toObject(TracesDataType.decode(bytes), TO_OBJECT) as Plain);
}

export function oracleDecodeSpan(bytes: Uint8Array): Span {
  return spanFromPlain(SpanType.toObject(SpanType.decode(bytes), TO_OBJECT) as Plain);
}

// ---- generators ----

/** Small deterministic PRNG (mulberry32). */
export const rng = mulberry32;

export function bytesOf(...xs: number[]): Uint8Array {
  return new Uint8Array(xs);
}

export function emptySpan(over: Partial<Span> = {}): Span {
  return {
    traceId: new Uint8Array(16).fill(1),
    spanId: new Uint8Array(8).fill(2),
    traceState: '',
    parentSpanId: new Uint8Array(0),
    flags: 0,
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { message: '', code: 0 },
    ...over,
  };
}

/** A trace using every field and every AnyValue kind. */
export function richTrace(): Trace {
  const traceId = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: 'shop-backend' } },
            { key: 'host.cores', value: { intValue: 8n } },
          ],
          droppedAttributesCount: 3,
        },
        scopeSpans: [
          {
            scope: {
              name: 'io.opentelemetry.http',
              version: '1.2.3',
              attributes: [{ key: 'scope.attr', value: { boolValue: true } }],
              droppedAttributesCount: 1,
            },
            spans: [
              {
                traceId,
                spanId: bytesOf(1, 2, 3, 4, 5, 6, 7, 8),
                traceState: 'rojo=00f067aa0ba902b7',
                parentSpanId: bytesOf(9, 9, 9, 9, 9, 9, 9, 9),
                flags: 0x301,
                name: 'GET /checkout?a=1&b=<2>',
                kind: 2,
                startTimeUnixNano: 1_700_000_000_123_456_789n,
                endTimeUnixNano: 18_446_744_073_709_551_615n,
                attributes: [
                  { key: 'str', value: { stringValue: 'héllo wörld ✓ 😀' } },
                  { key: 'empty.str', value: { stringValue: '' } },
                  { key: 'bool.false', value: { boolValue: false } },
                  { key: 'int.neg', value: { intValue: -9_223_372_036_854_775_808n } },
                  { key: 'int.max', value: { intValue: 9_223_372_036_854_775_807n } },
                  { key: 'int.zero', value: { intValue: 0n } },
                  { key: 'double', value: { doubleValue: 3.25 } },
                  { key: 'double.zero', value: { doubleValue: 0 } },
                  { key: 'double.nan', value: { doubleValue: NaN } },
                  { key: 'double.inf', value: { doubleValue: -Infinity } },
                  {
                    key: 'array',
                    value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 2n }, { arrayValue: { values: [] } }, {}] } },
                  },
                  {
                    key: 'kvlist',
                    value: { kvlistValue: { values: [{ key: 'nested', value: { kvlistValue: { values: [] } } }, { key: '', value: {} }] } },
                  },
                  { key: 'bytes', value: { bytesValue: bytesOf(0, 255, 128) } },
                  { key: 'bytes.empty', value: { bytesValue: new Uint8Array(0) } },
                  { key: 'empty.value', value: {} },
                ],
                droppedAttributesCount: 4,
                events: [
                  {
                    timeUnixNano: 1_700_000_000_200_000_001n,
                    name: 'exception',
                    attributes: [{ key: 'exception.message', value: { stringValue: 'boom' } }],
                    droppedAttributesCount: 2,
                  },
                  { timeUnixNano: 0n, name: '', attributes: [], droppedAttributesCount: 0 },
                ],
                droppedEventsCount: 5,
                links: [
                  {
                    traceId: Uint8Array.from({ length: 16 }, (_, i) => i),
                    spanId: bytesOf(8, 7, 6, 5, 4, 3, 2, 1),
                    traceState: 'congo=t61rcWkgMzE',
                    attributes: [{ key: 'link.attr', value: { doubleValue: -0.5 } }],
                    droppedAttributesCount: 6,
                    flags: 0xffffffff,
                  },
                ],
                droppedLinksCount: 7,
                status: { message: 'payment failed', code: 2 },
              },
              emptySpan({ traceId, spanId: bytesOf(1, 1, 1, 1, 1, 1, 1, 1), kind: -1, status: { message: '', code: 1 } }),
            ],
            schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
          },
          { scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [], schemaUrl: '' },
        ],
        schemaUrl: 'https://opentelemetry.io/schemas/1.20.0',
      },
      {
        resource: { attributes: [], droppedAttributesCount: 0 },
        scopeSpans: [],
        schemaUrl: '',
      },
    ],
  };
}

const WORDS = ['GET', '/api', 'db', 'ünï', '😀', 'x', '', 'a<b>&c', 'tab\there', 'line\u2028sep'];

function randomString(r: () => number): string {
  const n = Math.floor(r() * 4);
  let s = '';
  for (let i = 0; i < n; i++) s += WORDS[Math.floor(r() * WORDS.length)]!;
  return s;
}

function randomBytes(r: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

function randomU64(r: () => number): bigint {
  return (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32));
}

function randomAnyValue(r: () => number, depth: number): AnyValue {
  switch (Math.floor(r() * (depth > 2 ? 6 : 8))) {
    case 0:
      return { stringValue: randomString(r) };
    case 1:
      return { boolValue: r() < 0.5 };
    case 2:
      return { intValue: BigInt.asIntN(64, randomU64(r)) };
    case 3:
      return { doubleValue: (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20) };
    case 4:
      return { bytesValue: randomBytes(r, Math.floor(r() * 5)) };
    case 5:
      return {};
    case 6:
      return { arrayValue: { values: Array.from({ length: Math.floor(r() * 3) }, () => randomAnyValue(r, depth + 1)) } };
    default:
      return { kvlistValue: { values: randomAttributes(r, depth + 1, 3) } };
  }
}

function randomAttributes(r: () => number, depth = 0, max = 5): KeyValue[] {
  return Array.from({ length: Math.floor(r() * max) }, () => ({ key: randomString(r), value: randomAnyValue(r, depth) }));
}

export function randomSpan(r: () => number, traceId?: Uint8Array): Span {
  return {
    traceId: traceId ?? randomBytes(r, 16),
    spanId: randomBytes(r, 8),
    traceState: r() < 0.2 ? randomString(r) : '',
    parentSpanId: r() < 0.7 ? randomBytes(r, 8) : new Uint8Array(0),
    flags: r() < 0.3 ? Math.floor(r() * 2 ** 32) : 0,
    name: randomString(r),
    kind: Math.floor(r() * 6),
    startTimeUnixNano: randomU64(r),
    endTimeUnixNano: randomU64(r),
    attributes: randomAttributes(r),
    droppedAttributesCount: r() < 0.2 ? Math.floor(r() * 2 ** 32) : 0,
    events: Array.from({ length: Math.floor(r() * 3) }, () => ({
      timeUnixNano: randomU64(r),
      name: randomString(r),
      attributes: randomAttributes(r),
      droppedAttributesCount: Math.floor(r() * 3),
    })),
    droppedEventsCount: Math.floor(r() * 2),
    links: Array.from({ length: Math.floor(r() * 2) }, () => ({
      traceId: randomBytes(r, 16),
      spanId: randomBytes(r, 8),
      traceState: randomString(r),
      attributes: randomAttributes(r),
      droppedAttributesCount: Math.floor(r() * 2),
      flags: Math.floor(r() * 2 ** 32),
    })),
    droppedLinksCount: Math.floor(r() * 2),
    status: r() < 0.5 ? { message: randomString(r), code: Math.floor(r() * 3) } : { message: '', code: 0 },
  };
}

export function randomTrace(r: () => number, maxSpans = 6): Trace {
  return {
    resourceSpans: Array.from({ length: 1 + Math.floor(r() * 3) }, () => ({
      resource: { attributes: randomAttributes(r), droppedAttributesCount: Math.floor(r() * 2) },
      scopeSpans: Array.from({ length: Math.floor(r() * 3) }, () => ({
        scope: { name: randomString(r), version: randomString(r), attributes: randomAttributes(r), droppedAttributesCount: 0 },
        spans: Array.from({ length: Math.floor(r() * maxSpans) }, () => randomSpan(r)),
        schemaUrl: r() < 0.3 ? randomString(r) : '',
      })),
      schemaUrl: r() < 0.3 ? randomString(r) : '',
    })),
  };
}
