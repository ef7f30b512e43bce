// OTLP receivers over TLS and mTLS (`distributor.receivers.otlp.protocols.{grpc,http}.tls` as the
// Collector spells it), driven by the OpenTelemetry JS SDK's own exporters with certificates made
// here by openssl: a client with a certificate the client CA signed gets its trace stored; one
// without, or one speaking plaintext, is refused.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { makeTempDir, removeTempDirs, startInProcess, stopAllInProcess, waitFor, type InProcessAndante } from './harness.js';

let dir: string;
let app: InProcessAndante;
const f = (n: string): string => join(dir, n);
const pem = (n: string): Buffer => readFileSync(f(n));

function makeCerts(): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=andante-test-ca', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['server', '127.0.0.1'], ['client', 'otel-sdk']] as const) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`));
  }
}

/** One span made by the SDK, exported by `exporter`; the export's result and the trace ID. */
async function exportOne(exporter: SpanExporter, name: string): Promise<{ result: ExportResult; traceId: string }> {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  provider.getTracer('tls-test').startSpan(name).end();
  await provider.forceFlush();
  const spans: ReadableSpan[] = memory.getFinishedSpans();
  expect(spans).toHaveLength(1);
  const result = await new Promise<ExportResult>((resolve) => exporter.export(spans, resolve));
  await exporter.shutdown();
  await provider.shutdown();
  return { result, traceId: spans[0]!.spanContext().traceId };
}

async function expectStored(traceId: string, name: string): Promise<void> {
  const body = await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${app.ports.http}/api/traces/${traceId}`, { headers: { accept: 'application/json' } });
    return res.status === 200 ? res.text() : undefined;
  }, 30_000, `trace ${traceId} readable`);
  expect(body).toContain(name);
}

beforeAll(async () => {
  dir = makeTempDir('receiver-tls-');
  makeCerts();
  const tls = { cert_file: f('server.pem'), key_file: f('server.key'), client_ca_file: f('ca.pem') };
  app = await startInProcess(join(dir, 'andante'), {
    distributor: { receivers: { otlp: { protocols: { grpc: { endpoint: '127.0.0.1:0', tls }, http: { endpoint: '127.0.0.1:0', tls } } } } },
  });
}, 120_000);

afterAll(async () => {
  await stopAllInProcess();
  removeTempDirs();
});

describe('OTLP receivers with mTLS (client_ca_file)', () => {
  it('gRPC: the SDK exporter with a client certificate is served and its trace stored; without one, or in plaintext, it is refused', async () => {
    const url = `https://127.0.0.1:${app.ports.otlpGrpc}`;
    const withCert = grpc.credentials.createSsl(pem('ca.pem'), pem('client.key'), pem('client.pem'));
    const ok = await exportOne(new GrpcExporter({ url, credentials: withCert }), 'grpc-mtls-span');
    expect(ok.result.error?.message).toBeUndefined();
    expect(ok.result.code).toBe(ExportResultCode.SUCCESS);
    await expectStored(ok.traceId, 'grpc-mtls-span');

    const noCert = await exportOne(new GrpcExporter({ url, credentials: grpc.credentials.createSsl(pem('ca.pem')), timeoutMillis: 10_000 }), 'grpc-no-cert');
    expect(noCert.result.code).toBe(ExportResultCode.FAILED);
    const plain = await exportOne(new GrpcExporter({ url: `http://127.0.0.1:${app.ports.otlpGrpc}`, credentials: grpc.credentials.createInsecure(), timeoutMillis: 10_000 }), 'grpc-plain');
    expect(plain.result.code).toBe(ExportResultCode.FAILED);
  }, 120_000);

  it('HTTP: the SDK exporter through an https agent with a client certificate is served and its trace stored; without one, or in plaintext, it is refused', async () => {
    const url = `https://127.0.0.1:${app.ports.otlpHttp}/v1/traces`;
    const ok = await exportOne(new ProtoExporter({ url, httpAgentOptions: { ca: pem('ca.pem'), cert: pem('client.pem'), key: pem('client.key') } }), 'http-mtls-span');
    expect(ok.result.error?.message).toBeUndefined();
    expect(ok.result.code).toBe(ExportResultCode.SUCCESS);
    await expectStored(ok.traceId, 'http-mtls-span');

    const noCert = await exportOne(new ProtoExporter({ url, httpAgentOptions: { ca: pem('ca.pem') }, timeoutMillis: 10_000 }), 'http-no-cert');
    expect(noCert.result.code).toBe(ExportResultCode.FAILED);
    const plain = await exportOne(new ProtoExporter({ url: `http://127.0.0.1:${app.ports.otlpHttp}/v1/traces`, timeoutMillis: 10_000 }), 'http-plain');
    expect(plain.result.code).toBe(ExportResultCode.FAILED);
  }, 120_000);
});
