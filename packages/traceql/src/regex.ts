// TraceQL regexes are Go RE2 syntax, matched fully anchored with `.` matching newlines (Tempo
// compiles them through Prometheus' FastRegexMatcher as `^(?s:<re>)$`). JavaScript's RegExp syntax
// differs, so the pattern is translated to an equivalent `u`-mode RegExp: RE2 constructs JS lacks
// (inline flags, \A, \z, \Q..\E, POSIX classes, ungreedy mode) are rewritten, constructs RE2
// rejects (backreferences, lookaround) are rejected, and every literal is re-escaped.

export class RegexSyntaxError extends Error {
  override readonly name = 'RegexSyntaxError';
}

interface Flags {
  i: boolean; // case-insensitive
  m: boolean; // ^ and $ match at line breaks
  s: boolean; // . matches \n
  U: boolean; // ungreedy: swap greedy and lazy quantifiers
}

type Range = [number, number];

const MAX_REPEAT = 1000;
const MAX_NESTING = 1000;

const PERL_CLASSES: Readonly<Record<string, Range[]>> = {
  d: [[0x30, 0x39]],
  s: [
    [0x09, 0x0a],
    [0x0c, 0x0d],
    [0x20, 0x20],
  ],
  w: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
};

const POSIX_CLASSES: Readonly<Record<string, Range[]>> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0x00, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};

// Unicode general categories Go accepts by short name; anything else is taken as a script.
const GENERAL_CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(' '),
);

function complement(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}

function hex(c: number): string {
  return `\\u{${c.toString(16)}}`;
}

/** A code point as a u-mode literal, outside or inside a class. */
function literal(c: number): string {
  const isAlnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  if (isAlnum || c === 0x5f || (c >= 0x80 && !(c >= 0xd800 && c <= 0xdfff) && c !== 0x2028 && c !== 0x2029)) {
    return String.fromCodePoint(c);
  }
  return hex(c);
}

/** Case variants of a code point (simple folding, enough for `(?i)` on letters). */
function caseVariants(c: number): number[] {
  const ch = String.fromCodePoint(c);
  const out = new Set([c]);
  for (const v of [ch.toLowerCase(), ch.toUpperCase()]) {
    if ([...v].length === 1) out.add(v.codePointAt(0)!);
  }
  return [...out];
}

function foldRanges(ranges: Range[]): Range[] {
  const out: Range[] = [...ranges];
  for (const [lo, hi] of ranges) {
    // Fold ranges of reasonable size only; huge ranges already contain both cases in practice.
    if (hi - lo > 0x2000) continue;
    for (let c = lo; c <= hi; c++) {
      for (const v of caseVariants(c)) if (v !== c) out.push([v, v]);
    }
  }
  return out;
}

class Translator {
  private pos = 0;
  private depth = 0;
  private readonly names = new Set<string>();
  constructor(private readonly src: string) {}

  private fail(msg: string): never {
    throw new RegexSyntaxError(`${msg}: \`${this.src}\``);
  }

  private peek(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }

  private nextCodePoint(): number {
    const c = this.src.codePointAt(this.pos)!;
    this.pos += c > 0xffff ? 2 : 1;
    return c;
  }

