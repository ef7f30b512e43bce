import { describe, expect, it } from 'vitest';
import { ParseError, UnsupportedError, ValidationError } from '../errors.js';
import { compileSearch } from './engine.js';
import { EvaluationError, MetricsQueryError } from './errors.js';
import type { EvalTrace } from './eval-trace.js';
import { buildEvalTrace } from './eval-trace.js';
import type { SpanSpec } from './fixtures-cases.js';
import { makeTrace } from './fixtures-cases.js';

const MS = 1_000_000n;
const S = 1000n * MS;

function trace(specs: SpanSpec[], traceNum: number | bigint = 1): EvalTrace {
  return buildEvalTrace(makeTrace(specs, traceNum));
}

function spanNum(id: Uint8Array): number {
  return Number(Buffer.from(id).readBigUInt64BE());
}

/** Matched span numbers (union over spansets), sorted. */
function ids(q: string, t: EvalTrace): number[] {
  const sets = compileSearch(q).evaluate(t);
  return [...new Set(sets.flatMap((s) => s.spans.map((sp) => spanNum(sp.spanId))))].sort((a, b) => a - b);
}

/** Each spanset as its span numbers in order. */
function sets(q: string, t: EvalTrace): number[][] {
  return compileSearch(q).evaluate(t).map((s) => s.spans.map((sp) => spanNum(sp.spanId)));
}

