// andante_eventloop_lag_seconds: how long work waited for the event loop, as a Prometheus
// histogram, so `histogram_quantile(0.99, rate(...[5m]))` answers over any window.
//
// prom-client's default nodejs_eventloop_lag_* are gauges from monitorEventLoopDelay, reset at
// every scrape: two scrapers split each other's windows, gauges cannot be aggregated over time,
// and each stall counts as one timer sample however long it lasts (one 1.5 s stall among ~1,000
// 10 ms samples leaves their p99 untouched). Here a timer due every 10 ms measures how late it
// fires, and a stall of L is recorded as the waits of the ticks that fell due during it (L,
// L - 10 ms, L - 20 ms, ...): each sample is "a request arriving now would wait this long", so
// the quantiles weigh stalls by their length.

import { Histogram, type Registry } from 'prom-client';

const SAMPLE_INTERVAL_MS = 10;

export class EventLoopLagSampler {
  private readonly histogram: Histogram;
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  constructor(registry: Registry) {
    this.histogram = new Histogram({
      name: 'andante_eventloop_lag_seconds',
      help: `Time work waited for the event loop, sampled every ${SAMPLE_INTERVAL_MS} ms; a stall counts once per ${SAMPLE_INTERVAL_MS} ms it lasted.`,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  }

  start(): void {
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  private tick(): void {
    const now = performance.now();
    const lagMs = Math.max(0, now - this.last - SAMPLE_INTERVAL_MS);
    this.last = now;
    this.histogram.observe(lagMs / 1000);
    // Ticks that fell due during the stall and were skipped, each with what it waited.
    for (let waited = lagMs - SAMPLE_INTERVAL_MS; waited > 0; waited -= SAMPLE_INTERVAL_MS) this.histogram.observe(waited / 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
