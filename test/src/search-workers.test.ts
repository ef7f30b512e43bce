// Block searches on worker threads: the compiled pool (dist: real worker_threads, bytes asked of
// the main thread's backend) answers exactly what an inline search answers, keeps NotFoundError
// for a block deleted under it, and the built binary's /api/search over several blocks returns
// what the engine computes over the same traces directly.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Trace, TraceSearchMetadata } from '@andante/model';
import { collectTagValues, compareBytes, encodeTrace, parseTagRef, tagSelector, topSearchResults, type TagValue } from '@andante/model';
import { LocalBackend } from '@andante/backend';
import { newBlockId, writeBlock } from '@andante/storage';
import { searchCompiler } from '@andante/traceql';
import { generateDataset } from '@andante/traceql/testing';
import { REPO_ROOT, flush, killAllProcesses, makeTempDir, postOtlpHttp, removeTempDirs, startProcess } from './harness.js';

// The compiled packages: only there does the pool run real worker threads.
const dist = (pkg: string): string => pathToFileURL(join(REPO_ROOT, 'packages', pkg, 'dist', 'index.js')).href;
const run = promisify(execFile);

const traces: Trace[] = generateDataset(300, 5);
const idOf = (t: Trace): Uint8Array => t.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;
const QUERIES = [
  '{ resource.service.name = "checkout" && duration > 2s && status = error }',
  '{ status = error }',
  '{ span.http.status_code >= 500 }',
  '{ name =~ "GET .*" }',
  '{ resource.service.name = "frontend" } >> { span.db.system = "postgresql" }',
  '{ } | count() > 5',
  '{ span.no_such_attribute = "x" }',
];

function windowOf(ts: Trace[]): { startSeconds: number; endSeconds: number } {
  let lo = Infinity;
  let hi = 0;
  for (const t of ts)
    for (const rs of t.resourceSpans)
      for (const ss of rs.scopeSpans)
        for (const s of ss.spans) {
          lo = Math.min(lo, Number(s.startTimeUnixNano / 1_000_000_000n));
          hi = Math.max(hi, Number(s.endTimeUnixNano / 1_000_000_000n) + 1);
        }
  return { startSeconds: lo, endSeconds: hi };
}

/** What the engine answers over the traces themselves. */
function expected(query: string, limit: number, window: { startSeconds: number; endSeconds: number }): TraceSearchMetadata[] {
  const q = searchCompiler(query);
  return topSearchResults(
    traces.flatMap((t) => q.match(t, window, 3) ?? []),
    limit,
  );
}

afterAll(async () => {
  await killAllProcesses();
  removeTempDirs();
});

/**
 * Runs in a plain `node` child (the compiled packages, no test-only resolution): searches each
 * block through a BlockSearchPool and inline, prints what differs.
 */
const POOL_CHECK = `
const [dir, metasJson, queriesJson, windowJson] = process.argv.slice(2);
const { BlockSearchPool } = await import(${JSON.stringify(dist('querier'))});
const { BackendBlock } = await import(${JSON.stringify(dist('storage'))});
const { LocalBackend } = await import(${JSON.stringify(dist('backend'))});
const { NotFoundError } = await import(${JSON.stringify(dist('model'))});
const { searchCompiler } = await import(${JSON.stringify(dist('traceql'))});
const metas = JSON.parse(metasJson), queries = JSON.parse(queriesJson), window = JSON.parse(windowJson);
const backend = new LocalBackend(dir);
const pool = new BlockSearchPool(backend, () => ({ url: ${JSON.stringify(dist('traceql'))}, exportName: 'searchCompiler' }), 2);
const big = (_k, v) => (typeof v === 'bigint' ? v.toString() : v);
const out = { threaded: pool.threaded, compared: 0, matched: 0, mismatches: [], notFound: false, gone: '' };
for (const query of queries) {
  const req = { query, limit: 10, spss: 3, ...window };
  const q = searchCompiler(query);
  const pooled = await Promise.all(metas.map((m) => pool.search(m, req)));
  for (let i = 0; i < metas.length; i++) {
    const inline = await new BackendBlock(backend, metas[i]).search(q.fetch, req, (t) => q.match(t, req, 3));
    out.compared++;
    out.matched += inline.traces.length;
    if (JSON.stringify(pooled[i], big) !== JSON.stringify(inline, big)) out.mismatches.push(query);
  }
}
// TraceQL metrics block jobs: on the workers as inline (columns and whole-trace leaves).
const { metricsEngine } = await import(${JSON.stringify(dist('traceql'))});
const { metricsBlockJob } = await import(${JSON.stringify(dist('querier'))});
out.metricsCompared = 0;
out.metricsMismatches = [];
out.metricsSpans = 0;
for (const query of ['{ } | rate() by (resource.service.name)', '{ status = error } | quantile_over_time(duration, .9) by (name)', '{ span.http.status_code >= 500 } | count_over_time()']) {
  const r = metricsEngine.alignRange({ startNs: BigInt(window.startSeconds) * 1000000000n, endNs: BigInt(window.endSeconds) * 1000000000n, stepNs: 60000000000n, instant: false });
  const req = { query, ...r, exemplars: 5 };
  for (const m of metas) {
    const pooled = await pool.metrics(m, req);
    const inline = await metricsBlockJob(new BackendBlock(backend, m), req, metricsEngine);
    out.metricsCompared++;
    out.metricsSpans += pooled.leaves[0].series.reduce((n, s) => n + s.count.reduce((a, b) => a + b, 0), 0);
    const plain = (p) => JSON.stringify(p.leaves, (_k, v) => (typeof v === 'bigint' ? v.toString() : ArrayBuffer.isView(v) ? Array.from(v) : v));
    if (plain(pooled) !== plain(inline)) out.metricsMismatches.push(query);
  }
}
await backend.delete([metas[0].tenantID, metas[0].blockID], 'data.parquet');
const gone = await pool.search(metas[0], { query: '{ }', limit: 5, spss: 3, ...window }).catch((e) => e);
out.notFound = gone instanceof NotFoundError;
out.gone = gone instanceof Error ? gone.name + ': ' + gone.message + ' ' + gone.stack : JSON.stringify(gone, big);
await pool.close();
console.log(JSON.stringify(out));
`;

