import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyYaml, configTree, defaultConfig, expandEnv, loadConfig, parseFlags } from './config.js';
import { Secret, parseDuration, silentLogger } from '@andante/model';
import { Overrides } from './overrides.js';
import { configWarnings } from './config-warnings.js';

describe('config', () => {
  it('has Tempo defaults', () => {
    const cfg = defaultConfig();
    expect(cfg.server.http_listen_port).toBe(3200);
    expect(cfg.ingester.trace_idle_period).toBe('5s');
    expect(cfg.ingester.max_block_duration).toBe('30m');
    expect(cfg.ingester.max_block_bytes).toBe(524_288_000);
    expect(cfg.overrides.defaults.ingestion.rate_limit_bytes).toBe(15_000_000);
    expect(cfg.multitenancy_enabled).toBe(false);
  });

  it("reads every ring's kvstore block with Tempo's keys and defaults; the etcd password stays secret", async () => {
    const d = defaultConfig();
    expect(d.ingester.lifecycler.ring.kvstore).toMatchObject({ store: 'inmemory', prefix: 'collectors/', etcd: { endpoints: [], dial_timeout: '10s', max_retries: 10, tls_enabled: false } });
    expect(d.ingester.lifecycler.id).toBe(hostname());
    expect(d.compactor.ring.instance_id).toBe(hostname());
    expect([d.ingester.lifecycler.heartbeat_period, d.ingester.lifecycler.heartbeat_timeout, d.ingester.lifecycler.ring.heartbeat_timeout]).toEqual(['5s', '1m', '5m']);
    const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'andante.yaml');
    const ring = (indent: string) =>
      [`${indent}kvstore:`, `${indent}  store: etcd`, `${indent}  prefix: tempo/`, `${indent}  etcd:`, `${indent}    endpoints: [etcd-0:2379, etcd-1:2379]`, `${indent}    dial_timeout: 3s`, `${indent}    username: tempo`, `${indent}    password: s3cr3t-etcd-pw`];
    await writeFile(
      file,
      ['ingester:', '  lifecycler:', '    id: ingester-7', '    availability_zone: zone-b', '    ring:', '      zone_awareness_enabled: true', ...ring('      '),
        'metrics_generator:', '  ring:', '    instance_id: gen-1', ...ring('    '), 'compactor:', '  ring:', ...ring('    '), 'distributor:', '  ring:', ...ring('    '), ''].join('\n'),
    );
    const cfg = loadConfig([`-config.file=${file}`, '-compactor.ring.kvstore.etcd.endpoints=a:1,b:2']);
    expect(cfg.ingester.lifecycler.ring.kvstore.etcd.endpoints).toEqual(['etcd-0:2379', 'etcd-1:2379']);
    expect(cfg.ingester.lifecycler.ring.kvstore.etcd.password.reveal()).toBe('s3cr3t-etcd-pw');
    expect(cfg.ingester.lifecycler).toMatchObject({ id: 'ingester-7', availability_zone: 'zone-b', ring: { zone_awareness_enabled: true } });
    expect(cfg.metrics_generator.ring).toMatchObject({ instance_id: 'gen-1', kvstore: { store: 'etcd', prefix: 'tempo/' } });
    expect(cfg.compactor.ring.kvstore.etcd.endpoints).toEqual(['a:1', 'b:2']);
    expect(cfg.distributor.ring.kvstore.etcd.dial_timeout).toBe('3s');
    expect(JSON.stringify(configTree(cfg))).not.toContain('s3cr3t-etcd-pw');
    expect(() => loadConfig(['-ingester.lifecycler.ring.kvstore.store=consul'])).toThrow('ingester.lifecycler.ring.kvstore.store: unsupported store "consul"; supported: inmemory, etcd');
    expect(() => loadConfig(['-compactor.ring.kvstore.store=etcd'])).toThrow('compactor.ring.kvstore.etcd.endpoints: required when compactor.ring.kvstore.store is etcd');
    expect(() => loadConfig(['-metrics_generator.ring.kvstore.etcd.dial_timeout=soon'])).toThrow('metrics_generator.ring.kvstore.etcd.dial_timeout');
    expect(() => loadConfig(['-distributor.ring.kvstore.etcd.endpointz=x'])).toThrow('unknown flag -distributor.ring.kvstore.etcd.endpointz');
  });

  it("takes instance_zone on the compactor and distributor rings too (the generator ring's key; Tempo has none there), from YAML or a flag, default empty", () => {
    const d = defaultConfig();
    expect([d.metrics_generator.ring.instance_zone, d.compactor.ring.instance_zone, d.distributor.ring.instance_zone]).toEqual(['', '', '']);
    const cfg = loadConfig(['-compactor.ring.instance_zone=zone-c', '-distributor.ring.instance_zone=zone-d', '-metrics_generator.ring.instance_zone=zone-g']);
    expect([cfg.metrics_generator.ring.instance_zone, cfg.compactor.ring.instance_zone, cfg.distributor.ring.instance_zone]).toEqual(['zone-g', 'zone-c', 'zone-d']);
    applyYaml(cfg, 'compactor:\n  ring:\n    instance_zone: zone-e\n');
    expect(cfg.compactor.ring.instance_zone).toBe('zone-e');
  });

  it("reads the internal clients' deadlines with Tempo's keys and defaults", () => {
    expect(defaultConfig().metrics_generator_client.remote_timeout).toBe('5s');
    const cfg = defaultConfig();
    applyYaml(cfg, 'metrics_generator_client:\n  remote_timeout: 2s\n');
    expect(cfg.metrics_generator_client.remote_timeout).toBe('2s');
    expect(() => applyYaml(defaultConfig(), 'metrics_generator_client:\n  remote_timeout: soon\n')).toThrow('metrics_generator_client.remote_timeout');
    expect(() => applyYaml(defaultConfig(), 'metrics_generator_client:\n  timeout: 2s\n')).toThrow('metrics_generator_client.timeout');
  });

  it("reads the query path's keys (Tempo's names and defaults) and refuses bad values naming the key", () => {
    const d = loadConfig([]);
    expect(d.querier).toMatchObject({ max_concurrent_queries: 20, frontend_worker: { frontend_address: '', dns_lookup_duration: '10s', parallelism: 2, match_max_concurrent: true } });
    expect(d.query_frontend.max_outstanding_per_tenant).toBe(2000);
    const cfg = loadConfig(['-querier.frontend_worker.frontend_address=query-frontend-discovery:9095', '-querier.max_concurrent_queries=5', '-query_frontend.max_outstanding_per_tenant=10']);
    expect(cfg.querier.frontend_worker.frontend_address).toBe('query-frontend-discovery:9095');
    expect(cfg.querier.max_concurrent_queries).toBe(5);
    expect(cfg.query_frontend.max_outstanding_per_tenant).toBe(10);
    expect(() => loadConfig(['-querier.max_concurrent_queries=0'])).toThrow('querier.max_concurrent_queries: expected a positive integer, got 0');
    expect(() => loadConfig(['-query_frontend.max_outstanding_per_tenant=-1'])).toThrow('query_frontend.max_outstanding_per_tenant: expected a non-negative integer');
    expect(() => loadConfig(['-querier.frontend_worker.dns_lookup_duration=soon'])).toThrow('querier.frontend_worker.dns_lookup_duration');
  });

  it('loads YAML, then flags on top', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'andante.yaml');
    await writeFile(file, 'server:\n  http_listen_port: 3300\ningester:\n  trace_idle_period: 2s\n');
    const cfg = loadConfig([`-config.file=${file}`, '-target=all', '-server.http_listen_port=3400', '--multitenancy_enabled']);
    expect(cfg.server.http_listen_port).toBe(3400);
    expect(cfg.ingester.trace_idle_period).toBe('2s');
    expect(cfg.multitenancy_enabled).toBe(true);
  });

  it("reads the compactor's partial-block grace period and output buffer", () => {
    const cfg = defaultConfig();
    applyYaml(cfg, 'compactor:\n  compaction:\n    orphaned_block_grace_period: 2h\n    output_block_buffer_bytes: 1000000\n');
    expect(cfg.compactor.compaction.orphaned_block_grace_period).toBe('2h');
    expect(cfg.compactor.compaction.output_block_buffer_bytes).toBe(1_000_000);
    expect(() => applyYaml(defaultConfig(), 'compactor:\n  compaction:\n    orphaned_block_grace_period: soon\n')).toThrow('compactor.compaction.orphaned_block_grace_period');
  });

  it.each([
    ['unknown top-level key', 'nope: 1', 'unknown configuration key nope'],
    ['unknown nested key', 'ingester:\n  max_block_secs: 3', 'unknown configuration key ingester.max_block_secs'],
    ['wrong type', 'server:\n  http_listen_port: lots', 'server.http_listen_port: expected a number'],
    ['bad duration', 'ingester:\n  trace_idle_period: soon', 'ingester.trace_idle_period: invalid duration'],
    ['bad YAML', 'server: [', 'invalid YAML'],
  ])('rejects %s naming the key', (_name, yaml, message) => {
    expect(() => applyYaml(defaultConfig(), yaml)).toThrow(message);
  });

  it("reads the querier's ingester query deadlines (Tempo's keys and defaults) and refuses a bad one", () => {
    const cfg = defaultConfig();
    expect(cfg.querier).toMatchObject({ search: { query_timeout: '30s' }, trace_by_id: { query_timeout: '10s' }, query_relevant_ingesters: false });
    applyYaml(cfg, 'querier:\n  search:\n    query_timeout: 45s\n');
    expect(cfg.querier.search.query_timeout).toBe('45s');
    expect(cfg.querier.trace_by_id.query_timeout).toBe('10s');
    expect(() => applyYaml(defaultConfig(), 'querier:\n  trace_by_id:\n    query_timeout: soon\n')).toThrow('querier.trace_by_id.query_timeout: invalid duration');
    expect(() => applyYaml(defaultConfig(), 'querier:\n  max_concurrent: 3\n')).toThrow('unknown configuration key querier.max_concurrent');
  });

  it('enables only the receiver protocols a receivers block lists', () => {
    const cfg = defaultConfig();
    applyYaml(cfg, 'distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n');
    expect(cfg.distributor.receivers.otlp.protocols.grpc?.endpoint).toBe('0.0.0.0:4317');
    expect(cfg.distributor.receivers.otlp.protocols.http).toBeNull();
  });

  it('rejects unknown flags and targets', () => {
    expect(() => loadConfig(['-server.nope=1'])).toThrow('unknown flag -server.nope');
    expect(() => loadConfig(['-target=everything'])).toThrow('unknown target');
    expect(parseFlags(['-config.file', 'x.yaml']).configFile).toBe('x.yaml');
  });

  it.each([
    ['5s', 5_000],
    ['1m30s', 90_000],
    ['336h', 336 * 3_600_000],
    ['100ms', 100],
    ['0', 0],
  ])('parses duration %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('declares every key that looks like a credential as a Secret, so /status/config and logs mask it', () => {
    // Whole words of a key: `session_token` and `bearer_token` are credentials, `num_tokens` is not.
    const credential = /(^|_)(secret|password|passwd|token|credentials?|authorization|api_key|encryption_key)(_|$)/i;
    const leaks: string[] = [];
    const secrets: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (node instanceof Secret) secrets.push(path);
      else if (typeof node === 'object' && node !== null) for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
      else if (credential.test(path.slice(path.lastIndexOf('.') + 1))) leaks.push(path);
    };
    walk(defaultConfig(), '');
    expect(leaks).toEqual([]);
    expect(secrets.sort()).toEqual([
      'compactor.ring.kvstore.etcd.password',
      'distributor.ring.kvstore.etcd.password',
      'ingester.lifecycler.ring.kvstore.etcd.password',
      'metrics_generator.ring.kvstore.etcd.password',
      'storage.trace.s3.secret_key',
      'storage.trace.s3.session_token',
    ]);
  });

  it('masks a secret in JSON, YAML, inspect and template strings, and reveals it on request', async () => {
    const cfg = defaultConfig();
    applyYaml(cfg, 'storage:\n  trace:\n    s3:\n      secret_key: hunter2-secret\n');
    const { stringify } = await import('yaml');
    const { inspect } = await import('node:util');
    for (const shown of [JSON.stringify(cfg), stringify(cfg), inspect(cfg, { depth: 10 }), `${cfg.storage.trace.s3.secret_key}`]) {
      expect(shown).not.toContain('hunter2-secret');
      expect(shown).toContain('********');
    }
    expect(cfg.storage.trace.s3.secret_key.reveal()).toBe('hunter2-secret');
  });

  it('does not quote a mistyped secret in the error', () => {
    const run = (): void => applyYaml(defaultConfig(), 'storage:\n  trace:\n    s3:\n      secret_key: [hunter2-secret]\n');
    expect(run).toThrow('storage.trace.s3.secret_key: expected a string');
    expect(run).not.toThrow(/hunter2/);
  });
});

