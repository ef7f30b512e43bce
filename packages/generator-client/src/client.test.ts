import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnavailableError, type GeneratorPushRequest } from '@andante/model';
import { GeneratorClientPool, GeneratorGrpcClient } from './client.js';
import { PUSH_SPANS_METHOD, decodePushSpansRequest, encodePushSpansRequest } from './push-codec.js';

const id = (n: number): Uint8Array => Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? n : i));
const cfg = { remoteTimeoutMs: 5_000, maxSendMessageBytes: 1 << 20, maxRecvMessageBytes: 1 << 20 };
const servers: grpc.Server[] = [];
afterAll(() => {
  for (const s of servers) s.forceShutdown();
});

/** A real grpc-js server on an ephemeral port answering PushSpans with `handler`. */
async function serve(handler: (req: Buffer, cb: grpc.sendUnaryData<Buffer>) => void): Promise<string> {
  const server = new grpc.Server();
  servers.push(server);
  const identity = (b: Buffer): Buffer => b;
  server.addService(
    { PushSpans: { path: PUSH_SPANS_METHOD, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
    { PushSpans: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => handler(call.request, cb) },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return `127.0.0.1:${port}`;
}

const request: GeneratorPushRequest = {
  tenantId: 'tenant-a',
  segments: [{ traceId: id(1), bytes: Uint8Array.of(10, 3, 1, 2, 3), spanCount: 2, startTimeUnixNano: 1n, endTimeUnixNano: 2n }],
};

describe('GeneratorGrpcClient', () => {
  it('sends the segment bytes as they are, and the server side decodes the same request', async () => {
    const got: GeneratorPushRequest[] = [];
    const address = await serve((req, cb) => {
      got.push(decodePushSpansRequest(req));
      cb(null, Buffer.alloc(0));
    });
    const client = new GeneratorGrpcClient(address, cfg);
    await client.pushSpans(request);
    client.close();
    expect(got).toHaveLength(1);
    expect(got[0]!.tenantId).toBe('tenant-a');
    expect([...got[0]!.segments[0]!.bytes]).toEqual([10, 3, 1, 2, 3]);
    expect(got[0]!.segments[0]!.spanCount).toBe(2);
  });

  it('maps INVALID_ARGUMENT to InvalidArgumentError, a missed deadline and a dead address to UnavailableError', async () => {
    const refusing = await serve((_req, cb) => cb({ code: grpc.status.INVALID_ARGUMENT, details: 'malformed trace segment: index out of range' }));
    const c1 = new GeneratorGrpcClient(refusing, cfg);
    await expect(c1.pushSpans(request)).rejects.toThrow(InvalidArgumentError);
    c1.close();

    const silent = await serve(() => undefined); // never answers
    const c2 = new GeneratorGrpcClient(silent, { ...cfg, remoteTimeoutMs: 200 });
    const t0 = Date.now();
    const err = await c2.pushSpans(request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/DEADLINE_EXCEEDED/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    c2.close();

    const c3 = new GeneratorGrpcClient('127.0.0.1:1', { ...cfg, remoteTimeoutMs: 2_000 });
    await expect(c3.pushSpans(request)).rejects.toThrow(UnavailableError);
    c3.close();
  });

  it('the request codec refuses what is not a push of segments', () => {
    expect(() => decodePushSpansRequest(Uint8Array.of(0xff, 0xff, 0xff))).toThrow(InvalidArgumentError);
    const noSpans = encodePushSpansRequest({ tenantId: 't', segments: [{ ...request.segments[0]!, spanCount: 0 }] });
    expect(() => decodePushSpansRequest(noSpans)).toThrow(/span_count 0/);
  });
});

describe('GeneratorClientPool', () => {
  it('keeps one client per address and closes those no longer on the ring', async () => {
    const address = await serve((_req, cb) => cb(null, Buffer.alloc(0)));
    const pool = new GeneratorClientPool(cfg);
    const a = pool.get(address);
    expect(pool.get(address)).toBe(a);
    pool.get('127.0.0.1:2');
    expect(pool.size).toBe(2);
    pool.retain([address]);
    expect(pool.size).toBe(1);
    expect(pool.get(address)).toBe(a);
    await a.pushSpans(request);
    // A new client for an address that came back.
    expect(pool.get('127.0.0.1:2')).not.toBe(undefined);
    expect(pool.size).toBe(2);
    pool.close();
    expect(pool.size).toBe(0);
  });
});
