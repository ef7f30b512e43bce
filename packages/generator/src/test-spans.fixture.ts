// Spans for the processors' unit tests (excluded from the build: tests only).

import { SpanKind, StatusCode, hexToBytes, spanWireSize, type AnyValue, type KeyValue, type ResourceSpans, type Span } from '@andante/model';
import type { GenBatch, GenSpan } from './span-view.js';

const value = (v: string | number | boolean): AnyValue =>
  typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : Number.isInteger(v) ? { intValue: BigInt(v) } : { doubleValue: v };
export const attrs = (o: Record<string, string | number | boolean>): KeyValue[] => Object.entries(o).map(([key, v]) => ({ key, value: value(v) }));

let nextSpan = 1;
export function span(o: { name?: string; kind?: number; status?: number; message?: string; ms?: number; attrs?: Record<string, string | number | boolean>; trace?: string; id?: string; parent?: string }): Span & GenSpan {
  const start = 1_700_000_000_000_000_000n;
  const s: Span = {
    traceId: hexToBytes(o.trace ?? '0102030405060708090a0b0c0d0e0f10'),
    spanId: hexToBytes(o.id ?? (nextSpan++).toString(16).padStart(16, '0')),
    traceState: '',
    parentSpanId: o.parent ? hexToBytes(o.parent) : new Uint8Array(0),
    flags: 0,
    name: o.name ?? 'op',
    kind: o.kind ?? SpanKind.SERVER,
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(Math.round((o.ms ?? 10) * 1e6)),
    attributes: attrs(o.attrs ?? {}),
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: o.status ?? StatusCode.UNSET, message: o.message ?? '' },
  };
  return Object.assign(s, { size: spanWireSize(s) });
}
export function batch(resource: Record<string, string | number | boolean>, spans: (Span & GenSpan)[]): ResourceSpans & GenBatch {
  return { resource: { attributes: attrs(resource), droppedAttributesCount: 0 }, scopeSpans: [{ scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }], schemaUrl: '' };
}

