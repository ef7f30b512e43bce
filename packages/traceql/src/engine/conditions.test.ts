import { describe, expect, it } from 'vitest';
import { parse } from '../parse.js';
import { print } from '../stringer.js';
import { queryConditions } from './conditions.js';

/** Conditions as `scope:name op literal` strings. */
function conds(q: string): string[] {
  return queryConditions(parse(q)).conditions.map((c) => `${c.scope}:${c.name}${c.op ? ` ${c.op}` : ''}${c.literal ? ` ${print(c.literal)}` : ''}`);
}

function prune(q: string): string {
  return queryConditions(parse(q)).prune;
}

describe('queryConditions', () => {
  it.each([
    ['{ } | count() > 1000', 1001],
    ['{ .a = 1 } | count() >= 3', 3],
    ['{ } | 2 < count()', 3],
    ['{ } | 4 <= count()', 4],
    ['{ } | count() = 4', 4],
    ['{ } | count() > 2.5', 3],
    ['{ } | count() > 2 | by(.x) | count() > 7', 8],
    ['count() > 2', 3],
    ['{ } | count() < 5', 0],
    ['{ } | count() != 5', 0],
    ['{ } | count() > 1', 2],
    ['{ } | avg(duration) > 2', 0],
    ['{ } | count() + 1 > 5', 0],
    ['({ .a = 1 } | count() > 3) || { }', 0],
    ['{ .a = 1 }', 0],
  ])('needs %s to have at least %i spans in a block', (q, n) => {
    expect(queryConditions(parse(q)).minSpans).toBe(n);
  });

  it('lists the conditions of the checkout query, all required', () => {
    const q = '{ resource.service.name = "checkout" && duration > 2s && status = error }';
    expect(conds(q)).toEqual(['resource:service.name = "checkout"', 'intrinsic:duration > 2s', 'intrinsic:status = error']);
    expect(prune(q)).toBe('all');
    expect(queryConditions(parse(q)).structural).toBe(false);
  });

  it.each([
    ['{ 5 < span.a }', ['span:a > 5'], 'all'],
    ['{ .a =~ "x.*" && event:name != nil }', ['none:a =~ "x.*"', 'intrinsic:event:name exists'], 'all'],
    ['{ span.a = nil }', ['span:a notExists'], 'all'],
    ['{ .a = 1 || .b = 2 }', ['none:a = 1', 'none:b = 2'], 'any'],
    ['{ .a = 1 || .b }', ['none:a = 1', 'none:b'], 'none'],
    ['{ !(.a = 1) }', ['none:a'], 'none'],
    ['{ .a + 1 > 2 }', ['none:a'], 'none'],
    ['{ .a = .b }', ['none:a', 'none:b'], 'none'],
    ['{ }', [], 'all'],
    ['count() > 2', [], 'none'],
    ['{ .a = 1 } | by(resource.x) | avg(span.d) > 2 | select(span.e, kind)', ['none:a = 1', 'resource:x', 'span:d', 'span:e', 'intrinsic:kind'], 'all'],
    ['{ .a = 1 } > { .b = 2 }', ['none:a = 1', 'none:b = 2'], 'any'],
    ['{ } !< { .b = 2 }', ['none:b = 2'], 'any'],
    ['{ .a = 1 } !< { }', ['none:a = 1'], 'none'],
    ['{ .a = 1 } || { }', ['none:a = 1'], 'none'],
    ['({ .a = 1 } | count() > 1) && { }', ['none:a = 1'], 'any'],
    ['{ } | { trace:id = "00ab" }', ['intrinsic:trace:id = "00ab"'], 'all'],
    ['{ .a = 1 } | rate()', ['none:a = 1'], 'all'],
  ])('%s', (q, want, p) => {
    expect(conds(q)).toEqual(want);
    expect(prune(q)).toBe(p);
  });

  it('flags structural queries', () => {
    expect(queryConditions(parse('{ } >> { .a = 1 }')).structural).toBe(true);
    expect(queryConditions(parse('{ } && { .a = 1 }')).structural).toBe(false);
  });
});
