// The chart drives a cluster (issue 13 §2): deploy/helm/andante-distributed is rendered by the real
// Helm with the seed's values (test/fixtures/helm/seed-values.yaml) plus the few overrides below, and
// every replica of every rendered Deployment and StatefulSet runs as its own `andante` process on
// 127.0.0.1 with the container's args and env and the rendered ConfigMaps as files
// (test/src/helm-cluster.ts says what loopback changes, and why). The peers are real: etcd
// (etcd-server), an S3-protocol server (moto_server, with the seed's bucket) and Prometheus with its
// remote-write receiver. Then the seed's validation checklist, as NOTES.txt prints it for the
// release, is run against it with traffic from the OpenTelemetry JS SDK exporters, sent to the
// distributor's OTLP addresses the NOTES give: rings ACTIVE, spans received rising, blocks in the
// bucket, the compactor compacting, span metrics in Prometheus, traces found through the
// query-frontend. A config the binary refuses or a wiring that does not work fails it.
// Case 8: the seed's 2 metrics-generators write series of the same names and labels; each carries
// its generator's `__metrics_gen_instance`, so Prometheus keeps both and counts every span once.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, SdkTraffic, checkTraces, describeCheck, type Shard } from './cluster.js';
import { makeTempDir, removeTempDirs, sumMetric, waitFor } from './harness.js';
import { SEED, YAML, byName, findHelm, helmNotes, helmTemplate, workloads, type Obj } from './helm.js';
import { startChartPods, type LoopbackDns, type LoopbackPeer, type LoopbackPod, type LoopbackRewrite } from './helm-cluster.js';
import { startPrometheus, type PrometheusServer } from './prometheus.js';

const RELEASE = 'tempo';
const NAMESPACE = 'tracing';

// The seed's values, then only what loopback within ~4 minutes needs. Everything else runs as the seed
// has it: 3 ingesters (RF 3), 2 queriers, 2 metrics-generators, 1 compactor, and 1 distributor (its
// Deployment has no replicas field, the HPA owns it; Kubernetes creates 1 pod and the HPA, not
// simulated here, would scale it to its minReplicas 3). The generator's 15s collection_interval and
// the 5m blocklist_poll stay: both fit the test's time (ingesters answer for their flushed blocks for
// complete_block_timeout, 40m).
const LOOPBACK_OVERRIDES: [key: string, value: string, why: string][] = [
  // The querier finds frontends through the headless Service <release>-query-frontend-discovery: one
  // name, every frontend pod's IP, one port. Pods sharing 127.0.0.1 with a port each cannot be one
  // name, so one frontend instead of the seed's 2.
  ['queryFrontend.replicas', '1', 'one loopback name stands for one pod'],
  // Blocks in the bucket within the test: a head block is completed after 10s (default 30m).
  ['ingester.config.max_block_duration', '10s', 'blocks within seconds'],
  // ...and compacted soon after: a cycle every 5s (chart default 30s).
  ['compactor.config.compaction.compaction_cycle', '5s', 'compactions within seconds'],
];
const VALUES_ARGS = ['-f', SEED, ...LOOPBACK_OVERRIDES.flatMap(([k, v]) => ['--set', `${k}=${v}`])];

let cluster: Cluster | undefined;
let prom: PrometheusServer | undefined;
let traffic: SdkTraffic | undefined;
let docs: Obj[] = [];
let notes = '';
let pods: LoopbackPod[] = [];
let dns: LoopbackDns;
const rewrites: LoopbackRewrite[] = [];

/** The first match of `re` in the NOTES (the checklist must still list it), group 1 by default. */
function fromNotes(re: RegExp, group = 1): string {
  const m = re.exec(notes);
  if (!m?.[group]) throw new Error(`NOTES.txt has no line matching ${re}:\n${notes}`);
  return m[group]!;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
  return { status: res.status, text: await res.text() };
}

/** Sum of `metric` over every pod the Service URL (from the NOTES) reaches. */
async function metricVia(serviceUrl: string, metric: string): Promise<number> {
  let sum = 0;
  for (const u of dns.urls(serviceUrl)) {
    const r = await get(u);
    expect(r.status, `${u}`).toBe(200);
    sum += sumMetric(r.text, metric);
  }
  return sum;
}

