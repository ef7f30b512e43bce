import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, LimitExceededError, PayloadTooLargeError, UnavailableError, silentLogger, type PushRequest } from '@andante/model';
import { IngesterGrpcClient, PUSH_METHOD, decodePushRequest, encodePushResponse } from '@andante/ingester-client';
import * as grpc from '@grpc/grpc-js';
import type { BidiStreamMethod, UnaryMethod } from '@andante/service';
import { GrpcInternalServer } from './internal-grpc.js';

const servers: GrpcInternalServer[] = [];
const clients: IngesterGrpcClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** remote_timeout: short only where the deadline is what is tested (a loaded machine can take longer to connect). */
async function serve(handler: UnaryMethod, maxRecv = 1 << 20, remoteTimeoutMs = 10_000): Promise<IngesterGrpcClient> {
  const s = new GrpcInternalServer({ address: '127.0.0.1', maxRecvMessageBytes: maxRecv, maxSendMessageBytes: 1 << 20 }, silentLogger);
  servers.push(s);
  s.mount(new Map(), new Map([[PUSH_METHOD, handler]]));
  const port = await s.listen(0);
  const c = new IngesterGrpcClient(`127.0.0.1:${port}`, { remoteTimeoutMs, maxSendMessageBytes: 4 << 20, maxRecvMessageBytes: 1 << 20 });
  clients.push(c);
  return c;
}

const req = (bytes = 16): PushRequest => ({
  tenantId: 'single-tenant',
  segments: [{ traceId: new Uint8Array(16).fill(7), bytes: new Uint8Array(bytes).fill(1), spanCount: 1, startTimeUnixNano: 1n, endTimeUnixNano: 2n }],
});

describe('internal gRPC server and the ingester push client', () => {
  it('carries the request and the per-trace refusals unchanged', async () => {
    let seen: PushRequest | undefined;
    const c = await serve(async ({ request }) => {
      seen = decodePushRequest(request);
      return encodePushResponse({ rejected: [{ traceId: seen.segments[0]!.traceId, spanCount: 1, reason: 'live_traces_exceeded', message: 'max live traces' }] });
    });
    const res = await c.push(req());
    expect(seen?.tenantId).toBe('single-tenant');
    expect([...seen!.segments[0]!.bytes]).toEqual([...req().segments[0]!.bytes]);
    expect(res.rejected.map((r) => [r.reason, r.message])).toEqual([['live_traces_exceeded', 'max live traces']]);
  });

  it('maps a limit refusal to RESOURCE_EXHAUSTED and back to the same LimitExceededError (reason, retry-after)', async () => {
    const c = await serve(async () => {
      throw new LimitExceededError('UNFLUSHED_BYTES_EXCEEDED', 'unflushed_bytes_exceeded', 'ingester memory budget exceeded', 2);
    });
    const err = await c.push(req()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitExceededError);
    expect((err as LimitExceededError).reason).toBe('unflushed_bytes_exceeded');
    expect((err as LimitExceededError).retryAfterSeconds).toBe(2);
    expect((err as Error).message).toBe('UNFLUSHED_BYTES_EXCEEDED: ingester memory budget exceeded');
  });

  it('answers a malformed request INVALID_ARGUMENT and keeps serving', async () => {
    const c = await serve(async ({ request }) => encodePushResponse({ rejected: decodePushRequest(request).segments.length ? [] : [] }));
    await expect(c.push({ tenantId: '', segments: [] })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(c.push(req())).resolves.toEqual({ rejected: [] });
  });

  it('gives up at remote_timeout (DEADLINE_EXCEEDED, unavailable) and tells the handler through its signal', async () => {
    let aborted!: Promise<void>;
    const c = await serve(({ signal }) => {
      aborted = new Promise((r) => signal.addEventListener('abort', () => r()));
      return new Promise(() => undefined);
    }, 1 << 20, 300);
    const err = await c.push(req()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/DEADLINE_EXCEEDED/);
    await aborted;
  });

  it('refuses a message over grpc_server_max_recv_msg_size with RESOURCE_EXHAUSTED', async () => {
    let called = false;
    const c = await serve(async () => {
      called = true;
      return new Uint8Array(0);
    }, 64 * 1024);
    const err = await c.push(req(128 * 1024)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect((err as Error).message).toMatch(/larger than max/i);
    expect(called).toBe(false);
  });
});

describe('internal gRPC server: bidirectional methods', () => {
  const id = (b: Buffer): Buffer => b;

  async function serveBidi(handler: BidiStreamMethod): Promise<grpc.Client> {
    const s = new GrpcInternalServer({ address: '127.0.0.1', maxRecvMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20 }, silentLogger);
    servers.push(s);
    s.mount(new Map(), new Map(), new Map([['/andante.Test/Echo', handler]]));
    const port = await s.listen(0);
    return new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  }

  it('carries messages both ways in order, ends OK when the handler returns, and fails with the typed error when it throws', async () => {
    const client = await serveBidi(async (call) => {
      for await (const m of call.messages) {
        if (Buffer.from(m).toString() === 'bad') throw new InvalidArgumentError('bad message');
        await call.send(Buffer.from(`echo ${Buffer.from(m).toString()}`));
      }
    });
    try {
      const echo = client.makeBidiStreamRequest<Buffer, Buffer>('/andante.Test/Echo', id, id);
      echo.on('error', () => undefined);
      const got: string[] = [];
      echo.on('data', (b: Buffer) => got.push(b.toString()));
      const ended = new Promise<grpc.StatusObject>((resolve) => echo.on('status', resolve));
      for (const m of ['a', 'b', 'c']) echo.write(Buffer.from(m));
      echo.end();
      expect((await ended).code).toBe(grpc.status.OK);
      expect(got).toEqual(['echo a', 'echo b', 'echo c']);

      const failing = client.makeBidiStreamRequest<Buffer, Buffer>('/andante.Test/Echo', id, id);
      const failed = new Promise<grpc.ServiceError>((resolve) => failing.on('error', resolve));
      failing.write(Buffer.from('bad'));
      const err = await failed;
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details).toBe('bad message');
    } finally {
      client.close();
    }
  });

  it("aborts the handler's signal when the client cancels", async () => {
    let aborted!: () => void;
    const sawAbort = new Promise<void>((resolve) => (aborted = resolve));
    const client = await serveBidi(async (call) => {
      call.signal.addEventListener('abort', () => aborted());
      for await (const _ of call.messages) await call.send(Buffer.from('x'));
    });
    try {
      const stream = client.makeBidiStreamRequest<Buffer, Buffer>('/andante.Test/Echo', id, id);
      stream.on('error', () => undefined);
      const first = new Promise<void>((resolve) => stream.once('data', () => resolve()));
      stream.write(Buffer.from('hello'));
      await first;
      stream.cancel();
      await sawAbort;
    } finally {
      client.close();
    }
  });
});
