// Block read benchmark, in process, over a store the search benchmark kept (`--data DIR`): for the
// newest block, the CPU time of one pushed-down search per query (scan alone with limit 1, and with
// limit 20 where the result traces are read), as spans scanned per CPU second; and tag values
// read from the block's columns against collecting them from every trace.
//
//   pnpm build && node bench/dist/search.js --spans 1000000 --data /tmp/andante-search-1m
//   node bench/dist/block-read.js --data /tmp/andante-search-1m [--runs 15]

import { join } from 'node:path';
import { LocalBackend } from '@andante/backend';
import { collectTagValues, parseTagRef, type TagValue } from '@andante/model';
import { BackendBlock, listBlockMetas } from '@andante/storage';
import { searchCompiler } from '@andante/traceql';

const QUERIES = [
  '{ resource.service.name = "checkout" }',
  '{ span.http.status_code = 599 }',
  '{ span.http.url =~ ".*/resource1[0-9]/.*" }',
  '{ resource.service.name = "frontend" } >> { span.db.system = "postgresql" }',
  '{ resource.service.name = "checkout" } | count() > 3',
  '{ resource.service.name = "checkout" && duration > 2s && status = error }',
];
const TAGS = ['resource.service.name', 'name', 'span.http.method', 'span.http.url'];

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const data = option('data', '');
  if (!data) throw new Error('--data DIR: a store kept by the search benchmark');
  const runs = Number(option('runs', '15'));
  const backend = new LocalBackend(join(data, 'traces'));
  const metas = await listBlockMetas(backend, 'single-tenant');
  const meta = metas.sort((a, b) => b.endTime.localeCompare(a.endTime))[0]!;
  const block = new BackendBlock(backend, meta); // opened once, as the querier keeps it
  console.log(`block ${meta.blockID}: ${meta.totalSpans.toLocaleString('en-US')} spans, ${meta.totalRecords} row groups, ${(meta.size / 1e6).toFixed(1)} MB; medians of ${runs} runs after 3 warm-ups`);
  console.log('');
  console.log(`${'query'.padEnd(78)} | limit |  CPU ms | spans/s per core | traces read`);
  for (const q of QUERIES) {
    const compiled = searchCompiler(q);
    for (const limit of [1, 20]) {
      const req = { query: q, limit, spss: 3, startSeconds: 0, endSeconds: 0 };
      const cpu: number[] = [];
      let read = 0;
      for (let i = 0; i < runs + 3; i++) {
        const c0 = process.cpuUsage();
        const r = await block.search(compiled.fetch, req, (t) => compiled.match(t, req, 3));
        const c = process.cpuUsage(c0);
        if (i >= 3) cpu.push((c.user + c.system) / 1000);
        read = r.inspectedTraces;
      }
      const ms = median(cpu);
      console.log(`${q.padEnd(78)} | ${String(limit).padStart(5)} | ${ms.toFixed(1).padStart(7)} | ${((meta.totalSpans / ms) * 1000).toExponential(2).padStart(16)} | ${String(read).padStart(11)}`);
    }
  }
  console.log('');
  console.log(`${'tag'.padEnd(24)} | from columns ms | every trace ms | values | same`);
  for (const name of TAGS) {
    const ref = parseTagRef(name, true);
    const fast = new Map<string, TagValue>();
    let t0 = performance.now();
    await block.tagValues(ref, fast);
    const fastMs = performance.now() - t0;
    const slow = new Map<string, TagValue>();
    t0 = performance.now();
    for await (const { trace } of block.iterateTraces()) collectTagValues(trace, ref, slow);
    const slowMs = performance.now() - t0;
    const same = [...fast.keys()].sort().join('\n') === [...slow.keys()].sort().join('\n');
    console.log(`${name.padEnd(24)} | ${fastMs.toFixed(0).padStart(15)} | ${slowMs.toFixed(0).padStart(14)} | ${String(fast.size).padStart(6)} | ${same ? 'yes' : 'NO'}`);
  }
}

await main();
