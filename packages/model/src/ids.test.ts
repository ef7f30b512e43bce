import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes, parseTraceIdParam } from './ids.js';

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
