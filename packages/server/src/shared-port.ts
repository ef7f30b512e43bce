// One listening port for HTTP/1.1 and cleartext HTTP/2 (h2c): Grafana dials the data source's
// host:port for gRPC. Node's h2c server cannot fall back to HTTP/1.1, so each new connection's
// first bytes are read: the HTTP/2 client preface sends it to the HTTP/2 server, anything else to
// the HTTP/1 server's own connection handling (fastify's server keeps listening, closing and
// reporting its address as before). The bytes read are put back (unshift) before the hand-over.

import type { Server as HttpServer } from 'node:http';
import type { Http2Server } from 'node:http2';
import type { Socket } from 'node:net';

/** What every HTTP/2 connection starts with (RFC 9113 section 3.4). */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface SharedPortOptions {
  /** A connection that sends nothing for this long is closed (as the HTTP/1 server's headersTimeout would). */
  firstBytesTimeoutMs?: number;
}

/**
 * Makes `httpServer` (HTTP/1.1, already constructed, listening or not) hand connections that open
 * with the HTTP/2 preface to `h2Server` instead.
 */
export function shareHttpPortWithH2c(httpServer: HttpServer, h2Server: Http2Server, opts: SharedPortOptions = {}): void {
  const http1Listeners = httpServer.listeners('connection') as ((socket: Socket) => void)[];
  httpServer.removeAllListeners('connection');
  const timeoutMs = opts.firstBytesTimeoutMs ?? 60_000;

  httpServer.on('connection', (socket: Socket) => {
    let seen: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => void socket.destroy(), timeoutMs);
    const onError = (): void => void socket.destroy(); // before the hand-over nobody else listens for errors
    const cleanUp = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', cleanUp);
    };
    const onData = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const compared = Math.min(seen.length, HTTP2_PREFACE.length);
      const isHttp2 = seen.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
      if (isHttp2 && seen.length < HTTP2_PREFACE.length) return; // could still be either: wait
      cleanUp();
      socket.pause();
      socket.unshift(seen);
      if (isHttp2) {
        // The HTTP/2 session reads what is already buffered in the socket first.
        h2Server.emit('connection', socket);
      } else {
        for (const listener of http1Listeners) listener.call(httpServer, socket);
        // The HTTP/1 parser reads through the socket's 'data' events: let the put-back bytes flow.
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', cleanUp);
  });
}
