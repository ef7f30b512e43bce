// The ingester's segment filter judges search conditions on tempopb.Trace bytes without decoding.
// It may only skip traces the engine would not match: for every runnable conformance query and
// every generated trace (whole, and split into one segment per ResourceSpans), a match of the
// engine must pass the filter. And it must skip: selective queries reject most traces.

import { describe, expect, it } from 'vitest';
import {
  encodeTrace,
  type Trace,
} from '@andante/model';
import { MAY_MATCH, compileSegmentFilter } from '@andante/ingester';
import { searchCompiler } from '@andante/traceql';
import { generateDataset, validQueries } from '@andante/traceql/testing';

const traces: Trace[] = generateDataset(200, 21);
const whole = traces.map((t) => [encodeTrace(t)]);
const split = traces.map((t) => t.resourceSpans.map((rs) => encodeTrace({ resourceSpans: [rs] })));
const NO_WINDOW = { startSeconds: 0, endSeconds: 0 };

describe('segment filter', () => {
  it('never skips a trace the engine matches, whole or in segments', () => {
    let judged = 0;
    let skipped = 0;
    for (const q of validQueries) {
      let compiled;
      try {
        compiled = searchCompiler(q);
      } catch {
        continue; // metrics queries and the like: not searches
      }
      const judge = compileSegmentFilter(compiled.fetch);
      if (!judge) continue;
      const filter = (segments: Uint8Array[]): boolean => judge(segments) === MAY_MATCH;
      judged++;
      traces.forEach((t, i) => {
        const matches = compiled.match(t, NO_WINDOW, 3) !== null;
        const passWhole = filter(whole[i]!);
        const passSplit = filter(split[i]!);
        if (matches) {
          expect(passWhole, `${q}: trace ${i} matches but the filter skipped it`).toBe(true);
          expect(passSplit, `${q}: trace ${i} (split) matches but the filter skipped it`).toBe(true);
        }
        if (!passWhole) skipped++;
      });
    }
    expect(judged).toBeGreaterThan(100);
    expect(skipped).toBeGreaterThan(judged * 20);
  });

  it('skips most traces for selective queries, and nothing is filtered when nothing prunes', () => {
    const pass = (q: string): number => {
      const f = compileSegmentFilter(searchCompiler(q).fetch)!;
      return whole.filter((s) => f(s) === MAY_MATCH).length;
    };
    const checkout = '{ resource.service.name = "checkout" && duration > 2s && status = error }';
    const matching = traces.filter((t) => searchCompiler(checkout).match(t, NO_WINDOW, 3)).length;
    expect(matching).toBeGreaterThan(0);
    expect(pass(checkout)).toBeGreaterThanOrEqual(matching);
    expect(pass(checkout)).toBeLessThan(traces.length / 4);
    expect(pass('{ span.no_such_attribute = "x" }')).toBe(0);
    expect(pass('{ name = "no such span" }')).toBe(0);
    expect(compileSegmentFilter(searchCompiler('{ }').fetch)).toBeNull();
    expect(compileSegmentFilter(searchCompiler('{ } | count() > 2').fetch)).toBeNull();
  });

  it('lets a malformed segment through for the engine to judge', () => {
    const f = compileSegmentFilter(searchCompiler('{ name = "x" }').fetch)!;
    expect(f([Uint8Array.from([0x0a, 0x7f, 0x01])])).toBe(MAY_MATCH);
  });

  it('counts the spans it judged when it skips a trace', () => {
    const f = compileSegmentFilter(searchCompiler('{ name = "no such span" }').fetch)!;
    traces.slice(0, 20).forEach((t, i) => {
      const spans = t.resourceSpans.reduce((n, rs) => n + rs.scopeSpans.reduce((m, ss) => m + ss.spans.length, 0), 0);
      expect(f(split[i]!)).toBe(spans);
    });
  });
});
