// TraceQL tokens, lexed with chevrotain the way Tempo's lexer (Go text/scanner plus a token map)
// reads a query:
// - keywords are reserved everywhere, so bare identifiers are mapped onto keyword tokens after lexing;
// - an attribute (`.a`, `span.a`, `resource."b c"`, `parent.span.a`) is ONE token: after a scope
//   prefix Tempo reads raw "attribute characters" until one that ends an attribute;
// - a number followed by duration characters (`1h30m`, `.5s`, `300µs`) is a DURATION when it parses
//   as one (Prometheus syntax first, then Go's);
// - `//` and `/* */` comments are skipped (Go's scanner does this);
// - a character no token starts with becomes an IDENTIFIER-like token, so it is reported as Tempo
//   reports it ("unknown identifier" inside `{ }`, "unexpected IDENTIFIER" elsewhere);
// - literals that are malformed (unterminated string, int64 overflow) become a LexError token that
//   carries the message, so the parser reports it only when it reaches it, as Tempo does.

import { createToken, Lexer } from 'chevrotain';
import type { CustomPatternMatcherReturn, IToken, TokenType } from 'chevrotain';
import type { Attribute, AttributeScope } from './ast.js';
import { MAX_INT } from './ast.js';
import { parseDuration } from './duration.js';
import { isAttributeChar, readAttributeName, readBacktick, readDoubleQuoted } from './literals.js';

/** The payload a lexer error token carries. */
export interface LexErrorPayload {
  error: string;
}
/** The payload of a scope prefix that is not followed by a name (`{ span. }`). */
export interface ScopeOnlyPayload {
  /** True after `parent.`, where `span.` / `resource.` could also have followed. */
  afterParent: boolean;
}

function matched(image: string, payload: unknown): CustomPatternMatcherReturn {
  const result = [image] as unknown as CustomPatternMatcherReturn;
  result.payload = payload;
  return result;
}

const DIGITS = [...'0123456789'];

// --- numbers -------------------------------------------------------------------------------------

interface NumberScan {
  end: number;
  kind: 'int' | 'float' | 'duration';
}

function isDigitAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 48 && c <= 57;
}

const DURATION_CHARS = new Set([...'nsumhµdwy.0123456789']);

// chevrotain tries DurationLit, FloatLit and IntegerLit at the same offset in turn: scan once.
let numberCacheText = '';
let numberCacheOffset = -1;
let numberCacheResult: NumberScan | null = null;

/** Scans a number (and a duration suffix) at `i` as Go's scanner plus Tempo's tryScanDuration do. */
function scanNumber(text: string, i: number): NumberScan | null {
  if (text === numberCacheText && i === numberCacheOffset) return numberCacheResult;
  let j = i;
  let kind: NumberScan['kind'] = 'int';
  if (isDigitAt(text, j)) {
    while (isDigitAt(text, j)) j++;
    if (text[j] === '.') {
      kind = 'float';
      j++;
      while (isDigitAt(text, j)) j++;
    }
  } else if (text[j] === '.' && isDigitAt(text, j + 1)) {
    kind = 'float';
    j++;
    while (isDigitAt(text, j)) j++;
  } else {
    j = -1;
  }
  let result: NumberScan | null = null;
  if (j >= 0) {
    if (text[j] === 'e' || text[j] === 'E') {
      let k = j + 1;
      if (text[k] === '+' || text[k] === '-') k++;
      if (isDigitAt(text, k)) {
        while (isDigitAt(text, k)) k++;
        j = k;
        kind = 'float';
      }
    }
    let k = j;
    while (k < text.length && DURATION_CHARS.has(text[k]!)) k++;
    result = k > j && parseDuration(text.slice(i, k)) !== null ? { end: k, kind: 'duration' } : { end: j, kind };
  }
  numberCacheText = text;
  numberCacheOffset = i;
  numberCacheResult = result;
  return result;
}

