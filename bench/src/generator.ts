// Metrics-generator benchmark, in process: CPU time of the generator (decode + span-metrics +
// service-graphs) per span, given as cores needed for 100k spans/s; the cost of one collection
// (registry -> remote_write protobuf + snappy) per series; heap per 10k active series. Each push
// is what the distributor's tap hands over for one export: its per-trace segments, cut by the
// distributor's own splitExportRequest.
//
//   pnpm build && node --expose-gc bench/dist/generator.js [--spans 400000] [--dimensions http.method,http.status_code]

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

async function main(): Promise<void> {
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
