// Tag APIs as Grafana calls them: /api/search/tags, /api/v2/search/tags,
// /api/search/tag/{name}/values and /api/v2/search/tag/{name}/values. Tag names arrive
// %-encoded and may contain '/', so the name is cut from the raw URL.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AndanteError, InvalidArgumentError, TAG_SCOPES, jsonString, resolveTenant, type TagScope } from '@andante/model';
import type { TagNamesResult, TagValuesResult, TagsService } from '../tags.js';
import { requestSignal } from './abort.js';

export interface TagRoutesOptions {
  tags: TagsService;
  multitenancyEnabled: boolean;
  prefix: string;
}

interface TagsQuery {
  scope?: string;
  q?: string;
  start?: string;
  end?: string;
  limit?: string;
}

function num(name: string, v: string | undefined): number {
  if (v === undefined || v === '') return 0;
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`invalid ${name} ${JSON.stringify(v)}: expected a non-negative integer`);
  return Number(v);
}

/** The scopes a tag-names request asks for: v1 answers resource and span names only. */
export function scopesFor(scope: string | undefined, v2: boolean): TagScope[] {
  if (!scope || scope === 'all') return v2 ? ['resource', 'span', 'intrinsic', 'event', 'link', 'instrumentation'] : ['resource', 'span'];
  if (!(TAG_SCOPES as readonly string[]).includes(scope)) {
    throw new InvalidArgumentError(`invalid scope ${JSON.stringify(scope)}: one of ${TAG_SCOPES.join(', ')}, all`);
  }
  return [scope as TagScope];
}

const metricsJson = (bytes: bigint): string => (bytes > 0n ? `{"inspectedBytes":"${bytes}"}` : '{}');

/** v1 tag names: one sorted list over every scope. */
export const v1TagNames = (r: TagNamesResult): string[] => [...new Set([...r.names.values()].flat())].sort();

/** v1 tag values: untyped, each value once. */
export const v1TagValues = (r: TagValuesResult): string[] => [...new Set(r.values.map((v) => v.value))];

export function registerTagRoutes(app: FastifyInstance, opts: TagRoutesOptions): void {
  const handle =
    (fn: (tenantId: string, req: FastifyRequest<{ Querystring: TagsQuery }>, signal: AbortSignal) => Promise<string>) =>
    async (req: FastifyRequest<{ Querystring: TagsQuery }>, reply: FastifyReply) => {
      try {
        const tenantId = resolveTenant(req.headers['x-scope-orgid'], opts.multitenancyEnabled);
        return reply.code(200).type('application/json').send(await fn(tenantId, req, requestSignal(reply)));
      } catch (err) {
        if (err instanceof AndanteError) return reply.code(err.httpStatus).type('text/plain').send(err.message);
        req.log.error(err);
        return reply.code(500).type('text/plain').send('internal error');
      }
    };
  const window = (q: TagsQuery) => ({ query: q.q ?? '', startSeconds: num('start', q.start), endSeconds: num('end', q.end) });

  app.get(`${opts.prefix}/api/search/tags`, handle(async (tenantId, req, signal) => {
    const r = await opts.tags.tagNames(tenantId, { ...window(req.query), query: '' }, scopesFor(req.query.scope, false), num('limit', req.query.limit), signal);
    return `{"tagNames":[${v1TagNames(r).map(jsonString).join(',')}],"metrics":${metricsJson(r.inspectedBytes)}}`;
  }));

  app.get(`${opts.prefix}/api/v2/search/tags`, handle(async (tenantId, req, signal) => {
    const r = await opts.tags.tagNames(tenantId, window(req.query), scopesFor(req.query.scope, true), num('limit', req.query.limit), signal);
    const scopes = [...r.names].map(([name, tags]) => `{"name":"${name}","tags":[${tags.map(jsonString).join(',')}]}`);
    return `{"scopes":[${scopes.join(',')}],"metrics":${metricsJson(r.inspectedBytes)}}`;
  }));

  const tagFromUrl = (url: string, base: string): string => {
    const path = url.split('?')[0]!;
    const rest = path.slice(path.indexOf(base) + base.length);
    if (!rest.endsWith('/values')) throw new InvalidArgumentError('expected /tag/<name>/values');
    const raw = rest.slice(0, -'/values'.length);
    if (!raw) throw new InvalidArgumentError('missing tag name');
    try {
      return decodeURIComponent(raw);
    } catch {
      throw new InvalidArgumentError(`invalid tag name ${JSON.stringify(raw)}`);
    }
  };

  app.get(`${opts.prefix}/api/search/tag/*`, handle(async (tenantId, req, signal) => {
    const tag = tagFromUrl(req.url, '/api/search/tag/');
    const r = await opts.tags.tagValues(tenantId, { ...window(req.query), query: '', tag, v2: false }, num('limit', req.query.limit), signal);
    return `{"tagValues":[${v1TagValues(r).map(jsonString).join(',')}],"metrics":${metricsJson(r.inspectedBytes)}}`;
  }));

  app.get(`${opts.prefix}/api/v2/search/tag/*`, handle(async (tenantId, req, signal) => {
    const tag = tagFromUrl(req.url, '/api/v2/search/tag/');
    const r = await opts.tags.tagValues(tenantId, { ...window(req.query), tag, v2: true }, num('limit', req.query.limit), signal);
    const values = r.values.map((v) => `{"type":"${v.type}","value":${jsonString(v.value)}}`);
    return `{"tagValues":[${values.join(',')}],"metrics":${metricsJson(r.inspectedBytes)}}`;
  }));
}
