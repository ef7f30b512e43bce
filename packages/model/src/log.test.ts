import { describe, expect, it } from 'vitest';
import { RateLimitedLog, createLogger } from './log.js';

describe('logger', () => {
  it('writes one JSON line per entry at or above its level, with fields; a field cannot hide ts, level or msg', () => {
    const lines: string[] = [];
    const log = createLogger('info', { app: 'andante' }, (l) => lines.push(l)).child({ component: 'compactor' });
    log.debug('not written');
    log.info('compacted blocks', { level: 2, msg: 'other', ts: 'then', n: 10n, err: new Error('boom') });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'info', msg: 'compacted blocks', app: 'andante', component: 'compactor', n: '10', err: 'boom' });
    expect(entry['ts']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(Object.keys(entry).slice(0, 3)).toEqual(['ts', 'level', 'msg']);
  });

  it('rate-limits entries per key, counting those left out', async () => {
    const out: string[] = [];
    const limited = new RateLimitedLog(50);
    for (let i = 0; i < 5; i++) limited.log('a', (n) => out.push(`a ${n}`));
    limited.log('b', (n) => out.push(`b ${n}`));
    expect(out).toEqual(['a 0', 'b 0']);
    await new Promise((r) => setTimeout(r, 60));
    limited.log('a', (n) => out.push(`a ${n}`));
    expect(out).toEqual(['a 0', 'b 0', 'a 4']);
  });
});
