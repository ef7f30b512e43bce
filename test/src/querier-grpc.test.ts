// The querier in its own process (issue 12 §2): `-target=querier,query-frontend` reads recent data
// from `-target=ingester` processes over internal gRPC (search-recent, tags, tag values, TraceQL
// metrics, trace by ID), through the ingester ring in a real etcd, with `-target=distributor`
// writing at replication factor 3. Every answer equals what `-target=all` gives on the same
// exports (each span once, although three ingesters hold it). Malformed requests to each new
// method get INVALID_ARGUMENT and the ingester keeps serving. At RF 1 a SIGKILLed ingester makes
// search answer 503 naming it, promptly, not a hang and not a silent partial.

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '@andante/model';
import { METRICS_QUERY_RANGE_METHOD, SEARCH_RECENT_METHOD, SEARCH_TAGS_METHOD, SEARCH_TAG_VALUES_METHOD } from '@andante/ingester-client';
import { startTestEtcd, type TestEtcd } from '@andante/ring/testing';
import { fetchTraceProto, killAllProcesses, makeTempDir, postOtlpHttp, removeTempDirs, startProcess, waitFor, type AndanteProcess } from './harness.js';
import { encodeRequest, makeSpan, randomTraceId, str } from './otlp.js';

let etcd: TestEtcd;
beforeAll(async () => {
  etcd = await startTestEtcd();
});
afterAll(async () => {
  await killAllProcesses();
  await etcd?.close();
  removeTempDirs();
});

// heartbeat_timeout (also the lease TTL) 10s: on a loaded 2-core machine a 3 s lease can lapse
// under a live ingester; only the RF 1 case waits for a dead one to turn UNHEALTHY.
function clusterConfig(prefix: string, target: string, name: string, rf: number, traces?: string) {
  const kvstore = { store: 'etcd', prefix, etcd: { endpoints: [etcd.endpoint], dial_timeout: '1s', max_retries: 2 } };
  const basic = (id: string) => ({ kvstore, heartbeat_period: '500ms', heartbeat_timeout: '10s', instance_id: id, instance_addr: '127.0.0.1' });
  return {
    target,
    server: { grpc_listen_address: '127.0.0.1', grpc_listen_port: 0 },
    ingester: { lifecycler: { id: `ingester-${name}`, address: '127.0.0.1', heartbeat_period: '500ms', ring: { kvstore, heartbeat_timeout: '10s', replication_factor: rf } } },
    metrics_generator: { ring: basic(`generator-${name}`) },
    compactor: { ring: basic(`compactor-${name}`) },
    distributor: { ring: basic(`distributor-${name}`) },
    // One bucket for the cluster (a shared directory here), as in distributed mode.
    ...(traces ? { storage: { trace: { local: { path: traces } } } } : {}),
  };
}

const NOW_S = Math.floor(Date.now() / 1000);

/** One export: a trace of `spans` spans of `service`, the same bytes to every target. */
function exportBody(service: string, spans: number, op: string): { id: string; body: Uint8Array } {
  const traceId = randomTraceId();
  const startNs = BigInt(NOW_S - 30) * 1_000_000_000n;
  const body = encodeRequest({
    resourceSpans: [
      {
        resource: { attributes: [str('service.name', service)], droppedAttributesCount: 0 },
        scopeSpans: [
          {
            scope: { name: 'querier-grpc', version: '', attributes: [], droppedAttributesCount: 0 },
            spans: Array.from({ length: spans }, (_, k) => makeSpan(traceId, undefined, { name: `${op}-${k}`, startNs: startNs + BigInt(k) * 1_000_000n, attributes: [str('http.method', k % 2 ? 'GET' : 'POST')] })),
            schemaUrl: '',
          },
        ],
        schemaUrl: '',
      },
    ],
  });
  return { id: bytesToHex(traceId), body };
}

async function getJson(port: number, path: string): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

