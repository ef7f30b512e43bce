import { describe, expect, it } from 'vitest';
import { LimitExceededError } from '@andante/model';
import { TenantRateLimiter } from './rate-limiter.js';

describe('TenantRateLimiter', () => {
  it('allows a burst, refuses beyond it, and refills at the rate', () => {
    let now = 0;
    const limiter = new TenantRateLimiter(() => now);
    limiter.take('t', 600, 100, 1000);
    limiter.take('t', 400, 100, 1000);
    let err: unknown;
    try {
      limiter.take('t', 50, 100, 1000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LimitExceededError);
    expect((err as LimitExceededError).code).toBe('RATE_LIMITED');
    expect((err as LimitExceededError).httpStatus).toBe(429);
    expect((err as LimitExceededError).message).toContain('ingestion.rate_limit_bytes');
    expect((err as LimitExceededError).retryAfterSeconds).toBe(1);
    now = 500; // +50 bytes
    limiter.take('t', 50, 100, 1000);
    expect(() => limiter.take('t', 1, 100, 1000)).toThrow('RATE_LIMITED');
  });

  it('keeps tenants apart and refuses a batch larger than the burst outright', () => {
    const limiter = new TenantRateLimiter(() => 0);
    limiter.take('a', 1000, 100, 1000);
    limiter.take('b', 1000, 100, 1000);
    expect(() => limiter.take('c', 1001, 100, 1000)).toThrow(/batch size \(1001 bytes\) exceeds/);
  });
});
