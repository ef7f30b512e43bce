// GET /api/search: TraceQL (`q`) or the legacy tag search (`tags` in logfmt, `minDuration`,
// `maxDuration`, turned into TraceQL), with `limit`, `spss`, `start`, `end` (unix seconds).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AndanteError, InvalidArgumentError, resolveTenant, searchResponseToJson } from '@andante/model';
import type { SearchService } from '../search.js';
import { requestSignal } from './abort.js';

export interface SearchRoutesOptions {
  search: SearchService;
  multitenancyEnabled: boolean;
  prefix: string;
}

interface SearchQuery {
  q?: string;
  tags?: string;
  minDuration?: string;
  maxDuration?: string;
  limit?: string;
  spss?: string;
  start?: string;
  end?: string;
}

function intParam(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`invalid ${name} ${JSON.stringify(v)}: expected a non-negative integer`);
  return Number(v);
}

/** Parses logfmt `k=v k2="v 2" flag` into pairs. */
export function parseLogfmt(text: string): [string, string][] {
  const out: [string, string][] = [];
  const re = /\s*([^\s=]+)(?:=(?:"((?:[^"\\]|\\.)*)"|(\S*)))?/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < text.length && (m = re.exec(text)) !== null) {
    out.push([m[1]!, m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '')]);
    pos = re.lastIndex;
  }
  if (text.slice(pos).trim() !== '') throw new InvalidArgumentError(`invalid tags ${JSON.stringify(text)}: expected logfmt like k=v k2="v 2"`);
  return out;
}

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/** The legacy search as TraceQL: every tag must match some span; durations bound the trace. */
export function legacySearchToTraceQL(tags: string, minDuration?: string, maxDuration?: string): string {
  return legacyFiltersToTraceQL(parseLogfmt(tags), minDuration, maxDuration);
}

/** The legacy search from tag pairs (gRPC's SearchRequest.Tags map) and Go durations. */
export function legacyFiltersToTraceQL(tags: readonly [string, string][], minDuration?: string, maxDuration?: string): string {
  const filters: string[] = [];
  for (const [key, value] of tags) {
    const attr = key === 'name' ? 'name' : /^[A-Za-z0-9_.\-/]+$/.test(key) ? `.${key}` : `.${quote(key)}`;
    filters.push(`{ ${attr} = ${quote(value)} }`);
  }
  for (const [op, d, name] of [['>=', minDuration, 'minDuration'], ['<=', maxDuration, 'maxDuration']] as const) {
    if (!d) continue;
    if (!GO_DURATION.test(d)) throw new InvalidArgumentError(`invalid ${name} ${JSON.stringify(d)}: expected a duration like 100ms or 2s`);
    filters.push(`{ traceDuration ${op} ${d} }`);
  }
  return filters.length ? filters.join(' && ') : '{ }';
}

export function registerSearchRoutes(app: FastifyInstance, opts: SearchRoutesOptions): void {
  app.get(`${opts.prefix}/api/search`, async (req: FastifyRequest<{ Querystring: SearchQuery }>, reply: FastifyReply) => {
    try {
      const tenantId = resolveTenant(req.headers['x-scope-orgid'], opts.multitenancyEnabled);
      const q = req.query;
      const query = q.q ? q.q : legacySearchToTraceQL(q.tags ?? '', q.minDuration, q.maxDuration);
      const request = opts.search.normalize({
        query,
        startSeconds: intParam('start', q.start) ?? 0,
        endSeconds: intParam('end', q.end) ?? 0,
        limit: intParam('limit', q.limit) ?? 0,
        spss: intParam('spss', q.spss),
      });
      const response = await opts.search.search(tenantId, request, { signal: requestSignal(reply) });
      return reply.code(200).type('application/json').send(searchResponseToJson(response));
    } catch (err) {
      const status = err instanceof AndanteError ? err.httpStatus : (err as { httpStatus?: number }).httpStatus;
      // A typed error's message is meant for the client (an unreachable ingester: 503 naming it).
      if (status) return reply.code(status).type('text/plain').send((err as Error).message);
      req.log.error(err);
      return reply.code(500).type('text/plain').send('internal error');
    }
  });
}