describe('spanset filters: attributes and comparisons', () => {
  const t = trace([
    { id: 1, attrs: { i: 5n, f: 2.5, s: 'beta', b: true, arr: ['x', 'y'], iarr: [1n, 7n], code: 200n } },
    { id: 2, attrs: { i: 10n, f: 0.5, s: 'alpha', b: false, arr: ['z'], iarr: [3n], code: 500n } },
    { id: 3, attrs: { s: 'gamma', i: 'not a number' } },
    { id: 4, attrs: { arr: [] as string[] } },
  ]);

  it.each([
    ['{ }', [1, 2, 3, 4]],
    ['{ true }', [1, 2, 3, 4]],
    ['{ false }', []],
    ['{ span.i = 5 }', [1]],
    ['{ span.i != 5 }', [2]], // missing and mistyped values never compare, != included
    ['{ span.i > 5 }', [2]],
    ['{ span.i >= 5 }', [1, 2]],
    ['{ span.i < 10 }', [1]],
    ['{ span.i <= 10 }', [1, 2]],
    ['{ span.i = 5.0 }', [1]],
    ['{ span.f > 1 }', [1]],
    ['{ span.f = 2.5 }', [1]],
    ['{ 5 < span.i }', [2]],
    ['{ span.s = "beta" }', [1]],
    ['{ span.s != "beta" }', [2, 3]],
    ['{ span.s > "alpha" }', [1, 3]],
    ['{ span.s <= "beta" }', [1, 2]],
    ['{ span.s = 5 }', []],
    ['{ span.i = "5" }', []],
    ['{ span.s =~ "b.*" }', [1]],
    ['{ span.s =~ "eta" }', []], // fully anchored
    ['{ span.s =~ ".*eta" }', [1]],
    ['{ span.s !~ "b.*" }', [2, 3]],
    ['{ span.s =~ "alpha|gamma" }', [2, 3]],
    ['{ span.s =~ "(?i)BETA" }', [1]],
    ['{ span.b }', [1]],
    ['{ !span.b }', [2]],
    ['{ span.b = true }', [1]],
    ['{ span.b != true }', [2]],
    ['{ span.missing != nil }', []],
    ['{ span.missing = nil }', [1, 2, 3, 4]],
    ['{ span.b = nil }', [3, 4]],
    ['{ span.b != nil }', [1, 2]],
    ['{ span.code >= 400 && span.code < 600 }', [2]],
    ['{ span.code = 200 || span.s = "gamma" }', [1, 3]],
    ['{ !(span.code = 200) }', [2, 3, 4]],
    ['{ !(span.code = 200 || span.s = "gamma") }', [2, 4]],
  ])('%s', (q, want) => {
    expect(ids(q, t)).toEqual(want);
  });

  it.each([
    ['{ span.arr = "y" }', [1]], // any element
    ['{ span.arr != "y" }', [2, 4]], // no element (an empty array has none)
    ['{ span.arr =~ "[yz]" }', [1, 2]],
    ['{ span.arr !~ "x|y" }', [2, 4]],
    ['{ span.iarr = 7 }', [1]],
    ['{ span.iarr > 5 }', [1]],
    ['{ span.iarr < 2 }', [1]],
    ['{ span.iarr != 3 }', [1]],
    ['{ span.arr = 7 }', []],
  ])('arrays: %s', (q, want) => {
    expect(ids(q, t)).toEqual(want);
  });

  it('unscoped attributes read the span first, then the resource', () => {
    const u = trace([
      { id: 1, service: 'a', resource: { env: 'prod' }, attrs: { env: 'dev' } },
      { id: 2, service: 'a', resource: { env: 'prod' } },
      { id: 3, service: 'b' },
    ]);
    expect(ids('{ .env = "prod" }', u)).toEqual([2]);
    expect(ids('{ .env = "dev" }', u)).toEqual([1]);
    expect(ids('{ .service.name = "a" }', u)).toEqual([1, 2]);
    expect(ids('{ resource.env = "prod" }', u)).toEqual([1, 2]);
    expect(ids('{ span.env = "prod" }', u)).toEqual([]);
    expect(ids('{ .env != nil }', u)).toEqual([1, 2]);
  });

  it.each([
    ['{ span.i + 1 = 6 }', [1]],
    ['{ span.i * 2 > 15 }', [2]],
    ['{ span.i / 3 = 1 }', [1]], // int division truncates
    ['{ span.i / 3 > 1.6 }', [2]], // 10 / 3 = 3
    ['{ span.f / 2 = 1.25 }', [1]],
    ['{ span.i % 3 = 2 }', [1]],
    ['{ span.i - 10 = 0 }', [2]],
    ['{ -span.i = -5 }', [1]],
    ['{ 2 ^ 3 = 8 }', [1, 2, 3, 4]],
    ['{ span.i ^ 2 = 25 }', [1]],
    ['{ span.i / 0 = 1 }', []], // division by zero is nil, not an error
    ['{ span.i / 0 != 1 }', []],
    ['{ 5.0 / 0.0 = 1.0 }', []],
    ['{ 1 < 1h }', [1, 2, 3, 4]],
    ['{ 1 = 1ns }', [1, 2, 3, 4]],
    ['{ 2.5 >= 2 }', [1, 2, 3, 4]],
    ['{ "abc" < "abd" }', [1, 2, 3, 4]],
    ['{ span.s + 1 = 2 }', []],
    ['{ (span.i + 1 = 2) = false }', [1, 2, 3, 4]],
  ])('arithmetic: %s', (q, want) => {
    expect(ids(q, t)).toEqual(want);
  });
});

