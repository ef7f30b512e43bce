// An ingester in another process: the distributor's IngesterPusher (one unary call of
// `/andante.Ingester/Push`) and the querier's find-by-ID (`/andante.Ingester/FindTraceByID`) on the ingester's internal gRPC port (its ring entry's address), with
// a deadline (ingester_client.remote_timeout) and the ingester's refusals mapped back to the
// errors the distributor already handles in-process.

import * as grpc from '@grpc/grpc-js';
import {
  AndanteError,
  InvalidArgumentError,
  LimitExceededError,
  PayloadTooLargeError,
  UnavailableError,
  type IngesterPusher,
  type IngesterTrace,
  type PushRequest,
  type PushResult,
} from '@andante/model';
import { PUSH_METHOD, decodePushResponse, encodePushRequest } from './push-codec.js';
import { FIND_TRACE_BY_ID_METHOD, decodeFindTraceByIdResponse, encodeFindTraceByIdRequest } from './query-codec.js';

export interface IngesterClientConfig {
  /** Per-call deadline (Tempo's ingester_client.remote_timeout, 5s). */
  remoteTimeoutMs: number;
  /** Largest message sent or received (server.grpc_server_max_{send,recv}_msg_size). */
  maxSendMessageBytes: number;
  maxRecvMessageBytes: number;
}

/** Metadata keys the internal server sets on a refusal so the caller can rebuild the error. */
export const ERROR_CODE_KEY = 'andante-error-code';
export const ERROR_REASON_KEY = 'andante-error-reason';

const identity = (b: Buffer): Buffer => b;

export class IngesterGrpcClient implements IngesterPusher {
  private readonly client: grpc.Client;

  constructor(
    readonly address: string,
    private readonly cfg: IngesterClientConfig,
  ) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': cfg.maxSendMessageBytes,
      'grpc.max_receive_message_length': cfg.maxRecvMessageBytes,
    });
  }

  push(req: PushRequest): Promise<PushResult> {
    return this.call(PUSH_METHOD, encodePushRequest(req), decodePushResponse);
  }

  /** The ingester's part of a trace (the querier's IngesterQuerier.findTraceById over the wire). */
  findTraceById(tenantId: string, traceId: Uint8Array): Promise<IngesterTrace> {
    return this.call(FIND_TRACE_BY_ID_METHOD, encodeFindTraceByIdRequest({ tenantId, traceId }), decodeFindTraceByIdResponse);
  }

  private call<T>(path: string, request: Uint8Array, decode: (b: Uint8Array) => T): Promise<T> {
    const body = Buffer.from(request.buffer, request.byteOffset, request.byteLength);
    return new Promise<T>((resolve, reject) => {
      this.client.makeUnaryRequest<Buffer, Buffer>(
        path,
        identity,
        identity,
        body,
        new grpc.Metadata(),
        { deadline: Date.now() + this.cfg.remoteTimeoutMs },
        (err, res) => {
          if (err) return reject(fromServiceError(err, this.address));
          try {
            resolve(decode(res ?? Buffer.alloc(0)));
          } catch (e) {
            reject(new UnavailableError(`ingester ${this.address} sent a malformed ${path} response: ${(e as Error).message}`));
          }
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** The ingester's refusal as the error an in-process push would have thrown. */
export function fromServiceError(err: grpc.ServiceError, address: string): AndanteError {
  const details = err.details || err.message;
  const first = (key: string): string | undefined => {
    const v = err.metadata?.get(key)[0];
    return v === undefined ? undefined : String(v);
  };
  if (err.code === grpc.status.RESOURCE_EXHAUSTED) {
    const code = first(ERROR_CODE_KEY);
    const reason = first(ERROR_REASON_KEY);
    const retry = Number(first('retry-after'));
    if (code && reason) {
      // The message carries the code already ("CODE: message"); the constructor adds it again.
      const message = details.startsWith(`${code}: `) ? details.slice(code.length + 2) : details;
      return new LimitExceededError(code as ConstructorParameters<typeof LimitExceededError>[0], reason as ConstructorParameters<typeof LimitExceededError>[1], message, Number.isFinite(retry) && retry > 0 ? retry : undefined);
    }
    // No typed refusal: grpc-js itself refused the message (over a max message size).
    return new PayloadTooLargeError(`push to ingester ${address}: ${details}`);
  }
  if (err.code === grpc.status.INVALID_ARGUMENT) return new InvalidArgumentError(details);
  return new UnavailableError(`push to ingester ${address} failed: ${grpc.status[err.code] ?? err.code}: ${details}`);
}

/**
 * One client per ingester address, kept while the address is in use (the distributor asks for a
 * client per push and target). Closes them all on close().
 */
export class IngesterClientPool {
  private readonly clients = new Map<string, IngesterGrpcClient>();

  constructor(private readonly cfg: IngesterClientConfig) {}

  get(address: string): IngesterGrpcClient {
    let c = this.clients.get(address);
    if (!c) this.clients.set(address, (c = new IngesterGrpcClient(address, this.cfg)));
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