  translate(): { source: string; ignoreCase: boolean } {
    const flags: Flags = { i: false, m: false, s: true, U: false };
    // A leading (?i) applies to the whole pattern: use the RegExp flag rather than folding.
    let ignoreCase = false;
    const lead = /^\(\?([imsU]+)\)/.exec(this.src);
    if (lead !== null) {
      for (const f of lead[1]!) flags[f as keyof Flags] = true;
      this.pos = lead[0].length;
      // Unless some later group turns it off again.
      if (flags.i && !/\(\?[imsU]*-[imsU]*i/.test(this.src)) {
        ignoreCase = true;
        flags.i = false;
      }
    }
    const source = this.alternation(flags);
    if (this.pos < this.src.length) this.fail('unexpected )');
    return { source, ignoreCase };
  }

  private alternation(flags: Flags): string {
    const branches = [this.concat(flags)];
    while (this.peek() === '|') {
      this.pos++;
      branches.push(this.concat(flags));
    }
    return branches.join('|');
  }

  private concat(flags: Flags): string {
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === '|' || c === ')') return out;
      if (c === '(' && this.peek(1) === '?' && this.isFlagGroup()) {
        // (?flags) changes the flags for the rest of the enclosing group.
        this.applyFlags(flags, this.readFlags(')'));
        continue;
      }
      const atom = this.atom(flags);
      out += this.repeat(atom, flags);
    }
  }

  private isFlagGroup(): boolean {
    return /^\(\?[imsU-]*\)/.test(this.src.slice(this.pos, this.pos + 16));
  }

  private readFlags(terminator: ':' | ')'): { set: string; clear: string } {
    this.pos += 2; // "(?"
    let set = '';
    let clear = '';
    let negate = false;
    for (;;) {
      const c = this.peek();
      if (c === terminator) {
        this.pos++;
        const empty = set + clear === '' && terminator === ')';
        if ((negate && clear === '') || empty) this.fail('invalid or unsupported Perl syntax');
        return { set, clear };
      }
      if (c === '-') {
        if (negate) this.fail('invalid or unsupported Perl syntax');
        negate = true;
      } else if (c === 'i' || c === 'm' || c === 's' || c === 'U') {
        if (negate) clear += c;
        else set += c;
      } else {
        this.fail('invalid or unsupported Perl syntax');
      }
      this.pos++;
    }
  }

  private applyFlags(flags: Flags, change: { set: string; clear: string }): void {
    for (const f of change.set) flags[f as keyof Flags] = true;
    for (const f of change.clear) flags[f as keyof Flags] = false;
  }

  /** One atom, returned as JS source that a quantifier may follow. */
  private atom(flags: Flags): string {
    const c = this.peek()!;
    switch (c) {
      case '(':
        return this.group(flags);
      case '[':
        return this.charClass(flags);
      case '.':
        this.pos++;
        return flags.s ? '[^]' : '[^\\n]';
      case '^':
        this.pos++;
        return flags.m ? '(?<![^\\n])' : '^';
      case '$':
        this.pos++;
        return flags.m ? '(?![^\\n])' : '$';
      case '*':
      case '+':
      case '?':
        return this.fail('missing argument to repetition operator');
      case '{':
        if (this.repeatSpec() !== null) this.fail('missing argument to repetition operator');
        this.pos++;
        return this.literalAtom(0x7b, flags);
      case '\\':
        return this.escape(flags);
      default:
        return this.literalAtom(this.nextCodePoint(), flags);
    }
  }

  private literalAtom(c: number, flags: Flags): string {
    if (flags.i) {
      const variants = caseVariants(c);
      if (variants.length > 1) return `[${variants.map(literal).join('')}]`;
    }
    return literal(c);
  }

  private group(flags: Flags): string {
    if (++this.depth > MAX_NESTING) this.fail('expression nests too deeply');
    this.pos++; // "("
    const inner = { ...flags };
    let open = '(';
    if (this.peek() === '?') {
      const rest = this.src.slice(this.pos, this.pos + 3);
      if (rest.startsWith('?P<') || (rest.startsWith('?<') && rest[2] !== '=' && rest[2] !== '!')) {
        this.pos += rest.startsWith('?P<') ? 3 : 2;
        const end = this.src.indexOf('>', this.pos);
        const name = end < 0 ? '' : this.src.slice(this.pos, end);
        if (end < 0 || !/^[A-Za-z0-9_]+$/.test(name)) this.fail('invalid named capture');
        if (this.names.has(name)) this.fail('duplicate capture group name');
        this.names.add(name);
        this.pos = end + 1;
        // Names do not matter for matching and Go allows names JS does not; keep it unnamed.
      } else if (/^\?[imsU-]*:/.test(this.src.slice(this.pos, this.pos + 16))) {
        this.pos--; // readFlags expects to start at "("
        this.applyFlags(inner, this.readFlags(':'));
        open = '(?:';
      } else {
        this.fail('invalid or unsupported Perl syntax');
      }
    }
    const body = this.alternation(inner);
    if (this.peek() !== ')') this.fail('missing closing )');
    this.pos++;
    this.depth--;
    return `${open}${body})`;
  }

  /** Parses `{n}`, `{n,}` or `{n,m}` at the current position without consuming it. */
  private repeatSpec(): { min: number; max: number | null; length: number } | null {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos, this.pos + 24));
    if (m === null) return null;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? null : Number(m[3]);
    return { min, max, length: m[0].length };
  }

  private repeat(atom: string, flags: Flags): string {
    let out = atom;
    let quantified = false;
    for (;;) {
      const c = this.peek();
      let q: string;
      if (c === '*' || c === '+' || c === '?') {
        this.pos++;
        q = c;
      } else if (c === '{') {
        const spec = this.repeatSpec();
        if (spec === null) return out;
        if (spec.min > MAX_REPEAT || (spec.max ?? 0) > MAX_REPEAT || (spec.max !== null && spec.max < spec.min)) {
          this.fail('invalid repeat count');
        }
        this.pos += spec.length;
        q = spec.max === null ? `{${spec.min},}` : spec.max === spec.min ? `{${spec.min}}` : `{${spec.min},${spec.max}}`;
      } else {
        return out;
      }
      if (quantified) this.fail('invalid nested repetition operator');
      quantified = true;
      let lazy = false;
      if (this.peek() === '?') {
        this.pos++;
        lazy = true;
      }
      if (flags.U) lazy = !lazy;
      // JS refuses to repeat assertions; a group makes it legal and means the same.
      if (atom.startsWith('(?<!') || atom.startsWith('(?!') || atom === '^' || atom === '$' || atom === '\\b' || atom === '\\B') {
        out = `(?:${out})`;
      }
      out += q + (lazy ? '?' : '');
    }
  }

  private escape(flags: Flags): string {
    this.pos++; // "\"
    if (this.pos >= this.src.length) this.fail('trailing backslash at end of expression');
    const c = this.peek()!;
    switch (c) {
      case 'A':
        this.pos++;
        return '^';
      case 'z':
        this.pos++;
        return '$';
      case 'b':
      case 'B':
        this.pos++;
        return `\\${c}`;
      case 'Q': {
        this.pos++;
        const end = this.src.indexOf('\\E', this.pos);
        const text = end < 0 ? this.src.slice(this.pos) : this.src.slice(this.pos, end);
        this.pos = end < 0 ? this.src.length : end + 2;
        let out = '';
        for (const ch of text) out += this.literalAtom(ch.codePointAt(0)!, flags);
        return text === '' ? '' : `(?:${out})`;
      }
      default: {
        const cls = this.classEscape();
        if (cls !== null) return cls.kind === 'ranges' ? this.emitClass(cls.ranges, false, flags) : cls.source;
        return this.literalAtom(this.escapedCodePoint(), flags);
      }
    }
  }

  /** Perl and Unicode class escapes (after the backslash); null when the escape is not one. */
  private classEscape(): { kind: 'ranges'; ranges: Range[] } | { kind: 'source'; source: string } | null {
    const c = this.peek()!;
    const lower = c.toLowerCase();
    if (lower === 'd' || lower === 's' || lower === 'w') {
      this.pos++;
      const ranges = PERL_CLASSES[lower]!;
      return { kind: 'ranges', ranges: c === lower ? ranges : complement(ranges) };
    }
    if (c === 'p' || c === 'P') {
      this.pos++;
      let name: string;
      if (this.peek() === '{') {
        const end = this.src.indexOf('}', this.pos);
        if (end < 0) this.fail('invalid character class range');
        name = this.src.slice(this.pos + 1, end);
        this.pos = end + 1;
      } else {
        if (this.pos >= this.src.length) this.fail('invalid character class range');
        name = String.fromCodePoint(this.nextCodePoint());
      }
      let negate = c === 'P';
      if (name.startsWith('^')) {
        negate = !negate;
        name = name.slice(1);
      }
      if (!/^[A-Za-z_]+$/.test(name)) this.fail('invalid character class range');
      const prop = name === 'Any' ? 'Any' : GENERAL_CATEGORIES.has(name) ? name : `Script=${name}`;
      const source = `\\${negate ? 'P' : 'p'}{${prop}}`;
      try {
        new RegExp(source, 'u');
      } catch {
        this.fail('invalid character class range');
      }
      return { kind: 'source', source };
    }
    return null;
  }

  /** A single escaped character (after the backslash). */
  private escapedCodePoint(): number {
    const c = this.peek()!;
    this.pos++;
    switch (c) {
      case 'a':
        return 0x07;
      case 'f':
        return 0x0c;
      case 't':
        return 0x09;
      case 'n':
        return 0x0a;
      case 'r':
        return 0x0d;
      case 'v':
        return 0x0b;
      case 'x': {
        if (this.peek() === '{') {
          const end = this.src.indexOf('}', this.pos);
          const digits = end < 0 ? '' : this.src.slice(this.pos + 1, end);
          if (!/^[0-9A-Fa-f]+$/.test(digits)) this.fail('invalid escape sequence');
          const n = parseInt(digits, 16);
          if (n > 0x10ffff) this.fail('invalid escape sequence');
          this.pos = end + 1;
          return n;
        }
        const digits = this.src.slice(this.pos, this.pos + 2);
        if (!/^[0-9A-Fa-f]{2}$/.test(digits)) this.fail('invalid escape sequence');
        this.pos += 2;
        return parseInt(digits, 16);
      }
    }
    if (c >= '0' && c <= '7') {
      // A lone non-zero digit would be a backreference, which RE2 does not support.
      const isOctal = (ch: string | undefined): boolean => ch !== undefined && ch >= '0' && ch <= '7';
      if (c !== '0' && !isOctal(this.peek())) this.fail('invalid escape sequence');
      let n = c.charCodeAt(0) - 48;
      for (let i = 1; i < 3 && isOctal(this.peek()); i++) {
        n = n * 8 + this.src.charCodeAt(this.pos) - 48;
        this.pos++;
      }
      return n;
    }
    const code = c.charCodeAt(0);
    const isAlnum = /[0-9A-Za-z]/.test(c);
    if (code < 0x80 && !isAlnum) return code; // escaped punctuation is itself
    return this.fail('invalid escape sequence');
  }

  private charClass(flags: Flags): string {
    this.pos++; // "["
    let negate = false;
    if (this.peek() === '^') {
      negate = true;
      this.pos++;
    }
    const ranges: Range[] = [];
    const props: string[] = [];
    let first = true;
    for (;;) {
      if (this.pos >= this.src.length) this.fail('missing closing ]');
      const c = this.peek()!;
      if (c === ']' && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (c === '[' && this.peek(1) === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(this.src.slice(this.pos, this.pos + 16));
        const cls = m === null ? undefined : POSIX_CLASSES[m[2]!];
        if (m !== null && cls !== undefined) {
          this.pos += m[0].length;
          ranges.push(...(m[1] === '^' ? complement(cls) : cls));
          continue;
        }
        if (m !== null) this.fail('invalid character class range');
      }
      if (c === '\\') {
        this.pos++;
        if (this.pos >= this.src.length) this.fail('trailing backslash at end of expression');
        const cls = this.classEscape();
        if (cls !== null) {
          if (cls.kind === 'ranges') ranges.push(...cls.ranges);
          else props.push(cls.source);
          continue;
        }
      }
      const lo = c === '\\' ? this.escapedCodePoint() : this.nextCodePoint();
      let hi = lo;
      if (this.peek() === '-' && this.peek(1) !== undefined && this.peek(1) !== ']') {
        this.pos++;
        if (this.peek() === '\\') {
          this.pos++;
          if (this.pos >= this.src.length) this.fail('trailing backslash at end of expression');
          hi = this.escapedCodePoint();
        } else {
          hi = this.nextCodePoint();
        }
        if (hi < lo) this.fail('invalid character class range');
      }
      ranges.push([lo, hi]);
    }
    return this.emitClass(ranges, negate, flags, props);
  }

  private emitClass(ranges: Range[], negate: boolean, flags: Flags, props: string[] = []): string {
    const all = flags.i ? foldRanges(ranges) : ranges;
    const body = all.map(([lo, hi]) => (lo === hi ? literal(lo) : `${literal(lo)}-${literal(hi)}`)).join('');
    const inner = body + props.join('');
    // An empty negated class matches any character; an empty class matches none.
    if (inner === '') return negate ? '[^]' : '[]';
    return `[${negate ? '^' : ''}${inner}]`;
  }
}

/**
 * Compiles a TraceQL (RE2) regex as Tempo matches it: fully anchored, `.` matching newlines.
 * Throws RegexSyntaxError for patterns Go's regexp package rejects.
 */
export function compileRegex(pattern: string): RegExp {
  const { source, ignoreCase } = new Translator(pattern).translate();
  try {
    return new RegExp(`^(?:${source})$`, ignoreCase ? 'iu' : 'u');
  } catch (err) {
    throw new RegexSyntaxError(`${(err as Error).message}: \`${pattern}\``);
  }
}
