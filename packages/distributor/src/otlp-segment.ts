// Cuts a tempopb.Trace out of a decoded export request by copying byte ranges: spans, resources and
// scopes are never re-encoded, only given new tags and length prefixes. Sizes are computed first so
// the output is one exact allocation.

import type { DecodedBatch } from './otlp-decode.js';
import { InvalidArgumentError } from '@andante/model';
import { varintSize, writeVarint } from '@andante/model/wire';

/**
 * Encodes the spans `spanIndexes` (indexes into batch.spans) as a tempopb.Trace, grouped under their
 * resource and scope. Groups appear in order of first use; spans keep the given order within their
 * scope. Concatenating two segments gives a valid Trace holding both (repeated field 1).
 */
export function encodeTraceSegment(batch: DecodedBatch, spanIndexes: readonly number[]): Uint8Array {
  const count = spanIndexes.length;
  if (count === 0) return new Uint8Array(0);
  const { spans, scopes, resources, buffer } = batch;
  const order = groupedOrder(batch, spanIndexes);

  // Pass 1: content size of each ScopeSpans and ResourceSpans group, in output order.
  // groupSizes holds, per resource group: [resourceSpansSize, scopeSize1, scopeSize2, ...].
  const groupSizes: number[] = [];
  let total = 0;
  let i = 0;
  while (i < count) {
    const resourceIndex = scopes[spans[order[i]!]!.scope]!.resource;
    const res = resources[resourceIndex]!;
    const rsSlot = groupSizes.push(0) - 1;
    let rsSize = 0;
    if (res.start >= 0) rsSize += msgSize(res.end - res.start);
    if (res.schemaUrl.length > 0) rsSize += msgSize(res.schemaUrl.length);
    while (i < count) {
      const scopeIndex = spans[order[i]!]!.scope;
      const scope = scopes[scopeIndex]!;
      if (scope.resource !== resourceIndex) break;
      let ssSize = 0;
      if (scope.start >= 0) ssSize += msgSize(scope.end - scope.start);
      if (scope.schemaUrl.length > 0) ssSize += msgSize(scope.schemaUrl.length);
      while (i < count) {
        const span = spans[order[i]!]!;
        if (span.scope !== scopeIndex) break;
        ssSize += msgSize(span.end - span.start);
        i++;
      }
      groupSizes.push(ssSize);
      rsSize += msgSize(ssSize);
    }
    groupSizes[rsSlot] = rsSize;
    total += msgSize(rsSize);
  }

  // Pass 2: write, walking the groups in the same order.
  const out = new Uint8Array(total);
  let pos = 0;
  let g = 0;
  i = 0;
  while (i < count) {
    const resourceIndex = scopes[spans[order[i]!]!.scope]!.resource;
    const res = resources[resourceIndex]!;
    out[pos++] = 0x0a;
    pos = writeVarint(out, pos, groupSizes[g++]!);
    if (res.start >= 0) pos = copyField(out, pos, 0x0a, buffer, res.start, res.end);
    while (i < count) {
      const scopeIndex = spans[order[i]!]!.scope;
      const scope = scopes[scopeIndex]!;
      if (scope.resource !== resourceIndex) break;
      out[pos++] = 0x12;
      pos = writeVarint(out, pos, groupSizes[g++]!);
      if (scope.start >= 0) pos = copyField(out, pos, 0x0a, buffer, scope.start, scope.end);
      while (i < count) {
        const span = spans[order[i]!]!;
        if (span.scope !== scopeIndex) break;
        pos = copyField(out, pos, 0x12, buffer, span.start, span.end);
        i++;
      }
      if (scope.schemaUrl.length > 0) pos = copyBytesField(out, pos, 0x1a, scope.schemaUrl);
    }
    // schema_url (3) after scope_spans (2): field-number order.
    if (res.schemaUrl.length > 0) pos = copyBytesField(out, pos, 0x1a, res.schemaUrl);
  }
  return out;
}

function msgSize(n: number): number {
  return 1 + varintSize(n) + n;
}

function copyField(out: Uint8Array, pos: number, tag: number, src: Uint8Array, start: number, end: number): number {
  out[pos++] = tag;
  pos = writeVarint(out, pos, end - start);
  out.set(src.subarray(start, end), pos);
  return pos + (end - start);
}

function copyBytesField(out: Uint8Array, pos: number, tag: number, b: Uint8Array): number {
  out[pos++] = tag;
  pos = writeVarint(out, pos, b.length);
  out.set(b, pos);
  return pos + b.length;
}

/**
 * The span indexes in output order: grouped by resource, then scope, each group where it is first
 * used. Spans already grouped (the usual case: indexes ascending, as the decoder numbers spans in
 * buffer order) are returned as they are, without allocating.
 */
function groupedOrder(batch: DecodedBatch, idx: readonly number[]): readonly number[] {
  const { spans, scopes } = batch;
  const n = idx.length;
  for (let k = 0; k < n; k++) {
    const s = idx[k];
    if (typeof s !== 'number' || !(s >= 0 && s < spans.length) || !Number.isInteger(s)) {
      throw new InvalidArgumentError(`span index ${String(s)} is not an index into the batch's ${spans.length} spans`);
    }
  }
  // Scope numbers rise with buffer order and each scope has one resource, so non-decreasing scope
  // numbers mean every scope's and every resource's spans are contiguous.
  let grouped = true;
  for (let k = 1; k < n; k++) {
    if (spans[idx[k]!]!.scope < spans[idx[k - 1]!]!.scope) {
      grouped = false;
      break;
    }
  }
  if (grouped) return idx;

  const resourceRank = new Map<number, number>();
  const scopeRank = new Map<number, number>();
  for (let k = 0; k < n; k++) {
    const scope = spans[idx[k]!]!.scope;
    const res = scopes[scope]!.resource;
    if (!resourceRank.has(res)) resourceRank.set(res, resourceRank.size);
    if (!scopeRank.has(scope)) scopeRank.set(scope, scopeRank.size);
  }
  const positions = Array.from({ length: n }, (_, k) => k);
  positions.sort((a, b) => {
    const sa = spans[idx[a]!]!.scope;
    const sb = spans[idx[b]!]!.scope;
    const ra = resourceRank.get(scopes[sa]!.resource)!;
    const rb = resourceRank.get(scopes[sb]!.resource)!;
    if (ra !== rb) return ra - rb;
    const d = scopeRank.get(sa)! - scopeRank.get(sb)!;
    return d !== 0 ? d : a - b;
  });
  return positions.map((k) => idx[k]!);
}