function numberMatcher(kind: NumberScan['kind']) {
  return (text: string, offset: number): CustomPatternMatcherReturn | null => {
    const scan = scanNumber(text, offset);
    if (scan === null || scan.kind !== kind) return null;
    const image = text.slice(offset, scan.end);
    if (kind === 'duration') return matched(image, parseDuration(image));
    if (kind === 'float') {
      const value = Number(image);
      if (!Number.isFinite(value)) {
        return matched(image, { error: `strconv.ParseFloat: parsing "${image}": value out of range` });
      }
      return matched(image, value);
    }
    const value = BigInt(image);
    if (value > MAX_INT) return matched(image, { error: `strconv.Atoi: parsing "${image}": value out of range` });
    return matched(image, value);
  };
}

const NUMBER_START = [...DIGITS, '.'];

export const DurationLit = createToken({
  name: 'DurationLit',
  label: 'DURATION',
  pattern: { exec: numberMatcher('duration') },
  line_breaks: false,
  start_chars_hint: NUMBER_START,
});
export const FloatLit = createToken({
  name: 'FloatLit',
  label: 'FLOAT',
  pattern: { exec: numberMatcher('float') },
  line_breaks: false,
  start_chars_hint: NUMBER_START,
});
export const IntegerLit = createToken({
  name: 'IntegerLit',
  label: 'INTEGER',
  pattern: { exec: numberMatcher('int') },
  line_breaks: false,
  start_chars_hint: DIGITS,
});

// --- strings -------------------------------------------------------------------------------------

export const StringLit = createToken({
  name: 'StringLit',
  label: 'STRING',
  pattern: {
    exec: (text: string, offset: number): CustomPatternMatcherReturn | null => {
      const c = text[offset];
      if (c !== '"' && c !== '`') return null;
      const r = c === '"' ? readDoubleQuoted(text, offset) : readBacktick(text, offset);
      return matched(text.slice(offset, r.end), r.error === undefined ? r.value : { error: r.error });
    },
  },
  line_breaks: true,
  start_chars_hint: ['"', '`'],
});

// --- attributes ----------------------------------------------------------------------------------

const SCOPE_PREFIXES: ReadonlyArray<[string, AttributeScope]> = [
  ['resource.', 'resource'],
  ['span.', 'span'],
  ['event.', 'event'],
  ['link.', 'link'],
  ['instrumentation.', 'instrumentation'],
];

interface AttributeScan {
  end: number;
  payload: Attribute | LexErrorPayload | ScopeOnlyPayload;
  scopeOnly: boolean;
}

// Attribute and ScopeOnly are tried at the same offset in turn: scan once.
let attrCacheText = '';
let attrCacheOffset = -1;
let attrCacheResult: AttributeScan | null = null;

/** Scans `[parent.][scope.]name` or `.name` at `i`. */
function scanAttribute(text: string, i: number): AttributeScan | null {
  if (text === attrCacheText && i === attrCacheOffset) return attrCacheResult;
  let result: AttributeScan | null = null;
  let j = i;
  let parent = false;
  let scope: AttributeScope | null = null;
  if (text.startsWith('parent.', j)) {
    parent = true;
    j += 'parent.'.length;
    // After parent. only span. and resource. are scopes (Tempo's tryScopeAttribute).
    if (text.startsWith('span.', j)) {
      scope = 'span';
      j += 5;
    } else if (text.startsWith('resource.', j)) {
      scope = 'resource';
      j += 9;
    } else {
      scope = 'none';
    }
  } else {
    for (const [prefix, s] of SCOPE_PREFIXES) {
      if (text.startsWith(prefix, j)) {
        scope = s;
        j += prefix.length;
        break;
      }
    }
    if (scope === null && text[j] === '.') {
      scope = 'none';
      j++;
    }
  }
  if (scope !== null) {
    if (j >= text.length || !isAttributeChar(text.charCodeAt(j))) {
      result = { end: j, payload: { afterParent: parent && scope === 'none' }, scopeOnly: true };
    } else {
      const r = readAttributeName(text, j);
      const payload: Attribute | LexErrorPayload =
        r.error === undefined ? { kind: 'attribute', scope, parent, name: r.value } : { error: r.error };
      result = { end: r.end, payload, scopeOnly: false };
    }
  }
  attrCacheText = text;
  attrCacheOffset = i;
  attrCacheResult = result;
  return result;
}

