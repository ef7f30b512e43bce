// The parse entry point: lex, parse, and turn every failure into a ParseError that carries
// Tempo's message format and a position.

import type { RootExpr } from './ast.js';
import { ParseError } from './errors.js';
import { tokenize } from './lexer.js';
import { positionOf, tokenError, TraceQLParser } from './parser.js';

// Building the parser analyses the grammar (tens of milliseconds); do it once, on first use.
let parser: TraceQLParser | undefined;

/**
 * Parses a TraceQL query. Throws ParseError (and nothing else) when it does not parse; the AST it
 * returns has not been type-checked, see validate().
 */
export function parse(query: string): RootExpr {
  try {
    parser ??= new TraceQLParser();
    const tokens = tokenize(query);
    const root = parser.parseTokens(query, tokens);
    const [first] = parser.errors;
    if (first !== undefined) throw tokenError(query, first.token, first.message);
    return root;
  } catch (err) {
    if (err instanceof ParseError) throw err;
    // Never let anything else escape: the API answers 400 with whatever we throw here.
    const pos = positionOf(query, 0);
    const detail =
      err instanceof RangeError ? 'query is too deeply nested' : `internal parser error: ${(err as Error).message}`;
    throw new ParseError(detail, pos.line, pos.column, pos.offset);
  }
}
