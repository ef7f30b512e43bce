import { describe, expect, it } from 'vitest';
import { bytesToHex, encodeTrace, type KeyValue, type ResourceSpans, type Span, type Trace } from '@andante/model';
import { trimTraceToBytes } from './partial-trace.js';

const TRACE_ID = new Uint8Array(16).fill(0x42);
const idOf = (n: number): Uint8Array => {
  const id = new Uint8Array(8);
  new DataView(id.buffer).setUint32(4, n + 1);
  id[0] = 0x10;
  return id;
};
const str = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });

function span(n: number, parent: number | null, startNs: bigint, attrBytes = 200): Span {
  return {
    traceId: TRACE_ID,
    spanId: idOf(n),
    traceState: '',
    parentSpanId: parent === null ? new Uint8Array(0) : idOf(parent),
    flags: 0,
    name: `op-${n}`,
    kind: 2,
    startTimeUnixNano: startNs,
    endTimeUnixNano: startNs + 1_000n,
    attributes: [str('payload', 'x'.repeat(attrBytes))],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
  };
}

function group(service: string, spans: Span[]): ResourceSpans {
  return {
    resource: { attributes: [str('service.name', service)], droppedAttributesCount: 0 },
    scopeSpans: [{ scope: { name: 'scope', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
    schemaUrl: '',
  };
}

/**
 * Root 0 (frontend) -> 4 children 1..4 (api) -> 4 grandchildren each 5..20 (db). The spans are
 * stored leaves first, and the root's group comes last, so input order and tree order differ.
 */
function treeTrace(): Trace {
  const leaves: Span[] = [];
  for (let c = 1; c <= 4; c++) for (let g = 0; g < 4; g++) leaves.push(span(4 + (c - 1) * 4 + g + 1, c, 2_000n + BigInt(c * 10 + g)));
  const mids = [4, 3, 2, 1].map((c) => span(c, 0, 1_000n + BigInt(c)));
  return { resourceSpans: [group('db', leaves), group('api', mids), group('frontend', [span(0, null, 1_000n)])] };
}

const keptIds = (t: Trace): string[] => t.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => bytesToHex(s.spanId)))).sort();
const hex = (n: number): string => bytesToHex(idOf(n));

describe('trimTraceToBytes', () => {
  const whole = treeTrace();
  const wholeBytes = encodeTrace(whole).byteLength;

  it('keeps every span when the budget holds the whole trace', () => {
    const r = trimTraceToBytes(whole, wholeBytes);
    expect(r.keptSpans).toBe(21);
    expect(encodeTrace(r.trace)).toEqual(encodeTrace(whole));
  });

  it.each([0.1, 0.25, 0.4, 0.5, 0.75, 0.9, 0.99])('at %f of the size: within the budget, exactly counted, root kept, and (spans of one size) no span without its parent', (fraction) => {
    const budget = Math.floor(wholeBytes * fraction);
    const r = trimTraceToBytes(whole, budget);
    expect(r.keptSpans).toBeGreaterThan(0);
    expect(r.keptSpans).toBeLessThan(21);
    expect(r.totalSpans).toBe(21);
    expect(encodeTrace(r.trace).byteLength).toBeLessThanOrEqual(budget);
    expect(r.encodedBytes).toBe(encodeTrace(r.trace).byteLength);
    const ids = new Set(keptIds(r.trace));
    expect(ids.has(hex(0))).toBe(true);
    for (const rs of r.trace.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) {
      if (s.parentSpanId.length > 0) expect(ids.has(bytesToHex(s.parentSpanId))).toBe(true);
    }
  });

  it('takes the call tree level by level: the root and all its children before any grandchild', () => {
    // Room for about 7 spans: root + 4 children + 2 grandchildren (the earliest-starting ones).
    const oneSpan = encodeTrace({ resourceSpans: [group('x', [span(99, null, 0n)])] }).byteLength;
    const r = trimTraceToBytes(whole, oneSpan * 7 + 200);
    const ids = keptIds(r.trace);
    for (const n of [0, 1, 2, 3, 4]) expect(ids).toContain(hex(n));
    expect(ids).toContain(hex(5)); // child 1's first grandchild starts first
    expect(ids).not.toContain(hex(20));
  });

  it('keeps the groups and the order of the whole trace', () => {
    const r = trimTraceToBytes(whole, Math.floor(wholeBytes / 2));
    const services = r.trace.resourceSpans.map((rs) => rs.resource.attributes[0]!.value);
    expect(services).toEqual([{ stringValue: 'db' }, { stringValue: 'api' }, { stringValue: 'frontend' }]);
    const apiOrder = r.trace.resourceSpans[1]!.scopeSpans[0]!.spans.map((s) => bytesToHex(s.spanId));
    expect(apiOrder).toEqual([4, 3, 2, 1].map(hex));
  });

  it('chooses the same spans whatever the order of the input', () => {
    const reversed: Trace = {
      resourceSpans: [...whole.resourceSpans].reverse().map((rs) => ({ ...rs, scopeSpans: rs.scopeSpans.map((ss) => ({ ...ss, spans: [...ss.spans].reverse() })) })),
    };
    const budget = Math.floor(wholeBytes * 0.6);
    expect(keptIds(trimTraceToBytes(reversed, budget).trace)).toEqual(keptIds(trimTraceToBytes(whole, budget).trace));
  });

  it('skips a span too large for what is left, but keeps smaller later ones, its children included', () => {
    const t = treeTrace();
    const big = t.resourceSpans[1]!.scopeSpans[0]!.spans.find((s) => bytesToHex(s.spanId) === hex(1))!;
    big.attributes = [str('payload', 'y'.repeat(20_000))];
    const budget = encodeTrace(treeTrace()).byteLength; // the whole trace without the big payload
    const r = trimTraceToBytes(t, budget);
    const ids = keptIds(r.trace);
    expect(ids).not.toContain(hex(1));
    expect(ids).toHaveLength(20);
    for (const n of [0, 2, 3, 4, 5, 8, 9, 20]) expect(ids).toContain(hex(n));
    expect(encodeTrace(r.trace).byteLength).toBeLessThanOrEqual(budget);
  });

  it('drops a root larger than the whole budget and answers its children', () => {
    const t = treeTrace();
    t.resourceSpans[2]!.scopeSpans[0]!.spans[0]!.attributes = [str('payload', 'z'.repeat(50_000))];
    const r = trimTraceToBytes(t, wholeBytes);
    expect(keptIds(r.trace)).not.toContain(hex(0));
    expect(r.keptSpans).toBe(20);
  });

  it('answers the root span alone when no span fits the budget', () => {
    const r = trimTraceToBytes(whole, 10);
    expect(keptIds(r.trace)).toEqual([hex(0)]);
    expect(r.keptSpans).toBe(1);
  });

  it('treats spans whose parent is missing as roots after the real root, and survives a parent cycle', () => {
    const t: Trace = {
      resourceSpans: [group('svc', [span(1, 0, 5n), span(2, 1, 6n), span(3, 77, 1n), span(4, 5, 2n), span(5, 4, 3n)])],
    };
    // No span 0 (lost), so 1 and 3 are orphan roots; 4 and 5 are each other's parent.
    const all = trimTraceToBytes(t, encodeTrace(t).byteLength);
    expect(all.keptSpans).toBe(5);
    const oneSpan = encodeTrace({ resourceSpans: [group('svc', [span(99, null, 0n)])] }).byteLength;
    const two = trimTraceToBytes(t, oneSpan * 2 + 20);
    expect(keptIds(two.trace)).toEqual([hex(1), hex(3)].sort()); // both roots, by start time 3 first
  });
});
