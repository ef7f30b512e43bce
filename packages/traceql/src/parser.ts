// The chevrotain parser for TraceQL.
//
// Tempo's grammar (goyacc, LALR) has several languages that all start with `(`: spanset
// expressions, wrapped pipelines, scalar expressions, wrapped scalar pipelines, metrics math and
// folded constants. An LL parser cannot tell them apart until the closing `)`, so the outer level is
// parsed with one "cover" grammar of operators by precedence (low to high: `|`; `&&` `||`;
// comparison and structural; `+ -`; `* / %`; `^` right-assoc; unary minus) whose operands are
// spanset filters, parenthesised sub-queries, aggregates, pipeline operations, metrics functions
// and numbers. Each operand and operation is classified as it is built (see Cls) and combinations
// Tempo's grammar does not allow are reported right there, at the token where an LR parser would
// have stopped, so the first error in the text is the one reported. Field expressions inside
// `{ }`, `by()` and aggregates have their own, unambiguous rules.

import { EmbeddedActionsParser, EOF } from 'chevrotain';
import type { IParserErrorMessageProvider, IToken, TokenType } from 'chevrotain';
import type {
  Aggregate,
  AggregateOp,
  Attribute,
  AttributeRef,
  CoalesceOperation,
  ComparisonOperator,
  FieldExpression,
  GroupOperation,
  Hint,
  Intrinsic,
  IntrinsicName,
  MetricsAggregate,
  MetricsAggregateOp,
  MetricsCompare,
  MetricsFirstStage,
  MetricsMath,
  MetricsMathOperator,
  MetricsQuery,
  Pipeline,
  PipelineElement,
  RootExpr,
  ScalarFilter,
  ScalarOperation,
  ScalarPipeline,
  SecondStage,
  SelectOperation,
  SpansetFilter,
  SpansetOperation,
  SpansetOperator,
  Static,
  StaticNumber,
  BinaryOperator,
  ArithmeticOperator,
} from './ast.js';
import { MAX_INT, MIN_INT } from './ast.js';
import { ParseError } from './errors.js';
import type { LexErrorPayload, ScopeOnlyPayload } from './lexer.js';
import {
  ALL_TOKENS,
  Add,
  And,
  Ance,
  AttributeTok,
  Comma,
  Desc,
  Div,
  DurationLit,
  Eq,
  EventColon,
  FloatLit,
  Gt,
  Gte,
  Identifier,
  Illegal,
  InstrumentationColon,
  IntegerLit,
  KW,
  LBrace,
  LexError,
  LinkColon,
  LParen,
  Lt,
  Lte,
  Mod,
  Mul,
  Neq,
  Not,
  NotAnce,
  NotChild,
  NotDesc,
  NotParent,
  Nre,
  Or,
  Pipe,
  Pow,
  RBrace,
  Re,
  RParen,
  ScopeOnly,
  Sibl,
  SpanColon,
  StringLit,
  Sub,
  TraceColon,
  UnionAnce,
  UnionChild,
  UnionDesc,
  UnionParent,
  UnionSibl,
} from './lexer.js';

/**
 * Deepest nesting of parentheses, braces and unary operators accepted. Far beyond real queries;
 * a level of outer parentheses costs ~30 stack frames and the default stack overflows near 200.
 */
export const MAX_NESTING = 64;

// --- token display, as Tempo's goyacc messages name tokens ----------------------------------------

type Tok = IToken & { idx?: number };

function describe(tok: IToken): string {
  const type = tok.tokenType;
  if (type === EOF || Number.isNaN(tok.startOffset)) return '$end';
  if (type === AttributeTok) {
    const a = tok.payload as Attribute;
    if (a.parent) return 'parent.';
    return a.scope === 'none' ? '.' : `${a.scope}.`;
  }
  return type.LABEL ?? type.name;
}

function expectingList(types: TokenType[]): string {
  const names = [...new Set(types.map((t) => (t === EOF ? '$end' : (t.LABEL ?? t.name))))];
  // goyacc lists the expected tokens only when there are at most four.
  return names.length > 0 && names.length <= 4 ? `, expecting ${names.join(' or ')}` : '';
}

