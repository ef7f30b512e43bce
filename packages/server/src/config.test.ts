import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyYaml, defaultConfig, loadConfig, parseFlags } from './config.js';
import { configWarnings } from './config-warnings.js';
import { Secret } from './secret.js';
import { parseDuration } from '@andante/model';

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
    expect(secrets).toEqual(['storage.trace.s3.secret_key', 'storage.trace.s3.session_token']);
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
    expect(warnings[1]).toMatch(/should exceed ingester\.complete_block_timeout \(15m\)/);
  });
});
