// A flat view of one trace that the engine evaluates: attributes in maps, events and links
// resolved, and the nested-set numbers Tempo's structural operators are defined on. Storage may
// build EvalSpans of its own (plain objects will do); everything in them is read-only once
// built, as the engine remembers map lookups across spans that share a map.

import type { AnyValue, KeyValue, Span, Trace } from '@andante/model';
import { bytesEqual, bytesToHex } from '@andante/model';

export interface EvalEvent {
  name: string;
  /** Event time minus span start (may be negative for malformed data). */
  timeSinceStartNanos: bigint;
  attrs: Map<string, AnyValue>;
}

export interface EvalLink {
  traceId: Uint8Array;
  spanId: Uint8Array;
  attrs: Map<string, AnyValue>;
}

export interface EvalSpan {
  spanId: Uint8Array;
  /** Empty for a root span. */
  parentSpanId: Uint8Array;
  name: string;
  /** OTLP SpanKind number. */
  kind: number;
  /** OTLP StatusCode number: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string;
  startTimeUnixNano: bigint;
  /** End minus start, 0 when the end precedes the start. */
  durationNanos: bigint;
  attrs: Map<string, AnyValue>;
  /** Shared by every span of one ResourceSpans (the same Map object). */
  resource: Map<string, AnyValue>;
  scopeName: string;
  scopeVersion: string;
  scopeAttrs: Map<string, AnyValue>;
  events: EvalEvent[];
  links: EvalLink[];
  /** Tempo's nested-set model: 0 when the span is not connected to a root. */
  nestedSetLeft: number;
  nestedSetRight: number;
  /** The parent's nestedSetLeft; -1 for a root; 0 when unknown. */
  nestedSetParent: number;
  /** Spans whose parent resolves to this span. */
  childCount: number;
  /** The resource's service.name, or "" when it has none. */
  serviceName: string;
}

export interface EvalTrace {
  traceId: Uint8Array;
  /** "" when the trace has no root span (yet). */
  rootServiceName: string;
  rootSpanName: string;
  /** Earliest span start. */
  startTimeUnixNano: bigint;
  /** Latest span end. */
  endTimeUnixNano: bigint;
  /** In the order of resourceSpans, scopeSpans, spans. */
  spans: EvalSpan[];
}

// Shared by attribute-less spans so they cost no allocation; nothing in the engine writes to it.
const EMPTY_ATTRS: Map<string, AnyValue> = new Map();
const NO_EVENTS: EvalEvent[] = [];
const NO_LINKS: EvalLink[] = [];

function toMap(kvs: readonly KeyValue[]): Map<string, AnyValue> {
  if (kvs.length === 0) return EMPTY_ATTRS;
  const m = new Map<string, AnyValue>();
  // Keys should be unique; when they are not, the first wins (Tempo's lookup finds the first).
  for (const kv of kvs) if (!m.has(kv.key)) m.set(kv.key, kv.value);
  return m;
}

/** Attributes shared by many spans (a resource's, a scope's), turned into a map on first use. */
class SharedAttrs {
  private map: Map<string, AnyValue> | null = null;
  constructor(private readonly kvs: readonly KeyValue[]) {}
  get(): Map<string, AnyValue> {
    return (this.map ??= toMap(this.kvs));
  }
}

/** The nested-set numbers of a trace's spans, computed when first read (only structure needs them). */
class TraceTree {
  private done = false;
  readonly spans: EvalSpan[] = [];

  ensure(): void {
    if (this.done) return;
    this.done = true;
    assignNestedSets(this.spans);
  }
}

/**
 * A span of a built trace. Attribute maps, events and links are made on first read: a query
 * that reads only intrinsics then costs no map at all, and a resource's map is made once for
 * all its spans. Building per search is the hot path while traces are live.
 */
class BuiltSpan implements EvalSpan {
  readonly spanId: Uint8Array;
  readonly parentSpanId: Uint8Array;
  readonly name: string;
  readonly kind: number;
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly startTimeUnixNano: bigint;
  readonly scopeName: string;
  readonly scopeVersion: string;
  private left = 0;
  private right = 0;
  private parentLeft = 0;
  private children = 0;
  private duration: bigint | null = null;
  private attrMap: Map<string, AnyValue> | null = null;
  private eventList: EvalEvent[] | null = null;
  private linkList: EvalLink[] | null = null;

