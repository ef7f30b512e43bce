// A search whose caller went away (a cancelled gRPC stream) starts no further block jobs and
// rejects; without the signal the same search runs every block.

import { describe, expect, it } from 'vitest';
import { LocalBackend } from '@andante/backend';
import { compareBytes, createLogger } from '@andante/model';
import { Blocklist, Querier } from '@andante/querier';
import { SearchService, defaultSearchLimits } from '@andante/query-frontend';
import { newBlockId, writeBlock, type BlockMeta } from '@andante/storage';
import { searchCompiler } from '@andante/traceql';
import { generateDataset } from '@andante/traceql/testing';
import { makeTempDir } from './harness.js';

async function service(): Promise<{ search: SearchService; querier: Querier; metas: BlockMeta[]; window: { startSeconds: number; endSeconds: number } }> {
  const backend = new LocalBackend(makeTempDir('search-cancel-'));
  const traces = generateDataset(120, 9)
    .map((trace) => ({ traceId: trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId, trace }))
    .sort((a, b) => compareBytes(a.traceId, b.traceId));
  const metas = [];
  for (let i = 0; i < 4; i++) metas.push(await writeBlock(backend, 'single-tenant', newBlockId(), traces.filter((_, j) => j % 4 === i)));
  const logger = createLogger('error', {});
  const blocklist = new Blocklist(backend, 3_600_000, logger);
  await blocklist.poll();
  const querier = new Querier({ backend, blocklist, ingesters: () => [], logger, compile: searchCompiler });
  const search = new SearchService({ blocklist, querier, compile: searchCompiler, limits: defaultSearchLimits(), logger });
  const startSeconds = Math.min(...metas.map((m) => Math.floor(Date.parse(m.startTime) / 1000))) - 1;
  const endSeconds = Math.max(...metas.map((m) => Math.ceil(Date.parse(m.endTime) / 1000))) + 1;
  return { search, querier, metas, window: { startSeconds, endSeconds } };
}

describe('search cancellation', () => {
  it('stops starting block jobs once the signal aborts, and rejects', async () => {
    const { search, window } = await service();
    const req = { query: '{ }', limit: 10_000, spss: 3, ...window };

    let partials = 0;
    const whole = await search.search('single-tenant', req, { onPartial: () => partials++ });
    expect(partials).toBe(4);
    expect(whole.metrics.completedJobs).toBe(4);

    const abort = new AbortController();
    let cancelledPartials = 0;
    const cancelled = search.search('single-tenant', req, {
      signal: abort.signal,
      onPartial: () => {
        cancelledPartials++;
        abort.abort(new Error('client went away'));
      },
    });
    await expect(cancelled).rejects.toThrow('client went away');
    expect(cancelledPartials).toBe(1);
  });

  it("stops a block's scan when the signal aborts, before it starts or once it has started (checked per row group and per batch of traces read), and rejects with its reason", async () => {
    const { querier, metas, window } = await service();
    const req = { query: '{ }', limit: 10_000, spss: 3, ...window };
    const whole = await querier.searchBlock(metas[0]!, req);
    expect(whole.traces.length).toBeGreaterThan(0);
    await expect(querier.searchBlock(metas[0]!, req, AbortSignal.abort(new Error('nobody waits')))).rejects.toThrow('nobody waits');
    // Aborted after the scan started (it is reading the block's footer): no row group is read.
    const abort = new AbortController();
    const scan = querier.searchBlock(metas[1]!, req, abort.signal);
    queueMicrotask(() => abort.abort(new Error('gave up mid-scan')));
    await expect(scan).rejects.toThrow('gave up mid-scan');
  });
});
