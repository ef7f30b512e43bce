import { describe, expect, it } from 'vitest';
import { bytesToHex, tokenForTraceId, type GeneratorPushRequest, type GeneratorPusher, type TraceSegment } from '@andante/model';
import { RingSnapshot, generateTokens, type InstanceDesc } from '@andante/ring';
import { Registry } from 'prom-client';
import { GeneratorRingPusher } from './generator-ring-pusher.js';
import { generatorPushCounter } from './generator-forwarder.js';

const instance = (id: string, state: InstanceDesc['state'] = 'ACTIVE'): InstanceDesc => ({ id, address: id, state, tokens: generateTokens(128), heartbeatMs: Date.now(), registeredMs: 0, zone: '' });
const segment = (i: number): TraceSegment => {
  const traceId = new Uint8Array(16);
  new DataView(traceId.buffer).setUint32(12, i * 2654435761);
  return { traceId, bytes: new Uint8Array(8), spanCount: 1, startTimeUnixNano: 0n, endTimeUnixNano: 0n };
};

class Recorder implements GeneratorPusher {
  readonly got: GeneratorPushRequest[] = [];
  constructor(private readonly fail = false) {}
  async pushSpans(req: GeneratorPushRequest): Promise<void> {
    if (this.fail) throw new Error('down');
    this.got.push(req);
  }
}

describe('GeneratorRingPusher', () => {
  it('sends every segment of a trace to the generator that owns its token, across pushes', async () => {
    const instances = [instance('gen-a'), instance('gen-b'), instance('gen-c')];
    const ring = new RingSnapshot(instances, { replicationFactor: 1, heartbeatTimeoutMs: 60_000 });
    const clients = new Map(instances.map((i) => [i.id, new Recorder()]));
    const pusher = new GeneratorRingPusher({ ring: () => ring, client: (i) => clients.get(i.id)! });
    const segments = Array.from({ length: 300 }, (_, i) => segment(i));
    await pusher.pushSpans({ tenantId: 't', segments });
    await pusher.pushSpans({ tenantId: 't', segments: segments.slice(0, 100) }); // the same traces again
    const owner = new Map<string, string>();
    for (const [id, rec] of clients) {
      expect(rec.got.length).toBeGreaterThan(0); // 300 traces spread over all three
      for (const req of rec.got) {
        for (const s of req.segments) {
          const key = bytesToHex(s.traceId);
          expect(owner.get(key) ?? id).toBe(id);
          owner.set(key, id);
          expect(ring.replicationSetFor(tokenForTraceId(s.traceId)).instances[0]!.id).toBe(id);
        }
      }
    }
    expect(owner.size).toBe(300);
  });

  it('skips an unhealthy generator and reports a failing one', async () => {
    const down = instance('gen-down', 'LEAVING');
    const ok = instance('gen-ok');
    const ring = new RingSnapshot([down, ok], { replicationFactor: 1, heartbeatTimeoutMs: 60_000 });
    const rec = new Recorder();
    const pusher = new GeneratorRingPusher({ ring: () => ring, client: () => rec });
    // A LEAVING owner takes its slot without counting: those traces find no generator.
    const segments = Array.from({ length: 50 }, (_, i) => segment(i));
    const owned = segments.filter((s) => {
      try {
        ring.replicationSetFor(tokenForTraceId(s.traceId));
        return true;
      } catch {
        return false;
      }
    });
    await pusher.pushSpans({ tenantId: 't', segments: owned });
    expect(rec.got.flatMap((r) => r.segments)).toHaveLength(owned.length);
    expect(owned.length).toBeLessThan(50);
    await expect(pusher.pushSpans({ tenantId: 't', segments })).rejects.toThrow('no metrics-generator for the trace');

    const failing = new GeneratorRingPusher({ ring: () => new RingSnapshot([ok], { replicationFactor: 1, heartbeatTimeoutMs: 60_000 }), client: () => new Recorder(true) });
    await expect(failing.pushSpans({ tenantId: 't', segments })).rejects.toThrow('gen-ok: down');
  });

  it('sends everything to a lone healthy generator, and nothing to a lone unhealthy one', async () => {
    const segments = Array.from({ length: 20 }, (_, i) => segment(i));
    const rec = new Recorder();
    const lone = new GeneratorRingPusher({ ring: () => new RingSnapshot([instance('gen-1')], { replicationFactor: 1, heartbeatTimeoutMs: 60_000 }), client: () => rec });
    await lone.pushSpans({ tenantId: 't', segments });
    expect(rec.got).toHaveLength(1);
    expect(rec.got[0]!.segments).toEqual(segments);
    const stale = { ...instance('gen-1'), heartbeatMs: Date.now() - 120_000 };
    const dead = new GeneratorRingPusher({ ring: () => new RingSnapshot([stale], { replicationFactor: 1, heartbeatTimeoutMs: 60_000 }), client: () => rec });
    await expect(dead.pushSpans({ tenantId: 't', segments })).rejects.toThrow('no metrics-generator for the trace');
    const leaving = new GeneratorRingPusher({ ring: () => new RingSnapshot([instance('gen-1', 'LEAVING')], { replicationFactor: 1, heartbeatTimeoutMs: 60_000 }), client: () => rec });
    await expect(leaving.pushSpans({ tenantId: 't', segments })).rejects.toThrow('no metrics-generator for the trace');
    expect(rec.got).toHaveLength(1);
  });

  it("counts pushes and failures by the generator pushed to (Tempo's metrics_generator label), and a push with no generator to choose", async () => {
    const instances = [instance('gen-a'), instance('gen-b')];
    const ring = new RingSnapshot(instances, { replicationFactor: 1, heartbeatTimeoutMs: 60_000 });
    const clients = new Map([['gen-a', new Recorder()], ['gen-b', new Recorder(true)]]);
    const registry = new Registry();
    const pusher = new GeneratorRingPusher({ ring: () => ring, client: (i) => clients.get(i.id)!, onPush: generatorPushCounter(registry) });
    await expect(pusher.pushSpans({ tenantId: 't', segments: Array.from({ length: 100 }, (_, i) => segment(i)) })).rejects.toThrow(/gen-b: down/);
    const values = async (name: string) => Object.fromEntries((await registry.getSingleMetric(name)!.get()).values.map((v) => [v.labels['metrics_generator'], v.value]));
    expect(await values('tempo_distributor_metrics_generator_pushes_total')).toEqual({ 'gen-a': 1, 'gen-b': 1 });
    expect(await values('tempo_distributor_metrics_generator_pushes_failures_total')).toEqual({ 'gen-b': 1 });

    const empty = new GeneratorRingPusher({ ring: () => new RingSnapshot([], { replicationFactor: 1, heartbeatTimeoutMs: 60_000 }), client: () => new Recorder(), onPush: generatorPushCounter(new Registry()) });
    await expect(empty.pushSpans({ tenantId: 't', segments: [segment(1)] })).rejects.toThrow(/no metrics-generator/);
  });
});
