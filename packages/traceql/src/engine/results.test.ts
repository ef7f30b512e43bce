// Result tests: the engine's answers over a generated dataset equal those of an independent
// reference evaluator (reference-cases.ts), query by query.

import { describe, expect, it } from 'vitest';
import { generateDataset } from './dataset-cases.js';
import { compileSearch } from './engine.js';
import { buildEvalTrace } from './eval-trace.js';
import type { RQuery } from './reference-cases.js';
import {
  ancestor,
  and,
  both,
  by,
  child,
  cmp,
  countIs,
  descendant,
  duration,
  either,
  filter,
  has,
  kind,
  lacks,
  name,
  or,
  parentOf,
  re,
  res,
  rootName,
  rootService,
  span,
  status,
  statusMessage,
  toReference,
  traceDuration,
  unscoped,
} from './reference-cases.js';

const MS = 1e6;
const S = 1e9;

const traces = generateDataset(300);
const evalTraces = traces.map(buildEvalTrace);
const refTraces = traces.map(toReference);

const svc = (n: string): RQuery => filter(cmp(res('service.name'), '=', n));
const ERR = filter(cmp(status, '=', 'error'));
const ALL = filter(() => true);

const CASES: [string, RQuery][] = [
  ['{ resource.service.name = "checkout" && duration > 2s && status = error }', filter(and(cmp(res('service.name'), '=', 'checkout'), cmp(duration, '>', 2 * S), cmp(status, '=', 'error')))],
  ['{ resource.service.name = "checkout" }', svc('checkout')],
  ['{ duration > 2s }', filter(cmp(duration, '>', 2 * S))],
  ['{ duration <= 50ms }', filter(cmp(duration, '<=', 50 * MS))],
  ['{ status = error }', ERR],
  ['{ status != error }', filter(cmp(status, '!=', 'error'))],
  ['{ status = ok }', filter(cmp(status, '=', 'ok'))],
  ['{ status = unset && kind = server }', filter(and(cmp(status, '=', 'unset'), cmp(kind, '=', 'server')))],
  ['{ span.http.status_code >= 500 }', filter(cmp(span('http.status_code'), '>=', 500))],
  ['{ span.http.status_code >= 400 && span.http.status_code < 500 }', filter(and(cmp(span('http.status_code'), '>=', 400), cmp(span('http.status_code'), '<', 500)))],
  ['{ .http.method = "POST" }', filter(cmp(unscoped('http.method'), '=', 'POST'))],
  ['{ span.http.method != "GET" }', filter(cmp(span('http.method'), '!=', 'GET'))],
  ['{ .service.name = "payments" }', filter(cmp(unscoped('service.name'), '=', 'payments'))],
  ['{ resource.deployment.environment = "prod" && kind = server }', filter(and(cmp(res('deployment.environment'), '=', 'prod'), cmp(kind, '=', 'server')))],
  ['{ name =~ "GET .*" }', filter(re(name, 'GET .*'))],
  ['{ name !~ ".*checkout.*" }', filter(re(name, '.*checkout.*', true))],
  ['{ span.db.system =~ "postgres.*|redis" }', filter(re(span('db.system'), 'postgres.*|redis'))],
  ['{ span.tags = "beta" }', filter(cmp(span('tags'), '=', 'beta'))],
  ['{ span.tags != "beta" }', filter(cmp(span('tags'), '!=', 'beta'))],
  ['{ span.tags =~ "s.*" }', filter(re(span('tags'), 's.*'))],
  ['{ span.codes = 7 }', filter(cmp(span('codes'), '=', 7))],
  ['{ span.codes < 3 }', filter(cmp(span('codes'), '<', 3))],
  ['{ span.ratio > 0.5 }', filter(cmp(span('ratio'), '>', 0.5))],
  ['{ span.retry = true }', filter(cmp(span('retry'), '=', true))],
  ['{ span.cache_hit != true }', filter(cmp(span('cache_hit'), '!=', true))],
  ['{ kind = client || kind = producer }', filter(or(cmp(kind, '=', 'client'), cmp(kind, '=', 'producer')))],
  ['{ statusMessage = "card declined" }', filter(cmp(statusMessage, '=', 'card declined'))],
  ['{ rootServiceName = "frontend" && status = error }', filter(and(cmp(rootService, '=', 'frontend'), cmp(status, '=', 'error')))],
  ['{ rootName = "GET /checkout" && name = "SELECT cart" }', filter(and(cmp(rootName, '=', 'GET /checkout'), cmp(name, '=', 'SELECT cart')))],
  ['{ traceDuration > 3s }', filter(cmp(traceDuration, '>', 3 * S))],
  ['{ span.http.status_code = nil && resource.service.name = "checkout" }', filter(and(lacks(span('http.status_code')), cmp(res('service.name'), '=', 'checkout')))],
  ['{ span.user != nil }', filter(has(span('user')))],
  ['{ .http.route = "/api/cart" || duration > 2500ms }', filter(or(cmp(unscoped('http.route'), '=', '/api/cart'), cmp(duration, '>', 2500 * MS)))],
  ['{ resource.k8s.pod.name =~ "checkout-.*" && status = error }', filter(and(re(res('k8s.pod.name'), 'checkout-.*'), cmp(status, '=', 'error')))],
  ['{ span.ratio <= 0.25 || span.retry = true }', filter(or(cmp(span('ratio'), '<=', 0.25), cmp(span('retry'), '=', true)))],
  ['{ span.amount > 250 && status != error }', filter(and(cmp(span('amount'), '>', 250), cmp(status, '!=', 'error')))],
  // structure
  ['{ resource.service.name = "frontend" } > { resource.service.name = "checkout" }', child(svc('frontend'), svc('checkout'))],
  ['{ resource.service.name = "checkout" } >> { span.db.system = "postgresql" }', descendant(svc('checkout'), filter(cmp(span('db.system'), '=', 'postgresql')))],
  ['{ resource.service.name = "frontend" } >> { status = error }', descendant(svc('frontend'), ERR)],
  ['{ status = error } < { resource.service.name = "checkout" }', parentOf(ERR, svc('checkout'))],
  ['{ span.db.system != nil } << { resource.service.name = "frontend" }', ancestor(filter(has(span('db.system'))), svc('frontend'))],
  ['{ } > { status = error }', child(ALL, ERR)],
  ['{ resource.service.name = "checkout" && duration > 2s } >> { status = error }', descendant(filter(and(cmp(res('service.name'), '=', 'checkout'), cmp(duration, '>', 2 * S))), ERR)],
  ['{ span.http.status_code > 499 } >> { span.http.status_code > 499 }', descendant(filter(cmp(span('http.status_code'), '>', 499)), filter(cmp(span('http.status_code'), '>', 499)))],
  ['{ kind = client } > { kind = server }', child(filter(cmp(kind, '=', 'client')), filter(cmp(kind, '=', 'server')))],
  ['{ resource.service.name = "frontend" } >> { resource.service.name = "checkout" } > { resource.service.name = "payments" }', child(descendant(svc('frontend'), svc('checkout')), svc('payments'))],
  // spanset logic
  ['{ status = error } && { resource.service.name = "payments" }', both(ERR, svc('payments'))],
  ['{ resource.service.name = "search" } || { duration > 2s }', either(svc('search'), filter(cmp(duration, '>', 2 * S)))],
  ['{ resource.service.name = "auth" && status = error } && { span.cache_hit = true }', both(filter(and(cmp(res('service.name'), '=', 'auth'), cmp(status, '=', 'error'))), filter(cmp(span('cache_hit'), '=', true)))],
  // pipelines
  ['{ status = error } | count() > 1', countIs(ERR, '>', 1)],
  ['{ resource.service.name = "checkout" } | count() >= 3', countIs(svc('checkout'), '>=', 3)],
  ['{ span.http.status_code = 200 } | count() > 2', countIs(filter(cmp(span('http.status_code'), '=', 200)), '>', 2)],
  ['{ status = error } | by(resource.service.name)', by(ERR, res('service.name'))],
  ['{ duration > 500ms } | by(span.http.method)', by(filter(cmp(duration, '>', 500 * MS)), span('http.method'))],
  ['{ kind = server } | by(resource.service.name) | count() > 1', (t) => by(filter(cmp(kind, '=', 'server')), res('service.name'))(t).filter((s) => s.length > 1)],
  ['{ } | by(span.db.system)', by(ALL, span('db.system'))],
];