describe('intrinsics', () => {
  const t = trace([
    { id: 0x0a, name: 'GET /checkout', service: 'frontend', kind: 2, status: 1, start: 0n, duration: 3n * S, scope: { name: 'http', version: '1.2', attrs: { language: 'go' } } },
    { id: 0x0b, parent: 0x0a, name: 'charge', service: 'payments', kind: 3, status: 2, statusMessage: 'card declined', start: 10n * MS, duration: 2500n * MS },
    { id: 0x0c, parent: 0x0b, name: 'db', service: 'payments', kind: 1, start: 20n * MS, duration: 5n * MS, events: [{ name: 'exception', at: 2n * MS }] },
    { id: 0x0d, parent: 0x0a, name: 'db', service: 'frontend', kind: 3, status: 0, start: 500n * MS, duration: 4n * S },
  ], 0x00ab_cdefn);

  it.each([
    ['{ name = "charge" }', [0x0b]],
    ['{ span:name = "db" }', [0x0c, 0x0d]],
    ['{ status = error }', [0x0b]],
    ['{ status = ok }', [0x0a]],
    ['{ status = unset }', [0x0c, 0x0d]],
    ['{ status != unset }', [0x0a, 0x0b]],
    ['{ span:status = error }', [0x0b]],
    ['{ statusMessage = "card declined" }', [0x0b]],
    ['{ statusMessage =~ ".*declined" }', [0x0b]],
    ['{ kind = server }', [0x0a]],
    ['{ kind = client }', [0x0b, 0x0d]],
    ['{ kind = internal }', [0x0c]],
    ['{ kind != client }', [0x0a, 0x0c]],
    ['{ duration > 2s }', [0x0a, 0x0b, 0x0d]],
    ['{ duration >= 2500ms && duration < 3s }', [0x0b]],
    ['{ duration = 5ms }', [0x0c]],
    ['{ duration > 2.5 }', [0x0a, 0x0b, 0x0c, 0x0d]],
    ['{ span:duration * 2 > 6s }', [0x0d]],
    ['{ traceDuration = 4500ms }', [0x0a, 0x0b, 0x0c, 0x0d]],
    ['{ trace:duration > 5s }', []],
    ['{ rootName = "GET /checkout" && name = "db" }', [0x0c, 0x0d]],
    ['{ rootServiceName = "frontend" && status = error }', [0x0b]],
    ['{ trace:rootService = "payments" }', []],
    ['{ span:id = "000000000000000b" }', [0x0b]],
    ['{ span:id = "b" }', [0x0b]],
    ['{ span:id = "000B" }', [0x0b]],
    ['{ span:id != "b" }', [0x0a, 0x0c, 0x0d]],
    ['{ span:id =~ "0+c" }', [0x0c]],
    ['{ span:parentID = "000000000000000a" }', [0x0b, 0x0d]],
    ['{ span:parentID != "a" }', [0x0c]], // the root has no parent ID
    ['{ trace:id = "abcdef" }', [0x0a, 0x0b, 0x0c, 0x0d]],
    ['{ trace:id = "00000000000000000000000000abcdef" }', [0x0a, 0x0b, 0x0c, 0x0d]],
    ['{ trace:id = "0000000000abcdef" }', [0x0a, 0x0b, 0x0c, 0x0d]],
    ['{ trace:id = "ABCDEF" }', [0x0a, 0x0b, 0x0c, 0x0d]],
    ['{ trace:id = "abcde" }', []],
    ['{ trace:id = "not hex" }', []],
    ['{ span:childCount = 0 }', [0x0c, 0x0d]],
    ['{ span:childCount = 2 }', [0x0a]],
    ['{ nestedSetLeft = 1 }', [0x0a]],
    ['{ nestedSetParent = -1 }', [0x0a]],
    ['{ nestedSetParent = 1 }', [0x0b, 0x0d]],
    ['{ nestedSetRight - nestedSetLeft = 1 }', [0x0c, 0x0d]], // leaves
    ['{ instrumentation:name = "http" }', [0x0a]],
    ['{ instrumentation:version = "1.2" }', [0x0a]],
    ['{ instrumentation.language = "go" }', [0x0a]],
    ['{ instrumentation:name = "test-scope" }', [0x0b, 0x0c, 0x0d]],
  ])('%s', (q, want) => {
    expect(ids(q, t)).toEqual(want);
  });

  it('nested-set numbers follow Tempo: depth-first, parent = parent left, root -1', () => {
    const byId = new Map(t.spans.map((s) => [spanNum(s.spanId), s]));
    const n = (id: number): [number, number, number] => {
      const s = byId.get(id)!;
      return [s.nestedSetLeft, s.nestedSetRight, s.nestedSetParent];
    };
    expect(n(0x0a)).toEqual([1, 8, -1]);
    // frontend spans come first in the trace (grouped by resource): 0x0d before 0x0b
    expect(n(0x0d)).toEqual([2, 3, 1]);
    expect(n(0x0b)).toEqual([4, 7, 1]);
    expect(n(0x0c)).toEqual([5, 6, 4]);
    expect(t.rootServiceName).toBe('frontend');
    expect(t.rootSpanName).toBe('GET /checkout');
  });
});

