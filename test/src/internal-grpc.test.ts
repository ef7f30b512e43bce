// Internal gRPC across processes (issue 12 §2, first slice): a `-target=distributor` process
// pushes pre-encoded segments to a `-target=ingester,querier,query-frontend` process over
// /andante.Ingester/Push on the ingester's internal gRPC port, found through the ingester ring in
// a real etcd. The trace exported to the distributor is read back by ID from the other process.
// A malformed internal push is answered INVALID_ARGUMENT and the ingester keeps serving.

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@andante/model';
import { IngesterGrpcClient } from '@andante/ingester-client';
import { startTestEtcd, type TestEtcd } from '@andante/ring/testing';
import { fetchTraceProto, killAllProcesses, makeTempDir, postOtlpHttp, removeTempDirs, startProcess, waitFor, type AndanteProcess } from './harness.js';
import { encodeRequest, makeSpan, randomTraceId } from './otlp.js';

let etcd: TestEtcd;
beforeAll(async () => {
  etcd = await startTestEtcd();
});
afterAll(async () => {
  await killAllProcesses();
  await etcd?.close();
  removeTempDirs();
});

function clusterConfig(prefix: string, target: string, name: string, grpcPort: number) {
  const kvstore = { store: 'etcd', prefix, etcd: { endpoints: [etcd.endpoint], dial_timeout: '1s', max_retries: 2 } };
  const basic = (id: string) => ({ kvstore, heartbeat_period: '200ms', heartbeat_timeout: '3s', instance_id: id, instance_addr: '127.0.0.1' });
  return {
    target,
    server: { grpc_listen_address: '127.0.0.1', grpc_listen_port: grpcPort },
    ingester: { lifecycler: { id: `ingester-${name}`, address: '127.0.0.1', heartbeat_period: '200ms', ring: { kvstore, heartbeat_timeout: '3s' } } },
    metrics_generator: { ring: basic(`generator-${name}`) },
    compactor: { ring: basic(`compactor-${name}`) },
    distributor: { ring: basic(`distributor-${name}`) },
  };
}

async function exportOne(p: AndanteProcess, service: string): Promise<string> {
  const traceId = randomTraceId();
  const res = await postOtlpHttp(
    p.ports.otlpHttp!,
    encodeRequest({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }], droppedAttributesCount: 0 },
          scopeSpans: [{ scope: { name: 'internal-grpc', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [makeSpan(traceId), makeSpan(traceId)], schemaUrl: '' }],
          schemaUrl: '',
        },
      ],
    }),
  );
  expect(res.status, res.text()).toBe(200);
  return bytesToHex(traceId);
}

function rawPush(port: number, body: Buffer): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const id = (b: Buffer): Buffer => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest('/andante.Ingester/Push', id, id, body, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err) => {
      client.close();
      resolve(err);
    });
  });
}