/** A trace's answer as sorted lists of span seq numbers, spansets sorted too. */
function normalise(sets: number[][]): string[] {
  return sets.map((s) => [...s].sort((a, b) => a - b).join(',')).sort();
}

function engineAnswer(q: string): Map<string, string[]> {
  const query = compileSearch(q);
  const out = new Map<string, string[]>();
  for (const t of evalTraces) {
    const sets = query.evaluate(t);
    if (sets.length === 0) continue;
    const seqs = sets.map((ss) => ss.spans.map((s) => Number((s.attrs.get('seq') as { intValue: bigint }).intValue)));
    out.set(Buffer.from(t.traceId).toString('hex'), normalise(seqs));
  }
  return out;
}

function referenceAnswer(q: RQuery): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of refTraces) {
    const sets = q(t);
    if (sets.length === 0) continue;
    out.set(t.id, normalise(sets.map((ss) => ss.map((s) => s.seq))));
  }
  return out;
}

describe('engine vs reference evaluator over the generated dataset', () => {
  it('has a dataset with the features the queries need', () => {
    expect(traces.length).toBe(300);
    const spans = evalTraces.reduce((n, t) => n + t.spans.length, 0);
    expect(spans).toBeGreaterThan(1200);
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES)('%s', (q, ref) => {
    const want = referenceAnswer(ref);
    const got = engineAnswer(q);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [id, sets] of want) expect(got.get(id), `trace ${id}`).toEqual(sets);
  });

  it('the checkout query matches a non-trivial share of the traces', () => {
    const got = engineAnswer('{ resource.service.name = "checkout" && duration > 2s && status = error }');
    expect(got.size).toBeGreaterThan(5);
    expect(got.size).toBeLessThan(120);
  });
});
