// Sends each trace's segments to the metrics-generator that owns the trace on the generator ring
// (token = hash of the trace ID, one owner), so every span of a trace meets in one generator:
// service-graph pairing needs both sides of an edge there. Under `-target=all` the ring holds the
// one in-process generator; in distributed mode `client` returns a gRPC client per instance.

import { UnavailableError, tokenForTraceId, type GeneratorPushRequest, type GeneratorPusher, type TraceSegment } from '@andante/model';
import type { InstanceDesc, RingSnapshot } from '@andante/ring';

export interface GeneratorRingPusherDeps {
  ring: () => RingSnapshot;
  client: (instance: InstanceDesc) => GeneratorPusher;
  /** Each push to one generator, by its ring ID ('' when no generator could be chosen), and whether it failed. */
  onPush?: (generatorId: string, failed: boolean) => void;
}

export class GeneratorRingPusher implements GeneratorPusher {
  constructor(private readonly deps: GeneratorRingPusherDeps) {}

  /** The owning generator of each segment's trace; throws UnavailableError when the ring has none healthy. */
  route(segments: readonly TraceSegment[]): Map<InstanceDesc, TraceSegment[]> {
    const ring = this.deps.ring();
    // One generator on the ring (always under -target=all): it owns every token, so no trace is hashed.
    const only = ring.instances.length === 1 ? ring.instances[0]! : undefined;
    if (only !== undefined && only.tokens.length > 0 && ring.isHealthy(only)) return new Map([[only, [...segments]]]);
    const byId = new Map<string, { instance: InstanceDesc; segments: TraceSegment[] }>();
    for (const segment of segments) {
      let owner: InstanceDesc;
      try {
        owner = ring.replicationSetFor(tokenForTraceId(segment.traceId)).instances[0]!;
      } catch (err) {
        throw new UnavailableError(`no metrics-generator for the trace: ${(err as Error).message}`);
      }
      let entry = byId.get(owner.id);
      if (!entry) byId.set(owner.id, (entry = { instance: owner, segments: [] }));
      entry.segments.push(segment);
    }
    return new Map([...byId.values()].map((e) => [e.instance, e.segments]));
  }

  async pushSpans(req: GeneratorPushRequest): Promise<void> {
    let routes: [InstanceDesc, TraceSegment[]][];
    try {
      routes = [...this.route(req.segments)];
    } catch (err) {
      this.deps.onPush?.('', true);
      throw err;
    }
    const results = await Promise.allSettled(routes.map(([instance, segments]) => this.deps.client(instance).pushSpans({ tenantId: req.tenantId, segments })));
    results.forEach((r, i) => this.deps.onPush?.(routes[i]![0].id, r.status === 'rejected'));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${routes[i]![0].id}: ${(r.reason as Error)?.message ?? r.reason}`] : []));
    if (failed.length > 0) throw new UnavailableError(`push to metrics-generators failed: ${failed.join('; ')}`);
  }
}