describe('events and links', () => {
  const t = trace([
    { id: 1, events: [{ name: 'exception', at: 5n * MS, attrs: { a: 1n } }, { name: 'log', at: 1n * MS, attrs: { b: 2n } }] },
    { id: 2, events: [{ name: 'exception', attrs: { a: 1n, b: 2n, 'exception.message': 'boom: timeout' } }] },
    { id: 3 },
    { id: 4, links: [{ traceId: 0x77, spanId: 0x88, attrs: { 'opentracing.ref_type': 'child_of' } }, { traceId: 0x99, spanId: 0x11 }] },
    { id: 5, links: [{ traceId: 0x77, spanId: 0x11, attrs: { kind: 'follows' } }] },
  ]);

  it.each([
    ['{ event:name = "exception" }', [1, 2]],
    ['{ event:name = "log" }', [1]],
    ['{ event.a = 1 }', [1, 2]],
    ['{ event.a = 1 && event.b = 2 }', [2]], // one && chain: the same event must satisfy both
    ['{ event:name = "log" && event.b = 2 }', [1]],
    ['{ event:name = "exception" && event.b = 2 }', [2]],
    ['{ event.a = 1 || event.b = 2 }', [1, 2]],
    ['{ event.a = 1 && span:id = "1" }', [1]],
    ['{ event.exception.message =~ ".*timeout.*" }', [2]],
    ['{ event.a = nil }', [1]], // some event lacks it; spans without events do not match
    ['{ event.a != nil }', [1, 2]],
    ['{ event:timeSinceStart > 2ms }', [1]],
    ['{ event:timeSinceStart >= 0ms }', [1, 2]],
    ['{ !(event.a = 1) }', [1]], // some event where a = 1 does not hold
    ['{ link:traceID = "77" }', [4, 5]],
    ['{ link:traceID = "00000000000000000000000000000077" }', [4, 5]],
    ['{ link:spanID = "0000000000000011" }', [4, 5]],
    ['{ link:traceID = "77" && link:spanID = "11" }', [5]], // same link
    ['{ link.opentracing.ref_type = "child_of" }', [4]],
    ['{ link.kind != nil }', [5]],
    ['{ link.opentracing.ref_type = nil }', [4, 5]],
  ])('%s', (q, want) => {
    expect(ids(q, t)).toEqual(want);
  });

  it('events in separate spanset filters may be different events', () => {
    expect(ids('{ event.a = 1 } && { event.b = 2 }', t)).toEqual([1, 2]);
  });
});

/*
 * 1 frontend (root) ── 2 frontend client ── 3 checkout server ─┬─ 4 checkout "db"
 *   └─ 7 frontend "db"                                          └─ 5 payments server (error)
 *                                                                   └─ 6 payments "db" (error)
 * 8 payments (error), parent 99 is missing: no nested-set numbers
 */
const TREE: SpanSpec[] = [
  { id: 1, service: 'frontend', name: 'GET /' },
  { id: 2, parent: 1, service: 'frontend', name: 'call' },
  { id: 3, parent: 2, service: 'checkout', name: 'checkout' },
  { id: 4, parent: 3, service: 'checkout', name: 'db' },
  { id: 5, parent: 3, service: 'payments', name: 'charge', status: 2 },
  { id: 6, parent: 5, service: 'payments', name: 'db', status: 2 },
  { id: 7, parent: 1, service: 'frontend', name: 'db' },
  { id: 8, parent: 99, service: 'payments', name: 'orphan', status: 2 },
];

