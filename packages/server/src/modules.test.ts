import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Andante } from './app.js';
import { ConfigError, defaultConfig, parseTarget } from './config.js';
import { ModuleError, checkSelection, selectModules, servesRemoteCallers, startOrder, stopWaves } from './modules.js';

const NO_TRANSPORT = { clients: new Set<never>(), serves: new Set<never>(), pulls: new Set<never>() };

describe('target selection', () => {
  it.each([
    ['all', ['compactor', 'distributor', 'ingester', 'metrics-generator', 'querier', 'query-frontend']],
    ['compactor', ['compactor']],
    ['distributor,ingester', ['distributor', 'ingester']],
    [' ingester , distributor,ingester', ['distributor', 'ingester']],
    ['all,compactor', ['compactor', 'distributor', 'ingester', 'metrics-generator', 'querier', 'query-frontend']],
  ])('-target=%s runs %j', (target, modules) => {
    expect([...selectModules(parseTarget(target))].sort()).toEqual(modules);
  });

  it.each(['', ',', 'store', 'server', 'ingester,ring'])('-target=%j is refused: internal and unknown modules are not selectable', (target) => {
    expect(() => parseTarget(target)).toThrow(ConfigError);
  });

  it('starts each module after its dependencies and the modules it calls in-process; all equals the full list', () => {
    const order = startOrder(selectModules(parseTarget('all')));
    const before = (a: string, b: string): boolean => order.indexOf(a as never) < order.indexOf(b as never);
    expect(order[0]).toBe('server');
    expect(before('store', 'ingester') && before('ring', 'ingester') && before('ingester', 'distributor')).toBe(true);
    expect(before('compactor-ring', 'compactor') && before('distributor-ring', 'distributor') && before('generator-ring', 'metrics-generator')).toBe(true);
    expect(before('metrics-generator', 'distributor') && before('blocklist', 'querier') && before('querier', 'query-frontend')).toBe(true);
    expect(startOrder(selectModules(parseTarget('distributor,ingester,querier,query-frontend,compactor,metrics-generator')))).toEqual(order);
  });

  it('a compactor alone runs only the backend, overrides and the compactor ring beside it', () => {
    expect(startOrder(selectModules(parseTarget('compactor')))).toEqual(['server', 'overrides', 'store', 'compactor-ring', 'compactor']);
  });

  it('stops in waves, each module before what it depends on or calls; the distributor before the ingester', () => {
    const waves = stopWaves(startOrder(selectModules(parseTarget('all'))));
    const wave = (m: string): number => waves.findIndex((w) => w.includes(m as never));
    expect(wave('query-frontend')).toBeLessThan(wave('querier'));
    expect(wave('distributor')).toBeLessThan(wave('ingester'));
    expect(wave('distributor')).toBeLessThan(wave('metrics-generator'));
    expect(wave('ingester')).toBeLessThan(wave('store'));
    expect(wave('compactor')).toBeLessThan(wave('store'));
    // A ring's view outlives its member: the member leaves after its module stopped, then the store closes.
    expect(wave('ingester')).toBeLessThan(wave('ring'));
    expect(wave('metrics-generator')).toBeLessThan(wave('generator-ring'));
    expect(wave('compactor')).toBeLessThan(wave('compactor-ring'));
    expect(wave('distributor')).toBeLessThan(wave('distributor-ring'));
    expect(waves.at(-1)).toEqual(['server']);
  });

  it.each([
    ['querier', /^querier needs ingester clients \(IngesterQuerier\) over internal gRPC, which is not available yet; run -target=all/],
    ['query-frontend', /^query-frontend needs queriers: it serves its job queue to queriers over internal gRPC/],
    ['ingester', /^ingester receives pushes from distributors over internal gRPC/],
  ])('refuses -target=%s without a transport, naming it', (target, message) => {
    expect(() => checkSelection(selectModules(parseTarget(target)), NO_TRANSPORT)).toThrow(message);
    expect(() => checkSelection(selectModules(parseTarget(target)), NO_TRANSPORT)).toThrow(ModuleError);
  });

  it('refuses a metrics-generator alone without a transport, and accepts it once the generator push is served', () => {
    expect(() => checkSelection(selectModules(parseTarget('metrics-generator')), NO_TRANSPORT)).toThrow(/^metrics-generator receives spans from distributors over internal gRPC/);
    expect(() => checkSelection(selectModules(parseTarget('metrics-generator')), { clients: new Set(), serves: new Set(['metrics-generator'] as const), pulls: new Set() })).not.toThrow();
    expect(servesRemoteCallers('metrics-generator', selectModules(parseTarget('metrics-generator')))).toBe(true);
    expect(servesRemoteCallers('metrics-generator', selectModules(parseTarget('distributor,metrics-generator')))).toBe(false);
  });

  it('accepts a distributor alone and an ingester alone with the internal gRPC push (the querier still needs IngesterQuerier)', () => {
    const transport = { clients: new Set(['IngesterPusher'] as const), serves: new Set(['ingester'] as const), pulls: new Set<never>() };
    expect(() => checkSelection(selectModules(parseTarget('distributor')), transport)).not.toThrow();
    expect(() => checkSelection(selectModules(parseTarget('ingester')), transport)).not.toThrow();
    expect(() => checkSelection(selectModules(parseTarget('querier')), transport)).toThrow(/IngesterQuerier/);
  });

  it('serves a module on the internal port only when one of its callers is in another process', () => {
    expect(servesRemoteCallers('ingester', selectModules(parseTarget('all')))).toBe(false);
    expect(servesRemoteCallers('ingester', selectModules(parseTarget('distributor,querier,ingester')))).toBe(false);
    expect(servesRemoteCallers('ingester', selectModules(parseTarget('ingester,querier,query-frontend')))).toBe(true);
  });

  it('accepts a querier alone once a transport provides ingester clients and it pulls jobs from frontends elsewhere', () => {
    const clients = new Set(['IngesterQuerier'] as const);
    expect(() => checkSelection(selectModules(parseTarget('querier')), { clients, serves: new Set<never>(), pulls: new Set(['querier'] as const) })).not.toThrow();
    expect(() => checkSelection(selectModules(parseTarget('querier')), { clients, serves: new Set<never>(), pulls: new Set<never>() })).toThrow(
      /querier takes jobs from query-frontends: .*set querier.frontend_worker.frontend_address/,
    );
  });

  it('accepts a query-frontend alone when it can serve its queue to queriers (Tempo pull model), and serves it only then', () => {
    expect(() => checkSelection(selectModules(parseTarget('query-frontend')), { clients: new Set<never>(), serves: new Set(['query-frontend'] as const), pulls: new Set<never>() })).not.toThrow();
    expect(servesRemoteCallers('query-frontend', selectModules(parseTarget('query-frontend')))).toBe(true);
    expect(servesRemoteCallers('query-frontend', selectModules(parseTarget('querier,query-frontend')))).toBe(false);
    expect(servesRemoteCallers('query-frontend', selectModules(parseTarget('all')))).toBe(false);
  });
});

describe('/ready per module', () => {
  const dir = mkdtempSync(join(tmpdir(), 'andante-modules-ready-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names each module not ready yet, Tempo style', () => {
    const cfg = defaultConfig();
    cfg.storage.trace.local.path = join(dir, 'traces');
    cfg.storage.trace.wal.path = join(dir, 'wal');
    const app = new Andante(cfg);
    const reasons = app.notReady();
    expect(reasons).toContain('Ingester not ready: replaying the WAL');
    expect(reasons).toContain('Blocklist not ready: waiting for the first blocklist poll');
    expect(app.modules).toContain('query-frontend');
  });
});
