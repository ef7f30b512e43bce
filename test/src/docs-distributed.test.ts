// docs/distributed.md held to the binary:
// - the shared andante.yaml of the guide with each start command's flags passes `-config.verify`
//   (exit 0, `ok`), and every flag of a command is the value the loaded config holds (flags win over
//   the file, also where the file sets the key); the commands are the topology the guide describes,
//   with no two processes sharing a port, an instance ID or a WAL directory, and queriers dialling
//   the frontend's gRPC port;
// - the ring pages each target serves, as the guide's table says: 200 for those listed, 404 for the
//   others (one process per target, local storage and inmemory rings: a page is served wherever its
//   ring runs, whatever the store).

import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type AndanteConfig } from '@andante/server';
import { BIN_PATH, REPO_ROOT, killAllProcesses, makeTempDir, removeTempDirs, startProcess, type AndanteProcess } from './harness.js';
import { freeTcpPort } from './ports.js';

const GUIDE = readFileSync(join(REPO_ROOT, 'docs/distributed.md'), 'utf8');
const RING_PAGES = ['/ingester/ring', '/metrics-generator/ring', '/compactor/ring', '/distributor/ring'] as const;

/** The guide's shared config: its first ```yaml block. */
const sharedYaml = (): string => {
  const m = /```yaml\n([\s\S]*?)```/.exec(GUIDE);
  if (!m) throw new Error('docs/distributed.md has no ```yaml block');
  return m[1]!;
};

/** Each `$A ...` start command of the guide's ```sh block that defines A, as its flags (continuations joined). */
const startCommands = (): string[][] => {
  const block = [...GUIDE.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => /^A="node packages\/server\/dist\/bin\.js -config\.file=andante\.yaml"$/m.test(b));
  if (!block) throw new Error('docs/distributed.md has no ```sh block with A="node packages/server/dist/bin.js -config.file=andante.yaml"');
  return block
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.startsWith('$A '))
    .map((l) => l.split(/\s+/).filter((t) => t.startsWith('-')));
};

/** The guide's table: target -> the ring pages it serves. */
const ringTable = (): Map<string, string[]> => {
  const out = new Map<string, string[]>();
  for (const m of GUIDE.matchAll(/^\| `([a-z][a-z-]*)` \|.*\| ([^|]+) \|$/gm)) {
    const pages = m[2]!.trim() === 'none' ? [] : [...m[2]!.matchAll(/`(\/[a-z-]+\/ring)`/g)].map((p) => p[1]!);
    out.set(m[1]!, pages);
  }
  return out;
};

const flagValue = (flags: string[], key: string): string | undefined => flags.find((f) => f.startsWith(`-${key}=`))?.slice(key.length + 2);

