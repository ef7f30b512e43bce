import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface DistributorMetrics {
  spansReceived: Counter<'tenant'>;
  bytesReceived: Counter<'tenant'>;
  discardedSpans: Counter<'reason' | 'tenant'>;
  receiverAccepted: Counter<'receiver' | 'transport'>;
  receiverRefused: Counter<'receiver' | 'transport'>;
  pushDuration: Histogram;
  ingesterAppends: Counter<'ingester'>;
  ingesterAppendFailures: Counter<'ingester'>;
  backgroundPushes: Gauge;
  replicaRetries: Counter;
}

export function createDistributorMetrics(registry: Registry): DistributorMetrics {
  const registers = [registry];
  return {
    spansReceived: new Counter({ name: 'tempo_distributor_spans_received_total', help: 'Spans received per tenant.', labelNames: ['tenant'], registers }),
    bytesReceived: new Counter({ name: 'tempo_distributor_bytes_received_total', help: 'OTLP bytes received per tenant.', labelNames: ['tenant'], registers }),
    discardedSpans: new Counter({ name: 'tempo_discarded_spans_total', help: 'Spans refused, by reason.', labelNames: ['reason', 'tenant'], registers }),
    receiverAccepted: new Counter({ name: 'tempo_receiver_accepted_spans', help: 'Spans accepted by a receiver.', labelNames: ['receiver', 'transport'], registers }),
    receiverRefused: new Counter({ name: 'tempo_receiver_refused_spans', help: 'Spans refused by a receiver.', labelNames: ['receiver', 'transport'], registers }),
    pushDuration: new Histogram({
      name: 'tempo_distributor_push_duration_seconds',
      help: 'Time to accept one export, WAL fsync included.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    // Tempo's names and label (the ingester's address).
    ingesterAppends: new Counter({ name: 'tempo_distributor_ingester_appends_total', help: 'Push calls to an ingester.', labelNames: ['ingester'], registers }),
    ingesterAppendFailures: new Counter({ name: 'tempo_distributor_ingester_append_failures_total', help: 'Push calls to an ingester that failed.', labelNames: ['ingester'], registers }),
    // Not Tempo metrics (Tempo cancels the calls left once the quorum answered).
    backgroundPushes: new Gauge({ name: 'andante_distributor_ingester_background_pushes', help: 'Push calls to replicas still running after their export was acknowledged at the write quorum.', registers }),
    replicaRetries: new Counter({ name: 'andante_distributor_replica_retries_total', help: 'Trace segments re-sent to the next healthy ingester after a replica failed.', registers }),
  };
}
