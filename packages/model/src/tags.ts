// Tag (attribute) names and values of traces, for Grafana's tag dropdowns: Tempo's scopes,
// intrinsic names and typed values.

import type { SpanSelection } from './search.js';
import type { AnyValue, KeyValue, Trace } from './trace.js';

export const TAG_SCOPES = ['resource', 'span', 'event', 'link', 'instrumentation', 'intrinsic'] as const;
export type TagScope = (typeof TAG_SCOPES)[number];

/** The intrinsic names Tempo lists for the intrinsic scope. */
export const INTRINSIC_TAGS = [
  'duration', 'event:name', 'event:timeSinceStart', 'instrumentation:name', 'instrumentation:version', 'kind', 'name',
  'rootName', 'rootServiceName', 'span:duration', 'span:kind', 'span:name', 'span:status', 'span:statusMessage',
  'status', 'statusMessage', 'trace:duration', 'trace:rootName', 'trace:rootService', 'traceDuration',
] as const;

/** Whether span `i` (in resourceSpans, scopeSpans, spans order) is selected. */
const selected = (sel: SpanSelection, i: number): boolean => sel === 'all' || (sel !== null && sel.has(i));

/** Per ResourceSpans and ScopeSpans, whether any of its spans is selected. */
function selectedParents(trace: Trace, sel: SpanSelection): { resources: boolean[]; scopes: boolean[][] } {
  let i = 0;
  const resources: boolean[] = [];
  const scopes: boolean[][] = [];
  for (const rs of trace.resourceSpans) {
    const perScope = rs.scopeSpans.map((ss) => {
      let any = false;
      for (let k = 0; k < ss.spans.length; k++) if (selected(sel, i++)) any = true;
      return any;
    });
    scopes.push(perScope);
    resources.push(perScope.includes(true));
  }
  return { resources, scopes };
}

/**
 * Adds the attribute names of the selected spans (and of their resources and scopes), per scope,
 * to `into` (intrinsics are static and not collected).
 */
export function collectTagNames(trace: Trace, into: Map<TagScope, Set<string>>, sel: SpanSelection = 'all'): void {
  const add = (scope: TagScope, kvs: readonly KeyValue[]): void => {
    if (kvs.length === 0) return;
    let set = into.get(scope);
    if (!set) into.set(scope, (set = new Set()));
    for (const kv of kvs) set.add(kv.key);
  };
  const parents = selectedParents(trace, sel);
  let i = 0;
  trace.resourceSpans.forEach((rs, r) => {
    if (parents.resources[r]) add('resource', rs.resource.attributes);
    rs.scopeSpans.forEach((ss, s) => {
      if (parents.scopes[r]![s]) add('instrumentation', ss.scope.attributes);
      for (const span of ss.spans) {
        if (!selected(sel, i++)) continue;
        add('span', span.attributes);
        for (const e of span.events) add('event', e.attributes);
        for (const l of span.links) add('link', l.attributes);
      }
    });
  });
}

export type TagValueType = 'string' | 'int' | 'float' | 'bool' | 'keyword';
export interface TagValue {
  type: TagValueType;
  value: string;
}

/** A tag as the values APIs name it: `.a`, `span.a`, `resource.a`, `event.a`, `name`, `span:status`, ... */
export type TagRef =
  | { kind: 'attribute'; scope: 'unscoped' | 'span' | 'resource' | 'event' | 'link' | 'instrumentation'; key: string }
  | { kind: 'intrinsic'; name: 'name' | 'status' | 'kind' | 'statusMessage' | 'rootName' | 'rootServiceName' | 'event:name' | 'instrumentation:name' | 'instrumentation:version' };

const INTRINSIC_ALIASES: Record<string, Extract<TagRef, { kind: 'intrinsic' }>['name']> = {
  name: 'name', 'span:name': 'name', status: 'status', 'span:status': 'status', kind: 'kind', 'span:kind': 'kind',
  statusMessage: 'statusMessage', 'span:statusMessage': 'statusMessage', rootName: 'rootName', 'trace:rootName': 'rootName',
  rootServiceName: 'rootServiceName', 'trace:rootService': 'rootServiceName', 'event:name': 'event:name',
  'instrumentation:name': 'instrumentation:name', 'instrumentation:version': 'instrumentation:version',
};

