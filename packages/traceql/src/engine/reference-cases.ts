// Test support (not built): a deliberately simple reference evaluator, sharing no code with the
// engine. Traces become plain objects; queries are written as JS combinators next to their TraceQL
// text, so nothing here parses TraceQL. It covers a subset: filters with && and ||, comparisons on
// attributes and a few intrinsics (arrays: any element for =, =~, ordering; no element for !=),
// existence, spanset && and ||, structural > < >> <<, count() filters and by().

import type { AnyValue, Trace } from '@andante/model';

export type RVal = string | number | boolean | RVal[];

export interface RSpan {
  seq: number;
  id: string;
  parentId: string;
  name: string;
  kind: number;
  status: 'unset' | 'ok' | 'error';
  statusMessage: string;
  durationNs: number;
  attrs: Record<string, RVal>;
  resource: Record<string, RVal>;
  events: { name: string; attrs: Record<string, RVal> }[];
  /** Resolved parent (null for roots and orphans). */
  parent: RSpan | null;
  /** Whether walking up the parents reaches a root: only such spans take part in structure. */
  connected: boolean;
}

export interface RTrace {
  id: string;
  spans: RSpan[];
  rootService: string;
  rootName: string;
  durationNs: number;
}

function plain(v: AnyValue): RVal | undefined {
  const o = v as Record<string, unknown>;
  if (typeof o.stringValue === 'string') return o.stringValue;
  if (typeof o.intValue === 'bigint') return Number(o.intValue);
  if (typeof o.doubleValue === 'number') return o.doubleValue;
  if (typeof o.boolValue === 'boolean') return o.boolValue;
  if (o.arrayValue) return ((o.arrayValue as { values: AnyValue[] }).values.map(plain).filter((x) => x !== undefined) as RVal[]);
  return undefined;
}

function record(kvs: { key: string; value: AnyValue }[]): Record<string, RVal> {
  const out: Record<string, RVal> = {};
  for (const kv of kvs) {
    const v = plain(kv.value);
    if (v !== undefined && !(kv.key in out)) out[kv.key] = v;
  }
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const STATUS = ['unset', 'ok', 'error'] as const;

export function toReference(t: Trace): RTrace {
  const spans: RSpan[] = [];
  let min: bigint | null = null;
  let max = 0n;
  let id = '';
  const starts = new Map<RSpan, bigint>();
  for (const rs of t.resourceSpans) {
    const resource = record(rs.resource.attributes);
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        id = hex(s.traceId);
        if (min === null || s.startTimeUnixNano < min) min = s.startTimeUnixNano;
        if (s.endTimeUnixNano > max) max = s.endTimeUnixNano;
        const attrs = record(s.attributes);
        const r: RSpan = {
          seq: attrs.seq as number,
          id: hex(s.spanId),
          parentId: hex(s.parentSpanId),
          name: s.name,
          kind: s.kind,
          status: STATUS[s.status.code]!,
          statusMessage: s.status.message,
          durationNs: Number(s.endTimeUnixNano - s.startTimeUnixNano),
          attrs,
          resource,
          events: s.events.map((e) => ({ name: e.name, attrs: record(e.attributes) })),
          parent: null,
          connected: false,
        };
        starts.set(r, s.startTimeUnixNano);
        spans.push(r);
      }
    }
  }
  // Parents by ID; when two spans share an ID, a server span's parent is the client one and any
  // other span's the server one. More than two spans with one ID: no structure at all.
  const byId = new Map<string, RSpan[]>();
  for (const s of spans) byId.set(s.id, [...(byId.get(s.id) ?? []), s]);
  const broken = [...byId.values()].some((l) => l.length > 2);
  for (const s of spans) {
    if (s.parentId === '') continue;
    const cands = byId.get(s.parentId) ?? [];
    if (cands.length === 1) s.parent = cands[0]!;
    if (cands.length === 2) s.parent = cands.find((c) => c.kind === (s.kind === 2 ? 3 : 2)) ?? null;
  }
  for (const s of spans) {
    let cur: RSpan | null = s;
    let steps = 0;
    while (cur && cur.parentId !== '' && steps++ < spans.length) cur = cur.parent;
    s.connected = !broken && cur !== null && cur.parentId === '';
  }
  // The root: the earliest span without a parent, the first of equals.
  let root: RSpan | undefined;
  for (const s of spans) if (s.parentId === '' && (root === undefined || starts.get(s)! < starts.get(root)!)) root = s;
  return { id, spans, rootService: root ? String(root.resource['service.name'] ?? '') : '', rootName: root ? root.name : '', durationNs: Number(max - (min ?? 0n)) };
}

// --- field combinators ------------------------------------------------------------------------

export type Get = (s: RSpan, t: RTrace) => RVal | undefined;
export type Pred = (s: RSpan, t: RTrace) => boolean;

