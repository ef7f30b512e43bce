// Trace by ID, as Grafana's Tempo data source calls it: v2 with `Accept: application/protobuf`
// (TraceByIDResponse), falling back to v1 (tempopb.Trace) on 404; JSON in Tempo's jsonpb style
// otherwise.

import { requestSignal } from './abort.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AndanteError,
  InvalidArgumentError,
  encodeTrace,
  parseTraceIdParam,
  resolveTenant,
  type LimitsProvider,
  type QuerierJobs,
  type TimeRange,
  type Trace,
} from '@andante/model';
import { encodeTraceByIdResponse, traceToTempoJson } from '../trace-response.js';
import { trimTraceToBytes } from '../partial-trace.js';


export interface TraceRoutesOptions {
  querier: QuerierJobs;
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
      const trace = await opts.querier.findTraceById(tenantId, traceId, range, requestSignal(reply));
      if (!trace) return reply.code(404).send('');
      const wantsProtobuf = (req.headers.accept ?? '').includes('application/protobuf');
      const maxBytes = opts.limits.forTenant(tenantId).maxBytesPerTrace;
      let body = encodeTrace(trace);
      let partial: { trace: Trace; message: string } | undefined;
      if (maxBytes > 0 && body.byteLength > maxBytes) {
        if (version === 'v1') {
          // v1 has no way to say "partial": a trimmed trace would pass for the whole one (Tempo
          // 2.10 answers 422 too). The message points at v2, which answers the spans up to the limit.
          return reply
            .code(422)
            .type('text/plain')
            .send(`trace exceeds max size (max bytes: ${maxBytes}); consider raising global.max_bytes_per_trace, or read it with /api/v2/traces/{traceID}, which returns the spans up to the limit`);
        }
        const trimmed = trimTraceToBytes(trace, maxBytes);
        partial = {
          trace: trimmed.trace,
          message: `Trace exceeds maximum size of ${maxBytes} bytes, a partial trace is returned (${trimmed.keptSpans} of ${trimmed.totalSpans} spans; global.max_bytes_per_trace)`,
        };
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
