// A trace larger than the tenant's `global.max_bytes_per_trace` is answered in part (v2 trace by ID,
// status PARTIAL). Which spans are kept, in brief (docs/design.md, "Partial traces"):
//   - the encoded tempopb.Trace stays within the byte budget (exactly counted); if not even one span
//     fits, the first in the order below is answered alone, so a partial answer is never empty;
//   - spans are taken breadth-first from the root (root, its children, their children...; siblings
//     by start time, then span ID): the kept spans are the top of the call tree, and a kept span's
//     parent is kept too unless the parent alone was larger than what was left of the budget;
//   - a span that does not fit is skipped and smaller later spans may still fit;
//   - spans keep their resource and scope groups and their order in the whole trace.
// Tempo (2.10) instead stops adding whole parts once the combined trace exceeds the limit: the answer
// depends on which querier answered first and may itself exceed the limit.

import { bytesToHex, encodedResourceSize, encodedScopeSize, encodedSpanSize, type Span, type Trace } from '@andante/model';

export interface PartialTrace {
  trace: Trace;
  keptSpans: number;
  totalSpans: number;
  /** Encoded size of `trace`, counted while choosing. */
  encodedBytes: number;
}

interface Candidate {
  span: Span;
  rs: number;
  ss: number;
  id: string;
  parent: string;
}

/**
 * The spans of `trace` that fit in `maxBytes` of encoded tempopb.Trace, chosen as described above.
 * `trace` is not modified; span, resource and scope objects are shared with it.
 */
export function trimTraceToBytes(trace: Trace, maxBytes: number): PartialTrace {
  const candidates: Candidate[] = [];
  trace.resourceSpans.forEach((rs, r) =>
    rs.scopeSpans.forEach((ss, s) => {
      for (const span of ss.spans) candidates.push({ span, rs: r, ss: s, id: bytesToHex(span.spanId), parent: bytesToHex(span.parentSpanId) });
    }),
  );
  const order = breadthFirstOrder(candidates);

  // Exact accounting: each group's payload length is tracked, so the growth of its length prefix
  // is counted when a span is added.
  const resourceHeader = trace.resourceSpans.map((rs) => lengthDelimited(encodedResourceSize(rs.resource)) + stringField(rs.schemaUrl));
  const scopeHeader = trace.resourceSpans.map((rs) => rs.scopeSpans.map((ss) => lengthDelimited(encodedScopeSize(ss.scope)) + stringField(ss.schemaUrl)));
  const resourceLen = new Map<number, number>();
  const scopeLen = new Map<string, number>();
  const kept = new Set<Span>();
  let used = 0;
  /** The new lengths if `c` were added: [scope payload, resource payload, total]. */
  const withSpan = (c: Candidate): [number, number, number] => {
    const scopeKey = `${c.rs}/${c.ss}`;
    const oldScope = scopeLen.get(scopeKey);
    const newScope = (oldScope ?? scopeHeader[c.rs]![c.ss]!) + lengthDelimited(encodedSpanSize(c.span));
    const oldResource = resourceLen.get(c.rs);
    const newResource = (oldResource ?? resourceHeader[c.rs]!) + lengthDelimited(newScope) - (oldScope === undefined ? 0 : lengthDelimited(oldScope));
    const total = used + lengthDelimited(newResource) - (oldResource === undefined ? 0 : lengthDelimited(oldResource));
    return [newScope, newResource, total];
  };
  const keep = (c: Candidate, lengths: [number, number, number]): void => {
    scopeLen.set(`${c.rs}/${c.ss}`, lengths[0]);
    resourceLen.set(c.rs, lengths[1]);
    used = lengths[2];
    kept.add(c.span);
  };

  for (const candidate of order) {
    const lengths = withSpan(candidate);
    if (lengths[2] <= maxBytes) keep(candidate, lengths);
  }
  if (kept.size === 0 && order.length > 0) keep(order[0]!, withSpan(order[0]!));

  const out: Trace = { resourceSpans: [] };
  for (const rs of trace.resourceSpans) {
    const scopeSpans = rs.scopeSpans.map((ss) => ({ ...ss, spans: ss.spans.filter((s) => kept.has(s)) })).filter((ss) => ss.spans.length > 0);
    if (scopeSpans.length > 0) out.resourceSpans.push({ ...rs, scopeSpans });
  }
  return { trace: out, keptSpans: kept.size, totalSpans: candidates.length, encodedBytes: used };
}

/**
 * Every span once, parents before children: roots first (no parent, then a parent the trace lacks),
 * each level's spans by start time and span ID. Spans unreachable from any root (a parent cycle in
 * bad data) follow, each as a root of what it reaches.
 */
function breadthFirstOrder(candidates: Candidate[]): Candidate[] {
  const byStart = (a: Candidate, b: Candidate): number =>
    a.span.startTimeUnixNano < b.span.startTimeUnixNano ? -1 : a.span.startTimeUnixNano > b.span.startTimeUnixNano ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  const ids = new Set(candidates.map((c) => c.id));
  const children = new Map<string, Candidate[]>();
  const trueRoots: Candidate[] = [];
  const orphans: Candidate[] = [];
  for (const c of candidates) {
    if (c.parent === '') trueRoots.push(c);
    else if (!ids.has(c.parent) || c.parent === c.id) orphans.push(c);
    else {
      let list = children.get(c.parent);
      if (!list) children.set(c.parent, (list = []));
      list.push(c);
    }
  }
  for (const list of children.values()) list.sort(byStart);
  const order: Candidate[] = [];
  const visited = new Set<Candidate>();
  // Spans sharing an ID (zipkin client and server) share their children, which are visited once.
  const expanded = new Set<string>();
  const walk = (roots: Candidate[]): void => {
    const queue = roots.filter((r) => !visited.has(r));
    for (const r of queue) visited.add(r);
    for (let i = 0; i < queue.length; i++) {
      const c = queue[i]!;
      order.push(c);
      if (expanded.has(c.id)) continue;
      expanded.add(c.id);
      for (const child of children.get(c.id) ?? []) {
        if (visited.has(child)) continue;
        visited.add(child);
        queue.push(child);
      }
    }
  };
  walk([...trueRoots.sort(byStart), ...orphans.sort(byStart)]);
  if (order.length < candidates.length) {
    for (const c of [...candidates].sort(byStart)) if (!visited.has(c)) walk([c]);
  }
  return order;
}

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** A length-delimited field of `n` payload bytes: tag, length, payload. */
function lengthDelimited(n: number): number {
  return 1 + varintSize(n) + n;
}

function stringField(s: string): number {
  return s.length === 0 ? 0 : lengthDelimited(Buffer.byteLength(s, 'utf8'));
}
