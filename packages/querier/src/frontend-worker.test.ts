import { describe, expect, it } from 'vitest';
import { createLogger, type QuerierJobs } from '@andante/model';
import { FrontendWorker, parseFrontendAddresses, splitHostPort } from './frontend-worker.js';

describe('frontend worker', () => {
  it.each([
    ['query-frontend-discovery.tempo.svc:9095', { host: 'query-frontend-discovery.tempo.svc', port: 9095 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['[::1]:9095', { host: '::1', port: 9095 }],
  ])('splits %s', (address, want) => {
    expect(splitHostPort(address)).toEqual(want);
  });

  it.each(['query-frontend', 'host:port', ':9095', ''])('refuses frontend_address %j naming the key', (address) => {
    expect(() => splitHostPort(address)).toThrow(/^querier.frontend_worker.frontend_address: expected host:port/);
  });

  it('takes a comma-separated list of frontends, and refuses one malformed entry naming the key', () => {
    expect(parseFrontendAddresses('fe-a:9095, 127.0.0.1:9096,[::1]:9097')).toEqual([
      { host: 'fe-a', port: 9095 },
      { host: '127.0.0.1', port: 9096 },
      { host: '::1', port: 9097 },
    ]);
    expect(() => parseFrontendAddresses('fe-a:9095,fe-b')).toThrow(/^querier.frontend_worker.frontend_address: expected host:port, got "fe-b"/);
  });

  it('dials every address of every entry in a comma-separated list', async () => {
    const jobs = {} as QuerierJobs; // never called: nothing listens on ports 1 and 2
    const worker = new FrontendWorker(
      { frontendAddress: '127.0.0.1:1,localhost:2', dnsLookupMs: 60_000, maxConcurrentQueries: 20, parallelism: 2, matchMaxConcurrent: true, querierId: 'q', maxRecvMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20 },
      jobs,
      createLogger('error', {}),
    );
    await worker.start();
    try {
      expect(worker.frontends).toContain('127.0.0.1:1');
      expect(worker.frontends).toContain('127.0.0.1:2');
    } finally {
      await worker.stop();
    }
  });

  it('dials every address the name resolves to (the system resolver, as a headless service needs), and drops them on stop', async () => {
    const jobs = {} as QuerierJobs; // never called: no frontend listens on port 1
    const worker = new FrontendWorker(
      { frontendAddress: 'localhost:1', dnsLookupMs: 60_000, maxConcurrentQueries: 20, parallelism: 2, matchMaxConcurrent: true, querierId: 'q', maxRecvMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20 },
      jobs,
      createLogger('error', {}),
    );
    await worker.start();
    try {
      expect(worker.frontends).toContain('127.0.0.1:1');
      expect(worker.frontends.every((t) => /^(127\.0\.0\.1|\[::1\]):1$/.test(t))).toBe(true);
      // Resolving again keeps the same set: no connection is dropped and dialled anew.
      const before = worker.frontends;
      await worker.resolve();
      expect(worker.frontends).toEqual(before);
    } finally {
      await worker.stop();
    }
    expect(worker.frontends).toEqual([]);
  });
});
