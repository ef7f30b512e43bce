import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@andante/model';
import { defaultRemoteWriteConfig, type RemoteWriteConfig } from './config.js';
import type { TimeSeries } from './registry.js';
import { parseRelabelConfigs } from './relabel.js';
import { RemoteWriteQueue, decodeWriteRequest, encodeWriteRequest, snappyCompress, snappyUncompress, type RemoteWriteMetrics } from './remote-write.js';

interface Received {
  headers: IncomingHttpHeaders;
  series: TimeSeries[];
}

/** A remote_write receiver answering from a script of status codes (then 204), recording what arrives. */
async function receiver(statuses: number[] = []): Promise<{ url: string; received: Received[]; attempts: () => number; server: Server }> {
  const received: Received[] = [];
  let attempts = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      const status = statuses.shift() ?? 204;
      if (status < 300) received.push({ headers: req.headers, series: decodeWriteRequest(snappyUncompress(Buffer.concat(chunks))) });
      res.writeHead(status).end(status >= 300 ? `status ${status}: out of order sample` : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  servers.push(server);
  return { url: `http://127.0.0.1:${port}/api/v1/write`, received, attempts: () => attempts, server };
}
const servers: Server[] = [];
const queues: RemoteWriteQueue[] = [];
afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop(0)));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function recorder() {
  const log = { sent: 0, exemplars: 0, retries: 0, dropped: {} as Record<string, number>, pending: 0 };
  const metrics: RemoteWriteMetrics = {
    samplesSent: (_r, _t, n) => (log.sent += n),
    exemplarsSent: (_r, _t, n) => (log.exemplars += n),
    samplesDropped: (_r, _t, reason, n) => (log.dropped[reason] = (log.dropped[reason] ?? 0) + n),
    retries: () => log.retries++,
    pendingSamples: (_r, n) => (log.pending = n),
  };
  return { log, metrics };
}

function queue(url: string, over: Partial<RemoteWriteConfig> = {}, addOrgIdHeader = true, walDir?: string) {
  const cfg = { ...defaultRemoteWriteConfig(), url, name: 'test', ...over };
  cfg.queue_config = { ...cfg.queue_config, ...(over.queue_config ?? {}), min_backoff: '5ms', max_backoff: '20ms' };
  const { log, metrics } = recorder();
  const q = new RemoteWriteQueue({ cfg, addOrgIdHeader, metrics, logger: silentLogger, ...(walDir ? { walDir } : {}) });
  queues.push(q);
  return { q, log };
}

