// The etcd client settings Tempo's kvstore.etcd block carries, against a real etcd: username and
// password (etcd auth enabled), and TLS with a CA and a client certificate (etcd requiring client
// certificates). Each case runs its own etcd.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Secret, createLogger } from '@andante/model';
import { createRingStore, defaultKVStoreConfig, type KVStoreConfig } from './create-ring-store.js';
import { Lifecycler } from './lifecycler.js';
import { startTestEtcd, type TestEtcd } from './testing/etcd-server.js';

const PASSWORD = 'etcd-root-pw-4d9a1f';
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function etcdWith(opts: Parameters<typeof startTestEtcd>[0] = {}): Promise<TestEtcd> {
  const etcd = await startTestEtcd(opts);
  cleanup.push(() => etcd.close());
  return etcd;
}

function kv(endpoint: string, etcd: Partial<KVStoreConfig['etcd']>): KVStoreConfig {
  const base = defaultKVStoreConfig();
  return { ...base, store: 'etcd', etcd: { ...base.etcd, endpoints: [endpoint], dial_timeout: '2s', max_retries: 1, ...etcd } };
}

/** Joins one member and reads it back through a second connection. */
async function joinAndRead(cfg: KVStoreConfig, logLines: string[] = []): Promise<string[]> {
  const logger = createLogger('debug', {}, (l) => logLines.push(l));
  const member = createRingStore(cfg, { key: 'ring', replicationFactor: 1, heartbeatTimeoutMs: 5_000 }, logger);
  const view = createRingStore(cfg, { key: 'ring', replicationFactor: 1, heartbeatTimeoutMs: 5_000 }, logger);
  const lc = new Lifecycler(member, { id: 'm-1', address: 'h:9095', numTokens: 8, heartbeatPeriodMs: 200 }, logger);
  cleanup.push(async () => {
    await lc.abandon();
    for (const s of [member, view]) {
      await s.stop();
      await s.kv.close();
    }
  });
  await member.start();
  await lc.start();
  await view.start();
  return (await view.list()).map((i) => `${i.id}=${i.state}`);
}

describe('etcd client settings', () => {
  it('authenticates with username and password; a wrong password fails clearly and neither is logged', async () => {
    const etcd = await etcdWith();
    const admin = new Etcd3({ hosts: etcd.endpoint });
    await admin.role('root').create();
    await admin.user('root').create(PASSWORD);
    await admin.user('root').addRole('root');
    await admin.auth.authEnable();
    admin.close();

    // Without credentials etcd refuses.
    await expect(joinAndRead(kv(etcd.endpoint, {}))).rejects.toThrow(/user name is empty|permission denied|invalid auth token/i);
    const lines: string[] = [];
    await expect(joinAndRead(kv(etcd.endpoint, { username: 'root', password: new Secret('wrong-pw-0000') }), lines)).rejects.toThrow(/authentication failed/i);
    expect(await joinAndRead(kv(etcd.endpoint, { username: 'root', password: new Secret(PASSWORD) }), lines)).toEqual(['m-1=ACTIVE']);
    expect(lines.join('\n')).not.toContain(PASSWORD);
  });

  it('talks TLS with a CA file and a client certificate (etcd with --client-cert-auth)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'andante-etcd-tls-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const f = (n: string) => join(dir, n);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=andante-test-ca', '-keyout', f('ca.key'), '-out', f('ca.pem'));
    writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('node.key'), '-out', f('node.csr'));
    ssl('x509', '-req', '-in', f('node.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('san.ext'), '-out', f('node.pem'));
    const etcd = await etcdWith({ tls: { certFile: f('node.pem'), keyFile: f('node.key'), caFile: f('ca.pem'), clientCertAuth: true } });
    const endpoint = etcd.endpoint.replace(/^https:\/\//, ''); // as in Tempo's config: host:port
    expect(await joinAndRead(kv(endpoint, { tls_enabled: true, tls_ca_path: f('ca.pem'), tls_cert_path: f('node.pem'), tls_key_path: f('node.key') }))).toEqual(['m-1=ACTIVE']);
    // Without the client certificate the server refuses the connection.
    await expect(joinAndRead(kv(endpoint, { tls_enabled: true, tls_ca_path: f('ca.pem') }))).rejects.toThrow();
  });
});
