// /ready answers 200 only once the WAL is replayed and the first blocklist poll has completed:
// after a kill -9, a restarted binary whose first listings of the bucket fail for a while (503
// SlowDown from the S3 server, retried) first answers /ready (it logs "andante started" after
// it) when every acknowledged trace answers by ID: those only in its WAL and those only in blocks
// in the bucket, which nothing but the first poll can show it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3rver, type TestS3Server } from '@andante/backend/testing';
import { bytesToHex } from '@andante/model';
import { fetchTraceProto, flush, getReady, killAllProcesses, makeTempDir, mergeConfig, postOtlpHttp, removeTempDirs, s3StorageConfig, s3rverEnv, startProcess } from './harness.js';
import { encodeRequest, makeSpan, randomTraceId } from './otlp.js';

let s3: TestS3Server;
beforeAll(async () => {
  s3 = await startS3rver({ bucket: 'andante-ready' });
});
afterAll(async () => {
  await killAllProcesses();
  await s3?.close();
  removeTempDirs();
});

async function send(port: number, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const traceId = randomTraceId();
    const res = await postOtlpHttp(port, encodeRequest({
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'ready' } }], droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: 'ready', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [makeSpan(traceId)], schemaUrl: '' }],
        schemaUrl: '',
      }],
    }));
    expect(res.status).toBe(200);
    ids.push(bytesToHex(traceId));
  }
  return ids;
}

describe('/ready', () => {
  it('is first 200 when the WAL is replayed and the first blocklist poll, slowed by failing listings, has completed', async () => {
    const dir = makeTempDir('ready');
    const cfg = mergeConfig(s3StorageConfig(s3.port, s3.bucket, 'ready'), {
      ingester: { flush_check_period: '1h', max_block_duration: '1h', trace_idle_period: '1h' },
      compactor: { compaction: { compaction_disabled: true } },
    });
    const env = s3rverEnv(s3.accessKey, s3.secretKey);
    const first = await startProcess(dir, cfg, 30_000, { env });
    const inBucket = await send(first.ports.otlpHttp!, 10);
    await flush(first.ports.http);
    const inWal = await send(first.ports.otlpHttp!, 10);
    await first.kill9();

    // The restarted process's first listings of the bucket fail (each is retried with backoff).
    const isListing = (r: { method: string; path: string }): boolean => r.method === 'GET' && r.path.replace(/\/$/, '') === `/${s3.bucket}`;
    s3.requests.length = 0;
    s3.injectFault({ count: 4, status: 503, code: 'SlowDown', match: isListing });
    const second = await startProcess(dir, cfg, 30_000, { env });
    expect(await getReady(second.ports.http)).toBe(200);
    const listings = s3.requests.filter(isListing).map((r) => r.status);
    expect(listings.slice(0, 4), 'the first poll met the failures').toEqual([503, 503, 503, 503]);
    const answers = await Promise.all([...inBucket, ...inWal].map(async (id) => (await fetchTraceProto(second.ports.http, id)).status));
    expect(answers.filter((s) => s !== 200), 'traces not answered right after /ready').toEqual([]);
    expect(await second.stop(), second.stderr().slice(-2000)).toBe(0);
    // Every stderr line is a JSON log entry, Node's own warnings included (the AWS SDK warns on Node 20).
    const notJson = second.stderr().split('\n').filter((l) => l !== '' && !l.startsWith('{'));
    expect(notJson, 'stderr lines that are not JSON log entries').toEqual([]);
  }, 90_000);

  it('answers 503 from SIGTERM on while everything is still served for shutdown_delay (connections not kept alive), then stops', async () => {
    const dir = makeTempDir('ready-delay');
    const proc = await startProcess(dir, { shutdown_delay: '5s' }, 30_000);
    expect(await getReady(proc.ports.http)).toBe(200);
    const keptAlive = await fetch(`http://127.0.0.1:${proc.ports.http}/api/echo`);
    expect(keptAlive.headers.get('connection')).not.toBe('close');
    const t0 = Date.now();
    proc.child.kill('SIGTERM');
    const deadline = Date.now() + 2_000;
    let ready = 200;
    while (ready === 200 && Date.now() < deadline) {
      ready = (await fetch(`http://127.0.0.1:${proc.ports.http}/ready`)).status;
      if (ready === 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(ready, '/ready after SIGTERM').toBe(503);
    // Still served inside the delay: an export is acknowledged and found; API answers close their connection.
    const [id] = await send(proc.ports.otlpHttp!, 1);
    const found = await fetchTraceProto(proc.ports.http, id!);
    expect(found.status).toBe(200);
    const echo = await fetch(`http://127.0.0.1:${proc.ports.http}/api/echo`);
    expect(echo.status).toBe(200);
    expect(echo.headers.get('connection')).toBe('close');
    expect(Date.now() - t0, 'the delay had not ended when the checks ran').toBeLessThan(5_000);
    const { code } = await proc.exited;
    expect(code, proc.stderr().slice(-2000)).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5_000);
    expect(proc.stderr()).toContain('shutdown delayed');
  }, 60_000);
});
