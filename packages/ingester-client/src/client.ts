// An ingester in another process, on its internal gRPC port (its ring entry's address): the
// distributor's IngesterPusher (`/andante.Ingester/Push`, deadline ingester_client.remote_timeout)
// and the querier's IngesterQuerier (find-by-ID, search, tags, tag values, metrics; deadlines
// querier.trace_by_id.query_timeout and querier.search.query_timeout), with the ingester's
// refusals mapped back to the errors callers already handle in-process. An aborted signal
// cancels the call (the ingester's handler sees its own signal abort and stops scanning).

import * as grpc from '@grpc/grpc-js';
import {
  AndanteError,
  InvalidArgumentError,
  LimitExceededError,
  PayloadTooLargeError,
  UnavailableError,
  type IngesterClient,
  type IngesterTrace,
  type MetricsPartial,
  type MetricsRequest,
  type PushRequest,
  type PushResult,
  type SearchPartial,
  type SearchRequest,
  type TagsPartial,
  type TagsRequest,
  type TagValuesPartial,
  type TagValuesRequest,
} from '@andante/model';
import { PUSH_METHOD, decodePushResponse, encodePushRequest } from './push-codec.js';
import { FIND_TRACE_BY_ID_METHOD, decodeFindTraceByIdResponse, encodeFindTraceByIdRequest } from './query-codec.js';
import {
  SEARCH_RECENT_METHOD,
  SEARCH_TAGS_METHOD,
  SEARCH_TAG_VALUES_METHOD,
  decodeSearchRecentResponse,
  decodeSearchTagValuesRecentResponse,
  decodeSearchTagsRecentResponse,
  encodeSearchRecentRequest,
  encodeSearchTagValuesRecentRequest,
  encodeSearchTagsRecentRequest,
} from './recent-codec.js';
import { METRICS_QUERY_RANGE_METHOD, decodeMetricsPartial, encodeMetricsRequest } from './metrics-codec.js';

export interface IngesterClientConfig {
  /** Per-call deadline (Tempo's ingester_client.remote_timeout, 5s). */
  remoteTimeoutMs: number;
  /** Deadline of find-by-ID (Tempo's querier.trace_by_id.query_timeout); default remoteTimeoutMs. */
  traceByIdTimeoutMs?: number;
  /** Deadline of search, tags and metrics over recent data (querier.search.query_timeout); default remoteTimeoutMs. */
  queryTimeoutMs?: number;
  /** Largest message sent or received (server.grpc_server_max_{send,recv}_msg_size). */
  maxSendMessageBytes: number;
  maxRecvMessageBytes: number;
}

/** Metadata keys the internal server sets on a refusal so the caller can rebuild the error. */
export const ERROR_CODE_KEY = 'andante-error-code';
export const ERROR_REASON_KEY = 'andante-error-reason';

const identity = (b: Buffer): Buffer => b;

export class IngesterGrpcClient implements IngesterClient {
  private readonly client: grpc.Client;

