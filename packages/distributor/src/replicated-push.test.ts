// Quorum writes at replication_factor 3 against real in-process ingesters (each with its own WAL
// and backend directory): acknowledged at floor(RF/2)+1, the slow replica finishes in the
// background, a failed replica is retried on the next healthy ingester, and too few live replicas
// answer 503.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import {
  UnavailableError,
  bytesToHex,
  defaultTenantLimits,
  encodeTrace,
  silentLogger,
  staticLimits,
  type IngesterPusher,
  type PushRequest,
  type PushResult,
  type Span,
} from '@andante/model';
import { LocalBackend } from '@andante/backend';
import { Ingester, defaultIngesterConfig } from '@andante/ingester';
import { RingSnapshot, type InstanceDesc } from '@andante/ring';
import { Distributor } from './distributor.js';

const TENANT = 'single-tenant';
const dirs: string[] = [];
const running: Ingester[] = [];
afterEach(async () => {
  for (const i of running.splice(0)) await i.stop();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function realIngester(): Promise<Ingester> {
  const dir = await mkdtemp(join(tmpdir(), 'andante-replicas-'));
  dirs.push(dir);
  const ing = new Ingester({
    cfg: { ...defaultIngesterConfig(), flushCheckPeriodMs: 60_000, flushAllOnShutdown: false },
    walPath: join(dir, 'wal'),
    backend: new LocalBackend(join(dir, 'traces')),
    limits: staticLimits(defaultTenantLimits()),
    registry: new Registry(),
    logger: silentLogger,
  });
  await ing.start();
  running.push(ing);
  return ing;
}

/** A real ingester behind a gate: pushes wait until the gate opens (a hung replica, SIGSTOP). */
class Gated implements IngesterPusher {
  private open!: () => void;
  private readonly opened = new Promise<void>((r) => (this.open = r));
  waiting = 0;
  constructor(private readonly inner: Ingester) {}
  async push(req: PushRequest): Promise<PushResult> {
    this.waiting++;
    await this.opened;
    this.waiting--;
    return this.inner.push(req);
  }
  release(): void {
    this.open();
  }
}

function span(trace: number, n: number): Span {
  const traceId = new Uint8Array(16);
  traceId[0] = 0x5a;
  traceId[14] = trace >> 8;
  traceId[15] = trace & 0xff;
  const spanId = new Uint8Array(8);
  spanId[0] = 1;
  spanId[7] = n;
  return {
    traceId, spanId, traceState: '', parentSpanId: new Uint8Array(0), flags: 0, name: `op-${n}`, kind: 1,
    startTimeUnixNano: 10n, endTimeUnixNano: 20n, attributes: [], droppedAttributesCount: 0,
    events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' },
  };
}

/**
 * One OTLP export of `traces` traces with two spans each; returns the body and the trace IDs.
 * `randomIds`: random trace IDs, whose ring tokens spread over the whole ring (the numbered ones sit together).
 */
function exportOf(traces: number, from = 1, randomIds = false): { body: Uint8Array; ids: Uint8Array[] } {
  const spans: Span[] = [];
  for (let t = from; t < from + traces; t++) {
    const traceId = randomIds ? new Uint8Array(randomBytes(16)) : undefined;
    for (const n of [1, 2]) spans.push(traceId ? { ...span(t, n), traceId } : span(t, n));
  }
  const body = encodeTrace({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 'lib', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
      schemaUrl: '',
    }],
  });
  return { body, ids: [...new Map(spans.map((s) => [bytesToHex(s.traceId), s.traceId])).values()] };
}

function member(id: string, tokens: number[], zone = ''): InstanceDesc {
  const now = Date.now();
  return { id, address: `${id}.ingester:9095`, state: 'ACTIVE', tokens, heartbeatMs: now, registeredMs: now, zone };
}

function distributorOver(members: InstanceDesc[], pushers: Map<string, IngesterPusher>, rf = 3, maxInflightPerIngester?: number, zoneAwarenessEnabled = false) {
  const registry = new Registry();
  const distributor = new Distributor({
    ring: () => new RingSnapshot(members, { replicationFactor: rf, heartbeatTimeoutMs: 60_000, zoneAwarenessEnabled }),
    ingester: (inst) => pushers.get(inst.id)!,
    limits: staticLimits(defaultTenantLimits()),
    registry,
    logger: silentLogger,
    ...(maxInflightPerIngester !== undefined ? { maxInflightPerIngester } : {}),
  });
  return { distributor, registry };
}