/** v2 names carry a scope (`.x`, `resource.x`, intrinsics); a v1 name is a bare attribute key. */
export function parseTagRef(name: string, v2: boolean): TagRef {
  const intrinsic = INTRINSIC_ALIASES[name];
  if (intrinsic) return { kind: 'intrinsic', name: intrinsic };
  if (!v2) return { kind: 'attribute', scope: 'unscoped', key: name };
  if (name.startsWith('.')) return { kind: 'attribute', scope: 'unscoped', key: unquote(name.slice(1)) };
  for (const scope of ['span', 'resource', 'event', 'link', 'instrumentation'] as const) {
    if (name.startsWith(`${scope}.`)) return { kind: 'attribute', scope, key: unquote(name.slice(scope.length + 1)) };
  }
  return { kind: 'attribute', scope: 'unscoped', key: name };
}

const unquote = (k: string): string => (k.startsWith('"') && k.endsWith('"') && k.length >= 2 ? k.slice(1, -1).replace(/\\(.)/g, '$1') : k);

const STATUS_NAMES = ['unset', 'ok', 'error'];
const KIND_NAMES = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

/** An attribute value as a typed tag value; null for arrays, kvlists and bytes (not offered, as in Tempo). */
export function tagValueOf(v: AnyValue): TagValue | null {
  if ('stringValue' in v) return { type: 'string', value: v.stringValue };
  if ('intValue' in v) return { type: 'int', value: v.intValue.toString() };
  if ('doubleValue' in v) return { type: 'float', value: String(v.doubleValue) };
  if ('boolValue' in v) return { type: 'bool', value: String(v.boolValue) };
  return null; // arrays, kvlists and bytes are not offered as values (as Tempo)
}

/**
 * Adds the values the selected spans (and their resources and scopes) hold for `ref` to `into`
 * (keyed by type and value). Root names are the trace's, taken when any span is selected.
 */
export function collectTagValues(trace: Trace, ref: TagRef, into: Map<string, TagValue>, sel: SpanSelection = 'all'): void {
  if (sel === null) return;
  const parents = selectedParents(trace, sel);
  let i = 0;
  const put = (v: TagValue | null): void => {
    if (v) into.set(`${v.type}\u0000${v.value}`, v);
  };
  const fromAttrs = (kvs: readonly KeyValue[]): void => {
    for (const kv of kvs) if (kv.key === (ref as { key: string }).key) put(tagValueOf(kv.value));
  };
  let root: { name: string; service: string } | null = null;
  trace.resourceSpans.forEach((rs, r) => {
    const service = rs.resource.attributes.find((a) => a.key === 'service.name');
    rs.scopeSpans.forEach((ss, s) => {
      for (const span of ss.spans) {
        if (span.parentSpanId.length === 0 && !root) {
          root = { name: span.name, service: service && 'stringValue' in service.value ? service.value.stringValue : '' };
        }
        if (!selected(sel, i++)) continue;
        if (ref.kind === 'intrinsic') {
          switch (ref.name) {
            case 'name': put({ type: 'string', value: span.name }); break;
            case 'status': put({ type: 'keyword', value: STATUS_NAMES[span.status.code] ?? 'unset' }); break;
            case 'kind': put({ type: 'keyword', value: KIND_NAMES[span.kind] ?? 'unspecified' }); break;
            case 'statusMessage': if (span.status.message) put({ type: 'string', value: span.status.message }); break;
            case 'event:name': for (const e of span.events) put({ type: 'string', value: e.name }); break;
            case 'instrumentation:name': if (ss.scope.name) put({ type: 'string', value: ss.scope.name }); break;
            case 'instrumentation:version': if (ss.scope.version) put({ type: 'string', value: ss.scope.version }); break;
            default: break;
          }
          continue;
        }
        if (ref.scope === 'span' || ref.scope === 'unscoped') fromAttrs(span.attributes);
        if (ref.scope === 'event') for (const e of span.events) fromAttrs(e.attributes);
        if (ref.scope === 'link') for (const l of span.links) fromAttrs(l.attributes);
      }
      if (ref.kind === 'attribute' && ref.scope === 'instrumentation' && parents.scopes[r]![s]) fromAttrs(ss.scope.attributes);
    });
    if (ref.kind === 'attribute' && (ref.scope === 'resource' || ref.scope === 'unscoped') && parents.resources[r]) fromAttrs(rs.resource.attributes);
  });
  // Assigned in the callbacks above, which the compiler does not follow.
  const found = root as { name: string; service: string } | null;
  if (ref.kind === 'intrinsic' && found) {
    if (ref.name === 'rootName') put({ type: 'string', value: found.name });
    if (ref.name === 'rootServiceName' && found.service) put({ type: 'string', value: found.service });
  }
}
