// Test support (not built): compact builders for OTLP traces.

import type { AnyValue, KeyValue, ResourceSpans, Span, Trace } from '@andante/model';

/** bigint = int, number = double, arrays become arrayValue. */
export type Val = string | bigint | number | boolean | Val[];

export function anyValue(v: Val): AnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'bigint') return { intValue: v };
  if (typeof v === 'number') return { doubleValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  return { arrayValue: { values: v.map(anyValue) } };
}

export function kvs(r: Record<string, Val> | undefined): KeyValue[] {
  return Object.entries(r ?? {}).map(([key, v]) => ({ key, value: anyValue(v) }));
}

/** An 8-byte span ID (or 16-byte trace ID) from a number. */
export function idBytes(n: number | bigint, len = 8): Uint8Array {
  const out = new Uint8Array(len);
  let x = BigInt(n);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

export interface SpanSpec {
  id: number;
  /** Parent span id; absent for a root. */
  parent?: number;
  name?: string;
  service?: string;
  kind?: number;
  status?: number;
  statusMessage?: string;
  /** Offset from the trace base time, ns. */
  start?: bigint;
  duration?: bigint;
  attrs?: Record<string, Val>;
  /** Extra resource attributes (service.name comes from `service`). */
  resource?: Record<string, Val>;
  scope?: { name: string; version?: string; attrs?: Record<string, Val> };
  events?: { name: string; at?: bigint; attrs?: Record<string, Val> }[];
  links?: { traceId?: number; spanId?: number; attrs?: Record<string, Val> }[];
}

export const BASE_TIME = 1_700_000_000_000_000_000n;

/** One trace: spans are grouped into ResourceSpans by service (+ resource attrs) and scope, in order. */
export function makeTrace(specs: SpanSpec[], traceNum: number | bigint = 1): Trace {
  const traceId = idBytes(traceNum, 16);
  const resources = new Map<string, ResourceSpans>();
  for (const sp of specs) {
    const service = sp.service ?? 'svc';
    const resKey = JSON.stringify([service, sp.resource ?? {}]);
    let rs = resources.get(resKey);
    if (!rs) {
      rs = { resource: { attributes: kvs({ 'service.name': service, ...(sp.resource ?? {}) }), droppedAttributesCount: 0 }, scopeSpans: [], schemaUrl: '' };
      resources.set(resKey, rs);
    }
    const scope = sp.scope ?? { name: 'test-scope', version: '1.0.0' };
    let ss = rs.scopeSpans.find((x) => x.scope.name === scope.name && x.scope.version === (scope.version ?? ''));
    if (!ss) {
      ss = { scope: { name: scope.name, version: scope.version ?? '', attributes: kvs(scope.attrs), droppedAttributesCount: 0 }, spans: [], schemaUrl: '' };
      rs.scopeSpans.push(ss);
    }
    const start = BASE_TIME + (sp.start ?? 0n);
    const span: Span = {
      traceId,
      spanId: idBytes(sp.id),
      traceState: '',
      parentSpanId: sp.parent === undefined ? new Uint8Array(0) : idBytes(sp.parent),
      flags: 0,
      name: sp.name ?? `span-${sp.id}`,
      kind: sp.kind ?? 1,
      startTimeUnixNano: start,
      endTimeUnixNano: start + (sp.duration ?? 1_000_000n),
      attributes: kvs(sp.attrs),
      droppedAttributesCount: 0,
      events: (sp.events ?? []).map((e) => ({ timeUnixNano: start + (e.at ?? 0n), name: e.name, attributes: kvs(e.attrs), droppedAttributesCount: 0 })),
      droppedEventsCount: 0,
      links: (sp.links ?? []).map((l) => ({
        traceId: idBytes(l.traceId ?? 99, 16),
        spanId: idBytes(l.spanId ?? 99),
        traceState: '',
        attributes: kvs(l.attrs),
        droppedAttributesCount: 0,
        flags: 0,
      })),
      droppedLinksCount: 0,
      status: { code: sp.status ?? 0, message: sp.statusMessage ?? '' },
    };
    ss.spans.push(span);
  }
  return { resourceSpans: [...resources.values()] };
}
