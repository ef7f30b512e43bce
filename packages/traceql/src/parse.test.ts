import { describe, expect, it } from 'vitest';
import type { FieldExpression, IntrinsicName, MetricsQuery, RootExpr, Static } from './ast.js';
import { MAX_INT, MIN_INT } from './ast.js';
import { ParseError } from './errors.js';
import { parse } from './parse.js';

function filterExpr(root: RootExpr): FieldExpression {
  const el = root.query.kind === 'pipeline' ? root.query.elements[0] : undefined;
  if (el?.kind !== 'spansetFilter') throw new Error('expected a spanset filter');
  return el.expr;
}

/** The left operand of `{ X = <rhs> }`. */
function lhsOf(query: string): FieldExpression {
  const e = filterExpr(parse(query));
  if (e.kind !== 'binary') throw new Error('expected a comparison');
  return e.lhs;
}

function rhsOf(query: string): FieldExpression {
  const e = filterExpr(parse(query));
  if (e.kind !== 'binary') throw new Error('expected a comparison');
  return e.rhs;
}

describe('intrinsics', () => {
  it.each<[string, IntrinsicName]>([
    ['duration', 'duration'],
    ['span:duration', 'duration'],
    ['name', 'name'],
    ['span:name', 'name'],
    ['status', 'status'],
    ['span:status', 'status'],
    ['statusMessage', 'statusMessage'],
    ['span:statusMessage', 'statusMessage'],
    ['kind', 'kind'],
    ['span:kind', 'kind'],
    ['parent', 'parent'],
    ['rootName', 'rootName'],
    ['trace:rootName', 'rootName'],
    ['rootServiceName', 'rootServiceName'],
    ['trace:rootService', 'rootServiceName'],
    ['traceDuration', 'traceDuration'],
    ['trace:duration', 'traceDuration'],
    ['trace:id', 'trace:id'],
    ['span:id', 'span:id'],
    ['span:parentID', 'span:parentID'],
    ['span:childCount', 'span:childCount'],
    ['event:name', 'event:name'],
    ['event:timeSinceStart', 'event:timeSinceStart'],
    ['link:traceID', 'link:traceID'],
    ['link:spanID', 'link:spanID'],
    ['instrumentation:name', 'instrumentation:name'],
    ['instrumentation:version', 'instrumentation:version'],
    ['nestedSetLeft', 'nestedSetLeft'],
    ['nestedSetRight', 'nestedSetRight'],
    ['nestedSetParent', 'nestedSetParent'],
  ])('%s', (text, name) => {
    expect(lhsOf(`{ ${text} = 1 }`)).toEqual({ kind: 'intrinsic', name });
  });
});

describe('attributes', () => {
  it.each<[string, string, boolean, string]>([
    ['.a', 'none', false, 'a'],
    ['.http.status_code', 'none', false, 'http.status_code'],
    ['span.http.url', 'span', false, 'http.url'],
    ['resource.service.name', 'resource', false, 'service.name'],
    ['event.exception.type', 'event', false, 'exception.type'],
    ['link.opentracing.ref_type', 'link', false, 'opentracing.ref_type'],
    ['instrumentation.language', 'instrumentation', false, 'language'],
    ['parent.a', 'none', true, 'a'],
    ['parent.span.a', 'span', true, 'a'],
    ['parent.resource.a', 'resource', true, 'a'],
    ['span."with space"', 'span', false, 'with space'],
    ['span.attribute."with space"', 'span', false, 'attribute.with space'],
    [String.raw`."a\"b\\c"`, 'none', false, 'a"b\\c'],
    ['.duration', 'none', false, 'duration'],
    ['span.x-request-id', 'span', false, 'x-request-id'],
  ])('%s', (text, scope, parent, name) => {
    expect(lhsOf(`{ ${text} = 1 }`)).toEqual({ kind: 'attribute', scope, parent, name });
  });
});

