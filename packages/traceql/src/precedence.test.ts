import { describe, expect, it } from 'vitest';
import type {
  Attribute,
  BinaryOperator,
  FieldExpression,
  MetricsExpression,
  MetricsQuery,
  PipelineElement,
  ScalarExpression,
  SpansetExpression,
  SpansetOperator,
  StaticInt,
} from './ast.js';
import { parse } from './parse.js';

// Builders for expected trees.
const a = (name: string): Attribute => ({ kind: 'attribute', scope: 'none', parent: false, name });
const int = (v: number): StaticInt => ({ kind: 'static', type: 'int', value: BigInt(v) });
const bin = (op: BinaryOperator, lhs: FieldExpression, rhs: FieldExpression): FieldExpression => ({
  kind: 'binary',
  op,
  lhs,
  rhs,
});
const neg = (expr: FieldExpression): FieldExpression => ({ kind: 'unary', op: '-', expr });
const not = (expr: FieldExpression): FieldExpression => ({ kind: 'unary', op: '!', expr });
const filter = (name: string): SpansetExpression => ({ kind: 'spansetFilter', expr: a(name) });
const sop = (op: SpansetOperator, lhs: SpansetExpression, rhs: SpansetExpression): SpansetExpression => ({
  kind: 'spansetOperation',
  op,
  lhs,
  rhs,
});
const rateQuery = (): MetricsQuery => ({
  kind: 'metricsQuery',
  pipeline: { kind: 'pipeline', elements: [{ kind: 'spansetFilter', expr: { kind: 'static', type: 'bool', value: true } }] },
  firstStage: { kind: 'metricsAggregate', op: 'rate', attribute: null, quantiles: [], by: [] },
  secondStages: [],
});
const math = (op: '+' | '-' | '*' | '/', lhs: MetricsExpression, rhs: MetricsExpression): MetricsExpression => ({
  kind: 'metricsMath',
  op,
  lhs,
  rhs,
  secondStages: [],
});

/** The expression of the single spanset filter of a query. */
function fieldOf(query: string): FieldExpression {
  const root = parse(query);
  if (root.query.kind !== 'pipeline') throw new Error('not a search');
  const [el] = root.query.elements;
  if (el?.kind !== 'spansetFilter') throw new Error('not a filter');
  return el.expr;
}

function elementsOf(query: string): PipelineElement[] {
  const root = parse(query);
  if (root.query.kind !== 'pipeline') throw new Error('not a search');
  return root.query.elements;
}

describe('field expression precedence (Tempo: && || < comparisons < + - < ! < * / % < ^)', () => {
  const cases: Array<[string, FieldExpression]> = [
    ['{ .a + .b * .c = 1 }', bin('=', bin('+', a('a'), bin('*', a('b'), a('c'))), int(1))],
    ['{ 2 ^ 3 ^ 2 = 512 }', bin('=', bin('^', int(2), bin('^', int(3), int(2))), int(512))],
    ['{ .a - .b - .c = 0 }', bin('=', bin('-', bin('-', a('a'), a('b')), a('c')), int(0))],
    ['{ .a / .b % .c = 1 }', bin('=', bin('%', bin('/', a('a'), a('b')), a('c')), int(1))],
    // && and || share one level and associate left
    [
      '{ .a = 1 || .b = 2 && .c = 3 }',
      bin('&&', bin('||', bin('=', a('a'), int(1)), bin('=', a('b'), int(2))), bin('=', a('c'), int(3))),
    ],
    [
      '{ .a > 1 && .b < 2 || .c }',
      bin('||', bin('&&', bin('>', a('a'), int(1)), bin('<', a('b'), int(2))), a('c')),
    ],
    ['{ .a = .b = .c }', bin('=', bin('=', a('a'), a('b')), a('c'))],
    // prefix operators take a multiplicative operand
    ['{ !.a = .b }', bin('=', not(a('a')), a('b'))],
    ['{ !.a * .b = 1 }', bin('=', not(bin('*', a('a'), a('b'))), int(1))],
    ['{ -.a * 2 = 1 }', bin('=', neg(bin('*', a('a'), int(2))), int(1))],
    ['{ -.a + 2 = 1 }', bin('=', bin('+', neg(a('a')), int(2)), int(1))],
    ['{ -2 ^ 2 = -4 }', bin('=', neg(bin('^', int(2), int(2))), neg(int(4)))],
    ['{ .a ^ -.b * .c = 1 }', bin('=', bin('^', a('a'), neg(bin('*', a('b'), a('c')))), int(1))],
    ['{ (.a + .b) * .c = 1 }', bin('=', bin('*', bin('+', a('a'), a('b')), a('c')), int(1))],
    // nil comparisons sit at the comparison level
    ['{ .a + .b = nil }', { kind: 'unary', op: 'notExists', expr: bin('+', a('a'), a('b')) }],
    ['{ nil != .a && .b }', bin('&&', { kind: 'unary', op: 'exists', expr: a('a') }, a('b'))],
  ];
  it.each(cases)('%s', (query, expected) => {
    expect(fieldOf(query)).toStrictEqual(expected);
  });
});

