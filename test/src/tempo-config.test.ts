// A corpus of Tempo 2.x configs written from Tempo's documented examples (test/fixtures/tempo-config):
// each loads with `andante -config.verify` or fails with the reason its header documents, and what
// loads is read as Tempo would read it (the limits land where Tempo keeps them).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@andante/model';
import { Overrides, loadConfig, tempoKeyRules } from '@andante/server';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'packages/server/dist/bin.js');
const FIXTURES = join(ROOT, 'test/fixtures/tempo-config');

interface Case {
  file: string;
  expect: { ok: true } | { ok: false; error: string };
  notes: string[];
  args: string[];
}

function readCase(file: string): Case {
  const header = readFileSync(join(FIXTURES, file), 'utf8').split('\n').filter((l) => l.startsWith('# '));
  const tag = (name: string): string[] => header.filter((l) => l.startsWith(`# ${name}: `)).map((l) => l.slice(`# ${name}: `.length).trim());
  const [expectation] = tag('expect');
  if (!expectation) throw new Error(`${file}: no "# expect:" header`);
  const args = tag('args').flatMap((a) => a.split(/\s+/));
  for (const o of tag('overrides-file')) args.push(`-overrides.per_tenant_override_config=${join(FIXTURES, o)}`);
  return {
    file,
    expect: expectation === 'ok' ? { ok: true } : { ok: false, error: expectation.replace(/^error /, '') },
    notes: tag('note'),
    args,
  };
}

const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((res) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      res({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout, stderr });
    });
  });

const cases = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.yaml') && !f.endsWith('.overrides.yaml'))
  .sort()
  .map(readCase);

describe('a real tempo.yaml loads (test/fixtures/tempo-config)', () => {
  it('has the documented examples: single binary, distributed, S3, metrics-generator, both overrides forms', () => {
    expect(existsSync(BIN), `${BIN} is missing: run pnpm build first`).toBe(true);
    const names = cases.map((c) => c.file);
    for (const want of ['single-binary.yaml', 'distributed-memberlist.yaml', 'distributed-etcd.yaml', 's3-irsa.yaml', 'metrics-generator.yaml', 'legacy-overrides.yaml', 'new-overrides.yaml']) {
      expect(names).toContain(want);
    }
  });

  it.each(cases.map((c) => [c.file, c] as const))('%s: -config.verify gives the documented outcome', async (_name, c) => {
    const r = await run(['-config.verify', `-config.file=${join(FIXTURES, c.file)}`, ...c.args]);
    if (c.expect.ok) {
      expect(r.stdout, r.stderr).toBe('ok\n');
      expect(r.code).toBe(0);
    } else {
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(c.expect.error);
    }
    for (const note of c.notes) expect(r.stderr).toContain(note);
  });
});

describe('docs/tempo-config.md', () => {
  it('lists every rule with its status', () => {
    const doc = readFileSync(join(ROOT, 'docs/tempo-config.md'), 'utf8');
    const rules = tempoKeyRules();
    expect(rules.length).toBeGreaterThan(100);
    for (const r of rules) expect(doc).toContain(`| \`${r.key}\` | ${r.status} |`);
  });
});

describe('Tempo keys are read where Tempo keeps them', () => {
  const load = (file: string, ...args: string[]) => loadConfig([`-config.file=${join(FIXTURES, file)}`, ...args]);

  it('legacy flat overrides and the new form give the same limits, in the config and the per-tenant file', async () => {
    const legacy = load('legacy-overrides.yaml').overrides.defaults;
    expect(legacy.ingestion).toEqual({ rate_limit_bytes: 30_000_000, burst_size_bytes: 40_000_000, max_traces_per_user: 50_000 });
    expect(legacy.global.max_bytes_per_trace).toBe(10_000_000);
    expect(legacy.compaction.block_retention).toBe('336h');
    expect(legacy.metrics_generator.processors).toEqual(['service-graphs', 'span-metrics']);
    const modern = load('new-overrides.yaml');
    expect(modern.overrides.defaults.ingestion).toEqual(legacy.ingestion);
    expect(modern.overrides.defaults.global).toEqual(legacy.global);
    expect(modern.overrides.defaults.read.max_bytes_per_tag_values_query).toBe(5_000_000);
    expect(modern.query_frontend.search.max_duration).toBe('336h');

    const tenants = new Overrides(legacy, join(FIXTURES, 'legacy-tenants.overrides.yaml'), 60_000, silentLogger);
    await tenants.start();
    tenants.stop();
    expect(tenants.forTenant('team-a')).toMatchObject({ ingestionRateLimitBytes: 5_000_000, maxTracesPerUser: 1000, ingestionBurstSizeBytes: 40_000_000 });
    expect(tenants.forTenant('team-a').metricsGenerator.processors).toEqual(['span-metrics']);
    expect(tenants.forTenant('*').maxBytesPerTrace).toBe(2_000_000);
    const modernTenants = new Overrides(modern.overrides.defaults, join(FIXTURES, 'new-tenants.overrides.yaml'), 60_000, silentLogger);
    await modernTenants.start();
    modernTenants.stop();
    expect(modernTenants.forTenant('team-b')).toMatchObject({ ingestionRateLimitBytes: 1_000_000, ingestionBurstSizeBytes: 2_000_000, maxBytesPerTrace: 3_000_000, maxTracesPerUser: 50_000 });
  });

  it("the seed's read.max_bytes_per_trace is the global.max_bytes_per_trace limit", () => {
    const cfg = load('seed-read-max-bytes.yaml');
    expect(cfg.overrides.defaults.global.max_bytes_per_trace).toBe(20_000_000);
    expect(cfg.overrides.defaults.ingestion.max_traces_per_user).toBe(50_000);
  });

  it('receiver tls: a certificate needs its key, and a missing file is named at load (so -config.verify catches it)', () => {
    const tls = (t: string) => ['-distributor.receivers.otlp.protocols.grpc.tls.' + t];
    expect(() => loadConfig(tls('cert_file=/nonexistent/server.pem'))).toThrow('distributor.receivers.otlp.protocols.grpc.tls.key_file: required when cert_file is set');
    expect(() => loadConfig([...tls('cert_file=/nonexistent/server.pem'), ...tls('key_file=/nonexistent/server.key')])).toThrow('distributor.receivers.otlp.protocols.grpc.tls.cert_file: cannot read /nonexistent/server.pem');
    expect(() => loadConfig(['-distributor.receivers.otlp.protocols.http.tls.client_ca_file=/x/ca.pem'])).toThrow('distributor.receivers.otlp.protocols.http.tls.client_ca_file: set cert_file and key_file too');
  });

  it('a ring store of memberlist with no peers runs as inmemory; with etcd rings the memberlist block is accepted', () => {
    expect(load('memberlist-single.yaml').ingester.lifecycler.ring.kvstore.store).toBe('inmemory');
    const etcd = load('distributed-etcd.yaml');
    expect(etcd.ingester.lifecycler.ring.kvstore.etcd.endpoints).toEqual(['etcd:2379']);
    expect(etcd.ingester.lifecycler.ring.replication_factor).toBe(3);
  });
});
