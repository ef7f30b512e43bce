// Settings that are valid one by one but together leave readers a window in which an acknowledged
// trace is not found. Logged at start (Tempo warns about the same pairs) rather than refused, so a
// test or a deliberate setup can still run them.

import { durationMs, notesOf, parseTarget, type AndanteConfig } from './config.js';

export function configWarnings(cfg: AndanteConfig): string[] {
  // First what loading noted: Tempo keys accepted without effect or read under another name.
  const out: string[] = [...notesOf(cfg)];
  const poll = durationMs(cfg.storage.trace.blocklist_poll);
  const retention = durationMs(cfg.compactor.compaction.compacted_block_retention);
  const completeTimeout = durationMs(cfg.ingester.complete_block_timeout);
  if (retention <= poll) {
    out.push(
      `compactor.compaction.compacted_block_retention (${cfg.compactor.compaction.compacted_block_retention}) should exceed storage.trace.blocklist_poll (${cfg.storage.trace.blocklist_poll}): a querier can still list a compacted block after it is deleted`,
    );
  }
  if (retention <= completeTimeout) {
    out.push(
      `compactor.compaction.compacted_block_retention (${cfg.compactor.compaction.compacted_block_retention}) should exceed ingester.complete_block_timeout (${cfg.ingester.complete_block_timeout}): an ingester names its flushed blocks to searches without start/end for that long, and a deleted one holds nothing`,
    );
  }
  if (completeTimeout <= poll) {
    out.push(
      `ingester.complete_block_timeout (${cfg.ingester.complete_block_timeout}) should exceed storage.trace.blocklist_poll (${cfg.storage.trace.blocklist_poll}): queriers in other processes learn of a flushed block from their next poll`,
    );
  }
  const ring = cfg.ingester.lifecycler.ring;
  if (ring.replication_factor > 1) {
    // TraceQL metrics at RF > 1 split at now - query_backend_after (docs/design.md "TraceQL metrics").
    const after = cfg.query_frontend.metrics.query_backend_after;
    const afterMs = durationMs(after);
    const ing = cfg.ingester;
    if (afterMs > completeTimeout) {
      out.push(
        `query_frontend.metrics.query_backend_after (${after}) should not exceed ingester.complete_block_timeout (${ing.complete_block_timeout}) at replication_factor ${ring.replication_factor}: TraceQL metrics count spans newer than query_backend_after from the ingesters only, which answer for the blocks they flushed for complete_block_timeout, so spans flushed longer ago than that and newer than query_backend_after are counted by nobody; raise complete_block_timeout or lower query_backend_after`,
      );
    }
    if (afterMs <= durationMs(ing.max_block_duration) + durationMs(ing.flush_check_period)) {
      out.push(
        `query_frontend.metrics.query_backend_after (${after}) should exceed ingester.max_block_duration (${ing.max_block_duration}) + ingester.flush_check_period (${ing.flush_check_period}) at replication_factor ${ring.replication_factor}: TraceQL metrics count spans older than query_backend_after from blocks only, and a span can stay in every replica's memory about that long before one flushes it; until then it is not counted`,
      );
    }
  }
  if (ring.replication_factor > 1 && ring.kvstore.store === 'inmemory') {
    out.push(
      `ingester.lifecycler.ring.replication_factor is ${ring.replication_factor} but ingester.lifecycler.ring.kvstore.store is inmemory: this process's ring holds at most its own ingester, fewer than the write quorum of ${Math.floor(ring.replication_factor / 2) + 1}, so every push is refused with 503; use replication_factor 1, or an etcd kvstore shared by ${ring.replication_factor} ingesters`,
    );
  }
  const targets = parseTarget(cfg.target);
  const generatorRuns = targets.includes('all') || targets.includes('metrics-generator');
  const processors = cfg.overrides.defaults.metrics_generator.processors;
  if (generatorRuns && processors.length > 0 && cfg.metrics_generator.storage.remote_write.length === 0) {
    out.push(
      `overrides.defaults.metrics_generator.processors turns on ${processors.join(', ')} but metrics_generator.storage.remote_write is empty: the metrics-generator computes the series and sends them nowhere; add a remote_write entry (a Prometheus-compatible /api/v1/write URL)`,
    );
  }
  return out;
}