describe('configWarnings', () => {
  it('warns when compacted blocks are deleted before readers stop naming them, and not with the defaults', () => {
    expect(configWarnings(defaultConfig())).toEqual([]);
    const cfg = defaultConfig();
    applyYaml(cfg, 'compactor: { compaction: { compacted_block_retention: 2s } }\nstorage: { trace: { blocklist_poll: 5s } }\n');
    const warnings = configWarnings(cfg);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/compacted_block_retention \(2s\) should exceed storage\.trace\.blocklist_poll \(5s\)/);
    expect(warnings[1]).toMatch(/should exceed ingester\.complete_block_timeout \(40m\)/);
  });

  it('warns at replication factor > 1 when the metrics split leaves spans to nobody, and not with the defaults', () => {
    const cfg = defaultConfig();
    applyYaml(cfg, 'ingester: { lifecycler: { ring: { replication_factor: 3, kvstore: { store: etcd } } } }\n');
    expect(configWarnings(cfg)).toEqual([]);
    applyYaml(cfg, 'ingester: { complete_block_timeout: 15m }\nquery_frontend: { metrics: { query_backend_after: 30m } }\n');
    const warnings = configWarnings(cfg);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^query_frontend\.metrics\.query_backend_after \(30m\) should not exceed ingester\.complete_block_timeout \(15m\) at replication_factor 3/);
    expect(warnings[1]).toMatch(/^query_frontend\.metrics\.query_backend_after \(30m\) should exceed ingester\.max_block_duration \(30m\) \+ ingester\.flush_check_period \(10s\)/);
    // At replication factor 1 nothing is split: no warning.
    applyYaml(cfg, 'ingester: { lifecycler: { ring: { replication_factor: 1 } } }\n');
    expect(configWarnings(cfg)).toEqual([]);
  });

  it('warns that generator processors with no remote_write send their series nowhere, where the generator runs', () => {
    const cfg = defaultConfig();
    applyYaml(cfg, 'overrides: { defaults: { metrics_generator: { processors: [span-metrics] } } }\n');
    expect(configWarnings(cfg)).toEqual([
      'overrides.defaults.metrics_generator.processors turns on span-metrics but metrics_generator.storage.remote_write is empty: the metrics-generator computes the series and sends them nowhere; add a remote_write entry (a Prometheus-compatible /api/v1/write URL)',
    ]);
    applyYaml(cfg, 'target: distributor\n');
    expect(configWarnings(cfg)).toEqual([]);
    applyYaml(cfg, 'target: metrics-generator\nmetrics_generator: { storage: { remote_write: [{ url: "http://prometheus:9090/api/v1/write" }] } }\n');
    expect(configWarnings(cfg)).toEqual([]);
  });

  it('warns that replication_factor 3 over an in-memory ring cannot reach the write quorum; not over etcd', () => {
    const cfg = defaultConfig();
    applyYaml(cfg, 'ingester: { lifecycler: { ring: { replication_factor: 3 } } }\n');
    expect(configWarnings(cfg)).toEqual([
      'ingester.lifecycler.ring.replication_factor is 3 but ingester.lifecycler.ring.kvstore.store is inmemory: this process\'s ring holds at most its own ingester, fewer than the write quorum of 2, so every push is refused with 503; use replication_factor 1, or an etcd kvstore shared by 3 ingesters',
    ]);
    applyYaml(cfg, 'ingester: { lifecycler: { ring: { kvstore: { store: etcd } } } }\n');
    expect(configWarnings(cfg)).toEqual([]);
  });
});

