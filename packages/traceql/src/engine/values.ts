// Runtime values and Tempo's rules for comparing and combining them (pkg/traceql ast_execute.go,
// enum_statics.go). A value is a plain JS value whose type comes from its node when the node's
// type is known before reading spans, and from `typeof` when it comes from an attribute:
//   int -> bigint, float -> number, string, bool -> boolean, array -> AnyValue[], nil -> undefined;
//   duration is a bigint, status and kind are OTLP code numbers, known only from the node's type.

import type { AnyValue } from '@andante/model';

export const T_NIL = 0;
export const T_INT = 1;
export const T_FLOAT = 2;
export const T_STR = 3;
export const T_BOOL = 4;
export const T_DUR = 5;
export const T_STATUS = 6;
export const T_KIND = 7;
export const T_ARR = 8;
/** The node's type is only known per span (an attribute, or arithmetic on one). */
export const T_DYN = -1;

export const STATUS_CODES: Readonly<Record<string, number>> = { unset: 0, ok: 1, error: 2 };
const STATUS_NAMES = ['unset', 'ok', 'error'];
export const KIND_CODES: Readonly<Record<string, number>> = { unspecified: 0, internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
const KIND_NAMES = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? `status(${code})`;
}
export function kindName(code: number): string {
  return KIND_NAMES[code] ?? `kind(${code})`;
}

type AnyFields = { stringValue?: string; intValue?: bigint; doubleValue?: number; boolValue?: boolean; arrayValue?: { values: AnyValue[] } };

/** An attribute's value as a runtime value; kvlist, bytes and empty values are not searchable (nil). */
export function anyToValue(v: AnyValue | undefined): unknown {
  if (v === undefined) return undefined;
  const f = v as AnyFields;
  if (f.stringValue !== undefined) return f.stringValue;
  if (f.intValue !== undefined) return f.intValue;
  if (f.doubleValue !== undefined) return f.doubleValue;
  if (f.boolValue !== undefined) return f.boolValue;
  if (f.arrayValue !== undefined) return f.arrayValue.values;
  return undefined;
}

/** The type of a value read from an attribute. */
export function typeOfDyn(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return T_STR;
    case 'bigint':
      return T_INT;
    case 'number':
      return T_FLOAT;
    case 'boolean':
      return T_BOOL;
    case 'object':
      return Array.isArray(v) ? T_ARR : T_NIL;
    default:
      return T_NIL;
  }
}

/** The runtime type of `v` produced by a node whose static type is `t`. */
export function typeOf(t: number, v: unknown): number {
  if (t === T_DYN) return typeOfDyn(v);
  return v === undefined ? T_NIL : t;
}

function isNumeric(t: number): boolean {
  return t === T_INT || t === T_FLOAT || t === T_DUR;
}

/**
 * Go orders strings by bytes (UTF-8), JavaScript by UTF-16 units; they differ only where one side
 * is a surrogate (a code point above U+FFFF) and the other a unit in U+E000..U+FFFF.
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
      y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    }
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

function ordered(op: CompareOp, c: number): boolean {
  switch (op) {
    case '=':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

/** `a op b` for two scalars (no arrays). Type mismatches and nil are false, as in Tempo. */
export function compareScalars(op: CompareOp, ta: number, a: unknown, tb: number, b: unknown): boolean {
  if (ta === T_NIL || tb === T_NIL) return false;
  if (isNumeric(ta) && isNumeric(tb)) {
    // Mixed bigint/number comparisons are exact in JavaScript (Tempo goes through float64).
    const x = a as bigint | number;
    const y = b as bigint | number;
    switch (op) {
      case '=':
        return x == y;
      case '!=':
        return x != y;
      case '<':
        return x < y;
      case '<=':
        return x <= y;
      case '>':
        return x > y;
      case '>=':
        return x >= y;
    }
  }
  if (ta !== tb) return false;
  switch (ta) {
    case T_STR:
      return ordered(op, compareStrings(a as string, b as string));
    case T_BOOL:
    case T_STATUS:
    case T_KIND:
      // Only equality is defined on these.
      if (op === '=') return a === b;
      if (op === '!=') return a !== b;
      return false;
    default:
      return false;
  }
}