describe('spanset operators', () => {
  const t = trace(TREE);
  const CHECKOUT = '{ resource.service.name = "checkout" }';
  const ERR = '{ status = error }';
  const FRONT = '{ resource.service.name = "frontend" }';

  it.each([
    [`${ERR} && ${CHECKOUT}`, [3, 4, 5, 6, 8]],
    [`${ERR} && { name = "nothing" }`, []],
    [`${ERR} || { name = "nothing" }`, [5, 6, 8]],
    [`${ERR} || ${CHECKOUT}`, [3, 4, 5, 6, 8]],
    [`${CHECKOUT} > ${ERR}`, [5]], // B spans whose parent is in A
    [`${CHECKOUT} >> ${ERR}`, [5, 6]], // B spans with an ancestor in A
    [`${ERR} < {}`, [3, 5]], // B spans that are the parent of an A span
    [`${ERR} << {}`, [1, 2, 3, 5]], // B spans with a descendant in A
    [`{ name = "db" } ~ {}`, [2, 5]], // B spans with a sibling in A
    [`{ name = "checkout" } ~ {}`, []],
    [`${FRONT} ~ ${FRONT}`, [2, 7]],
    [`${CHECKOUT} !> ${ERR}`, [6, 8]],
    [`${CHECKOUT} !>> ${ERR}`, [8]],
    [`{} !< {}`, [4, 6, 7, 8]], // leaves, and the orphan
    [`${ERR} !<< {}`, [4, 6, 7, 8]],
    [`{ name = "db" } !~ {}`, [1, 3, 4, 6, 7, 8]],
    [`{ name = "none" } !> ${ERR}`, [5, 6, 8]], // an empty left side still answers
    [`${CHECKOUT} &> ${ERR}`, [3, 5]], // both sides of the relation
    [`${CHECKOUT} &>> ${ERR}`, [3, 5, 6]],
    [`${ERR} &< ${CHECKOUT}`, [3, 5]],
    [`${ERR} &<< ${FRONT}`, [1, 2, 5, 6]],
    [`{ name = "db" } &~ {}`, [2, 4, 5, 7]],
    [`${ERR} &> { name = "none" }`, []],
    [`${FRONT} > ${CHECKOUT} > ${ERR}`, [5]], // (FRONT > CHECKOUT) gives 3; 3 > ERR gives 5
    [`${FRONT} > (${CHECKOUT} > ${ERR})`, []], // CHECKOUT > ERR gives 5, whose parent is not frontend
  ])('%s', (q, want) => {
    expect(ids(q, t)).toEqual(want);
  });

  it('chains left to right', () => {
    // ({frontend} > {checkout}) yields span 3; 3 > {error} yields 5.
    expect(ids(`${FRONT} >> ${CHECKOUT} > ${ERR}`, t)).toEqual([5]);
    expect(ids(`${FRONT} >> ${CHECKOUT} >> { name = "db" }`, t)).toEqual([4, 6]);
  });

  it('several roots are siblings (parent -1), as in Tempo', () => {
    const u = trace([{ id: 1 }, { id: 2 }, { id: 3, parent: 1 }]);
    expect(ids('{} ~ {}', u)).toEqual([1, 2]);
    expect(ids('{ span:id = "1" } > {}', u)).toEqual([3]);
  });

  it('Zipkin client/server pairs sharing a span ID nest by kind', () => {
    const u = trace([
      { id: 1, kind: 2, name: 'root' },
      { id: 5, parent: 1, kind: 3, name: 'client' },
      { id: 5, parent: 5, kind: 2, name: 'server' },
      { id: 6, parent: 5, kind: 1, name: 'work' },
    ]);
    expect(sets('{ kind = client } > {}', u)).toEqual([[5]]);
    expect(compileSearch('{ name = "client" } > {}').evaluate(u)[0]!.spans.map((s) => s.name)).toEqual(['server']);
    expect(compileSearch('{ name = "server" } > {}').evaluate(u)[0]!.spans.map((s) => s.name)).toEqual(['work']);
    expect(compileSearch('{ name = "root" } >> {}').evaluate(u)[0]!.spans.map((s) => s.name)).toEqual(['client', 'server', 'work']);
  });

  it('more than two spans with one ID leave the trace without structure', () => {
    const u = trace([{ id: 1 }, { id: 2, parent: 1 }, { id: 2, parent: 1 }, { id: 2, parent: 1 }]);
    expect(ids('{} > {}', u)).toEqual([]);
    expect(sets('{} !> {}', u)).toEqual([[1, 2, 2, 2]]);
    expect(u.spans.every((s) => s.nestedSetLeft === 0)).toBe(true);
  });

  it('a trace without a root has no nested sets', () => {
    const u = trace([{ id: 2, parent: 1 }, { id: 3, parent: 2 }]);
    expect(ids('{} > {}', u)).toEqual([]);
    expect(u.rootServiceName).toBe('');
    expect(ids('{ span:childCount = 1 }', u)).toEqual([2]);
  });

  it('returns union results in trace order, spans once', () => {
    expect(sets(`${ERR} && ${CHECKOUT}`, t)).toEqual([[3, 4, 5, 6, 8]]);
    expect(sets(`${ERR} &<< ${FRONT}`, t)).toEqual([[1, 2, 5, 6]]);
  });
});

