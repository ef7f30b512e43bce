// OTLP/gRPC receiver: opentelemetry.proto.collector.trace.v1.TraceService/Export. Messages stay
// raw bytes through grpc-js (identity (de)serializers) so the hot-path decoder reads them
// directly; grpc-js itself handles gzip message compression.

import type { Http2Server } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import {
  AndanteError,
  InvalidArgumentError,
  resolveTenant,
  type Logger,
} from '@andante/model';
import { encodeExportTraceServiceResponse } from '../export-response.js';
import type { Distributor } from '../distributor.js';
import type { ReceiverTls } from './tls.js';

export interface OtlpGrpcReceiverConfig {
  /** host:port, e.g. 0.0.0.0:4317. */
  endpoint: string;
  /** max_recv_msg_size_mib (OpenTelemetry Collector's name). */
  maxRecvMsgSizeMiB: number;
  multitenancyEnabled: boolean;
  /** null or absent: plaintext. With a client CA, clients must present a certificate it signed. */
  tls?: ReceiverTls | null;
}

const identity = (b: Buffer): Buffer => b;

/**
 * HTTP/2 receive windows. With the RFC default (64 KiB per connection, which grpc-js's server
 * keeps) an exporter sends 64 KiB, then waits for the event loop to read it and send a
 * WINDOW_UPDATE: a batch of 512 spans (~250 KiB) took four round trips. With exports decoded on
 * workers, the ingest bench measured ~86 MB/s and an event loop 30 % idle with the default windows,
 * 125-143 MB/s with these. grpc-go, which Tempo's receiver runs on, grows its windows to 16 MiB by
 * measuring bandwidth-delay.
 * A client can hold up to the connection window of unread data in the server's memory.
 */
export const CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;
export const STREAM_WINDOW_BYTES = 1024 * 1024;

export const traceServiceDefinition: grpc.ServiceDefinition = {
  Export: {
    path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export class OtlpGrpcReceiver {
  private readonly server: grpc.Server;
  private boundPort = 0;

  constructor(
    private readonly distributor: Distributor,
    private readonly cfg: OtlpGrpcReceiverConfig,
    private readonly logger: Logger,
  ) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': cfg.maxRecvMsgSizeMiB * 1024 * 1024,
      // Read by grpc-js clients only so far (grpc-node PR #3058 adds it to the server); see widenReceiveWindows.
      'grpc-node.flow_control_window': CONNECTION_WINDOW_BYTES,
    });
    this.server.addService(traceServiceDefinition, { Export: this.handleExport });
  }

  get port(): number {
    return this.boundPort;
  }

  private readonly handleExport: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
    void (async () => {
      try {
        const orgId = call.metadata.get('x-scope-orgid').map(String);
        const tenantId = resolveTenant(orgId[0], this.cfg.multitenancyEnabled);
        if (call.request.length === 0) throw new InvalidArgumentError('empty export request: no resource spans');
        const result = await this.distributor.pushOtlp(tenantId, call.request);
        this.distributor.metrics.receiverAccepted.inc({ receiver: 'otlp', transport: 'grpc' }, result.acceptedSpans);
        this.distributor.metrics.receiverRefused.inc({ receiver: 'otlp', transport: 'grpc' }, result.rejectedSpans);
        callback(null, Buffer.from(encodeExportTraceServiceResponse(result.rejectedSpans, result.errorMessage)));
      } catch (err) {
        callback(toServiceError(err, this.logger));
      }
    })();
  };

  async start(): Promise<void> {
    this.boundPort = await new Promise<number>((resolve, reject) => {
      const tls = this.cfg.tls;
      const credentials = tls
        ? grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.ca !== undefined)
        : grpc.ServerCredentials.createInsecure();
      this.server.bindAsync(this.cfg.endpoint, credentials, (err, port) =>
        err ? reject(err) : resolve(port),
      );
    });
    this.widenReceiveWindows();
  }

  /**
   * grpc-js's server has no option for its HTTP/2 windows, so they are set on the http2 servers it
   * created, through a private field. A grpc-js upgrade that renames the field leaves the default
   * windows (slower, still correct); a test checks the windows a client is given.
   */
  private widenReceiveWindows(): void {
    const servers = (this.server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
    if (!(servers instanceof Map)) {
      this.logger.warn('cannot set the OTLP/gRPC receiver\'s HTTP/2 windows: grpc-js internals changed');
      return;
    }
    for (const http2Server of servers.keys()) {
      http2Server.updateSettings({ initialWindowSize: STREAM_WINDOW_BYTES });
      http2Server.on('session', (session) => {
        try {
          session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
        } catch (err) {
          this.logger.warn('cannot set the HTTP/2 connection window', { err });
        }
      });
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 5_000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}

function toServiceError(err: unknown, logger: Logger): Partial<grpc.ServiceError> {
  if (err instanceof AndanteError) {
    const metadata = new grpc.Metadata();
    if (err.retryAfterSeconds !== undefined) metadata.set('retry-after', String(err.retryAfterSeconds));
    return { code: err.grpcCode as number, details: err.message, metadata };
  }
  logger.error('OTLP/gRPC export failed', { err });
  return { code: grpc.status.INTERNAL, details: 'internal error' };
}
