// Compiles field expressions (what goes inside `{ }`, by() and aggregates) into closures over one
// span, once per query. Comparisons of an attribute or intrinsic with a literal, the bulk of real
// queries, get closures specialised to the literal's type; everything else goes through the
// generic value rules in values.ts.
//
// Semantics (Tempo's, see values.ts for comparisons):
// - a missing attribute is nil, and every comparison with nil is false, `!=` included;
// - `x && y` / `x || y` are true only when their operands are boolean true; `!x` is true only when
//   x is boolean false (Tempo errors on a non-boolean `!` operand; here it is simply not true);
// - `.x` reads the span attribute x, or the resource attribute x when the span has none;
// - event and link conditions hold when some event (link) of the span satisfies them: each largest
//   sub-expression that reads only event (link) fields and constants is tested per event, and the
//   event conditions of one `&&` chain are tested together on the same event, as Tempo's storage
//   does for `{ event.a = 1 && event.b = 2 }`. Outside a condition (by(), aggregates, select())
//   an event field reads the first event that has it.

import type { Attribute, AttributeRef, BinaryOperation, FieldExpression, Intrinsic, Static, UnaryOperation } from '../ast.js';
import type { AnyValue } from '@andante/model';
import { bytesToHex, isAllZero } from '@andante/model';
import type { EvalEvent, EvalLink, EvalSpan, EvalTrace } from './eval-trace.js';
import { RegexCache } from './regex-match.js';
import type { ArithOp, CompareOp } from './values.js';
import {
  KIND_CODES,
  STATUS_CODES,
  T_BOOL,
  T_DUR,
  T_DYN,
  T_FLOAT,
  T_INT,
  T_KIND,
  T_NIL,
  T_STATUS,
  T_STR,
  anyToValue,
  arith,
  arithType,
  compareStrings,
  compareValues,
  flipOp,
  negate,
  testStringValue,
  typeOf,
} from './values.js';

export type SpanFn<T> = (s: EvalSpan) => T;

/** Mutable state one compiled query's closures read: the trace and the event/link in focus. */
export class EvalContext {
  trace!: EvalTrace;
  /** Index of the event (link) a per-event (per-link) test is looking at; -1 outside one. */
  ev = -1;
  ln = -1;
  // Per-trace values, computed on first use: most queries need neither, and allocating per
  // trace is measurable when scanning many small traces.
  private durationOf: EvalTrace | null = null;
  private duration = 0n;
  private traceIdOf: EvalTrace | null = null;
  private traceIdHex = '';

  setTrace(t: EvalTrace): void {
    this.trace = t;
    this.ev = -1;
    this.ln = -1;
  }

  traceDuration(): bigint {
    const t = this.trace;
    if (this.durationOf !== t) {
      this.durationOf = t;
      this.duration = t.endTimeUnixNano > t.startTimeUnixNano ? t.endTimeUnixNano - t.startTimeUnixNano : 0n;
    }
    return this.duration;
  }

  traceId(): string {
    const t = this.trace;
    if (this.traceIdOf !== t) {
      this.traceIdOf = t;
      this.traceIdHex = bytesToHex(t.traceId);
    }
    return this.traceIdHex;
  }
}

export interface ValueNode {
  /** Static type (values.ts T_*), T_DYN when only known per span. */
  readonly type: number;
  readonly fn: SpanFn<unknown>;
  /** Set when the node reads nothing from the span. */
  readonly constant: boolean;
  readonly cost: number;
}

export interface BoolNode {
  readonly fn: SpanFn<boolean>;
  /** The value when the node reads nothing from the span. */
  readonly constant: boolean | null;
  readonly cost: number;
}

const EV = 1;
const LN = 2;

interface RefInfo {
  /** Element scopes (EV | LN) read. */
  elems: number;
  /** Whether anything else of the span or trace is read. */
  other: boolean;
}

const ELEMENT_INTRINSICS: Readonly<Partial<Record<string, number>>> = {
  'event:name': EV,
  'event:timeSinceStart': EV,
  'link:traceID': LN,
  'link:spanID': LN,
};

const infoMemo = new WeakMap<FieldExpression, RefInfo>();

function leafInfo(e: FieldExpression): RefInfo {
  switch (e.kind) {
    case 'attribute':
      if (e.scope === 'event') return { elems: EV, other: false };
      if (e.scope === 'link') return { elems: LN, other: false };
      return { elems: 0, other: true };
    case 'intrinsic': {
      const el = ELEMENT_INTRINSICS[e.name];
      return el !== undefined ? { elems: el, other: false } : { elems: 0, other: true };
    }
    default:
      return { elems: 0, other: false };
  }
}

