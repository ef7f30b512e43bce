// The h2c gRPC transport and the shared port, against a real grpc-js client and real HTTP/1.1
// requests on one listening socket. The methods here are small fixtures with known behaviour.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, silentLogger } from '@andante/model';
import type { ServerStreamMethod } from '@andante/service';
import { GrpcOverHttp2, encodeGrpcMessage, parseGrpcTimeout } from './grpc-over-http2.js';
import { shareHttpPortWithH2c } from './shared-port.js';

const identity = (b: Buffer): Buffer => b;
let port = 0;
let httpServer: http.Server;
let grpcServer: GrpcOverHttp2;
const cancelled: string[] = [];

const methods = new Map<string, ServerStreamMethod>([
  // Echoes the request three times, upper-cased, and the tenant metadata once.
  [
    '/test.Echo/Three',
    async (call) => {
      const text = Buffer.from(call.request).toString('utf8').toUpperCase();
      for (let i = 0; i < 3; i++) await call.send(Buffer.from(`${text}-${i}`));
      await call.send(Buffer.from(String(call.metadata['x-scope-orgid'] ?? '')));
    },
  ],
  ['/test.Echo/Refuse', async () => Promise.reject(new InvalidArgumentError('bad 100% "query" — ünïcode\nline 2'))],
  [
    '/test.Echo/FailLate',
    async (call) => {
      await call.send(Buffer.from('first'));
      throw new Error('secret internals');
    },
  ],
  [
    '/test.Echo/Slow',
    async (call) => {
      await call.send(Buffer.from('started'));
      await new Promise<void>((done) => call.signal.addEventListener('abort', () => done()));
      cancelled.push((call.signal.reason as Error).message);
    },
  ],
  ['/test.Echo/Big', async (call) => call.send(Buffer.alloc(3 * 1024 * 1024, 7))],
]);

beforeAll(async () => {
  httpServer = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => res.end(`${req.method} ${req.url} ${body}`));
  });
  grpcServer = new GrpcOverHttp2({ methods, logger: silentLogger, maxRequestBytes: 1024 });
  shareHttpPortWithH2c(httpServer, grpcServer.server);
  await new Promise<void>((listening) => httpServer.listen(0, '127.0.0.1', listening));
  port = (httpServer.address() as AddressInfo).port;
});

afterAll(async () => {
  const closed = new Promise((done) => httpServer.close(done));
  httpServer.closeAllConnections();
  await grpcServer.close(100);
  await closed;
});

interface Answer {
  messages: string[];
  code: number;
  details: string;
}

function call(method: string, request: string | Buffer, opts: { metadata?: Record<string, string>; deadlineMs?: number; channel?: grpc.ChannelOptions; cancelAfterFirst?: boolean } = {}): Promise<Answer> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), opts.channel ?? {});
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
  const stream = client.makeServerStreamRequest(`/test.Echo/${method}`, identity, identity, Buffer.from(request), md, { deadline: Date.now() + (opts.deadlineMs ?? 10_000) });
  const messages: string[] = [];
  return new Promise((resolveAnswer) => {
    stream.on('data', (m: Buffer) => {
      messages.push(m.toString('utf8'));
      if (opts.cancelAfterFirst) stream.cancel();
    });
    stream.on('error', () => undefined);
    stream.on('status', (s: grpc.StatusObject) => {
      client.close();
      resolveAnswer({ messages, code: s.code, details: s.details });
    });
  });
}

describe('gRPC over the shared HTTP/2 port', () => {
  it('streams every message in order, with metadata, then OK', async () => {
    const a = await call('Three', 'abc', { metadata: { 'x-scope-orgid': 'tenant-1' } });
    expect(a).toEqual({ messages: ['ABC-0', 'ABC-1', 'ABC-2', 'tenant-1'], code: grpc.status.OK, details: '' });
  });

  it('reads gzip-compressed requests', async () => {
    const a = await call('Three', 'zipped', { channel: { 'grpc.default_compression_algorithm': 2 } });
    expect(a.code, a.details).toBe(grpc.status.OK);
    expect(a.messages[0]).toBe('ZIPPED-0');
  });

  it('maps a refusal to its gRPC code with the message percent-encoded on the wire and intact at the client', async () => {
    const a = await call('Refuse', '');
    expect(a.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(a.details).toBe('bad 100% "query" — ünïcode\nline 2');
    expect(encodeGrpcMessage('100% ü\n')).toBe('100%25 %C3%BC%0A');
  });

  it('ends a failing call with INTERNAL after the messages already sent, without leaking the error text', async () => {
    const a = await call('FailLate', '');
    expect(a.messages).toEqual(['first']);
    expect(a.code).toBe(grpc.status.INTERNAL);
    expect(a.details).toBe('internal error');
  });

  it('answers unknown methods with UNIMPLEMENTED and oversized requests with RESOURCE_EXHAUSTED', async () => {
    const unknown = await call('Nope', '');
    expect(unknown.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(unknown.details).toBe('unknown method /test.Echo/Nope');
    const big = await call('Three', Buffer.alloc(2048, 65));
    expect(big.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it('delivers a 3 MiB message whole (many HTTP/2 frames, flow control)', async () => {
    const a = await call('Big', '');
    expect(a.code, a.details).toBe(grpc.status.OK);
    expect(a.messages[0]!.length).toBe(3 * 1024 * 1024);
  });

  it('honours grpc-timeout (DEADLINE_EXCEEDED, the method sees the abort) and client cancellation', async () => {
    const late = await call('Slow', '', { deadlineMs: 300 });
    expect(late.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(late.messages).toEqual(['started']);
    const gone = await call('Slow', '', { cancelAfterFirst: true });
    expect(gone.code).toBe(grpc.status.CANCELLED);
    await expect.poll(() => cancelled.length).toBe(2);
    expect(cancelled.some((m) => m.includes('deadline'))).toBe(true);
    expect(cancelled.some((m) => m.includes('cancelled'))).toBe(true);
  });

  it('keeps serving HTTP/1.1 on the same port: keep-alive requests and a request body', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const request = (method: string, path: string, body?: string) =>
      new Promise<string>((done, fail) => {
        const req = http.request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => done(text));
        });
        req.on('error', fail);
        req.end(body);
      });
    expect(await request('GET', '/a')).toBe('GET /a ');
    expect(await request('POST', '/b', 'PRI-not-a-preface')).toBe('POST /b PRI-not-a-preface');
    expect(await request('GET', '/c')).toBe('GET /c ');
    agent.destroy();
  });

  it('parses grpc-timeout units and ignores malformed values', () => {
    expect(parseGrpcTimeout('100m')).toBe(100);
    expect(parseGrpcTimeout('2S')).toBe(2000);
    expect(parseGrpcTimeout('1H')).toBe(3_600_000);
    expect(parseGrpcTimeout('5000u')).toBe(5);
    expect(parseGrpcTimeout('10x')).toBeUndefined();
    expect(parseGrpcTimeout(undefined)).toBeUndefined();
  });
});
