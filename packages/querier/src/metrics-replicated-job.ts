// One trace-ID shard of a TraceQL metrics query over replicated blocks (replication factor not 1:
// at RF 3 each trace is flushed by three ingesters into three blocks, and a compacted block may
// still have siblings holding the same spans). Every block is sorted by trace ID, so the shard's
// traces are read from all blocks at once in a k-way merge (each block reads only the row groups
// of the shard), the copies of a trace are combined with duplicate spans dropped (span ID and
// kind, as every read combines), and the engine sees each trace once: a span held by one, two or
// three copies counts once, and a span one replica missed still counts. Leaves the columnar scan
// answers are read from columns instead, block after block over the shard's rows, with trace ID,
// span ID and kind read beside them: a row counts the first time its span is seen in the shard.

import { NotFoundError, combineTraces, compareBytes, countSpans, hexToBytes, type MetricsEngine, type MetricsPartial, type MetricsRequest, type Trace, type TraceIdShard } from '@andante/model';
import type { BackendBlock, TraceEntry } from '@andante/storage';

interface Cursor {
  iter: AsyncIterator<TraceEntry>;
  head: TraceEntry | null;
}

/** The next trace of a block; a block deleted meanwhile (compacted, retention) ends its part. */
async function advance(c: Cursor): Promise<void> {
  try {
    const r = await c.iter.next();
    c.head = r.done ? null : r.value;
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    c.head = null;
  }
}

/** `signal` aborted (nobody waits for the answer) stops the job at its next trace. */
/** The block's answer, or `gone` when it was deleted since it was listed (compacted, retention). */
async function unlessGone<T>(p: Promise<T>): Promise<T | typeof GONE> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof NotFoundError) return GONE;
    throw err;
  }
}
const GONE = Symbol('gone');

export async function metricsReplicatedJob(blocks: readonly BackendBlock[], req: MetricsRequest, shard: TraceIdShard, engine: MetricsEngine, signal?: AbortSignal): Promise<MetricsPartial> {
  const job = engine.job(req);
  let bytes = 0;
  let gone = 0;
  const range = {
    from: shard.from ? hexToBytes(shard.from, 'shard start') : new Uint8Array(0),
    ...(shard.to ? { to: hexToBytes(shard.to, 'shard end') } : {}),
    onBytes: (n: number) => void (bytes += n),
  };
  // Leaves every block can answer from columns: each block's scan of the shard's rows, a span
  // counted the first time its (trace ID, span ID, kind) is seen in the shard (one set per leaf).
  const byTrace: number[] = [];
  const goneBlocks = new Set<BackendBlock>();
  for (const [leaf, plan] of job.columnPlans.entries()) {
    const able = plan ? await Promise.all(blocks.map((b) => unlessGone(b.canScanColumns(plan)))) : [];
    able.forEach((a, i) => void (a === GONE && goneBlocks.add(blocks[i]!)));
    if (!plan || able.some((a) => a === false)) {
      byTrace.push(leaf);
      continue;
    }
    const dedup = { from: range.from, ...(range.to ? { to: range.to } : {}), seen: new Set<string>() };
    const visit = async (batch: Parameters<typeof job.observeColumns>[1]): Promise<void> => {
      signal?.throwIfAborted();
      await job.observeColumns(leaf, batch);
    };
    for (const b of blocks) {
      if (goneBlocks.has(b)) continue;
      const scanned = await unlessGone(b.scanSpanColumns(plan, visit, dedup));
      if (scanned === GONE) goneBlocks.add(b);
      else if (scanned) job.addInspected(0, scanned.inspectedSpans, scanned.inspectedBytes);
    }
  }
  if (blocks.length > 0 && goneBlocks.size === blocks.length) throw new NotFoundError(`every block of the shard is gone (${blocks.map((b) => b.meta.blockID).join(', ')})`);
  if (byTrace.length === 0) return job.partial();
  const cursors: Cursor[] = blocks.map((b) => ({ iter: b.iterateTraces(range)[Symbol.asyncIterator](), head: null }));
  await Promise.all(
    cursors.map(async (c) => {
      try {
        const r = await c.iter.next();
        c.head = r.done ? null : r.value;
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        gone++;
      }
    }),
  );
  if (blocks.length > 0 && gone === blocks.length) throw new NotFoundError(`every block of the shard is gone (${blocks.map((b) => b.meta.blockID).join(', ')})`);
  let traces = 0;
  let spans = 0;
  for (;;) {
    signal?.throwIfAborted();
    let min: Uint8Array | null = null;
    for (const c of cursors) if (c.head && (min === null || compareBytes(c.head.traceId, min) < 0)) min = c.head.traceId;
    if (min === null) break;
    const parts: Trace[] = [];
    const moved: Promise<void>[] = [];
    for (const c of cursors) {
      if (!c.head || compareBytes(c.head.traceId, min) !== 0) continue;
      parts.push(c.head.trace);
      moved.push(advance(c));
    }
    for (const p of parts) spans += countSpans(p);
    traces++;
    job.observeTrace(parts.length === 1 ? parts[0]! : combineTraces(parts), byTrace);
    await Promise.all(moved);
  }
  job.addInspected(traces, spans, bytes);
  return job.partial();
}
