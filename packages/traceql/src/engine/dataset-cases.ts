// Test support (not built): a deterministic dataset of ~300 traces for result tests.
//  - checkout traces: frontend -> checkout -> payments/db, with slow (> 2s) and erroring spans,
//    exception events and links;
//  - search traces: search -> index / auth, with attributes of every type (string, int, double,
//    bool, string and int arrays);
//  - odd traces: single spans, several roots, orphans (missing parent), Zipkin shared span IDs,
//    producer/consumer kinds.
// Every span carries a unique int attribute `seq`, which the tests use to name spans.

import { mulberry32, type Trace } from '@andante/model';
import type { SpanSpec, Val } from './fixtures-cases.js';
import { makeTrace } from './fixtures-cases.js';

const MS = 1_000_000n;

export function generateDataset(count = 300, seed = 7): Trace[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const chance = (p: number): boolean => rand() < p;
  const ms = (lo: number, hi: number): bigint => BigInt(Math.floor(lo + rand() * (hi - lo))) * MS;
  let seq = 0;
  const traces: Trace[] = [];

  for (let i = 0; i < count; i++) {
    const specs: SpanSpec[] = [];
    let nextId = 1;
    const env = pick(['prod', 'prod', 'staging']);
    const add = (s: Omit<SpanSpec, 'id'> & { id?: number }): number => {
      const id = s.id ?? nextId++;
      const attrs: Record<string, Val> = { seq: BigInt(seq++), ...(s.attrs ?? {}) };
      const svc = s.service ?? 'svc';
      specs.push({ ...s, id, attrs, resource: { 'deployment.environment': env, 'k8s.pod.name': `${svc}-${i % 4}`, ...(s.resource ?? {}) } });
      return id;
    };
    const kind = i % 10;

    if (kind < 4) {
      // checkout: frontend -> checkout -> (cart db, payments -> payments db)
      const slow = chance(0.35);
      const failing = chance(0.35);
      const total = slow ? ms(2100, 4000) : ms(50, 1900);
      const root = add({ service: 'frontend', name: 'GET /checkout', kind: 2, duration: total + 10n * MS, attrs: { 'http.method': 'GET', 'http.route': '/checkout', 'http.status_code': failing ? 500n : 200n } });
      const call = add({ parent: root, service: 'frontend', name: 'HTTP POST checkout', kind: 3, start: 1n * MS, duration: total + 5n * MS, attrs: { 'http.method': 'POST' } });
      const checkoutDur = slow ? total : ms(20, 1500);
      const errMsg = pick(['payment failed', 'timeout', 'card declined']);
      const co = add({
        parent: call,
        service: 'checkout',
        name: 'POST /api/checkout',
        kind: 2,
        start: 2n * MS,
        duration: checkoutDur,
        status: failing ? 2 : chance(0.5) ? 1 : 0,
        statusMessage: failing ? errMsg : '',
        attrs: { 'http.method': 'POST', 'http.route': '/api/checkout', 'http.status_code': failing ? 500n : 200n, retry: chance(0.3), ratio: Math.round(rand() * 100) / 100 },
        events: failing ? [{ name: 'exception', at: 3n * MS, attrs: { 'exception.message': errMsg, 'exception.type': 'CheckoutError' } }] : [{ name: 'checkpoint', at: 1n * MS, attrs: { step: 1n } }],
        links: chance(0.2) ? [{ traceId: 1000 + i, spanId: 7, attrs: { 'opentracing.ref_type': 'follows_from' } }] : [],
      });
      add({ parent: co, service: 'checkout', name: 'SELECT cart', kind: 3, start: 3n * MS, duration: ms(1, 80), attrs: { 'db.system': 'redis', 'http.route': '/api/cart' } });
      const payFail = failing && chance(0.7);
      const charge = add({ parent: co, service: 'checkout', name: 'charge', kind: 3, start: 5n * MS, duration: slow && chance(0.5) ? ms(2050, 2100) : ms(10, 400), status: payFail ? 2 : 0, statusMessage: payFail ? 'card declined' : '' });
      const pay = add({ parent: charge, service: 'payments', name: 'Charge', kind: 2, start: 6n * MS, duration: ms(5, 300), status: payFail ? 2 : 1, attrs: { 'http.method': 'POST', 'http.status_code': payFail ? 402n : 200n, amount: BigInt(Math.floor(rand() * 500)) } });
      add({ parent: pay, service: 'payments', name: 'INSERT payment', kind: 3, start: 7n * MS, duration: ms(1, 50), status: payFail && chance(0.5) ? 2 : 0, attrs: { 'db.system': 'postgresql', tags: ['sql', 'write'] } });
    } else if (kind < 7) {
      // search: search -> index query, auth
      const root = add({ service: 'search', name: 'GET /search', kind: 2, duration: ms(30, 2600), attrs: { 'http.method': 'GET', 'http.route': '/search', 'http.status_code': pick([200n, 200n, 404n, 503n]) } });
      const hits = BigInt(Math.floor(rand() * 50));
      add({
        parent: root,
        service: 'search',
        name: 'query index',
        kind: 1,
        start: 1n * MS,
        duration: ms(5, 2200),
        attrs: {
          hits,
          ratio: Math.round(rand() * 100) / 100,
          cache_hit: chance(0.5),
          tags: chance(0.5) ? ['beta', 'fast'] : ['stable'],
          codes: [BigInt(Math.floor(rand() * 10)), 7n],
          'db.system': pick(['elasticsearch', 'postgresql']),
        },
        events: chance(0.3) ? [{ name: 'retry', at: 2n * MS, attrs: { attempt: 2n } }, { name: 'exception', at: 4n * MS, attrs: { 'exception.message': 'index timeout' } }] : [],
      });
      const http = add({ parent: root, service: 'search', name: 'HTTP GET', kind: 3, start: 2n * MS, duration: ms(2, 100) });
      add({ parent: http, service: 'auth', name: 'Verify', kind: 2, start: 3n * MS, duration: ms(1, 90), status: chance(0.2) ? 2 : 0, statusMessage: chance(0.5) ? 'unauthenticated' : '', attrs: { 'http.status_code': 200n, user: pick(['alice', 'bob', 'carol']) } });
    } else if (kind === 7) {
      // single span or producer/consumer pair
      const p = add({ service: 'cron', name: 'nightly job', kind: 4, duration: ms(100, 5000), attrs: { 'job.id': BigInt(i), ratio: 0.25, 'http.method': 'GET' } });
      if (chance(0.5)) add({ parent: p, service: 'worker', name: 'process', kind: 5, start: 1n * MS, duration: ms(10, 3000), status: chance(0.4) ? 2 : 0 });
    } else if (kind === 8) {
      // several roots and an orphan
      const r1 = add({ service: 'frontend', name: 'GET /', kind: 2, duration: ms(10, 300) });
      add({ parent: r1, service: 'checkout', name: 'POST /api/checkout', kind: 2, duration: ms(2100, 2500), status: 2, statusMessage: 'timeout' });
      add({ service: 'frontend', name: 'GET /favicon', kind: 2, duration: ms(1, 5) });
      add({ parent: 999, service: 'payments', name: 'Charge', kind: 2, duration: ms(1, 50), status: 2 });
    } else {
      // Zipkin: client and server share a span ID
      const root = add({ service: 'frontend', name: 'GET /checkout', kind: 2, duration: ms(100, 3000) });
      add({ id: 50, parent: root, service: 'frontend', name: 'call checkout', kind: 3, duration: ms(50, 2500) });
      add({ id: 50, parent: 50, service: 'checkout', name: 'POST /api/checkout', kind: 2, duration: ms(40, 2400), status: chance(0.5) ? 2 : 0 });
      add({ id: 51, parent: 50, service: 'checkout', name: 'SELECT cart', kind: 3, duration: ms(1, 20), attrs: { 'db.system': 'redis' } });
    }
    traces.push(makeTrace(specs, 0x1_0000n + BigInt(i)));
  }
  return traces;
}
