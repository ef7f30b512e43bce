// The metrics-generator as its own process (issue 12 §2): a `-target=distributor,ingester,querier,
// query-frontend` process forwards the accepted trace segments over internal gRPC
// (/andante.MetricsGenerator/PushSpans) to a `-target=metrics-generator` process found on the
// generator ring in a real etcd; the generator remote_writes into a real Prometheus. Traces of the
// known topology go through the OTel JS SDK exporter and Prometheus must hold exactly the counts
// and edges the in-process test (metrics-generator.test.ts) expects under `all`. Then malformed
// internal pushes get INVALID_ARGUMENT, and a SIGKILLed generator leaves ingestion answering 200.

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '@andante/model';
import { PUSH_SPANS_METHOD, encodePushSpansRequest } from '@andante/generator-client';
import { startTestEtcd, type TestEtcd } from '@andante/ring/testing';
import { fetchTraceProto, getMetric, killAllProcesses, makeTempDir, postOtlpHttp, removeTempDirs, startProcess, sumMetric, waitFor, type AndanteProcess } from './harness.js';
import { encodeRequest, makeSpan, makeTrace, randomTraceId } from './otlp.js';
import { startPrometheus, type PrometheusServer } from './prometheus.js';
import { REQUESTS, TOPOLOGY_CALLS, TOPOLOGY_EDGES, callsKey, edgeKey, sendTopology } from './generator-topology.js';

let etcd: TestEtcd;
let prom: PrometheusServer;
beforeAll(async () => {
  etcd = await startTestEtcd();
  prom = await startPrometheus(makeTempDir('ggrpc-prom-'));
}, 60_000);
afterAll(async () => {
  await killAllProcesses();
  await prom?.stop();
  await etcd?.close();
  removeTempDirs();
});

function clusterConfig(prefix: string, target: string, name: string) {
  const kvstore = { store: 'etcd', prefix, etcd: { endpoints: [etcd.endpoint], dial_timeout: '1s', max_retries: 2 } };
  const basic = (id: string) => ({ kvstore, heartbeat_period: '200ms', heartbeat_timeout: '3s', instance_id: id, instance_addr: '127.0.0.1' });
  return {
    target,
    server: { grpc_listen_address: '127.0.0.1', grpc_listen_port: 0 },
    ingester: { lifecycler: { id: `ingester-${name}`, address: '127.0.0.1', heartbeat_period: '200ms', ring: { kvstore, heartbeat_timeout: '3s' } } },
    metrics_generator: {
      ring: basic(`generator-${name}`),
      registry: { collection_interval: '1s' },
      processor: { service_graphs: { wait: '1s' } },
      storage: { remote_write: [{ url: prom.writeUrl, send_exemplars: true, queue_config: { min_backoff: '50ms', max_backoff: '500ms' } }], remote_write_flush_deadline: '1s' },
    },
    metrics_generator_client: { remote_timeout: '2s' },
    compactor: { ring: basic(`compactor-${name}`) },
    distributor: { ring: basic(`distributor-${name}`) },
    // Both sides read the tenant's processors: the distributor forwards only enabled tenants.
    overrides: { defaults: { metrics_generator: { processors: ['service-graphs', 'span-metrics'] } } },
  };
}

function rawPush(port: number, body: Uint8Array): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const id = (b: Buffer): Buffer => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest(PUSH_SPANS_METHOD, id, id, Buffer.from(body), new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err) => {
      client.close();
      resolve(err);
    });
  });
}

async function ringShards(p: AndanteProcess, ring: string): Promise<{ id: string; state: string; address: string }[]> {
  const res = await fetch(`http://127.0.0.1:${p.ports.http}/${ring}/ring`, { headers: { accept: 'application/json' } });
  return ((await res.json()) as { shards: { id: string; state: string; address: string }[] }).shards;
}

