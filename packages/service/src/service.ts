// The lifecycle every module implements (Tempo's dskit services, in our own way): the server's
// module table builds a target's modules with their factories, mounts what each registers, starts
// them in dependency order and stops them in reverse.

import type { FastifyInstance } from 'fastify';

/** One call of a server-streaming gRPC method: a single request message in, any number of messages out. */
export interface ServerStreamCall {
  /** The request message, decompressed. */
  request: Uint8Array;
  /** Request metadata: HTTP/2 headers, names in lower case. */
  metadata: Readonly<Record<string, string | string[] | undefined>>;
  /** Sends one response message; resolves when the transport can take more. */
  send(message: Uint8Array): Promise<void>;
  /** Aborted when the client goes away or the call's deadline passes. */
  signal: AbortSignal;
}

/** A method's handler: throws an AndanteError (mapped to its gRPC code) to fail the call. */
export type ServerStreamMethod = (call: ServerStreamCall) => Promise<void>;

/** One call of a unary gRPC method: one request message in, one response message out. */
export interface UnaryCall {
  request: Uint8Array;
  metadata: Readonly<Record<string, string | string[] | undefined>>;
  /** Aborted when the client goes away or the call's deadline passes. */
  signal: AbortSignal;
}

/** A unary method's handler: resolves with the response message, or throws an AndanteError. */
export type UnaryMethod = (call: UnaryCall) => Promise<Uint8Array>;

/**
 * One call of a bidirectional-streaming gRPC method (the frontend's job stream): messages in as the
 * client sends them, messages out at any time.
 */
export interface BidiStreamCall {
  /** The client's messages in order; ends when it half-closes, throws when the call fails. */
  messages: AsyncIterable<Uint8Array>;
  metadata: Readonly<Record<string, string | string[] | undefined>>;
  /** Sends one message; resolves when the transport can take more. */
  send(message: Uint8Array): Promise<void>;
  /** Aborted when the client goes away or the call's deadline passes. */
  signal: AbortSignal;
}

/** A bidirectional method's handler: resolves to end the call OK, throws an AndanteError to fail it. */
export type BidiStreamMethod = (call: BidiStreamCall) => Promise<void>;

/** Bidirectional-streaming gRPC methods by full path (`/andante.Frontend/Process`). */
export type GrpcBidiMethods = ReadonlyMap<string, BidiStreamMethod>;

/** Unary gRPC methods by full path (`/andante.Ingester/Push`). */
export type GrpcUnaryMethods = ReadonlyMap<string, UnaryMethod>;

/** gRPC methods by full path (`/tempopb.StreamingQuerier/Search`), mounted by the server. */
export type GrpcMethods = ReadonlyMap<string, ServerStreamMethod>;

/** Where a module's gRPC methods are served. */
export type GrpcListener =
  /** On the HTTP port as h2c (Grafana's streaming search, stream_over_http_enabled). */
  | 'http'
  /** The internal gRPC port (server.grpc_listen_port): module-to-module calls. */
  | 'internal';

/** gRPC methods a module serves on one listener. */
export interface GrpcServing {
  listener: GrpcListener;
  methods: GrpcMethods;
  unary?: GrpcUnaryMethods;
  bidi?: GrpcBidiMethods;
}

/** A module's gRPC slot as a list (a module may serve on both listeners: the query-frontend does). */
export function grpcServings(s: Pick<Service, 'grpc'>): readonly GrpcServing[] {
  return s.grpc === undefined ? [] : 'listener' in s.grpc ? [s.grpc as GrpcServing] : (s.grpc as readonly GrpcServing[]);
}

export interface Service {
  /** The module's name as `-target` spells it (`ingester`, `query-frontend`, ...). */
  readonly name: string;
  /** Called once, in dependency order; resolves when the module can serve. */
  start(): Promise<void>;
  /** Called once, in reverse dependency order; resolves when the module let go of everything. */
  stop(): Promise<void>;
  /** undefined when the module is ready to serve; otherwise why not (shown by /ready). */
  notReady(): string | undefined;
  /** Its HTTP routes, registered on the server's HTTP listener before it listens. */
  registerHttp?(http: FastifyInstance): void;
  /** Its gRPC methods and the listener they belong on. */
  readonly grpc?: GrpcServing | readonly GrpcServing[];
}

/** A Service with default lifecycle parts, for modules that are only an object with routes. */
export function service(name: string, parts: Partial<Omit<Service, 'name'>>): Service {
  return {
    name,
    start: parts.start ?? (async () => undefined),
    stop: parts.stop ?? (async () => undefined),
    notReady: parts.notReady ?? (() => undefined),
    ...(parts.registerHttp ? { registerHttp: parts.registerHttp } : {}),
    ...(parts.grpc ? { grpc: parts.grpc } : {}),
  };
}
