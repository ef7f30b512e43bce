import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '@andante/model';
import { applyYaml, defaultConfig, notesOf, validateConfig } from './config.js';
import { tempoKeyRules } from './config-tempo.js';
import { configWarnings } from './config-warnings.js';
import { Overrides } from './overrides.js';

const load = (yaml: string) => {
  const cfg = defaultConfig();
  applyYaml(cfg, yaml);
  return cfg;
};

describe('Tempo keys', () => {
  it.each([
    ['an enabled internal server', 'internal_server:\n  enable: true', 'internal_server: not supported by Andante (a second HTTP server for probes); probe /ready'],
    ['the Kafka write path', 'ingest:\n  enabled: true', 'ingest: not supported by Andante'],
    ['native histograms only', 'overrides:\n  defaults:\n    metrics_generator:\n      generate_native_histograms: native', 'overrides.defaults.metrics_generator.generate_native_histograms: not supported by Andante (classic histograms only'],
    ['a global rate strategy', 'overrides:\n  defaults:\n    ingestion:\n      rate_strategy: global', 'rate_strategy: local with rate_limit_bytes divided by the distributor count'],
    ['server TLS', 'server:\n  http_tls_config:\n    cert_file: /c.pem', 'server.http_tls_config: not supported by Andante (the HTTP port serves plain HTTP); terminate TLS at the ingress'],
    ['a Jaeger receiver', 'distributor:\n  receivers:\n    jaeger:\n      protocols:\n        grpc:', 'distributor.receivers.jaeger: not supported by Andante (no Jaeger receiver)'],
    ['a Zipkin key Andante does not know', 'distributor:\n  receivers:\n    zipkin:\n      endpointt: 0.0.0.0:9411', 'unknown configuration key distributor.receivers.zipkin.endpointt'],
    ['join_members with one ring not on etcd', 'memberlist:\n  join_members: [a:7946]\ningester:\n  lifecycler:\n    ring:\n      kvstore:\n        store: etcd\n        etcd:\n          endpoints: [e:2379]\ndistributor:\n  ring:\n    kvstore:\n      store: etcd\n      etcd:\n        endpoints: [e:2379]\ncompactor:\n  ring:\n    kvstore:\n      store: etcd\n      etcd:\n        endpoints: [e:2379]', 'but metrics_generator.ring.kvstore.store is not set'],
    ['store memberlist with peers', 'memberlist:\n  join_members: [a:7946]\ncompactor:\n  ring:\n    kvstore:\n      store: memberlist', 'compactor.ring.kvstore.store: memberlist is not supported with memberlist.join_members set'],
    ['read and global max_bytes_per_trace that differ', 'overrides:\n  defaults:\n    read:\n      max_bytes_per_trace: 1\n    global:\n      max_bytes_per_trace: 2', 'overrides.defaults.read.max_bytes_per_trace and overrides.defaults.global.max_bytes_per_trace differ'],
    ['a search range set twice, differently', 'overrides:\n  defaults:\n    read:\n      max_search_duration: 24h\nquery_frontend:\n  search:\n    max_duration: 48h', 'overrides.defaults.read.max_search_duration (24h) and query_frontend.search.max_duration (48h) differ'],
    ['a typo still', 'server:\n  http_listen_prot: 1', 'unknown configuration key server.http_listen_prot'],
    ['a key under overrides that is neither form', 'overrides:\n  max_trace_per_user: 1', 'unknown configuration key overrides.max_trace_per_user'],
    ['a typo in a block Andante has no schema for', 'querier:\n  search:\n    query_timeoutt: 1s', 'unknown configuration key querier.search.query_timeoutt'],
  ])('refuses %s, naming the key and what to use', (_name, yaml, message) => {
    expect(() => load(yaml)).toThrow(message);
  });

  it('accepts tuning keys without effect and says so; off-valued refusable keys too', () => {
    const cfg = load('server:\n  http_server_read_timeout: 1m\n  http_tls_config:\n    cert_file: ""\ningest:\n  enabled: false\nstorage:\n  trace:\n    s3:\n      sse:\n        type: ""\n');
    const notes = configWarnings(cfg).join('\n');
    expect(notes).toContain('server.http_server_read_timeout: accepted, no effect');
    expect(notes).toContain('server.http_tls_config: accepted, no effect');
    expect(notes).toContain('ingest: accepted, no effect');
    expect(notes).toContain('storage.trace.s3.sse: accepted, no effect');
    // Nothing of it reaches the config (no unknown keys in /status/config).
    expect(JSON.stringify(cfg)).not.toContain('http_server_read_timeout');
  });

  it('reads the seed’s read.max_bytes_per_trace as global.max_bytes_per_trace, with a note naming it', () => {
    const cfg = load('overrides:\n  defaults:\n    read:\n      max_bytes_per_trace: 7000000\n      max_bytes_per_tag_values_query: 9');
    expect(cfg.overrides.defaults.global.max_bytes_per_trace).toBe(7_000_000);
    expect(cfg.overrides.defaults.read.max_bytes_per_tag_values_query).toBe(9);
    expect(notesOf(cfg).join('\n')).toContain('overrides.defaults.read.max_bytes_per_trace: taken as overrides.defaults.global.max_bytes_per_trace');
  });

  it('maps legacy metrics-generator keys to the new form, processor settings included', () => {
    const cfg = load('overrides:\n  metrics_generator_processors: [span-metrics]\n  metrics_generator_max_active_series: 1000\n  metrics_generator_processor_span_metrics_dimensions: [http.method]\n');
    expect(cfg.overrides.defaults.metrics_generator).toMatchObject({ processors: ['span-metrics'], max_active_series: 1000, processor: { span_metrics: { dimensions: ['http.method'] } } });
  });
});