describe('metrics-generator in its own process, over internal gRPC', () => {
  it('gets every span from a remote distributor: exact span-metrics and service-graph edges in Prometheus; malformed pushes get INVALID_ARGUMENT; after a SIGKILL of the generator ingestion keeps answering 200', async () => {
    const prefix = `generator-grpc-${process.pid}/`;
    const generator = await startProcess(makeTempDir('ggrpc-generator-'), clusterConfig(prefix, 'metrics-generator', 'g'), 60_000);
    const main = await startProcess(makeTempDir('ggrpc-main-'), clusterConfig(prefix, 'distributor,ingester,querier,query-frontend', 'm'), 60_000);
    const generatorPort = (generator.ports as { grpc?: number | null }).grpc!;
    expect(generatorPort).toBeGreaterThan(0);
    // Nothing in the main process serves a caller elsewhere: no internal port there.
    expect((main.ports as { grpc?: number | null }).grpc).toBeNull();
    await waitFor(
      async () => {
        const shards = await ringShards(main, 'metrics-generator');
        return shards.length === 1 && shards[0]!.state === 'ACTIVE' && shards[0]!.address === `127.0.0.1:${generatorPort}`;
      },
      30_000,
      "the generator ACTIVE on the distributor's /metrics-generator/ring",
    );

    const traceIds = await sendTopology(main.ports.otlpHttp!);
    // The last edges (user -> web, a root server span) are emitted when they expire after `wait`.
    await waitFor(async () => (await prom.query('sum(traces_service_graph_request_total{client="user"})'))[0]?.value === REQUESTS, 60_000, 'user -> web edges in Prometheus', 250);
    // Same counts as under -target=all (metrics-generator.test.ts).
    await waitFor(async () => (await prom.query('sum(traces_spanmetrics_calls_total)'))[0]?.value === 8 * REQUESTS, 30_000, 'every span counted in Prometheus', 250);
    const calls = await prom.query('traces_spanmetrics_calls_total');
    expect(Object.fromEntries(calls.map((r) => [callsKey(r.metric), r.value]))).toEqual(TOPOLOGY_CALLS);
    const edges = await prom.query('traces_service_graph_request_total');
    expect(Object.fromEntries(edges.map((r) => [edgeKey(r.metric), r.value]))).toEqual(TOPOLOGY_EDGES);
    const failed = await prom.query('traces_service_graph_request_failed_total');
    expect(failed.map((r) => [`${r.metric['client']}->${r.metric['server']}`, r.value])).toEqual([['checkout->payments', 4]]);
    // The traces were stored too, and the spans crossed the wire: pushes timed by the generator's process, none failed.
    expect((await fetchTraceProto(main.ports.http, traceIds[0]!)).status).toBe(200);
    const genMetrics = await (await fetch(`http://127.0.0.1:${generator.ports.http}/metrics`)).text();
    expect(sumMetric(genMetrics, 'tempo_request_duration_seconds_count', { route: PUSH_SPANS_METHOD, status_code: 'success' })).toBeGreaterThanOrEqual(1);
    expect(sumMetric(genMetrics, 'tempo_metrics_generator_spans_received_total', { tenant: 'single-tenant' })).toBe(8 * REQUESTS);
    expect(await getMetric(main.ports.http, 'tempo_distributor_metrics_generator_pushes_total')).toBeGreaterThanOrEqual(1);
    expect(await getMetric(main.ports.http, 'tempo_distributor_metrics_generator_pushes_failures_total')).toBe(0);

    // Malformed internal pushes: garbage, and a well-formed request whose segment is not a tempopb.Trace.
    const garbage = await rawPush(generatorPort, Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    expect(garbage?.code, garbage?.details).toBe(grpc.status.INVALID_ARGUMENT);
    const badSegment = encodePushSpansRequest({
      tenantId: 'single-tenant',
      segments: [{ traceId: randomTraceId(), bytes: Uint8Array.of(0x0a, 0x7f, 0x01), spanCount: 1, startTimeUnixNano: 0n, endTimeUnixNano: 0n }],
    });
    const bad = await rawPush(generatorPort, badSegment);
    expect(bad?.code, bad?.details).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad?.details).toMatch(/malformed trace segment/);
    expect(generator.alive()).toBe(true);

    // The generator dies: exports keep being acknowledged, and the forwarder counts what it could not push.
    await generator.kill9();
    for (let i = 0; i < 20; i++) {
      const id = randomTraceId();
      const res = await postOtlpHttp(main.ports.otlpHttp!, encodeRequest(makeTrace([makeSpan(id), makeSpan(id)], 'after-kill')));
      expect(res.status, res.text()).toBe(200);
      if (i === 19) expect((await fetchTraceProto(main.ports.http, bytesToHex(id))).status).toBe(200);
    }
    await waitFor(async () => (await getMetric(main.ports.http, 'tempo_distributor_metrics_generator_pushes_failures_total')) > 0, 30_000, 'failed generator pushes counted');
    expect(main.alive()).toBe(true);
    expect(await main.stop(), main.stderr().slice(-2000)).toBe(0);
  }, 180_000);
});
