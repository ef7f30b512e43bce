// Ring timings against a real etcd (Debian's etcd-server, started here on ephemeral ports):
// how fast another process's view sees a clean leave (watch), how long four members joining at
// once take (compare-and-swap races), and how long a member that stops heartbeating without
// leaving stays healthy (lease TTL = heartbeat_timeout, 3 s here).
// Run: pnpm bench:ring  (prints one JSON line)

import { silentLogger } from '@andante/model';
import { Lifecycler, createRingStore, defaultKVStoreConfig, type RingClient } from '@andante/ring';
import { startTestEtcd } from '@andante/ring/testing';

const HEARTBEAT_TIMEOUT_MS = 3_000;
const etcd = await startTestEtcd();
const base = defaultKVStoreConfig();
const kv = { ...base, store: 'etcd', etcd: { ...base.etcd, endpoints: [etcd.endpoint] } };
const ring = async (): Promise<RingClient> => {
  const r = createRingStore(kv, { key: 'ring', replicationFactor: 1, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS }, silentLogger);
  await r.start();
  return r;
};
const close = async (r: RingClient): Promise<void> => {
  await r.stop();
  await r.kv.close();
};
const until = async (cond: () => boolean | Promise<boolean>): Promise<void> => {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 5));
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const viewer = await ring();
const leave: number[] = [];
for (let i = 0; i < 20; i++) {
  const r = await ring();
  const lc = new Lifecycler(r, { id: `leave-${i}`, address: 'x:9095', numTokens: 128, heartbeatPeriodMs: 1_000 });
  await lc.start();
  await until(async () => (await viewer.list()).some((m) => m.id === `leave-${i}`));
  const t0 = performance.now();
  await lc.stop();
  await until(async () => !(await viewer.list()).some((m) => m.id === `leave-${i}`));
  leave.push(performance.now() - t0);
  await close(r);
}

const joins: number[] = [];
for (let round = 0; round < 5; round++) {
  const rs = await Promise.all([0, 1, 2, 3].map(() => ring()));
  const lcs = rs.map((r, i) => new Lifecycler(r, { id: `join-${round}-${i}`, address: 'x:9095', numTokens: 128, heartbeatPeriodMs: 1_000 }));
  const t0 = performance.now();
  await Promise.all(lcs.map((l) => l.start()));
  joins.push(performance.now() - t0);
  for (const l of lcs) await l.stop();
  for (const r of rs) await close(r);
}

const dead: number[] = [];
for (let i = 0; i < 3; i++) {
  const r = await ring();
  const lc = new Lifecycler(r, { id: `dead-${i}`, address: 'x:9095', numTokens: 128, heartbeatPeriodMs: 200 });
  await lc.start();
  await until(() => viewer.snapshot().healthyInstances().some((m) => m.id === `dead-${i}`));
  await lc.abandon();
  await r.kv.close();
  const t0 = performance.now();
  await until(() => !viewer.snapshot().healthyInstances().some((m) => m.id === `dead-${i}`));
  dead.push(performance.now() - t0);
}

const round = (x: number): number => Math.round(x);
console.log(
  JSON.stringify({
    leave_seen_by_watch_ms: { median: round(median(leave)), max: round(Math.max(...leave)) },
    four_concurrent_joins_ms: { median: round(median(joins)), all: joins.map(round) },
    stopped_heartbeat_to_unhealthy_ms: { heartbeat_timeout: HEARTBEAT_TIMEOUT_MS, all: dead.map(round) },
  }),
);
await close(viewer);
await etcd.close();
