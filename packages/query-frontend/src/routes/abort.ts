// A query's jobs are given up when its HTTP client goes away: the response closes before it ended.

import { setMaxListeners } from 'node:events';
import type { FastifyReply } from 'fastify';

export function requestSignal(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  // Every job of the query listens on it while queued or running: a query over many blocks has
  // more than Node's default of 10 at once, which is no leak (each is removed when its job ends).
  setMaxListeners(0, ac.signal);
  reply.raw.once('close', () => {
    if (!reply.raw.writableEnded) ac.abort(new Error('the client closed the request'));
  });
  return ac.signal;
}
