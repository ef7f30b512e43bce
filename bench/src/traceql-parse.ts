// TraceQL parse speed for the motivating query: medians of batches, per core.
//   pnpm build && node bench/dist/traceql-parse.js

import { parse, validate } from '@andante/traceql';

const CHECKOUT = '{ resource.service.name = "checkout" && duration > 2s && status = error }';
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (let i = 0; i < 5000; i++) validate(parse(CHECKOUT)); // JIT warm-up
const perBatch = 500;
const parseOnly: number[] = [];
const withValidate: number[] = [];
for (let b = 0; b < 60; b++) {
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < perBatch; i++) parse(CHECKOUT);
  parseOnly.push(Number(process.hrtime.bigint() - t0) / perBatch / 1000);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < perBatch; i++) validate(parse(CHECKOUT));
  withValidate.push(Number(process.hrtime.bigint() - t0) / perBatch / 1000);
}
console.log(`checkout query: parse ${median(parseOnly).toFixed(1)} µs, parse+validate ${median(withValidate).toFixed(1)} µs (median of 60 batches of ${perBatch})`);
