// A small gRPC server for server-streaming methods on node:http2, for the HTTP port
// (stream_over_http_enabled). grpc-js's Server owns its listening socket and cannot share a port
// with HTTP/1.1, so the framing is done here: 5-byte message prefix (compressed flag, u32 BE
// length), `content-type: application/grpc`, status in trailers (or a trailers-only answer for a
// call that fails before its first message). Requests may be gzip-compressed (grpc-encoding);
// responses are sent uncompressed.

import { setMaxListeners } from 'node:events';
import http2 from 'node:http2';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { AndanteError, GrpcCode, type Logger } from '@andante/model';
import type { ServerStreamMethod } from '@andante/service';

const gunzipAsync = promisify(gunzip);

export interface GrpcOverHttp2Options {
  /** Methods by path, `/package.Service/Method`. */
  methods: ReadonlyMap<string, ServerStreamMethod>;
  logger: Logger;
  /** Largest request message accepted, compressed or not (grpc-go's server default is 4 MiB). */
  maxRequestBytes?: number;
  /** Told once per call, when its status is sent (request metrics). */
  onFinished?: (path: string, code: number, seconds: number) => void;
}

interface GrpcStatus {
  code: number;
  message: string;
}

/** grpc-message is percent-encoded UTF-8: bytes outside printable ASCII, and '%' itself. */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000001 };

/** grpc-timeout (`100m`, `5S`, ...) in milliseconds; undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  const m = value ? /^(\d{1,8})([HMSmun])$/.exec(value) : null;
  return m ? Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]! : undefined;
}

/** Splits a request body into its gRPC messages (flag + payload); throws a status on bad framing. */
function splitFrames(body: Buffer): { compressed: boolean; payload: Buffer }[] {
  const frames: { compressed: boolean; payload: Buffer }[] = [];
  let pos = 0;
  while (pos < body.length) {
    if (pos + 5 > body.length) throw status(GrpcCode.INTERNAL, 'truncated gRPC message prefix');
    const flag = body[pos]!;
    const length = body.readUInt32BE(pos + 1);
    if (flag > 1) throw status(GrpcCode.INTERNAL, `invalid gRPC compressed flag ${flag}`);
    if (pos + 5 + length > body.length) throw status(GrpcCode.INTERNAL, `truncated gRPC message: ${length} bytes announced, ${body.length - pos - 5} sent`);
    frames.push({ compressed: flag === 1, payload: body.subarray(pos + 5, pos + 5 + length) });
    pos += 5 + length;
  }
  return frames;
}

class StatusError extends Error {
  constructor(readonly status: GrpcStatus) {
    super(status.message);
  }
}
const status = (code: number, message: string): StatusError => new StatusError({ code, message });

// Every answer names the request encodings understood, so a client can tell why one was refused.
const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity,gzip' } as const;

export class GrpcOverHttp2 {
  /** The HTTP/2 server; connections are handed to it (emit 'connection'), it never listens itself. */
  readonly server: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private closing = false;
  private readonly maxRequestBytes: number;

  constructor(private readonly opts: GrpcOverHttp2Options) {
    this.maxRequestBytes = opts.maxRequestBytes ?? 4 * 1024 * 1024;
    this.server = http2.createServer();
    this.server.on('session', (session: http2.ServerHttp2Session) => {
      if (this.closing) {
        session.destroy();
        return;
      }
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      session.on('error', (err) => opts.logger.debug('http2 session error', { err }));
    });
    this.server.on('stream', (stream, headers) => void this.handle(stream, headers));
  }

  /** Ends every session: GOAWAY, then destroyed after `graceMs` if calls are still running. */
  async close(graceMs = 2_000): Promise<void> {
    this.closing = true;
    const open = [...this.sessions];
    await Promise.all(
      open.map(
        (session) =>
          new Promise<void>((resolveClosed) => {
            const timer = setTimeout(() => session.destroy(), graceMs);
            session.close(() => {
              clearTimeout(timer);
              resolveClosed();
            });
            session.once('close', () => {
              clearTimeout(timer);
              resolveClosed();
            });
          }),
      ),
    );
  }

