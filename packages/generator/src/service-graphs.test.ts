import { describe, expect, it } from 'vitest';
import { SpanKind, StatusCode, bytesToHex } from '@andante/model';
import { defaultGeneratorConfig, type ServiceGraphsConfig } from './config.js';
import { TenantRegistry, type TimeSeries } from './registry.js';
import { EdgeStore, ServiceGraphsProcessor } from './service-graphs.js';
import { batch, span } from './test-spans.fixture.js';

const T = 'ab'.repeat(16);
const ID = (n: number): string => n.toString(16).padStart(16, '0');

function setup(over: Partial<ServiceGraphsConfig> = {}) {
  const clock = { t: 1_000_000 };
  const reg = new TenantRegistry({ tenant: 't', staleDurationMs: 900_000, externalLabels: {}, injectTenantIdAs: '', maxLabelNameLength: 1024, maxLabelValueLength: 2048, maxActiveSeries: () => 0, now: () => clock.t });
  const counts = { edges: 0, expired: 0, dropped: 0 };
  const proc = new ServiceGraphsProcessor(
    { ...defaultGeneratorConfig().processor.service_graphs, ...over },
    reg,
    { edges: (n) => (counts.edges += n), expiredEdges: (n) => (counts.expired += n), droppedSpans: (n) => (counts.dropped += n) },
    () => clock.t,
  );
  return { proc, reg, clock, counts };
}
const labelsOf = (s: TimeSeries): Record<string, string> => Object.fromEntries(s.labels);
function edges(reg: TenantRegistry, metric = 'traces_service_graph_request_total'): string[] {
  return reg
    .collect()
    .series.filter((s) => labelsOf(s)['__name__'] === metric)
    .map((s) => {
      const { __name__, client, server, connection_type, ...rest } = labelsOf(s);
      const extra = Object.entries(rest).map(([k, v]) => `,${k}=${v}`).join('');
      return `${client}->${server}[${connection_type ?? ''}${extra}]=${s.samples[0]!.value}`;
    })
    .sort();
}

