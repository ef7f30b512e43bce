import { describe, expect, it } from 'vitest';
import { SpanKind, StatusCode, encodeTrace, spanWireSize } from '@andante/model';
import { SegmentDecoder, decodeForGenerator, wantedSpanAttributes } from './span-view.js';
import { bytesToHex } from '@andante/model';
import { defaultGeneratorConfig } from './config.js';
import { batch, span } from './test-spans.fixture.js';

describe('decodeForGenerator', () => {
  it('reads what the processors need, keeps only wanted span attributes and measures each span', () => {
    const s = span({ name: 'GET /x', kind: SpanKind.CLIENT, status: StatusCode.ERROR, message: 'nope', ms: 12, attrs: { 'http.method': 'GET', 'http.url': 'https://a/b', 'peer.service': 'stripe', n: 5, ratio: 0.5, ok: true } });
    s.events.push({ timeUnixNano: 1n, name: 'exception', attributes: [{ key: 'exception.message', value: { stringValue: 'x' } }], droppedAttributesCount: 0 });
    const parent = span({ kind: SpanKind.SERVER });
    s.parentSpanId = parent.spanId;
    const bytes = encodeTrace({ resourceSpans: [batch({ 'service.name': 'api', 'k8s.pod.name': 'p' }, [s, parent])] });
    const [b] = decodeForGenerator(bytes, new Set(['http.method', 'peer.service', 'n', 'ratio', 'ok']));
    expect(b!.resource.attributes.map((a) => a.key)).toEqual(['service.name', 'k8s.pod.name']);
    const [decoded, gotParent] = b!.scopeSpans[0]!.spans;
    // Timestamps are getters (made on demand from their 32-bit halves): read them out.
    const got = { ...decoded, startTimeUnixNano: decoded!.startTimeUnixNano, endTimeUnixNano: decoded!.endTimeUnixNano };
    for (const k of ['startHi', 'startLo', 'endHi', 'endLo']) delete (got as Record<string, unknown>)[k];
    expect(decoded!.durationSeconds).toBeCloseTo(0.012, 12);
    expect(decoded!.endUnixMs).toBe(Number(s.endTimeUnixNano / 1_000_000n) + Number(s.endTimeUnixNano % 1_000_000n) / 1e6);
    expect(got).toEqual({
      traceId: s.traceId,
      spanId: s.spanId,
      parentSpanId: parent.spanId,
      name: 'GET /x',
      kind: SpanKind.CLIENT,
      startTimeUnixNano: s.startTimeUnixNano,
      endTimeUnixNano: s.endTimeUnixNano,
      attributes: [
        { key: 'http.method', value: { stringValue: 'GET' } },
        { key: 'peer.service', value: { stringValue: 'stripe' } },
        { key: 'n', value: { intValue: 5n } },
        { key: 'ratio', value: { doubleValue: 0.5 } },
        { key: 'ok', value: { boolValue: true } },
      ],
      status: { code: StatusCode.ERROR, message: 'nope' },
      size: spanWireSize(s),
    });
    expect(gotParent!.parentSpanId).toEqual(new Uint8Array(0));
    expect(gotParent!.size).toBe(spanWireSize(parent));
  });

  it('reads an attribute whose value comes before its key', () => {
    const s = span({ attrs: { k: 'v' } });
    const bytes = encodeTrace({ resourceSpans: [batch({ 'service.name': 'a' }, [s])] });
    // KeyValue { key = "k", value = { string_value = "v" } } -> value first, then key.
    const kv = Buffer.from([0x0a, 0x01, 0x6b, 0x12, 0x03, 0x0a, 0x01, 0x76]);
    const swapped = Buffer.from([0x12, 0x03, 0x0a, 0x01, 0x76, 0x0a, 0x01, 0x6b]);
    const at = Buffer.from(bytes).indexOf(kv);
    expect(at).toBeGreaterThan(0);
    const edited = Buffer.from(bytes);
    swapped.copy(edited, at);
    expect(decodeForGenerator(edited, new Set(['k']))[0]!.scopeSpans[0]!.spans[0]!.attributes).toEqual([{ key: 'k', value: { stringValue: 'v' } }]);
  });

  it('takes the last of two key fields in an attribute, and throws on a key running past its attribute', () => {
    const bytes = encodeTrace({ resourceSpans: [batch({ 'service.name': 'a' }, [span({ attrs: { abcd: 'vw' } })])] });
    // KeyValue { key = "abcd", value = "vw" } -> { key = "ab", key = "c", value = "v" }: same length, the last key wins.
    const kv = Buffer.from([0x0a, 0x04, 0x61, 0x62, 0x63, 0x64, 0x12, 0x04, 0x0a, 0x02, 0x76, 0x77]);
    const twoKeys = Buffer.from([0x0a, 0x02, 0x61, 0x62, 0x0a, 0x01, 0x63, 0x12, 0x03, 0x0a, 0x01, 0x76]);
    const at = Buffer.from(bytes).indexOf(kv);
    expect(at).toBeGreaterThan(0);
    const edited = Buffer.from(bytes);
    twoKeys.copy(edited, at);
    const attrs = (wanted: string[]): unknown => decodeForGenerator(edited, new Set(wanted))[0]!.scopeSpans[0]!.spans[0]!.attributes;
    expect(attrs(['ab'])).toEqual([]);
    expect(attrs(['ab', 'c'])).toEqual([{ key: 'c', value: { stringValue: 'v' } }]);
    expect(attrs(['abcd'])).toEqual([]);
    // The key's length says 11 bytes; the attribute holds 10 after it.
    const overrun = Buffer.from(bytes);
    overrun[at + 1] = 0x0b;
    expect(() => decodeForGenerator(overrun, new Set(['abcdefghijk']))).toThrow(RangeError);
    expect(decodeForGenerator(bytes, new Set(['abcd']))[0]!.scopeSpans[0]!.spans[0]!.attributes).toEqual([{ key: 'abcd', value: { stringValue: 'vw' } }]);
  });

  it('reads concatenated segments of one trace as one', () => {
    const a = encodeTrace({ resourceSpans: [batch({ 'service.name': 'a' }, [span({})])] });
    const b = encodeTrace({ resourceSpans: [batch({ 'service.name': 'b' }, [span({}), span({})])] });
    const both = new Uint8Array([...a, ...b]);
    expect(decodeForGenerator(both, new Set()).map((x) => x.scopeSpans[0]!.spans.length)).toEqual([1, 2]);
  });

  it.each([
    ['a truncated span', (b: Uint8Array) => b.subarray(0, b.length - 3)],
    ['a length past the end', (b: Uint8Array) => new Uint8Array([0x0a, 0xff, 0x7f, ...b.subarray(3)])],
  ])('throws on %s', (_name, corrupt) => {
    const bytes = encodeTrace({ resourceSpans: [batch({ 'service.name': 'a' }, [span({ attrs: { k: 'v' } })])] });
    expect(() => decodeForGenerator(corrupt(bytes), new Set(['k']))).toThrow();
  });

  it('wants the attributes of dimensions, mappings, peers, databases, filters and multipliers', () => {
    const cfg = defaultGeneratorConfig().processor;
    cfg.span_metrics.dimensions = ['http.method'];
    cfg.span_metrics.dimension_mappings = [{ name: 'x', source_labels: ['a', 'b'], join: '-' }];
    cfg.span_metrics.span_multiplier_key = 'ratio';
    cfg.span_metrics.filter_policies = [{ include: { match_type: 'strict', attributes: [{ key: 'span.http.route', value: '/' }, { key: 'resource.env', value: 'p' }, { key: 'kind', value: 'SPAN_KIND_SERVER' }] } }];
    const wanted = wantedSpanAttributes(cfg);
    for (const k of ['http.method', 'a', 'b', 'ratio', 'http.route', 'peer.service', 'db.name', 'db.system', 'db.namespace', 'server.address', 'network.peer.address', 'network.peer.port']) expect(wanted.has(k), k).toBe(true);
    expect(wanted.has('env')).toBe(false);
    expect(wanted.has('kind')).toBe(false);
  });

  it('decodes a push into pooled views: reused push after push, released afterwards, and a bad segment refuses the whole push', () => {
    const dec = new SegmentDecoder(new Set(['peer.service']));
    const a = span({ name: 'a', trace: 'aa'.repeat(16), attrs: { 'peer.service': 'db' } });
    const b = span({ name: 'b', trace: 'aa'.repeat(16), parent: a.spanId.reduce((h, x) => h + x.toString(16).padStart(2, '0'), '') });
    const first = encodeTrace({ resourceSpans: [batch({ 'service.name': 'web' }, [a, b])] });
    expect(dec.decodePush([{ bytes: first }])).toBe(2);
    const [va, vb] = dec.views;
    expect([va!.name, vb!.name]).toEqual(['a', 'b']);
    expect(va!.attributes).toEqual([{ key: 'peer.service', value: { stringValue: 'db' } }]);
    expect(va!.traceIdHex!()).toBe('aa'.repeat(16));
    expect(bytesToHex(va!.spanId)).toBe(bytesToHex(a.spanId));
    expect(bytesToHex(vb!.parentSpanId)).toBe(bytesToHex(a.spanId));
    expect(vb!.parentSpanIdLength).toBe(8);
    expect(va!.resource.attributes).toEqual([{ key: 'service.name', value: { stringValue: 'web' } }]);
    dec.release();
    expect(va!.buf.length).toBe(0);

    const c = span({ name: 'c', trace: 'bb'.repeat(16) });
    expect(dec.decodePush([{ bytes: encodeTrace({ resourceSpans: [batch({ 'service.name': 'api' }, [c])] }) }])).toBe(1);
    expect(dec.views[0]).toBe(va); // the same object, refilled
    expect(va!.name).toBe('c');
    expect(va!.attributes).toEqual([]);
    expect(va!.traceIdHex!()).toBe('bb'.repeat(16));
    expect(va!.parentSpanIdLength).toBe(0);
    dec.release();

    expect(() => dec.decodePush([{ bytes: first }, { bytes: first.subarray(0, first.length - 3) }])).toThrow();
    expect(va!.buf.length).toBe(0);
  });

  it('shares one KeyValue per wanted key and value bytes, skips keys that only match a wanted length, and still decodes long values', () => {
    const dec = new SegmentDecoder(new Set(['peer.service', 'http.url']));
    const long = 'x'.repeat(300);
    const spans = [
      span({ attrs: { 'peer.service': 'cart', 'peer.servicx': 'no', 'http.url': long } }),
      span({ attrs: { 'peer.servicx': 'no', 'peer.service': 'cart', 'http.url': long } }),
      span({ attrs: { 'peer.service': 'ads', 'peer.service2': 'no' } }),
      span({ attrs: { 'peer.service': 7 } }),
    ];
    expect(dec.decodePush([{ bytes: encodeTrace({ resourceSpans: [batch({ 'service.name': 'web' }, spans)] }) }])).toBe(4);
    const [a, b, c, d] = dec.views.slice(0, 4).map((v) => [...v.attributes]);
    expect(a).toEqual([
      { key: 'peer.service', value: { stringValue: 'cart' } },
      { key: 'http.url', value: { stringValue: long } },
    ]);
    expect(b!.map((kv) => kv.key)).toEqual(['peer.service', 'http.url']);
    expect(b![0]).toBe(a![0]); // the same object: found by its bytes
    expect(c).toEqual([{ key: 'peer.service', value: { stringValue: 'ads' } }]);
    expect(d).toEqual([{ key: 'peer.service', value: { intValue: 7n } }]);
    dec.release();
  });

  it('decodes every name exactly while the string cache grows and entries collide (more distinct names than its slots)', () => {
    const dec = new SegmentDecoder(new Set(['peer.service']));
    // 20k distinct names (the cache holds at most 16k slots), then the first ones again.
    const names = Array.from({ length: 20_000 }, (_, i) => `GET /api/v1/item${i}`);
    for (const chunk of [names.slice(0, 10_000), names.slice(10_000), names.slice(0, 5_000)]) {
      const spans = chunk.map((name, i) => span({ name, attrs: { 'peer.service': `svc-${i % 300}` } }));
      expect(dec.decodePush([{ bytes: encodeTrace({ resourceSpans: [batch({ 'service.name': 'web' }, spans)] }) }])).toBe(chunk.length);
      expect(dec.views.slice(0, chunk.length).map((v) => v.name)).toEqual(chunk);
      expect(dec.views.slice(0, chunk.length).map((v) => v.attributes[0]!.value)).toEqual(chunk.map((_, i) => ({ stringValue: `svc-${i % 300}` })));
      dec.release();
    }
  });
});