  constructor(
    private readonly tree: TraceTree,
    private readonly src: Span,
    private readonly res: SharedAttrs,
    private readonly scope: SharedAttrs,
    scopeName: string,
    scopeVersion: string,
    readonly serviceName: string,
  ) {
    this.spanId = src.spanId;
    this.parentSpanId = src.parentSpanId;
    this.name = src.name;
    this.kind = src.kind;
    this.statusCode = src.status.code;
    this.statusMessage = src.status.message;
    this.startTimeUnixNano = src.startTimeUnixNano;
    this.scopeName = scopeName;
    this.scopeVersion = scopeVersion;
  }

  // A bigint subtraction allocates; most queries never read most spans' durations.
  get durationNanos(): bigint {
    if (this.duration === null) {
      const { startTimeUnixNano: start, endTimeUnixNano: end } = this.src;
      this.duration = end > start ? end - start : 0n;
    }
    return this.duration;
  }

  get nestedSetLeft(): number {
    this.tree.ensure();
    return this.left;
  }
  set nestedSetLeft(v: number) {
    this.left = v;
  }
  get nestedSetRight(): number {
    this.tree.ensure();
    return this.right;
  }
  set nestedSetRight(v: number) {
    this.right = v;
  }
  get nestedSetParent(): number {
    this.tree.ensure();
    return this.parentLeft;
  }
  set nestedSetParent(v: number) {
    this.parentLeft = v;
  }
  get childCount(): number {
    this.tree.ensure();
    return this.children;
  }
  set childCount(v: number) {
    this.children = v;
  }

  get attrs(): Map<string, AnyValue> {
    return (this.attrMap ??= toMap(this.src.attributes));
  }

  get resource(): Map<string, AnyValue> {
    return this.res.get();
  }

  get scopeAttrs(): Map<string, AnyValue> {
    return this.scope.get();
  }

  get events(): EvalEvent[] {
    if (this.eventList === null) {
      const start = this.src.startTimeUnixNano;
      const evs = this.src.events;
      this.eventList = evs.length === 0 ? NO_EVENTS : evs.map((e) => ({ name: e.name, timeSinceStartNanos: e.timeUnixNano - start, attrs: toMap(e.attributes) }));
    }
    return this.eventList;
  }

  get links(): EvalLink[] {
    if (this.linkList === null) {
      const ls = this.src.links;
      this.linkList = ls.length === 0 ? NO_LINKS : ls.map((l) => ({ traceId: l.traceId, spanId: l.spanId, attrs: toMap(l.attributes) }));
    }
    return this.linkList;
  }
}

const SERVER = 2;
const CLIENT = 3;

function isRootSpan(parent: Uint8Array): boolean {
  // An all-zero parent ID is no parent in OTLP, though Tempo only treats the empty one as root.
  for (let i = 0; i < parent.length; i++) if (parent[i] !== 0) return false;
  return true;
}

/** A map key for a span ID as Tempo compares span IDs: by their first 8 bytes. */
function idKey(id: Uint8Array): string {
  if (id.length >= 8) {
    return String.fromCharCode((id[0]! << 8) | id[1]!, (id[2]! << 8) | id[3]!, (id[4]! << 8) | id[5]!, (id[6]! << 8) | id[7]!);
  }
  return bytesToHex(id);
}

/** OpenTracing "child_of" link into the same trace: Tempo does not take such a span as the root. */
function hasChildOfLink(traceId: Uint8Array, links: readonly { traceId: Uint8Array; attributes: KeyValue[] }[]): boolean {
  for (const l of links) {
    if (!bytesEqual(l.traceId, traceId)) continue;
    for (const a of l.attributes) {
      if (a.key === 'opentracing.ref_type' && (a.value as { stringValue?: string }).stringValue === 'child_of') return true;
    }
  }
  return false;
}

function serviceNameOf(kvs: readonly KeyValue[]): string {
  for (const kv of kvs) {
    if (kv.key === 'service.name') {
      const v = (kv.value as { stringValue?: string }).stringValue;
      return typeof v === 'string' ? v : '';
    }
  }
  return '';
}

