// One trace-ID shard of a TraceQL metrics query over replicated blocks (replication factor not 1:
// at RF 3 each trace is flushed by three ingesters into three blocks, and a compacted block may
// still have siblings holding the same spans). Every block is sorted by trace ID, so the shard's
// traces are read from all blocks at once in a k-way merge (each block reads only the row groups
// of the shard), the copies of a trace are combined with duplicate spans dropped (span ID and
// kind, as every read combines), and the engine sees each trace once: a span held by one, two or
// three copies counts once, and a span one replica missed still counts. Whole traces, not
// columns: the columnar scan cannot tell copies apart without trace and span IDs.

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
export async function metricsReplicatedJob(blocks: readonly BackendBlock[], req: MetricsRequest, shard: TraceIdShard, engine: MetricsEngine, signal?: AbortSignal): Promise<MetricsPartial> {
  const job = engine.job(req);
  let bytes = 0;
  let gone = 0;
  const range = {
    from: shard.from ? hexToBytes(shard.from, 'shard start') : new Uint8Array(0),
    ...(shard.to ? { to: hexToBytes(shard.to, 'shard end') } : {}),
    onBytes: (n: number) => void (bytes += n),
  };
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
    job.observeTrace(parts.length === 1 ? parts[0]! : combineTraces(parts));
    await Promise.all(moved);
  }
  job.addInspected(traces, spans, bytes);
  return job.partial();
}
