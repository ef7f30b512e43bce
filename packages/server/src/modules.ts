// The module table (Tempo's cmd/tempo/app/modules.go, in our own way): each module's
// dependencies, and target selection. Internal modules (server, overrides, store, the four
// rings, blocklist) are not user-selectable; they run when a selected module needs them.

import { TARGETS, type Target } from './config.js';

/** A user-selectable module (every target but `all`). */
export type ModuleName = Exclude<Target, 'all'>;
/** The rings' internal modules: each ring's view over its kvstore and its page (rings.ts). */
export type RingModuleName = 'ring' | 'generator-ring' | 'compactor-ring' | 'distributor-ring';
export type InternalModuleName = 'server' | 'overrides' | 'store' | RingModuleName | 'blocklist';
export type AnyModuleName = ModuleName | InternalModuleName;

export interface ModuleDef {
  /** Modules that must run (and start first) wherever this one runs. */
  deps: readonly AnyModuleName[];
  /**
   * Modules this one calls when they run in the same process: they start first and stop after it.
   * When one of them is absent, its interface must come from a remote client (see RemoteClients).
   */
  calls: readonly ModuleName[];
  /**
   * Modules that call this one's internal methods to pull work from it (queriers pull jobs from
   * query-frontends, Tempo's pull model): when one of them is not in the process, this module
   * serves its internal methods.
   */
  pulledBy?: readonly ModuleName[];
  internal: boolean;
}

export const MODULES: Readonly<Record<AnyModuleName, ModuleDef>> = {
  server: { deps: [], calls: [], internal: true },
  overrides: { deps: ['server'], calls: [], internal: true },
  /** The backend (local dir or S3) and the block encoder workers. */
  store: { deps: ['overrides'], calls: [], internal: true },
  /** The ingester ring (members and the snapshot readers route by). */
  ring: { deps: ['server'], calls: [], internal: true },
  'generator-ring': { deps: ['server'], calls: [], internal: true },
  'compactor-ring': { deps: ['server'], calls: [], internal: true },
  'distributor-ring': { deps: ['server'], calls: [], internal: true },
  /** The blocks in the backend, polled every blocklist_poll; queries are split over them. */
  blocklist: { deps: ['store'], calls: [], internal: true },
  ingester: { deps: ['store', 'overrides', 'ring'], calls: [], internal: false },
  'metrics-generator': { deps: ['overrides', 'generator-ring'], calls: [], internal: false },
  distributor: { deps: ['overrides', 'ring', 'generator-ring', 'distributor-ring'], calls: ['ingester', 'metrics-generator'], internal: false },
  querier: { deps: ['store', 'overrides', 'ring', 'blocklist'], calls: ['ingester'], internal: false },
  'query-frontend': { deps: ['overrides', 'blocklist'], calls: ['querier'], pulledBy: ['querier'], internal: false },
  compactor: { deps: ['store', 'overrides', 'compactor-ring'], calls: [], internal: false },
};

/** What `all` runs: every user-selectable module. */
export const ALL_MODULES: readonly ModuleName[] = TARGETS.filter((t): t is ModuleName => t !== 'all');

/** The selected modules: `all` expands to every module; order is the table's, not the flag's. */
export function selectModules(targets: readonly Target[]): Set<ModuleName> {
  const selected = new Set<ModuleName>();
  for (const t of targets) for (const m of t === 'all' ? ALL_MODULES : [t]) selected.add(m);
  return selected;
}

/**
 * Every module the selection runs (internal ones included), in start order: each after its
 * dependencies and after the selected modules it calls in-process. Ties keep the table's order.
 */
export function startOrder(selected: ReadonlySet<ModuleName>): AnyModuleName[] {
  const running = new Set<AnyModuleName>();
  const add = (m: AnyModuleName): void => {
    if (running.has(m)) return;
    running.add(m);
    for (const d of MODULES[m].deps) add(d);
  };
  for (const m of selected) add(m);
  const order: AnyModuleName[] = [];
  const placed = new Set<AnyModuleName>();
  const place = (m: AnyModuleName): void => {
    if (placed.has(m)) return;
    placed.add(m);
    for (const d of MODULES[m].deps) place(d);
    for (const c of MODULES[m].calls) if (running.has(c)) place(c);
    order.push(m);
  };
  for (const m of Object.keys(MODULES) as AnyModuleName[]) if (running.has(m)) place(m);
  return order;
}

