// A real OpenTelemetry Collector (tools/otelcol: the Collector's own modules, built by
// scripts/install-test-peers.sh) in front of Andante with the seed's tail-sampling config
// (test/fixtures/collector/tail-sampling.yaml). The real OTel JS SDK sends traces of three kinds
// through it: error traces, traces slower than 2 s, and ordinary ones. Every error and slow trace
// must arrive whole; about 10 % of the ordinary ones arrive (the probabilistic policy hashes the
// trace ID, so the count is binomial: the test accepts mean ± 4 standard deviations); every trace
// that arrives is whole; and no span arrives twice (the distributor's received-span counter equals
// the spans of the traces found, since reads de-duplicate spans and would hide a double delivery).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace as otelTrace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  REPO_ROOT,
  fetchTraceProto,
  getMetric,
  killAllProcesses,
  makeTempDir,
  removeTempDirs,
  sleep,
  startProcess,
  waitFor,
  type AndanteProcess,
} from './harness.js';
import { freeTcpPort } from './ports.js';
import { spanIdsOf } from './otlp.js';

/** Where scripts/install-test-peers.sh builds the Collector (keep the two in step). */
const OTELCOL_VERSION = '0.161.0';
const OTELCOL_BIN = join(process.env['ANDANTE_TOOLS_DIR'] ?? join(homedir(), '.cache', 'andante-tools'), `otelcol-v${OTELCOL_VERSION}`, 'otelcol-andante');
const CONFIG = join(REPO_ROOT, 'test', 'fixtures', 'collector', 'tail-sampling.yaml');

const ORDINARY = 1000;
const ERRORS = 40;
const SLOW = 40;
const SPANS_PER_TRACE = 3;
const SAMPLED_SHARE = 0.1;
/** decision_wait: the seed's 10 s would only make the test slower; the policy logic is the same. */
const DECISION_WAIT_S = 4;


interface SentTrace {
  traceId: string;
  spanIds: Set<string>;
  kind: 'ordinary' | 'error' | 'slow';
}

