// Zipkin receiver (Tempo's `distributor.receivers.zipkin`): POST /api/v2/spans with a Zipkin JSON v2
// span list, optionally gzip-compressed, answered 202 with an empty body as a Zipkin server does.
// Only JSON v2 is taken: protobuf (application/x-protobuf) and thrift bodies answer 415.
//
// The spans are translated to the OTLP model and pushed exactly like an OTLP/JSON export. The
// translation follows the OpenTelemetry Collector's zipkin v2 receiver (contrib's
// pkg/translator/zipkin/zipkinv2 to_translator; read for its behaviour, not copied), with the
// deviations marked "(here)":
//
// - traceId: 16 or 32 hex digits -> 16 bytes (a 64-bit ID is left-padded with zeros); id and
//   parentId: 16 hex digits -> 8 bytes; a parentId equal to the span's id means no parent. Anything
//   else, or an all-zero ID, is refused (400) naming the span's index and field.
// - kind: CLIENT/SERVER/PRODUCER/CONSUMER -> OTLP 3/2/4/5. Without a kind, a `span.kind` tag of
//   `internal` gives INTERNAL (1) and any other value or no tag UNSPECIFIED (0); the `span.kind`
//   tag is dropped either way. (The OpenTelemetry JS exporter sends INTERNAL spans with no kind,
//   so they arrive UNSPECIFIED, as through the Collector.)
// - timestamp / duration (µs) -> startTimeUnixNano and endTimeUnixNano = start + duration (ns). A
//   span without a timestamp starts at 0 (the Collector also adds an "absent" marker attribute;
//   not here).
// - localEndpoint.serviceName -> resource `service.name` (or, when the `otlp.service.name.source` tag
//   names another key such as `faas.name`, that key: the Collector's exporter writes it when the
//   resource had no service.name). Tags that are OpenTelemetry resource conventions (the OTel
//   exporters copy the resource into the tags) move to the resource: `telemetry.sdk.*`,
//   `service.*`, `host.*`, `process.*`, `os.*`, `container.*`, `k8s.*`, `cloud.*`, `deployment.*`,
//   `device.*`, `webengine.*`, `aws.ecs|eks|log.*`, the resource `faas.*` keys and the
//   `opencensus.*` ones. The Collector uses an exact name list (here: matched by prefix, so newer
//   conventions move too). Spans with the same resource share one ResourceSpans (the Collector
//   groups by service name and drops the resource tags of a span without one; here they are kept).
// - localEndpoint ipv4/ipv6 -> `network.local.address` and `net.host.ip` (ipv6 wins when both are
//   set, as in the Collector; printed as Go prints it: compressed, lower case), port ->
//   `net.host.port` (int); remoteEndpoint serviceName -> `service.peer.name` and `peer.service`,
//   ipv4/ipv6 -> `network.peer.address` and `net.peer.ip`, port -> `net.peer.port` (int). The
//   Collector now writes only the newer names by default; both are written here (its transitional
//   gate setting) because service graphs and existing queries use `peer.service`. An address that
//   is not an IP, or a port over 65535, is left out (the Collector refuses the request).
// - tags -> string attributes (the Collector's default, parse_string_tags: false).
// - status: `otel.status_code` sets the code and `otel.status_description` the message; both are
//   dropped. The Collector maps only STATUS_CODE_UNSET/OK/ERROR (anything else: UNSET); here OK,
//   ERROR and UNSET (what the OpenTelemetry JS/Java Zipkin exporters send) are read too, so an
//   exported error stays an error. An `error` tag sets ERROR; `"true"` is dropped, any other
//   value kept as the `error` attribute (both as in the Collector) and (here) also made the status
//   message when there is no description: Zipkin's own convention (an `error` tag holding the
//   message) and what the OTel exporters send for an error status's message.
// - scope: `otel.library.name` / `otel.library.version` and the newer `otel.scope.name` /
//   `otel.scope.version` (which win, as in the Collector) become the instrumentation scope and are
//   dropped.
// - `w3c.tracestate` -> the span's traceState (dropped as a tag).
// - annotations -> span events (time = timestamp µs -> ns); the `name|{json attributes}|dropped`
//   form the Collector's exporter writes becomes an event with typed attributes and a dropped
//   count, and `otlp.link.N` tags become links (zipkin-annotations.ts: the format and where a
//   malformed one differs from the Collector, which refuses the whole request).
// - shared, debug: ignored, as in the Collector (a shared server span keeps the client's span ID,
//   which Andante's trace model handles: docs/block-format.md).

