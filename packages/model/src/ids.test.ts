import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes, inTokenRanges, parseTraceIdParam } from './ids.js';

describe('bytesToHex', () => {
  it('writes lowercase hex for every length, short and long, and for views at an offset', () => {
    for (let n = 0; n <= 70; n++) {
      const bytes = randomBytes(n + 5).subarray(3, 3 + n);
      expect(bytesToHex(bytes)).toBe(Buffer.from(bytes).toString('hex'));
    }
    expect(bytesToHex(new Uint8Array([0, 1, 0xab, 0xff]))).toBe('0001abff');
  });

  it('round-trips through hexToBytes', () => {
    const id = randomBytes(16);
    expect(hexToBytes(bytesToHex(id))).toEqual(new Uint8Array(id));
    expect(bytesToHex(parseTraceIdParam('abc'))).toBe('00000000000000000000000000000abc');
  });
});

describe('inTokenRanges', () => {
  it('finds a token in sorted inclusive ranges', () => {
    const ranges = [0, 99, 1000, 2000, 0xffff_0000, 0xffff_ffff];
    expect([0, 99, 100, 999, 1000, 1500, 2000, 2001, 0xffff_0000, 0xffff_ffff].map((t) => inTokenRanges(ranges, t))).toEqual([true, true, false, false, true, true, true, false, true, true]);
    expect(inTokenRanges([], 5)).toBe(false);
  });
});