describe('service-graphs', () => {
  it('pairs a client span with the server span it is the parent of, in either order', () => {
    const { proc, reg, counts } = setup();
    proc.pushSpans([batch({ 'service.name': 'web' }, [span({ kind: SpanKind.CLIENT, id: ID(1), trace: T, ms: 120 })])]);
    proc.pushSpans([batch({ 'service.name': 'checkout' }, [span({ kind: SpanKind.SERVER, id: ID(2), parent: ID(1), trace: T, ms: 100 })])]);
    // server first this time
    proc.pushSpans([batch({ 'service.name': 'checkout' }, [span({ kind: SpanKind.SERVER, id: ID(4), parent: ID(3), trace: T, status: StatusCode.ERROR })])]);
    proc.pushSpans([batch({ 'service.name': 'web' }, [span({ kind: SpanKind.CLIENT, id: ID(3), trace: T })])]);
    expect(edges(reg)).toEqual(['web->checkout[]=2']);
    expect(edges(reg, 'traces_service_graph_request_failed_total')).toEqual(['web->checkout[]=1']);
    expect(counts.edges).toBe(2);
    const series = reg.collect().series;
    const client = series.find((s) => labelsOf(s)['__name__'] === 'traces_service_graph_request_client_seconds_bucket' && labelsOf(s)['le'] === '0.2')!;
    const server = series.find((s) => labelsOf(s)['__name__'] === 'traces_service_graph_request_server_seconds_bucket' && labelsOf(s)['le'] === '0.1')!;
    expect(client.samples[0]!.value).toBe(2); // 120 ms and 10 ms
    expect(server.samples[0]!.value).toBe(2); // 100 ms and 10 ms
    expect(proc.store.size).toBe(0);
  });

  it('makes a database edge from a client span with db attributes, named by the first naming attribute present', () => {
    const { proc, reg } = setup();
    proc.pushSpans([
      batch({ 'service.name': 'checkout' }, [
        span({ kind: SpanKind.CLIENT, trace: T, attrs: { 'db.system': 'postgresql', 'db.name': 'orders' } }),
        span({ kind: SpanKind.CLIENT, trace: T, attrs: { 'db.system': 'redis', 'server.address': 'cache-1' } }),
        span({ kind: SpanKind.CLIENT, trace: T, attrs: { 'db.system': 'mysql', 'network.peer.address': '10.0.0.5', 'network.peer.port': 3306 } }),
        span({ kind: SpanKind.CLIENT, trace: T, attrs: { 'db.namespace': 'inventory', 'peer.service': 'pg-main' } }),
      ]),
    ]);
    expect(edges(reg)).toEqual(['checkout->10.0.0.5:3306[database]=1', 'checkout->cache-1[database]=1', 'checkout->orders[database]=1', 'checkout->pg-main[database]=1']);
  });

  it('makes messaging edges from producer/consumer pairs, with the messaging latency histogram when enabled', () => {
    const { proc, reg } = setup({ enable_messaging_system_latency_histogram: true });
    const p = span({ kind: SpanKind.PRODUCER, id: ID(7), trace: T, ms: 5 });
    const c = span({ kind: SpanKind.CONSUMER, id: ID(8), parent: ID(7), trace: T, ms: 5 });
    c.startTimeUnixNano = p.endTimeUnixNano + 250_000_000n;
    c.endTimeUnixNano = c.startTimeUnixNano + 5_000_000n;
    proc.pushSpans([batch({ 'service.name': 'orders' }, [p]), batch({ 'service.name': 'shipping' }, [c])]);
    expect(edges(reg)).toEqual(['orders->shipping[messaging_system]=1']);
    const sum = reg.collect().series.find((s) => labelsOf(s)['__name__'] === 'traces_service_graph_request_messaging_system_seconds_sum')!;
    expect(sum.samples[0]!.value).toBeCloseTo(0.25, 9);
  });

  it.each([
    ['a root server span becomes user -> server', [{ svc: 'web', kind: SpanKind.SERVER, attrs: {} }], ['user->web[virtual_node]=1'], 0],
    ['a root server span with a peer attribute names the client', [{ svc: 'web', kind: SpanKind.SERVER, attrs: { 'peer.service': 'mobile-app' } }], ['mobile-app->web[virtual_node]=1'], 0],
    ['a client span with peer.service names a virtual server', [{ svc: 'payments', kind: SpanKind.CLIENT, attrs: { 'peer.service': 'stripe' } }], ['payments->stripe[virtual_node]=1'], 0],
    ['a lone client span without peer attributes expires uncounted', [{ svc: 'payments', kind: SpanKind.CLIENT, attrs: {} }], [], 1],
    ['a non-root server span whose client never came expires uncounted', [{ svc: 'payments', kind: SpanKind.SERVER, attrs: {}, parent: ID(99) }], [], 1],
  ])('after wait: %s', (_name, spans, want, expired) => {
    const { proc, reg, clock, counts } = setup();
    proc.pushSpans(spans.map((s) => batch({ 'service.name': s.svc }, [span({ kind: s.kind, trace: T, attrs: s.attrs, ...('parent' in s ? { parent: s.parent as string } : {}) })])));
    proc.tick();
    expect(edges(reg)).toEqual([]); // nothing before `wait`
    clock.t += 10_000;
    proc.tick();
    expect(edges(reg)).toEqual(want);
    expect(counts.expired).toBe(expired);
  });

  it('drops spans when max_items edges are waiting, and counts them', () => {
    const { proc, counts } = setup({ max_items: 2 });
    proc.pushSpans([batch({ 'service.name': 'a' }, [1, 2, 3, 4].map((n) => span({ kind: SpanKind.CLIENT, id: ID(n), trace: T })))]);
    expect(proc.store.size).toBe(2);
    expect(counts.dropped).toBe(2);
  });

  it('adds dimensions, prefixed client_/server_ when enable_client_server_prefix is set', () => {
    const plain = setup({ dimensions: ['deployment.env'] });
    const prefixed = setup({ dimensions: ['deployment.env'], enable_client_server_prefix: true });
    for (const { proc } of [plain, prefixed]) {
      proc.pushSpans([
        batch({ 'service.name': 'web', 'deployment.env': 'prod' }, [span({ kind: SpanKind.CLIENT, id: ID(1), trace: T })]),
        batch({ 'service.name': 'api', 'deployment.env': 'canary' }, [span({ kind: SpanKind.SERVER, id: ID(2), parent: ID(1), trace: T })]),
      ]);
    }
    expect(edges(plain.reg)).toEqual(['web->api[,deployment_env=canary]=1']);
    expect(edges(prefixed.reg)).toEqual(['web->api[,client_deployment_env=prod,server_deployment_env=canary]=1']);
  });
});