describe('OpenTelemetry Collector with tail sampling in front of Andante', () => {
  let andante: AndanteProcess;
  let collector: ChildProcess;
  let collectorLog = '';
  let collectorHttpPort = 0;
  const sent: SentTrace[] = [];

  beforeAll(async () => {
    if (!existsSync(OTELCOL_BIN)) {
      throw new Error(`${OTELCOL_BIN} is missing: run scripts/install-test-peers.sh (it builds the Collector from tools/otelcol)`);
    }
    andante = await startProcess(makeTempDir('collector'));
    const grpcPort = await freeTcpPort();
    collectorHttpPort = await freeTcpPort();
    collector = spawn(OTELCOL_BIN, [`--config=${CONFIG}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        COLLECTOR_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpcPort}`,
        COLLECTOR_OTLP_HTTP_ENDPOINT: `127.0.0.1:${collectorHttpPort}`,
        COLLECTOR_DECISION_WAIT: `${DECISION_WAIT_S}s`,
        ANDANTE_OTLP_GRPC_ENDPOINT: `127.0.0.1:${andante.ports.otlpGrpc}`,
      },
    });
    collector.stdout!.setEncoding('utf8').on('data', (d: string) => (collectorLog += d));
    collector.stderr!.setEncoding('utf8').on('data', (d: string) => (collectorLog += d));
    // Ready once its OTLP/HTTP receiver answers an empty export.
    await waitFor(
      async () => {
        if (collector.exitCode !== null) throw new Error(`the Collector exited (${collector.exitCode}):\n${collectorLog}`);
        const res = await fetch(`http://127.0.0.1:${collectorHttpPort}/v1/traces`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{}',
        }).catch(() => undefined);
        return res?.status === 200;
      },
      60_000,
      () => `the Collector to listen; log:\n${collectorLog}`,
      200,
    );
  }, 120_000);

  afterAll(async () => {
    if (collector && collector.exitCode === null) {
      collector.kill('SIGTERM');
      await new Promise((r) => collector.once('exit', r));
    }
    await killAllProcesses();
    removeTempDirs();
  });

  it('keeps every error and slow trace whole, about 10 % of the rest, and delivers no span twice', async () => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout' }),
      spanProcessors: [
        new BatchSpanProcessor(new ProtoExporter({ url: `http://127.0.0.1:${collectorHttpPort}/v1/traces` }), {
          maxExportBatchSize: 512,
          maxQueueSize: 10_000,
          scheduledDelayMillis: 100,
        }),
      ],
    });
    const tracer = provider.getTracer('collector-test');
    const kinds: SentTrace['kind'][] = [
      ...Array<SentTrace['kind']>(ORDINARY).fill('ordinary'),
      ...Array<SentTrace['kind']>(ERRORS).fill('error'),
      ...Array<SentTrace['kind']>(SLOW).fill('slow'),
    ];
    const now = Date.now();
    for (const kind of kinds) {
      // Explicit times: a slow trace's root lasts 2.5 s without the test waiting for it.
      const start = now - 3_000;
      const end = kind === 'slow' ? start + 2_500 : start + 20;
      const root = tracer.startSpan('POST /checkout', { kind: SpanKind.SERVER, startTime: start }, ROOT_CONTEXT);
      const ctx = otelTrace.setSpan(ROOT_CONTEXT, root);
      const charge = tracer.startSpan('charge card', { kind: SpanKind.CLIENT, startTime: start + 2 }, ctx);
      if (kind === 'error') charge.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
      charge.end(start + 10);
      const render = tracer.startSpan('render', { kind: SpanKind.INTERNAL, startTime: start + 11 }, ctx);
      render.end(start + 15);
      root.end(end);
      sent.push({
        traceId: root.spanContext().traceId,
        spanIds: new Set([root.spanContext().spanId, charge.spanContext().spanId, render.spanContext().spanId]),
        kind,
      });
    }
    await provider.forceFlush();
    await provider.shutdown();

    /** The trace's span IDs as Andante serves them, or null on 404. */
    const spansOf = async (traceId: string): Promise<string[] | null> => {
      const { status, trace } = await fetchTraceProto(andante.ports.http, traceId);
      if (status === 404) return null;
      expect(status).toBe(200);
      return spanIdsOf(trace!);
    };

    // Every error and slow trace arrives whole (after decision_wait and the batch timeout).
    const mustArrive = sent.filter((t) => t.kind !== 'ordinary');
    await waitFor(
      async () => {
        for (const t of mustArrive) if ((await spansOf(t.traceId))?.length !== SPANS_PER_TRACE) return false;
        return true;
      },
      60_000,
      () => `every error and slow trace to arrive; Collector log:\n${collectorLog.slice(-4000)}`,
      500,
    );
    // Ordinary traces were decided in the same decision tick; one more batch timeout and a margin
    // let any stragglers land before counting.
    await sleep(3_000);

    let ordinaryFound = 0;
    let spansFound = 0;
    for (const t of sent) {
      const spans = await spansOf(t.traceId);
      if (spans === null) {
        expect(t.kind, `trace ${t.traceId} (${t.kind}) did not arrive`).toBe('ordinary');
        continue;
      }
      // Whole: exactly the spans the SDK produced.
      expect(new Set(spans), `trace ${t.traceId} (${t.kind})`).toEqual(t.spanIds);
      spansFound += spans.length;
      if (t.kind === 'ordinary') ordinaryFound++;
    }

    const mean = ORDINARY * SAMPLED_SHARE;
    const tolerance = 4 * Math.sqrt(ORDINARY * SAMPLED_SHARE * (1 - SAMPLED_SHARE));
    expect(ordinaryFound).toBeGreaterThanOrEqual(Math.floor(mean - tolerance));
    expect(ordinaryFound).toBeLessThanOrEqual(Math.ceil(mean + tolerance));

    // No duplicates: the distributor received exactly the spans of the traces found.
    const received = await getMetric(andante.ports.http, 'tempo_distributor_spans_received_total');
    expect(received).toBe(spansFound);
    expect(spansFound).toBe((ERRORS + SLOW + ordinaryFound) * SPANS_PER_TRACE);
  }, 180_000);
});
