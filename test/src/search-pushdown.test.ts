// Block search with conditions pushed down to the columns must answer exactly what the engine
// answers over every trace of the block: for each valid query of the conformance table, over a
// block cut into many small row groups (so traces straddle groups), with and without a window and
// with a small limit (the early stop). It must also actually skip: selective queries read fewer
// bytes than the block and evaluate fewer traces than it holds.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '@andante/backend';
import { bytesToHex, compareBytes, topSearchResults, type Trace, type TraceSearchMetadata } from '@andante/model';
import { BackendBlock, newBlockId, writeBlock, type BlockMeta } from '@andante/storage';
import { searchCompiler } from '@andante/traceql';
import { generateDataset, validQueries } from '@andante/traceql/testing';
import { makeTempDir, removeTempDirs } from './harness.js';

const TENANT = 'pushdown';
let backend: LocalBackend;
let meta: BlockMeta;
let stored: Trace[];

beforeAll(async () => {
  backend = new LocalBackend(makeTempDir('pushdown-'));
  const traces = generateDataset(240, 11)
    .map((trace) => ({ traceId: trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId, trace }))
    .sort((a, b) => compareBytes(a.traceId, b.traceId));
  meta = await writeBlock(backend, TENANT, newBlockId(), traces, { rowGroupSpans: 64 });
  stored = [];
  for await (const { trace } of new BackendBlock(backend, meta).iterateTraces()) stored.push(trace);
});

afterAll(() => removeTempDirs());

interface Window {
  startSeconds: number;
  endSeconds: number;
}

function fullScan(query: string, limit: number, window: Window): TraceSearchMetadata[] {
  const q = searchCompiler(query);
  const out: TraceSearchMetadata[] = [];
  for (const t of stored) {
    const m = q.match(t, window, 3);
    if (m) out.push(m);
  }
  return topSearchResults(out, limit);
}

async function pushedDown(query: string, limit: number, window: Window) {
  const q = searchCompiler(query);
  return new BackendBlock(backend, meta).search(q.fetch, { limit, ...window }, (t) => q.match(t, window, 3));
}

const json = (ts: TraceSearchMetadata[]): string => JSON.stringify(ts, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));

/** The valid conformance queries the search engine runs (metrics queries are another path). */
function runnable(): string[] {
  return validQueries.filter((q) => {
    try {
      searchCompiler(q);
      return true;
    } catch {
      return false;
    }
  });
}

describe('block search with pushed-down conditions', () => {
  it('spans many row groups, with traces across their boundaries', () => {
    expect(meta.totalRecords).toBeGreaterThan(12);
    expect(stored.length).toBe(meta.totalObjects);
  });

  it('answers every conformance query exactly as a full scan does', async () => {
    const queries = runnable();
    expect(queries.length).toBeGreaterThan(200);
    let nonEmpty = 0;
    for (const q of queries) {
      const expected = fullScan(q, 1000, { startSeconds: 0, endSeconds: 0 });
      const got = await pushedDown(q, 1000, { startSeconds: 0, endSeconds: 0 });
      expect(json(got.traces), q).toBe(json(expected));
      if (expected.length > 0) nonEmpty++;
    }
    // The table has to exercise matches, not only empty answers.
    expect(nonEmpty).toBeGreaterThan(100);
  }, 120_000);

  it('keeps the most recent `limit` traces, and honours the window', async () => {
    const all = fullScan('{ }', 10_000, { startSeconds: 0, endSeconds: 0 });
    const starts = all.map((t) => Number(t.startTimeUnixNano / 1_000_000_000n)).sort((a, b) => a - b);
    const window = { startSeconds: starts[Math.floor(starts.length / 4)]!, endSeconds: starts[Math.floor((starts.length * 3) / 4)]! };
    for (const q of ['{ }', '{ status = error }', '{ resource.service.name = "checkout" }', '{ duration > 100ms } | count() > 1', '{ kind = client } > { kind = server }']) {
      for (const w of [{ startSeconds: 0, endSeconds: 0 }, window]) {
        for (const limit of [1, 5, 20]) {
          expect(json((await pushedDown(q, limit, w)).traces), `${q} limit ${limit} ${JSON.stringify(w)}`).toBe(json(fullScan(q, limit, w)));
        }
      }
    }
  });

  it('skips what cannot match: fewer bytes and traces than the block for selective queries', async () => {
    const selective = '{ resource.service.name = "checkout" && status = error && duration > 2s }';
    const expected = fullScan(selective, 1000, { startSeconds: 0, endSeconds: 0 });
    expect(expected.length).toBeGreaterThan(0);
    const got = await pushedDown(selective, 1000, { startSeconds: 0, endSeconds: 0 });
    expect(got.inspectedTraces).toBeLessThan(meta.totalObjects / 2);
    expect(got.inspectedTraces).toBeGreaterThanOrEqual(expected.length);
    expect(got.inspectedBytes).toBeLessThan(meta.size / 2);

    const none = await pushedDown('{ span.no_such_attribute = "x" }', 20, { startSeconds: 0, endSeconds: 0 });
    expect(none.traces).toEqual([]);
    expect(none.inspectedTraces).toBe(0);
    expect(none.inspectedSpans).toBe(meta.totalSpans);
  });

  it('does not read a trace with fewer spans than `| count() > N` needs', async () => {
    const sizes = stored.map((t) => t.resourceSpans.reduce((n, rs) => n + rs.scopeSpans.reduce((m, ss) => m + ss.spans.length, 0), 0)).sort((a, b) => a - b);
    // Half of the traces are too small.
    const n = sizes[Math.floor(sizes.length / 2)]!;
    const query = `{ } | count() > ${n}`;
    const expected = fullScan(query, 1000, { startSeconds: 0, endSeconds: 0 });
    expect(expected.length).toBeGreaterThan(0);
    const got = await pushedDown(query, 1000, { startSeconds: 0, endSeconds: 0 });
    expect(json(got.traces)).toBe(json(expected));
    // Only traces across row groups (read whole, unjudged) may be read beyond those large enough.
    const largeEnough = sizes.filter((s) => s > n).length;
    expect(got.inspectedTraces).toBeLessThan(meta.totalObjects * 0.75);
    expect(got.inspectedTraces).toBeGreaterThanOrEqual(largeEnough);
  });

  it('finds a trace by an ID condition and by resource attributes from the tables', async () => {
    const target = stored[Math.floor(stored.length / 2)]!;
    const id = bytesToHex(target.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId);
    const got = await pushedDown(`{ trace:id = "${id}" }`, 20, { startSeconds: 0, endSeconds: 0 });
    expect(got.traces.map((t) => t.traceID)).toEqual([id.padStart(32, '0')]);
  });
});
