// Reports parse time for the checkout query (the motivating query). It only prints the
// figure: timing assertions belong in bench/, this keeps a number in the test log for reference.

import { expect, it } from 'vitest';
import { parse } from './parse.js';
import { validate } from './validate.js';

const CHECKOUT = '{ resource.service.name = "checkout" && duration > 2s && status = error }';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

it('parses the checkout query in microseconds', () => {
  for (let i = 0; i < 2000; i++) validate(parse(CHECKOUT)); // warm up the JIT
  const batches: number[] = [];
  const perBatch = 200;
  for (let b = 0; b < 50; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) parse(CHECKOUT);
    batches.push(Number(process.hrtime.bigint() - t0) / perBatch / 1000);
  }
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 2000; i++) validate(parse(CHECKOUT));
  const withValidate = Number(process.hrtime.bigint() - t0) / 2000 / 1000;
  console.log(
    `checkout query: parse median ${median(batches).toFixed(1)} µs/query (50 batches of ${perBatch}); ` +
      `parse+validate ${withValidate.toFixed(1)} µs/query`,
  );
  expect(parse(CHECKOUT).query.kind).toBe('pipeline');
});
