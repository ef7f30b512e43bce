import { describe, expect, it } from 'vitest';
import type { RootExpr } from './ast.js';
import { parseFails, unsupported, valid, validateFails } from './conformance-cases.js';
import { ParseError, UnsupportedError, ValidationError } from './errors.js';
import { parse } from './parse.js';
import { print } from './stringer.js';
import { validate } from './validate.js';

/** parse(print(ast)) equals ast, and printing is stable. */
function expectRoundTrip(ast: RootExpr): void {
  const printed = print(ast);
  let again: RootExpr;
  try {
    again = parse(printed);
  } catch (err) {
    throw new Error(`printed form does not parse: ${printed}\n${(err as Error).message}`);
  }
  expect(again, printed).toStrictEqual(ast);
  expect(print(again)).toBe(printed);
}

function validationError(ast: RootExpr): unknown {
  try {
    validate(ast);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('conformance table', () => {
  it('has at least 300 queries and no duplicates', () => {
    const all = [...valid, ...parseFails.map((c) => c.query), ...validateFails, ...unsupported];
    expect(all.length).toBeGreaterThanOrEqual(300);
    const seen = new Set<string>();
    const duplicates = all.filter((q) => (seen.has(q) ? true : (seen.add(q), false)));
    expect(duplicates).toEqual([]);
    expect(parseFails.filter((c) => c.line !== undefined && c.column !== undefined).length).toBeGreaterThanOrEqual(20);
  });

  describe('valid: parses, validates, round-trips', () => {
    it.each(valid)('%s', (query) => {
      const ast = parse(query);
      validate(ast);
      expectRoundTrip(ast);
    });
  });

  describe('parse_fails: ParseError with a position', () => {
    it.each(parseFails)('$query', ({ query, line, column, detail }) => {
      let err: unknown;
      try {
        parse(query);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ParseError);
      const pe = err as ParseError;
      expect(pe.line).toBeGreaterThanOrEqual(1);
      expect(pe.column).toBeGreaterThanOrEqual(1);
      expect(pe.offset).toBeGreaterThanOrEqual(0);
      expect(pe.offset).toBeLessThanOrEqual(query.length);
      expect(pe.message).toBe(`parse error at line ${pe.line}, col ${pe.column}: ${pe.detail}`);
      if (line !== undefined) expect({ line: pe.line, column: pe.column }).toEqual({ line, column });
      if (typeof detail === 'string') expect(pe.detail).toBe(detail);
      else if (detail !== undefined) expect(pe.detail).toMatch(detail);
    });
  });

  describe('validate_fails: parses, then a ValidationError that is not UnsupportedError', () => {
    it.each(validateFails)('%s', (query) => {
      const ast = parse(query);
      const err = validationError(ast);
      expect(err).toBeInstanceOf(ValidationError);
      expect(err).not.toBeInstanceOf(UnsupportedError);
      expectRoundTrip(ast);
    });
  });

  describe('unsupported: parses, then an UnsupportedError', () => {
    it.each(unsupported)('%s', (query) => {
      const ast = parse(query);
      const err = validationError(ast);
      expect(err).toBeInstanceOf(UnsupportedError);
      expect((err as Error).message).toMatch(/ not yet supported$/);
      expectRoundTrip(ast);
    });
  });
});
