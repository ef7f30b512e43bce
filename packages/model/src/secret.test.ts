import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Secret, SECRET_MASK } from './secret.js';

describe('Secret', () => {
  it('prints masked (JSON, template string, inspect), empty when unset, and reveals its value', () => {
    const s = new Secret('hunter2');
    expect([JSON.stringify({ s }), `${s}`, inspect(s)]).toEqual([`{"s":"${SECRET_MASK}"}`, SECRET_MASK, SECRET_MASK]);
    expect(s.reveal()).toBe('hunter2');
    expect(JSON.stringify(new Secret())).toBe('""');
  });
});