/** The value at a dotted key of the loaded config. */
function at(cfg: AndanteConfig, key: string): unknown {
  let node: unknown = cfg;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function verify(configFile: string, flags: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN_PATH, '-config.verify', `-config.file=${configFile}`, ...flags], { cwd: REPO_ROOT, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

afterAll(async () => {
  await killAllProcesses();
  removeTempDirs();
});

describe('docs/distributed.md: the shared config and the start commands', () => {
  const dir = makeTempDir('docs-distributed');
  const configFile = join(dir, 'andante.yaml');
  writeFileSync(configFile, sharedYaml());
  const commands = startCommands();
  // Loaded in the cases (not at collection), so a refused flag fails a case, not the file.
  let cache: { fileOnly: AndanteConfig; loaded: AndanteConfig[] } | undefined;
  const load = () => (cache ??= { fileOnly: loadConfig([`-config.file=${configFile}`]), loaded: commands.map((flags) => loadConfig([`-config.file=${configFile}`, ...flags])) });
  const target = (flags: string[]): string => flagValue(flags, 'target') ?? '';

  it('every command passes -config.verify on the shared file (exit 0, ok)', async () => {
    expect(commands.length).toBe(10);
    const results = await Promise.all(commands.map((flags) => verify(configFile, flags)));
    results.forEach((r, i) => {
      expect(r.code, `${commands[i]!.join(' ')}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toBe('ok\n');
    });
    // The check can fail: a key the schema does not hold is refused.
    const bad = await verify(configFile, ['-target=ingester', '-ingester.lifecycler.no_such_key=1']);
    expect(bad.code).toBe(1);
  }, 60_000);

  it('each flag is what the loaded config holds: flags win over the file', () => {
    const { fileOnly, loaded } = load();
    commands.forEach((flags, i) => {
      for (const f of flags) {
        const eq = f.indexOf('=');
        expect(eq, f).toBeGreaterThan(1);
        const key = f.slice(1, eq);
        expect(String(at(loaded[i]!, key)), `${key} in ${flags.join(' ')}`).toBe(f.slice(eq + 1));
      }
    });
    // The file sets these too; each ingester's and distributor's own value replaces it.
    const ingester = commands.findIndex((c) => target(c) === 'ingester');
    expect(fileOnly.storage.trace.wal.path).not.toBe(loaded[ingester]!.storage.trace.wal.path);
    expect(loaded[ingester]!.storage.trace.wal.path).toBe(flagValue(commands[ingester]!, 'storage.trace.wal.path'));
    const second = commands.filter((c) => target(c) === 'distributor')[1]!;
    expect(fileOnly.distributor.receivers.otlp.protocols.grpc?.endpoint).not.toBe(flagValue(second, 'distributor.receivers.otlp.protocols.grpc.endpoint'));
  });

  it('the commands are the guide’s topology: no shared port, ID or WAL directory; queriers dial the frontend', () => {
    const { fileOnly, loaded } = load();
    const count = (t: string) => commands.filter((c) => target(c) === t).length;
    expect({ distributor: count('distributor'), ingester: count('ingester'), querier: count('querier'), 'query-frontend': count('query-frontend'), compactor: count('compactor'), 'metrics-generator': count('metrics-generator') }).toEqual({
      distributor: 2,
      ingester: 3,
      querier: 2,
      'query-frontend': 1,
      compactor: 1,
      'metrics-generator': 1,
    });
    expect(fileOnly.ingester.lifecycler.ring.replication_factor).toBe(3);
    const unique = (values: unknown[], what: string) => expect(new Set(values).size, `${what}: ${values.join(', ')}`).toBe(values.length);
    unique(loaded.map((c) => c.server.http_listen_port), 'HTTP ports');
    unique(loaded.map((c) => c.server.grpc_listen_port), 'gRPC ports');
    const of = (t: string) => loaded.filter((_, i) => target(commands[i]!) === t);
    unique(of('ingester').map((c) => c.ingester.lifecycler.id), 'ingester IDs');
    unique(of('ingester').map((c) => c.storage.trace.wal.path), 'ingester WAL dirs');
    unique(of('distributor').map((c) => c.distributor.ring.instance_id), 'distributor IDs');
    unique(of('querier').map((c) => c.querier.frontend_worker.id), 'querier IDs');
    const otlpPorts = of('distributor').flatMap((c) => [c.distributor.receivers.otlp.protocols.grpc?.endpoint, c.distributor.receivers.otlp.protocols.http?.endpoint].map((e) => e?.split(':').pop()));
    unique(otlpPorts, 'OTLP ports');
    for (const p of otlpPorts) unique([p, ...loaded.flatMap((c) => [String(c.server.http_listen_port), String(c.server.grpc_listen_port)])], `OTLP port ${p} against the server ports`);
    const frontendPort = of('query-frontend')[0]!.server.grpc_listen_port;
    for (const q of of('querier')) expect(q.querier.frontend_worker.frontend_address).toBe(`127.0.0.1:${frontendPort}`);
    // One etcd for every ring, and the bucket on S3.
    const kv = fileOnly.ingester.lifecycler.ring.kvstore;
    expect(kv.store).toBe('etcd');
    for (const ring of [fileOnly.metrics_generator.ring, fileOnly.compactor.ring, fileOnly.distributor.ring]) expect(ring.kvstore).toEqual(kv);
    expect(fileOnly.storage.trace.backend).toBe('s3');
  });
});

describe('docs/distributed.md: which process serves which ring page', () => {
  const table = ringTable();
  const procs = new Map<string, AndanteProcess>();

  beforeAll(async () => {
    expect([...table.keys()].sort()).toEqual(['compactor', 'distributor', 'ingester', 'metrics-generator', 'querier', 'query-frontend']);
    const frontendGrpc = await freeTcpPort();
    const started = await Promise.all(
      [...table.keys()].map(async (t) => {
        const extra: Record<string, unknown> = { target: t, server: { grpc_listen_port: t === 'query-frontend' ? frontendGrpc : 0 } };
        if (t === 'querier') extra['querier'] = { frontend_worker: { frontend_address: `127.0.0.1:${frontendGrpc}` } };
        if (t === 'metrics-generator') extra['metrics_generator'] = { storage: { path: join(makeTempDir('docs-distributed-gen'), 'generator') } };
        return [t, await startProcess(makeTempDir(`docs-distributed-${t}`), extra)] as const;
      }),
    );
    for (const [t, p] of started) procs.set(t, p);
  }, 60_000);

  it('each target answers 200 on the ring pages the guide lists for it and 404 on the others', async () => {
    const got: Record<string, string[]> = {};
    for (const [t, p] of procs) {
      got[t] = [];
      for (const page of RING_PAGES) {
        const res = await fetch(`http://127.0.0.1:${p.ports.http}${page}`, { headers: { accept: 'application/json' } });
        await res.arrayBuffer();
        expect([200, 404], `${t} ${page}`).toContain(res.status);
        if (res.status === 200) got[t].push(page);
      }
    }
    expect(got).toEqual(Object.fromEntries([...table].map(([t, pages]) => [t, RING_PAGES.filter((p) => pages.includes(p))])));
    // Every listed page is one of the four (a typo in the guide would otherwise pass as "not served").
    for (const pages of table.values()) for (const p of pages) expect(RING_PAGES).toContain(p);
  });
});