const ATTRIBUTE_START = ['.', 'p', 'r', 's', 'e', 'l', 'i'];

export const AttributeTok = createToken({
  name: 'Attribute',
  label: '.',
  pattern: {
    exec: (text: string, offset: number): CustomPatternMatcherReturn | null => {
      const scan = scanAttribute(text, offset);
      return scan === null || scan.scopeOnly ? null : matched(text.slice(offset, scan.end), scan.payload);
    },
  },
  line_breaks: true,
  start_chars_hint: ATTRIBUTE_START,
});

export const ScopeOnly = createToken({
  name: 'ScopeOnly',
  label: 'END_ATTRIBUTE',
  pattern: {
    exec: (text: string, offset: number): CustomPatternMatcherReturn | null => {
      const scan = scanAttribute(text, offset);
      return scan === null || !scan.scopeOnly ? null : matched(text.slice(offset, scan.end), scan.payload);
    },
  },
  line_breaks: false,
  start_chars_hint: ATTRIBUTE_START,
});

// --- punctuation, operators, scopes --------------------------------------------------------------

function punct(name: string, image: string): TokenType {
  return createToken({ name, pattern: image, label: image });
}

export const TraceColon = punct('TraceColon', 'trace:');
export const SpanColon = punct('SpanColon', 'span:');
export const EventColon = punct('EventColon', 'event:');
export const LinkColon = punct('LinkColon', 'link:');
export const InstrumentationColon = punct('InstrumentationColon', 'instrumentation:');

export const NotDesc = punct('NotDesc', '!>>');
export const NotAnce = punct('NotAnce', '!<<');
export const UnionDesc = punct('UnionDesc', '&>>');
export const UnionAnce = punct('UnionAnce', '&<<');
export const Neq = punct('Neq', '!=');
export const Re = punct('Re', '=~');
export const Nre = punct('Nre', '!~');
export const Gte = punct('Gte', '>=');
export const Lte = punct('Lte', '<=');
export const And = punct('And', '&&');
export const Or = punct('Or', '||');
export const Desc = punct('Desc', '>>');
export const Ance = punct('Ance', '<<');
export const NotChild = punct('NotChild', '!>');
export const NotParent = punct('NotParent', '!<');
export const UnionSibl = punct('UnionSibl', '&~');
export const UnionChild = punct('UnionChild', '&>');
export const UnionParent = punct('UnionParent', '&<');
export const Comma = punct('Comma', ',');
export const LBrace = punct('LBrace', '{');
export const RBrace = punct('RBrace', '}');
export const LParen = punct('LParen', '(');
export const RParen = punct('RParen', ')');
export const Eq = punct('Eq', '=');
export const Gt = punct('Gt', '>');
export const Lt = punct('Lt', '<');
export const Add = punct('Add', '+');
export const Sub = punct('Sub', '-');
export const Div = punct('Div', '/');
export const Mod = punct('Mod', '%');
export const Mul = punct('Mul', '*');
export const Pow = punct('Pow', '^');
export const Not = punct('Not', '!');
export const Pipe = punct('Pipe', '|');
export const Sibl = punct('Sibl', '~');

// Custom patterns need start-character hints to keep chevrotain's first-character optimisation
// on. Code units below 256 are looked up one by one; above, they share buckets of 255 (see
// chevrotain's charCodeToOptimizedIndex), so one code unit per bucket covers them all.
const NON_ASCII_HINTS: number[] = [];
for (let c = 128; c < 256; c++) NON_ASCII_HINTS.push(c);
for (let c = 256; c < 0x10000; c += 255) NON_ASCII_HINTS.push(c);
NON_ASCII_HINTS.push(0xffff);

