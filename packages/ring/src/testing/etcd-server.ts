// A real etcd (Debian's etcd-server, /usr/bin/etcd) for tests: its own temp data dir and
// ephemeral loopback ports, killable and restartable on the same data dir and ports, so tests
// can take the store away under running members and bring it back.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort } from './ports.js';

export interface TestEtcd {
  /** The client URL, `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly dataDir: string;
  /** SIGKILLs etcd (no clean shutdown) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts etcd again on the same data dir and ports. */
  restart(): Promise<void>;
  /** Kills etcd and removes its data dir. */
  close(): Promise<void>;
}

// The package's testing entry: the port helper the top-level tests use too.
export { freeTcpPort } from './ports.js';

/** Serve clients over TLS with these PEM files; `clientCertAuth` also requires client certificates. */
export interface TestEtcdTls {
  certFile: string;
  keyFile: string;
  caFile: string;
  clientCertAuth?: boolean;
}

async function healthy(endpoint: string, tls: TestEtcdTls | undefined): Promise<boolean> {
  if (!tls) {
    const res = await fetch(`${endpoint}/health`);
    return res.ok && ((await res.json()) as { health?: string }).health === 'true';
  }
  // fetch cannot be given a CA; node:https can. The server's own pair doubles as a client certificate.
  return new Promise((resolve, reject) => {
    const req = httpsGet(
      `${endpoint}/health`,
      { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(res.statusCode === 200 && body.includes('"health":"true"')));
      },
    );
    req.on('error', reject);
  });
}

async function waitHealthy(endpoint: string, tls: TestEtcdTls | undefined, proc: ChildProcess, log: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`etcd exited with ${proc.exitCode}:\n${log()}`);
    try {
      if (await healthy(endpoint, tls)) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd at ${endpoint} not healthy after ${timeoutMs} ms:\n${log()}`);
}

export async function startTestEtcd(opts: { tls?: TestEtcdTls; binary?: string } = {}): Promise<TestEtcd> {
  const binary = opts.binary ?? process.env['ETCD_BIN'] ?? '/usr/bin/etcd';
  const tls = opts.tls;
  const dataDir = mkdtempSync(join(tmpdir(), 'andante-etcd-'));
  const clientPort = await freeTcpPort();
  const peerPort = await freeTcpPort();
  const endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
  let proc: ChildProcess | undefined;
  let output = '';
  const launch = async (): Promise<void> => {
    output = '';
    const p = spawn(
      binary,
      [
        '--name', 'test',
        '--data-dir', dataDir,
        '--listen-client-urls', endpoint,
        '--advertise-client-urls', endpoint,
        '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
        '--initial-cluster', `test=http://127.0.0.1:${peerPort}`,
        '--log-level', 'warn',
        ...(tls ? ['--cert-file', tls.certFile, '--key-file', tls.keyFile, '--trusted-ca-file', tls.caFile] : []),
        ...(tls?.clientCertAuth ? ['--client-cert-auth'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (b: Buffer): void => {
      output = (output + b.toString()).slice(-8_000);
    };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    const spawnFailed = new Promise<never>((_, reject) =>
      p.once('error', (err) => reject(new Error(`cannot start etcd (${binary}; scripts/install-test-peers.sh installs etcd-server): ${err.message}`))),
    );
    proc = p;
    await Promise.race([waitHealthy(endpoint, tls, p, () => output), spawnFailed]);
  };
  const kill = async (): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    endpoint,
    dataDir,
    kill,
    restart: launch,
    close: async () => {
      await kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
