// The four rings of Tempo's architecture, built from the config: ingesters (`ring` key),
// metrics-generators, compactors and distributors, each a RingClient over its kvstore and this
// process's member of it. Their pages are /ingester/ring, /metrics-generator/ring,
// /compactor/ring and /distributor/ring.

import type { FastifyInstance } from 'fastify';
import type { Logger } from '@andante/model';
import { Lifecycler, createRingStore, instanceAddress, type RingClient, type RingConfig } from '@andante/ring';
import { durationMs, type AndanteConfig, type BasicRingConfig } from './config.js';
import { registerRingPage } from './routes/ring-page.js';

export interface RingMember {
  store: RingClient;
  lifecycler: Lifecycler;
}

export interface Rings {
  ingester: RingMember;
  generator: RingMember;
  compactor: RingMember;
  distributor: RingMember;
  /** Reads every ring, starts the watches, and joins this process's members (ACTIVE on return). */
  start(): Promise<void>;
  /** Leaves every ring cleanly, then closes the stores. */
  stop(): Promise<void>;
  /** The ring pages other than /ingester/ring (status routes register that one). */
  registerPages(app: FastifyInstance): void;
}

export function createRings(cfg: AndanteConfig, logger: Logger): Rings {
  const grpcPort = cfg.server.grpc_listen_port;
  const log = logger.child({ component: 'ring' });
  const lc = cfg.ingester.lifecycler;
  const ingesterRing: RingConfig = {
    replicationFactor: lc.ring.replication_factor,
    heartbeatTimeoutMs: durationMs(lc.ring.heartbeat_timeout),
    zoneAwarenessEnabled: lc.ring.zone_awareness_enabled,
  };
  const ingesterStore = createRingStore(lc.ring.kvstore, { key: 'ring', ...ingesterRing }, log);
  const ingester: RingMember = {
    store: ingesterStore,
    lifecycler: new Lifecycler(
      ingesterStore,
      {
        id: lc.id,
        address: instanceAddress(lc.address, lc.port, grpcPort),
        numTokens: lc.num_tokens,
        heartbeatPeriodMs: durationMs(lc.heartbeat_period),
        zone: lc.availability_zone,
        unregisterOnShutdown: lc.unregister_on_shutdown,
      },
      log,
    ),
  };
  const basic = (key: string, r: BasicRingConfig, zone = ''): RingMember => {
    const store = createRingStore(r.kvstore, { key, replicationFactor: 1, heartbeatTimeoutMs: durationMs(r.heartbeat_timeout) }, log);
    const lifecycler = new Lifecycler(
      store,
      { id: r.instance_id, address: instanceAddress(r.instance_addr, r.instance_port, grpcPort), numTokens: 128, heartbeatPeriodMs: durationMs(r.heartbeat_period), zone },
      log,
    );
    return { store, lifecycler };
  };
  const rings = {
    ingester,
    generator: basic('metrics-generator', cfg.metrics_generator.ring, cfg.metrics_generator.ring.instance_zone),
    compactor: basic('compactor', cfg.compactor.ring),
    distributor: basic('distributor', cfg.distributor.ring),
  };
  const all = [rings.ingester, rings.generator, rings.compactor, rings.distributor];
  return {
    ...rings,
    async start() {
      for (const r of all) await r.store.start();
      for (const r of all) await r.lifecycler.start();
    },
    async stop() {
      for (const r of all) await r.lifecycler.stop();
      for (const r of all) {
        await r.store.stop();
        await r.store.kv.close();
      }
    },
    registerPages(app) {
      registerRingPage(app, { path: '/metrics-generator/ring', title: 'Metrics-generator ring', store: rings.generator.store });
      registerRingPage(app, { path: '/compactor/ring', title: 'Compactor ring', store: rings.compactor.store });
      registerRingPage(app, { path: '/distributor/ring', title: 'Distributor ring', store: rings.distributor.store });
    },
  };
}
