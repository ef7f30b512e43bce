import { describe, expect, it } from 'vitest';
import type { RootExpr } from './ast.js';
import { MIN_INT } from './ast.js';
import { parse } from './parse.js';
import { print } from './stringer.js';

function roundTrips(ast: RootExpr): string {
  const printed = print(ast);
  expect(parse(printed), printed).toStrictEqual(ast);
  return printed;
}

describe('print', () => {
  it.each<[string, string]>([
    ['{resource.service.name="checkout"&&duration>2s&&status=error}', '{ resource.service.name = "checkout" && duration > 2s && status = error }'],
    ['{ span:duration > 1.5s }', '{ duration > 1s500ms }'],
    ['{ (.a || .b) && .c }', '{ (.a || .b) && .c }'],
    ['{ .a || (.b && .c) }', '{ .a || (.b && .c) }'],
    ['{ (-.a) * 2 = 1 }', '{ (-.a) * 2 = 1 }'],
    ['{ -(.a * 2) = 1 }', '{ -.a * 2 = 1 }'],
    ['{ .a * (-.b) * .c = 1 }', '{ (.a * -.b) * .c = 1 }'],
    ['{ (2 ^ 3) ^ 2 = 64 }', '{ (2 ^ 3) ^ 2 = 64 }'],
    ['{ 2 ^ (3 ^ 2) = 512 }', '{ 2 ^ 3 ^ 2 = 512 }'],
    ['{ .a = (.b = nil) }', '{ .a = (.b = nil) }'],
    ['{ (.a && .b) = nil }', '{ (.a && .b) = nil }'],
    ['{ .x = minInt || .y = maxInt }', '{ .x = minInt || .y = maxInt }'],
    ['{ .x = 3.0 }', '{ .x = 3.0 }'],
    ['{ ."5xx" = 1 }', '{ ."5xx" = 1 }'],
    ['{ parent."span.x" = 1 }', '{ parent."span.x" = 1 }'],
    ['{ span."a b" = "tab\\there" }', '{ span."a b" = "tab\\there" }'],
    ['{ .a = "\\x01" }', '{ .a = "\\x01" }'],
    ['{ .a } && ({ .b } || { .c })', '{ .a } && ({ .b } || { .c })'],
    ['({ .a } || { .b }) && { .c }', '({ .a } || { .b }) && { .c }'],
    ['{ .a } > ({ .b } > { .c })', '{ .a } > ({ .b } > { .c })'],
    ['({ .a } | count() > 1) && { .b }', '({ .a } | count() > 1) && { .b }'],
    ['{ } | rate() by(.a)|topk(3)', '{ } | rate() by (.a) | topk(3)'],
    ['({ } | rate()) - (({ } | rate()) - 1)', '({ } | rate()) - (({ } | rate()) - 1)'],
    ['({ } | rate()) > -0.0', '{ } | rate() > -0.0'],
    ['{ } with(sample=0.1,most_recent=true)', '{ } with (sample=0.1, most_recent=true)'],
  ])('%s', (query, expected) => {
    expect(roundTrips(parse(query))).toBe(expected);
  });

  it('writes folded values that no literal spells as arithmetic', () => {
    expect(roundTrips(parse('({ } | rate()) > 1.0 / 0.0'))).toBe('{ } | rate() > (1.0 / 0.0)');
    expect(roundTrips(parse('({ } | rate()) > -1.0 / 0.0'))).toBe('{ } | rate() > (-1.0 / 0.0)');
    const nan = parse('({ } | rate()) * (0.0 / 0.0)');
    expect(print(nan)).toBe('({ } | rate()) * (0.0 / 0.0)');
    const minInt = parse('avg(.a) > -9223372036854775807 - 1');
    expect(minInt.query.kind === 'pipeline' && minInt.query.elements[0]).toMatchObject({ rhs: { value: MIN_INT } });
    expect(roundTrips(minInt)).toBe('avg(.a) > (-9223372036854775807 - 1)');
  });

  it('prints any node, not only whole queries', () => {
    const root = parse('{ span.a = 1 } | count() > 2');
    expect(root.query.kind === 'pipeline' && root.query.elements.map(print)).toEqual(['{ span.a = 1 }', 'count() > 2']);
  });

  it('handles chains far longer than the nesting limit without recursion', () => {
    const query = `{ ${Array.from({ length: 20_000 }, (_, i) => `.a = ${i}`).join(' || ')} }`;
    const printed = print(parse(query));
    expect(printed).toBe(query);
  });
});
