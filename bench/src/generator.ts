// Metrics-generator benchmark, in process: CPU time of the generator (decode + span-metrics +
// service-graphs) per span, given as cores needed for 100k spans/s; the cost of one collection
// (registry -> remote_write protobuf + snappy) per series; heap per 10k active series. Each push
// is what the distributor's tap hands over for one export: its per-trace segments, cut by the
// distributor's own splitExportRequest.
//
//   pnpm build && node --expose-gc bench/dist/generator.js [--spans 400000] [--dimensions http.method,http.status_code]
//
// --prometheus 1 instead measures remote_write into a real Prometheus (Debian's `prometheus` on
// PATH, started here on 127.0.0.1 with the remote-write receiver): collections of --series counter
// series, --collections times, through RemoteWriteQueue (protobuf + snappy, Prometheus's default
// queue_config), timed from the first enqueue until Prometheus has acknowledged every sample.
//
//   node bench/dist/generator.js --prometheus 1 --series 20000 --collections 10

import { Registry } from 'prom-client';
import { decodeTrace, defaultTenantLimits, silentLogger, staticLimits, type TraceSegment } from '@andante/model';
import { Generator, defaultGeneratorConfig, encodeWriteRequest, snappyCompress } from '@andante/generator';
import { splitExportRequest } from '@andante/distributor';
import { encodeBatches } from './payloads.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

function makeGenerator(processors: string[], dimensions: string[]): Generator {
  const limits = defaultTenantLimits();
  limits.metricsGenerator = { ...limits.metricsGenerator, processors };
  const cfg = defaultGeneratorConfig();
  cfg.processor.span_metrics.dimensions = dimensions;
  // Spans of the payloads end "now"; a long slack keeps a long run inside it.
  cfg.metrics_ingestion_time_range_slack = '1h';
  return new Generator({ cfg, limits: staticLimits(limits), registry: new Registry(), logger: silentLogger });
}

/** One export's segments (one per trace) and its span count. */
interface Push {
  segments: TraceSegment[];
  spans: number;
}

function run(label: string, processors: string[], dimensions: string[], pushes: Push[], spans: number): void {
  const gen = makeGenerator(processors, dimensions);
  // Warm-up: JIT and series creation.
  for (const p of pushes.slice(0, 20)) gen.pushSpansSync({ tenantId: 't', segments: p.segments });
  gc();
  const t0 = cpuMs();
  let pushed = 0;
  while (pushed < spans) {
    for (const p of pushes) {
      gen.pushSpansSync({ tenantId: 't', segments: p.segments });
      pushed += p.spans;
      if (pushed >= spans) break;
    }
  }
  const ms = cpuMs() - t0;
  const perSec = pushed / (ms / 1000);
  const t1 = cpuMs();
  const collected = gen.collectNow('t')!;
  const body = snappyCompress(encodeWriteRequest(collected.series, true));
  const collectMs = cpuMs() - t1;
  console.log(
    `${label.padEnd(40)} ${Math.round(perSec).toLocaleString('en')} spans/CPU-s = ${(100_000 / perSec).toFixed(2)} cores per 100k spans/s; ` +
      `${gen.activeSeries('t')} series, one collection ${collectMs.toFixed(1)} ms CPU (${(body.byteLength / 1024).toFixed(0)} KiB snappy)`,
  );
  void gen.stop();
}