describe('metrics_generator config and overrides', () => {
  const TEMPO_YAML = `
metrics_generator:
  registry:
    collection_interval: 5s
    external_labels:
      source: tempo
      cluster: docker-compose
  storage:
    path: /var/tempo/generator/wal
    remote_write:
      - url: http://prometheus:9090/api/v1/write
        send_exemplars: true
  processor:
    span_metrics:
      dimensions: [http.method, service.version]
    service_graphs:
      dimensions: [http.method]
overrides:
  defaults:
    metrics_generator:
      processors: [service-graphs, span-metrics]
      max_active_series: 5000
`;

  it("loads a Tempo docker-compose example's metrics_generator block", () => {
    const cfg = defaultConfig();
    applyYaml(cfg, TEMPO_YAML);
    const g = cfg.metrics_generator;
    expect(g.registry.collection_interval).toBe('5s');
    expect(g.registry.stale_duration).toBe('15m');
    expect(g.registry.external_labels).toEqual({ source: 'tempo', cluster: 'docker-compose' });
    expect(g.storage.remote_write).toHaveLength(1);
    expect(g.storage.remote_write[0]!.url).toBe('http://prometheus:9090/api/v1/write');
    expect(g.storage.remote_write[0]!.send_exemplars).toBe(true);
    expect(g.storage.remote_write_add_org_id_header).toBe(true);
    expect(g.processor.span_metrics.dimensions).toEqual(['http.method', 'service.version']);
    expect(g.processor.span_metrics.histogram_buckets).toHaveLength(14);
    expect(cfg.overrides.defaults.metrics_generator.processors).toEqual(['service-graphs', 'span-metrics']);
    expect(cfg.overrides.defaults.metrics_generator.max_active_series).toBe(5000);
  });

  it.each([
    ['an unknown processor', 'overrides:\n  defaults:\n    metrics_generator:\n      processors: [span-metric]', 'overrides.defaults.metrics_generator.processors: "span-metric" is not a known processor, valid values: [service-graphs span-metrics local-blocks'],
    ['an unknown generator key', 'metrics_generator:\n  registry:\n    collect_every: 5s', 'unknown configuration key metrics_generator.registry.collect_every'],
    ['a bad remote_write url', 'metrics_generator:\n  storage:\n    remote_write:\n      - url: prometheus', 'metrics_generator.storage.remote_write[0].url'],
    ['a bad duration', 'metrics_generator:\n  registry:\n    stale_duration: later', 'metrics_generator.registry.stale_duration: invalid duration'],
  ])('refuses %s naming the key', (_name, yaml, message) => {
    expect(() => applyYaml(defaultConfig(), yaml)).toThrow(message);
  });

  it('reads metrics_generator overrides from the per-tenant file and refuses an unknown processor there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ovr-'));
    const file = join(dir, 'overrides.yaml');
    await writeFile(file, "overrides:\n  team-a:\n    metrics_generator:\n      processors: [span-metrics]\n      processor:\n        span_metrics:\n          dimensions: [http.route]\n");
    const cfg = defaultConfig();
    const overrides = new Overrides(cfg.overrides.defaults, file, 60_000, silentLogger);
    await overrides.start();
    expect(overrides.forTenant('team-a').metricsGenerator.processors).toEqual(['span-metrics']);
    expect(overrides.forTenant('team-a').metricsGenerator.processor.span_metrics.dimensions).toEqual(['http.route']);
    expect(overrides.forTenant('team-b').metricsGenerator.processors).toEqual([]);
    overrides.stop();

    await writeFile(file, 'overrides:\n  team-a:\n    metrics_generator:\n      processors: [span-metrics, servicegraphs]\n');
    const bad = new Overrides(cfg.overrides.defaults, file, 60_000, silentLogger);
    await expect(bad.start()).rejects.toThrow('overrides.team-a.metrics_generator.processors: "servicegraphs" is not a known processor, valid values: [service-graphs span-metrics');
  });
});

