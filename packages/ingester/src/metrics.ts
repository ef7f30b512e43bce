import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface IngesterMetrics {
  blocksFlushed: Counter;
  failedFlushes: Counter;
  flushDuration: Histogram;
  liveTraces: Gauge<'tenant'>;
  tracesCreated: Counter<'tenant'>;
  bytesReceived: Counter<'tenant'>;
  walReplayedSegments: Counter;
  unflushedBytes: Gauge;
}

export function createIngesterMetrics(registry: Registry, unflushedBytes: () => number): IngesterMetrics {
  const registers = [registry];
  return {
    blocksFlushed: new Counter({ name: 'tempo_ingester_blocks_flushed_total', help: 'Blocks flushed to the backend.', registers }),
    failedFlushes: new Counter({ name: 'tempo_ingester_failed_flushes_total', help: 'Block flushes that failed and will be retried.', registers }),
    flushDuration: new Histogram({
      name: 'tempo_ingester_flush_duration_seconds',
      help: 'Time to write one block to the backend.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    liveTraces: new Gauge({ name: 'tempo_ingester_live_traces', help: 'Live traces per tenant.', labelNames: ['tenant'], registers }),
    tracesCreated: new Counter({ name: 'tempo_ingester_traces_created_total', help: 'Traces created.', labelNames: ['tenant'], registers }),
    bytesReceived: new Counter({ name: 'tempo_ingester_bytes_received_total', help: 'Trace bytes received.', labelNames: ['tenant'], registers }),
    walReplayedSegments: new Counter({ name: 'tempo_ingester_wal_replayed_segments_total', help: 'Trace segments recovered from the WAL at start.', registers }),
    // Not a Tempo metric (Tempo has no such limit): what ingester.max_unflushed_bytes is compared with.
    unflushedBytes: new Gauge({ name: 'andante_ingester_unflushed_bytes', help: 'Trace bytes held by the ingester and not yet flushed to the backend.',
      registers,
      collect(): void {
        this.set(unflushedBytes());
      },
    }),
  };
}
