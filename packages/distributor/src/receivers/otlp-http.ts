// OTLP/HTTP receiver: POST /v1/traces with protobuf or JSON bodies, optionally gzip-compressed.
// Errors answer with a google.rpc.Status in the request's encoding, as the OTLP spec asks.

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  AndanteError,
  GrpcCode,
  InvalidArgumentError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  encodeTrace,
  resolveTenant,
  type Logger,
} from '@andante/model';
import { parseOtlpJson } from '../otlp-json.js';
import { encodeExportTraceServiceResponse, exportResponseToJson } from '../export-response.js';
import type { Distributor } from '../distributor.js';
import type { ReceiverTls } from './tls.js';
import { encodeRpcStatus } from './rpc-status.js';
import { decompressBody } from './http-body.js';

export interface OtlpHttpReceiverConfig {
  host: string;
  port: number;
  /** max_request_body_size (OpenTelemetry Collector's name): limit on the decompressed body. */
  maxRequestBodyBytes: number;
  multitenancyEnabled: boolean;
  /** null or absent: plain HTTP. With a client CA, clients must present a certificate it signed. */
  tls?: ReceiverTls | null;
}

type BodyKind = 'protobuf' | 'json';

function bodyKind(contentType: string | undefined): BodyKind | null {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return null;
}

export function createOtlpHttpReceiver(distributor: Distributor, cfg: OtlpHttpReceiverConfig, logger: Logger): FastifyInstance {
  const tls = cfg.tls;
  const https = tls ? { https: { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}) } } : {};
  // Fastify types an https instance apart from an http one; the routes below use neither's specifics.
  const app = Fastify({ bodyLimit: cfg.maxRequestBodyBytes, logger: false, ...https }) as unknown as FastifyInstance;
  // Bodies stay raw: decoding is ours (protobuf hot path, gzip with an output cap).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.post('/v1/traces', async (req: FastifyRequest, reply: FastifyReply) => {
    const kind = bodyKind(req.headers['content-type']);
    try {
      if (!kind) {
        throw new UnsupportedMediaTypeError(
          `unsupported content type ${JSON.stringify(req.headers['content-type'] ?? '')}: use application/x-protobuf or application/json`,
        );
      }
      const tenantId = resolveTenant(req.headers['x-scope-orgid'], cfg.multitenancyEnabled);
      const raw = await decompressBody(req.body as Buffer | undefined, req.headers['content-encoding'], cfg.maxRequestBodyBytes, `max_request_body_size (${cfg.maxRequestBodyBytes} bytes)`);
      if (raw.length === 0) throw new InvalidArgumentError('empty request body: expected an ExportTraceServiceRequest');
      const protobuf = kind === 'json' ? encodeTrace(parseOtlpJson(raw.toString('utf8'))) : raw;
      const result = await distributor.pushOtlp(tenantId, protobuf);
      distributor.metrics.receiverAccepted.inc({ receiver: 'otlp', transport: 'http' }, result.acceptedSpans);
      distributor.metrics.receiverRefused.inc({ receiver: 'otlp', transport: 'http' }, result.rejectedSpans);
      if (kind === 'json') {
        return reply.code(200).type('application/json').send(exportResponseToJson(result.rejectedSpans, result.errorMessage));
      }
      return reply
        .code(200)
        .type('application/x-protobuf')
        .send(Buffer.from(encodeExportTraceServiceResponse(result.rejectedSpans, result.errorMessage)));
    } catch (err) {
      return sendError(reply, kind ?? 'json', err, logger);
    }
  });

  // Fastify's own refusals (body over bodyLimit, unknown route) keep the OTLP error shape.
  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const kind = bodyKind(req.headers['content-type']) ?? 'json';
    if (err.statusCode === 413) {
      return sendError(reply, kind, new PayloadTooLargeError(`request body exceeds max_request_body_size (${cfg.maxRequestBodyBytes} bytes)`), logger);
    }
    return sendError(reply, kind, err, logger);
  });
  return app;
}


function sendError(reply: FastifyReply, kind: BodyKind, err: unknown, logger: Logger): FastifyReply {
  let status = 500;
  let grpcCode: number = GrpcCode.INTERNAL;
  let message = 'internal error';
  if (err instanceof AndanteError) {
    status = err.httpStatus;
    grpcCode = err.grpcCode;
    message = err.message;
    if (err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(err.retryAfterSeconds));
  } else if (typeof (err as { statusCode?: unknown }).statusCode === 'number' && (err as { statusCode: number }).statusCode < 500) {
    status = (err as { statusCode: number }).statusCode;
    grpcCode = GrpcCode.INVALID_ARGUMENT;
    message = (err as Error).message;
  } else {
    logger.error('OTLP/HTTP export failed', { err });
  }
  if (kind === 'json') return reply.code(status).type('application/json').send(JSON.stringify({ code: grpcCode, message }));
  return reply.code(status).type('application/x-protobuf').send(Buffer.from(encodeRpcStatus(grpcCode, message)));
}