// Go identifiers: Unicode letters, digits and underscores.
const IDENTIFIER_RE = /[\p{L}_][\p{L}\p{Nd}_]*/uy;

export const Identifier = createToken({
  name: 'Identifier',
  label: 'IDENTIFIER',
  pattern: {
    exec: (text: string, offset: number): CustomPatternMatcherReturn | null => {
      IDENTIFIER_RE.lastIndex = offset;
      const m = IDENTIFIER_RE.exec(text);
      return m === null ? null : matched(m[0], undefined);
    },
  },
  line_breaks: false,
  start_chars_hint: [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_', ...NON_ASCII_HINTS],
});

// Every character that starts no other token.
const ILLEGAL_HINTS: number[] = [];
for (let c = 0; c < 128; c++) if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) ILLEGAL_HINTS.push(c);
ILLEGAL_HINTS.push(...NON_ASCII_HINTS);

export const Illegal = createToken({
  name: 'Illegal',
  label: 'IDENTIFIER',
  pattern: {
    exec: (text: string, offset: number): CustomPatternMatcherReturn | null => {
      const c = text.codePointAt(offset);
      if (c === undefined || c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) return null;
      return matched(String.fromCodePoint(c), undefined);
    },
  },
  line_breaks: false,
  start_chars_hint: ILLEGAL_HINTS,
});

/** Malformed literal; never accepted by the parser, which then reports the payload's message. */
export const LexError = createToken({ name: 'LexError', label: 'LEX_ERROR', pattern: Lexer.NA });

