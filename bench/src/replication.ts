// Replication cost: bytes in the backend per acknowledged span at replication_factor 3 vs 1,
// before and after compaction, and CPU per acknowledged span of the write path (distributor and
// ingesters, WAL and flush included). In one process: a Distributor over a ring of three real
// Ingesters (each its own WAL dir) sharing one local backend; every ingester flushes everything
// (flushAll), then a Compactor runs cycles until nothing is left to merge. RF 1 and RF 3 runs are
// interleaved (1 3 1 3 ...) so a loaded machine affects both alike; medians are printed.
//
//   pnpm build && node bench/dist/replication.js [--spans 200000 --rounds 3]

import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { defaultTenantLimits, silentLogger, staticLimits } from '@andante/model';
import { LocalBackend } from '@andante/backend';
import { BlockEncoderPool, listTenantBlocks } from '@andante/storage';
import { Compactor, defaultCompactorConfig } from '@andante/compactor';
import { Distributor } from '@andante/distributor';
import { Ingester, defaultIngesterConfig } from '@andante/ingester';
import { RingSnapshot, generateTokens, type InstanceDesc } from '@andante/ring';
import { encodeBatches } from './payloads.js';

const TENANT = 'bench';
const SPANS_PER_BATCH = 500;
const SPANS_PER_TRACE = 20;

interface Run {
  rf: number;
  spans: number;
  /** Live blocks' bytes (meta.size) after every ingester flushed. */
  flushedBytes: number;
  flushedBlocks: number;
  /** Live blocks' bytes after compaction (inputs marked compacted are not counted). */
  compactedBytes: number;
  compactedBlocks: number;
  /** Process CPU (all threads) while pushing and flushing, microseconds. */
  writeCpuUs: number;
}

async function liveBlocks(backend: LocalBackend): Promise<{ bytes: number; blocks: number }> {
  const { metas } = await listTenantBlocks(backend, TENANT);
  return { bytes: metas.reduce((n, m) => n + m.size, 0), blocks: metas.length };
}

async function runOnce(rf: number, bodies: Uint8Array[], encoder: BlockEncoderPool): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), `andante-bench-replication-rf${rf}-`));
  try {
    const backend = new LocalBackend(join(dir, 'traces'));
    const ingesters: Ingester[] = [];
    const now = Date.now();
    const taken = new Set<number>();
    const members: InstanceDesc[] = [];
    for (let i = 0; i < 3; i++) {
      const ing = new Ingester({
        // Nothing is cut or flushed before flushAll: blocks are what a graceful stop writes.
        cfg: { ...defaultIngesterConfig(), flushCheckPeriodMs: 3_600_000, traceIdlePeriodMs: 3_600_000, maxUnflushedBytes: 0 },
        walPath: join(dir, `wal-${i}`),
        backend,
        encoder,
        limits: staticLimits({ ...defaultTenantLimits(), ingestionRateLimitBytes: 1e12, ingestionBurstSizeBytes: 1e12, maxTracesPerUser: 0 }),
        registry: new Registry(),
        logger: silentLogger,
      });
      await ing.start();
      ingesters.push(ing);
      const tokens = generateTokens(128, taken);
      for (const t of tokens) taken.add(t);
      members.push({ id: `ingester-${i}`, address: `ingester-${i}`, state: 'ACTIVE', tokens, heartbeatMs: now, registeredMs: now, zone: '' });
    }
    const byId = new Map(members.map((m, i) => [m.id, ingesters[i]!]));
    const distributor = new Distributor({
      ring: () => new RingSnapshot(members, { replicationFactor: rf, heartbeatTimeoutMs: 3_600_000 }),
      ingester: (inst) => byId.get(inst.id)!,
      limits: staticLimits({ ...defaultTenantLimits(), ingestionRateLimitBytes: 1e12, ingestionBurstSizeBytes: 1e12, maxTracesPerUser: 0 }),
      registry: new Registry(),
      logger: silentLogger,
    });

    const cpu0 = process.cpuUsage();
    let spans = 0;
    // Eight exports in flight, as a few SDK exporters would send.
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!.slice();
          const res = await distributor.pushOtlp(TENANT, body);
          spans += res.acceptedSpans;
          if (res.rejectedSpans > 0) throw new Error(`spans refused: ${res.errorMessage}`);
        }
      }),
    );
    // Background replica calls finish before the ingesters flush (nothing may be left out).
    while ((await distributor.metrics.backgroundPushes.get()).values[0]?.value) await new Promise((r) => setTimeout(r, 10));
    for (const ing of ingesters) await ing.flushAll();
    const cpu = process.cpuUsage(cpu0);
    for (const ing of ingesters) await ing.stop();
    const flushed = await liveBlocks(backend);

    const compactor = new Compactor({
      // One window for all time: the run never straddles a window boundary.
      cfg: { ...defaultCompactorConfig(), compactionWindowMs: 1_000 * 24 * 3_600_000, maxInputBlocks: 8 },
      backend,
      encoder,
      limits: staticLimits(defaultTenantLimits()),
      registry: new Registry(),
      logger: silentLogger,
    });
    while ((await compactor.runCycle()).compactions > 0);
    const compacted = await liveBlocks(backend);
    return {
      rf,
      spans,
      flushedBytes: flushed.bytes,
      flushedBlocks: flushed.blocks,
      compactedBytes: compacted.bytes,
      compactedBlocks: compacted.blocks,
      writeCpuUs: cpu.user + cpu.system,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const arg = (name: string, dflt: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const spans = arg('spans', 200_000);
  const rounds = arg('rounds', 3);
  const bodies = encodeBatches(Math.ceil(spans / SPANS_PER_BATCH), SPANS_PER_BATCH, SPANS_PER_TRACE);
  const encoder = new BlockEncoderPool();
  const runs: Run[] = [];
  const load0 = loadavg()[0]!;
  try {
    for (let r = 0; r < rounds; r++) for (const rf of [1, 3]) runs.push(await runOnce(rf, bodies, encoder));
  } finally {
    await encoder.close();
  }
  const load1 = loadavg()[0]!;
  const summary = (rf: number) => {
    const rs = runs.filter((x) => x.rf === rf);
    const spans = rs[0]!.spans;
    return {
      rf,
      spans,
      flushedBytesPerSpan: median(rs.map((x) => x.flushedBytes / x.spans)),
      flushedBlocks: median(rs.map((x) => x.flushedBlocks)),
      compactedBytesPerSpan: median(rs.map((x) => x.compactedBytes / x.spans)),
      compactedBlocks: median(rs.map((x) => x.compactedBlocks)),
      writeCpuUsPerSpan: median(rs.map((x) => x.writeCpuUs / x.spans)),
    };
  };
  const one = summary(1);
  const three = summary(3);
  console.log(JSON.stringify({ rounds, loadAverage: [load0, load1].map((l) => Number(l.toFixed(1))), rf1: one, rf3: three }, null, 2));
  console.log(
    `RF3/RF1: backend bytes per acknowledged span ${(three.flushedBytesPerSpan / one.flushedBytesPerSpan).toFixed(2)}x after flush, ` +
      `${(three.compactedBytesPerSpan / one.compactedBytesPerSpan).toFixed(2)}x after compaction; ` +
      `write-path CPU per span ${(three.writeCpuUsPerSpan / one.writeCpuUsPerSpan).toFixed(2)}x`,
  );
}

await main();
