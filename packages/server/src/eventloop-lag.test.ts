import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { EventLoopLagSampler } from './eventloop-lag.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('andante_eventloop_lag_seconds', () => {
  it('records a stall once per 10 ms it lasted, so its quantiles weigh stalls by length', async () => {
    const registry = new Registry();
    const sampler = new EventLoopLagSampler(registry);
    sampler.start();
    try {
      await sleep(100);
      const until = performance.now() + 500;
      while (performance.now() < until) {
        // a 500 ms synchronous task
      }
      await sleep(50);
    } finally {
      sampler.stop();
    }
    const metric = (await registry.getSingleMetric('andante_eventloop_lag_seconds')!.get()).values;
    // prom-client fills metricName on a histogram's values but leaves it out of their type.
    const nameOf = (v: object): string => (v as { metricName?: string }).metricName ?? '';
    const bucket = (le: number): number => metric.find((v) => nameOf(v).endsWith('_bucket') && v.labels.le === le)!.value;
    const count = metric.find((v) => nameOf(v).endsWith('_count'))!.value;
    // The ticks due during the stall: ~50, of which ~25 waited more than 250 ms (one sample
    // without the correction); more than 500 ms only what the machine added to the stall.
    expect(count - bucket(0.25)).toBeGreaterThanOrEqual(20);
    expect(count - bucket(0.5)).toBeLessThanOrEqual(10);
    expect(count).toBeGreaterThanOrEqual(55);
  });
});
