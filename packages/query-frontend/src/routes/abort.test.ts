import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { FastifyReply } from 'fastify';
import { requestSignal } from './abort.js';

describe('requestSignal', () => {
  it('aborts when the client goes away before the answer, and takes a listener per job without a leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const raw = Object.assign(new EventEmitter(), { writableEnded: false });
      const signal = requestSignal({ raw } as unknown as FastifyReply);
      for (let i = 0; i < 64; i++) signal.addEventListener('abort', () => undefined);
      await new Promise((r) => setTimeout(r, 20));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
      raw.emit('close');
      expect(signal.aborted).toBe(true);
      expect(String(signal.reason)).toContain('the client closed the request');
    } finally {
      process.off('warning', onWarning);
    }
  });
});