const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\n\r]+/, group: Lexer.SKIPPED, line_breaks: true });
const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\n]*/, group: Lexer.SKIPPED });
const BlockComment = createToken({
  name: 'BlockComment',
  pattern: /\/\*[\s\S]*?\*\//,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
const UnterminatedComment = createToken({
  name: 'UnterminatedComment',
  pattern: {
    exec: (text: string, offset: number): CustomPatternMatcherReturn | null =>
      text.startsWith('/*', offset) ? matched(text.slice(offset), { error: 'comment not terminated' }) : null,
  },
  line_breaks: true,
  start_chars_hint: ['/'],
});

// --- keywords ------------------------------------------------------------------------------------

function keyword(image: string): TokenType {
  const name = `Kw_${image}`;
  return createToken({ name, pattern: Lexer.NA, label: image });
}

export const KW = {
  true: keyword('true'),
  false: keyword('false'),
  nil: keyword('nil'),
  ok: keyword('ok'),
  error: keyword('error'),
  unset: keyword('unset'),
  unspecified: keyword('unspecified'),
  internal: keyword('internal'),
  server: keyword('server'),
  client: keyword('client'),
  producer: keyword('producer'),
  consumer: keyword('consumer'),
  duration: keyword('duration'),
  childCount: keyword('childCount'),
  name: keyword('name'),
  status: keyword('status'),
  statusMessage: keyword('statusMessage'),
  kind: keyword('kind'),
  rootName: keyword('rootName'),
  rootServiceName: keyword('rootServiceName'),
  rootService: keyword('rootService'),
  traceDuration: keyword('traceDuration'),
  nestedSetLeft: keyword('nestedSetLeft'),
  nestedSetRight: keyword('nestedSetRight'),
  nestedSetParent: keyword('nestedSetParent'),
  id: keyword('id'),
  traceID: keyword('traceID'),
  spanID: keyword('spanID'),
  parentID: keyword('parentID'),
  timeSinceStart: keyword('timeSinceStart'),
  version: keyword('version'),
  parent: keyword('parent'),
  count: keyword('count'),
  avg: keyword('avg'),
  max: keyword('max'),
  min: keyword('min'),
  sum: keyword('sum'),
  by: keyword('by'),
  coalesce: keyword('coalesce'),
  select: keyword('select'),
  rate: keyword('rate'),
  count_over_time: keyword('count_over_time'),
  min_over_time: keyword('min_over_time'),
  max_over_time: keyword('max_over_time'),
  avg_over_time: keyword('avg_over_time'),
  sum_over_time: keyword('sum_over_time'),
  quantile_over_time: keyword('quantile_over_time'),
  histogram_over_time: keyword('histogram_over_time'),
  compare: keyword('compare'),
  topk: keyword('topk'),
  bottomk: keyword('bottomk'),
  with: keyword('with'),
} as const;

const KEYWORDS: ReadonlyMap<string, TokenType> = new Map(Object.entries(KW));

// Order matters: chevrotain takes the first pattern that matches, so longer operators come first,
// numbers precede the `.` of unscoped attributes (`.5` is a float), and scope prefixes precede
// identifiers.
const LEXED: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedComment,
  StringLit,
  DurationLit,
  FloatLit,
  IntegerLit,
  TraceColon,
  SpanColon,
  EventColon,
  LinkColon,
  InstrumentationColon,
  AttributeTok,
  ScopeOnly,
  NotDesc,
  NotAnce,
  UnionDesc,
  UnionAnce,
  Neq,
  Re,
  Nre,
  Gte,
  Lte,
  And,
  Or,
  Desc,
  Ance,
  NotChild,
  NotParent,
  UnionSibl,
  UnionChild,
  UnionParent,
  Comma,
  LBrace,
  RBrace,
  LParen,
  RParen,
  Eq,
  Gt,
  Lt,
  Add,
  Sub,
  Div,
  Mod,
  Mul,
  Pow,
  Not,
  Pipe,
  Sibl,
  Identifier,
  Illegal,
];

/** Every token type the parser may see. */
export const ALL_TOKENS: TokenType[] = [...LEXED.filter((t) => t.GROUP !== Lexer.SKIPPED), ...KEYWORDS.values(), LexError];

let lexer: Lexer | undefined;

function getLexer(): Lexer {
  lexer ??= new Lexer(LEXED, {
    positionTracking: 'full',
    // Go's scanner counts lines by \n only.
    lineTerminatorsPattern: /\n/g,
    lineTerminatorCharacters: ['\n'],
    ensureOptimizations: true,
  });
  return lexer;
}

/** Tokenizes a query; malformed literals come back as LexError tokens (see LexErrorPayload). */
export function tokenize(query: string): IToken[] {
  const { tokens, errors } = getLexer().tokenize(query);
  // Every character starts some token (Illegal catches the rest), so chevrotain never skips input;
  // should it ever, stop at that point with an error token rather than silently drop characters.
  const [skipped] = errors;
  if (skipped !== undefined) {
    const at = tokens.findIndex((t) => t.startOffset > skipped.offset);
    const errorToken: IToken = {
      image: query.slice(skipped.offset, skipped.offset + skipped.length),
      startOffset: skipped.offset,
      tokenType: LexError,
      tokenTypeIdx: LexError.tokenTypeIdx!,
      payload: { error: 'syntax error: unexpected character' } satisfies LexErrorPayload,
    };
    tokens.splice(at < 0 ? tokens.length : at, tokens.length, errorToken);
  }
  // Release the text held by the scanner caches.
  numberCacheText = '';
  attrCacheText = '';
  for (const tok of tokens) {
    const type = tok.tokenType;
    if (type === Identifier) {
      const kw = KEYWORDS.get(tok.image);
      if (kw !== undefined) {
        tok.tokenType = kw;
        tok.tokenTypeIdx = kw.tokenTypeIdx!;
      }
    } else if (typeof tok.payload === 'object' && tok.payload !== null && 'error' in tok.payload) {
      tok.tokenType = LexError;
      tok.tokenTypeIdx = LexError.tokenTypeIdx!;
    }
  }
  return tokens;
}
