// Duration literals. Tempo tries Prometheus' syntax first (`1d`, `2w`, `1y`, units in descending
// order, no fractions) and falls back to Go's time.ParseDuration (`1.5s`, `300us`, `1µs`, `2h45m`).
// Values are int64 nanoseconds, kept as bigint.

const MAX_I64 = 2n ** 63n - 1n;
const TWO_63 = 2n ** 63n;

const NS = 1n;
const US = 1000n * NS;
const MS = 1000n * US;
const S = 1000n * MS;
const M = 60n * S;
const H = 60n * M;
const D = 24n * H;

const PROM_UNITS: ReadonlyMap<string, { pos: number; mult: bigint }> = new Map([
  ['ms', { pos: 7, mult: MS }],
  ['s', { pos: 6, mult: S }],
  ['m', { pos: 5, mult: M }],
  ['h', { pos: 4, mult: H }],
  ['d', { pos: 3, mult: D }],
  ['w', { pos: 2, mult: 7n * D }],
  ['y', { pos: 1, mult: 365n * D }],
]);

const GO_UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', NS],
  ['us', US],
  ['\u00b5s', US], // µ MICRO SIGN
  ['\u03bcs', US], // μ GREEK SMALL LETTER MU
  ['ms', MS],
  ['s', S],
  ['m', M],
  ['h', H],
]);

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** Prometheus model.ParseDuration; null when `s` is not one. */
function parsePromDuration(s: string): bigint | null {
  if (s === '0') return 0n;
  if (s === '') return null;
  let dur = 0n;
  let lastPos = 0;
  let i = 0;
  while (i < s.length) {
    if (!isDigit(s[i])) return null;
    const start = i;
    while (isDigit(s[i])) i++;
    const v = BigInt(s.slice(start, i));
    if (v > 2n ** 64n - 1n) return null;
    const unitStart = i;
    while (i < s.length && !isDigit(s[i])) i++;
    if (i === unitStart) return null;
    const unit = PROM_UNITS.get(s.slice(unitStart, i));
    if (unit === undefined || unit.pos <= lastPos) return null;
    lastPos = unit.pos;
    if (v > TWO_63 / unit.mult) return null;
    dur += v * unit.mult;
    if (dur > MAX_I64) return null;
  }
  return dur;
}

/** Go time.ParseDuration for unsigned input; null when `s` is not one. */
function parseGoDuration(s: string): bigint | null {
  if (s === '0') return 0n;
  if (s === '') return null;
  let d = 0n;
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (!(c === '.' || isDigit(c))) return null;
    const intStart = i;
    let v = 0n;
    while (isDigit(s[i])) {
      if (v > TWO_63 / 10n) return null;
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > TWO_63) return null;
      i++;
    }
    const pre = i !== intStart;
    let post = false;
    let f = 0n;
    let scale = 1;
    if (s[i] === '.') {
      i++;
      const fracStart = i;
      let overflow = false;
      while (isDigit(s[i])) {
        if (!overflow) {
          if (f > MAX_I64 / 10n) overflow = true;
          else {
            const y = f * 10n + BigInt(s.charCodeAt(i) - 48);
            if (y > TWO_63) overflow = true;
            else {
              f = y;
              scale *= 10;
            }
          }
        }
        i++;
      }
      post = i !== fracStart;
    }
    if (!pre && !post) return null;
    const unitStart = i;
    while (i < s.length && s[i] !== '.' && !isDigit(s[i])) i++;
    if (i === unitStart) return null;
    const unit = GO_UNITS.get(s.slice(unitStart, i));
    if (unit === undefined) return null;
    if (v > TWO_63 / unit) return null;
    v *= unit;
    if (f > 0n) {
      // Go computes the fraction in float64; do the same so values agree to the nanosecond.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > TWO_63) return null;
    }
    d += v;
    if (d > TWO_63) return null;
  }
  if (d > MAX_I64) return null;
  return d;
}

/** Parses a duration literal as Tempo's lexer does; null when it is not a duration. */
export function parseDuration(s: string): bigint | null {
  return parsePromDuration(s) ?? parseGoDuration(s);
}

const FORMAT_UNITS: ReadonlyArray<[string, bigint]> = [
  ['h', H],
  ['m', M],
  ['s', S],
  ['ms', MS],
  ['us', US],
  ['ns', NS],
];

/**
 * Prints nanoseconds as a literal the lexer reads back exactly: integral components from hours
 * down to nanoseconds (`1h30m`, `1s500ms`, `250us`), ASCII `us` for micro.
 */
export function formatDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  let rest = ns < 0n ? -ns : ns;
  let out = ns < 0n ? '-' : '';
  for (const [unit, size] of FORMAT_UNITS) {
    if (rest >= size) {
      out += `${rest / size}${unit}`;
      rest %= size;
    }
  }
  return out;
}