describe('-config.expand-env', () => {
  const env = { BUCKET: 'traces-prod', EMPTY: '', PORT: '3300' };
  it.each([
    ['${BUCKET}', 'traces-prod'],
    ['$BUCKET/x', 'traces-prod/x'],
    ['${UNSET}', ''],
    ['${UNSET:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${EMPTY-fallback}', ''],
    ['${UNSET-fall back}', 'fall back'],
    ['${BUCKET:-fallback}', 'traces-prod'],
    ['${UNSET:-}', ''],
    ['${UNSET:-a:b}', 'a:b'],
    ['cost $$5 and ${PORT}', 'cost $5 and 3300'],
    ['regex: "^a$"', 'regex: "^a$"'],
  ])('expands %s', (input, want) => {
    expect(expandEnv(input, env)).toBe(want);
  });

  it('fails with the message of ${VAR:?message}, and on a malformed reference', () => {
    expect(() => expandEnv('x: ${UNSET:?set the bucket name}', env)).toThrow('config.expand-env: UNSET: set the bucket name');
    expect(() => expandEnv('x: ${EMPTY:?}', env)).toThrow('config.expand-env: EMPTY: not set');
    expect(expandEnv('x: ${BUCKET:?needed}', env)).toBe('x: traces-prod');
    expect(() => expandEnv('a: 1\nb: ${BUCKET', env)).toThrow('unterminated ${ at line 2');
    expect(() => expandEnv('b: ${1BAD}', env)).toThrow('bad variable reference ${1BAD}');
  });

  it('expands the file before parsing only when the flag is on', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cfg-env-'));
    const file = join(dir, 'andante.yaml');
    await writeFile(file, 'server:\n  http_listen_port: ${PORT:-3200}\nstorage:\n  trace:\n    backend: s3\n    s3:\n      bucket: ${BUCKET}\n      region: ${REGION:-eu-west-1}\n');
    const cfg = loadConfig([`-config.file=${file}`, '-config.expand-env=true'], env);
    expect(cfg.server.http_listen_port).toBe(3300);
    expect(cfg.storage.trace.s3).toMatchObject({ bucket: 'traces-prod', region: 'eu-west-1' });
    // A bare boolean flag does not swallow the next argument.
    expect(loadConfig(['-config.expand-env', `-config.file=${file}`], env).storage.trace.s3.bucket).toBe('traces-prod');
    // Off (Tempo's default): the text is parsed as written, and ${PORT:-3200} is not a number.
    expect(() => loadConfig([`-config.file=${file}`], env)).toThrow('server.http_listen_port: expected a number, got "${PORT:-3200}"');
    expect(() => loadConfig([`-config.file=${file}`, '-config.expand-env=maybe'], env)).toThrow('-config.expand-env: expected true or false, got "maybe"');
    expect(parseFlags(['-config.expand-env=true', '-config.verify']).overrides).toEqual([]);
  });
});

