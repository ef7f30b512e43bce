// Structural spanset operators on nested-set numbers (Tempo's vParquet4 span.ChildOf,
// DescendantOf, SiblingOf). `A op B` returns spans of B:
//   A > B   B spans whose parent is in A          A < B   B spans that are the parent of an A span
//   A >> B  B spans with an ancestor in A         A << B  B spans with a descendant in A
//   A ~ B   B spans with a sibling in A (another span with the same parent)
// The negated forms (!> !< !>> !<< !~) return the B spans for which the relation finds nothing,
// spans without nested-set numbers included; the union forms (&> &< &>> &<< &~) return the spans of
// both sides that take part in the relation. Spans without nested-set numbers (0) relate to nothing;
// roots share parent -1, so several roots are siblings, as in Tempo.

import type { StructuralOperator } from '../ast.js';
import type { EvalSpan } from './eval-trace.js';

/** Spans of A, sorted by left bound, with the running maximum of their right bounds. */
interface Intervals {
  left: number[];
  right: number[];
  maxRight: number[];
}

function intervals(spans: readonly EvalSpan[]): Intervals {
  const sorted = spans.filter((s) => s.nestedSetLeft !== 0 && s.nestedSetRight !== 0).sort((a, b) => a.nestedSetLeft - b.nestedSetLeft);
  const left = sorted.map((s) => s.nestedSetLeft);
  const right = sorted.map((s) => s.nestedSetRight);
  const maxRight: number[] = [];
  let m = 0;
  for (const r of right) maxRight.push((m = Math.max(m, r)));
  return { left, right, maxRight };
}

/** Index of the first left bound greater than x. */
function upperBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function hasAncestorIn(s: EvalSpan, a: Intervals): boolean {
  if (s.nestedSetLeft === 0 || s.nestedSetRight === 0) return false;
  // Some interval starting before s ends after it: that interval contains s.
  const i = upperBound(a.left, s.nestedSetLeft - 1) - 1; // last left < s.left
  return i >= 0 && a.maxRight[i]! > s.nestedSetRight;
}

function hasDescendantIn(s: EvalSpan, a: Intervals): boolean {
  if (s.nestedSetLeft === 0 || s.nestedSetRight === 0) return false;
  // Nested sets are laminar: the first interval starting inside s lies inside it.
  for (let i = upperBound(a.left, s.nestedSetLeft); i < a.left.length && a.left[i]! < s.nestedSetRight; i++) {
    if (a.right[i]! < s.nestedSetRight) return true;
  }
  return false;
}

function lefts(spans: readonly EvalSpan[]): Set<number> {
  const out = new Set<number>();
  for (const s of spans) if (s.nestedSetLeft !== 0) out.add(s.nestedSetLeft);
  return out;
}

function parents(spans: readonly EvalSpan[]): Set<number> {
  const out = new Set<number>();
  for (const s of spans) if (s.nestedSetParent !== 0) out.add(s.nestedSetParent);
  return out;
}

/** For each parent number, how many spans of the set have it. */
function parentCounts(spans: readonly EvalSpan[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of spans) if (s.nestedSetParent !== 0) out.set(s.nestedSetParent, (out.get(s.nestedSetParent) ?? 0) + 1);
  return out;
}

function siblingTest(others: readonly EvalSpan[]): (s: EvalSpan) => boolean {
  const counts = parentCounts(others);
  const members = new Set(others);
  return (s) => s.nestedSetParent !== 0 && (counts.get(s.nestedSetParent) ?? 0) - (members.has(s) ? 1 : 0) > 0;
}

type Relation = '>' | '<' | '>>' | '<<' | '~';

/** A test on B spans: whether the relation to some A span holds. */
function relationTest(rel: Relation, a: readonly EvalSpan[]): (s: EvalSpan) => boolean {
  switch (rel) {
    case '>': {
      const ls = lefts(a);
      return (s) => s.nestedSetParent > 0 && ls.has(s.nestedSetParent);
    }
    case '<': {
      const ps = parents(a);
      return (s) => s.nestedSetLeft !== 0 && ps.has(s.nestedSetLeft);
    }
    case '>>': {
      const iv = intervals(a);
      return (s) => hasAncestorIn(s, iv);
    }
    case '<<': {
      const iv = intervals(a);
      return (s) => hasDescendantIn(s, iv);
    }
    case '~':
      return siblingTest(a);
  }
}

const INVERSE: Readonly<Record<Relation, Relation>> = { '>': '<', '<': '>', '>>': '<<', '<<': '>>', '~': '~' };

/**
 * Applies a structural operator. `order` gives the trace order of spans, used to return union
 * results in trace order; lhs and rhs are each in trace order already.
 */
export function structural(op: StructuralOperator, lhs: readonly EvalSpan[], rhs: readonly EvalSpan[], order: readonly EvalSpan[]): EvalSpan[] {
  if (op.startsWith('&')) {
    const rel = op.slice(1) as Relation;
    if (lhs.length === 0 || rhs.length === 0) return [];
    const fromRhs = rhs.filter(relationTest(rel, lhs));
    if (fromRhs.length === 0) return [];
    // The A spans that relate to some B span: the inverse relation seen from A.
    const fromLhs = lhs.filter(relationTest(INVERSE[rel], rhs));
    return union(fromLhs, fromRhs, order);
  }
  if (op.startsWith('!')) {
    const test = relationTest(op.slice(1) as Relation, lhs);
    return rhs.filter((s) => !test(s));
  }
  if (lhs.length === 0) return [];
  return rhs.filter(relationTest(op as Relation, lhs));
}

/** The spans of both lists, once each, in trace order. */
export function union(a: readonly EvalSpan[], b: readonly EvalSpan[], order: readonly EvalSpan[]): EvalSpan[] {
  if (a.length === 0) return b.slice();
  if (b.length === 0) return a.slice();
  const set = new Set<EvalSpan>(a);
  for (const s of b) set.add(s);
  if (set.size === order.length) return order.slice();
  const out: EvalSpan[] = [];
  for (const s of order) if (set.has(s)) out.push(s);
  return out;
}