  constructor(
    readonly address: string,
    private readonly cfg: IngesterClientConfig,
  ) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': cfg.maxSendMessageBytes,
      'grpc.max_receive_message_length': cfg.maxRecvMessageBytes,
      // grpc-js backs off up to 2 minutes between reconnects and fails calls at once meanwhile: an
      // ingester restarted on its address would take no writes (and count as a failed replica,
      // so one more failure costs the quorum) long after the ring shows it ACTIVE again.
      'grpc.max_reconnect_backoff_ms': 1000,
    });
  }

  push(req: PushRequest): Promise<PushResult> {
    return this.call(PUSH_METHOD, encodePushRequest(req), decodePushResponse, this.cfg.remoteTimeoutMs);
  }

  /** The ingester's part of a trace (the querier's IngesterQuerier.findTraceById over the wire). */
  findTraceById(tenantId: string, traceId: Uint8Array, signal?: AbortSignal): Promise<IngesterTrace> {
    return this.call(FIND_TRACE_BY_ID_METHOD, encodeFindTraceByIdRequest({ tenantId, traceId }), decodeFindTraceByIdResponse, this.cfg.traceByIdTimeoutMs, signal);
  }

  search(tenantId: string, req: SearchRequest, signal?: AbortSignal): Promise<SearchPartial> {
    return this.call(SEARCH_RECENT_METHOD, encodeSearchRecentRequest({ tenantId, req }), decodeSearchRecentResponse, this.cfg.queryTimeoutMs, signal);
  }

  searchTags(tenantId: string, req: TagsRequest, signal?: AbortSignal): Promise<TagsPartial> {
    return this.call(SEARCH_TAGS_METHOD, encodeSearchTagsRecentRequest({ tenantId, req }), decodeSearchTagsRecentResponse, this.cfg.queryTimeoutMs, signal);
  }

  searchTagValues(tenantId: string, req: TagValuesRequest, signal?: AbortSignal): Promise<TagValuesPartial> {
    return this.call(SEARCH_TAG_VALUES_METHOD, encodeSearchTagValuesRecentRequest({ tenantId, req }), decodeSearchTagValuesRecentResponse, this.cfg.queryTimeoutMs, signal);
  }

  metricsQueryRange(tenantId: string, req: MetricsRequest, signal?: AbortSignal): Promise<MetricsPartial> {
    return this.call(METRICS_QUERY_RANGE_METHOD, encodeMetricsRequest({ tenantId, req }), decodeMetricsPartial, this.cfg.queryTimeoutMs, signal);
  }

  private call<T>(path: string, request: Uint8Array, decode: (b: Uint8Array) => T, timeoutMs = this.cfg.remoteTimeoutMs, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const body = Buffer.from(request.buffer, request.byteOffset, request.byteLength);
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => call.cancel();
      const call = this.client.makeUnaryRequest<Buffer, Buffer>(
        path,
        identity,
        identity,
        body,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          signal?.removeEventListener('abort', onAbort);
          if (err) return reject(signal?.aborted ? signal.reason : fromServiceError(err, this.address, path));
          try {
            resolve(decode(res ?? Buffer.alloc(0)));
          } catch (e) {
            reject(new UnavailableError(`ingester ${this.address} sent a malformed ${path} response: ${(e as Error).message}`));
          }
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): void {
    this.client.close();
  }
}

/** The ingester's refusal as the error an in-process push would have thrown. */
export function fromServiceError(err: grpc.ServiceError, address: string, path = PUSH_METHOD): AndanteError {
  const what = path === PUSH_METHOD ? 'push to' : `${path.slice(path.lastIndexOf('/') + 1)} on`;
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
    // No typed refusal: grpc-js itself refused the message (over a max message size). For a push
    // that is the request; for a query, the ingester's answer, which a narrower query makes smaller.
    if (path === PUSH_METHOD) return new PayloadTooLargeError(`${what} ingester ${address}: ${details}`);
    return new InvalidArgumentError(
      `${what} ingester ${address}: the answer exceeds the internal gRPC message size limit (${details}); narrow the query (a shorter window, a filter, a lower limit) or raise server.grpc_server_max_send_msg_size and grpc_server_max_recv_msg_size`,
    );
  }
  if (err.code === grpc.status.INVALID_ARGUMENT) return new InvalidArgumentError(details);
  return new UnavailableError(`${what} ingester ${address} failed: ${grpc.status[err.code] ?? err.code}: ${details}`);
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

  /** Closes and forgets the clients of addresses no longer in `live` (members that left the ring). */
  retain(live: ReadonlySet<string>): void {
    for (const [address, c] of this.clients) {
      if (live.has(address)) continue;
      c.close();
      this.clients.delete(address);
    }
  }

  get addresses(): string[] {
    return [...this.clients.keys()];
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
