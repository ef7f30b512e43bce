// Fuzzing: 10,000 random and mutated queries. Each must parse or throw ParseError (never anything
// else, never a stack overflow), within a bounded time; whatever parses must validate without
// crashing and survive a print/parse round trip. The PRNG is seeded, so a failure reproduces.

import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@andante/model';
import { valid } from './conformance-cases.js';
import { ParseError, ValidationError } from './errors.js';
import { KW } from './lexer.js';
import { parse } from './parse.js';
import { print } from './stringer.js';
import { validate } from './validate.js';

const SEED = 0x7e3b0;
// Hang detection, not a speed test (bench/traceql-parse measures speed): a loaded 2-core CI machine
// has taken 150 ms for one long structural chain.
const PER_CALL_LIMIT_MS = 1_000;
const TOTAL_LIMIT_MS = 20_000;

const rand = mulberry32(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const KEYWORDS = Object.keys(KW);
const PUNCTUATION = [
  ...'{}()[],.=<>!~&|+-*/%^:"`\'#@$?;\\',
  '!=',
  '=~',
  '!~',
  '>=',
  '<=',
  '&&',
  '||',
  '>>',
  '<<',
  '!>',
  '!<',
  '!>>',
  '!<<',
  '&>',
  '&<',
  '&>>',
  '&<<',
  '&~',
  '//',
  '/*',
  '*/',
];
const LITERALS = [
  '0',
  '1',
  '-1',
  '42',
  '3.14',
  '.5',
  '1e3',
  '9223372036854775807',
  '9223372036854775808',
  '1s',
  '1h30m',
  '250ms',
  '5µs',
  '1d',
  '1.5.5s',
  '"str"',
  '"a\\"b"',
  '"unterminated',
  '`raw`',
  'minInt',
  'maxInt',
  'nil',
];
const ATTRIBUTES = [
  '.a',
  '.http.status_code',
  'span.foo',
  'resource.service.name',
  'event.x',
  'link.y',
  'instrumentation.z',
  'parent.a',
  'parent.span.b',
  'span."with space"',
  '."x\\"y"',
  'span.',
  '.',
  'span:name',
  'span:id',
  'trace:id',
  'trace:duration',
  'event:name',
  'link:traceID',
  'instrumentation:version',
  'span:childCount',
];
const TOKENS = [...KEYWORDS, ...PUNCTUATION, ...LITERALS, ...ATTRIBUTES];
const CHARSET = [
  ...'abcxyz_019 \t\n{}()[].,=<>!~&|+-*/%^:"`\'\\#@$?;',
  'µ',
  'é',
  '日',
  '\u0000',
  '\u000b',
  '\u00a0',
  '\u2028',
  '\ud83d\ude00',
  '\ud800',
];

function mutate(q: string): string {
  let s = q;
  for (let n = 1 + int(4); n > 0; n--) {
    const i = int(s.length + 1);
    switch (int(7)) {
      case 0: // delete a character
        s = s.slice(0, i) + s.slice(i + 1);
        break;
      case 1: // insert a character
        s = s.slice(0, i) + pick(CHARSET) + s.slice(i);
        break;
      case 2: // swap two neighbours
        if (i + 1 < s.length) s = s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
        break;
      case 3: // replace a character
        s = s.slice(0, i) + pick(CHARSET) + s.slice(i + 1);
        break;
      case 4: // insert a token
        s = `${s.slice(0, i)} ${pick(TOKENS)} ${s.slice(i)}`;
        break;
      case 5: {
        // delete a span
        const j = i + int(8);
        s = s.slice(0, i) + s.slice(j);
        break;
      }
      default: {
        // duplicate a span
        const j = i + int(12);
        s = s.slice(0, j) + s.slice(i, j) + s.slice(j);
      }
    }
  }
  return s;
}

function tokenSoup(): string {
  const parts: string[] = [];
  for (let n = 1 + int(30); n > 0; n--) parts.push(pick(TOKENS));
  return parts.join(rand() < 0.3 ? '' : ' ');
}

function randomChars(): string {
  let s = '';
  for (let n = int(60); n > 0; n--) s += pick(CHARSET);
  return s;
}

// A small generator of (mostly) well-formed, often well-typed queries, so the round trip and the
// validator see many shapes.
const TYPED_OPERANDS: ReadonlyArray<[string, string[]]> = [
  ['.a', ['1', '"x"', '2.5', 'true', '1s']],
  ['span.http.status_code', ['200', '500', '"404"']],
  ['resource.service.name', ['"checkout"', '"cart"']],
  ['name', ['"GET /"', '"x"']],
  ['status', ['error', 'ok', 'unset']],
  ['kind', ['server', 'client', 'internal']],
  ['duration', ['1s', '100ms', '2s * 3', '1h30m']],
  ['span:childCount', ['0', '10']],
  ['event:name', ['"exception"']],
  ['trace:duration', ['5s']],
];

function genCondition(depth: number): string {
  const r = int(depth > 2 ? 3 : 6);
  if (r <= 2) {
    const [lhs, rhss] = pick(TYPED_OPERANDS);
    const rhs = pick(rhss);
    if (rand() < 0.1) return `${lhs} ${pick(['=', '!='])} nil`;
    const op = rhs.startsWith('"') && rand() < 0.3 ? pick(['=~', '!~']) : pick(['=', '!=', '>', '<', '>=', '<=']);
    return `${lhs} ${op} ${rhs}`;
  }
  if (r === 3) return `!(${genCondition(depth + 1)})`;
  if (r === 4) return `(${genCondition(depth + 1)})`;
  return `${genCondition(depth + 1)} ${pick(['&&', '||'])} ${genCondition(depth + 1)}`;
}

function genField(depth: number): string {
  const r = int(depth > 3 ? 4 : 10);
  switch (r) {
    case 0:
      return pick(ATTRIBUTES.filter((a) => !a.endsWith('.')));
    case 1:
      return pick(['name', 'status', 'duration', 'kind', 'statusMessage', 'rootName', 'traceDuration', 'nestedSetLeft']);
    case 2:
      return pick(LITERALS.filter((l) => !l.includes('unterminated') && l !== 'nil' && !l.startsWith('9223372036854775808')));
    case 3:
      return pick(['true', 'false', 'ok', 'error', 'unset', 'server', 'client', 'internal']);
    case 4:
    case 5:
    case 6:
      return `${genField(depth + 1)} ${pick(['=', '!=', '<', '<=', '>', '>=', '=~', '!~', '+', '-', '*', '/', '%', '^', '&&', '||'])} ${genField(depth + 1)}`;
    case 7:
      return `${pick(['-', '!'])}${genField(depth + 1)}`;
    case 8:
      return `(${genField(depth + 1)})`;
    default:
      return `${genField(depth + 1)} ${pick(['=', '!='])} nil`;
  }
}

function genSpanset(depth: number): string {
  const r = int(depth > 2 ? 1 : 4);
  if (r === 0) return rand() < 0.1 ? '{ }' : `{ ${rand() < 0.7 ? genCondition(0) : genField(0)} }`;
  if (r === 3) return `(${genSpanset(depth + 1)})`;
  const op = pick(['&&', '||', '>', '<', '>>', '<<', '~', '!>', '!<', '!>>', '!<<', '!~', '&>', '&<', '&>>', '&<<', '&~']);
  return `${genSpanset(depth + 1)} ${op} ${genSpanset(depth + 1)}`;
}

function genPipeline(): string {
  const stages = [genSpanset(0)];
  for (let n = int(4); n > 0; n--) {
    stages.push(
      pick([
        () => genSpanset(1),
        () => `count() ${pick(['>', '<', '=', '!='])} ${int(10)}`,
        () => `${pick(['avg', 'min', 'max', 'sum'])}(${pick(['duration', '.a', 'span:childCount', genField(2)])}) > ${pick(['1s', '2', '0.5', '1 - 3'])}`,
        () => `by(${pick(['.a', 'resource.service.name', genField(2)])})`,
        () => 'coalesce()',
        () => `select(${pick(ATTRIBUTES.filter((a) => !a.endsWith('.')))}, name)`,
      ])(),
    );
  }
  return stages.join(' | ');
}

function genMetrics(): string {
  const fn = pick([
    'rate()',
    'count_over_time()',
    `${pick(['min', 'max', 'avg', 'sum', 'histogram'])}_over_time(duration)`,
    'quantile_over_time(duration, .5, .99)',
    'compare({ status = error })',
  ]);
  const by = rand() < 0.5 ? ` by (${pick(ATTRIBUTES.filter((a) => !a.endsWith('.')))})` : '';
  let q = `${genPipeline()} | ${fn}${by}`;
  for (let n = int(3); n > 0; n--) q += pick([` | topk(${int(5)})`, ` | bottomk(${int(5)})`, ` > ${int(9)}`, ' <= 1.5']);
  return q;
}

function genQuery(): string {
  let q: string;
  switch (int(4)) {
    case 0:
      q = genPipeline();
      break;
    case 1:
      q = genMetrics();
      break;
    case 2:
      q = `(${genMetrics()}) ${pick(['+', '-', '*', '/'])} ${rand() < 0.5 ? `(${genMetrics()})` : pick(['2', '0.5', '-3'])}`;
      break;
    default:
      q = `(${genPipeline()}) ${pick(['&&', '>>', '~'])} (${genPipeline()})`;
  }
  return rand() < 0.2 ? `${q} with (${pick(['sample=0.1', 'most_recent=true', 'exemplars=true, sample=true'])})` : q;
}

function pathological(): string[] {
  const out: string[] = [];
  // Deep nesting is refused at the nesting limit, so even 5,000 levels cost little.
  for (const n of [100, 1000, 5000]) {
    out.push(
      '('.repeat(n),
      '{'.repeat(n),
      '['.repeat(n),
      `${'('.repeat(n)}{ }${')'.repeat(n)}`,
      `${'('.repeat(n)}{ } | rate()`,
      `{ ${'('.repeat(n)}.a${')'.repeat(n)} }`,
      `{ ${'-'.repeat(n)}.a = 1 }`,
      `{ ${'!'.repeat(n)}.a }`,
      `{ ${Array(n).fill('2').join(' ^ ')} = 1 }`,
      `${Array(n).fill('2').join(' ^ ')} + ({ } | rate())`,
      `${'-'.repeat(n)}1 + ({ } | rate())`,
    );
  }
  // Long flat chains are loops, not recursion; sized to stay well inside the time bound.
  for (const n of [100, 1000, 2000]) {
    out.push(
      `{ ${Array(n).fill('.a = 1').join(' || ')} }`,
      `{ ${Array(n).fill('.a').join(' + ')} = 1 }`,
      `{ .a${' = nil'.repeat(n)} }`,
      Array(n).fill('{ .a }').join(' && '),
      Array(n).fill('{ .a }').join(' >> '),
      Array(n).fill('{ .a }').join(' | '),
      `${Array(n).fill('({ } | rate())').join(' + ')}`,
      `{ } | rate()${' > 1'.repeat(n)}`,
      `{ } | rate()${' | topk(1)'.repeat(n)}`,
      `count()${' + count()'.repeat(n)} > 1`,
      `{ .a = "${'x'.repeat(n * 10)}" }`,
      `{ span."${'y'.repeat(n * 10)}" = 1 }`,
      `{ .a = "${'\\"'.repeat(n)}" }`,
      `/*${' '.repeat(n * 10)}`,
      `{ } with (${Array(n).fill('a=1').join(', ')})`,
      '"'.repeat(n),
      '`'.repeat(n),
      '.'.repeat(n),
      '|'.repeat(n),
      '1'.repeat(n),
      `{ .a = ${'9'.repeat(n)} }`,
      `{ duration > ${'1h'.repeat(n)} }`,
    );
  }
  return out;
}

/** Structural equality that does not recurse on long left-leaning chains (iterative). */
function sameTree(a: unknown, b: unknown): boolean {
  const stack: Array<[unknown, unknown]> = [[a, b]];
  while (stack.length > 0) {
    const [x, y] = stack.pop()!;
    if (Object.is(x, y)) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    if (Array.isArray(x) !== Array.isArray(y)) return false;
    const kx = Object.keys(x);
    const ky = Object.keys(y);
    if (kx.length !== ky.length) return false;
    for (const k of kx) {
      if (!Object.prototype.hasOwnProperty.call(y, k)) return false;
      stack.push([(x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]]);
    }
  }
  return true;
}

/** Runs fn and returns its duration; a slow first run is retried so GC or CPU contention from
 * parallel test files does not count as slowness of the parser. */
function timed(fn: () => void): number {
  let best = Infinity;
  for (let attempt = 0; attempt < 3 && best >= PER_CALL_LIMIT_MS; attempt++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

describe('fuzz', () => {
  it('10,000 random and mutated queries parse or fail with ParseError, quickly', () => {
    parse('{ }'); // build the parser outside the timed loop
    const inputs: string[] = [...pathological()];
    while (inputs.length < 1500) inputs.push(genQuery());
    while (inputs.length < 5500) inputs.push(mutate(rand() < 0.5 ? pick(valid) : genQuery()));
    while (inputs.length < 8000) inputs.push(tokenSoup());
    while (inputs.length < 10_000) inputs.push(randomChars());
    expect(inputs.length).toBe(10_000);

    const stats = { parsed: 0, parseErrors: 0, validated: 0, invalid: 0, slowest: 0, slowestQuery: '' };
    const problems: string[] = [];
    const start = performance.now();
    for (const query of inputs) {
      const label = JSON.stringify(query.length > 120 ? `${query.slice(0, 120)}...` : query);
      let outcome: unknown;
      const ms = timed(() => {
        try {
          outcome = parse(query);
        } catch (err) {
          outcome = err;
        }
      });
      if (ms > stats.slowest) {
        stats.slowest = ms;
        stats.slowestQuery = label;
      }
      if (ms >= PER_CALL_LIMIT_MS) problems.push(`slow (${ms.toFixed(1)} ms): ${label}`);
      if (outcome instanceof Error) {
        if (!(outcome instanceof ParseError)) {
          problems.push(`threw ${outcome.name}: ${outcome.message} for ${label}`);
          continue;
        }
        stats.parseErrors++;
        if (outcome.line < 1 || outcome.column < 1 || /internal parser error|too deeply nested/.test(outcome.detail)) {
          problems.push(`bad ParseError "${outcome.message}" for ${label}`);
        }
        continue;
      }
      stats.parsed++;
      const ast = outcome as ReturnType<typeof parse>;
      try {
        validate(ast);
        stats.validated++;
      } catch (err) {
        if (!(err instanceof ValidationError)) {
          problems.push(`validate threw ${(err as Error).name}: ${(err as Error).message} for ${label}`);
        }
        stats.invalid++;
      }
      try {
        const printed = print(ast);
        const again = parse(printed);
        if (!sameTree(again, ast)) problems.push(`round trip changed the AST: ${label} printed as ${printed}`);
        else if (print(again) !== printed) problems.push(`printing is not stable: ${label}`);
      } catch (err) {
        problems.push(`round trip failed (${(err as Error).message}) for ${label}`);
      }
    }
    const total = performance.now() - start;
    console.log(
      `fuzz: ${inputs.length} inputs in ${total.toFixed(0)} ms; ${stats.parsed} parsed (${stats.validated} valid, ` +
        `${stats.invalid} invalid), ${stats.parseErrors} ParseErrors; slowest ${stats.slowest.toFixed(2)} ms ${stats.slowestQuery}`,
    );
    expect(problems.slice(0, 20)).toEqual([]);
    expect(total).toBeLessThan(TOTAL_LIMIT_MS);
    // The generators must actually exercise both outcomes.
    expect(stats.parsed).toBeGreaterThan(1000);
    expect(stats.parseErrors).toBeGreaterThan(3000);
  });
});