async function ringActive(p: AndanteProcess, n: number): Promise<void> {
  await waitFor(
    async () => {
      const res = await fetch(`http://127.0.0.1:${p.ports.http}/ingester/ring`, { headers: { accept: 'application/json' } });
      const { shards } = (await res.json()) as { shards: { state: string }[] };
      return shards.length === n && shards.every((s) => s.state === 'ACTIVE');
    },
    60_000,
    `${n} ingesters ACTIVE on the ring`,
  );
}

function rawCall(port: number, path: string, body: Buffer): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const id = (b: Buffer): Buffer => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, id, id, body, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (err) => {
      client.close();
      resolve(err);
    });
  });
}

const spansOf = (t: { resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[] } | null | undefined): string[] =>
  (t?.resourceSpans ?? []).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name))).sort();

interface SearchJson {
  traces?: { traceID: string; rootServiceName: string; spanSets?: { matched: number }[] }[];
}

describe('querier in its own process over internal gRPC', () => {
  it('RF 3, three ingesters: trace by ID, TraceQL search, tags, tag values and query_range equal -target=all on the same exports; malformed requests to each new method get INVALID_ARGUMENT; after /flush the flushed blocks are read before any blocklist poll', async () => {
    const prefix = `querier-grpc-rf3-${process.pid}/`;
    const bucket = makeTempDir('qgrpc-bucket-');
    const ingesters = await Promise.all(['a', 'b', 'c'].map((n) => startProcess(makeTempDir(`qgrpc-ing-${n}-`), clusterConfig(prefix, 'ingester', n, 3, bucket), 90_000)));
    const distributor = await startProcess(makeTempDir('qgrpc-dist-'), clusterConfig(prefix, 'distributor', 'd', 3), 90_000);
    const querier = await startProcess(makeTempDir('qgrpc-querier-'), clusterConfig(prefix, 'querier,query-frontend', 'q', 3, bucket), 90_000);
    const all = await startProcess(makeTempDir('qgrpc-all-'), {}, 90_000);
    await ringActive(distributor, 3);
    await ringActive(querier, 3);
    // The querier's process serves nothing internally; each ingester does.
    expect((querier.ports as { grpc?: number | null }).grpc).toBeNull();

    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { id, body } = exportBody(i % 3 === 0 ? 'checkout' : 'cart', 4 + (i % 3), i % 2 ? 'read' : 'write');
      for (const p of [distributor, all]) {
        const res = await postOtlpHttp(p.ports.otlpHttp!, body);
        expect(res.status, res.text()).toBe(200);
      }
      ids.push(id);
    }

    // Trace by ID: the same spans, each once (three ingesters hold every one).
    for (const id of ids.slice(0, 4)) {
      const [a, b] = await Promise.all([fetchTraceProto(querier.ports.http, id), fetchTraceProto(all.ports.http, id)]);
      expect(a.status).toBe(200);
      expect(spansOf(a.trace)).toEqual(spansOf(b.trace));
      expect(spansOf(a.trace).length).toBeGreaterThanOrEqual(4);
    }

    // TraceQL search (recent data only: no start/end), tags and tag values.
    const paths = [
      `/api/search?q=${encodeURIComponent('{ resource.service.name = "checkout" }')}&limit=50`,
      `/api/search?q=${encodeURIComponent('{ span.http.method = "GET" && name =~ "read-.*" }')}&limit=50&spss=10`,
      '/api/v2/search/tags?scope=span',
      '/api/v2/search/tags',
      '/api/v2/search/tag/resource.service.name/values',
      '/api/v2/search/tag/span.http.method/values',
      '/api/search/tag/http.method/values',
    ];
    for (const path of paths) {
      const [a, b] = await Promise.all([getJson(querier.ports.http, path), getJson(all.ports.http, path)]);
      expect(a.status, `${path}: ${a.text}`).toBe(200);
      if (path.startsWith('/api/search?')) {
        const norm = (j: unknown) => ((j as SearchJson).traces ?? []).map((t) => [t.traceID, t.rootServiceName, (t.spanSets ?? []).map((s) => s.matched)]).sort();
        expect(norm(a.json)).toEqual(norm(b.json));
        expect(norm(a.json).length).toBeGreaterThan(0);
      } else {
        const strip = (j: unknown): unknown => {
          const { metrics: _metrics, ...rest } = j as Record<string, unknown>;
          return rest;
        };
        expect(strip(a.json)).toEqual(strip(b.json));
      }
    }
    expect(((await getJson(querier.ports.http, paths[0]!)).json as SearchJson).traces).toHaveLength(4);

    // TraceQL metrics: the same series and samples (each span counted once, not three times).
    const range = `start=${NOW_S - 300}&end=${NOW_S + 60}&step=60s`;
    for (const q of ['{ } | count_over_time() by (resource.service.name)', '{ span.http.method = "GET" } | rate()', '{ } | quantile_over_time(duration, .9) by (name)']) {
      const path = `/api/metrics/query_range?q=${encodeURIComponent(q)}&${range}`;
      const [a, b] = await Promise.all([getJson(querier.ports.http, path), getJson(all.ports.http, path)]);
      expect(a.status, a.text).toBe(200);
      // Labels and samples equal; exemplars are a sample of spans, so which ones differs with the
      // partitioning of the data, but each names one of the exported traces.
      type Series = { labels: unknown; samples: unknown; exemplars?: { labels: { key: string; value: { stringValue: string } }[] }[] };
      const series = (j: unknown) => ((j as { series?: Series[] }).series ?? []).map((x) => ({ labels: x.labels, samples: x.samples }));
      expect(series(a.json)).toEqual(series(b.json));
      expect(series(a.json).length).toBeGreaterThan(0);
      const exemplarTraces = ((a.json as { series?: Series[] }).series ?? []).flatMap((x) => (x.exemplars ?? []).map((e) => e.labels.find((l) => l.key === 'trace:id')!.value.stringValue));
      for (const t of exemplarTraces) expect(ids).toContain(t);
    }
    const counted = (await getJson(querier.ports.http, `/api/metrics/query_range?q=${encodeURIComponent('{ } | count_over_time()')}&${range}`)).json as { series: { samples: { value?: number }[] }[] };
    expect(counted.series[0]!.samples.reduce((n, s) => n + (s.value ?? 0), 0)).toBe(12 * 4 + 4 * 1 + 4 * 2);

    // Malformed requests to each new method: INVALID_ARGUMENT, and the ingester keeps serving.
    const port = (ingesters[0]!.ports as { grpc?: number | null }).grpc!;
    for (const path of [SEARCH_RECENT_METHOD, SEARCH_TAGS_METHOD, SEARCH_TAG_VALUES_METHOD, METRICS_QUERY_RANGE_METHOD]) {
      for (const body of [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0x0a, 0x40, 0x74]), Buffer.from([0x12, 0x03, 0x7b, 0x20, 0x7d])]) {
        const err = await rawCall(port, path, body);
        expect(err?.code, `${path}: ${err?.details}`).toBe(grpc.status.INVALID_ARGUMENT);
        expect(err?.details).toMatch(/malformed protobuf|no tenant_id/);
      }
    }
    expect(ingesters.every((p) => p.alive())).toBe(true);
    const again = await getJson(querier.ports.http, paths[0]!);
    expect(((again.json as SearchJson).traces ?? []).length).toBe(4);

    // Read-your-writes across the flush: the ingesters write their blocks (three replicas' blocks
    // of the same spans) and name them in their answers before the querier's blocklist polls
    // (blocklist_poll 5m): trace by ID and a windowed search still answer, each span and trace once.
    for (const p of ingesters) expect((await fetch(`http://127.0.0.1:${p.ports.http}/flush`, { method: 'POST' })).status).toBe(204);
    for (const id of ids.slice(0, 4)) {
      const [a, b] = await Promise.all([fetchTraceProto(querier.ports.http, id), fetchTraceProto(all.ports.http, id)]);
      expect(a.status).toBe(200);
      expect(spansOf(a.trace)).toEqual(spansOf(b.trace));
    }
    const windowed = `/api/search?q=${encodeURIComponent('{ resource.service.name = "checkout" }')}&limit=50&start=${NOW_S - 600}&end=${NOW_S + 600}`;
    const afterFlush = (await getJson(querier.ports.http, windowed)).json as SearchJson;
    expect((afterFlush.traces ?? []).map((t) => t.traceID).sort()).toEqual(ids.filter((_, i) => i % 3 === 0).sort());

    for (const p of [querier, distributor, all, ...ingesters]) expect(await p.stop()).toBe(0);
  }, 300_000);

  it('RF 1: a SIGKILLed ingester makes search answer 503 naming it (promptly, not a hang), and trace by ID of its traces 503 too', async () => {
    const prefix = `querier-grpc-rf1-${process.pid}/`;
    const ingesters = await Promise.all(['a', 'b'].map((n) => startProcess(makeTempDir(`qgrpc1-ing-${n}-`), clusterConfig(prefix, 'ingester', `rf1-${n}`, 1), 90_000)));
    const distributor = await startProcess(makeTempDir('qgrpc1-dist-'), clusterConfig(prefix, 'distributor', 'rf1-d', 1), 90_000);
    // query_relevant_ingesters: trace by ID asks only the trace's owner, so the live one's traces stay readable.
    const querier = await startProcess(makeTempDir('qgrpc1-querier-'), { ...clusterConfig(prefix, 'querier,query-frontend', 'rf1-q', 1), querier: { query_relevant_ingesters: true } }, 90_000);
    await ringActive(distributor, 2);
    await ringActive(querier, 2);
    const ids: string[] = [];
    // 20 random trace IDs: both ingesters own some (all on one: probability 2^-19).
    for (let i = 0; i < 20; i++) {
      const { id, body } = exportBody('svc', 3, 'op');
      expect((await postOtlpHttp(distributor.ports.otlpHttp!, body)).status).toBe(200);
      ids.push(id);
    }
    const search = `/api/search?q=${encodeURIComponent('{ }')}&limit=50`;
    expect(((await getJson(querier.ports.http, search)).json as SearchJson).traces).toHaveLength(20);

    await ingesters[1]!.kill9();
    // Right after the kill (ring entry still ACTIVE: connection refused) and after its lease
    // expired (UNHEALTHY in the ring): both are a 503 that names the ingester.
    const t0 = Date.now();
    const a = await getJson(querier.ports.http, search);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(a.status, a.text).toBe(503);
    expect(a.text).toMatch(/search: 1 ingester\(s\) could not be read, at most 0 may fail at replication factor 1: ingester-rf1-b/);
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${querier.ports.http}/ingester/ring`, { headers: { accept: 'application/json' } });
        const { shards } = (await res.json()) as { shards: { id: string; state: string }[] };
        return shards.find((s) => s.id === 'ingester-rf1-b')?.state === 'UNHEALTHY';
      },
      60_000,
      'the killed ingester UNHEALTHY',
    );
    const b = await getJson(querier.ports.http, search);
    expect(b.status, b.text).toBe(503);
    expect(b.text).toMatch(/ingester-rf1-b \(unhealthy in the ring\)/);
    // Trace by ID (query_relevant_ingesters): a trace owned by the dead ingester is 503 (not a 404); one owned by the live one is found.
    const answers = await Promise.all(ids.map((id) => fetchTraceProto(querier.ports.http, id)));
    const statuses = answers.map((x) => x.status);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses).toContain(200);
    expect(statuses).toContain(503);
    expect(ingesters[0]!.alive()).toBe(true);
    for (const p of [querier, distributor, ingesters[0]!]) expect(await p.stop()).toBe(0);
  }, 300_000);
});