describe('block search pool (compiled, worker threads)', () => {
  it('answers like an inline search, block by block, and keeps NotFoundError', async () => {
    const dir = makeTempDir('pool-');
    const backend = new LocalBackend(dir);
    const sorted = traces.map((trace) => ({ traceId: idOf(trace), trace })).sort((a, b) => compareBytes(a.traceId, b.traceId));
    const metas = [];
    for (let i = 0; i < 3; i++) metas.push(await writeBlock(backend, 'pool', newBlockId(), sorted.filter((_, j) => j % 3 === i), { rowGroupSpans: 128 }));
    const script = join(dir, 'pool-check.mjs');
    writeFileSync(script, POOL_CHECK);
    const { stdout } = await run(process.execPath, [script, dir, JSON.stringify(metas), JSON.stringify(QUERIES), JSON.stringify(windowOf(traces))]);
    const out = JSON.parse(stdout) as {
      threaded: boolean;
      compared: number;
      matched: number;
      mismatches: string[];
      notFound: boolean;
      gone: string;
      metricsCompared: number;
      metricsMismatches: string[];
      metricsSpans: number;
    };
    expect(out.threaded).toBe(true);
    expect(out.compared).toBe(QUERIES.length * 3);
    expect(out.matched).toBeGreaterThan(0);
    expect(out.mismatches).toEqual([]);
    expect(out.notFound, `a search of the deleted block gave ${out.gone}`).toBe(true);
    expect(out.metricsCompared).toBe(9);
    expect(out.metricsSpans).toBeGreaterThan(0);
    expect(out.metricsMismatches).toEqual([]);
  }, 60_000);
});

describe('/api/search of the built binary over several blocks', () => {
  it('returns what the engine computes over the same traces', async () => {
    const dir = makeTempDir('search-workers-');
    const server = await startProcess(dir);
    // Three flushes: three blocks, searched by the workers.
    for (let part = 0; part < 3; part++) {
      const batch = traces.filter((_, i) => i % 3 === part);
      for (let i = 0; i < batch.length; i += 50) {
        const body = encodeTrace({ resourceSpans: batch.slice(i, i + 50).flatMap((t) => t.resourceSpans) });
        expect((await postOtlpHttp(server.ports.otlpHttp!, body)).status).toBe(200);
      }
      await flush(server.ports.http);
    }
    const window = windowOf(traces);
    for (const query of QUERIES) {
      for (const limit of [5, 50]) {
        const url = `http://127.0.0.1:${server.ports.http}/api/search?q=${encodeURIComponent(query)}&limit=${limit}&start=${window.startSeconds}&end=${window.endSeconds}`;
        const res = await fetch(url);
        expect(res.status, query).toBe(200);
        const body = (await res.json()) as { traces?: { traceID: string }[]; metrics: { totalBlocks?: number } };
        expect((body.traces ?? []).map((t) => t.traceID), `${query} limit ${limit}`).toEqual(expected(query, limit, window).map((t) => t.traceID));
        expect(body.metrics.totalBlocks).toBe(3);
      }
    }
    expect(expected(QUERIES[0]!, 50, window).length).toBeGreaterThan(0);

    // Tag values over the blocks, also done by the workers: from columns, and narrowed by span.
    for (const [tag, q] of [
      ['span.http.method', ''],
      ['span.http.method', '{ resource.service.name = "payments" }'],
      ['name', '{ status = error }'],
      ['rootServiceName', ''],
    ] as const) {
      const want = new Map<string, TagValue>();
      const select = tagSelector(searchCompiler, q, window);
      for (const t of traces) collectTagValues(t, parseTagRef(tag, true), want, select(t));
      const url = `http://127.0.0.1:${server.ports.http}/api/v2/search/tag/${tag}/values?q=${encodeURIComponent(q)}&start=${window.startSeconds}&end=${window.endSeconds}`;
      const body = (await (await fetch(url)).json()) as { tagValues: TagValue[] };
      const key = (v: TagValue): string => `${v.type}:${v.value}`;
      expect(body.tagValues.map(key).sort(), `${tag} q=${q}`).toEqual([...want.values()].map(key).sort());
      expect(body.tagValues.length, `${tag} q=${q}`).toBeGreaterThan(0);
    }
  }, 120_000);
});
