// The four rings of Tempo's architecture, built from the config: ingesters (`ring` key),
// metrics-generators, compactors and distributors, each a RingClient over its kvstore
// (createRingStore: inmemory or etcd) and this process's member of it. Each ring is an internal
// module (modules.ts) that owns the view and serves the ring's page (/ingester/ring,
// /metrics-generator/ring, /compactor/ring, /distributor/ring); the component module that is the
// member joins after it started and leaves after it stopped (withMembership).

import type { Logger } from '@andante/model';
import { BASIC_RING_NUM_TOKENS, Lifecycler, createRingStore, instanceAddress, type BasicRingConfig, type LifecyclerConfig, type RingClient, type RingConfig } from '@andante/ring';
import { service, type Service } from '@andante/service';
import { durationMs, type AndanteConfig } from './config.js';
import { registerRingPage } from './routes/ring-page.js';

export interface RingMember {
  store: RingClient;
  lifecycler: Lifecycler;
}

export type RingName = 'ingester' | 'metrics-generator' | 'compactor' | 'distributor';

/** A ring's internal module: its view and this process's (not yet started) member. */
export interface RingService extends Service {
  readonly ring: RingMember;
}

const PAGES: Record<RingName, { path: string; title: string }> = {
  ingester: { path: '/ingester/ring', title: 'Ingester ring' },
  'metrics-generator': { path: '/metrics-generator/ring', title: 'Metrics-generator ring' },
  compactor: { path: '/compactor/ring', title: 'Compactor ring' },
  distributor: { path: '/distributor/ring', title: 'Distributor ring' },
};

/**
 * One ring over its kvstore, with this process's member (it joins when its module starts).
 * `boundGrpcPort` gives the internal gRPC port once bound: with `grpc_listen_port: 0` (tests) the
 * member registers the port the OS gave, which is known before any member joins.
 */
export function createRing(name: RingName, cfg: AndanteConfig, logger: Logger, boundGrpcPort: () => number = () => 0): RingMember {
  const grpcPort = cfg.server.grpc_listen_port;
  // The address others dial; read when the member registers, so an ephemeral port is the bound one.
  const memberAddress = (addr: string, port: number): { readonly address: string } =>
    port || grpcPort ? { address: instanceAddress(addr, port, grpcPort) } : { get address() { return instanceAddress(addr, 0, boundGrpcPort()); } };
  const log = logger.child({ component: 'ring', ring: name });
  if (name === 'ingester') {
    const lc = cfg.ingester.lifecycler;
    const ringConfig: RingConfig = {
      replicationFactor: lc.ring.replication_factor,
      heartbeatTimeoutMs: durationMs(lc.ring.heartbeat_timeout),
      zoneAwarenessEnabled: lc.ring.zone_awareness_enabled,
    };
    const store = createRingStore(lc.ring.kvstore, { key: 'ring', ...ringConfig }, log);
    const lifecycler = new Lifecycler(
      store,
      Object.defineProperties(
        {
          id: lc.id,
          numTokens: lc.num_tokens,
        heartbeatPeriodMs: durationMs(lc.heartbeat_period),
        zone: lc.availability_zone,
          unregisterOnShutdown: lc.unregister_on_shutdown,
        },
        Object.getOwnPropertyDescriptors(memberAddress(lc.address, lc.port)),
      ) as LifecyclerConfig,
      log,
    );
    return { store, lifecycler };
  }
  const basic = (key: string, r: BasicRingConfig): RingMember => {
    const store = createRingStore(r.kvstore, { key, replicationFactor: 1, heartbeatTimeoutMs: durationMs(r.heartbeat_timeout) }, log);
    const lifecycler = new Lifecycler(
      store,
      Object.defineProperties(
        { id: r.instance_id, numTokens: BASIC_RING_NUM_TOKENS, heartbeatPeriodMs: durationMs(r.heartbeat_period), zone: r.instance_zone },
        Object.getOwnPropertyDescriptors(memberAddress(r.instance_addr, r.instance_port)),
      ) as LifecyclerConfig,
      log,
    );
    return { store, lifecycler };
  };
  switch (name) {
    case 'metrics-generator':
      return basic('metrics-generator', cfg.metrics_generator.ring);
    case 'compactor':
      return basic('compactor', cfg.compactor.ring);
    case 'distributor':
      return basic('distributor', cfg.distributor.ring);
  }
}

/**
 * The ring's internal module: reads the ring and starts the watch before its members and readers
 * start, serves the ring's page, and closes the store after they stopped (the member has left).
 */
export function ringModule(moduleName: string, name: RingName, ring: RingMember): RingService {
  return Object.assign(
    service(moduleName, {
      start: () => ring.store.start(),
      stop: async () => {
        await ring.store.stop();
        await ring.store.kv.close();
      },
      registerHttp: (http) => registerRingPage(http, { ...PAGES[name], store: ring.store }),
    }),
    { ring },
  );
}

/**
 * A component module as a ring member: it joins (ACTIVE on return) once the module started (the
 * ingester after WAL replay). A stop goes LEAVING first (distributors stop choosing an ingester
 * for writes, queriers still read it), stops the module while LEAVING (the ingester refuses pushes
 * and flushes), then removes the member, so a member in the ring is always one that serves.
 * Not ready (/ready 503) until the member is ACTIVE, and again once it is LEAVING.
 */
export function withMembership<T extends Service>(s: T, ring: RingMember): T {
  return {
    ...s,
    start: async () => {
      await s.start();
      await ring.lifecycler.start();
      // Readers in this process route by the view: it shows the member ACTIVE before start returns.
      await ring.store.refresh();
    },
    stop: async () => {
      let moduleStopped = false;
      const stopModule = async (): Promise<void> => {
        moduleStopped = true;
        await s.stop();
      };
      try {
        await ring.lifecycler.stop(stopModule);
      } finally {
        if (!moduleStopped) await s.stop();
      }
    },
    notReady: () => {
      const why = s.notReady();
      if (why !== undefined) return why;
      const state = ring.lifecycler.state;
      return state === 'ACTIVE' ? undefined : `not ACTIVE in the ring (state ${state ?? 'not registered'})`;
    },
  };
}
