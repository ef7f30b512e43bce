// String literals and attribute names, read and written exactly as Tempo's lexer reads them:
// Go-syntax strings ("..." with escapes, `...` raw) and attribute names that run until a
// character that ends an attribute, with "quoted segments" for anything else.

/** Result of reading a literal at an offset: where it ends and its value, or why it is invalid. */
export type ReadResult = { end: number; value: string; error?: undefined } | { end: number; error: string };

/** Go's unicode.IsSpace. */
export function isGoSpace(c: number): boolean {
  return (
    c === 0x20 ||
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Characters that end an unquoted attribute name (Tempo's isAttributeRune negated). */
const ATTRIBUTE_STOP = new Set([...'{}()=~!<>&|^,'].map((c) => c.charCodeAt(0)));

export function isAttributeChar(c: number): boolean {
  return !isGoSpace(c) && !ATTRIBUTE_STOP.has(c);
}

function hexValue(c: string | undefined): number {
  if (c === undefined) return -1;
  const n = c.charCodeAt(0);
  if (n >= 48 && n <= 57) return n - 48;
  if (n >= 97 && n <= 102) return n - 87;
  if (n >= 65 && n <= 70) return n - 55;
  return -1;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
};

/**
 * Reads a double-quoted Go string starting at `start` (which holds `"`). `\x` and octal escapes
 * denote bytes, as in Go, so the value is assembled as UTF-8 and decoded at the end.
 */
export function readDoubleQuoted(text: string, start: number): ReadResult {
  let i = start + 1;
  let value = '';
  let bytes: number[] | null = null; // pending raw bytes from \x / octal escapes
  const flushBytes = (): void => {
    if (bytes !== null) {
      value += Buffer.from(bytes).toString('utf8');
      bytes = null;
    }
  };
  let error: string | undefined;
  for (;;) {
    if (i >= text.length) return { end: text.length, error: error ?? 'literal not terminated' };
    const c = text[i]!;
    if (c === '"') {
      i++;
      break;
    }
    if (c === '\n') return { end: i, error: error ?? 'literal not terminated' };
    if (c !== '\\') {
      flushBytes();
      value += c;
      i++;
      continue;
    }
    const e = text[i + 1];
    i += 2;
    if (e !== undefined && e in SIMPLE_ESCAPES) {
      flushBytes();
      value += SIMPLE_ESCAPES[e];
      continue;
    }
    if (e !== undefined && e >= '0' && e <= '7') {
      let n = e.charCodeAt(0) - 48;
      let digits = 1;
      while (digits < 3 && text[i] !== undefined && text[i]! >= '0' && text[i]! <= '7') {
        n = n * 8 + text.charCodeAt(i) - 48;
        i++;
        digits++;
      }
      if (digits < 3) error ??= 'invalid char escape';
      else if (n > 255) error ??= 'invalid syntax';
      else (bytes ??= []).push(n);
      continue;
    }
    const width = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (width === 0) {
      error ??= 'invalid char escape';
      if (e === '\n' || e === undefined) i--; // let the loop report the unterminated literal
      continue;
    }
    let n = 0;
    let digits = 0;
    while (digits < width && hexValue(text[i]) >= 0) {
      n = n * 16 + hexValue(text[i]);
      i++;
      digits++;
    }
    if (digits < width) {
      error ??= 'invalid char escape';
      continue;
    }
    if (e === 'x') {
      (bytes ??= []).push(n);
    } else if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) {
      error ??= 'invalid syntax';
    } else {
      flushBytes();
      value += String.fromCodePoint(n);
    }
  }
  flushBytes();
  return error === undefined ? { end: i, value } : { end: i, error };
}

/** Reads a Go raw string (backticks); carriage returns are dropped, as strconv.Unquote does. */
export function readBacktick(text: string, start: number): ReadResult {
  const close = text.indexOf('`', start + 1);
  if (close < 0) return { end: text.length, error: 'literal not terminated' };
  return { end: close + 1, value: text.slice(start + 1, close).replaceAll('\r', '') };
}

/** Prints a string literal that reads back to `value`. */
export function quoteString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/**
 * Reads an attribute name at `start`: unquoted attribute characters and "quoted segments" (where
 * only \" and \\ are escapes) until a character that ends an attribute. Errors are Tempo's.
 */
export function readAttributeName(text: string, start: number): ReadResult {
  let i = start;
  let value = '';
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      let closed = false;
      while (i < text.length) {
        const q = text[i]!;
        if (q === '"') {
          i++;
          closed = true;
          break;
        }
        if (q === '\\') {
          const e = text[i + 1];
          if (e === '"' || e === '\\') {
            value += e;
            i += 2;
            continue;
          }
          return { end: Math.min(i + 2, text.length), error: 'invalid escape sequence' };
        }
        value += q;
        i++;
      }
      if (!closed) return { end: text.length, error: 'unexpected EOF, expecting "' };
    } else if (isAttributeChar(c)) {
      value += text[i];
      i++;
    } else {
      break;
    }
  }
  return { end: i, value };
}

/** Does this name need quotes to read back as one attribute name? */
export function attributeNeedsQuotes(name: string): boolean {
  if (name === '') return true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x22 || !isAttributeChar(c)) return true;
  }
  return false;
}

/** Prints an attribute name, quoting it only when needed. */
export function quoteAttributeName(name: string, forceQuotes = false): string {
  if (!forceQuotes && !attributeNeedsQuotes(name)) return name;
  return `"${name.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}
