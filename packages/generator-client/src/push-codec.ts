// The metrics-generator's push RPC (`/andante.MetricsGenerator/PushSpans`). Tempo's generator
// takes `tempopb.PushSpansRequest` (re-marshalled ResourceSpans); Andante sends what the
// ingester gets: the distributor's pre-cut trace segments (`tempopb.Trace` bytes each), never
// decoded on the distributor. The request is the ingester's PushRequest message (same fields,
// same checks), so its codec is reused; the response is empty (the generator acknowledges, it
// rejects nothing per trace).
//
//   PushSpansRequest  = PushRequest { string tenant_id = 1; repeated Segment segments = 2; }
//   PushSpansResponse {}

import { decodePushRequest, encodePushRequest } from '@andante/ingester-client';
import type { GeneratorPushRequest } from '@andante/model';

export const PUSH_SPANS_METHOD = '/andante.MetricsGenerator/PushSpans';

export function encodePushSpansRequest(req: GeneratorPushRequest): Uint8Array {
  return encodePushRequest(req);
}

/** Throws InvalidArgumentError for anything that is not a well-formed request. */
export function decodePushSpansRequest(buf: Uint8Array): GeneratorPushRequest {
  return decodePushRequest(buf);
}