beforeAll(async () => {
  const helm = await findHelm();
  ({ docs } = await helmTemplate(helm, VALUES_ARGS, RELEASE, NAMESPACE));
  notes = await helmNotes(helm, VALUES_ARGS, RELEASE, NAMESPACE);
  const cfg = YAML.parse(byName(docs, 'ConfigMap', `${RELEASE}-config`)!['data']['tempo.yaml']) as Obj;

  const bucket = cfg['storage']['trace']['s3']['bucket'] as string;
  [cluster, prom] = await Promise.all([Cluster.start({ s3: 'moto', bucket }), startPrometheus(makeTempDir('helm-cluster-prom'))]);
  const promPort = Number(new URL(prom.url).port);
  // The names the rendered config gives the peers, and the test's peer behind each.
  const etcdEndpoints = cfg['ingester']['lifecycler']['ring']['kvstore']['etcd']['endpoints'] as string[];
  const peers: LoopbackPeer[] = [
    ...etcdEndpoints.map((e) => {
      const [host, port] = e.split(':');
      return { host: host!, port: Number(port), localPort: Number(new URL(cluster!.etcd.endpoint).port), what: 'etcd' };
    }),
    { host: cfg['storage']['trace']['s3']['endpoint'] as string, port: cfg['storage']['trace']['s3']['insecure'] ? 80 : 443, localPort: cluster.s3.port, what: 'S3' },
    ...((cfg['metrics_generator']['storage']?.['remote_write'] ?? []) as Obj[]).map((rw) => {
      const u = new URL(rw['url'] as string);
      return { host: u.hostname, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)), localPort: promPort, what: 'Prometheus' };
    }),
  ];
  ({ pods, dns } = await startChartPods(cluster, docs, NAMESPACE, peers, rewrites));
}, 200_000);

afterEach((ctx) => {
  if (ctx.task.result?.state !== 'fail' || ctx.task.fails || !cluster) return;
  console.error(`loopback rewrites:\n${rewrites.map((r) => `  ${r.pod}: ${r.where}: ${JSON.stringify(r.from)} -> ${JSON.stringify(r.to)} (${r.why})`).join('\n')}`);
  console.error(`cluster logs after "${ctx.task.name}" failed:\n${cluster.logTails(25)}`);
});

afterAll(async () => {
  // HELM_CLUSTER_DEBUG=1: print every loopback rewrite, also when the run passed.
  if (process.env['HELM_CLUSTER_DEBUG']) console.log(rewrites.map((r) => `  ${r.pod}: ${r.where}: ${JSON.stringify(r.from)} -> ${JSON.stringify(r.to)} (${r.why})`).join('\n'));
  await traffic?.shutdown();
  await cluster?.close();
  await prom?.stop();
  removeTempDirs();
}, 60_000);