/**
 * Flattens a trace; its nested-set numbers (computed on first read) follow Tempo's rules (vParquet4
 * nested_set_model.go): roots are spans without a parent, numbered in trace order by one
 * depth-first walk; a parent is found by span ID, and when two spans share an ID (a Zipkin
 * client/server pair) a SERVER span's parent is the CLIENT one and any other span's is the
 * SERVER one; spans whose parent is missing keep 0s and take no part in structural relations;
 * more than two spans with one ID invalidate the whole trace's numbering.
 * The trace is read, not copied: it must not change while its EvalTrace is in use.
 */
export function buildEvalTrace(trace: Trace): EvalTrace {
  const tree = new TraceTree();
  const spans = tree.spans;
  let traceId: Uint8Array = new Uint8Array(0);
  let start = 0n;
  let end = 0n;
  let root: EvalSpan | null = null;

  for (const rs of trace.resourceSpans) {
    const resource = new SharedAttrs(rs.resource.attributes);
    const serviceName = serviceNameOf(rs.resource.attributes);
    for (const ss of rs.scopeSpans) {
      const scopeAttrs = new SharedAttrs(ss.scope.attributes);
      for (const s of ss.spans) {
        if (spans.length === 0) {
          traceId = s.traceId;
          start = s.startTimeUnixNano;
        } else if (s.startTimeUnixNano < start) start = s.startTimeUnixNano;
        if (s.endTimeUnixNano > end) end = s.endTimeUnixNano;
        const span = new BuiltSpan(tree, s, resource, scopeAttrs, ss.scope.name, ss.scope.version, serviceName);
        // The root is the earliest span without a parent (deterministic where Tempo keeps the last).
        if (isRootSpan(s.parentSpanId) && !hasChildOfLink(s.traceId, s.links) && (root === null || s.startTimeUnixNano < root.startTimeUnixNano)) root = span;
        spans.push(span);
      }
    }
  }

  return {
    traceId,
    rootServiceName: root ? root.serviceName : '',
    rootSpanName: root ? root.name : '',
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    spans,
  };
}

function assignNestedSets(spans: EvalSpan[]): void {
  const n = spans.length;
  const byId = new Map<string, number[]>();
  let invalid = false;
  const roots: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = spans[i]!;
    if (isRootSpan(s.parentSpanId)) roots.push(i);
    const k = idKey(s.spanId);
    const same = byId.get(k);
    if (same === undefined) byId.set(k, [i]);
    else {
      same.push(i);
      if (same.length > 2) invalid = true;
    }
  }

  // Parent links (also give childCount, which does not depend on the numbering).
  const parent = new Int32Array(n).fill(-1);
  const children: number[][] = new Array<number[]>(n);
  for (let i = 0; i < n; i++) {
    const s = spans[i]!;
    if (isRootSpan(s.parentSpanId)) continue;
    const cands = byId.get(idKey(s.parentSpanId));
    let p = -1;
    if (cands !== undefined && cands.length === 1) p = cands[0]!;
    else if (cands !== undefined && cands.length === 2) {
      const want = s.kind === SERVER ? CLIENT : SERVER;
      if (spans[cands[0]!]!.kind === want) p = cands[0]!;
      else if (spans[cands[1]!]!.kind === want) p = cands[1]!;
    }
    if (p < 0) continue;
    parent[i] = p;
    (children[p] ??= []).push(i);
    spans[p]!.childCount++;
  }
  if (invalid || roots.length === 0) return;

  // Depth-first from each root in trace order: left on the way down, right on the way up.
  // Cycles cannot be reached from a root (a root has no parent), so the walk terminates.
  const next = new Int32Array(n);
  let bound = 1;
  for (const r of roots) {
    spans[r]!.nestedSetLeft = bound++;
    spans[r]!.nestedSetParent = -1;
    let node = r;
    while (node >= 0) {
      const kids = children[node];
      if (kids !== undefined && next[node]! < kids.length) {
        const c = kids[next[node]!++]!;
        spans[c]!.nestedSetLeft = bound++;
        spans[c]!.nestedSetParent = spans[node]!.nestedSetLeft;
        node = c;
      } else {
        spans[node]!.nestedSetRight = bound++;
        node = node === r ? -1 : parent[node]!;
      }
    }
  }
}
