import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { defaultTenantLimits, silentLogger, type GeneratorPushRequest, type GeneratorPusher, type LimitsProvider, type TraceSegment } from '@andante/model';
import { GeneratorForwarder } from './generator-forwarder.js';

const segment = (n: number): TraceSegment => ({ traceId: new Uint8Array(16).fill(n), bytes: new Uint8Array(100), spanCount: 1, startTimeUnixNano: 0n, endTimeUnixNano: 0n });
const limitsFor = (enabled: string[]): LimitsProvider => ({
  forTenant: (t) => {
    const l = defaultTenantLimits();
    if (enabled.includes(t)) l.metricsGenerator.processors = ['span-metrics'];
    return l;
  },
});
async function counter(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.reduce((n, v) => n + v.value, 0);
}

/** A generator stand-in that records pushes; `gate` holds each push until released, `fail` rejects them. */
class RecordingPusher implements GeneratorPusher {
  readonly pushes: GeneratorPushRequest[] = [];
  gate: Promise<void> | undefined;
  fail = false;
  async pushSpans(req: GeneratorPushRequest): Promise<void> {
    await this.gate;
    if (this.fail) throw new Error('generator down');
    this.pushes.push(req);
  }
}

describe('GeneratorForwarder', () => {
  it('forwards only tenants whose overrides enable a processor', async () => {
    const registry = new Registry();
    const pusher = new RecordingPusher();
    const fwd = new GeneratorForwarder({ pusher, limits: limitsFor(['a']), registry, logger: silentLogger });
    fwd.onSegments('a', [segment(1), segment(2)]);
    fwd.onSegments('b', [segment(3)]);
    await fwd.drain();
    expect(pusher.pushes.map((p) => [p.tenantId, p.segments.length])).toEqual([['a', 2]]);
    expect(await counter(registry, 'tempo_distributor_queue_pushes_total')).toBe(1);
  });

  it('returns at once while the generator is stuck, drops pushes beyond the queue and counts them', async () => {
    const registry = new Registry();
    const pusher = new RecordingPusher();
    let release!: () => void;
    pusher.gate = new Promise((r) => (release = r));
    const fwd = new GeneratorForwarder({ pusher, limits: limitsFor(['a']), registry, logger: silentLogger, queueSize: 5 });
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) fwd.onSegments('a', [segment(i)]);
    expect(performance.now() - t0).toBeLessThan(50);
    await new Promise((r) => setTimeout(r, 20));
    // One push is in the stuck generator; five wait; the rest were dropped.
    expect(await counter(registry, 'tempo_distributor_queue_pushes_failures_total')).toBe(44);
    release();
    await fwd.drain();
    expect(pusher.pushes).toHaveLength(6);
  });

  it('keeps going after a failing generator', async () => {
    const registry = new Registry();
    const pusher = new RecordingPusher();
    pusher.fail = true;
    const fwd = new GeneratorForwarder({ pusher, limits: limitsFor(['a']), registry, logger: silentLogger });
    fwd.onSegments('a', [segment(1)]);
    fwd.onSegments('a', [segment(2)]);
    await fwd.drain();
    expect(pusher.pushes).toHaveLength(0);
    pusher.fail = false;
    fwd.onSegments('a', [segment(3)]);
    await fwd.drain();
    expect(pusher.pushes).toHaveLength(1);
  });

  it('bounds queued bytes across tenants', async () => {
    const registry = new Registry();
    const pusher = new RecordingPusher();
    let release!: () => void;
    pusher.gate = new Promise((r) => (release = r));
    const fwd = new GeneratorForwarder({ pusher, limits: limitsFor(['a', 'b']), registry, logger: silentLogger, maxQueuedBytes: 250 });
    for (const t of ['a', 'b', 'a', 'b']) fwd.onSegments(t, [segment(1)]);
    await new Promise((r) => setTimeout(r, 10));
    fwd.onSegments('a', [segment(1)]);
    fwd.onSegments('b', [segment(1)]);
    fwd.onSegments('a', [segment(1)]);
    // The first push went straight to the (stuck) generator; two more fit in 250 bytes.
    expect(await counter(registry, 'tempo_distributor_queue_pushes_failures_total')).toBe(4);
    release();
    await fwd.drain();
    expect(pusher.pushes.map((p) => p.tenantId)).toEqual(['a', 'b', 'a']);
  });
});
