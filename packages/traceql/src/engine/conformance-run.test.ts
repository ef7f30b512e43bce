// Every valid query of the conformance table runs: search queries over the whole dataset (and
// into search results), metrics queries are refused by compileSearch with the clear error.

import { describe, expect, it } from 'vitest';
import { isMetricsQuery } from '../ast.js';
import { valid } from '../conformance-cases.js';
import { parse } from '../parse.js';
import { generateDataset } from './dataset-cases.js';
import { compileSearch } from './engine.js';
import { MetricsQueryError } from './errors.js';
import { buildEvalTrace } from './eval-trace.js';

const traces = generateDataset(300).map(buildEvalTrace);
const search = valid.filter((q) => !isMetricsQuery(parse(q)));
const metrics = valid.filter((q) => isMetricsQuery(parse(q)));

describe('conformance table through the engine', () => {
  it('has both kinds of query', () => {
    expect(search.length).toBeGreaterThan(150);
    expect(metrics.length).toBeGreaterThan(20);
  });

  it.each(search)('runs %s', (q) => {
    const query = compileSearch(q);
    for (const t of traces) {
      const sets = query.evaluate(t);
      for (const ss of sets) expect(ss.spans.length).toBeGreaterThan(0);
      if (sets.length > 0) query.toSearchMetadata(t, sets, { spss: 3 });
    }
  });

  it.each(metrics)('refuses %s', (q) => {
    expect(() => compileSearch(q)).toThrow(MetricsQueryError);
  });
});
