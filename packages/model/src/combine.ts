// Merging parts of one trace (from several ingesters, blocks or segments) the way Tempo's combiner
// does (pkg/model/trace/combine.go, sort.go): a span is a duplicate when both its span ID and its kind
// match one already kept (zipkin-style client and server spans share one ID), and the result is
// sorted by span start time, then span ID.

import { compareBytes } from './ids.js';
import type { InstrumentationScope, Resource, ResourceSpans, ScopeSpans, Span, Trace } from './trace.js';
import { encodeResourceMessage, encodeScopeMessage } from './trace-codec.js';

interface ScopeGroup {
  scope: InstrumentationScope;
  schemaUrl: string;
  spans: Span[];
}

interface ResourceGroup {
  resource: Resource;
  schemaUrl: string;
  scopes: Map<string, ScopeGroup>;
}

/**
 * Combines parts of one trace into one, dropping duplicate spans (same span ID and kind; the first
 * seen is kept). Resource groups whose encoded resource and schema URL are byte-identical are
 * merged, and likewise scope groups within them. Output order: spans by start time, span ID, kind;
 * scopes and resources by their first span; ties keep input order. Inputs are not modified; span,
 * resource and scope objects are shared with them. `keyCache` remembers each resource's and
 * scope's encoded key by object, for callers whose traces share read-only resource and scope
 * objects (decodeTrace with a TraceDecodeCache).
 */
export function combineTraces(traces: readonly Trace[], keyCache?: WeakMap<object, string>): Trace {
  const seen = new Set<string>();
  const groups = new Map<string, ResourceGroup>();
  for (const t of traces) {
    for (const rs of t.resourceSpans) {
      const rkey = groupKey(rs.resource, rs.schemaUrl, encodeResourceMessage, keyCache);
      let group = groups.get(rkey);
      if (!group) {
        group = { resource: rs.resource, schemaUrl: rs.schemaUrl, scopes: new Map() };
        groups.set(rkey, group);
      }
      for (const ss of rs.scopeSpans) {
        const skey = groupKey(ss.scope, ss.schemaUrl, encodeScopeMessage, keyCache);
        let sg = group.scopes.get(skey);
        if (!sg) {
          sg = { scope: ss.scope, schemaUrl: ss.schemaUrl, spans: [] };
          group.scopes.set(skey, sg);
        }
        for (const span of ss.spans) {
          const key = `${bytesKey(span.spanId)}\u0000${span.kind}`;
          if (seen.has(key)) continue;
          seen.add(key);
          sg.spans.push(span);
        }
      }
    }
  }

  const out: ResourceSpans[] = [];
  for (const group of groups.values()) {
    const scopeSpans: ScopeSpans[] = [];
    for (const sg of group.scopes.values()) {
      if (sg.spans.length === 0) continue;
      sg.spans.sort(compareSpans);
      scopeSpans.push({ scope: sg.scope, spans: sg.spans, schemaUrl: sg.schemaUrl });
    }
    if (scopeSpans.length === 0) continue;
    scopeSpans.sort((a, b) => compareSpans(a.spans[0]!, b.spans[0]!));
    out.push({ resource: group.resource, scopeSpans, schemaUrl: group.schemaUrl });
  }
  // Array.prototype.sort is stable, so ties keep first-seen order.
  out.sort((a, b) => compareSpans(a.scopeSpans[0]!.spans[0]!, b.scopeSpans[0]!.spans[0]!));
  return { resourceSpans: out };
}

function compareSpans(a: Span, b: Span): number {
  if (a.startTimeUnixNano !== b.startTimeUnixNano) return a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1;
  const d = compareBytes(a.spanId, b.spanId);
  return d !== 0 ? d : a.kind - b.kind;
}

/**
 * Group keys (message key and schema URL) by message object, for callers with a key cache: a key
 * built anew per trace is a fresh string of the whole encoded resource, copied and hashed again at
 * every lookup. Keyed weakly by the same read-only objects the key cache holds.
 */
const groupKeys = new WeakMap<object, Map<string, string>>();

function groupKey<T extends object>(message: T, schemaUrl: string, encode: (m: T) => Uint8Array, cache: WeakMap<object, string> | undefined): string {
  if (!cache) return `${messageKey(message, encode, undefined)}\u0000${schemaUrl}`;
  let byUrl = groupKeys.get(message);
  if (!byUrl) groupKeys.set(message, (byUrl = new Map()));
  let key = byUrl.get(schemaUrl);
  if (key === undefined) {
    key = `${messageKey(message, encode, cache)}\u0000${schemaUrl}`;
    byUrl.set(schemaUrl, key);
  }
  return key;
}

function messageKey<T extends object>(message: T, encode: (m: T) => Uint8Array, cache: WeakMap<object, string> | undefined): string {
  let key = cache?.get(message);
  if (key === undefined) {
    key = bytesKey(encode(message));
    cache?.set(message, key);
  }
  return key;
}

/** A Map key for bytes (one UTF-16 unit per byte). */
function bytesKey(b: Uint8Array): string {
  if (b.length <= 64) {
    let s = '';
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
    return s;
  }
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** Number of spans in a trace. */
export function countSpans(trace: Trace): number {
  let n = 0;
  for (const rs of trace.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}