describe("the chart drives a cluster: the seed's values rendered by Helm, one andante process per replica, the NOTES checklist", () => {
  it('runs one process per rendered replica, each with its container args', () => {
    const want = workloads(docs).flatMap((w) => Array.from({ length: (w['spec']['replicas'] as number | undefined) ?? 1 }, () => w['metadata']['name'] as string));
    expect(pods.map((p) => p.workload['metadata']['name'] as string).sort()).toEqual(want.sort());
    expect(pods.map((p) => p.component).sort()).toEqual(['compactor', 'distributor', 'ingester', 'ingester', 'ingester', 'metrics-generator', 'metrics-generator', 'querier', 'querier', 'query-frontend']);
    for (const p of pods) {
      expect(p.node!.alive(), p.name).toBe(true);
      expect(p.args[0]).toBe(`-target=${p.component}`);
    }
    // The distributor's extra arg from the seed reaches its process.
    expect(pods.find((p) => p.component === 'distributor')!.args).toContain('-ingester_client.remote_timeout=10s');
  });

  it('1. every ring member ACTIVE: ingesters and generators through the distributor Service, compactors through the compactor Service', async () => {
    const expectIngesters = Number(fromNotes(/Expect (\d+) ingesters ACTIVE/));
    const rings: [string, string, number][] = [
      ['ingester', fromNotes(/curl -s (http:\/\/\S+\/ingester\/ring) -H 'Accept: application\/json'/), expectIngesters],
      ['metrics-generator', fromNotes(/curl -s (http:\/\/\S+\/metrics-generator\/ring) -H 'Accept: application\/json'/), pods.filter((p) => p.component === 'metrics-generator').length],
      ['compactor', fromNotes(/curl -s (http:\/\/\S+\/compactor\/ring) -H 'Accept: application\/json'/), pods.filter((p) => p.component === 'compactor').length],
    ];
    expect(expectIngesters).toBe(3);
    for (const [comp, url, n] of rings) {
      const names = pods.filter((p) => p.component === comp).map((p) => p.name).sort();
      expect(names, comp).toHaveLength(n);
      let last = '';
      await waitFor(
        async () => {
          const r = await get(dns.url(url), { Accept: 'application/json' });
          last = `${r.status} ${r.text.slice(0, 300)}`;
          if (r.status !== 200) return false;
          const shards = (JSON.parse(r.text) as { shards: Shard[] }).shards;
          return JSON.stringify(shards.map((s) => `${s.id}=${s.state}`).sort()) === JSON.stringify(names.map((x) => `${x}=ACTIVE`));
        },
        60_000,
        () => `${url}: ${names.join(', ')} ACTIVE (last: ${last})`,
        250,
      );
    }
  }, 120_000);

  it('2. spans arriving: tempo_distributor_spans_received_total rising with OTLP from the SDK exporters (gRPC and HTTP)', async () => {
    const metricsUrl = fromNotes(/curl -s (http:\/\/\S+\/metrics) \| grep '\^tempo_distributor_spans_received_total'/);
    const grpcHost = fromNotes(/gRPC: (\S+):(\d+)/);
    const grpcPort = Number(fromNotes(/gRPC: (\S+):(\d+)/, 2));
    const httpUrl = fromNotes(/HTTP: (http:\/\/\S+\/v1\/traces)/);
    const before = await metricVia(metricsUrl, 'tempo_distributor_spans_received_total');
    expect(before).toBe(0);
    traffic = new SdkTraffic(
      [
        { port: dns.resolve(grpcHost, grpcPort), protocol: 'grpc' },
        { port: Number(new URL(dns.url(httpUrl)).port), protocol: 'http' },
      ],
      { concurrency: 1, tracesPerExport: 4, spansPerTrace: 3, pauseMs: 100, service: 'helm-cluster' },
    );
    traffic.start();
    await traffic.waitAcked(10, 60_000);
    const first = await waitFor(async () => {
      const v = await metricVia(metricsUrl, 'tempo_distributor_spans_received_total');
      return v > before ? v : 0;
    }, 30_000, 'tempo_distributor_spans_received_total > 0');
    await traffic.waitAcked(10, 60_000);
    await waitFor(async () => (await metricVia(metricsUrl, 'tempo_distributor_spans_received_total')) > first, 30_000, `tempo_distributor_spans_received_total above ${first}`);
    expect(traffic.stats.failed, traffic.stats.errors.join('\n')).toBe(0);
  }, 150_000);

  it('3. blocks in the bucket (meta.json under the seed bucket) and tempo_ingester_blocks_flushed_total on every ingester', async () => {
    const bucket = fromNotes(/aws s3 ls s3:\/\/([^/\s]+)\/\S* --recursive \| grep meta\.json/);
    expect(bucket).toBe('acme-tempo-traces');
    const metas = await waitFor(async () => {
      const keys = (await cluster!.s3.objectKeys(bucket)).filter((k) => k.endsWith('/meta.json'));
      return keys.length > 0 ? keys : undefined;
    }, 90_000, `meta.json in s3://${bucket}`, 500);
    expect(metas![0]).toMatch(/^single-tenant\/[0-9a-f-]{36}\/meta\.json$/);
    const ingesterMetrics = fromNotes(/curl -s (http:\/\/\S+\/metrics) \| grep '\^tempo_ingester_blocks_flushed_total'/);
    const urls = dns.urls(ingesterMetrics);
    expect(urls).toHaveLength(3);
    await waitFor(async () => {
      for (const u of urls) if (sumMetric((await get(u)).text, 'tempo_ingester_blocks_flushed_total') < 1) return false;
      return true;
    }, 60_000, 'every ingester flushed a block');
  }, 150_000);

  it('4. the compactor working: tempo_compactor_blocks_total (and tempodb_compaction_blocks_total) rising', async () => {
    const line = fromNotes(/curl -s (http:\/\/\S+\/metrics) \| grep -E '[^']*tempo_compactor_blocks_total[^']*'/, 0);
    const url = /http:\/\/\S+\/metrics/.exec(line)![0];
    const before = await metricVia(url, 'tempo_compactor_blocks_total');
    // Every acknowledged trace is in 3 ingesters' blocks (RF 3), so there are inputs; compacting them takes a cycle or two.
    const after = await waitFor(async () => {
      const v = await metricVia(url, 'tempo_compactor_blocks_total');
      return v > before ? v : 0;
    }, 120_000, `tempo_compactor_blocks_total above ${before}`, 500);
    expect(after).toBeGreaterThanOrEqual(2);
    expect(await metricVia(url, 'tempodb_compaction_blocks_total')).toBeGreaterThanOrEqual(after);
  }, 150_000);

  it('5. traces readable through the query-frontend Service: search and every one of the first acknowledged traces by ID', async () => {
    const searchUrl = fromNotes(/curl -s -G (http:\/\/\S+\/api\/search) --data-urlencode 'q=\{\}' --data-urlencode limit=5/);
    const res = await get(`${dns.url(searchUrl)}?q=${encodeURIComponent('{}')}&limit=5`);
    expect(res.status, res.text).toBe(200);
    const found = ((JSON.parse(res.text) as { traces?: { traceID: string }[] }).traces ?? []).map((t) => t.traceID.padStart(32, '0'));
    expect(found.length).toBeGreaterThan(0);
    expect(found.some((id) => traffic!.acked.has(id)), `search found ${found.join(', ')}`).toBe(true);
    // Grafana's data source URL from the NOTES: trace by ID.
    const frontend = dns.url(fromNotes(/Grafana's Tempo data source URL:\s+(http:\/\/\S+)/));
    const ids = traffic!.ackedOrder.slice(0, 10);
    expect(ids).toHaveLength(10);
    const c = await checkTraces(Number(new URL(frontend).port), traffic!.acked, ids);
    expect(c.complete, describeCheck(c)).toBe(ids.length);
    expect(c.duplicated).toEqual([]);
    // Every export of the run so far was acknowledged (the distributor reached its ingesters' quorum).
    expect(traffic!.stats.failed, traffic!.stats.errors.join('\n')).toBe(0);
  }, 60_000);

  it('6. span metrics in the real Prometheus: the NOTES query answers for the service sending spans', async () => {
    const query = fromNotes(/--data-urlencode 'query=(sum\(rate\(traces_spanmetrics_calls_total\[5m\]\)\) by \(service\))'/);
    let last = '';
    await waitFor(
      async () => {
        const rows = await prom!.query(query);
        last = JSON.stringify(rows);
        return rows.some((r) => r.metric['service'] === 'helm-cluster' && r.value > 0);
      },
      90_000,
      () => `${query} > 0 for service helm-cluster (last: ${last})`,
      1_000,
    );
    const raw = await prom!.query('traces_spanmetrics_calls_total{service="helm-cluster"}');
    expect(raw.length).toBeGreaterThan(0);
  }, 120_000);

  it('7. with the traffic stopped, every acknowledged span reached one metrics-generator, and both replicas got a share', async () => {
    await traffic!.stop();
    expect(traffic!.stats.failed, traffic!.stats.errors.join('\n')).toBe(0);
    const spans = traffic!.stats.ackedSpans;
    const gens = pods.filter((p) => p.component === 'metrics-generator');
    expect(gens).toHaveLength(2);
    let perGen: number[] = [];
    // The distributor shards traces over the generator ring (one generator per trace): the shares add up.
    await waitFor(
      async () => {
        perGen = await Promise.all(gens.map(async (g) => sumMetric((await get(g.node!.url('/metrics'))).text, 'tempo_metrics_generator_spans_received_total')));
        return perGen.reduce((a, b) => a + b, 0) === spans;
      },
      30_000,
      () => `generators received ${perGen.join(' + ')} of ${spans} acknowledged spans`,
      500,
    );
    for (const [i, g] of gens.entries()) expect(perGen[i], g.name).toBeGreaterThan(0);
  }, 60_000);

  // Without Tempo's per-generator label (__metrics_gen_instance, the generator's instance ID) every
  // generator remote-writes the same series with its own count, and Prometheus refuses one side's
  // samples as "out of order sample" (400; tempo_metrics_generator_remote_write_samples_dropped_total
  // {reason="http_4xx"}), keeping one generator's share: 2580 of 4980 spans in one run, before the label.
  it('8. two metrics-generators: Prometheus counts every acknowledged span once, and no generator had samples refused', async () => {
    const spans = traffic!.stats.ackedSpans;
    const gens = pods.filter((p) => p.component === 'metrics-generator');
    const sent = async (): Promise<number[]> => Promise.all(gens.map(async (g) => sumMetric((await get(g.node!.url('/metrics'))).text, 'prometheus_remote_storage_samples_total')));
    // Wait for a remote_write from every generator after the traffic stopped (collection_interval 15s).
    const before = await sent();
    await waitFor(async () => (await sent()).every((v, i) => v > before[i]!), 45_000, 'a remote_write from every generator', 500);
    const rows = await prom!.query('sum(traces_spanmetrics_calls_total{service="helm-cluster"})');
    const dropped = await Promise.all(gens.map(async (g) => sumMetric((await get(g.node!.url('/metrics'))).text, 'tempo_metrics_generator_remote_write_samples_dropped_total')));
    expect({ prometheus: rows[0]?.value, dropped }).toEqual({ prometheus: spans, dropped: gens.map(() => 0) });
  }, 120_000);
});
