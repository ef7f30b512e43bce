// Nested-set numbers for the spans of one trace, with Tempo vParquet4's conventions so structural
// TraceQL operators work without rebuilding the tree:
//  - depth-first from each root span in span order, children in span order; a span gets `left` on
//    the way down and `right` on the way up, counting from 1 across all roots;
//  - parentId is the parent's `left` (a trace-local numeric span ID), -1 for a root span;
//  - spans not reachable from a root (parent missing, cycles) keep left = right = parentId = 0;
//  - Zipkin-style shared IDs: when two spans share an ID, a child picks the one of the opposite
//    kind (server <-> client); more than two spans with one ID make the trace unnumbered (all 0).

import { SpanKind } from '@andante/model';

export interface NestedSetInput {
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  kind: number;
}

export interface NestedSet {
  left: Int32Array;
  right: Int32Array;
  parentId: Int32Array;
}

export const ROOT_PARENT_ID = -1;

export function isRootSpan(parentSpanId: Uint8Array): boolean {
  for (let i = 0; i < parentSpanId.length; i++) if (parentSpanId[i] !== 0) return false;
  return true;
}

/** A Map key for a span ID: two bytes per UTF-16 unit (spreading bytes into fromCharCode was a hot spot). */
function idKey(id: Uint8Array): string {
  const n = id.length;
  if (n === 8) {
    return String.fromCharCode((id[0]! << 8) | id[1]!, (id[2]! << 8) | id[3]!, (id[4]! << 8) | id[5]!, (id[6]! << 8) | id[7]!);
  }
  // Other lengths: five units of prefix (so never the 4-unit key of an 8-byte ID; the fifth is the
  // length), then one unit per byte.
  let key = '\uffff\uffff\uffff\uffff' + String.fromCharCode(n);
  for (let i = 0; i < n; i++) key += String.fromCharCode(id[i]!);
  return key;
}

export function assignNestedSet(spans: readonly NestedSetInput[]): NestedSet {
  const n = spans.length;
  const out: NestedSet = { left: new Int32Array(n), right: new Int32Array(n), parentId: new Int32Array(n) };

  const byId = new Map<string, number[]>();
  const roots: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = spans[i]!;
    if (isRootSpan(s.parentSpanId)) roots.push(i);
    const key = idKey(s.spanId);
    const same = byId.get(key);
    if (!same) byId.set(key, [i]);
    else {
      same.push(i);
      if (same.length > 2) return out;
    }
  }
  if (roots.length === 0) return out;

  const children: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    const s = spans[i]!;
    if (isRootSpan(s.parentSpanId)) continue;
    const candidates = byId.get(idKey(s.parentSpanId));
    let parent: number | undefined;
    if (candidates?.length === 1) parent = candidates[0];
    else if (candidates?.length === 2) {
      const want = s.kind === SpanKind.SERVER ? SpanKind.CLIENT : SpanKind.SERVER;
      parent = candidates.find((c) => c !== i && spans[c]!.kind === want);
    }
    if (parent !== undefined && parent !== i) children[parent]!.push(i);
  }

  // Iterative DFS: a deep trace must not overflow the stack.
  let bound = 1;
  const next = new Int32Array(n);
  const stack: number[] = [];
  for (const root of roots) {
    out.left[root] = bound++;
    out.parentId[root] = ROOT_PARENT_ID;
    stack.push(root);
    while (stack.length > 0) {
      const node = stack[stack.length - 1]!;
      const kids = children[node]!;
      if (next[node]! < kids.length) {
        const child = kids[next[node]!++]!;
        out.left[child] = bound++;
        out.parentId[child] = out.left[node]!;
        stack.push(child);
      } else {
        out.right[node] = bound++;
        stack.pop();
      }
    }
  }
  return out;
}
