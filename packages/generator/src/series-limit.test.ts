// max_active_series under a stream of ever-new label values: refused series are counted, the
// series already there keep counting exactly, and the heap stays flat (the generator's memory is
// bounded by configuration, never by the traffic).

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { SpanKind, defaultTenantLimits, encodeTrace, silentLogger, staticLimits, type TraceSegment } from '@andante/model';
import { defaultGeneratorConfig } from './config.js';
import { Generator } from './generator.js';
import { batch, span } from './test-spans.fixture.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

describe('max_active_series exceeded by a stream of new label values', () => {
  it('counts the refused series, keeps the existing ones exact and holds the heap flat', async () => {
    const MAX = 500;
    const limits = defaultTenantLimits();
    limits.metricsGenerator = { ...limits.metricsGenerator, processors: ['span-metrics', 'service-graphs'], max_active_series: MAX };
    const cfg = defaultGeneratorConfig();
    cfg.metrics_ingestion_time_range_slack = '87600h';
    const registry = new Registry();
    const gen = new Generator({ cfg, limits: staticLimits(limits), registry, logger: silentLogger });

    const KEPT = ['GET /a', 'GET /b', 'GET /c'];
    let fresh = 0;
    /** One push: the kept names once each, and `n` spans named as never before. */
    const push = (n: number): void => {
      const spans = [...KEPT.map((name) => span({ name, kind: SpanKind.SERVER })), ...Array.from({ length: n }, () => span({ name: `GET /user/${fresh++}`, kind: SpanKind.INTERNAL }))];
      const seg: TraceSegment = { traceId: spans[0]!.traceId, bytes: encodeTrace({ resourceSpans: [batch({ 'service.name': 'api' }, spans)] }), spanCount: spans.length, startTimeUnixNano: 0n, endTimeUnixNano: 0n };
      gen.pushSpansSync({ tenantId: 't', segments: [seg] });
    };

    const ROUNDS = 120;
    let before = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      push(1_000);
      gen.tickNow();
      if (round === 20) before = heapAfterGc();
    }
    const after = heapAfterGc();
    expect(fresh).toBe(ROUNDS * 1_000);

    // The limit holds; every refusal is counted (one per metric a refused span would have created).
    expect(gen.activeSeries('t')).toBeLessThanOrEqual(MAX);
    const limited = (await registry.getSingleMetric('tempo_metrics_generator_registry_series_limited_total')!.get()).values.reduce((n, v) => n + v.value, 0);
    expect(limited).toBeGreaterThanOrEqual(ROUNDS * 1_000 - MAX);

    // 100k new names after round 20 left the heap where it was (unbounded, each would hold ~19
    // series: ~100 MiB). The margin covers V8's own noise.
    const grownMiB = (after - before) / 2 ** 20;
    expect(grownMiB, `heap grew ${grownMiB.toFixed(2)} MiB`).toBeLessThan(3);

    // The series that existed before the limit was reached kept counting, exactly.
    const calls = gen.collectNow('t')!.series.filter((s) => s.labels.some(([k, v]) => k === '__name__' && v === 'traces_spanmetrics_calls_total'));
    const kept = Object.fromEntries(calls.map((s) => [Object.fromEntries(s.labels)['span_name'], s.samples[0]!.value]).filter(([name]) => KEPT.includes(name as string)));
    expect(kept).toEqual({ 'GET /a': ROUNDS, 'GET /b': ROUNDS, 'GET /c': ROUNDS });
    await gen.stop();
  }, 60_000);
});