export const errorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) => `unexpected ${describe(actual)}${expectingList([expected])}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) => `unexpected ${describe(firstRedundant)}`,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual }) =>
    `unexpected ${describe(actual[0]!)}${expectingList(
      expectedPathsPerAlt.flatMap((paths) => paths.map((p) => p[0]).filter((t): t is TokenType => t !== undefined)),
    )}`,
  buildEarlyExitMessage: ({ expectedIterationPaths, actual }) =>
    `unexpected ${describe(actual[0]!)}${expectingList(
      expectedIterationPaths.map((p) => p[0]).filter((t): t is TokenType => t !== undefined),
    )}`,
};

/** Line (1-based), column (1-based, in characters) and offset of a token or the end of input. */
export function positionOf(text: string, offset: number): { line: number; column: number; offset: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  let column = 1;
  for (let i = lineStart; i < offset; i++) {
    const c = text.charCodeAt(i);
    const prev = i > lineStart ? text.charCodeAt(i - 1) : 0;
    // the second half of a surrogate pair is not a character of its own
    if (!(c >= 0xdc00 && c <= 0xdfff && prev >= 0xd800 && prev <= 0xdbff)) column++;
  }
  return { line, column, offset };
}

export function tokenOffset(text: string, tok: IToken): number {
  return Number.isNaN(tok.startOffset) || tok.tokenType === EOF ? text.length : tok.startOffset;
}

/** The ParseError for an offending token, with Tempo's wording for lexer errors and `span.` alone. */
export function tokenError(text: string, tok: IToken, syntaxDetail: string): ParseError {
  const offset = tokenOffset(text, tok);
  const pos = positionOf(text, offset);
  let detail = `syntax error: ${syntaxDetail}`;
  if (tok.tokenType === LexError) detail = (tok.payload as LexErrorPayload).error;
  else if (tok.tokenType === ScopeOnly) {
    const p = tok.payload as ScopeOnlyPayload;
    detail = `syntax error: unexpected END_ATTRIBUTE, expecting IDENTIFIER${p.afterParent ? ' or resource. or span.' : ''}`;
  }
  return new ParseError(detail, pos.line, pos.column, pos.offset);
}

// --- operator tables ----------------------------------------------------------------------------

const SPANSET_OPS: ReadonlyMap<TokenType, SpansetOperator> = new Map<TokenType, SpansetOperator>([
  [And, '&&'],
  [Or, '||'],
  [Gt, '>'],
  [Lt, '<'],
  [Desc, '>>'],
  [Ance, '<<'],
  [Sibl, '~'],
  [NotChild, '!>'],
  [NotParent, '!<'],
  [NotDesc, '!>>'],
  [NotAnce, '!<<'],
  [Nre, '!~'],
  [UnionChild, '&>'],
  [UnionParent, '&<'],
  [UnionDesc, '&>>'],
  [UnionAnce, '&<<'],
  [UnionSibl, '&~'],
]);

const COMPARISON_OPS: ReadonlyMap<TokenType, ComparisonOperator> = new Map<TokenType, ComparisonOperator>([
  [Eq, '='],
  [Neq, '!='],
  [Lt, '<'],
  [Lte, '<='],
  [Gt, '>'],
  [Gte, '>='],
]);

const FIELD_COMPARISON_OPS: ReadonlyMap<TokenType, BinaryOperator> = new Map<TokenType, BinaryOperator>([
  ...COMPARISON_OPS,
  [Re, '=~'],
  [Nre, '!~'],
]);

const ARITHMETIC_OPS: ReadonlyMap<TokenType, ArithmeticOperator> = new Map<TokenType, ArithmeticOperator>([
  [Add, '+'],
  [Sub, '-'],
  [Mul, '*'],
  [Div, '/'],
  [Mod, '%'],
  [Pow, '^'],
]);

const INTRINSIC_KEYWORDS: ReadonlyArray<[TokenType, IntrinsicName]> = [
  [KW.duration, 'duration'],
  [KW.name, 'name'],
  [KW.status, 'status'],
  [KW.statusMessage, 'statusMessage'],
  [KW.kind, 'kind'],
  [KW.parent, 'parent'],
  [KW.rootName, 'rootName'],
  [KW.rootServiceName, 'rootServiceName'],
  [KW.traceDuration, 'traceDuration'],
  [KW.nestedSetLeft, 'nestedSetLeft'],
  [KW.nestedSetRight, 'nestedSetRight'],
  [KW.nestedSetParent, 'nestedSetParent'],
];

const SCOPED_INTRINSICS: ReadonlyArray<[TokenType, ReadonlyArray<[TokenType, IntrinsicName]>]> = [
  [
    TraceColon,
    [
      [KW.duration, 'traceDuration'],
      [KW.rootName, 'rootName'],
      [KW.rootService, 'rootServiceName'],
      [KW.id, 'trace:id'],
    ],
  ],
  [
    SpanColon,
    [
      [KW.duration, 'duration'],
      [KW.name, 'name'],
      [KW.kind, 'kind'],
      [KW.status, 'status'],
      [KW.statusMessage, 'statusMessage'],
      [KW.id, 'span:id'],
      [KW.parentID, 'span:parentID'],
      [KW.childCount, 'span:childCount'],
    ],
  ],
  [
    EventColon,
    [
      [KW.name, 'event:name'],
      [KW.timeSinceStart, 'event:timeSinceStart'],
    ],
  ],
  [
    LinkColon,
    [
      [KW.traceID, 'link:traceID'],
      [KW.spanID, 'link:spanID'],
    ],
  ],
  [
    InstrumentationColon,
    [
      [KW.name, 'instrumentation:name'],
      [KW.version, 'instrumentation:version'],
    ],
  ],
];

const STATIC_KEYWORDS: ReadonlyArray<[TokenType, Static]> = [
  [KW.true, { kind: 'static', type: 'bool', value: true }],
  [KW.false, { kind: 'static', type: 'bool', value: false }],
  [KW.ok, { kind: 'static', type: 'status', value: 'ok' }],
  [KW.error, { kind: 'static', type: 'status', value: 'error' }],
  [KW.unset, { kind: 'static', type: 'status', value: 'unset' }],
  [KW.unspecified, { kind: 'static', type: 'kind', value: 'unspecified' }],
  [KW.internal, { kind: 'static', type: 'kind', value: 'internal' }],
  [KW.server, { kind: 'static', type: 'kind', value: 'server' }],
  [KW.client, { kind: 'static', type: 'kind', value: 'client' }],
  [KW.producer, { kind: 'static', type: 'kind', value: 'producer' }],
  [KW.consumer, { kind: 'static', type: 'kind', value: 'consumer' }],
];

const AGGREGATES: ReadonlyArray<[TokenType, AggregateOp]> = [
  [KW.avg, 'avg'],
  [KW.min, 'min'],
  [KW.max, 'max'],
  [KW.sum, 'sum'],
];

const ATTRIBUTE_METRICS: ReadonlyArray<[TokenType, MetricsAggregateOp]> = [
  [KW.min_over_time, 'min_over_time'],
  [KW.max_over_time, 'max_over_time'],
  [KW.avg_over_time, 'avg_over_time'],
  [KW.sum_over_time, 'sum_over_time'],
  [KW.histogram_over_time, 'histogram_over_time'],
];

// --- classification of outer-level expressions ----------------------------------------------------

/** What an outer-level expression is, as far as Tempo's grammar is concerned. */
type Cls =
  /** spanset expression: filters and spanset operations over them */
  | { k: 'ss'; node: SpansetFilter | SpansetOperation; first: Tok }
  /** wrapped spanset pipeline `( ... )` */
  | { k: 'wp'; node: Pipeline; first: Tok }
  /** spanset operation with a wrapped pipeline operand */
  | { k: 'pe'; node: SpansetOperation; first: Tok }
  /** scalar filter `count() > 1` (a pipeline element) */
  | { k: 'sf'; node: ScalarFilter; first: Tok }
  /** scalar expression containing an aggregate; `bare` when it is exactly one aggregate */
  | { k: 'se'; node: Aggregate | ScalarOperation; bare: boolean; first: Tok }
  /** folded number */
  | { k: 'sc'; node: StaticNumber; first: Tok }
  /** wrapped scalar pipeline `({ } | count())` or arithmetic over them */
  | { k: 'spe'; node: ScalarPipeline | ScalarOperation; first: Tok }
  /** comparison of scalar pipelines (root only) */
  | { k: 'spf'; node: ScalarFilter; first: Tok; opTok: Tok }
  /** by(), coalesce(), select() */
  | { k: 'op'; node: GroupOperation | CoalesceOperation | SelectOperation; first: Tok }
  /** metrics function, with any comparisons applied to it */
  | { k: 'mfn'; node: MetricsFirstStage; stages: SecondStage[]; first: Tok }
  /** topk()/bottomk(), with any comparisons applied to it */
  | { k: 'stage'; stages: SecondStage[]; first: Tok }
  /** metrics expression: wrapped metrics query or math over them */
  | { k: 'mx'; node: MetricsQuery | MetricsMath; first: Tok }
  /** metrics expression followed by comparisons (root only) */
  | { k: 'mxf'; node: MetricsQuery | MetricsMath; stages: SecondStage[]; first: Tok; opTok: Tok }
  /** an unwrapped pipeline with at least one `|` */
  | { k: 'pipe'; sub: 'search'; node: Pipeline; first: Tok; pipeTok: Tok }
  | { k: 'pipe'; sub: 'scalar'; node: ScalarPipeline; first: Tok; pipeTok: Tok }
  | { k: 'pipe'; sub: 'metrics'; node: MetricsQuery; first: Tok; pipeTok: Tok }
  | { k: 'pipe'; sub: 'mx'; node: MetricsQuery | MetricsMath; stages: SecondStage[]; first: Tok; pipeTok: Tok };

function isSpansetish(c: Cls): c is Extract<Cls, { k: 'ss' | 'wp' | 'pe' }> {
  return c.k === 'ss' || c.k === 'wp' || c.k === 'pe';
}

function attachStages(node: MetricsQuery | MetricsMath, stages: SecondStage[]): MetricsQuery | MetricsMath {
  node.secondStages.push(...stages);
  return node;
}

function int(value: bigint): StaticNumber {
  return { kind: 'static', type: 'int', value };
}

/** Folds constant arithmetic as Tempo's BinaryOperation.execute does: int op int stays int (wrapping). */
function foldArithmetic(op: '+' | '-' | '*' | '/', a: StaticNumber, b: StaticNumber): StaticNumber | string {
  if (a.type === 'duration' || b.type === 'duration') return 'duration cannot be used in scalar arithmetic';
  if (a.type === 'int' && b.type === 'int') {
    switch (op) {
      case '+':
        return int(BigInt.asIntN(64, a.value + b.value));
      case '-':
        return int(BigInt.asIntN(64, a.value - b.value));
      case '*':
        return int(BigInt.asIntN(64, a.value * b.value));
      case '/':
        if (b.value === 0n) return 'division by zero';
        return int(BigInt.asIntN(64, a.value / b.value));
    }
  }
  const x = Number(a.value);
  const y = Number(b.value);
  const value = op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : x / y;
  return { kind: 'static', type: 'float', value };
}

function negate(s: StaticNumber): StaticNumber {
  if (s.type === 'float') return { kind: 'static', type: 'float', value: -s.value };
  return { kind: 'static', type: s.type, value: BigInt.asIntN(64, -s.value) };
}

// --- the parser -------------------------------------------------------------------------------------

export class TraceQLParser extends EmbeddedActionsParser {
  private text = '';
  private tokens: Tok[] = [];
  private depth = 0;

  constructor() {
    super(ALL_TOKENS, { maxLookahead: 2, errorMessageProvider: errorMessages, recoveryEnabled: false });
    this.performSelfAnalysis();
  }

  /** Parses pre-lexed tokens of `text`. Throws ParseError for semantic errors; syntax errors land in `errors`. */
  parseTokens(text: string, tokens: IToken[]): RootExpr {
    this.text = text;
    this.tokens = tokens;
    for (let i = 0; i < tokens.length; i++) (tokens[i] as Tok).idx = i;
    this.depth = 0;
    this.input = tokens;
    return this.query();
  }

  // --- errors -----------------------------------------------------------------------------------

  private unexpected(tok: IToken, expecting?: string): never {
    throw tokenError(this.text, tok, `unexpected ${describe(tok)}${expecting === undefined ? '' : `, expecting ${expecting}`}`);
  }

  private failAt(tok: IToken, detail: string): never {
    if (tok.tokenType === LexError || tok.tokenType === ScopeOnly) throw tokenError(this.text, tok, '');
    const pos = positionOf(this.text, tokenOffset(this.text, tok));
    throw new ParseError(detail, pos.line, pos.column, pos.offset);
  }

  /** The first token of an expression that is not an opening parenthesis. */
  private leaf(tok: Tok): Tok {
    if (tok.idx === undefined) return tok;
    let i = tok.idx;
    while (this.tokens[i]?.tokenType === LParen) i++;
    return this.tokens[i] ?? tok;
  }

  private enter(tok: IToken): void {
    if (++this.depth > MAX_NESTING) this.failAt(tok, `syntax error: nesting deeper than ${MAX_NESTING} levels`);
  }

  private leave(): void {
    this.depth--;
  }

  /** The operand of a structural or logical spanset operator must start a spanset. */
  private expectSpansetStart(): void {
    const next = this.LA(1);
    if (next.tokenType !== LBrace && next.tokenType !== LParen) this.unexpected(next, '{ or (');
  }

  // --- root ---------------------------------------------------------------------------------------

  private query = this.RULE('query', (): RootExpr => {
    const body = this.SUBRULE(this.pipeExpr);
    let root: RootExpr = undefined as unknown as RootExpr;
    this.ACTION(() => {
      root = { kind: 'root', query: this.toRoot(body, this.LA(1)), hints: [] };
    });
    this.MANY(() => {
      const hints = this.SUBRULE(this.hints);
      this.ACTION(() => {
        // Like Tempo, a later `with (...)` replaces an earlier one.
        root.hints = hints;
      });
    });
    return root;
  });

  private toRoot(c: Cls, next: IToken): RootExpr['query'] {
    switch (c.k) {
      case 'ss':
      case 'sf':
        return { kind: 'pipeline', elements: [c.node] };
      case 'op':
        if (c.node.kind === 'coalesce') return this.unexpected(c.first);
        return { kind: 'pipeline', elements: [c.node] };
      case 'wp':
        return c.node;
      case 'pe':
      case 'spf':
        return { kind: 'pipeline', elements: [c.node] };
      case 'mx':
        return c.node;
      case 'mxf':
        return attachStages(c.node, c.stages);
      case 'pipe':
        if (c.sub === 'mx') return attachStages(c.node, c.stages);
        // A pipeline ending in a bare aggregate must be compared to something.
        if (c.sub === 'scalar') return this.unexpected(next);
        return c.node;
      case 'se':
      case 'sc':
      case 'spe':
        return this.unexpected(next);
      case 'mfn':
      case 'stage':
        return this.unexpected(c.first);
    }
  }

  private hints = this.RULE('hints', (): Hint[] => {
    const hints: Hint[] = [];
    this.CONSUME(KW.with);
    this.CONSUME(LParen);
    hints.push(this.SUBRULE1(this.hint));
    this.MANY(() => {
      this.CONSUME(Comma);
      hints.push(this.SUBRULE2(this.hint));
    });
    this.CONSUME(RParen);
    return hints;
  });

  private hint = this.RULE('hint', (): Hint => {
    const name = this.CONSUME(Identifier);
    this.CONSUME(Eq);
    const value = this.SUBRULE(this.staticValue);
    return { kind: 'hint', name: name.image, value };
  });

  // --- outer level: pipelines, spanset and scalar operations, metrics -------------------------------

  private pipeExpr = this.RULE('pipeExpr', (): Cls => {
    const first = this.SUBRULE1(this.opExpr);
    let state: 'none' | 'search' | 'scalar' | 'metrics' | 'mx' = 'none';
    let pipeTok: Tok | undefined;
    const elements: PipelineElement[] = [];
    let aggregate: Aggregate | undefined;
    let firstStage: MetricsFirstStage | undefined;
    let mx: MetricsQuery | MetricsMath | undefined;
    const stages: SecondStage[] = [];
    this.MANY(() => {
      const pipe = this.CONSUME(Pipe) as Tok;
      this.ACTION(() => {
        if (state === 'none') {
          pipeTok = pipe;
          switch (first.k) {
            case 'ss':
            case 'sf':
              elements.push(first.node);
              state = 'search';
              break;
            case 'op':
              if (first.node.kind === 'coalesce') this.unexpected(first.first);
              elements.push(first.node);
              state = 'search';
              break;
            case 'mx':
              mx = first.node;
              state = 'mx';
              break;
            case 'mxf':
              mx = first.node;
              stages.push(...first.stages);
              state = 'mx';
              break;
            case 'mfn':
            case 'stage':
              return this.unexpected(first.first);
            default:
              return this.unexpected(pipe);
          }
        } else if (state === 'scalar') {
          // A pipeline ending in an aggregate is complete.
          this.unexpected(pipe);
        }
        return undefined;
      });
      const part = this.SUBRULE2(this.opExpr);
      this.ACTION(() => {
        if (state === 'search') {
          switch (part.k) {
            case 'ss':
            case 'sf':
            case 'op':
              elements.push(part.node);
              return;
            case 'se':
              if (!part.bare) this.unexpected(this.LA(1));
              aggregate = part.node as Aggregate;
              state = 'scalar';
              return;
            case 'mfn':
              firstStage = part.node;
              stages.push(...part.stages);
              state = 'metrics';
              return;
            default:
              return this.unexpected(this.leaf(part.first));
          }
        }
        // state is 'metrics' or 'mx': only second stages may follow
        if (part.k !== 'stage') this.unexpected(this.leaf(part.first));
        stages.push(...part.stages);
      });
    });
    return this.ACTION((): Cls => {
      if (pipeTok === undefined) return first;
      const pipeline: Pipeline = { kind: 'pipeline', elements };
      switch (state) {
        case 'scalar':
          return {
            k: 'pipe',
            sub: 'scalar',
            node: { kind: 'scalarPipeline', pipeline, aggregate: aggregate! },
            first: first.first,
            pipeTok,
          };
        case 'metrics':
          return {
            k: 'pipe',
            sub: 'metrics',
            node: { kind: 'metricsQuery', pipeline, firstStage: firstStage!, secondStages: stages },
            first: first.first,
            pipeTok,
          };
        case 'mx':
          return { k: 'pipe', sub: 'mx', node: mx!, stages, first: first.first, pipeTok };
        default:
          return { k: 'pipe', sub: 'search', node: pipeline, first: first.first, pipeTok };
      }
    });
  });

  /** `&&` and `||` between spansets (one precedence level, left-associative, as in Tempo). */
  private opExpr = this.RULE('opExpr', (): Cls => {
    let lhs = this.SUBRULE1(this.cmpExpr);
    this.MANY(() => {
      const opTok = this.OR([{ ALT: () => this.CONSUME(And) }, { ALT: () => this.CONSUME(Or) }]);
      this.ACTION(() => {
        if (!isSpansetish(lhs)) this.unexpected(opTok);
        this.expectSpansetStart();
      });
      const rhs = this.SUBRULE2(this.cmpExpr);
      this.ACTION(() => {
        lhs = this.combineSpanset(SPANSET_OPS.get(opTok.tokenType)!, lhs, rhs);
      });
    });
    return lhs;
  });

  private combineSpanset(op: SpansetOperator, lhs: Cls, rhs: Cls): Cls {
    if (!isSpansetish(lhs)) return this.unexpected(lhs.first);
    if (!isSpansetish(rhs)) return this.unexpected(this.leaf(rhs.first), '{ or (');
    const node: SpansetOperation = { kind: 'spansetOperation', op, lhs: lhs.node, rhs: rhs.node };
    return lhs.k === 'ss' && rhs.k === 'ss' ? { k: 'ss', node, first: lhs.first } : { k: 'pe', node, first: lhs.first };
  }

  /** Comparisons (scalar filters, metrics filters) and structural spanset operators. */
  private cmpExpr = this.RULE('cmpExpr', (): Cls => {
    let lhs = this.SUBRULE1(this.addExpr);
    this.MANY(() => {
      const opTok = this.OR([
        { ALT: () => this.CONSUME(Eq) },
        { ALT: () => this.CONSUME(Neq) },
        { ALT: () => this.CONSUME(Lt) },
        { ALT: () => this.CONSUME(Lte) },
        { ALT: () => this.CONSUME(Gt) },
        { ALT: () => this.CONSUME(Gte) },
        { ALT: () => this.CONSUME(Re) },
        { ALT: () => this.CONSUME(Nre) },
        { ALT: () => this.CONSUME(Desc) },
        { ALT: () => this.CONSUME(Ance) },
        { ALT: () => this.CONSUME(Sibl) },
        { ALT: () => this.CONSUME(NotChild) },
        { ALT: () => this.CONSUME(NotParent) },
        { ALT: () => this.CONSUME(NotDesc) },
        { ALT: () => this.CONSUME(NotAnce) },
        { ALT: () => this.CONSUME(UnionChild) },
        { ALT: () => this.CONSUME(UnionParent) },
        { ALT: () => this.CONSUME(UnionDesc) },
        { ALT: () => this.CONSUME(UnionAnce) },
        { ALT: () => this.CONSUME(UnionSibl) },
      ]) as Tok;
      let mode: 'spanset' | 'scalar' | 'metrics' = 'scalar';
      this.ACTION(() => {
        const type = opTok.tokenType;
        if (isSpansetish(lhs)) {
          if (!SPANSET_OPS.has(type)) return this.unexpected(opTok);
          mode = 'spanset';
          return this.expectSpansetStart();
        }
        if (!COMPARISON_OPS.has(type)) return this.unexpected(opTok);
        switch (lhs.k) {
          case 'se':
          case 'sc':
          case 'spe':
            mode = 'scalar';
            return;
          case 'mfn':
          case 'stage':
          case 'mx':
          case 'mxf':
            mode = 'metrics';
            return;
          default:
            return this.unexpected(opTok);
        }
      });
      const rhs = this.SUBRULE2(this.addExpr);
      this.ACTION(() => {
        lhs = this.combineComparison(mode, opTok, lhs, rhs);
      });
    });
    return lhs;
  });

  private combineComparison(mode: 'spanset' | 'scalar' | 'metrics', opTok: Tok, lhs: Cls, rhs: Cls): Cls {
    if (mode === 'spanset') return this.combineSpanset(SPANSET_OPS.get(opTok.tokenType)!, lhs, rhs);
    const op = COMPARISON_OPS.get(opTok.tokenType)!;
    if (mode === 'metrics') {
      if (rhs.k !== 'sc') return this.unexpected(this.leaf(rhs.first));
      const filter: SecondStage = { kind: 'metricsFilter', op, value: rhs.node };
      switch (lhs.k) {
        case 'mfn':
        case 'stage':
        case 'mxf':
          // the stages array belongs to this expression alone
          lhs.stages.push(filter);
          return lhs;
        case 'mx':
          return { k: 'mxf', node: lhs.node, stages: [filter], first: lhs.first, opTok };
        default:
          return this.unexpected(opTok);
      }
    }
    if (lhs.k === 'spe') {
      if (rhs.k !== 'spe' && rhs.k !== 'sc') return this.unexpected(this.leaf(rhs.first));
      return { k: 'spf', node: { kind: 'scalarFilter', op, lhs: lhs.node, rhs: rhs.node }, first: lhs.first, opTok };
    }
    if ((lhs.k === 'se' || lhs.k === 'sc') && (rhs.k === 'se' || rhs.k === 'sc') && !(lhs.k === 'sc' && rhs.k === 'sc')) {
      return { k: 'sf', node: { kind: 'scalarFilter', op, lhs: lhs.node, rhs: rhs.node }, first: lhs.first };
    }
    return this.unexpected(this.leaf(rhs.first));
  }

  private addExpr = this.RULE('addExpr', (): Cls => {
    let lhs = this.SUBRULE1(this.mulExpr);
    this.MANY(() => {
      const opTok = this.OR([{ ALT: () => this.CONSUME(Add) }, { ALT: () => this.CONSUME(Sub) }]) as Tok;
      this.ACTION(() => this.checkArithmeticLhs(lhs, opTok));
      const rhs = this.SUBRULE2(this.mulExpr);
      this.ACTION(() => {
        lhs = this.combineArithmetic(opTok, lhs, rhs);
      });
    });
    return lhs;
  });

  private mulExpr = this.RULE('mulExpr', (): Cls => {
    let lhs = this.SUBRULE1(this.powExpr);
    this.MANY(() => {
      const opTok = this.OR([
        { ALT: () => this.CONSUME(Mul) },
        { ALT: () => this.CONSUME(Div) },
        { ALT: () => this.CONSUME(Mod) },
      ]) as Tok;
      this.ACTION(() => this.checkArithmeticLhs(lhs, opTok));
      const rhs = this.SUBRULE2(this.powExpr);
      this.ACTION(() => {
        lhs = this.combineArithmetic(opTok, lhs, rhs);
      });
    });
    return lhs;
  });

  /** `^` is right-associative: operands are collected, then folded from the right. */
  private powExpr = this.RULE('powExpr', (): Cls => {
    const operands = [this.SUBRULE1(this.unaryExpr)];
    const ops: Tok[] = [];
    this.MANY(() => {
      const opTok = this.CONSUME(Pow) as Tok;
      this.ACTION(() => {
        // `^` nests to the right, so a chain of them is as deep as it is long.
        if (ops.length >= MAX_NESTING) this.failAt(opTok, `syntax error: nesting deeper than ${MAX_NESTING} levels`);
        this.checkArithmeticLhs(operands[operands.length - 1]!, opTok);
      });
      ops.push(opTok);
      operands.push(this.SUBRULE2(this.unaryExpr));
    });
    return this.ACTION(() => {
      let acc = operands[operands.length - 1]!;
      for (let i = ops.length - 1; i >= 0; i--) acc = this.combineArithmetic(ops[i]!, operands[i]!, acc);
      return acc;
    });
  });

  private checkArithmeticLhs(lhs: Cls, opTok: Tok): void {
    const op = ARITHMETIC_OPS.get(opTok.tokenType)!;
    const mathOp = op === '+' || op === '-' || op === '*' || op === '/';
    if (lhs.k === 'se' || lhs.k === 'sc' || lhs.k === 'spe' || (lhs.k === 'mx' && mathOp)) return;
    this.unexpected(opTok);
  }

  private combineArithmetic(opTok: Tok, lhs: Cls, rhs: Cls): Cls {
    const op = ARITHMETIC_OPS.get(opTok.tokenType)!;
    const mathOp = op === '+' || op === '-' || op === '*' || op === '/';
    if (lhs.k === 'sc' && rhs.k === 'sc') {
      // Tempo's constant grammar has no % or ^.
      if (!mathOp) return this.unexpected(opTok);
      const folded = foldArithmetic(op, lhs.node, rhs.node);
      if (typeof folded === 'string') return this.failAt(opTok, folded);
      return { k: 'sc', node: folded, first: lhs.first };
    }
    if ((lhs.k === 'se' || lhs.k === 'sc') && (rhs.k === 'se' || rhs.k === 'sc')) {
      const node: ScalarOperation = { kind: 'scalarOperation', op, lhs: lhs.node, rhs: rhs.node };
      return { k: 'se', node, bare: false, first: lhs.first };
    }
    if (lhs.k === 'spe' && rhs.k === 'spe') {
      return { k: 'spe', node: { kind: 'scalarOperation', op, lhs: lhs.node, rhs: rhs.node }, first: lhs.first };
    }
    if ((lhs.k === 'mx' || lhs.k === 'sc') && (rhs.k === 'mx' || rhs.k === 'sc')) {
      if (!mathOp) return this.unexpected(opTok);
      for (const side of [lhs, rhs]) {
        if (side.k === 'sc' && side.node.type === 'duration') {
          this.failAt(side.first, 'duration cannot be used as a scalar operand in metric arithmetic');
        }
      }
      const node: MetricsMath = {
        kind: 'metricsMath',
        op: op as MetricsMathOperator,
        lhs: lhs.node as MetricsMath['lhs'],
        rhs: rhs.node as MetricsMath['rhs'],
        secondStages: [],
      };
      return { k: 'mx', node, first: lhs.first };
    }
    return this.unexpected(this.leaf(rhs.first));
  }

  /** Unary minus applies to constants only at this level (it is folded). */
  private unaryExpr = this.RULE('unaryExpr', (): Cls => {
    const minus: Tok[] = [];
    this.MANY(() => {
      minus.push(this.CONSUME(Sub) as Tok);
    });
    const operand = this.SUBRULE(this.primary);
    return this.ACTION(() => {
      if (minus.length === 0) return operand;
      if (operand.k !== 'sc') return this.unexpected(this.leaf(operand.first));
      let node = operand.node;
      for (let i = 0; i < minus.length; i++) node = negate(node);
      return { k: 'sc', node, first: minus[0]! };
    });
  });

  private primary = this.RULE('primary', (): Cls => {
    const first = this.LA(1) as Tok;
    return this.OR([
      {
        ALT: () => {
          const filter = this.SUBRULE(this.spansetFilter);
          return { k: 'ss', node: filter, first } as Cls;
        },
      },
      {
        ALT: () => {
          const open = this.CONSUME(LParen) as Tok;
          this.ACTION(() => this.enter(open));
          const inner = this.SUBRULE(this.pipeExpr);
          this.CONSUME(RParen);
          return this.ACTION(() => {
            this.leave();
            return this.wrap(inner, open);
          });
        },
      },
      { ALT: () => ({ k: 'se', node: this.SUBRULE(this.aggregate), bare: true, first }) as Cls },
      { ALT: () => ({ k: 'op', node: this.SUBRULE(this.groupOperation), first }) as Cls },
      { ALT: () => ({ k: 'op', node: this.SUBRULE(this.coalesceOperation), first }) as Cls },
      { ALT: () => ({ k: 'op', node: this.SUBRULE(this.selectOperation), first }) as Cls },
      { ALT: () => ({ k: 'mfn', node: this.SUBRULE(this.metricsFunction), stages: [], first }) as Cls },
      { ALT: () => ({ k: 'stage', stages: [this.SUBRULE(this.topkBottomk)], first }) as Cls },
      { ALT: () => ({ k: 'sc', node: this.SUBRULE(this.number), first }) as Cls },
    ]);
  });

  /** Classifies `( inner )`. */
  private wrap(inner: Cls, open: Tok): Cls {
    switch (inner.k) {
      case 'ss':
      case 'sc':
      case 'wp':
      case 'pe':
      case 'spe':
      case 'mx':
        return { ...inner, first: open };
      case 'se':
        return { ...inner, bare: false, first: open };
      case 'sf':
        return { k: 'wp', node: { kind: 'pipeline', elements: [inner.node] }, first: open };
      case 'op':
        if (inner.node.kind === 'coalesce') return this.unexpected(inner.first);
        return { k: 'wp', node: { kind: 'pipeline', elements: [inner.node] }, first: open };
      case 'spf':
      case 'mxf':
        return this.unexpected(inner.opTok);
      case 'mfn':
      case 'stage':
        return this.unexpected(inner.first);
      case 'pipe':
        if (inner.sub === 'search') return { k: 'wp', node: inner.node, first: open };
        if (inner.sub === 'scalar') return { k: 'spe', node: inner.node, first: open };
        if (inner.sub === 'metrics') return { k: 'mx', node: inner.node, first: open };
        // second stages after metrics math are only allowed at the root
        return this.unexpected(inner.pipeTok);
    }
  }

  private number = this.RULE('number', (): StaticNumber =>
    this.OR([
      { ALT: () => ({ kind: 'static', type: 'int', value: this.CONSUME(IntegerLit).payload as bigint }) },
      { ALT: () => ({ kind: 'static', type: 'float', value: this.CONSUME(FloatLit).payload as number }) },
      { ALT: () => ({ kind: 'static', type: 'duration', value: this.CONSUME(DurationLit).payload as bigint }) },
    ]),
  );

  // --- pipeline operations and aggregates -------------------------------------------------------------

  private spansetFilter = this.RULE('spansetFilter', (): SpansetFilter => {
    const open = this.CONSUME(LBrace);
    this.ACTION(() => this.enter(open));
    let expr: FieldExpression = { kind: 'static', type: 'bool', value: true };
    this.OPTION(() => {
      expr = this.SUBRULE(this.fieldExpr);
    });
    this.CONSUME(RBrace);
    this.ACTION(() => this.leave());
    return { kind: 'spansetFilter', expr };
  });

  private aggregate = this.RULE('aggregate', (): Aggregate =>
    this.OR([
      {
        ALT: () => {
          this.CONSUME(KW.count);
          this.CONSUME1(LParen);
          this.CONSUME1(RParen);
          return { kind: 'aggregate', op: 'count', expr: null } as Aggregate;
        },
      },
      {
        ALT: () => {
          const op = this.OR1(AGGREGATES.map(([tok, name]) => ({ ALT: () => (this.CONSUME(tok), name) })));
          this.CONSUME2(LParen);
          const expr = this.SUBRULE(this.fieldExpr);
          this.CONSUME2(RParen);
          return { kind: 'aggregate', op, expr } as Aggregate;
        },
      },
    ]),
  );

  private groupOperation = this.RULE('groupOperation', (): GroupOperation => {
    this.CONSUME(KW.by);
    this.CONSUME(LParen);
    const expr = this.SUBRULE(this.fieldExpr);
    this.CONSUME(RParen);
    return { kind: 'groupBy', expr };
  });

  private coalesceOperation = this.RULE('coalesceOperation', (): CoalesceOperation => {
    this.CONSUME(KW.coalesce);
    this.CONSUME(LParen);
    this.CONSUME(RParen);
    return { kind: 'coalesce' };
  });

  private selectOperation = this.RULE('selectOperation', (): SelectOperation => {
    this.CONSUME(KW.select);
    this.CONSUME(LParen);
    const attributes = this.SUBRULE(this.attributeList);
    this.CONSUME(RParen);
    return { kind: 'select', attributes };
  });

  private attributeList = this.RULE('attributeList', (): AttributeRef[] => {
    const list = [this.SUBRULE1(this.attributeRef)];
    this.MANY(() => {
      this.CONSUME(Comma);
      list.push(this.SUBRULE2(this.attributeRef));
    });
    return list;
  });

  // --- metrics ------------------------------------------------------------------------------------------

  private metricsFunction = this.RULE('metricsFunction', (): MetricsFirstStage =>
    this.OR([
      {
        ALT: () => {
          const op = this.OR1([
            { ALT: () => (this.CONSUME(KW.rate), 'rate' as const) },
            { ALT: () => (this.CONSUME(KW.count_over_time), 'count_over_time' as const) },
          ]);
          this.CONSUME1(LParen);
          this.CONSUME1(RParen);
          const by = this.SUBRULE1(this.metricsBy);
          return { kind: 'metricsAggregate', op, attribute: null, quantiles: [], by } as MetricsAggregate;
        },
      },
      {
        ALT: () => {
          const op = this.OR2(ATTRIBUTE_METRICS.map(([tok, name]) => ({ ALT: () => (this.CONSUME(tok), name) })));
          this.CONSUME2(LParen);
          const attribute = this.SUBRULE1(this.attributeRef);
          this.CONSUME2(RParen);
          const by = this.SUBRULE2(this.metricsBy);
          return { kind: 'metricsAggregate', op, attribute, quantiles: [], by } as MetricsAggregate;
        },
      },
      {
        ALT: () => {
          this.CONSUME(KW.quantile_over_time);
          this.CONSUME3(LParen);
          const attribute = this.SUBRULE2(this.attributeRef);
          const quantiles: number[] = [];
          this.AT_LEAST_ONE(() => {
            this.CONSUME1(Comma);
            quantiles.push(this.SUBRULE(this.quantile));
          });
          this.CONSUME3(RParen);
          const by = this.SUBRULE3(this.metricsBy);
          return { kind: 'metricsAggregate', op: 'quantile_over_time', attribute, quantiles, by } as MetricsAggregate;
        },
      },
      {
        ALT: () => {
          this.CONSUME(KW.compare);
          this.CONSUME4(LParen);
          const filter = this.SUBRULE(this.spansetFilter);
          const args: bigint[] = [];
          this.OPTION1(() => {
            this.CONSUME2(Comma);
            args.push(this.CONSUME1(IntegerLit).payload as bigint);
            this.OPTION2(() => {
              this.CONSUME3(Comma);
              args.push(this.CONSUME2(IntegerLit).payload as bigint);
              this.CONSUME4(Comma);
              args.push(this.CONSUME3(IntegerLit).payload as bigint);
            });
          });
          this.CONSUME4(RParen);
          return {
            kind: 'compare',
            filter,
            topN: args[0] === undefined ? 10 : Number(args[0]),
            start: args[1] ?? 0n,
            end: args[2] ?? 0n,
          } as MetricsCompare;
        },
      },
    ]),
  );

  private quantile = this.RULE('quantile', (): number =>
    this.OR([
      { ALT: () => Number(this.CONSUME(IntegerLit).payload as bigint) },
      { ALT: () => this.CONSUME(FloatLit).payload as number },
    ]),
  );

  private metricsBy = this.RULE('metricsBy', (): AttributeRef[] => {
    let by: AttributeRef[] = [];
    this.OPTION(() => {
      this.CONSUME(KW.by);
      this.CONSUME(LParen);
      by = this.SUBRULE(this.attributeList);
      this.CONSUME(RParen);
    });
    return by;
  });

  private topkBottomk = this.RULE('topkBottomk', (): SecondStage => {
    const kind = this.OR([
      { ALT: () => (this.CONSUME(KW.topk), 'topk' as const) },
      { ALT: () => (this.CONSUME(KW.bottomk), 'bottomk' as const) },
    ]);
    this.CONSUME(LParen);
    const limit = this.CONSUME(IntegerLit).payload as bigint;
    this.CONSUME(RParen);
    return { kind, limit: Number(limit) };
  });

  // --- field expressions (inside { }, by(), aggregates) ------------------------------------------------
  // Precedence, low to high: && || ; comparisons and `= nil` ; + - ; * / % ; ^ (right).
  // Prefix `-` and `!` take a multiplicative operand, as Tempo's rules (which carry the
  // precedence of `-` and `!`) resolve: `-a * b` is `-(a * b)`, `-a + b` is `(-a) + b`.

  private fieldExpr = this.RULE('fieldExpr', (): FieldExpression => {
    let lhs = this.SUBRULE1(this.fieldComparison);
    this.MANY(() => {
      const op = this.OR([{ ALT: () => (this.CONSUME(And), '&&' as const) }, { ALT: () => (this.CONSUME(Or), '||' as const) }]);
      const rhs = this.SUBRULE2(this.fieldComparison);
      lhs = { kind: 'binary', op, lhs, rhs };
    });
    return lhs;
  });

  private fieldComparison = this.RULE('fieldComparison', (): FieldExpression => {
    let lhs: FieldExpression = this.OR1([
      {
        ALT: () => {
          this.CONSUME1(KW.nil);
          const notExists = this.OR2([{ ALT: () => (this.CONSUME1(Eq), true) }, { ALT: () => (this.CONSUME1(Neq), false) }]);
          return this.OR3([
            {
              // `nil = nil` and `nil != nil` are both false in Tempo.
              ALT: (): FieldExpression => (this.CONSUME2(KW.nil), { kind: 'static', type: 'bool', value: false }),
            },
            {
              ALT: (): FieldExpression => ({
                kind: 'unary',
                op: notExists ? 'notExists' : 'exists',
                expr: this.SUBRULE1(this.fieldAdditive),
              }),
            },
          ]);
        },
      },
      { ALT: () => this.SUBRULE2(this.fieldAdditive) },
    ]);
    this.MANY(() => {
      const opTok = this.OR4([
        { ALT: () => this.CONSUME2(Eq) },
        { ALT: () => this.CONSUME2(Neq) },
        { ALT: () => this.CONSUME(Lt) },
        { ALT: () => this.CONSUME(Lte) },
        { ALT: () => this.CONSUME(Gt) },
        { ALT: () => this.CONSUME(Gte) },
        { ALT: () => this.CONSUME(Re) },
        { ALT: () => this.CONSUME(Nre) },
      ]);
      const op = FIELD_COMPARISON_OPS.get(opTok.tokenType)!;
      lhs = this.OR5([
        {
          ALT: (): FieldExpression => {
            const nilTok = this.CONSUME3(KW.nil);
            this.ACTION(() => {
              if (op !== '=' && op !== '!=') this.unexpected(nilTok);
            });
            return { kind: 'unary', op: op === '=' ? 'notExists' : 'exists', expr: lhs };
          },
        },
        { ALT: (): FieldExpression => ({ kind: 'binary', op, lhs, rhs: this.SUBRULE3(this.fieldAdditive) }) },
      ]);
    });
    return lhs;
  });

  private fieldAdditive = this.RULE('fieldAdditive', (): FieldExpression => {
    let lhs = this.SUBRULE1(this.fieldMultiplicative);
    this.MANY(() => {
      const op = this.OR([{ ALT: () => (this.CONSUME(Add), '+' as const) }, { ALT: () => (this.CONSUME(Sub), '-' as const) }]);
      const rhs = this.SUBRULE2(this.fieldMultiplicative);
      lhs = { kind: 'binary', op, lhs, rhs };
    });
    return lhs;
  });

  private fieldMultiplicative = this.RULE('fieldMultiplicative', (): FieldExpression => {
    let lhs = this.SUBRULE1(this.fieldPower);
    this.MANY(() => {
      const op = this.OR([
        { ALT: () => (this.CONSUME(Mul), '*' as const) },
        { ALT: () => (this.CONSUME(Div), '/' as const) },
        { ALT: () => (this.CONSUME(Mod), '%' as const) },
      ]);
      const rhs = this.SUBRULE2(this.fieldPower);
      lhs = { kind: 'binary', op, lhs, rhs };
    });
    return lhs;
  });

  private fieldPower = this.RULE('fieldPower', (): FieldExpression => {
    const operands = [this.SUBRULE1(this.fieldUnary)];
    this.MANY(() => {
      const opTok = this.CONSUME(Pow);
      this.ACTION(() => {
        // `^` nests to the right, so a chain of them is as deep as it is long.
        if (operands.length > MAX_NESTING) this.failAt(opTok, `syntax error: nesting deeper than ${MAX_NESTING} levels`);
      });
      operands.push(this.SUBRULE2(this.fieldUnary));
    });
    return this.ACTION(() => {
      let acc = operands[operands.length - 1]!;
      for (let i = operands.length - 2; i >= 0; i--) acc = { kind: 'binary', op: '^', lhs: operands[i]!, rhs: acc };
      return acc;
    });
  });

  private fieldUnary = this.RULE('fieldUnary', (): FieldExpression =>
    this.OR([
      {
        ALT: () => {
          const tok = this.OR1([{ ALT: () => this.CONSUME(Sub) }, { ALT: () => this.CONSUME(Not) }]);
          this.ACTION(() => this.enter(tok));
          const expr = this.SUBRULE(this.fieldMultiplicative);
          this.ACTION(() => this.leave());
          return { kind: 'unary', op: tok.tokenType === Sub ? '-' : '!', expr } as FieldExpression;
        },
      },
      { ALT: () => this.SUBRULE(this.fieldPrimary) },
    ]),
  );

  private fieldPrimary = this.RULE('fieldPrimary', (): FieldExpression =>
    this.OR([
      {
        ALT: () => {
          const open = this.CONSUME(LParen);
          this.ACTION(() => this.enter(open));
          const expr = this.SUBRULE(this.fieldExpr);
          this.CONSUME(RParen);
          this.ACTION(() => this.leave());
          return expr;
        },
      },
      { ALT: () => this.SUBRULE(this.staticValue) },
      { ALT: () => this.SUBRULE(this.attributeRef) },
    ]),
  );

  private staticValue = this.RULE('staticValue', (): Static =>
    this.OR([
      { ALT: () => ({ kind: 'static', type: 'string', value: this.CONSUME(StringLit).payload as string }) as Static },
      { ALT: () => ({ kind: 'static', type: 'int', value: this.CONSUME(IntegerLit).payload as bigint }) as Static },
      { ALT: () => ({ kind: 'static', type: 'float', value: this.CONSUME(FloatLit).payload as number }) as Static },
      { ALT: () => ({ kind: 'static', type: 'duration', value: this.CONSUME(DurationLit).payload as bigint }) as Static },
      ...STATIC_KEYWORDS.map(([tok, value]) => ({ ALT: () => (this.CONSUME(tok), { ...value }) })),
      {
        ALT: () => {
          const tok = this.OR1([{ ALT: () => this.CONSUME(Identifier) }, { ALT: () => this.CONSUME(Illegal) }]);
          return this.ACTION((): Static => {
            if (tok.tokenType === Identifier && tok.image === 'minInt') return { kind: 'static', type: 'int', value: MIN_INT };
            if (tok.tokenType === Identifier && tok.image === 'maxInt') return { kind: 'static', type: 'int', value: MAX_INT };
            return this.failAt(tok, `unknown identifier: ${tok.image}`);
          });
        },
      },
    ]),
  );

  private attributeRef = this.RULE('attributeRef', (): AttributeRef =>
    this.OR([
      { ALT: () => ({ ...(this.CONSUME(AttributeTok).payload as Attribute) }) },
      ...INTRINSIC_KEYWORDS.map(([tok, name]) => ({
        ALT: (): AttributeRef => (this.CONSUME(tok), { kind: 'intrinsic', name }),
      })),
      ...SCOPED_INTRINSICS.map(([scope, names], i) => ({
        ALT: (): AttributeRef => {
          this.CONSUME(scope);
          const name = this.orIdx(
            i,
            names.map(([tok, n]) => ({ ALT: () => (this.consumeIdx(i, tok), n) })),
          );
          return { kind: 'intrinsic', name } as Intrinsic;
        },
      })),
    ]),
  );

  // Chevrotain tells apart repeated DSL calls in one rule by their index; these pick one by number.
  private orIdx<T>(i: number, alts: { ALT: () => T }[]): T {
    switch (i) {
      case 0:
        return this.OR1(alts);
      case 1:
        return this.OR2(alts);
      case 2:
        return this.OR3(alts);
      case 3:
        return this.OR4(alts);
      default:
        return this.OR5(alts);
    }
  }

  private consumeIdx(i: number, tok: TokenType): IToken {
    switch (i) {
      case 0:
        return this.CONSUME1(tok);
      case 1:
        return this.CONSUME2(tok);
      case 2:
        return this.CONSUME3(tok);
      case 3:
        return this.CONSUME4(tok);
      default:
        return this.CONSUME5(tok);
    }
  }
}
