// What every processor implements: spans in, metrics into the tenant's registry.

import type { GenBatch, GenSpan } from './span-view.js';

export interface Processor {
  readonly name: string;
  /** Batches of decoded spans (tests, tools): beginPush, then resource/span per span, then endPush. */
  pushSpans(batches: readonly GenBatch[]): void;
  /**
   * The generator's path: one push is beginPush(), then for each span the resource it belongs to
   * (only when it changed) and the span itself, then endPush(). The span is a reused view, valid
   * only during the call: a processor keeps strings and numbers from it, never the object.
   */
  beginPush(): void;
  resource(resource: GenBatch['resource']): void;
  span(span: GenSpan): void;
  endPush(): void;
  /** Periodic housekeeping (service-graph edge expiry). */
  tick?(): void;
  shutdown(): void;
}

/** pushSpans in terms of the per-span calls. */
export function pushBatches(p: Processor, batches: readonly GenBatch[]): void {
  p.beginPush();
  for (const rs of batches) {
    p.resource(rs.resource);
    for (const ss of rs.scopeSpans) for (const s of ss.spans) p.span(s);
  }
  p.endPush();
}
