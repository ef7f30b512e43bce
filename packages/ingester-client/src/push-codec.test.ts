import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@andante/model';
import { decodePushRequest, decodePushResponse, encodePushRequest, encodePushResponse } from './push-codec.js';

/** Decoded bytes are Buffers (zero-copy views of the message); compare contents. */
const plain = (v: unknown): unknown =>
  v instanceof Uint8Array ? [...v] : Array.isArray(v) ? v.map(plain) : typeof v === 'object' && v !== null ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) : v;
const id = (n: number): Uint8Array => Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? n : i));

describe('ingester push codec', () => {
  it('round-trips a request, keeping segment bytes and 64-bit times exactly', () => {
    const req = {
      tenantId: 'tenant-a',
      segments: [
        { traceId: id(1), bytes: Uint8Array.of(10, 3, 1, 2, 3), spanCount: 2, startTimeUnixNano: 1_700_000_000_123_456_789n, endTimeUnixNano: 0xffff_ffff_ffff_fffen },
        { traceId: id(2), bytes: Uint8Array.of(10, 0), spanCount: 1, startTimeUnixNano: 0n, endTimeUnixNano: 5n },
      ],
    };
    const back = decodePushRequest(encodePushRequest(req));
    expect(plain(back)).toEqual(plain(req));
    expect(back.segments[0]!.endTimeUnixNano).toBe(0xffff_ffff_ffff_fffen);
  });

  it('round-trips a response with per-trace refusals', () => {
    const res = { rejected: [{ traceId: id(3), spanCount: 7, reason: 'trace_too_large' as const, message: 'too big' }] };
    expect(plain(decodePushResponse(encodePushResponse(res)))).toEqual(plain(res));
    expect(decodePushResponse(new Uint8Array(0))).toEqual({ rejected: [] });
  });

  it.each([
    ['garbage', Uint8Array.of(0xff, 0xff, 0xff)],
    ['a truncated segment', encodePushRequest({ tenantId: 't', segments: [{ traceId: id(1), bytes: Uint8Array.of(1), spanCount: 1, startTimeUnixNano: 0n, endTimeUnixNano: 0n }] }).slice(0, -3)],
    ['no tenant', encodePushRequest({ tenantId: '', segments: [] })],
    ['a short trace id', encodePushRequest({ tenantId: 't', segments: [{ traceId: Uint8Array.of(1, 2), bytes: Uint8Array.of(1), spanCount: 1, startTimeUnixNano: 0n, endTimeUnixNano: 0n }] })],
    ['a segment without spans', encodePushRequest({ tenantId: 't', segments: [{ traceId: id(1), bytes: Uint8Array.of(1), spanCount: 0, startTimeUnixNano: 0n, endTimeUnixNano: 0n }] })],
  ])('refuses %s with InvalidArgumentError', (_what, buf) => {
    expect(() => decodePushRequest(buf)).toThrow(InvalidArgumentError);
  });
});
