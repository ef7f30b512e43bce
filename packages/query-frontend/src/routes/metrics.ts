// TraceQL metrics API: GET /api/metrics/query_range and /api/metrics/query (Tempo's parameters:
// q, start/end as unix seconds, unix nanoseconds, fractional seconds or RFC3339, since, step as a
// duration or seconds, exemplars), and tempopb.StreamingQuerier/MetricsQueryRange and
// MetricsQueryInstant, which stream the answer so far after each job and the final one last.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AndanteError,
  InvalidArgumentError,
  resolveTenant,
  type InstantSeries,
  type MetricsSeries,
} from '@andante/model';
import type { MetricsAnswer, MetricsFrontend, MetricsQueryInput } from '../metrics-frontend.js';
import { decodeQueryInstantRequest, decodeQueryRangeRequest, encodeQueryInstantResponse, encodeQueryRangeResponse } from '../tempo-api-proto.js';
import { queryInstantResponseJson, queryRangeResponseJson } from '../metrics-json.js';
import type { ServerStreamCall, ServerStreamMethod } from '@andante/service';
import { requestSignal } from './abort.js';

const STREAMING_QUERIER_SERVICE = 'tempopb.StreamingQuerier';

export interface MetricsRoutesOptions {
  metrics: MetricsFrontend;
  multitenancyEnabled: boolean;
  prefix: string;
  /** The current time, unix ns (tests pin it). */
  now?: () => bigint;
}

interface MetricsQueryString {
  q?: string;
  query?: string;
  start?: string;
  end?: string;
  since?: string;
  step?: string;
  exemplars?: string;
}

const NS = 1_000_000_000n;
const UNITS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9, d: 86400e9, w: 604800e9, y: 31536000e9 };

/** A Go/Prometheus duration (`15s`, `1h30m`, `500ms`), in ns; null when it is not one. */
function parseGoDuration(v: string): bigint | null {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(v)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos === v.length && pos > 0 ? BigInt(Math.round(total)) : null;
}

/** Tempo's parseTimestamp: fractional seconds, unix seconds (<= 10 digits), unix ns, or RFC3339. */
export function parseTimestampNs(name: string, v: string): bigint {
  if (/^\d+\.\d*$/.test(v)) {
    const [s, f = ''] = v.split('.');
    return BigInt(s!) * NS + BigInt(Math.round(Number(`0.${f || '0'}`) * 1000)) * 1_000_000n;
  }
  if (/^\d+$/.test(v)) return v.length <= 10 ? BigInt(v) * NS : BigInt(v);
  const ms = Date.parse(v);
  if (/^\d{4}-\d\d-\d\dT/.test(v) && !Number.isNaN(ms)) {
    const frac = /\.(\d+)/.exec(v)?.[1] ?? '';
    return BigInt(Math.floor(ms / 1000)) * NS + BigInt((frac + '000000000').slice(0, 9));
  }
  throw new InvalidArgumentError(`could not parse '${name}' parameter: ${JSON.stringify(v)} is not unix seconds, unix nanoseconds or RFC3339`);
}

/** Tempo's step parameter: float seconds or a duration. */
function parseStepNs(v: string): bigint {
  if (/^\d+(\.\d+)?$/.test(v)) return BigInt(Math.round(Number(v) * 1e9));
  const d = parseGoDuration(v);
  if (d === null || d <= 0n) throw new InvalidArgumentError(`cannot parse ${JSON.stringify(v)} to a valid duration (step)`);
  return d;
}

/** Start and end of a request: `since` (ending now), both `start` and `end`, or the last hour. */
export function rangeOf(q: MetricsQueryString, now: bigint): { startNs: bigint; endNs: bigint } {
  if (q.since) {
    const d = parseGoDuration(q.since);
    if (d === null) throw new InvalidArgumentError(`could not parse 'since' parameter: ${JSON.stringify(q.since)}`);
    return { startNs: now - d, endNs: now };
  }
  if (!q.start && !q.end) return { startNs: now - 3600n * NS, endNs: now };
  if (!q.start || !q.end) throw new InvalidArgumentError('only one of start and end provided: must provide both or neither');
  return { startNs: parseTimestampNs('start', q.start), endNs: parseTimestampNs('end', q.end) };
}

function input(q: MetricsQueryString, now: bigint, instant: boolean): MetricsQueryInput {
  const query = q.q ?? q.query ?? '';
  if (!query.trim()) throw new InvalidArgumentError('missing query: the q parameter is empty');
  const { startNs, endNs } = rangeOf(q, now);
  let exemplars: number | undefined;
  if (q.exemplars !== undefined && q.exemplars !== '') {
    if (!/^\d+$/.test(q.exemplars)) throw new InvalidArgumentError(`invalid exemplars ${JSON.stringify(q.exemplars)}: expected a non-negative integer`);
    exemplars = Number(q.exemplars);
  }
  return { query, startNs, endNs, stepNs: !instant && q.step ? parseStepNs(q.step) : 0n, exemplars, instant };
}