/** For comparison: a full decodeTrace of the same segments (the generator decodes only what it reads). */
function decodeOnly(pushes: Push[], spans: number): void {
  for (const p of pushes.slice(0, 20)) for (const s of p.segments) decodeTrace(s.bytes);
  gc();
  const t0 = cpuMs();
  let n = 0;
  while (n < spans) {
    for (const p of pushes) {
      for (const s of p.segments) decodeTrace(s.bytes);
      n += p.spans;
      if (n >= spans) break;
    }
  }
  const perSec = n / ((cpuMs() - t0) / 1000);
  console.log(`${'full decodeTrace (what the generator skips)'.padEnd(40)} ${Math.round(perSec).toLocaleString('en')} spans/CPU-s = ${(100_000 / perSec).toFixed(2)} cores per 100k spans/s`);
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function remoteWriteToPrometheus(): Promise<void> {
  const { spawn } = await import('node:child_process');
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { TenantRegistry, LabelBuilder, RemoteWriteQueue, defaultRemoteWriteConfig } = await import('@andante/generator');
  const seriesCount = Number(option('series', '20000'));
  const collections = Number(option('collections', '10'));
  const dir = await mkdtemp(join(tmpdir(), 'andante-bench-prom-'));
  const port = await freePort();
  await writeFile(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\n');
  const prom = spawn('prometheus', ['--web.enable-remote-write-receiver', `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, `--config.file=${join(dir, 'prometheus.yml')}`], { stdio: 'ignore' });
  try {
    for (let i = 0; ; i++) {
      if (i > 300) throw new Error('prometheus did not become ready');
      if (await fetch(`http://127.0.0.1:${port}/-/ready`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    let sent = 0;
    const queue = new RemoteWriteQueue({
      cfg: { ...defaultRemoteWriteConfig(), url: `http://127.0.0.1:${port}/api/v1/write` },
      addOrgIdHeader: false,
      metrics: { samplesSent: (_r, _t, n) => (sent += n), exemplarsSent: () => {}, samplesDropped: () => {}, retries: () => {}, pendingSamples: () => {} },
      logger: silentLogger,
    });
    const reg = new TenantRegistry({ tenant: 't', staleDurationMs: 3_600_000, externalLabels: {}, injectTenantIdAs: '', maxLabelNameLength: 1024, maxLabelValueLength: 2048, maxActiveSeries: () => 0 });
    const calls = reg.counter('traces_spanmetrics_calls_total');
    const labels = Array.from({ length: seriesCount }, (_, i) => new LabelBuilder().add('service', `svc-${i % 50}`).add('span_name', `GET /api/v1/resource${i}`).add('span_kind', 'SPAN_KIND_SERVER').add('status_code', 'STATUS_CODE_UNSET'));
    const t0 = performance.now();
    const cpu0 = cpuMs();
    let ts = Date.now() - collections * 1000;
    let total = 0;
    for (let c = 0; c < collections; c++) {
      for (const lb of labels) calls.inc(lb, 1);
      const out = reg.collect((ts += 1000));
      queue.enqueue('t', out.initial);
      queue.enqueue('t', out.series);
      total += out.initial.length + out.series.length;
    }
    while (queue.pendingSamples > 0) await new Promise((r) => setTimeout(r, 20));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (cpuMs() - cpu0) / 1000;
    await queue.stop(1000);
    console.log(
      `remote_write to Prometheus: ${sent.toLocaleString('en')} of ${total.toLocaleString('en')} samples (${seriesCount.toLocaleString('en')} series x ${collections} collections) in ${seconds.toFixed(2)} s = ` +
        `${Math.round(sent / seconds).toLocaleString('en')} samples/s; this process ${cpu.toFixed(2)} CPU-s (${Math.round(sent / cpu).toLocaleString('en')} samples per CPU-s: collect + encode + snappy + HTTP)`,
    );
  } finally {
    prom.kill('SIGTERM');
    await new Promise((r) => prom.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (option('prometheus', '0') === '1') return remoteWriteToPrometheus();
  const spans = Number(option('spans', '400000'));
  const dims = option('dimensions', 'http.method,http.status_code').split(',').filter(Boolean);
  const pushes: Push[] = encodeBatches(200, 500, 20).map((bytes) => {
    const { segments, spanCount } = splitExportRequest(bytes);
    return { segments, spans: spanCount };
  });
  console.log(`node ${process.version}; ${spans.toLocaleString('en')} spans per run in exports of 500 spans (traces of 20, 10 services), pushed as per-trace segments`);
  decodeOnly(pushes, spans);
  run('span-metrics', ['span-metrics'], [], pushes, spans);
  run(`span-metrics + dimensions [${dims.join(', ')}]`, ['span-metrics'], dims, pushes, spans);
  run('service-graphs', ['service-graphs'], [], pushes, spans);
  run('span-metrics + service-graphs', ['span-metrics', 'service-graphs'], [], pushes, spans);
  await memoryPer10kSeries();
}

/** Heap held per 10k active series: a counter and a histogram with many label sets. */
async function memoryPer10kSeries(): Promise<void> {
  const { TenantRegistry, LabelBuilder, DEFAULT_SPAN_METRICS_BUCKETS } = await import('@andante/generator');
  const reg = new TenantRegistry({ tenant: 't', staleDurationMs: 900_000, externalLabels: {}, injectTenantIdAs: '', maxLabelNameLength: 1024, maxLabelValueLength: 2048, maxActiveSeries: () => 0 });
  const calls = reg.counter('traces_spanmetrics_calls_total');
  const latency = reg.histogram('traces_spanmetrics_latency', DEFAULT_SPAN_METRICS_BUCKETS);
  gc();
  const before = process.memoryUsage().heapUsed;
  const sets = 5_000;
  for (let i = 0; i < sets; i++) {
    const lb = new LabelBuilder().add('service', `svc-${i % 50}`).add('span_name', `GET /api/v1/resource${i}`).add('span_kind', 'SPAN_KIND_SERVER').add('status_code', 'STATUS_CODE_UNSET');
    calls.inc(lb, 1, 'a'.repeat(32));
    latency.observe(lb, 0.01 * (i % 100), 'b'.repeat(32));
  }
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  console.log(`registry heap: ${reg.activeSeries.toLocaleString('en')} series (${sets} label sets x (1 counter + 17 histogram series)) hold ${(bytes / 1024 / 1024).toFixed(1)} MiB = ${((bytes / reg.activeSeries) * 10_000 / 1024 / 1024).toFixed(2)} MiB per 10k series`);
}

void main();
