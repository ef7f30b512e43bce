// A query's jobs are given up when its HTTP client goes away: the response closes before it ended.

import type { FastifyReply } from 'fastify';

export function requestSignal(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableEnded) ac.abort(new Error('the client closed the request'));
  });
  return ac.signal;
}