const FLIP: Readonly<Record<CompareOp, CompareOp>> = { '=': '=', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

export function flipOp(op: CompareOp): CompareOp {
  return FLIP[op];
}

/**
 * `a op b` with Tempo's array rules: an array against a scalar compares element by element;
 * `=` and orderings hold when any element does, `!=` only when every element does ("no element
 * equals"). Two arrays never compare (Tempo errors).
 */
export function compareValues(op: CompareOp, ta: number, a: unknown, tb: number, b: unknown): boolean {
  if (ta === T_ARR || tb === T_ARR) {
    if (ta === T_ARR && tb === T_ARR) return false;
    const arr = (ta === T_ARR ? a : b) as AnyValue[];
    const all = op === '!=';
    for (const e of arr) {
      const ev = anyToValue(e);
      const et = typeOfDyn(ev);
      const ok = et === T_ARR ? false : ta === T_ARR ? compareScalars(op, et, ev, tb, b) : compareScalars(op, ta, a, et, ev);
      if (all && !ok) return false;
      if (!all && ok) return true;
    }
    return all;
  }
  return compareScalars(op, ta, a, tb, b);
}

/** A string test applied to a value: strings directly, arrays by `any` (or `all` when negated). */
export function testStringValue(t: number, v: unknown, test: (s: string) => boolean, all: boolean): boolean {
  if (t === T_STR) return test(v as string);
  if (t !== T_ARR) return false;
  for (const e of v as AnyValue[]) {
    const s = (e as AnyFields).stringValue;
    const ok = s !== undefined && test(s);
    if (all && !ok) return false;
    if (!all && ok) return true;
  }
  return all;
}

const I64_MAX = 2n ** 63n - 1n;
const I64_MIN = -(2n ** 63n);

/** Integer power as Tempo means it (base ^ exponent), saturating on overflow; negative exponents round toward zero. */
function intPow(base: bigint, exp: bigint): bigint {
  if (exp < 0n) {
    if (base === 1n) return 1n;
    if (base === -1n) return exp % 2n === 0n ? 1n : -1n;
    return 0n;
  }
  if (base === 0n || base === 1n) return exp === 0n ? 1n : base;
  if (base === -1n) return exp % 2n === 0n ? 1n : -1n;
  // |base| >= 2: anything past 2^63 saturates, which bounds the loop to 64 rounds.
  let r = 1n;
  for (let i = 0n; i < exp; i++) {
    r *= base;
    if (r > I64_MAX) return I64_MAX;
    if (r < I64_MIN) return I64_MIN;
  }
  return r;
}

export type ArithOp = '+' | '-' | '*' | '/' | '%' | '^';

/**
 * `a op b`: int with int stays int (int64 wrap-around, truncating division), any other pair of
 * numbers is float, anything else is nil. Integer division or modulo by zero is nil, where Tempo
 * fails the whole query.
 */
export function arith(op: ArithOp, ta: number, a: unknown, tb: number, b: unknown): unknown {
  if (ta === T_INT && tb === T_INT) {
    const x = a as bigint;
    const y = b as bigint;
    switch (op) {
      case '+':
        return BigInt.asIntN(64, x + y);
      case '-':
        return BigInt.asIntN(64, x - y);
      case '*':
        return BigInt.asIntN(64, x * y);
      case '/':
        return y === 0n ? undefined : BigInt.asIntN(64, x / y);
      case '%':
        return y === 0n ? undefined : x % y;
      case '^':
        return intPow(x, y);
    }
  }
  if (!isNumeric(ta) || !isNumeric(tb)) return undefined;
  const x = Number(a as bigint | number);
  const y = Number(b as bigint | number);
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      return x / y;
    case '%':
      return x % y;
    case '^':
      return Math.pow(x, y);
  }
}

/** The static result type of `lt op rt` when both are known. */
export function arithType(lt: number, rt: number): number {
  if (lt === T_DYN || rt === T_DYN) return T_DYN;
  if (lt === T_INT && rt === T_INT) return T_INT;
  if (isNumeric(lt) && isNumeric(rt)) return T_FLOAT;
  return T_NIL;
}

export function negate(t: number, v: unknown): unknown {
  switch (t) {
    case T_INT:
      return BigInt.asIntN(64, -(v as bigint));
    case T_DUR:
      return -(v as bigint);
    case T_FLOAT:
      return -(v as number);
    default:
      return undefined;
  }
}

function fraction(v: bigint, unit: bigint, digits: number): string {
  const whole = v / unit;
  const frac = v % unit;
  if (frac === 0n) return String(whole);
  return `${whole}.${frac.toString().padStart(digits, '0').replace(/0+$/, '')}`;
}

/** Go's time.Duration.String(): `1h2m3.5s`, `1.5ms`, `250µs`, `0s`. Tempo writes durations so in results. */
export function goDuration(d: bigint): string {
  if (d === 0n) return '0s';
  const sign = d < 0n ? '-' : '';
  let u = d < 0n ? -d : d;
  if (u < 1000n) return `${sign}${u}ns`;
  if (u < 1_000_000n) return `${sign}${fraction(u, 1000n, 3)}µs`;
  if (u < 1_000_000_000n) return `${sign}${fraction(u, 1_000_000n, 6)}ms`;
  const h = u / 3_600_000_000_000n;
  u %= 3_600_000_000_000n;
  const m = u / 60_000_000_000n;
  u %= 60_000_000_000n;
  let out = sign;
  if (h > 0n) out += `${h}h`;
  if (h > 0n || m > 0n) out += `${m}m`;
  return `${out}${fraction(u, 1_000_000_000n, 9)}s`;
}

/** A runtime value as OTLP AnyValue, written the way Tempo writes search results (Static.AsAnyValue). */
export function valueToAny(t: number, v: unknown): AnyValue {
  switch (t) {
    case T_INT:
      return { intValue: v as bigint };
    case T_FLOAT:
      return { doubleValue: v as number };
    case T_STR:
      return { stringValue: v as string };
    case T_BOOL:
      return { boolValue: v as boolean };
    case T_DUR:
      return { stringValue: goDuration(v as bigint) };
    case T_STATUS:
      return { stringValue: statusName(v as number) };
    case T_KIND:
      return { stringValue: kindName(v as number) };
    case T_ARR:
      return { arrayValue: { values: v as AnyValue[] } };
    default:
      return { stringValue: 'nil' };
  }
}

/** A key that tells values apart by type and content (Tempo's Static.MapKey), for by() groups. */
export function groupKey(t: number, v: unknown): string {
  switch (t) {
    case T_NIL:
      return 'n';
    case T_ARR:
      return `a${JSON.stringify((v as AnyValue[]).map((e) => {
        const x = anyToValue(e);
        return `${typeOfDyn(x)}:${String(x)}`;
      }))}`;
    case T_FLOAT:
      return `${t}:${Object.is(v, -0) ? '-0' : String(v)}`;
    default:
      return `${t}:${String(v)}`;
  }
}