describe('statics', () => {
  it.each<[string, Static]>([
    ['"GET"', { kind: 'static', type: 'string', value: 'GET' }],
    ['`a\\b`', { kind: 'static', type: 'string', value: 'a\\b' }],
    ['"\\"q\\" \\\\ \\n"', { kind: 'static', type: 'string', value: '"q" \\ \n' }],
    ['42', { kind: 'static', type: 'int', value: 42n }],
    ['9223372036854775807', { kind: 'static', type: 'int', value: MAX_INT }],
    ['minInt', { kind: 'static', type: 'int', value: MIN_INT }],
    ['maxInt', { kind: 'static', type: 'int', value: MAX_INT }],
    ['1.5', { kind: 'static', type: 'float', value: 1.5 }],
    ['1e-3', { kind: 'static', type: 'float', value: 0.001 }],
    ['true', { kind: 'static', type: 'bool', value: true }],
    ['1h30m', { kind: 'static', type: 'duration', value: 5_400_000_000_000n }],
    ['100ms', { kind: 'static', type: 'duration', value: 100_000_000n }],
    ['error', { kind: 'static', type: 'status', value: 'error' }],
    ['unset', { kind: 'static', type: 'status', value: 'unset' }],
    ['consumer', { kind: 'static', type: 'kind', value: 'consumer' }],
    ['unspecified', { kind: 'static', type: 'kind', value: 'unspecified' }],
  ])('%s', (text, value) => {
    expect(rhsOf(`{ .x = ${text} }`)).toEqual(value);
  });

  it('keeps a negative literal as unary minus inside a filter', () => {
    expect(rhsOf('{ .x > -1 }')).toEqual({ kind: 'unary', op: '-', expr: { kind: 'static', type: 'int', value: 1n } });
  });

  it('turns nil comparisons into existence tests', () => {
    const a = { kind: 'attribute', scope: 'span', parent: false, name: 'x' };
    expect(filterExpr(parse('{ span.x = nil }'))).toEqual({ kind: 'unary', op: 'notExists', expr: a });
    expect(filterExpr(parse('{ nil != span.x }'))).toEqual({ kind: 'unary', op: 'exists', expr: a });
    expect(filterExpr(parse('{ nil = nil }'))).toEqual({ kind: 'static', type: 'bool', value: false });
  });

  it('reads { } as { true }', () => {
    expect(parse('{ }')).toStrictEqual(parse('{ true }'));
  });
});

describe('pipelines and metrics', () => {
  it('builds pipeline elements', () => {
    const root = parse('{ .a } | by(.b) | coalesce() | select(.c, span:id) | count() > 2');
    expect(root.query.kind === 'pipeline' && root.query.elements.map((e) => e.kind)).toEqual([
      'spansetFilter',
      'groupBy',
      'coalesce',
      'select',
      'scalarFilter',
    ]);
  });

  it('builds metrics functions', () => {
    const q = parse('{ } | quantile_over_time(span:duration, .99, 1) by (resource.service.name, name)').query as MetricsQuery;
    expect(q.firstStage).toEqual({
      kind: 'metricsAggregate',
      op: 'quantile_over_time',
      attribute: { kind: 'intrinsic', name: 'duration' },
      quantiles: [0.99, 1],
      by: [
        { kind: 'attribute', scope: 'resource', parent: false, name: 'service.name' },
        { kind: 'intrinsic', name: 'name' },
      ],
    });
  });

  it('fills compare() defaults as Tempo does', () => {
    const a = parse('{ } | compare({ status = error })').query as MetricsQuery;
    const b = parse('{ } | compare({ status = error }, 10)').query as MetricsQuery;
    expect(a).toStrictEqual(b);
    expect(a.firstStage).toMatchObject({ kind: 'compare', topN: 10, start: 0n, end: 0n });
    const c = parse('{ } | compare({ status = error }, 5, 1700000000000000000, 1700000000000000001)').query as MetricsQuery;
    expect(c.firstStage).toMatchObject({ topN: 5, start: 1_700_000_000_000_000_000n, end: 1_700_000_000_000_000_001n });
  });

  it('keeps the last with(...) and its typed values', () => {
    expect(parse('{ } with (a=1) with (sample=0.1, most_recent=true)').hints).toEqual([
      { kind: 'hint', name: 'sample', value: { kind: 'static', type: 'float', value: 0.1 } },
      { kind: 'hint', name: 'most_recent', value: { kind: 'static', type: 'bool', value: true } },
    ]);
  });

  it('treats a parenthesised metrics query like the bare one', () => {
    expect(parse('({ } | rate() by (.a)) > 10')).toStrictEqual(parse('{ } | rate() by (.a) > 10'));
  });
});

describe('ParseError', () => {
  it('carries Tempo-formatted message, line, column and offset', () => {
    let err: unknown;
    try {
      parse('{ .a = 1 }\n  && { .b = 2 } + 1');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect(err).toMatchObject({
      line: 2,
      column: 17,
      offset: 27,
      code: 'TRACEQL_PARSE_ERROR',
      httpStatus: 400,
      message: 'parse error at line 2, col 17: syntax error: unexpected +',
    });
  });

  it('counts columns in characters, like Go (not UTF-16 units)', () => {
    expect(() => parse('{ .a = "😀😀" } +')).toThrow('parse error at line 1, col 15');
  });
});
