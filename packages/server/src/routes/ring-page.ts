// A ring status page: JSON (`shards[]` with id, state, address, timestamp, tokens, zone) for
// curl and tools, an HTML table for a browser (a request whose Accept prefers text/html).

import type { FastifyInstance } from 'fastify';
import { RingSnapshot, type RingConfig, type RingStore } from '@andante/ring';

export interface RingPageOptions {
  path: string;
  title: string;
  store: RingStore;
  config: RingConfig;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Whether the client asked for HTML before JSON (a browser); curl's `*\/*` gets JSON. */
function wantsHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = accept.indexOf('text/html');
  const json = accept.indexOf('application/json');
  return html >= 0 && (json < 0 || html < json);
}

export function registerRingPage(app: FastifyInstance, o: RingPageOptions): void {
  app.get(o.path, async (req, reply) => {
    const instances = await o.store.list();
    const ring = new RingSnapshot(instances, o.config);
    const shards = instances.map((i) => ({
      id: i.id,
      state: ring.isHealthy(i) || i.state !== 'ACTIVE' ? i.state : 'UNHEALTHY',
      address: i.address,
      timestamp: new Date(i.heartbeatMs).toISOString(),
      registered_timestamp: new Date(i.registeredMs).toISOString(),
      zone: i.zone,
      tokens: i.tokens,
    }));
    if (!wantsHtml(req.headers.accept)) return reply.type('application/json').send({ shards, now: new Date().toISOString() });
    const rows = shards
      .map((s) => `<tr><td>${escapeHtml(s.id)}</td><td>${escapeHtml(s.state)}</td><td>${escapeHtml(s.address)}</td><td>${escapeHtml(s.zone)}</td><td>${s.timestamp}</td><td>${s.tokens.length}</td></tr>`)
      .join('\n');
    return reply
      .type('text/html; charset=utf-8')
      .send(
        `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(o.title)}</title></head><body>\n<h1>${escapeHtml(o.title)}</h1>\n` +
          `<table border="1" cellpadding="4">\n<thead><tr><th>Instance ID</th><th>State</th><th>Address</th><th>Zone</th><th>Last heartbeat</th><th>Tokens</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table>\n</body></html>\n`,
      );
  });
}