describe('pipelines', () => {
  const t = trace([
    { id: 1, service: 'a', attrs: { n: 1n, g: 'x' }, duration: 10n * MS },
    { id: 2, service: 'a', attrs: { n: 2n, g: 'y' }, duration: 20n * MS, status: 2 },
    { id: 3, service: 'b', attrs: { n: 3n, g: 'x' }, duration: 30n * MS, status: 2 },
    { id: 4, service: 'b', attrs: { n: 4.5, g: 'y' }, duration: 40n * MS },
    { id: 5, service: 'c', attrs: { g: 'z' }, duration: 50n * MS },
  ]);

  it.each([
    ['{ } | count() > 4', [[1, 2, 3, 4, 5]]],
    ['{ } | count() > 5', []],
    ['{ status = error } | count() = 2', [[2, 3]]],
    ['count() = 5', [[1, 2, 3, 4, 5]]],
    ['{ } | by(resource.service.name)', [[1, 2], [3, 4], [5]]],
    ['{ } | by(span.g) | count() > 1', [[1, 3], [2, 4]]],
    ['{ } | by(resource.service.name) | { status = error }', [[2], [3]]],
    ['{ } | by(resource.service.name) | coalesce()', [[1, 2, 3, 4, 5]]],
    ['{ } | by(span.g) | by(resource.service.name)', [[1], [3], [2], [4], [5]]],
    ['{ } | avg(duration) = 30ms', [[1, 2, 3, 4, 5]]],
    ['{ } | max(duration) > 45ms', [[1, 2, 3, 4, 5]]],
    ['{ } | min(duration) < 10ms', []],
    ['{ } | sum(span.n) = 10.5', [[1, 2, 3, 4, 5]]],
    ['{ } | by(resource.service.name) | avg(span.n) > 2', [[3, 4]]],
    ['{ } | by(resource.service.name) | sum(span.n) >= 3', [[1, 2], [3, 4]]],
    ['max(duration) > 45ms | { status = error }', [[2, 3]]],
    ['{ } | select(span.n)', [[1, 2, 3, 4, 5]]],
    ['({ } | count() > 4) && { status = error }', [[1, 2, 3, 4, 5]]],
    ['({ } | count() > 9) && { status = error }', []],
    ['({ status = error } | count() > 1) > { }', []],
    ['{ } | by(span.g) | { span.n = 1 } > { }', []],
    ['{ .g = "x" } | { status = error }', [[3]]],
  ])('%s', (q, want) => {
    expect(sets(q, t)).toEqual(want);
  });

  it('spanset attributes carry by() values and aggregates', () => {
    const out = compileSearch('{ } | by(resource.service.name) | count() > 1 | avg(duration) > 1ms').evaluate(t);
    expect(out.map((s) => s.attributes)).toEqual([
      [
        { key: 'by(resource.service.name)', value: { stringValue: 'a' } },
        { key: 'count()', value: { intValue: 2n } },
        { key: 'avg(duration)', value: { stringValue: '15ms' } },
      ],
      [
        { key: 'by(resource.service.name)', value: { stringValue: 'b' } },
        { key: 'count()', value: { intValue: 2n } },
        { key: 'avg(duration)', value: { stringValue: '35ms' } },
      ],
    ]);
    const missing = compileSearch('{ } | by(span.n)').evaluate(t);
    expect(missing.map((s) => s.attributes[0]!.value)).toEqual([
      { intValue: 1n },
      { intValue: 2n },
      { intValue: 3n },
      { doubleValue: 4.5 },
      { stringValue: 'nil' },
    ]);
    expect(compileSearch('{ } | by(span.g) | coalesce()').evaluate(t)[0]!.attributes).toEqual([]);
  });

  it('a structural operator on several spansets fails as in Tempo', () => {
    expect(() => compileSearch('({ } | by(span.g)) > { }').evaluate(t)).toThrow(EvaluationError);
    expect(() => compileSearch('({ } | by(span.g)) > { }').evaluate(t)).toThrow(/consider using coalesce\(\)/);
    expect(ids('({ } | by(span.g) | coalesce()) >> { }', t)).toEqual([]);
    expect(ids('({ span.g = "z" } | by(span.g)) !> { span.n = 1 }', t)).toEqual([1]);
  });
});