export const span = (k: string): Get => (s) => s.attrs[k];
export const res = (k: string): Get => (s) => s.resource[k];
export const unscoped = (k: string): Get => (s) => (k in s.attrs ? s.attrs[k] : s.resource[k]);
export const name: Get = (s) => s.name;
export const status: Get = (s) => s.status;
export const statusMessage: Get = (s) => s.statusMessage;
export const duration: Get = (s) => s.durationNs;
export const kind: Get = (s) => ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'][s.kind];
export const rootService: Get = (_s, t) => t.rootService;
export const rootName: Get = (_s, t) => t.rootName;
export const traceDuration: Get = (_s, t) => t.durationNs;

type Op = '=' | '!=' | '<' | '<=' | '>' | '>=';

function scalar(op: Op, a: RVal, b: RVal): boolean {
  if (typeof a !== typeof b || Array.isArray(a)) return false;
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return typeof a !== 'boolean' && a < b;
    case '<=':
      return typeof a !== 'boolean' && a <= b;
    case '>':
      return typeof a !== 'boolean' && a > b;
    case '>=':
      return typeof a !== 'boolean' && a >= b;
  }
}

export function cmp(get: Get, op: Op, lit: RVal): Pred {
  return (s, t) => {
    const v = get(s, t);
    if (v === undefined) return false;
    if (Array.isArray(v)) return op === '!=' ? v.every((e) => scalar(op, e, lit)) : v.some((e) => scalar(op, e, lit));
    return scalar(op, v, lit);
  };
}

export function re(get: Get, pattern: string, negated = false): Pred {
  const r = new RegExp(`^(?:${pattern})$`, 's');
  return (s, t) => {
    const v = get(s, t);
    if (v === undefined) return false;
    const test = (x: RVal): boolean => typeof x === 'string' && r.test(x) !== negated;
    return Array.isArray(v) ? (negated ? v.every(test) : v.some(test)) : test(v);
  };
}

export const has = (get: Get): Pred => (s, t) => get(s, t) !== undefined;
export const lacks = (get: Get): Pred => (s, t) => get(s, t) === undefined;
export const and = (...ps: Pred[]): Pred => (s, t) => ps.every((p) => p(s, t));
export const or = (...ps: Pred[]): Pred => (s, t) => ps.some((p) => p(s, t));
export const eventName = (n: string): Pred => (s) => s.events.some((e) => e.name === n);

// --- spanset combinators ----------------------------------------------------------------------

/** A query: the spansets it yields for a trace, each a list of spans. */
export type RQuery = (t: RTrace) => RSpan[][];

export const filter = (p: Pred): RQuery => (t) => {
  const m = t.spans.filter((s) => p(s, t));
  return m.length ? [m] : [];
};

const flat = (sets: RSpan[][]): RSpan[] => [...new Set(sets.flat())];

export const both = (a: RQuery, b: RQuery): RQuery => (t) => {
  const x = a(t);
  const y = b(t);
  return x.length && y.length ? [flat([...x, ...y])] : [];
};

export const either = (a: RQuery, b: RQuery): RQuery => (t) => {
  const all = flat([...a(t), ...b(t)]);
  return all.length ? [all] : [];
};

function isAncestor(a: RSpan, d: RSpan): boolean {
  if (!a.connected || !d.connected) return false;
  for (let p = d.parent; p; p = p.parent) if (p === a) return true;
  return false;
}

function relate(a: RQuery, b: RQuery, rel: (x: RSpan, y: RSpan) => boolean): RQuery {
  return (t) => {
    const left = flat(a(t));
    const right = flat(b(t));
    const m = right.filter((y) => left.some((x) => rel(x, y)));
    return m.length ? [m] : [];
  };
}

/** `a > b`: b spans whose parent is an a span. */
export const child = (a: RQuery, b: RQuery): RQuery => relate(a, b, (x, y) => y.connected && y.parent === x);
/** `a < b`: b spans that are the parent of an a span. */
export const parentOf = (a: RQuery, b: RQuery): RQuery => relate(a, b, (x, y) => x.connected && x.parent === y);
/** `a >> b`: b spans below an a span. */
export const descendant = (a: RQuery, b: RQuery): RQuery => relate(a, b, (x, y) => isAncestor(x, y));
/** `a << b`: b spans above an a span. */
export const ancestor = (a: RQuery, b: RQuery): RQuery => relate(a, b, (x, y) => isAncestor(y, x));

export const countIs = (q: RQuery, op: Op, n: number): RQuery => (t) => q(t).filter((ss) => scalar(op, ss.length, n));

export const by = (q: RQuery, get: Get): RQuery => (t) => {
  const out: RSpan[][] = [];
  for (const ss of q(t)) {
    const groups = new Map<string, RSpan[]>();
    for (const s of ss) {
      const k = JSON.stringify(get(s, t) ?? null);
      groups.set(k, [...(groups.get(k) ?? []), s]);
    }
    out.push(...groups.values());
  }
  return out;
};
