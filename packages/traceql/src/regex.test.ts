import { describe, expect, it } from 'vitest';
import { compileRegex, RegexSyntaxError } from './regex.js';

describe('compileRegex: RE2 syntax, matched fully anchored with . matching newlines (as Tempo)', () => {
  const cases: Array<[pattern: string, matches: string[], rejects: string[]]> = [
    ['postgresql|mysql', ['mysql', 'postgresql'], ['mysqlx', 'a mysql', '']],
    ['.*went wrong.*', ['it went wrong', 'it went wrong\nbadly'], ['went right']],
    ['(?i)timeout', ['TIMEOUT', 'Timeout'], ['timeouts']],
    ['(?i)abc(?-i)def', ['ABCdef', 'abcdef'], ['ABCDEF']],
    ['(?i:a)b', ['Ab', 'ab'], ['AB']],
    ['[[:alpha:]]+', ['abc'], ['ab1', '']],
    ['[[:^digit:]]+', ['abc'], ['a1']],
    [String.raw`\d+`, ['123'], ['12a']],
    [String.raw`\s`, [' ', '\t'], ['\u00a0', 'x']],
    [String.raw`\Qa.b*\E`, ['a.b*'], ['axb*', 'a.bbb']],
    [String.raw`a\.b`, ['a.b'], ['axb']],
    ['a.b', ['axb', 'a\nb'], ['ab']],
    ['(?-s)a.b', ['axb'], ['a\nb']],
    ['(?m)^a$', ['a'], ['a\nb']],
    ['(?P<first>x)(?<second>y)', ['xy'], ['x']],
    [String.raw`\pL+`, ['héllo', 'αβγ'], ['abc1']],
    [String.raw`\p{Greek}+`, ['αβγ'], ['abc']],
    [String.raw`\PL`, ['1'], ['a']],
    [String.raw`\x41\x{1F600}`, ['A😀'], ['A']],
    [String.raw`\101`, ['A'], ['B']],
    ['^.$', ['😀'], ['ab']],
    ['a{2,3}', ['aa', 'aaa'], ['a', 'aaaa']],
    ['a{,2}', ['a{,2}'], ['aa']],
    ['x*?y', ['xxy'], ['xx']],
    ['(?U)a+', ['aaa'], ['']],
    ['[a-c-]+', ['a-c'], ['d']],
    ['[]a]+', [']a'], ['b']],
    [String.raw`[\d.]+`, ['1.5'], ['1,5']],
    [String.raw`\A\z`, [''], ['a']],
    ['(a|)', ['a', ''], ['b']],
    ['', [''], ['a']],
    ['/path/{id}', ['/path/{id}'], ['/path/7']],
  ];
  it.each(cases)('%s', (pattern, matches, rejects) => {
    const re = compileRegex(pattern);
    for (const s of matches) expect(re.test(s), `${pattern} should match ${JSON.stringify(s)}`).toBe(true);
    for (const s of rejects) expect(re.test(s), `${pattern} should not match ${JSON.stringify(s)}`).toBe(false);
  });

  const invalid = [
    '[',
    '(',
    'ab)',
    'a{2,1}',
    '*a',
    '+',
    'x**',
    'a{1001}',
    '(?=x)',
    '(?!x)',
    '(?<=x)',
    String.raw`\1`,
    String.raw`\e`,
    String.raw`\C`,
    '(?P<n>a)(?P<n>b)',
    '(?P<>a)',
    '(?z)',
    String.raw`\p{Nope}`,
    '[z-a]',
    '[[:foo:]]',
    'a\\',
  ];
  it.each(invalid)('rejects %s', (pattern) => {
    expect(() => compileRegex(pattern)).toThrow(RegexSyntaxError);
  });
});