/** Which scopes an expression reads; iterative, as operator chains can be thousands long. */
function refInfo(root: FieldExpression): RefInfo {
  const cached = infoMemo.get(root);
  if (cached !== undefined) return cached;
  const stack: { e: FieldExpression; done: boolean }[] = [{ e: root, done: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    const e = top.e;
    if (infoMemo.has(e)) continue;
    if (e.kind === 'binary' || e.kind === 'unary') {
      const kids = e.kind === 'binary' ? [e.lhs, e.rhs] : [e.expr];
      if (!top.done) {
        stack.push({ e, done: true });
        for (const k of kids) if (!infoMemo.has(k)) stack.push({ e: k, done: false });
        continue;
      }
      let elems = 0;
      let other = false;
      for (const k of kids) {
        const i = infoMemo.get(k)!;
        elems |= i.elems;
        other ||= i.other;
      }
      infoMemo.set(e, { elems, other });
    } else infoMemo.set(e, leafInfo(e));
  }
  return infoMemo.get(root)!;
}

const COMPARE_OPS: ReadonlySet<string> = new Set(['=', '!=', '<', '<=', '>', '>=']);
const ARITH_OPS: ReadonlySet<string> = new Set(['+', '-', '*', '/', '%', '^']);

/** Past this depth of nested operators a sub-tree is evaluated by an iterative fold instead. */
const MAX_STRUCTURED_DEPTH = 48;

const konst = (b: boolean): BoolNode => ({ fn: b ? () => true : () => false, constant: b, cost: 0 });

function not(b: BoolNode): BoolNode {
  if (b.constant !== null) return konst(!b.constant);
  const f = b.fn;
  return { fn: (s) => !f(s), constant: null, cost: b.cost };
}

function staticValue(s: Static): { type: number; value: unknown } {
  switch (s.type) {
    case 'nil':
      return { type: T_NIL, value: undefined };
    case 'int':
      return { type: T_INT, value: s.value };
    case 'float':
      return { type: T_FLOAT, value: s.value };
    case 'string':
      return { type: T_STR, value: s.value };
    case 'bool':
      return { type: T_BOOL, value: s.value };
    case 'duration':
      return { type: T_DUR, value: s.value };
    case 'status':
      return { type: T_STATUS, value: STATUS_CODES[s.value] };
    case 'kind':
      return { type: T_KIND, value: KIND_CODES[s.value] };
  }
}

function constValue(type: number, value: unknown): ValueNode {
  return { type: value === undefined ? T_NIL : type, fn: () => value, constant: true, cost: 0 };
}

/** Whether `id`, ignoring leading zero bytes, equals `want` (itself without leading zeros). */
function idEquals(id: Uint8Array, want: Uint8Array): boolean {
  let i = 0;
  while (i < id.length && id[i] === 0) i++;
  if (id.length - i !== want.length) return false;
  for (let j = 0; j < want.length; j++) if (id[i + j] !== want[j]) return false;
  return true;
}

/** A hex ID literal with leading zeros dropped (Tempo tolerates them missing or extra); null if not hex. */
function idLiteral(hex: string): Uint8Array | null {
  let h = hex.toLowerCase().replace(/^0+/, '');
  if (!/^[0-9a-f]*$/.test(h)) return null;
  if (h.length % 2 === 1) h = `0${h}`;
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return out;
}

type Num = bigint | number;

/**
 * A lookup in maps many spans share (resource, scope), remembering the last map: spans of one
 * resource come together, so most reads skip the map, whose memory is usually not in cache.
 */
function sharedLookup(mapOf: (s: EvalSpan) => Map<string, AnyValue>, name: string): SpanFn<AnyValue | undefined> {
  let last: Map<string, AnyValue> | null = null;
  let value: AnyValue | undefined;
  return (s) => {
    const m = mapOf(s);
    if (m !== last) {
      last = m;
      value = m.get(name);
    }
    return value;
  };
}

function numTest(op: CompareOp, lit: Num): (x: Num) => boolean {
  switch (op) {
    case '=':
      return (x) => x == lit;
    case '!=':
      return (x) => x != lit;
    case '<':
      return (x) => x < lit;
    case '<=':
      return (x) => x <= lit;
    case '>':
      return (x) => x > lit;
    case '>=':
      return (x) => x >= lit;
  }
}

function strTest(op: CompareOp, lit: string): (x: string) => boolean {
  switch (op) {
    case '=':
      return (x) => x === lit;
    case '!=':
      return (x) => x !== lit;
    case '<':
      return (x) => compareStrings(x, lit) < 0;
    case '<=':
      return (x) => compareStrings(x, lit) <= 0;
    case '>':
      return (x) => compareStrings(x, lit) > 0;
    case '>=':
      return (x) => compareStrings(x, lit) >= 0;
  }
}

type AnyFields = { stringValue?: string; intValue?: bigint; doubleValue?: number; boolValue?: boolean; arrayValue?: { values: AnyValue[] } };

/**
 * An attribute value test against a literal, with Tempo's array rules: `!=` (and `!~`) hold when
 * every element does, the others when any does; elements of another type never satisfy.
 */
function anyValueTest(scalar: (v: AnyFields) => boolean | undefined, all: boolean): (v: AnyValue) => boolean {
  return (v) => {
    const f = v as AnyFields;
    const r = scalar(f);
    if (r !== undefined) return r;
    const arr = f.arrayValue;
    if (arr === undefined) return false;
    for (const e of arr.values) {
      const ok = scalar(e as AnyFields) === true;
      if (all && !ok) return false;
      if (!all && ok) return true;
    }
    return all;
  };
}

export class FieldCompiler {
  constructor(
    private readonly ctx: EvalContext,
    private readonly regexes: RegexCache = new RegexCache(),
  ) {}

  // --- element access --------------------------------------------------------------------------

  private event(s: EvalSpan): EvalEvent | undefined {
    const i = this.ctx.ev;
    return i >= 0 ? s.events[i] : s.events[0];
  }

  private link(s: EvalSpan): EvalLink | undefined {
    const i = this.ctx.ln;
    return i >= 0 ? s.links[i] : s.links[0];
  }

  /** Reads an attribute's raw AnyValue from a span. */
  lookup(a: Attribute): SpanFn<AnyValue | undefined> {
    const name = a.name;
    const ctx = this.ctx;
    switch (a.scope) {
      case 'span':
        return (s) => s.attrs.get(name);
      case 'resource':
        return sharedLookup((s) => s.resource, name);
      case 'none': {
        const res = sharedLookup((s) => s.resource, name);
        return (s) => s.attrs.get(name) ?? res(s);
      }
      case 'instrumentation':
        return sharedLookup((s) => s.scopeAttrs, name);
      case 'event':
        return (s) => {
          if (ctx.ev >= 0) return s.events[ctx.ev]?.attrs.get(name);
          for (const e of s.events) {
            const v = e.attrs.get(name);
            if (v !== undefined) return v;
          }
          return undefined;
        };
      case 'link':
        return (s) => {
          if (ctx.ln >= 0) return s.links[ctx.ln]?.attrs.get(name);
          for (const l of s.links) {
            const v = l.attrs.get(name);
            if (v !== undefined) return v;
          }
          return undefined;
        };
    }
  }

  /** An intrinsic's value; `raw` gives int intrinsics as JS numbers for cheap comparisons. */
  intrinsic(i: Intrinsic): { type: number; fn: SpanFn<unknown>; raw?: SpanFn<number>; id?: SpanFn<Uint8Array | undefined> } {
    const ctx = this.ctx;
    switch (i.name) {
      case 'duration':
        return { type: T_DUR, fn: (s) => s.durationNanos };
      case 'name':
        return { type: T_STR, fn: (s) => s.name };
      case 'status':
        return { type: T_STATUS, fn: (s) => s.statusCode };
      case 'statusMessage':
        return { type: T_STR, fn: (s) => s.statusMessage };
      case 'kind':
        return { type: T_KIND, fn: (s) => s.kind };
      case 'rootName':
        return { type: T_STR, fn: () => ctx.trace.rootSpanName };
      case 'rootServiceName':
        return { type: T_STR, fn: () => ctx.trace.rootServiceName };
      case 'traceDuration':
        return { type: T_DUR, fn: () => ctx.traceDuration() };
      case 'nestedSetLeft':
        return { type: T_INT, fn: (s) => BigInt(s.nestedSetLeft), raw: (s) => s.nestedSetLeft };
      case 'nestedSetRight':
        return { type: T_INT, fn: (s) => BigInt(s.nestedSetRight), raw: (s) => s.nestedSetRight };
      case 'nestedSetParent':
        return { type: T_INT, fn: (s) => BigInt(s.nestedSetParent), raw: (s) => s.nestedSetParent };
      case 'span:childCount':
        return { type: T_INT, fn: (s) => BigInt(s.childCount), raw: (s) => s.childCount };
      case 'trace:id':
        return { type: T_STR, fn: () => ctx.traceId(), id: () => ctx.trace.traceId };
      case 'span:id':
        return { type: T_STR, fn: (s) => bytesToHex(s.spanId), id: (s) => s.spanId };
      case 'span:parentID': {
        const parent = (s: EvalSpan): Uint8Array | undefined => (isAllZero(s.parentSpanId) ? undefined : s.parentSpanId);
        return { type: T_STR, fn: (s) => { const p = parent(s); return p === undefined ? undefined : bytesToHex(p); }, id: parent };
      }
      case 'event:name':
        return { type: T_STR, fn: (s) => this.event(s)?.name };
      case 'event:timeSinceStart':
        return { type: T_DUR, fn: (s) => this.event(s)?.timeSinceStartNanos };
      case 'link:traceID': {
        const id = (s: EvalSpan): Uint8Array | undefined => this.link(s)?.traceId;
        return { type: T_STR, fn: (s) => { const v = id(s); return v === undefined ? undefined : bytesToHex(v); }, id };
      }
      case 'link:spanID': {
        const id = (s: EvalSpan): Uint8Array | undefined => this.link(s)?.spanId;
        return { type: T_STR, fn: (s) => { const v = id(s); return v === undefined ? undefined : bytesToHex(v); }, id };
      }
      case 'instrumentation:name':
        return { type: T_STR, fn: (s) => s.scopeName };
      case 'instrumentation:version':
        return { type: T_STR, fn: (s) => s.scopeVersion };
      case 'parent':
        // validate() reports `parent` unsupported before a query gets here.
        throw new Error('intrinsic parent is not supported');
    }
  }

  /** A reference's value as the engine compares it (attributes as runtime values). */
  refValue(r: AttributeRef): ValueNode {
    if (r.kind === 'attribute') {
      const get = this.lookup(r);
      return { type: T_DYN, fn: (s) => anyToValue(get(s)), constant: false, cost: 2 };
    }
    const i = this.intrinsic(r);
    return { type: i.type, fn: i.fn, constant: false, cost: 1 };
  }

  // --- existential tests over events and links ----------------------------------------------------

  private exists(mask: number, inner: BoolNode): BoolNode {
    if (inner.constant === false) return konst(false);
    const ctx = this.ctx;
    const f = inner.fn;
    const overEvents = (g: SpanFn<boolean>): SpanFn<boolean> => (s) => {
      const n = s.events.length;
      const saved = ctx.ev;
      for (let i = 0; i < n; i++) {
        ctx.ev = i;
        if (g(s)) {
          ctx.ev = saved;
          return true;
        }
      }
      ctx.ev = saved;
      return false;
    };
    const overLinks = (g: SpanFn<boolean>): SpanFn<boolean> => (s) => {
      const n = s.links.length;
      const saved = ctx.ln;
      for (let i = 0; i < n; i++) {
        ctx.ln = i;
        if (g(s)) {
          ctx.ln = saved;
          return true;
        }
      }
      ctx.ln = saved;
      return false;
    };
    let fn = f;
    if (mask & LN) fn = overLinks(fn);
    if (mask & EV) fn = overEvents(fn);
    return { fn, constant: null, cost: inner.cost * 3 + 3 };
  }

  // --- boolean tests ---------------------------------------------------------------------------

  /** A test that is true when `e` evaluates to boolean true (`want`), or false (`!want`). */
  test(e: FieldExpression, want = true, bound = 0, depth = 0): BoolNode {
    if (depth > MAX_STRUCTURED_DEPTH) return this.foldTest(e, want, bound);
    const inf = refInfo(e);
    const unbound = inf.elems & ~bound;
    // A sub-expression that reads only events (links) and constants: tested per event (link).
    if (unbound !== 0 && !inf.other) return this.exists(unbound, this.testBound(e, want, bound | unbound, depth));
    return this.testBound(e, want, bound, depth);
  }

  private testBound(e: FieldExpression, want: boolean, bound: number, depth: number): BoolNode {
    switch (e.kind) {
      case 'static':
        return konst(e.type === 'bool' && e.value === want);
      case 'attribute': {
        const get = this.lookup(e);
        return { fn: (s) => anyToValue(get(s)) === want, constant: null, cost: 2 };
      }
      case 'intrinsic':
        // No intrinsic is boolean.
        return konst(false);
      case 'unary':
        switch (e.op) {
          case '!':
            return this.test(e.expr, !want, bound, depth + 1);
          case 'exists':
          case 'notExists': {
            const b = this.withElements(e, bound, (bb) => this.existence(e, bb, depth));
            return want ? b : not(b);
          }
          default:
            // A negated number is never a boolean.
            return konst(false);
        }
      case 'binary': {
        let b: BoolNode;
        if (e.op === '&&' || e.op === '||') b = this.logical(e, bound, depth);
        else if (e.op === '=~' || e.op === '!~' || COMPARE_OPS.has(e.op)) b = this.withElements(e, bound, (bb) => this.comparison(e, bb, depth));
        else return konst(false); // arithmetic yields a number or nil, never a boolean
        return want ? b : not(b);
      }
    }
  }

  /** Binds any element scope the node still reads per event (link), at this node. */
  private withElements(e: FieldExpression, bound: number, build: (bound: number) => BoolNode): BoolNode {
    const unbound = refInfo(e).elems & ~bound;
    return unbound === 0 ? build(bound) : this.exists(unbound, build(bound | unbound));
  }

  /** Flattens a chain of one logical operator (`a && b && c`) into its operands. */
  private chain(e: BinaryOperation): FieldExpression[] {
    const out: FieldExpression[] = [];
    const stack: FieldExpression[] = [e];
    while (stack.length > 0) {
      const cur = stack.pop()!;
      if (cur.kind === 'binary' && cur.op === e.op) stack.push(cur.rhs, cur.lhs);
      else out.push(cur);
    }
    return out;
  }

  private logical(e: BinaryOperation, bound: number, depth: number): BoolNode {
    const and = e.op === '&&';
    const operands = this.chain(e);
    const parts: BoolNode[] = [];
    if (and) {
      // Event-only (link-only) conjuncts of one chain are tested together on the same event.
      const groups = new Map<number, FieldExpression[]>();
      for (const c of operands) {
        const inf = refInfo(c);
        const unbound = inf.elems & ~bound;
        if (unbound !== 0 && !inf.other) {
          const g = groups.get(unbound);
          if (g) g.push(c);
          else groups.set(unbound, [c]);
        } else parts.push(this.test(c, true, bound, depth + 1));
      }
      for (const [mask, members] of groups) {
        const inner = members.map((m) => this.testBound(m, true, bound | mask, depth + 1));
        parts.push(this.exists(mask, this.combine(true, inner)));
      }
    } else {
      for (const c of operands) parts.push(this.test(c, true, bound, depth + 1));
    }
    return this.combine(and, parts);
  }

  /** n-ary && or ||: constants folded, cheapest operands first (both are free of side effects). */
  private combine(and: boolean, parts: BoolNode[]): BoolNode {
    const live: BoolNode[] = [];
    for (const p of parts) {
      if (p.constant === !and) return konst(!and); // false in &&, true in ||
      if (p.constant === null) live.push(p);
    }
    if (live.length === 0) return konst(and);
    live.sort((a, b) => a.cost - b.cost);
    const cost = live.reduce((c, p) => c + p.cost, 0);
    const fns = live.map((p) => p.fn);
    if (fns.length === 1) return live[0]!;
    if (fns.length === 2) {
      const [a, b] = fns as [SpanFn<boolean>, SpanFn<boolean>];
      return { fn: and ? (s) => a(s) && b(s) : (s) => a(s) || b(s), constant: null, cost };
    }
    if (fns.length === 3) {
      const [a, b, c] = fns as [SpanFn<boolean>, SpanFn<boolean>, SpanFn<boolean>];
      return { fn: and ? (s) => a(s) && b(s) && c(s) : (s) => a(s) || b(s) || c(s), constant: null, cost };
    }
    const n = fns.length;
    return {
      fn: and
        ? (s) => {
            for (let i = 0; i < n; i++) if (!fns[i]!(s)) return false;
            return true;
          }
        : (s) => {
            for (let i = 0; i < n; i++) if (fns[i]!(s)) return true;
            return false;
          },
      constant: null,
      cost,
    };
  }

  private existence(e: UnaryOperation, bound: number, depth: number): BoolNode {
    const wantPresent = e.op === 'exists';
    const x = e.expr;
    if (x.kind === 'attribute') {
      const get = this.lookup(x);
      return { fn: wantPresent ? (s) => anyToValue(get(s)) !== undefined : (s) => anyToValue(get(s)) === undefined, constant: null, cost: 2 };
    }
    const v = this.value(x, bound, depth + 1);
    if (v.constant) return konst((v.fn(undefined as never) !== undefined) === wantPresent);
    const f = v.fn;
    return { fn: wantPresent ? (s) => f(s) !== undefined : (s) => f(s) === undefined, constant: null, cost: v.cost };
  }

  private comparison(e: BinaryOperation, bound: number, depth: number): BoolNode {
    if (e.op === '=~' || e.op === '!~') return this.regex(e, bound, depth);
    const op = e.op as CompareOp;
    const isRef = (x: FieldExpression): x is AttributeRef => x.kind === 'attribute' || x.kind === 'intrinsic';
    if (isRef(e.lhs) && e.rhs.kind === 'static' && e.rhs.type !== 'nil') {
      const b = this.refLiteral(e.lhs, op, e.rhs);
      if (b) return b;
    }
    if (isRef(e.rhs) && e.lhs.kind === 'static' && e.lhs.type !== 'nil') {
      const b = this.refLiteral(e.rhs, flipOp(op), e.lhs);
      if (b) return b;
    }
    const l = this.value(e.lhs, bound, depth + 1);
    const r = this.value(e.rhs, bound, depth + 1);
    const lf = l.fn;
    const rf = r.fn;
    const lt = l.type;
    const rt = r.type;
    if (l.constant && r.constant) {
      const a = lf(undefined as never);
      const b = rf(undefined as never);
      return konst(compareValues(op, typeOf(lt, a), a, typeOf(rt, b), b));
    }
    const cost = l.cost + r.cost + 2;
    if (r.constant) {
      const b = rf(undefined as never);
      const tb = typeOf(rt, b);
      return { fn: (s) => { const a = lf(s); return compareValues(op, typeOf(lt, a), a, tb, b); }, constant: null, cost };
    }
    return {
      fn: (s) => {
        const a = lf(s);
        const b = rf(s);
        return compareValues(op, typeOf(lt, a), a, typeOf(rt, b), b);
      },
      constant: null,
      cost,
    };
  }

  /** `ref op literal`, specialised; null when the generic path should handle it. */
  private refLiteral(ref: AttributeRef, op: CompareOp, lit: Static): BoolNode | null {
    const { type: litType, value: litValue } = staticValue(lit);
    if (ref.kind === 'attribute') {
      const get = this.lookup(ref);
      let test: (v: AnyValue) => boolean;
      switch (litType) {
        case T_STR: {
          const t = strTest(op, litValue as string);
          test = anyValueTest((f) => (f.stringValue !== undefined ? t(f.stringValue) : f.arrayValue === undefined ? false : undefined), op === '!=');
          break;
        }
        case T_INT:
        case T_FLOAT:
        case T_DUR: {
          const t = numTest(op, litValue as Num);
          test = anyValueTest(
            (f) => (f.intValue !== undefined ? t(f.intValue) : f.doubleValue !== undefined ? t(f.doubleValue) : f.arrayValue === undefined ? false : undefined),
            op === '!=',
          );
          break;
        }
        case T_BOOL: {
          if (op !== '=' && op !== '!=') return konst(false);
          const eq = op === '=';
          const b = litValue as boolean;
          test = anyValueTest((f) => (f.boolValue !== undefined ? (f.boolValue === b) === eq : f.arrayValue === undefined ? false : undefined), !eq);
          break;
        }
        default:
          // Attributes are never statuses or kinds.
          return konst(false);
      }
      return { fn: (s) => { const v = get(s); return v !== undefined && test(v); }, constant: null, cost: 2 };
    }

    const i = this.intrinsic(ref);
    if (i.id !== undefined && litType === T_STR && (op === '=' || op === '!=')) {
      const want = idLiteral(litValue as string);
      const id = i.id;
      const eq = op === '=';
      if (want === null) return { fn: eq ? () => false : (s) => id(s) !== undefined, constant: null, cost: 1 };
      return { fn: (s) => { const v = id(s); return v !== undefined && idEquals(v, want) === eq; }, constant: null, cost: 1 };
    }
    if (i.raw !== undefined && (litType === T_INT || litType === T_FLOAT || litType === T_DUR)) {
      const t = numTest(op, Number(litValue as Num));
      const raw = i.raw;
      return { fn: (s) => t(raw(s)), constant: null, cost: 1 };
    }
    const get = i.fn;
    switch (i.type) {
      case T_STR: {
        if (litType !== T_STR) return konst(false);
        const t = strTest(op, litValue as string);
        return { fn: (s) => { const v = get(s) as string | undefined; return v !== undefined && t(v); }, constant: null, cost: 1 };
      }
      case T_DUR: {
        if (litType !== T_INT && litType !== T_FLOAT && litType !== T_DUR) return konst(false);
        const t = numTest(op, litValue as Num);
        return { fn: (s) => { const v = get(s) as bigint | undefined; return v !== undefined && t(v); }, constant: null, cost: 1 };
      }
      case T_STATUS:
      case T_KIND: {
        if (litType !== i.type || (op !== '=' && op !== '!=')) return konst(false);
        const code = litValue as number;
        // Cheapest of all: a small int on the span itself.
        return { fn: op === '=' ? (s) => get(s) === code : (s) => get(s) !== code, constant: null, cost: 0.5 };
      }
      default:
        return null;
    }
  }

  private regex(e: BinaryOperation, bound: number, depth: number): BoolNode {
    // validate() guarantees a string literal on the right.
    const pattern = e.rhs.kind === 'static' && e.rhs.type === 'string' ? e.rhs.value : '';
    const m = this.regexes.get(pattern);
    const negated = e.op === '!~';
    const t = negated ? (s: string) => !m(s) : m;
    const x = e.lhs;
    if (x.kind === 'attribute') {
      const get = this.lookup(x);
      const test = anyValueTest((f) => (f.stringValue !== undefined ? t(f.stringValue) : f.arrayValue === undefined ? false : undefined), negated);
      return { fn: (s) => { const v = get(s); return v !== undefined && test(v); }, constant: null, cost: 6 };
    }
    const v = this.value(x, bound, depth + 1);
    const f = v.fn;
    const vt = v.type;
    if (v.constant) {
      const a = f(undefined as never);
      return konst(testStringValue(typeOf(vt, a), a, t, negated));
    }
    return { fn: (s) => { const a = f(s); return testStringValue(typeOf(vt, a), a, t, negated); }, constant: null, cost: v.cost + 5 };
  }

  // --- values ------------------------------------------------------------------------------------

  /** The value of `e` (for by(), aggregates, arithmetic and comparisons of computed values). */
  value(e: FieldExpression, bound = 0, depth = 0): ValueNode {
    if (depth > MAX_STRUCTURED_DEPTH) return this.foldValue(e, bound);
    switch (e.kind) {
      case 'static': {
        const { type, value } = staticValue(e);
        return constValue(type, value);
      }
      case 'attribute':
      case 'intrinsic':
        return this.refValue(e);
      case 'unary': {
        if (e.op === '-') {
          const v = this.value(e.expr, bound, depth + 1);
          const f = v.fn;
          const vt = v.type;
          const type = vt === T_INT || vt === T_FLOAT || vt === T_DUR ? vt : vt === T_DYN ? T_DYN : T_NIL;
          if (v.constant) {
            const a = f(undefined as never);
            return constValue(type, negate(typeOf(vt, a), a));
          }
          return { type, fn: (s) => { const a = f(s); return negate(typeOf(vt, a), a); }, constant: false, cost: v.cost + 1 };
        }
        return this.boolValue(e, bound, depth);
      }
      case 'binary': {
        if (!ARITH_OPS.has(e.op)) return this.boolValue(e, bound, depth);
        const op = e.op as ArithOp;
        const l = this.value(e.lhs, bound, depth + 1);
        const r = this.value(e.rhs, bound, depth + 1);
        const lf = l.fn;
        const rf = r.fn;
        const lt = l.type;
        const rt = r.type;
        const type = arithType(lt, rt);
        if (l.constant && r.constant) {
          const a = lf(undefined as never);
          const b = rf(undefined as never);
          const v = arith(op, typeOf(lt, a), a, typeOf(rt, b), b);
          return constValue(type === T_DYN ? dynType(v) : type, v);
        }
        return {
          type,
          fn: (s) => {
            const a = lf(s);
            const b = rf(s);
            return arith(op, typeOf(lt, a), a, typeOf(rt, b), b);
          },
          constant: false,
          cost: l.cost + r.cost + 2,
        };
      }
    }
  }

  /**
   * A boolean-valued node as a value. Comparisons and logic always yield a boolean (Tempo answers
   * false on mismatched types); `!x` on a non-boolean is nil.
   */
  private boolValue(e: FieldExpression, bound: number, depth: number): ValueNode {
    if (e.kind === 'unary' && e.op === '!') {
      const isFalse = this.test(e.expr, false, bound, depth + 1).fn;
      const isTrue = this.test(e.expr, true, bound, depth + 1).fn;
      return { type: T_BOOL, fn: (s) => (isFalse(s) ? true : isTrue(s) ? false : undefined), constant: false, cost: 4 };
    }
    const b = this.test(e, true, bound, depth);
    if (b.constant !== null) return constValue(T_BOOL, b.constant);
    return { type: T_BOOL, fn: b.fn, constant: false, cost: b.cost };
  }

  // --- iterative fold for very long operator chains --------------------------------------------

  private foldTest(e: FieldExpression, want: boolean, bound: number): BoolNode {
    const v = this.foldValue(e, bound);
    const f = v.fn;
    return { fn: (s) => f(s) === want, constant: null, cost: v.cost };
  }

  /**
   * Evaluates a left-leaning chain (`a + b + c ...`, `a && b || c ...`) in a loop, so that neither
   * compiling nor running it recurses once per operator. Element fields are tested per event over
   * the whole chain.
   */
  private foldValue(e: FieldExpression, bound: number): ValueNode {
    const unbound = refInfo(e).elems & ~bound;
    const inner = bound | unbound;
    type Step = (ta: number, a: unknown, s: EvalSpan) => [number, unknown];
    const steps: Step[] = [];
    let bottom = e;
    for (;;) {
      if (bottom.kind === 'binary') {
        steps.push(this.foldStep(bottom, inner));
        bottom = bottom.lhs;
      } else if (bottom.kind === 'unary' && bottom.op !== '-') {
        const op = bottom.op;
        steps.push((ta, a) => [T_BOOL, op === '!' ? (ta === T_BOOL ? !(a as boolean) : undefined) : op === 'exists' ? ta !== T_NIL : ta === T_NIL]);
        bottom = bottom.expr;
      } else break;
    }
    steps.reverse();
    const base = this.value(bottom, inner, 0);
    if (steps.length === 0 && unbound === 0) return base;
    const bf = base.fn;
    const bt = base.type;
    const fn: SpanFn<unknown> = (s) => {
      let a = bf(s);
      let ta = typeOf(bt, a);
      for (const step of steps) [ta, a] = step(ta, a, s);
      return a;
    };
    if (unbound === 0) return { type: T_DYN, fn, constant: false, cost: 50 };
    const ex = this.exists(unbound, { fn: (s) => fn(s) === true, constant: null, cost: 50 });
    return { type: T_BOOL, fn: ex.fn, constant: false, cost: ex.cost };
  }

  private foldStep(n: BinaryOperation, bound: number): (ta: number, a: unknown, s: EvalSpan) => [number, unknown] {
    const op = n.op;
    if (op === '=~' || op === '!~') {
      const m = this.regexes.get(n.rhs.kind === 'static' && n.rhs.type === 'string' ? n.rhs.value : '');
      const negated = op === '!~';
      const t = negated ? (x: string) => !m(x) : m;
      return (ta, a) => [T_BOOL, testStringValue(ta, a, t, negated)];
    }
    const r = this.value(n.rhs, bound, 0);
    const rf = r.fn;
    const rt = r.type;
    if (op === '&&') return (_ta, a, s) => [T_BOOL, a === true && rf(s) === true];
    if (op === '||') return (_ta, a, s) => [T_BOOL, a === true || rf(s) === true];
    if (ARITH_OPS.has(op)) {
      return (ta, a, s) => {
        const b = rf(s);
        const v = arith(op as ArithOp, ta, a, typeOf(rt, b), b);
        return [dynType(v), v];
      };
    }
    return (ta, a, s) => {
      const b = rf(s);
      return [T_BOOL, compareValues(op as CompareOp, ta, a, typeOf(rt, b), b)];
    };
  }
}

function dynType(v: unknown): number {
  switch (typeof v) {
    case 'bigint':
      return T_INT;
    case 'number':
      return T_FLOAT;
    case 'boolean':
      return T_BOOL;
    case 'string':
      return T_STR;
    default:
      return T_NIL;
  }
}
