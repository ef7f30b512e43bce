// Test fixtures for the compactor's tests: small blocks of synthetic traces, and what a reader
// sees for a trace. Not exported from index.ts.

import { Registry } from 'prom-client';
import type { Backend } from '@andante/backend';
import { combineTraces, defaultTenantLimits, silentLogger, staticLimits, type Span, type Trace } from '@andante/model';
import { BackendBlock, encodeBlock, listTenantBlocks, newBlockId, withReplicationFactor, writeBlock, writeEncodedBlock, type BlockEncoderPool, type BlockMeta } from '@andante/storage';
import { Compactor } from './compactor.js';
import { defaultCompactorConfig, type CompactorConfig } from './config.js';
import type { JobOwnership } from './ownership.js';

export const HOUR_NS = 3_600_000n * 1_000_000n;
/** Unix ns of an hour boundary. */
export const T0_NS = 1_800_000_000_000n * 1_000_000n;
export const T0_MS = Number(T0_NS / 1_000_000n);

/** Trace ID number n; the first byte spreads IDs over the ID space. */
export function tid(n: number): Uint8Array {
  const id = new Uint8Array(16);
  id[0] = 0x10 + (n % 200);
  id[14] = n >> 8;
  id[15] = n & 0xff;
  return id;
}

function span(traceId: Uint8Array, n: number, startNs: bigint): Span {
  const spanId = new Uint8Array(8);
  spanId[0] = 7;
  spanId[6] = n >> 8;
  spanId[7] = n & 0xff;
  return {
    traceId, spanId, traceState: '', parentSpanId: new Uint8Array(0), flags: 0, name: `op-${n}`, kind: 2,
    startTimeUnixNano: startNs, endTimeUnixNano: startNs + 1_000_000n, attributes: [{ key: 'n', value: { intValue: BigInt(n) } }],
    droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' },
  };
}

export function trace(traceId: Uint8Array, spans: number[], startNs: bigint): Trace {
  return {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 'lib', version: '1', attributes: [], droppedAttributesCount: 0 }, spans: spans.map((s) => span(traceId, s, startNs)), schemaUrl: '' }],
      schemaUrl: '',
    }],
  };
}

/** The entries of a block holding the given traces (IDs and span numbers), sorted by trace ID. */
export function blockEntries(traces: [number, number[]][], startNs: bigint): { traceId: Uint8Array; trace: Trace }[] {
  return traces
    .map(([n, spans]) => ({ traceId: tid(n), trace: trace(tid(n), spans, startNs) }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.traceId), Buffer.from(b.traceId)));
}

/**
 * Writes one block holding the given traces (IDs and span numbers), starting at startNs; with
 * `replicationFactor`, its meta records it as an ingester's flush does (0: the key left out).
 */
export function cut(backend: Backend, tenant: string, traces: [number, number[]][], startNs: bigint, replicationFactor?: number): Promise<BlockMeta> {
  if (replicationFactor === undefined) return writeBlock(backend, tenant, newBlockId(), blockEntries(traces, startNs));
  return writeEncodedBlock(backend, withReplicationFactor(encodeBlock(tenant, newBlockId(), blockEntries(traces, startNs)), replicationFactor));
}

/** What a reader sees for a trace across every visible block. */
export async function readTrace(backend: Backend, tenant: string, n: number): Promise<Trace | null> {
  const { metas } = await listTenantBlocks(backend, tenant);
  const parts = (await Promise.all(metas.map((m) => new BackendBlock(backend, m).findTraceById(tid(n))))).filter((t): t is Trace => t !== null);
  return parts.length ? combineTraces(parts) : null;
}

export const spanNames = (t: Trace | null): string[] =>
  (t?.resourceSpans ?? []).flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((x) => x.name))).sort();

/** Every span of a trace with its resource and scope, as sorted JSON lines: equal iff the same spans. */
export function canonicalSpans(t: Trace | null): string[] {
  const json = (v: unknown): string => JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x));
  return (t?.resourceSpans ?? [])
    .flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((x) => json({ resource: r.resource, scope: s.scope, span: x }))))
    .sort();
}

/** A compactor on `backend` whose clock is `clock.now`, with its own metrics registry. */
export function testCompactor(
  backend: Backend,
  encoder: BlockEncoderPool,
  clock: { now: number },
  cfg: Partial<CompactorConfig> = {},
  ownership?: JobOwnership,
): { compactor: Compactor; registry: Registry } {
  const registry = new Registry();
  const compactor = new Compactor({
    cfg: { ...defaultCompactorConfig(), ...cfg },
    backend,
    encoder,
    limits: staticLimits(defaultTenantLimits()),
    registry,
    logger: silentLogger,
    now: () => clock.now,
    ...(ownership ? { ownership } : {}),
  });
  return { compactor, registry };
}