describe('distributor.receivers.zipkin', () => {
  it('is off unless the receivers block lists it; listed with no settings it takes 0.0.0.0:9411', () => {
    expect(defaultConfig().distributor.receivers.zipkin).toBeNull();
    expect(load('distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:').distributor.receivers.zipkin).toBeNull();
    const listed = load('distributor:\n  receivers:\n    zipkin:\n    otlp:\n      protocols:\n        grpc:');
    expect(listed.distributor.receivers.zipkin).toEqual({ endpoint: '0.0.0.0:9411' });
    // Listing zipkin does not turn the OTLP protocols off.
    expect(listed.distributor.receivers.otlp.protocols.grpc).not.toBeNull();
    expect(load('distributor:\n  receivers:\n    zipkin:\n      endpoint: 127.0.0.1:19411').distributor.receivers.zipkin).toEqual({ endpoint: '127.0.0.1:19411' });
    expect(notesOf(listed).join('\n')).not.toContain('zipkin');
  });

  it('refuses an endpoint that is not host:port, naming the key', () => {
    expect(() => validateConfig(load('distributor:\n  receivers:\n    zipkin:\n      endpoint: nope'))).toThrow('distributor.receivers.zipkin.endpoint: invalid endpoint "nope", expected host:port');
    expect(() => load('distributor:\n  receivers:\n    zipkin:\n      endpoint: [1]')).toThrow('distributor.receivers.zipkin.endpoint');
  });
});

describe('the rules', () => {
  it('cover only keys the schema lacks (a key another change made honoured must lose its rule, or docs/tempo-config.md would call it ignored)', () => {
    const schema = JSON.parse(JSON.stringify(defaultConfig())) as Record<string, unknown>;
    const has = (path: string[]): boolean => {
      let node: unknown = schema;
      for (const part of path) {
        if (typeof node !== 'object' || node === null || !(part in node)) return false;
        node = (node as Record<string, unknown>)[part];
      }
      return true;
    };
    const dead = tempoKeyRules().filter((r) => !r.key.includes('*') && has(r.key.split('.'))).map((r) => r.key);
    expect(dead).toEqual([]);
  });
});

describe('per-tenant overrides file in either form', () => {
  const warnings: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (msg: string) => void warnings.push(msg), child: () => logger };

  it('reads legacy and new tenants side by side, refuses a tenant that mixes them, and logs the notes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tempo-overrides-'));
    const file = join(dir, 'overrides.yaml');
    await writeFile(file, 'overrides:\n  old:\n    max_traces_per_user: 7\n    block_retention: 48h\n  new:\n    ingestion:\n      max_traces_per_user: 8\n    read:\n      max_bytes_per_trace: 99\n');
    const o = new Overrides(defaultConfig().overrides.defaults, file, 60_000, logger);
    await o.start();
    o.stop();
    expect(o.forTenant('old')).toMatchObject({ maxTracesPerUser: 7, blockRetentionMs: 48 * 3600 * 1000 });
    expect(o.forTenant('new')).toMatchObject({ maxTracesPerUser: 8, maxBytesPerTrace: 99 });
    expect(warnings.join('\n')).toContain('overrides.new.read.max_bytes_per_trace: taken as overrides.new.global.max_bytes_per_trace');

    await writeFile(file, 'overrides:\n  mixed:\n    max_traces_per_user: 7\n    ingestion:\n      rate_limit_bytes: 1\n');
    await expect(new Overrides(defaultConfig().overrides.defaults, file, 60_000, logger).start()).rejects.toThrow('overrides.mixed: mixes the legacy flat form (max_traces_per_user) with the new form (ingestion)');
    await writeFile(file, 'overrides:\n  t:\n    read:\n      max_search_duration: 1h\n');
    await expect(new Overrides(defaultConfig().overrides.defaults, file, 60_000, logger).start()).rejects.toThrow('overrides.t.read.max_search_duration: a per-tenant search range is not supported');
  });
});