describe('internal gRPC: distributor -> ingester push across processes', () => {
  it('a span exported to a -target=distributor process is read back by ID from the ingester process; find-by-ID over internal gRPC (memory, then flushed block metas); a malformed internal push gets INVALID_ARGUMENT and the ingester keeps serving', async () => {
    const prefix = `internal-grpc-${process.pid}/`;
    // grpc_listen_port 0: the ingester registers in the ring the port the OS gave its internal server.
    const ingester = await startProcess(makeTempDir('igrpc-ingester-'), clusterConfig(prefix, 'ingester,querier,query-frontend', 'a', 0), 60_000);
    const distributor = await startProcess(makeTempDir('igrpc-distributor-'), clusterConfig(prefix, 'distributor', 'b', 0), 60_000);
    const ingesterPort = (ingester.ports as { grpc?: number | null }).grpc!;
    expect(ingesterPort).toBeGreaterThan(0);

    // The distributor sees the ingester ACTIVE in etcd, at its internal gRPC address.
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${distributor.ports.http}/ingester/ring`, { headers: { accept: 'application/json' } });
        const { shards } = (await res.json()) as { shards: { id: string; state: string; address: string }[] };
        return shards.length === 1 && shards[0]!.state === 'ACTIVE' && shards[0]!.address === `127.0.0.1:${ingesterPort}`;
      },
      30_000,
      'the ingester ACTIVE on the distributor\'s ring page',
    );
    // Only the ingester's process opens an internal port (nothing in the distributor's serves others).
    expect((distributor.ports as { grpc?: number | null }).grpc).toBeNull();

    const id = await exportOne(distributor, 'internal-grpc');
    const found = await fetchTraceProto(ingester.ports.http, id);
    expect(found.status).toBe(200);
    const spans = found.trace!.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    expect(spans).toHaveLength(2);
    expect(found.trace!.resourceSpans[0]!.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'internal-grpc' } });

    // The querier's find-by-ID over the same port: the ingester's part of the trace, from memory.
    const client = new IngesterGrpcClient(`127.0.0.1:${ingesterPort}`, { remoteTimeoutMs: 10_000, maxSendMessageBytes: 16 << 20, maxRecvMessageBytes: 16 << 20 });
    try {
      const part = await client.findTraceById('single-tenant', hexToBytes(id));
      expect(part.trace?.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans))).toHaveLength(2);
      expect((await client.findTraceById('single-tenant', randomTraceId())).trace).toBeNull();
      await expect(client.findTraceById('single-tenant', Uint8Array.of(1, 2, 3))).rejects.toThrow(/trace_id must be 16 bytes/);
    } finally {
      client.close();
    }

    // Malformed internal messages: garbage, a truncated segment, a segment with a 3-byte trace ID.
    for (const body of [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0x0a, 0x01, 0x74, 0x12, 0x40, 0x0a]), Buffer.from([0x0a, 0x01, 0x74, 0x12, 0x09, 0x0a, 0x03, 1, 2, 3, 0x12, 0x01, 0x00, 0x18])]) {
      const err = await rawPush(ingesterPort, body);
      expect(err?.code, err?.details).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err?.details).toMatch(/malformed protobuf/);
    }
    expect(ingester.alive()).toBe(true);

    // ... and the ingester keeps taking pushes through the distributor.
    const id2 = await exportOne(distributor, 'internal-grpc-after');
    expect((await fetchTraceProto(ingester.ports.http, id2)).status).toBe(200);
    // After /flush the ingester answers find-by-ID with the block it just wrote (meta.json over the wire).
    const flushed = await fetch(`http://127.0.0.1:${ingester.ports.http}/flush`, { method: 'POST' });
    expect(flushed.status).toBe(204);
    const after = new IngesterGrpcClient(`127.0.0.1:${ingesterPort}`, { remoteTimeoutMs: 10_000, maxSendMessageBytes: 16 << 20, maxRecvMessageBytes: 16 << 20 });
    try {
      const part = await after.findTraceById('single-tenant', hexToBytes(id2));
      expect(part.flushedBlocks?.length).toBeGreaterThanOrEqual(1);
      expect(part.flushedBlocks![0]).toMatchObject({ tenantID: 'single-tenant', blockID: expect.any(String) });
    } finally {
      after.close();
    }
    expect((await fetchTraceProto(ingester.ports.http, id2)).status).toBe(200);

    // Both pushes went over the wire: the ingester process timed them as gRPC calls.
    const metrics = await (await fetch(`http://127.0.0.1:${ingester.ports.http}/metrics`)).text();
    const count = (status: string): number =>
      Number(new RegExp(`tempo_request_duration_seconds_count\\{[^}]*route="/andante.Ingester/Push",status_code="${status}"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    expect(count('success')).toBeGreaterThanOrEqual(2);
    expect(count('error')).toBe(3);
    expect(await distributor.stop()).toBe(0);
    expect(await ingester.stop()).toBe(0);
  }, 120_000);
});