describe('-config.verify', () => {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '../dist/bin.js');
  const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((res) => {
      execFile(process.execPath, [bin, ...args], { timeout: 60_000, env: { ...process.env, WAL_DIR: '/var/tempo/wal' } }, (err, stdout, stderr) => {
        res({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr });
      });
    });

  it('prints ok and exits 0 for a valid config and overrides file, prints the error and exits 1 otherwise, starting nothing', async () => {
    expect(existsSync(bin), `${bin} is missing: run pnpm build first`).toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'cfg-verify-'));
    const overrides = join(dir, 'overrides.yaml');
    await writeFile(overrides, 'overrides:\n  team-a:\n    ingestion:\n      rate_limit_bytes: 1000\n');
    const good = join(dir, 'good.yaml');
    // Had it started the modules, the process would not exit by itself.
    await writeFile(good, `server:\n  http_listen_port: 1\nstorage:\n  trace:\n    wal:\n      path: \${WAL_DIR}\noverrides:\n  per_tenant_override_config: ${overrides}\n`);
    const ok = await run(['-config.verify', `-config.file=${good}`, '-config.expand-env=true', '-target=ingester']);
    expect(ok).toMatchObject({ code: 0, stdout: 'ok\n', stderr: '' });

    const badKey = join(dir, 'bad-key.yaml');
    await writeFile(badKey, 'storage:\n  trace:\n    backend: s3\n    s3:\n      bucket: b\n      bukket: c\n');
    const r1 = await run(['-config.verify', `-config.file=${badKey}`]);
    expect(r1.code).toBe(1);
    expect(r1.stdout).toBe('');
    expect(r1.stderr).toContain('unknown configuration key storage.trace.s3.bukket');

    await writeFile(overrides, 'overrides:\n  team-a:\n    ingestion:\n      rate_limit_byte: 1000\n');
    const r2 = await run(['-config.verify', `-config.file=${good}`, '-config.expand-env=true']);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('unknown override key overrides.team-a.ingestion.rate_limit_byte');
  });
});
