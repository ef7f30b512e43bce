// TraceQL errors. Each carries a stable code and HTTP 400, which is how Tempo answers a bad query;
// this package does not depend on @andante/model, so the API layer maps them by `code`.

export abstract class TraceQLError extends Error {
  abstract readonly code: string;
  readonly httpStatus = 400;
}

/**
 * The query does not parse. The message is Tempo's: `parse error at line L, col C: <detail>`.
 * `line` and `column` are 1-based (column counts characters, as Go's scanner does); `offset` is
 * the 0-based UTF-16 index into the query string.
 */
export class ParseError extends TraceQLError {
  readonly code = 'TRACEQL_PARSE_ERROR';
  override readonly name = 'ParseError';
  constructor(
    readonly detail: string,
    readonly line: number,
    readonly column: number,
    readonly offset: number,
  ) {
    super(`parse error at line ${line}, col ${column}: ${detail}`);
  }
}

/** The query parses but is not valid: types do not match, a regex does not compile, ... */
export class ValidationError extends TraceQLError {
  readonly code: string = 'TRACEQL_INVALID';
  override readonly name: string = 'ValidationError';
}

/** Tempo parses this feature but does not execute it; the message is `<feature> not yet supported`. */
export class UnsupportedError extends ValidationError {
  override readonly code = 'TRACEQL_UNSUPPORTED';
  override readonly name = 'UnsupportedError';
  constructor(readonly feature: string) {
    super(`${feature} not yet supported`);
  }
}
