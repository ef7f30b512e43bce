// A ring status page, as dskit's: JSON (`shards[]` with id, state, address, timestamp, tokens,
// zone) for curl and tools, an HTML table for a browser (a request whose Accept prefers
// text/html), and a "forget" action (POST, form field `forget=<id>`) that removes an UNHEALTHY
// member, whose entry would otherwise stay in the ring for good.

import type { FastifyInstance } from 'fastify';
import type { RingSnapshot, RingStore } from '@andante/ring';

export interface RingPageOptions {
  path: string;
  title: string;
  store: RingStore;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Whether the client asked for HTML before JSON (a browser); curl's `*\/*` gets JSON. */
function wantsHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = accept.indexOf('text/html');
  const json = accept.indexOf('application/json');
  return html >= 0 && (json < 0 || html < json);
}

const FORM = 'application/x-www-form-urlencoded';

export function registerRingPage(app: FastifyInstance, o: RingPageOptions): void {
  // HTML forms post urlencoded bodies; Fastify parses only JSON and text by itself.
  if (!app.hasContentTypeParser(FORM)) {
    app.addContentTypeParser(FORM, { parseAs: 'string' }, (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))));
  }

  // The view placement uses: while the store is unreachable, health is judged as of the last contact.
  const shards = (): { ring: RingSnapshot; shards: Shard[] } => {
    const ring = o.store.snapshot();
    return {
      ring,
      shards: [...ring.instances]
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((i) => ({
          id: i.id,
          state: ring.displayState(i),
          address: i.address,
          timestamp: new Date(i.heartbeatMs).toISOString(),
          registered_timestamp: new Date(i.registeredMs).toISOString(),
          zone: i.zone,
          tokens: i.tokens,
        })),
    };
  };

  app.get(o.path, async (req, reply) => {
    const { shards: list } = shards();
    if (!wantsHtml(req.headers.accept)) return reply.type('application/json').send({ shards: list, now: new Date().toISOString(), kvstore_reachable: o.store.isConnected });
    return reply.type('text/html; charset=utf-8').send(renderHtml(o.title, list, o.store.isConnected));
  });

  app.post<{ Body: { forget?: unknown } | undefined }>(o.path, async (req, reply) => {
    const id = req.body && typeof req.body === 'object' ? req.body.forget : undefined;
    if (typeof id !== 'string' || id === '') return reply.code(400).type('text/plain').send('expected a form field forget=<instance id>\n');
    const { shards: list } = shards();
    const shard = list.find((s) => s.id === id);
    if (!shard) return reply.code(404).type('text/plain').send(`instance ${JSON.stringify(id)} is not in the ring\n`);
    if (shard.state !== 'UNHEALTHY') {
      return reply.code(400).type('text/plain').send(`instance ${JSON.stringify(id)} is ${shard.state}; only UNHEALTHY instances can be forgotten (a live one would register again)\n`);
    }
    await o.store.forget(id);
    // Post/Redirect/Get, as dskit: the browser reloads the page instead of re-posting.
    return reply.code(302).header('location', o.path).send();
  });
}

interface Shard {
  id: string;
  state: string;
  address: string;
  timestamp: string;
  registered_timestamp: string;
  zone: string;
  tokens: number[];
}

function renderHtml(title: string, shards: Shard[], reachable: boolean): string {
  const rows = shards
    .map((s) => {
      const forget =
        s.state === 'UNHEALTHY' ? `<form method="post"><input type="hidden" name="forget" value="${escapeHtml(s.id)}"><button type="submit">Forget</button></form>` : '';
      return `<tr><td>${escapeHtml(s.id)}</td><td>${escapeHtml(s.state)}</td><td>${escapeHtml(s.address)}</td><td>${escapeHtml(s.zone)}</td><td>${s.timestamp}</td><td>${s.tokens.length}</td><td>${forget}</td></tr>`;
    })
    .join('\n');
  return (
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>\n<h1>${escapeHtml(title)}</h1>\n` +
    (reachable ? '' : '<p><strong>The ring store is unreachable: this is the last known ring.</strong></p>\n') +
    `<table border="1" cellpadding="4">\n<thead><tr><th>Instance ID</th><th>State</th><th>Address</th><th>Zone</th><th>Last heartbeat</th><th>Tokens</th><th>Actions</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table>\n</body></html>\n`
  );
}
