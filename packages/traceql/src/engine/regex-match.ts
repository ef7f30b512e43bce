// Regex matchers for =~ and !~, built once per query. Tempo matches RE2 fully anchored; common
// shapes (a literal, literal alternatives, prefix/suffix/contains) need no RegExp at all, and the
// rest go through compileRegex with a per-pattern memo of recent subjects, because attribute
// values repeat heavily across spans.
//
// Cost risk: JavaScript's RegExp backtracks where RE2 is linear, so a pathological pattern such
// as `(a+)+b` can take exponential time on a long subject. Subjects longer than MAX_SUBJECT are
// not matched (treated as no match) to bound that; real span names and attribute values fit.

import { compileRegex } from '../regex.js';

/** Longer subjects never match: bounds backtracking cost (see above). */
export const MAX_SUBJECT = 64 * 1024;
const MEMO_MAX_ENTRIES = 4096;
const MEMO_MAX_LENGTH = 256;

const META = /[\\.+*?()|[\]{}^$]/;

function isLiteral(s: string): boolean {
  return !META.test(s);
}

/** A matcher for one pattern: true when the whole subject matches. */
export function makeRegexMatcher(pattern: string): (subject: string) => boolean {
  if (isLiteral(pattern)) return (s) => s === pattern;
  const alts = pattern.split('|');
  if (alts.length > 1 && alts.every(isLiteral)) {
    const set = new Set(alts);
    return (s) => set.has(s);
  }
  if (pattern.startsWith('.*') && pattern.endsWith('.*') && pattern.length >= 4) {
    const mid = pattern.slice(2, -2);
    if (isLiteral(mid)) return (s) => s.includes(mid);
  }
  if (pattern.endsWith('.*')) {
    const head = pattern.slice(0, -2);
    if (isLiteral(head)) return (s) => s.startsWith(head);
  }
  if (pattern.startsWith('.*')) {
    const tail = pattern.slice(2);
    if (isLiteral(tail)) return (s) => s.endsWith(tail);
  }
  const re = compileRegex(pattern);
  const memo = new Map<string, boolean>();
  return (s) => {
    if (s.length > MAX_SUBJECT) return false;
    if (s.length > MEMO_MAX_LENGTH) return re.test(s);
    let r = memo.get(s);
    if (r === undefined) {
      r = re.test(s);
      if (memo.size < MEMO_MAX_ENTRIES) memo.set(s, r);
    }
    return r;
  };
}

/** Matchers shared by the conditions of one query that use the same pattern. */
export class RegexCache {
  private readonly byPattern = new Map<string, (subject: string) => boolean>();

  get(pattern: string): (subject: string) => boolean {
    let m = this.byPattern.get(pattern);
    if (m === undefined) {
      m = makeRegexMatcher(pattern);
      this.byPattern.set(pattern, m);
    }
    return m;
  }
}