  private async handle(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): Promise<void> {
    stream.on('error', (err) => this.opts.logger.debug('http2 stream error', { err }));
    const contentType = headers['content-type'] ?? '';
    if (headers[':method'] !== 'POST' || !/^application\/grpc(\+proto)?(;|$)/.test(contentType)) {
      // Not gRPC: HTTP/2 clients of the JSON API are not served on this port (it speaks HTTP/1.1).
      stream.respond({ ':status': 415, 'content-type': 'text/plain' });
      stream.end('this port serves gRPC (application/grpc) over HTTP/2 and the HTTP API over HTTP/1.1\n');
      return;
    }

    const controller = new AbortController();
    // The call's jobs all listen on it (see the query-frontend's requestSignal).
    setMaxListeners(0, controller.signal);
    const started = process.hrtime.bigint();
    let finished = false;
    let headersSent = false;
    const finish = (s: GrpcStatus): void => {
      if (finished) return;
      finished = true;
      this.opts.onFinished?.(headers[':path'] ?? '', s.code, Number(process.hrtime.bigint() - started) / 1e9);
      if (stream.closed || stream.destroyed) return;
      const trailers = { 'grpc-status': String(s.code), ...(s.message ? { 'grpc-message': encodeGrpcMessage(s.message) } : {}) };
      if (!headersSent) {
        // Trailers-only: the status travels in the only HEADERS frame.
        stream.respond({ ...RESPONSE_HEADERS, ...trailers }, { endStream: true });
        return;
      }
      stream.once('wantTrailers', () => stream.sendTrailers(trailers));
      stream.end();
    };
    stream.once('close', () => {
      if (!finished) controller.abort(status(GrpcCode.CANCELLED, 'the client cancelled the call'));
    });

    const timeoutMs = parseGrpcTimeout(headers['grpc-timeout'] as string | undefined);
    const deadline =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            // The method's own work is not interrupted; its later output is dropped.
            controller.abort(status(GrpcCode.DEADLINE_EXCEEDED, `deadline of ${headers['grpc-timeout']} exceeded`));
            finish({ code: GrpcCode.DEADLINE_EXCEEDED, message: 'deadline exceeded' });
          }, timeoutMs);

    try {
      const path = headers[':path'] ?? '';
      const method = this.opts.methods.get(path);
      if (!method) throw status(GrpcCode.UNIMPLEMENTED, `unknown method ${path}`);
      const encoding = (headers['grpc-encoding'] as string | undefined) ?? 'identity';
      if (encoding !== 'identity' && encoding !== 'gzip') throw status(GrpcCode.UNIMPLEMENTED, `grpc-encoding ${encoding} is not supported; use gzip or identity`);
      const request = await this.readRequest(stream, encoding);
      const send = async (message: Uint8Array): Promise<void> => {
        if (finished || controller.signal.aborted || stream.closed) return;
        if (!headersSent) {
          stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
          headersSent = true;
        }
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(message.length, 1);
        stream.write(prefix);
        if (!stream.write(message)) await new Promise<void>((drained) => {
          const done = (): void => {
            stream.off('drain', done);
            stream.off('close', done);
            drained();
          };
          stream.on('drain', done);
          stream.on('close', done);
        });
      };
      await method({ request, metadata: headers, send, signal: controller.signal });
      finish({ code: GrpcCode.OK, message: '' });
    } catch (err) {
      finish(this.statusOf(err, headers[':path']));
    } finally {
      if (deadline) clearTimeout(deadline);
    }
  }

  /** The single request message, decompressed; refuses more than maxRequestBytes. */
  private async readRequest(stream: http2.ServerHttp2Stream, encoding: string): Promise<Buffer> {
    // Events, not for-await: leaving an async iterator early destroys the stream (RST_STREAM),
    // and the client would see CANCELLED instead of the status sent.
    const body = await new Promise<Buffer>((done, fail) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= this.maxRequestBytes + 5) chunks.push(chunk);
        else {
          chunks.length = 0; // the rest is read and dropped
          fail(status(GrpcCode.RESOURCE_EXHAUSTED, `request larger than the ${this.maxRequestBytes} bytes allowed`));
        }
      });
      stream.once('end', () => done(Buffer.concat(chunks)));
      stream.once('close', () => done(Buffer.concat(chunks)));
    });
    const frames = splitFrames(body);
    if (frames.length !== 1) throw status(GrpcCode.INVALID_ARGUMENT, `expected one request message, got ${frames.length}`);
    const { compressed, payload } = frames[0]!;
    if (!compressed) return payload;
    if (encoding !== 'gzip') throw status(GrpcCode.INTERNAL, 'compressed request message without a grpc-encoding');
    try {
      return await gunzipAsync(payload, { maxOutputLength: this.maxRequestBytes });
    } catch (err) {
      const tooBig = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      throw status(tooBig ? GrpcCode.RESOURCE_EXHAUSTED : GrpcCode.INTERNAL, tooBig ? `request larger than the ${this.maxRequestBytes} bytes allowed once decompressed` : `invalid gzip request message: ${(err as Error).message}`);
    }
  }

  private statusOf(err: unknown, path: string | undefined): GrpcStatus {
    if (err instanceof StatusError) return err.status;
    if (err instanceof AndanteError && err.httpStatus < 500) return { code: err.grpcCode, message: err.message };
    if (err instanceof AndanteError && err.grpcCode === GrpcCode.UNAVAILABLE) return { code: err.grpcCode, message: err.message };
    // TraceQL's errors do not know @andante/model: they carry only an HTTP 400 (a bad query).
    const httpStatus = (err as { httpStatus?: unknown } | null)?.httpStatus;
    if (typeof httpStatus === 'number' && httpStatus >= 400 && httpStatus < 500) return { code: GrpcCode.INVALID_ARGUMENT, message: (err as Error).message };
    this.opts.logger.error('gRPC call failed', { method: path, err });
    return { code: GrpcCode.INTERNAL, message: 'internal error' };
  }
}
