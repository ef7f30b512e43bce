// The internal gRPC server (server.grpc_listen_address:grpc_listen_port, Tempo's 9095): the
// unary methods modules declare for module-to-module calls (`grpc.listener: 'internal'`), with
// bounded message sizes. Messages stay raw bytes through grpc-js (identity (de)serializers): each
// module owns its codec. Started only when a module of the target serves a caller elsewhere.

import * as grpc from '@grpc/grpc-js';
import { AndanteError, type Logger } from '@andante/model';
import type { BidiStreamMethod, GrpcBidiMethods, GrpcMethods, GrpcUnaryMethods, UnaryMethod } from '@andante/service';

export interface InternalGrpcConfig {
  /** server.grpc_listen_address ('' or 0.0.0.0: every interface). */
  address: string;
  /** server.grpc_server_max_recv_msg_size / grpc_server_max_send_msg_size (Tempo: 16 MiB each). */
  maxRecvMessageBytes: number;
  maxSendMessageBytes: number;
}

const identity = (b: Buffer): Buffer => b;

/** Metadata keys a refusal carries so a client can rebuild the typed error (see @andante/ingester-client). */
const ERROR_CODE_KEY = 'andante-error-code';
const ERROR_REASON_KEY = 'andante-error-reason';

export class GrpcInternalServer {
  private readonly server: grpc.Server;
  private readonly paths = new Set<string>();
  private boundPort = 0;
  private started = false;

  constructor(
    private readonly cfg: InternalGrpcConfig,
    private readonly logger: Logger,
    private readonly onFinished?: (path: string, code: number, seconds: number) => void,
  ) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': cfg.maxRecvMessageBytes,
      'grpc.max_send_message_length': cfg.maxSendMessageBytes,
    });
  }

  get port(): number {
    return this.boundPort;
  }

  get methodCount(): number {
    return this.paths.size;
  }

  mount(methods: GrpcMethods, unary: GrpcUnaryMethods = new Map(), bidi: GrpcBidiMethods = new Map()): void {
    if (methods.size > 0) throw new Error(`the internal gRPC server serves unary and bidirectional methods only (got ${[...methods.keys()].join(', ')})`);
    for (const [path, handler] of unary) this.add(path, false, this.unary(path, handler));
    for (const [path, handler] of bidi) this.add(path, true, this.bidi(path, handler));
  }

  private add(path: string, streams: boolean, handler: grpc.UntypedHandleCall): void {
    if (this.paths.has(path)) throw new Error(`internal gRPC method ${path} mounted twice`);
    this.paths.add(path);
    const [, service = '', method = ''] = /^\/([^/]+)\/([^/]+)$/.exec(path) ?? [];
    if (!service || !method) throw new Error(`bad gRPC method path ${path}`);
    const definition: grpc.ServiceDefinition = {
      [method]: { path, requestStream: streams, responseStream: streams, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
    };
    this.server.addService(definition, { [method]: handler });
  }

  /** A bidirectional stream: the handler reads the client's messages and sends its own; its result ends the call. */
  private bidi(path: string, handler: BidiStreamMethod): grpc.handleBidiStreamingCall<Buffer, Buffer> {
    return (call) => {
      const t0 = performance.now();
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort(new Error('cancelled by the client or its deadline')));
      call.on('error', () => abort.abort(new Error('stream failed')));
      const metadata: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = String(v);
      const done = (code: number): void => this.onFinished?.(path, code, (performance.now() - t0) / 1000);
      const send = (m: Uint8Array): Promise<void> => {
        if (abort.signal.aborted) return Promise.reject(abort.signal.reason);
        const ok = call.write(Buffer.from(m.buffer, m.byteOffset, m.byteLength));
        if (ok) return Promise.resolve();
        // A peer that stopped reading (frozen, or gone without a FIN) must not hold the sender forever.
        return new Promise<void>((resolve) => {
          const done = (): void => {
            call.off('drain', done);
            abort.signal.removeEventListener('abort', done);
            resolve();
          };
          call.once('drain', done);
          abort.signal.addEventListener('abort', done, { once: true });
        });
      };
      // Reading to the end must not destroy the call (Node's stream iterator does by default): the
      // handler may still send, and the status goes out when it returns.
      const messages: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => call.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer> };
      handler({ messages, metadata, send, signal: abort.signal }).then(
        () => {
          done(grpc.status.OK);
          call.end();
        },
        (err: unknown) => {
          if (abort.signal.aborted) {
            // The client is gone: nothing to answer.
            done(grpc.status.CANCELLED);
            return;
          }
          const e = toServiceError(err, path, this.logger);
          done(e.code);
          call.emit('error', e);
        },
      );
    };
  }

  private unary(path: string, handler: UnaryMethod): grpc.handleUnaryCall<Buffer, Buffer> {
    return (call, callback) => {
      const t0 = performance.now();
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort(new Error('cancelled by the client or its deadline')));
      const metadata: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = String(v);
      const done = (code: number): void => this.onFinished?.(path, code, (performance.now() - t0) / 1000);
      handler({ request: call.request, metadata, signal: abort.signal }).then(
        (res) => {
          done(grpc.status.OK);
          callback(null, Buffer.from(res.buffer, res.byteOffset, res.byteLength));
        },
        (err: unknown) => {
          const e = toServiceError(err, path, this.logger);
          done(e.code);
          callback(e);
        },
      );
    };
  }

  async listen(port: number): Promise<number> {
    const host = this.cfg.address === '' ? '0.0.0.0' : this.cfg.address;
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    this.started = true;
    return this.boundPort;
  }

  async close(): Promise<void> {
    if (!this.started) return;
    this.started = false;
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

function toServiceError(err: unknown, path: string, logger: Logger): Partial<grpc.ServiceError> & { code: number } {
  if (err instanceof AndanteError) {
    const metadata = new grpc.Metadata();
    metadata.set(ERROR_CODE_KEY, err.code);
    const reason = (err as { reason?: unknown }).reason;
    if (typeof reason === 'string') metadata.set(ERROR_REASON_KEY, reason);
    if (err.retryAfterSeconds !== undefined) metadata.set('retry-after', String(err.retryAfterSeconds));
    return { code: err.grpcCode as number, details: err.message, metadata };
  }
  logger.error('internal gRPC call failed', { method: path, err });
  return { code: grpc.status.INTERNAL, details: 'internal error' };
}