/** Spans of trace `id` an ingester holds (its memory; nothing is flushed in these tests). */
async function spansOn(ing: Ingester, id: Uint8Array): Promise<number> {
  const { trace } = await ing.findTraceById(TENANT, id);
  return (trace?.resourceSpans ?? []).reduce((n, rs) => n + rs.scopeSpans.reduce((m, ss) => m + ss.spans.length, 0), 0);
}

const metric = async (registry: Registry, line: string): Promise<number> => {
  const text = await registry.metrics();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found ? Number(found.split(' ').pop()) : 0;
};

describe('replicated push (RF 3)', () => {
  it('writes every trace to its three replicas and counts each call per ingester address', async () => {
    const ings = await Promise.all([realIngester(), realIngester(), realIngester()]);
    const members = [member('a', [1 << 28]), member('b', [2 << 28]), member('c', [3 << 28])];
    const { distributor, registry } = distributorOver(members, new Map(members.map((m, i) => [m.id, ings[i]!])));
    const { body, ids } = exportOf(20);
    expect(await distributor.pushOtlp(TENANT, body)).toEqual({ acceptedSpans: 40, rejectedSpans: 0, errorMessage: '' });
    for (const id of ids) for (const ing of ings) expect(await spansOn(ing, id)).toBe(2);
    for (const m of members) expect(await metric(registry, `tempo_distributor_ingester_appends_total{ingester="${m.address}"}`)).toBe(1);
    expect(await metric(registry, 'tempo_distributor_ingester_append_failures_total{ingester="a.ingester:9095"}')).toBe(0);
  });

  it('acknowledges at the quorum while a hung replica still holds its call; that call lands in the background', async () => {
    const ings = await Promise.all([realIngester(), realIngester(), realIngester()]);
    const hung = new Gated(ings[2]!);
    const members = [member('a', [1 << 28]), member('b', [2 << 28]), member('c', [3 << 28])];
    const { distributor, registry } = distributorOver(members, new Map<string, IngesterPusher>([['a', ings[0]!], ['b', ings[1]!], ['c', hung]]));
    const { body, ids } = exportOf(10);
    // Resolves although replica c has not answered (and never would before the gate opens).
    expect((await distributor.pushOtlp(TENANT, body)).acceptedSpans).toBe(20);
    expect(hung.waiting).toBe(1);
    for (const id of ids) {
      expect(await spansOn(ings[0]!, id)).toBe(2);
      expect(await spansOn(ings[1]!, id)).toBe(2);
      expect(await spansOn(ings[2]!, id)).toBe(0);
    }
    expect(await metric(registry, 'andante_distributor_ingester_background_pushes')).toBe(1);
    hung.release();
    await expect.poll(() => metric(registry, 'andante_distributor_ingester_background_pushes'), { timeout: 10_000 }).toBe(0);
    for (const id of ids) expect(await spansOn(ings[2]!, id)).toBe(2);
  });

  it('bounds the calls a hung replica holds: past maxInflightPerIngester a call to it fails at once and the quorum still acknowledges', async () => {
    const ings = await Promise.all([realIngester(), realIngester(), realIngester()]);
    const hung = new Gated(ings[2]!);
    const members = [member('a', [1 << 28]), member('b', [2 << 28]), member('c', [3 << 28])];
    const { distributor, registry } = distributorOver(members, new Map<string, IngesterPusher>([['a', ings[0]!], ['b', ings[1]!], ['c', hung]]), 3, 2);
    for (let i = 0; i < 5; i++) expect((await distributor.pushOtlp(TENANT, exportOf(2, 1 + i * 2).body)).acceptedSpans).toBe(4);
    // Two calls wait on c; the other three were refused without reaching it.
    expect(hung.waiting).toBe(2);
    expect(await metric(registry, 'andante_distributor_ingester_background_pushes')).toBe(2);
    expect(await metric(registry, 'tempo_distributor_ingester_append_failures_total{ingester="c.ingester:9095"}')).toBe(3);
    expect(await metric(registry, 'tempo_distributor_ingester_appends_total{ingester="c.ingester:9095"}')).toBe(5);
    hung.release();
    await expect.poll(() => metric(registry, 'andante_distributor_ingester_background_pushes'), { timeout: 10_000 }).toBe(0);
  });

  it('retries a failed replica on the next healthy ingester, so each trace still has three copies', async () => {
    const ings = await Promise.all([realIngester(), realIngester(), realIngester(), realIngester()]);
    // d is stopped: it refuses pushes with UNAVAILABLE as an ingester that is shutting down does.
    await ings[3]!.stop();
    const members = [member('a', [0x10000000]), member('b', [0x50000000]), member('c', [0x90000000]), member('d', [0xd0000000])];
    const { distributor, registry } = distributorOver(members, new Map(members.map((m, i) => [m.id, ings[i]!])));
    const { body, ids } = exportOf(30);
    expect((await distributor.pushOtlp(TENANT, body)).acceptedSpans).toBe(60);
    for (const id of ids) {
      const copies = (await Promise.all(ings.slice(0, 3).map((i) => spansOn(i, id)))).filter((n) => n === 2).length;
      expect(copies).toBe(3);
    }
    // Four members evenly spaced at RF 3: d owns a replica of ~3/4 of the traces, re-sent elsewhere.
    const retried = await metric(registry, 'andante_distributor_replica_retries_total');
    expect(retried).toBeGreaterThan(0);
    expect(await metric(registry, 'tempo_distributor_ingester_append_failures_total{ingester="d.ingester:9095"}')).toBe(1);
  });

  it('with zone awareness writes one copy per zone, and a failed replica is retried in its own zone', async () => {
    const ings = await Promise.all(Array.from({ length: 6 }, () => realIngester()));
    // b1 refuses pushes (UNAVAILABLE) while the ring still shows it healthy.
    await ings[1]!.stop();
    const zones = ['a', 'b', 'c', 'a', 'b', 'c'];
    const members = zones.map((z, i) => member(`${z}${i < 3 ? 1 : 2}`, [(0x10 + i * 0x28) * 0x1000000], z));
    const { distributor, registry } = distributorOver(members, new Map(members.map((m, i) => [m.id, ings[i]!])), 3, undefined, true);
    const { body, ids } = exportOf(60, 1, true);
    expect((await distributor.pushOtlp(TENANT, body)).acceptedSpans).toBe(120);
    for (const id of ids) {
      const holders = (await Promise.all(ings.map(async (ing, i) => (i !== 1 && (await spansOn(ing, id)) === 2 ? zones[i] : undefined)))).filter((z) => z !== undefined);
      expect(holders.sort()).toEqual(['a', 'b', 'c']);
    }
    // A third of the tokens put b1 in their set: those copies went to b2.
    expect(await metric(registry, 'andante_distributor_replica_retries_total')).toBeGreaterThan(0);
  });

  it('answers 503 when fewer replicas than the quorum take the write, and when the ring has too few healthy ingesters', async () => {
    const ings = await Promise.all([realIngester(), realIngester(), realIngester()]);
    await ings[1]!.stop();
    await ings[2]!.stop();
    const members = [member('a', [1 << 28]), member('b', [2 << 28]), member('c', [3 << 28])];
    const { distributor } = distributorOver(members, new Map(members.map((m, i) => [m.id, ings[i]!])));
    const err = await distributor.pushOtlp(TENANT, exportOf(3).body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).httpStatus).toBe(503);
    expect((err as Error).message).toContain('shutting down');

    const now = Date.now();
    const dead = members.slice(1).map((m) => ({ ...m, heartbeatMs: now - 120_000 }));
    const { distributor: d2 } = distributorOver([members[0]!, ...dead], new Map([['a', ings[0]!]]));
    const err2 = await d2.pushOtlp(TENANT, exportOf(1).body).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(UnavailableError);
    expect((err2 as Error).message).toBe(
      'not enough healthy ingesters in the ring: at least 2 live replicas required, could only find 1 (ingester.lifecycler.ring.replication_factor 3); start more ingesters or wait for them to turn ACTIVE',
    );
  });
});
