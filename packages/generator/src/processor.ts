// What every processor implements: spans in, metrics into the tenant's registry.

import type { GenBatch } from './span-view.js';

export interface Processor {
  readonly name: string;
  pushSpans(batches: readonly GenBatch[]): void;
  /** Periodic housekeeping (service-graph edge expiry). */
  tick?(): void;
  shutdown(): void;
}