describe('spanset operator precedence (&& || below structural, both left-associative)', () => {
  const cases: Array<[string, SpansetExpression]> = [
    ['{ .a } && { .b } > { .c }', sop('&&', filter('a'), sop('>', filter('b'), filter('c')))],
    ['{ .a } > { .b } >> { .c }', sop('>>', sop('>', filter('a'), filter('b')), filter('c'))],
    ['{ .a } || { .b } && { .c }', sop('&&', sop('||', filter('a'), filter('b')), filter('c'))],
    ['{ .a } !~ { .b } &<< { .c } || { .d }', sop('||', sop('&<<', sop('!~', filter('a'), filter('b')), filter('c')), filter('d'))],
  ];
  it.each(cases)('%s', (query, expected) => {
    expect(elementsOf(query)).toStrictEqual([expected]);
  });

  it('| binds loosest', () => {
    expect(elementsOf('{ .a } ~ { .b } | count() > 1')).toStrictEqual([
      sop('~', filter('a'), filter('b')),
      { kind: 'scalarFilter', op: '>', lhs: { kind: 'aggregate', op: 'count', expr: null }, rhs: int(1) },
    ]);
  });
});

describe('scalar and metrics precedence', () => {
  const max = (name: string): ScalarExpression => ({ kind: 'aggregate', op: 'max', expr: a(name) });
  it('arithmetic over aggregates', () => {
    expect(elementsOf('max(.a) * 2 + 1 > 3')).toStrictEqual([
      {
        kind: 'scalarFilter',
        op: '>',
        lhs: {
          kind: 'scalarOperation',
          op: '+',
          lhs: { kind: 'scalarOperation', op: '*', lhs: max('a'), rhs: int(2) },
          rhs: int(1),
        },
        rhs: int(3),
      },
    ]);
  });

  it('constants fold as Tempo folds them', () => {
    expect(elementsOf('max(.a) + 2 * 3 > 1 - 5')).toStrictEqual([
      { kind: 'scalarFilter', op: '>', lhs: { kind: 'scalarOperation', op: '+', lhs: max('a'), rhs: int(6) }, rhs: int(-4) },
    ]);
  });

  it('metrics math: * over +, scalar folded, left-associative', () => {
    expect(parse('5 + ({} | rate()) * 10').query).toStrictEqual(math('+', int(5), math('*', rateQuery(), int(10))));
    expect(parse('({} | rate()) - 1 - 2').query).toStrictEqual(math('-', math('-', rateQuery(), int(1)), int(2)));
    expect(parse('-2 * -3 + ({} | rate())').query).toStrictEqual(math('+', int(6), rateQuery()));
  });

  it('filters and topk chain after a metrics function', () => {
    expect(parse('({} | rate()) > 1 | topk(2) < 5').query).toStrictEqual({
      ...rateQuery(),
      secondStages: [
        { kind: 'metricsFilter', op: '>', value: int(1) },
        { kind: 'topk', limit: 2 },
        { kind: 'metricsFilter', op: '<', value: int(5) },
      ],
    });
  });

  it('second stages after math apply to the whole expression', () => {
    expect(parse('({} | rate()) / ({} | rate()) | bottomk(3)').query).toStrictEqual({
      ...(math('/', rateQuery(), rateQuery()) as object),
      secondStages: [{ kind: 'bottomk', limit: 3 }],
    });
  });
});
