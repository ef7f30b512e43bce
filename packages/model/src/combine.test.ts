import { describe, expect, it } from 'vitest';
import { combineTraces, countSpans } from './combine.js';
import { decodeTrace, encodeTrace } from './trace-codec.js';
import { emptySpan, randomTrace, rng } from './test-fixtures.js';
import type { Resource, Span, Trace } from './trace.js';

const resource = (svc: string): Resource => ({ attributes: [{ key: 'service.name', value: { stringValue: svc } }], droppedAttributesCount: 0 });
const span = (id: number, start: bigint, kind = 1, name = `s${id}`): Span =>
  emptySpan({ spanId: new Uint8Array(8).fill(id), startTimeUnixNano: start, kind, name });

function part(svc: string, scopeName: string, spans: Span[], schemaUrl = ''): Trace {
  return {
    resourceSpans: [
      {
        resource: resource(svc),
        scopeSpans: [{ scope: { name: scopeName, version: '', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
        schemaUrl,
      },
    ],
  };
}

const names = (t: Trace) => t.resourceSpans.map((rs) => rs.scopeSpans.map((ss) => ss.spans.map((s) => s.name)));

describe('combineTraces', () => {
  it('drops spans with the same ID and kind, keeping the first', () => {
    const a = part('api', 'http', [span(1, 10n, 2, 'first'), span(2, 20n)]);
    const b = part('api', 'http', [span(1, 10n, 2, 'dup'), span(3, 30n)]);
    const c = combineTraces([a, b]);
    expect(names(c)).toEqual([[['first', 's2', 's3']]]);
    expect(countSpans(c)).toBe(3);
  });

  it('keeps client and server spans that share an ID (zipkin style)', () => {
    const c = combineTraces([part('a', 'x', [span(1, 10n, 3, 'client')]), part('b', 'y', [span(1, 11n, 2, 'server')])]);
    expect(countSpans(c)).toBe(2);
  });

  it('merges byte-identical resources and scopes, and keeps different ones apart', () => {
    const c = combineTraces([
      part('api', 'http', [span(1, 10n)]),
      part('db', 'sql', [span(2, 5n)]),
      part('api', 'http', [span(3, 30n)]),
      part('api', 'grpc', [span(4, 40n)]),
      part('api', 'http', [span(5, 50n)], 'https://schema'), // a different schema URL is a different group
    ]);
    expect(c.resourceSpans.map((rs) => rs.resource.attributes[0]!.value)).toEqual([
      { stringValue: 'db' },
      { stringValue: 'api' },
      { stringValue: 'api' },
    ]);
    expect(names(c)).toEqual([[['s2']], [['s1', 's3'], ['s4']], [['s5']]]);
  });

  it('with a key cache, groups shared resource objects by schema URL as without one', () => {
    const shared = resource('api');
    const withUrl = (spans: Span[], schemaUrl: string): Trace => {
      const t = part('api', 'http', spans, schemaUrl);
      return { resourceSpans: t.resourceSpans.map((rs) => ({ ...rs, resource: shared })) };
    };
    const parts = [withUrl([span(1, 10n)], ''), withUrl([span(2, 20n)], 'https://a'), withUrl([span(3, 30n)], ''), withUrl([span(4, 40n)], 'https://a')];
    const cache = new WeakMap<object, string>();
    const first = combineTraces(parts, cache);
    expect(names(first)).toEqual([[['s1', 's3']], [['s2', 's4']]]);
    expect(first.resourceSpans.map((rs) => rs.schemaUrl)).toEqual(['', 'https://a']);
    // Again with the cache warm, and without a cache: the same groups.
    expect(combineTraces(parts, cache)).toEqual(first);
    expect(combineTraces(parts)).toEqual(first);
  });

  it('sorts spans by start time then span ID, and groups by their first span', () => {
    const c = combineTraces([part('a', 'x', [span(9, 30n), span(2, 10n), span(1, 10n)]), part('b', 'y', [span(4, 5n)])]);
    expect(names(c)).toEqual([[['s4']], [['s1', 's2', 's9']]]);
  });

  it('is deterministic whatever the order of the parts, when there are no conflicting duplicates', () => {
    const r = rng(5);
    for (let i = 0; i < 50; i++) {
      const parts = [randomTrace(r), randomTrace(r), randomTrace(r)];
      const a = encodeTrace(combineTraces(parts));
      const b = encodeTrace(combineTraces([parts[2]!, parts[0]!, parts[1]!]));
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    }
  });

  it('combining with itself changes nothing but the order; inputs are not modified', () => {
    const r = rng(6);
    const t = randomTrace(r);
    const before = encodeTrace(t);
    const once = combineTraces([t]);
    const twice = combineTraces([t, decodeTrace(before), once]);
    expect(encodeTrace(twice)).toEqual(encodeTrace(once));
    expect(Buffer.from(encodeTrace(t)).equals(Buffer.from(before))).toBe(true);
  });

  it('gives an empty trace for no input', () => {
    expect(combineTraces([])).toEqual({ resourceSpans: [] });
    expect(countSpans({ resourceSpans: [] })).toBe(0);
  });
});