/** An instant answer: each series' one sample. */
export function instantSeries(series: readonly MetricsSeries[]): InstantSeries[] {
  return series.filter((s) => s.samples.length > 0).map((s) => ({ labels: s.labels, value: s.samples[s.samples.length - 1]!.value }));
}

function sendError(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const status = err instanceof AndanteError ? err.httpStatus : (err as { httpStatus?: number }).httpStatus;
  // A typed error's message is meant for the client (an unreachable ingester: 503 naming it).
  if (status) return reply.code(status).type('text/plain').send((err as Error).message);
  req.log.error(err);
  return reply.code(500).type('text/plain').send('internal error');
}

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

export function registerMetricsRoutes(app: FastifyInstance, opts: MetricsRoutesOptions): void {
  const now = opts.now ?? nowNs;
  const run = async (req: FastifyRequest<{ Querystring: MetricsQueryString }>, reply: FastifyReply, instant: boolean): Promise<MetricsAnswer> => {
    const tenantId = resolveTenant(req.headers['x-scope-orgid'], opts.multitenancyEnabled);
    const request = opts.metrics.normalize(input(req.query, now(), instant));
    return opts.metrics.query(tenantId, request, { signal: requestSignal(reply) });
  };
  app.get(`${opts.prefix}/api/metrics/query_range`, async (req: FastifyRequest<{ Querystring: MetricsQueryString }>, reply: FastifyReply) => {
    try {
      const a = await run(req, reply, false);
      return reply.code(200).type('application/json').send(queryRangeResponseJson(a.series, a.metrics, a.partial));
    } catch (err) {
      return sendError(req, reply, err);
    }
  });
  app.get(`${opts.prefix}/api/metrics/query`, async (req: FastifyRequest<{ Querystring: MetricsQueryString }>, reply: FastifyReply) => {
    try {
      const a = await run(req, reply, true);
      return reply.code(200).type('application/json').send(queryInstantResponseJson(instantSeries(a.series), a.metrics, a.partial));
    } catch (err) {
      return sendError(req, reply, err);
    }
  });
}

/** MetricsQueryRange and MetricsQueryInstant for the StreamingQuerier service (merged with its other methods). */
export function metricsStreamingMethods(opts: Omit<MetricsRoutesOptions, 'prefix'>): Map<string, ServerStreamMethod> {
  const tenantOf = (call: ServerStreamCall): string => resolveTenant(call.metadata['x-scope-orgid'], opts.multitenancyEnabled);
  const stream = async (call: ServerStreamCall, input: MetricsQueryInput, encode: (a: MetricsAnswer) => Uint8Array): Promise<void> => {
    const tenantId = tenantOf(call);
    const request = opts.metrics.normalize(input);
    let sending = Promise.resolve();
    const final = await opts.metrics.query(tenantId, request, {
      signal: call.signal,
      onPartial: (sofar) => {
        if (call.signal.aborted) return;
        sending = sending.then(() => call.send(encode(sofar)));
        sending.catch(() => undefined); // awaited below
      },
    });
    await sending;
    await call.send(encode(final));
  };
  return new Map<string, ServerStreamMethod>([
    [
      `/${STREAMING_QUERIER_SERVICE}/MetricsQueryRange`,
      async (call) => {
        const r = decodeQueryRangeRequest(call.request);
        // Without the instant flag Tempo infers it from end - start == step.
        const instant = r.instant ?? (r.step !== 0n && r.end - r.start === r.step);
        const input: MetricsQueryInput = { query: r.query, startNs: r.start, endNs: r.end, stepNs: r.step, exemplars: r.exemplars || undefined, instant };
        if (!r.query.trim()) throw new InvalidArgumentError('missing query: QueryRangeRequest.query is empty');
        await stream(call, input, (a) => encodeQueryRangeResponse(a.series, a.metrics, a.partial));
      },
    ],
    [
      `/${STREAMING_QUERIER_SERVICE}/MetricsQueryInstant`,
      async (call) => {
        const r = decodeQueryInstantRequest(call.request);
        if (!r.query.trim()) throw new InvalidArgumentError('missing query: QueryInstantRequest.query is empty');
        await stream(call, { query: r.query, startNs: r.start, endNs: r.end, instant: true }, (a) => encodeQueryInstantResponse(instantSeries(a.series), a.metrics, a.partial));
      },
    ],
  ]);
}