describe('compileSearch', () => {
  it('rejects metrics queries with a 400-class error', () => {
    for (const q of ['{ } | rate()', '{ status = error } | count_over_time() by (resource.service.name)', '({} | rate()) / ({} | rate())']) {
      let err: unknown;
      try {
        compileSearch(q);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MetricsQueryError);
      expect((err as MetricsQueryError).httpStatus).toBe(400);
      expect((err as Error).message).toBe('metrics queries are not supported by search; use /api/metrics/query_range');
    }
  });

  it('throws the parser and validator errors unchanged', () => {
    expect(() => compileSearch('{ .a = }')).toThrow(ParseError);
    expect(() => compileSearch('{ status > ok }')).toThrow(ValidationError);
    expect(() => compileSearch('{ parent.duration = 1h }')).toThrow(UnsupportedError);
  });

  it('reads the most_recent hint', () => {
    expect(compileSearch('{ } with (most_recent=true)').mostRecent).toBe(true);
    expect(compileSearch('{ } with (most_recent=false)').mostRecent).toBe(false);
    expect(compileSearch('{ }').mostRecent).toBe(false);
  });

  it('evaluates very long operator chains without deep recursion', () => {
    const t = trace([{ id: 1, attrs: { a: 7n } }, { id: 2, attrs: { a: 8n } }]);
    const ors = Array.from({ length: 3000 }, (_, i) => `span.a = ${i + 100}`).join(' || ');
    expect(ids(`{ ${ors} || span.a = 7 }`, t)).toEqual([1]);
    const mixed = Array.from({ length: 3000 }, (_, i) => (i % 2 ? `span.a = ${i + 100} ||` : `span.a != ${i + 100} &&`)).join(' ');
    expect(() => ids(`{ ${mixed} true }`, t)).not.toThrow();
    const sum = Array.from({ length: 3000 }, () => '1').join(' + ');
    expect(ids(`{ span.a + ${sum} = 3008 }`, t)).toEqual([2]);
  });
});