describe('EdgeStore', () => {
  it('finds, pairs and expires edges exactly like a Map keyed by trace and span ID, through growth, deletions and odd ID lengths', () => {
    // A deterministic random walk checked against a reference model: keys drawn from a small
    // space (so lookups hit waiting edges) and from the 0-byte / odd-length paths.
    let seed = 12345;
    const rnd = (n: number): number => {
      // mulberry32: a linear congruential generator's low bits repeat too soon for `% n`.
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const clock = { t: 0 };
    const completed: string[] = [];
    const expired: string[] = [];
    const keyOf = (e: { traceId: string }): string => e.traceId;
    const store = new EdgeStore(100, 5_000, (e) => completed.push(keyOf(e)), (e) => expired.push(keyOf(e)), () => clock.t);
    const model = new Map<string, { side: 'client' | 'server'; expires: number }>();
    const want = { completed: [] as string[], expired: [] as string[] };
    const traces = Array.from({ length: 200 }, (_, i) => Uint8Array.from({ length: 16 }, (_, j) => (i * 31 + j * 7) & 255));
    const oddTrace = Uint8Array.from([1, 2, 3]);
    let maxSize = 0;
    for (let step = 0; step < 60_000; step++) {
      if (rnd(50) === 0) clock.t += rnd(30);
      const odd = rnd(40) === 0;
      const trace = odd ? oddTrace : traces[rnd(traces.length)]!;
      const idLength = odd ? rnd(3) + 1 : rnd(30) === 0 ? 0 : 8;
      const id = Uint8Array.from({ length: idLength }, (_, j) => (j === 0 || j === idLength - 1 ? rnd(6) : 0));
      const key = `${bytesToHex(trace)}/${bytesToHex(id)}`;
      const side = rnd(2) === 0 ? 'client' : 'server';
      // Expire first, as a tick would.
      if (rnd(20) === 0) {
        store.expire();
        for (const [k, v] of model) {
          if (v.expires > clock.t) break;
          model.delete(k);
          want.expired.push(k);
        }
      }
      // The ID bytes sit at an offset inside a larger buffer, as in a segment.
      const buf = new Uint8Array(5 + trace.length + id.length);
      buf.set(trace, 5);
      buf.set(id, 5 + trace.length);
      const e = store.edgeFor(buf, 5, trace.length, buf, 5 + trace.length, id.length, idLength === 0, clock.t);
      const waiting = model.get(key);
      expect(e.stored).toBe(waiting !== undefined);
      e.traceId = key;
      if (side === 'client') e.clientService = 'c';
      else e.serverService = 's';
      const result = store.settle(e);
      if (waiting === undefined) {
        expect(result).toBe('new');
        model.set(key, { side, expires: clock.t + 100 });
      } else if (waiting.side !== side) {
        expect(result).toBe('updated');
        model.delete(key);
        want.completed.push(key);
      } else expect(result).toBe('updated');
      expect(store.size).toBe(model.size);
      maxSize = Math.max(maxSize, store.size);
    }
    store.expireAll();
    want.expired.push(...model.keys());
    expect(completed).toEqual(want.completed);
    expect(expired).toEqual(want.expired);
    expect(store.size).toBe(0);
    expect(maxSize).toBeGreaterThan(512); // the table (1,024 slots, at most half full) grew
    expect(want.completed.length).toBeGreaterThan(1_000);
    expect(want.expired.length).toBeGreaterThan(1_000);
  });
});