/**
 * Stop waves, last started first: a module stops only after every module that depends on it or
 * calls it has stopped; modules of one wave (none needing another) stop together, so a slow one
 * (a generator's last remote_write) does not hold another (an ingester's flush) up.
 */
export function stopWaves(order: readonly AnyModuleName[]): AnyModuleName[][] {
  const running = new Set(order);
  const depth = new Map<AnyModuleName, number>();
  for (const m of order) {
    const before = [...MODULES[m].deps, ...MODULES[m].calls.filter((c) => running.has(c))];
    depth.set(m, 1 + Math.max(-1, ...before.map((d) => depth.get(d) ?? 0)));
  }
  const waves: AnyModuleName[][] = [];
  for (const m of order) (waves[depth.get(m)!] ??= []).push(m);
  return waves.filter(Boolean).reverse();
}

/** A target that cannot run in this build, with what is missing and what would run. */
export class ModuleError extends Error {
  override readonly name = 'ModuleError';
}

const SUGGESTION = 'run -target=all, or put the modules it talks to in the same target (e.g. -target=distributor,ingester,querier,query-frontend)';

/**
 * Refuses a selection in which a module would have no way to reach a module it calls, or no
 * caller could reach it, before anything starts. `remote` names the interfaces the internal gRPC
 * transport provides clients for, and the modules it serves to callers elsewhere.
 */
export function checkSelection(selected: ReadonlySet<ModuleName>, remote: RemoteTransport): void {
  const missing = (module: ModuleName, provider: ModuleName, iface: RemoteInterface, what: string): void => {
    if (selected.has(provider) || remote.clients.has(iface)) return;
    throw new ModuleError(`${module} needs ${what} over internal gRPC, which is not available yet; ${SUGGESTION}`);
  };
  const unreachable = (module: ModuleName, caller: ModuleName, what: string): void => {
    if (selected.has(caller) || remote.serves.has(module)) return;
    throw new ModuleError(`${module} ${what} over internal gRPC, which is not available yet, so alone it would serve nothing; ${SUGGESTION}`);
  };
  if (selected.has('distributor')) missing('distributor', 'ingester', 'IngesterPusher', 'ingester clients (IngesterPusher)');
  if (selected.has('querier')) missing('querier', 'ingester', 'IngesterQuerier', 'ingester clients (IngesterQuerier)');
  // Queriers elsewhere pull the frontend's jobs from its queue over internal gRPC.
  if (selected.has('query-frontend') && !selected.has('querier') && !remote.serves.has('query-frontend')) {
    throw new ModuleError(`query-frontend needs queriers: it serves its job queue to queriers over internal gRPC, which this process cannot open; ${SUGGESTION}`);
  }
  if (selected.has('ingester')) unreachable('ingester', 'distributor', 'receives pushes from distributors');
  if (selected.has('metrics-generator')) unreachable('metrics-generator', 'distributor', 'receives spans from distributors');
  if (selected.has('querier') && !selected.has('query-frontend') && !remote.pulls.has('querier')) {
    throw new ModuleError(
      'querier takes jobs from query-frontends: with none in this process, set querier.frontend_worker.frontend_address to the frontends\' internal gRPC host:port (server.grpc_listen_port), or run -target=all',
    );
  }
}

/** The interfaces a module calls on another (in-process objects, or internal gRPC clients). */
export type RemoteInterface = 'IngesterPusher' | 'IngesterQuerier' | 'GeneratorPusher';

/** What the module-to-module transport gives this process. */
export interface RemoteTransport {
  /** Interfaces it has clients for (a provider in another process). */
  clients: ReadonlySet<RemoteInterface>;
  /** Modules whose internal methods it serves to callers in other processes. */
  serves: ReadonlySet<ModuleName>;
  /** Modules that pull their work from modules in other processes (a querier with a frontend address). */
  pulls: ReadonlySet<ModuleName>;
}

/**
 * Whether `module` must serve its internal methods: some module that calls it, or pulls work from
 * it, is not in this process (under `all` every one is, so no internal port is opened).
 */
export function servesRemoteCallers(module: ModuleName, selected: ReadonlySet<ModuleName>): boolean {
  if (MODULES[module].pulledBy?.some((m) => !selected.has(m))) return true;
  return (Object.keys(MODULES) as AnyModuleName[]).some((m) => !selected.has(m as ModuleName) && !MODULES[m].internal && MODULES[m].calls.includes(module));
}