import { isIP } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  AndanteError,
  InvalidArgumentError,
  PayloadTooLargeError,
  SpanKind,
  StatusCode,
  UnsupportedMediaTypeError,
  encodeTrace,
  resolveTenant,
  type KeyValue,
  type Logger,
  type ResourceSpans,
  type ScopeSpans,
  type Span,
  type SpanEvent,
  type Trace,
} from '@andante/model';
import type { Distributor } from '../distributor.js';
import { decompressBody } from './http-body.js';
import { annotationToEvent, takeLinks } from './zipkin-annotations.js';

/** The body limit when none is configured: the OTLP/HTTP receiver's default max_request_body_size. */
export const ZIPKIN_MAX_BODY_BYTES = 20 * 1024 * 1024;

export interface ZipkinReceiverConfig {
  host: string;
  port: number;
  /** Limit on the (decompressed) body. */
  maxRequestBodyBytes?: number;
  multitenancyEnabled: boolean;
}

const KINDS: Record<string, number> = {
  CLIENT: SpanKind.CLIENT,
  SERVER: SpanKind.SERVER,
  PRODUCER: SpanKind.PRODUCER,
  CONSUMER: SpanKind.CONSUMER,
};

const STATUS_CODES: Record<string, number> = {
  UNSET: StatusCode.UNSET,
  OK: StatusCode.OK,
  ERROR: StatusCode.ERROR,
  STATUS_CODE_UNSET: StatusCode.UNSET,
  STATUS_CODE_OK: StatusCode.OK,
  STATUS_CODE_ERROR: StatusCode.ERROR,
};

// Resource conventions by prefix; `faas.*` is mostly span attributes (faas.trigger, faas.coldstart),
// so only its resource keys, as in the Collector's list.
const RESOURCE_PREFIXES = ['telemetry.sdk.', 'telemetry.distro.', 'service.', 'host.', 'process.', 'os.', 'container.', 'k8s.', 'cloud.', 'deployment.', 'device.', 'webengine.', 'aws.ecs.', 'aws.eks.', 'aws.log.'];
const RESOURCE_KEYS = new Set(['faas.name', 'faas.id', 'faas.version', 'faas.instance', 'faas.max_memory', 'telemetry.auto.version', 'opencensus.starttime', 'opencensus.exporterversion', 'opencensus.resourcetype']);
const isResourceKey = (k: string): boolean => RESOURCE_KEYS.has(k) || RESOURCE_PREFIXES.some((p) => k.startsWith(p));

/** Where the Collector's exporter took the Zipkin service name from when the resource had no service.name. */
const SERVICE_NAME_SOURCE = 'otlp.service.name.source';

const HEX = /^[0-9a-fA-F]+$/;

function hexId(value: unknown, bytes: 8 | 16, where: string): Uint8Array {
  const ok = typeof value === 'string' && HEX.test(value) && (value.length === 16 || (bytes === 16 && value.length === 32));
  if (!ok) throw new InvalidArgumentError(`${where}: expected ${bytes === 16 ? '16 or 32' : '16'} hex digits, got ${JSON.stringify(value)}`);
  const out = Buffer.from((value as string).padStart(bytes * 2, '0'), 'hex');
  if (out.every((b) => b === 0)) throw new InvalidArgumentError(`${where}: an all-zero ID is not valid`);
  return new Uint8Array(out);
}

function micros(value: unknown, where: string): bigint {
  if (value === undefined || value === null) return 0n;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new InvalidArgumentError(`${where}: expected a non-negative number of microseconds, got ${JSON.stringify(value)}`);
  return BigInt(Math.trunc(value)) * 1000n;
}