const series = (name: string, value: number, traceId?: string): TimeSeries => ({
  labels: [['__name__', name], ['service', 'a']],
  samples: [{ value, timestampMs: 1_700_000_000_000 }],
  exemplars: traceId ? [{ traceId, value: 0.25, timestampMs: 1_700_000_000_000 }] : [],
});
const until = async (cond: () => boolean, ms = 5_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('remote_write encoding', () => {
  it('round-trips a WriteRequest through protobuf and snappy, exemplars only when asked', () => {
    const input = [series('calls_total', 3, 'abc'), series('other', 1.5)];
    const bytes = snappyUncompress(snappyCompress(encodeWriteRequest(input, true)));
    expect(decodeWriteRequest(bytes)).toEqual(input);
    expect(decodeWriteRequest(encodeWriteRequest(input, false))[0]!.exemplars).toEqual([]);
  });
});

describe('RemoteWriteQueue', () => {
  it('posts snappy protobuf with the remote_write headers, auth, custom headers and each tenant in X-Scope-OrgID', async () => {
    const rx = await receiver();
    const { q, log } = queue(rx.url, { headers: { 'X-Extra': 'yes' }, basic_auth: { username: 'u', password: 'p' }, send_exemplars: true });
    q.enqueue('tenant-a', [series('c', 1, 'aa')]);
    q.enqueue('tenant-b', [series('c', 2)]);
    await until(() => log.sent === 2);
    const [a, b] = rx.received;
    expect(a!.headers['content-encoding']).toBe('snappy');
    expect(a!.headers['content-type']).toBe('application/x-protobuf');
    expect(a!.headers['x-prometheus-remote-write-version']).toBe('0.1.0');
    expect(a!.headers['authorization']).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(a!.headers['x-extra']).toBe('yes');
    expect([a!.headers['x-scope-orgid'], b!.headers['x-scope-orgid']]).toEqual(['tenant-a', 'tenant-b']);
    expect(a!.series[0]!.exemplars.map((e) => e.traceId)).toEqual(['aa']);
    expect(log.sent).toBe(2);
    expect(log.exemplars).toBe(1);
  });

  it('sends no X-Scope-OrgID when remote_write_add_org_id_header is false, and a bearer token from authorization', async () => {
    const rx = await receiver();
    const { q } = queue(rx.url, { authorization: { type: 'Bearer', credentials: 'tok' } }, false);
    q.enqueue('tenant-a', [series('c', 1)]);
    await until(() => rx.received.length === 1);
    expect(rx.received[0]!.headers['x-scope-orgid']).toBeUndefined();
    expect(rx.received[0]!.headers['authorization']).toBe('Bearer tok');
  });

  it.each([
    ['503', [503, 503], 3, 0],
    ['500', [500], 2, 0],
    ['429', [429, 429, 429], 4, 0],
  ])('retries %s with backoff until it is accepted', async (_name, statuses, attempts, dropped) => {
    const rx = await receiver([...statuses]);
    const { q, log } = queue(rx.url);
    q.enqueue('t', [series('c', 7)]);
    await until(() => log.sent === 1);
    expect(rx.attempts()).toBe(attempts);
    expect(log.retries).toBe(statuses.length);
    expect(log.sent).toBe(1);
    expect(log.dropped['http_4xx'] ?? 0).toBe(dropped);
    expect(rx.received[0]!.series[0]!.samples[0]!.value).toBe(7);
  });

  it('drops a request answered 400 at once (no retry), counts it and goes on with the next', async () => {
    const rx = await receiver([400]);
    const { q, log } = queue(rx.url);
    q.enqueue('t', [series('bad', 1)]);
    q.enqueue('t', [series('good', 2)]);
    await until(() => rx.received.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(rx.attempts()).toBe(2);
    expect(log.retries).toBe(0);
    expect(log.dropped).toEqual({ http_4xx: 1 });
    expect(rx.received[0]!.series[0]!.labels[0]).toEqual(['__name__', 'good']);
  });

  it('applies write_relabel_configs before queueing: a dropped series is not sent, a rewritten label is', async () => {
    const rx = await receiver();
    const write_relabel_configs = parseRelabelConfigs(
      [
        { source_labels: ['__name__'], regex: 'debug_.*', action: 'drop' },
        { source_labels: ['service'], target_label: 'team', replacement: 'team-${1}' },
        { regex: 'service', action: 'labeldrop' },
      ],
      'remote_write[0].write_relabel_configs',
    );
    const { q } = queue(rx.url, { write_relabel_configs });
    q.enqueue('t', [series('debug_calls', 1), series('calls', 2)]);
    await until(() => rx.received.length === 1);
    expect(rx.received[0]!.series.map((x) => x.labels)).toEqual([[['__name__', 'calls'], ['team', 'team-a']]]);
    expect(q.pendingSamples).toBe(0);
  });

  it('holds at most capacity x max_shards samples, dropping the oldest, and delivers the rest once the receiver is back', async () => {
    const rx = await receiver(Array(30).fill(503));
    const { q, log } = queue(rx.url, { queue_config: { ...defaultRemoteWriteConfig().queue_config, capacity: 2, max_shards: 2, max_samples_per_send: 1 } });
    for (let i = 0; i < 10; i++) q.enqueue('t', [series(`s${i}`, i)]);
    expect(q.pendingSamples).toBe(4);
    expect(log.dropped['queue_full']).toBe(6);
    await until(() => rx.received.length === 4, 10_000).catch((err: Error) => {
      throw new Error(`${err.message}: attempts ${rx.attempts()}, received ${rx.received.length}, log ${JSON.stringify(log)}`);
    });
    expect(rx.received.map((r) => r.series[0]!.labels[0]![1])).toEqual(['s6', 's7', 's8', 's9']);
    // The receiver records a request before its answer reaches the queue; the queue empties on the answer.
    await until(() => q.pendingSamples === 0);
  });

  it('cuts a collection into requests of max_samples_per_send', async () => {
    const rx = await receiver();
    const { q } = queue(rx.url, { queue_config: { ...defaultRemoteWriteConfig().queue_config, max_samples_per_send: 3 } });
    q.enqueue('t', Array.from({ length: 7 }, (_, i) => series(`s${i}`, i)));
    await until(() => rx.received.length === 3);
    expect(rx.received.map((r) => r.series.length)).toEqual([3, 3, 1]);
  });

  it('retries a receiver that is down (connection refused) and never throws into the caller', async () => {
    const rx = await receiver();
    const url = rx.url;
    await new Promise((r) => rx.server.close(r));
    const { q, log } = queue(url);
    expect(() => q.enqueue('t', [series('c', 1)])).not.toThrow();
    await until(() => log.retries >= 2);
    await q.stop(0);
    expect(log.dropped['shutdown']).toBe(1);
  });
});

// A self-signed certificate for 127.0.0.1 (valid until 2126), only for this test.
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBoDCCAUegAwIBAgIUQ/Jkk0HZaG6igJ1O7aHvyWbS6BgwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMYW5kYW50ZS10ZXN0MCAXDTI2MTIwMzIyMzk0NloYDzIxMjYx
MTA5MjIzOTQ2WjAXMRUwEwYDVQQDDAxhbmRhbnRlLXRlc3QwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAARGGdvXuRkv8NXW7vD3EjV2nP/naMKcnvePKzWbXa4Vt74P
ezVRw2FkyCvYDf3ea1HxlWpzHLDON5MspxH6u301o28wbTAdBgNVHQ4EFgQUvO6z
52pAuRDpzjfaCyZJAqCGpNUwHwYDVR0jBBgwFoAUvO6z52pAuRDpzjfaCyZJAqCG
pNUwDwYDVR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3Qw
CgYIKoZIzj0EAwIDRwAwRAIgdINVCdMY4Ee61WqW7GHBR76dP4jqH96SCBoLvTVS
RHICIEzrQfAfb/thekCePMCoCaOfVw5ag6jbgKgV4gyRBRQC
-----END CERTIFICATE-----`;
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQghnCRa9hYp5/+V2Sf
amtzb66s1vCMG5EQG6rrAgSK2KqhRANCAARGGdvXuRkv8NXW7vD3EjV2nP/naMKc
nvePKzWbXa4Vt74PezVRw2FkyCvYDf3ea1HxlWpzHLDON5MspxH6u301
-----END PRIVATE KEY-----`;

describe('RemoteWriteQueue over https', () => {
  it.each([
    ['trusts the receiver through tls_config.ca', { ca: TEST_CERT }, true],
    ['skips verification with insecure_skip_verify', { insecure_skip_verify: true }, true],
    ['refuses an unknown certificate (and retries)', {}, false],
  ])('%s', async (_name, tls, delivered) => {
    let received = 0;
    const server = createHttpsServer({ cert: TEST_CERT, key: TEST_KEY }, (req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server as unknown as Server);
    const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/write`;
    const { q, log } = queue(url, { tls_config: { ...defaultRemoteWriteConfig().tls_config, ...tls } });
    q.enqueue('t', [series('c', 1)]);
    if (delivered) {
      await until(() => log.sent === 1);
      expect(received).toBe(1);
    } else {
      await until(() => log.retries >= 2);
      expect(received).toBe(0);
      expect(log.sent).toBe(0);
    }
  });
});

describe('RemoteWriteQueue with a WAL (storage.path)', () => {
  it('keeps what could not be sent across a restart and sends it, in order, once the receiver is up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'andante-rw-wal-'));
    try {
      const down = await receiver();
      const url = down.url;
      await new Promise((r) => down.server.close(r));
      const first = queue(url, {}, true, dir);
      for (let i = 0; i < 3; i++) first.q.enqueue(`tenant-${i}`, [series(`s${i}`, i, `trace-${i}`)]);
      await until(() => first.log.retries >= 1);
      await first.q.stop(0);
      expect(first.log.dropped).toEqual({}); // nothing lost: it waits on disk
      expect(readdirSync(dir)).toHaveLength(3);

      // The receiver is back on the same port.
      const port = Number(new URL(url).port);
      const got: { org: string | undefined; name: string | undefined }[] = [];
      const back = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const s = decodeWriteRequest(snappyUncompress(Buffer.concat(chunks)));
          got.push({ org: req.headers['x-scope-orgid'] as string | undefined, name: s[0]!.labels[0]![1] });
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((r) => back.listen(port, '127.0.0.1', r));
      servers.push(back);
      const second = queue(url, {}, true, dir);
      expect(second.q.pendingSamples).toBe(3);
      await until(() => second.log.sent === 3);
      expect(got).toEqual([
        { org: 'tenant-0', name: 's0' },
        { org: 'tenant-1', name: 's1' },
        { org: 'tenant-2', name: 's2' },
      ]);
      expect(readdirSync(dir)).toEqual([]);
      // New requests continue after the replayed ones.
      second.q.enqueue('tenant-3', [series('s3', 3)]);
      await until(() => second.log.sent === 4);
      expect(got[3]).toEqual({ org: 'tenant-3', name: 's3' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
