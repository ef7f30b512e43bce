// Test data in Andante's OTLP model, and a normalized, order-independent view of spans so that a
// trace read back from Andante can be compared with what was sent (span by span, typed values).

import { randomBytes } from 'node:crypto';
import { bytesToHex, encodeTrace, type AnyValue, type InstrumentationScope, type KeyValue, type Resource, type Span, type Trace } from '@andante/model';

export function randomTraceId(): Uint8Array {
  const id = new Uint8Array(randomBytes(16));
  id[0] = id[0]! | 0x10; // never all zero, never a leading-zero-trimmed ambiguity in tests
  return id;
}

export function randomSpanId(): Uint8Array {
  const id = new Uint8Array(randomBytes(8));
  id[0] = id[0]! | 0x10;
  return id;
}

export const str = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
export const int = (key: string, v: number | bigint): KeyValue => ({ key, value: { intValue: BigInt(v) } });
export const dbl = (key: string, v: number): KeyValue => ({ key, value: { doubleValue: v } });
export const bool = (key: string, v: boolean): KeyValue => ({ key, value: { boolValue: v } });

export interface SpanOptions {
  parentSpanId?: Uint8Array;
  name?: string;
  kind?: number;
  startNs?: bigint;
  durationNs?: bigint;
  attributes?: KeyValue[];
  statusCode?: number;
  statusMessage?: string;
}

/** A span with sensible defaults (start now, 1 ms long, one string attribute). */
export function makeSpan(traceId: Uint8Array, spanId: Uint8Array = randomSpanId(), o: SpanOptions = {}): Span {
  const start = o.startNs ?? BigInt(Date.now()) * 1_000_000n;
  return {
    traceId,
    spanId,
    traceState: '',
    parentSpanId: o.parentSpanId ?? new Uint8Array(0),
    flags: 0,
    name: o.name ?? `span-${bytesToHex(spanId).slice(0, 6)}`,
    kind: o.kind ?? 1,
    startTimeUnixNano: start,
    endTimeUnixNano: start + (o.durationNs ?? 1_000_000n),
    attributes: o.attributes ?? [str('test.attr', 'value'), int('test.int', 7)],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: o.statusCode ?? 0, message: o.statusMessage ?? '' },
  };
}

/** One resource (service.name = `service`) and one scope holding `spans`. */
export function makeTrace(spans: Span[], service = 'andante-test', resourceAttrs: KeyValue[] = []): Trace {
  return {
    resourceSpans: [
      {
        resource: { attributes: [str('service.name', service), ...resourceAttrs], droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: 'andante-test-scope', version: '0.0.1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
        schemaUrl: '',
      },
    ],
  };
}

export function encodeRequest(trace: Trace): Uint8Array {
  return encodeTrace(trace);
}

// ---------------------------------------------------------------------------------------------
// Normalized view

export type NormValue =
  | { s: string }
  | { i: string }
  | { d: number }
  | { b: boolean }
  | { a: NormValue[] }
  | { kv: [string, NormValue][] }
  | { bytes: string }
  | { empty: true };

export function normValue(v: AnyValue): NormValue {
  if ('stringValue' in v) return { s: v.stringValue };
  if ('intValue' in v) return { i: v.intValue.toString() };
  if ('doubleValue' in v) return { d: v.doubleValue };
  if ('boolValue' in v) return { b: v.boolValue };
  if ('arrayValue' in v) return { a: v.arrayValue.values.map(normValue) };
  if ('kvlistValue' in v) return { kv: normAttrs(v.kvlistValue.values) };
  if ('bytesValue' in v) return { bytes: bytesToHex(v.bytesValue) };
  return { empty: true };
}

/** Attributes as [key, value] sorted by key (storage may reorder attributes). */
export function normAttrs(kvs: readonly KeyValue[]): [string, NormValue][] {
  return kvs.map((kv): [string, NormValue] => [kv.key, normValue(kv.value)]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export interface NormSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: [string, NormValue][];
  events: { name: string; timeUnixNano: string; attributes: [string, NormValue][] }[];
  links: { traceId: string; spanId: string; traceState: string; flags: number; attributes: [string, NormValue][] }[];
  status: { code: number; message: string };
  resource: [string, NormValue][];
  scope: { name: string; version: string };
}

export function normSpan(span: Span, resource: readonly KeyValue[], scope: { name: string; version: string }): NormSpan {
  return {
    traceId: bytesToHex(span.traceId),
    spanId: bytesToHex(span.spanId),
    parentSpanId: bytesToHex(span.parentSpanId),
    traceState: span.traceState,
    flags: span.flags,
    name: span.name,
    kind: span.kind,
    startTimeUnixNano: span.startTimeUnixNano.toString(),
    endTimeUnixNano: span.endTimeUnixNano.toString(),
    attributes: normAttrs(span.attributes),
    events: span.events.map((e) => ({ name: e.name, timeUnixNano: e.timeUnixNano.toString(), attributes: normAttrs(e.attributes) })),
    links: span.links.map((l) => ({ traceId: bytesToHex(l.traceId), spanId: bytesToHex(l.spanId), traceState: l.traceState, flags: l.flags, attributes: normAttrs(l.attributes) })),
    status: { code: span.status.code, message: span.status.message },
    resource: normAttrs(resource),
    scope: { name: scope.name, version: scope.version },
  };
}

/** Every span of a trace with its resource and scope, normalized and sorted by span ID. */
export function normTrace(trace: Trace): NormSpan[] {
  const out: NormSpan[] = [];
  for (const rs of trace.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) out.push(normSpan(span, rs.resource.attributes, ss.scope));
    }
  }
  return out.sort((a, b) => (a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0));
}

/** Span IDs (hex) of a trace, in order of appearance, duplicates kept. */
export function spanIdsOf(trace: Trace): string[] {
  const ids: string[] = [];
  for (const rs of trace.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) ids.push(bytesToHex(s.spanId));
  return ids;
}

export function duplicatesOf(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const dups = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) dups.add(id);
    seen.add(id);
  }
  return [...dups];
}

/** A deep copy with bytes as hex and bigints as strings, for whole-structure comparisons. */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return `hex:${bytesToHex(value)}`;
  if (typeof value === 'bigint') return `${value.toString()}n`;
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** A span as a test sent it, with the service whose resource it belongs to. */
export interface SentSpan {
  span: Span;
  service: string;
}

/**
 * Builders for requests of sent spans (one ResourceSpans per service, one scope) and for the
 * read-back a trace of them should have: its distinct spans (by span ID), normalized.
 */
export function sentSpanRequests(scope: InstrumentationScope, resourceOf: (service: string) => Resource) {
  const requestOf = (spans: readonly SentSpan[]): Trace => {
    const byService = new Map<string, Span[]>();
    for (const s of spans) byService.set(s.service, [...(byService.get(s.service) ?? []), s.span]);
    return {
      resourceSpans: [...byService].map(([service, list]) => ({
        resource: resourceOf(service),
        scopeSpans: [{ scope, spans: list, schemaUrl: '' }],
        schemaUrl: '',
      })),
    };
  };
  const expectedOf = (spans: readonly SentSpan[]): NormSpan[] => {
    const unique = new Map<string, SentSpan>();
    for (const s of spans) unique.set(bytesToHex(s.span.spanId), s);
    return normTrace(requestOf([...unique.values()]));
  };
  return { requestOf, expectedOf };
}