const str = (key: string, value: string): KeyValue => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): KeyValue => ({ key, value: { intValue: BigInt(value) } });

interface Endpoint {
  serviceName?: unknown;
  ipv4?: unknown;
  ipv6?: unknown;
  port?: unknown;
}

function endpointOf(v: unknown, where: string): Endpoint | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`${where}: expected an object`);
  return v as Endpoint;
}

/** An IP as Go prints it (the Collector's form): IPv6 compressed and lower-case, IPv4-mapped as IPv4; undefined when not an IP. */
function canonicalIp(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const family = isIP(value);
  if (family === 4) return value;
  if (family !== 6) return undefined;
  let host: string;
  try {
    host = new URL(`http://[${value}]`).hostname.slice(1, -1);
  } catch {
    return undefined; // a zone (fe80::1%eth0) or similar, which Go does not parse either
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const hi = parseInt(mapped[1]!, 16);
  const lo = parseInt(mapped[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

// Both the Collector's current names (network.*, service.peer.name: its default since the
// EmitV1NetworkConventions gate went beta) and the older ones (net.*.ip, peer.service) that
// Tempo's service graphs and existing queries use: the Collector's transitional setting.
const ENDPOINT_KEYS = {
  host: { ip: ['net.host.ip', 'network.local.address'], port: 'net.host.port', service: [] as string[] },
  peer: { ip: ['net.peer.ip', 'network.peer.address'], port: 'net.peer.port', service: ['peer.service', 'service.peer.name'] },
};

function endpointAttributes(ep: Endpoint | undefined, side: 'host' | 'peer', attrs: KeyValue[]): void {
  if (!ep) return;
  const keys = ENDPOINT_KEYS[side];
  if (typeof ep.serviceName === 'string' && ep.serviceName !== '') for (const k of keys.service) attrs.push(str(k, ep.serviceName));
  // ipv6 wins when both are set, as in the Collector. An address that is not an IP is left out (Zipkin's
  // own server does the same; the Collector refuses the request).
  const ip = canonicalIp(ep.ipv6) ?? canonicalIp(ep.ipv4);
  if (ip !== undefined) for (const k of keys.ip) attrs.push(str(k, ip));
  if (typeof ep.port === 'number' && Number.isInteger(ep.port) && ep.port > 0 && ep.port <= 65535) attrs.push(int(keys.port, ep.port));
}

/**
 * Translates a Zipkin JSON v2 span list (already parsed) to the OTLP model. Throws
 * InvalidArgumentError naming the span index and field for malformed input.
 */
export function zipkinToTrace(body: unknown): Trace {
  if (!Array.isArray(body)) throw new InvalidArgumentError('expected a JSON array of Zipkin v2 spans');
  const resources = new Map<string, { rs: ResourceSpans; scopes: Map<string, ScopeSpans> }>();
  body.forEach((raw: unknown, i) => {
    const at = `span ${i}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidArgumentError(`${at}: expected an object`);
    const z = raw as Record<string, unknown>;
    const traceId = hexId(z.traceId, 16, `${at}: traceId`);
    const spanId = hexId(z.id, 8, `${at}: id`);
    const parent = z.parentId === undefined || z.parentId === null || z.parentId === '' ? new Uint8Array(0) : hexId(z.parentId, 8, `${at}: parentId`);
    const parentSpanId = Buffer.from(parent).equals(spanId) ? new Uint8Array(0) : parent;
    if (z.name !== undefined && z.name !== null && typeof z.name !== 'string') throw new InvalidArgumentError(`${at}: name: expected a string`);
    if (z.kind !== undefined && z.kind !== null && (typeof z.kind !== 'string' || !(z.kind in KINDS))) {
      throw new InvalidArgumentError(`${at}: kind: expected CLIENT, SERVER, PRODUCER or CONSUMER, got ${JSON.stringify(z.kind)}`);
    }
    const start = micros(z.timestamp, `${at}: timestamp`);
    const duration = micros(z.duration, `${at}: duration`);
    const local = endpointOf(z.localEndpoint, `${at}: localEndpoint`);
    const remote = endpointOf(z.remoteEndpoint, `${at}: remoteEndpoint`);

    const tags = new Map<string, string>();
    if (z.tags !== undefined && z.tags !== null) {
      if (typeof z.tags !== 'object' || Array.isArray(z.tags)) throw new InvalidArgumentError(`${at}: tags: expected an object of strings`);
      for (const [k, v] of Object.entries(z.tags as Record<string, unknown>)) {
        if (typeof v === 'string') tags.set(k, v);
        else if (typeof v === 'number' || typeof v === 'boolean') tags.set(k, String(v));
        else throw new InvalidArgumentError(`${at}: tags.${k}: expected a string`);
      }
    }

    // Kind.
    let kind: number = typeof z.kind === 'string' ? KINDS[z.kind]! : SpanKind.UNSPECIFIED;
    if (typeof z.kind !== 'string' && tags.has('span.kind')) {
      if (tags.get('span.kind') === 'internal') kind = SpanKind.INTERNAL;
      tags.delete('span.kind');
    }

    // Status.
    const status = { code: StatusCode.UNSET as number, message: '' };
    const code = tags.get('otel.status_code');
    if (code !== undefined) {
      status.code = STATUS_CODES[code.toUpperCase()] ?? StatusCode.UNSET;
      tags.delete('otel.status_code');
      const description = tags.get('otel.status_description');
      if (description !== undefined) {
        status.message = description;
        tags.delete('otel.status_description');
      }
    }
    const error = tags.get('error');
    if (error !== undefined) {
      status.code = StatusCode.ERROR;
      if (error === 'true') tags.delete('error');
      else if (status.message === '' && error !== '') status.message = error;
    }

    // Scope.
    const scopeName = tags.get('otel.scope.name') ?? tags.get('otel.library.name') ?? '';
    const scopeVersion = tags.get('otel.scope.version') ?? tags.get('otel.library.version') ?? '';
    for (const k of ['otel.scope.name', 'otel.scope.version', 'otel.library.name', 'otel.library.version']) tags.delete(k);

    const traceState = tags.get('w3c.tracestate') ?? '';
    tags.delete('w3c.tracestate');

    // Resource.
    const resourceAttrs: KeyValue[] = [];
    const serviceName = typeof local?.serviceName === 'string' ? local.serviceName : '';
    // The exporter names the service from faas.name (or k8s.deployment.name, ...) when the resource had
    // no service.name, and says so in this tag: the name goes back under that key.
    const serviceKey = tags.get(SERVICE_NAME_SOURCE) || 'service.name';
    tags.delete(SERVICE_NAME_SOURCE);
    if (serviceName !== '') {
      resourceAttrs.push(str(serviceKey, serviceName));
      tags.delete(serviceKey);
    }
    for (const [k, v] of [...tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (k !== 'service.name' && isResourceKey(k)) {
        resourceAttrs.push(str(k, v));
        tags.delete(k);
      }
    }
    if (serviceName !== '') tags.delete('service.name');

    const links = takeLinks(tags);
    const attributes: KeyValue[] = [...tags].map(([k, v]) => str(k, v));
    endpointAttributes(local, 'host', attributes);
    endpointAttributes(remote, 'peer', attributes);

    const events: SpanEvent[] = [];
    if (z.annotations !== undefined && z.annotations !== null) {
      if (!Array.isArray(z.annotations)) throw new InvalidArgumentError(`${at}: annotations: expected an array`);
      for (const [j, a] of (z.annotations as unknown[]).entries()) {
        const ann = a as { timestamp?: unknown; value?: unknown } | null;
        if (typeof ann !== 'object' || ann === null || typeof ann.value !== 'string') throw new InvalidArgumentError(`${at}: annotations[${j}]: expected {timestamp, value}`);
        events.push(annotationToEvent(ann.value, micros(ann.timestamp, `${at}: annotations[${j}].timestamp`)));
      }
    }

    const span: Span = {
      traceId,
      spanId,
      traceState,
      parentSpanId,
      flags: 0,
      name: typeof z.name === 'string' ? z.name : '',
      kind,
      startTimeUnixNano: start,
      endTimeUnixNano: start + duration,
      attributes,
      droppedAttributesCount: 0,
      events,
      droppedEventsCount: 0,
      links,
      droppedLinksCount: 0,
      status,
    };

    const resourceKey = JSON.stringify(resourceAttrs.map((kv) => [kv.key, (kv.value as { stringValue: string }).stringValue]));
    let group = resources.get(resourceKey);
    if (!group) {
      group = { rs: { resource: { attributes: resourceAttrs, droppedAttributesCount: 0 }, scopeSpans: [], schemaUrl: '' }, scopes: new Map() };
      resources.set(resourceKey, group);
    }
    const scopeKey = JSON.stringify([scopeName, scopeVersion]);
    let scope = group.scopes.get(scopeKey);
    if (!scope) {
      scope = { scope: { name: scopeName, version: scopeVersion, attributes: [], droppedAttributesCount: 0 }, spans: [], schemaUrl: '' };
      group.scopes.set(scopeKey, scope);
      group.rs.scopeSpans.push(scope);
    }
    scope.spans.push(span);
  });
  return { resourceSpans: [...resources.values()].map((g) => g.rs) };
}

function isJson(contentType: string | undefined): 'json' | 'other' | 'none' {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === '') return 'none';
  return type === 'application/json' ? 'json' : 'other';
}

export function createZipkinReceiver(distributor: Distributor, cfg: ZipkinReceiverConfig, logger: Logger): FastifyInstance {
  const limit = cfg.maxRequestBodyBytes ?? ZIPKIN_MAX_BODY_BYTES;
  const app = Fastify({ bodyLimit: limit, logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const labels = { receiver: 'zipkin', transport: 'http' };

  app.post('/api/v2/spans', async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      // Zipkin's own server takes a body with no content type as JSON; so does this.
      if (isJson(req.headers['content-type']) === 'other') {
        throw new UnsupportedMediaTypeError(
          `unsupported content type ${JSON.stringify(req.headers['content-type'])}: only Zipkin JSON v2 (application/json) is accepted`,
        );
      }
      const tenantId = resolveTenant(req.headers['x-scope-orgid'], cfg.multitenancyEnabled);
      const raw = await decompressBody(req.body as Buffer | undefined, req.headers['content-encoding'], limit, `${limit} bytes`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        throw new InvalidArgumentError(`malformed JSON: ${(err as Error).message}`);
      }
      let trace: Trace;
      try {
        trace = zipkinToTrace(parsed);
      } catch (err) {
        distributor.metrics.receiverRefused.inc(labels, Array.isArray(parsed) ? parsed.length : 0);
        throw err;
      }
      if (trace.resourceSpans.length === 0) return reply.code(202).send();
      const result = await distributor.pushOtlp(tenantId, encodeTrace(trace));
      distributor.metrics.receiverAccepted.inc(labels, result.acceptedSpans);
      distributor.metrics.receiverRefused.inc(labels, result.rejectedSpans);
      return reply.code(202).send();
    } catch (err) {
      return sendError(reply, err, logger);
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    if (err.statusCode === 413) return sendError(reply, new PayloadTooLargeError(`request body exceeds ${limit} bytes`), logger);
    return sendError(reply, err, logger);
  });
  return app;
}


function sendError(reply: FastifyReply, err: unknown, logger: Logger): FastifyReply {
  let status = 500;
  let message = 'internal error';
  if (err instanceof AndanteError) {
    status = err.httpStatus;
    message = err.message;
    if (err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(err.retryAfterSeconds));
  } else if (typeof (err as { statusCode?: unknown }).statusCode === 'number' && (err as { statusCode: number }).statusCode < 500) {
    status = (err as { statusCode: number }).statusCode;
    message = (err as Error).message;
  } else {
    logger.error('zipkin receiver: push failed', { err });
  }
  return reply.code(status).type('text/plain; charset=utf-8').send(message);
}
