// Trace by ID, as Grafana's Tempo data source calls it: v2 with `Accept: application/protobuf`
// (TraceByIDResponse), falling back to v1 (tempopb.Trace) on 404; JSON in Tempo's jsonpb style
// otherwise.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AndanteError,
  InvalidArgumentError,
  encodeTrace,
  encodeTraceByIdResponse,
  parseTraceIdParam,
  resolveTenant,
  traceToTempoJson,
  type LimitsProvider,
  type Trace,
} from '@andante/model';
import type { Querier, TimeRange } from '../querier.js';

export interface TraceRoutesOptions {
  querier: Querier;
  limits: LimitsProvider;
  multitenancyEnabled: boolean;
  /** http_api_prefix */
  prefix: string;
}

interface TraceParams {
  traceId: string;
}
interface TraceQuery {
  start?: string;
  end?: string;
}

export function registerTraceRoutes(app: FastifyInstance, opts: TraceRoutesOptions): void {
  const handle = (version: 'v1' | 'v2') => async (req: FastifyRequest<{ Params: TraceParams; Querystring: TraceQuery }>, reply: FastifyReply) => {
    try {
      const tenantId = resolveTenant(req.headers['x-scope-orgid'], opts.multitenancyEnabled);
      const traceId = parseTraceIdParam(req.params.traceId);
      const range = parseRange(req.query);
      const trace = await opts.querier.findTraceById(tenantId, traceId, range);
      if (!trace) return reply.code(404).send('');
      const wantsProtobuf = (req.headers.accept ?? '').includes('application/protobuf');
      const maxBytes = opts.limits.forTenant(tenantId).maxBytesPerTrace;
      let body = encodeTrace(trace);
      let partial: { trace: Trace; message: string } | undefined;
      if (maxBytes > 0 && body.byteLength > maxBytes) {
        if (version === 'v1') {
          return reply.code(422).type('text/plain').send(`trace exceeds max size (max bytes: ${maxBytes}); consider raising global.max_bytes_per_trace`);
        }
        partial = { trace: truncateTrace(trace, maxBytes), message: `Trace exceeds maximum size of ${maxBytes} bytes, a partial trace is returned` };
        body = encodeTrace(partial.trace);
      }
      const shown = partial?.trace ?? trace;
      const extra = partial ? { status: 'PARTIAL' as const, message: partial.message } : {};
      if (wantsProtobuf) {
        const out = version === 'v1' ? body : encodeTraceByIdResponse({ trace: shown, ...extra });
        return reply.code(200).type('application/protobuf').send(Buffer.from(out));
      }
      return reply.code(200).type('application/json').send(traceToTempoJson(shown, version, extra));
    } catch (err) {
      if (err instanceof AndanteError) return reply.code(err.httpStatus).type('text/plain').send(err.message);
      req.log.error(err);
      return reply.code(500).type('text/plain').send('internal error');
    }
  };
  app.get(`${opts.prefix}/api/traces/:traceId`, handle('v1'));
  app.get(`${opts.prefix}/api/v2/traces/:traceId`, handle('v2'));
}

function parseRange(q: TraceQuery): TimeRange {
  const parse = (name: string, v: string | undefined): number => {
    if (v === undefined || v === '') return 0;
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`invalid ${name} ${JSON.stringify(v)}: expected unix epoch seconds`);
    return Number(v);
  };
  const range = { startSeconds: parse('start', q.start), endSeconds: parse('end', q.end) };
  if (range.startSeconds && range.endSeconds && range.endSeconds < range.startSeconds) {
    throw new InvalidArgumentError(`invalid time range: end (${range.endSeconds}) is before start (${range.startSeconds})`);
  }
  return range;
}

/** Keeps whole spans, in order, while the encoded trace stays within maxBytes. */
function truncateTrace(trace: Trace, maxBytes: number): Trace {
  const out: Trace = { resourceSpans: [] };
  let size = 0;
  for (const rs of trace.resourceSpans) {
    const rsOut = { ...rs, scopeSpans: [] as typeof rs.scopeSpans };
    for (const ss of rs.scopeSpans) {
      const ssOut = { ...ss, spans: [] as typeof ss.spans };
      for (const span of ss.spans) {
        const spanBytes = encodeTrace({ resourceSpans: [{ ...rs, scopeSpans: [{ ...ss, spans: [span] }] }] }).byteLength;
        if (size + spanBytes > maxBytes) break;
        size += spanBytes;
        ssOut.spans.push(span);
      }
      if (ssOut.spans.length > 0) rsOut.scopeSpans.push(ssOut);
    }
    if (rsOut.scopeSpans.length > 0) out.resourceSpans.push(rsOut);
  }
  return out;
}
