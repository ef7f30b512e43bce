// A metrics-generator in another process, as the distributor's GeneratorPusher: one unary call of
// `/andante.MetricsGenerator/PushSpans` on the generator's internal gRPC port (its ring entry's
// address), with a deadline (Tempo's metrics_generator_client.remote_timeout). Failures come back
// as UnavailableError / InvalidArgumentError; the distributor's forwarder counts them and drops
// the push: an export never waits on this.

import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, PayloadTooLargeError, UnavailableError, type AndanteError, type GeneratorPushRequest, type GeneratorPusher } from '@andante/model';
import { PUSH_SPANS_METHOD, encodePushSpansRequest } from './push-codec.js';

export interface GeneratorClientConfig {
  /** Per-call deadline (Tempo's metrics_generator_client.remote_timeout, 5s). */
  remoteTimeoutMs: number;
  /** Largest message sent or received (server.grpc_server_max_{send,recv}_msg_size). */
  maxSendMessageBytes: number;
  maxRecvMessageBytes: number;
}

const identity = (b: Buffer): Buffer => b;

export class GeneratorGrpcClient implements GeneratorPusher {
  private readonly client: grpc.Client;

  constructor(
    readonly address: string,
    private readonly cfg: GeneratorClientConfig,
  ) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': cfg.maxSendMessageBytes,
      'grpc.max_receive_message_length': cfg.maxRecvMessageBytes,
      // A generator that died is retried within a second once it is back (grpc-js backs off up to 2 minutes by default).
      'grpc.max_reconnect_backoff_ms': 1000,
    });
  }

  pushSpans(req: GeneratorPushRequest): Promise<void> {
    const bytes = encodePushSpansRequest(req);
    const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new Promise<void>((resolve, reject) => {
      this.client.makeUnaryRequest<Buffer, Buffer>(
        PUSH_SPANS_METHOD,
        identity,
        identity,
        body,
        new grpc.Metadata(),
        { deadline: Date.now() + this.cfg.remoteTimeoutMs },
        (err) => (err ? reject(fromServiceError(err, this.address)) : resolve()),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

function fromServiceError(err: grpc.ServiceError, address: string): AndanteError {
  const details = err.details || err.message;
  if (err.code === grpc.status.INVALID_ARGUMENT) return new InvalidArgumentError(`metrics-generator ${address}: ${details}`);
  if (err.code === grpc.status.RESOURCE_EXHAUSTED) return new PayloadTooLargeError(`push to metrics-generator ${address}: ${details}`);
  return new UnavailableError(`push to metrics-generator ${address} failed: ${grpc.status[err.code] ?? err.code}: ${details}`);
}

/**
 * One client per generator address. `retain` closes the clients of addresses no longer on the
 * generator ring (a member that left or was forgotten), so a cluster that replaces generators
 * does not accumulate channels.
 */
export class GeneratorClientPool {
  private readonly clients = new Map<string, GeneratorGrpcClient>();

  constructor(private readonly cfg: GeneratorClientConfig) {}

  get(address: string): GeneratorGrpcClient {
    let c = this.clients.get(address);
    if (!c) this.clients.set(address, (c = new GeneratorGrpcClient(address, this.cfg)));
    return c;
  }

  /** Closes and forgets every client whose address is not in `live`. */
  retain(live: Iterable<string>): void {
    const keep = new Set(live);
    for (const [address, c] of this.clients) {
      if (keep.has(address)) continue;
      c.close();
      this.clients.delete(address);
    }
  }

  get size(): number {
    return this.clients.size;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
