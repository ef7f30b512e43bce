import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

const S = 1_000_000_000n;
const MAX = 2n ** 63n - 1n;

describe('parseDuration: Prometheus syntax first, then Go', () => {
  const cases: Array<[string, bigint | null]> = [
    ['1s', S],
    ['1h30m', 5400n * S],
    ['1d', 86400n * S],
    ['2w', 14n * 86400n * S],
    ['1y', 365n * 86400n * S],
    ['1s500ms', 1500n * 1_000_000n],
    ['1.5s', 1500n * 1_000_000n],
    ['.5s', 500n * 1_000_000n],
    ['1.s', S],
    ['300us', 300_000n],
    ['300µs', 300_000n],
    ['300μs', 300_000n],
    ['50ns', 50n],
    ['1ms500us', 1_500_000n],
    ['1h1h', 7200n * S], // not Prometheus (repeated unit), but Go sums it
    ['0s', 0n],
    ['2562047h47m16s854ms775us807ns', MAX],
    ['2562048h', null],
    ['300y', null],
    ['1m5', null],
    ['5', null],
    ['1x', null],
    ['.s', null],
    ['1.5.5s', null],
    ['', null],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });
});

describe('formatDuration', () => {
  it.each([
    [0n, '0s'],
    [5400n * S, '1h30m'],
    [1500n * 1_000_000n, '1s500ms'],
    [250_000n, '250us'],
    [-10n * S, '-10s'],
    [MAX, '2562047h47m16s854ms775us807ns'],
  ])('%s ns prints as %s', (ns, text) => {
    expect(formatDuration(ns)).toBe(text);
  });

  it('reads back exactly for any int64 duration', () => {
    let x = 0x9e3779b97f4a7c15n;
    for (let i = 0; i < 2000; i++) {
      // xorshift64 keeps this deterministic
      x ^= (x << 13n) & 0xffffffffffffffffn;
      x ^= x >> 7n;
      x ^= (x << 17n) & 0xffffffffffffffffn;
      const ns = (x & MAX) >> BigInt(i % 60);
      expect(parseDuration(formatDuration(ns))).toBe(ns);
    }
  });
});
