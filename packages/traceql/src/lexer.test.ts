import { describe, expect, it } from 'vitest';
import { tokenize } from './lexer.js';

/** Token names (chevrotain labels) of a query. */
function labels(query: string): string[] {
  return tokenize(query).map((t) => t.tokenType.LABEL ?? t.tokenType.name);
}

function images(query: string): string[] {
  return tokenize(query).map((t) => t.image);
}

describe('lexer', () => {
  it.each<[string, string[]]>([
    ['{ .a >= 1h30m }', ['{', '.', '>=', 'DURATION', '}']],
    ['{ span.http.status_code = 200 }', ['{', '.', '=', 'INTEGER', '}']],
    ['{ span:name = "x" }', ['{', 'span:', 'name', '=', 'STRING', '}']],
    ['{ trace:rootServiceName }', ['{', 'trace:', 'rootServiceName', '}']],
    ['.5 .5s 1. 1e3 1.5.5s', ['FLOAT', 'DURATION', 'FLOAT', 'FLOAT', 'FLOAT', 'DURATION']],
    ['!>> !<< &>> &<< !> !< &> &< &~ !~ =~ != >= <= >> << && ||', ['!>>', '!<<', '&>>', '&<<', '!>', '!<', '&>', '&<', '&~', '!~', '=~', '!=', '>=', '<=', '>>', '<<', '&&', '||']],
    ['>>=', ['>>', '=']],
    ['count count_over_time counts', ['count', 'count_over_time', 'IDENTIFIER']],
    ['with(a=1)', ['with', '(', 'IDENTIFIER', '=', 'INTEGER', ')']],
    ['{ . }', ['{', 'END_ATTRIBUTE', '}']],
    ['{ & @ }', ['{', 'IDENTIFIER', 'IDENTIFIER', '}']],
    ['{ .a } // c\n/* d */ | x', ['{', '.', '}', '|', 'IDENTIFIER']],
    ['"unterminated', ['LEX_ERROR']],
    ['99999999999999999999', ['LEX_ERROR']],
  ])('%s', (query, expected) => {
    expect(labels(query)).toEqual(expected);
  });

  it('reads an attribute as one token, up to a character that ends attributes', () => {
    expect(images('{span.a+b-c/d:e.f>=1}')).toEqual(['{', 'span.a+b-c/d:e.f', '>=', '1', '}']);
    expect(images('{ .a"b c"d=1 }')).toEqual(['{', '.a"b c"d', '=', '1', '}']);
    const [, attr] = tokenize('{ parent.span."x\\"y" }');
    expect(attr!.payload).toEqual({ kind: 'attribute', scope: 'span', parent: true, name: 'x"y' });
    const [, unscoped] = tokenize('{ parent.event.x }');
    expect(unscoped!.payload).toEqual({ kind: 'attribute', scope: 'none', parent: true, name: 'event.x' });
  });

  it('decodes literals into payloads', () => {
    const [str, raw, int, float, dur] = tokenize('"a\\tb\\u00e9\\x41" `c\\d` 42 2.5 1m30s');
    expect(str!.payload).toBe('a\tbéA');
    expect(raw!.payload).toBe('c\\d');
    expect(int!.payload).toBe(42n);
    expect(float!.payload).toBe(2.5);
    expect(dur!.payload).toBe(90_000_000_000n);
  });

  it('turns every character into a token, dropping none', () => {
    const dropped: number[] = [];
    for (let c = 0; c < 0x10000; c++) {
      const ch = String.fromCharCode(c);
      const toks = tokenize(ch);
      const whitespace = ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';
      if (whitespace ? toks.length !== 0 : toks.length !== 1 || toks[0]!.image !== ch) dropped.push(c);
    }
    expect(dropped).toEqual([]);
    expect(images('{ ñx € 😀 }')).toEqual(['{', 'ñx', '€', '😀', '}']);
  });

  it('tracks lines and columns', () => {
    const toks = tokenize('{\n  .a = 1\n}');
    expect(toks.map((t) => [t.startLine, t.startColumn])).toEqual([
      [1, 1],
      [2, 3],
      [2, 6],
      [2, 8],
      [3, 1],
    ]);
  });
});
