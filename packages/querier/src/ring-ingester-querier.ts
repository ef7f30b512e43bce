// The querier's view of ingesters in other processes: one IngesterQuerier over the ingester ring.
// Search, tags, metrics and (by default, as Tempo) find-by-ID ask every ingester that may hold
// data (ACTIVE or LEAVING: a leaving ingester still holds what it is flushing); with
// querier.query_relevant_ingesters find-by-ID asks only the trace's replicas. Answers are merged
// into one partial, so replicas (RF 3) of one trace give each span, each search result and each
// metrics sample once. Up to RF - quorum unreachable ingesters are tolerated (dskit's MaxErrors,
// as Tempo's queriers do); beyond that the call fails with UNAVAILABLE (503), never a silent partial.

import {
  AndanteError,
  UnavailableError,
  combineTraces,
  compareSearchResults,
  emptySearchMetrics,
  addSearchMetrics,
  tokenForTraceId,
  type BlockMeta,
  type IngesterQuerier,
  type IngesterTrace,
  RateLimitedLog,
  type Logger,
  type MetricsPartial,
  type MetricsRequest,
  type SearchPartial,
  type SearchRequest,
  type TagScope,
  type TagsPartial,
  type TagsRequest,
  type TagValue,
  type TagValuesPartial,
  type TagValuesRequest,
  type TraceSearchMetadata,
  type Trace,
} from '@andante/model';
import { writeQuorum, type InstanceDesc, type RingSnapshot } from '@andante/ring';

export interface RingIngesterQuerierDeps {
  /** The ingester ring as this process sees it now. */
  ring: () => RingSnapshot;
  /** ingester.lifecycler.ring.replication_factor: how many ingesters hold each trace. */
  replicationFactor: number;
  zoneAwarenessEnabled?: boolean;
  /**
   * querier.query_relevant_ingesters: find-by-ID asks only the trace's replicas. Off (Tempo's
   * default): every ingester, so a trace written before a ring change (a member joined, an
   * ingester was replaced with new tokens) is still found where it was written.
   */
  queryRelevantIngesters?: boolean;
  /** The client of one ingester (one per address, from a pool). */
  client: (instance: InstanceDesc) => IngesterQuerier;
  logger: Logger;
}

const MAX_TOKEN = 0xffff_ffff;

export class RingIngesterQuerier implements IngesterQuerier {
  /** While a member is down every read tolerates it: one line per kind of read every 10 s. */
  private readonly toleratedLog = new RateLimitedLog();

  constructor(private readonly deps: RingIngesterQuerierDeps) {}

  private logTolerated(what: string, failed: string[]): void {
    this.toleratedLog.log(what, (suppressed) => this.deps.logger.info('ingester query tolerated failures', { what, failed, suppressed_since_last: suppressed }));
  }

  private get maxErrors(): number {
    const rf = this.deps.replicationFactor;
    return rf - writeQuorum(rf);
  }

  /** A member that may hold data and answers: ACTIVE or LEAVING, lease and heartbeat alive. */
  private static readable(ring: RingSnapshot, i: InstanceDesc): boolean {
    return (i.state === 'ACTIVE' || i.state === 'LEAVING') && ring.displayState(i) !== 'UNHEALTHY';
  }

  /** A member whose data cannot be read now: it held data (ACTIVE or LEAVING) and stopped heartbeating. */
  private static lost(ring: RingSnapshot, i: InstanceDesc): boolean {
    return (i.state === 'ACTIVE' || i.state === 'LEAVING') && ring.displayState(i) === 'UNHEALTHY';
  }

  /**
   * The members that hold traces of each token range: per ring token (sorted), the first RF
   * distinct members clockwise (one per zone when zone-aware), PENDING and JOINING ones skipped
   * (they took no writes). An unhealthy member keeps its slot, as writes do (WriteNoExtend).
   */
  private replicaSets(ring: RingSnapshot): { tokens: Uint32Array; sets: InstanceDesc[][] } {
    const pairs: { token: number; owner: InstanceDesc }[] = [];
    for (const inst of ring.instances) {
      if (inst.state !== 'ACTIVE' && inst.state !== 'LEAVING') continue;
      for (const token of inst.tokens) pairs.push({ token, owner: inst });
    }
    pairs.sort((a, b) => a.token - b.token);
    const n = pairs.length;
    const sets: InstanceDesc[][] = [];
    for (let i = 0; i < n; i++) {
      const set: InstanceDesc[] = [];
      const zones = new Set<string>();
      for (let k = 0; k < n && set.length < this.deps.replicationFactor; k++) {
        const owner = pairs[(i + k) % n]!.owner;
        if (set.includes(owner)) continue;
        if (this.deps.zoneAwarenessEnabled) {
          if (zones.has(owner.zone)) continue;
          zones.add(owner.zone);
        }
        set.push(owner);
      }
      sets.push(set);
    }
    return { tokens: Uint32Array.from(pairs.map((p) => p.token)), sets };
  }

  /** Asks `targets`, tolerating `maxErrors` failures (counting `lost` members); throws UnavailableError beyond. */
  private async ask<T>(what: string, targets: readonly InstanceDesc[], lost: readonly InstanceDesc[], call: (q: IngesterQuerier, i: InstanceDesc) => Promise<T>, signal?: AbortSignal, maxErrors = this.maxErrors): Promise<T[]> {
    const settled = await Promise.allSettled(targets.map((i) => call(this.deps.client(i), i)));
    signal?.throwIfAborted();
    throwRequestError(settled);
    const failed: string[] = lost.map((i) => `${i.id} (unhealthy in the ring)`);
    const ok: T[] = [];
    settled.forEach((s, k) => {
      if (s.status === 'fulfilled') ok.push(s.value);
      else failed.push(`${targets[k]!.id} (${(s.reason as Error)?.message ?? String(s.reason)})`);
    });
    if (failed.length > maxErrors) {
      const message = `${what}: ${failed.length} ingester(s) could not be read, at most ${maxErrors} may fail at replication factor ${this.deps.replicationFactor}: ${failed.join('; ')}`;
      this.deps.logger.warn('ingester query failed', { what, failed });
      throw new UnavailableError(message);
    }
    if (failed.length > 0) this.logTolerated(what, failed);
    return ok;
  }

  /** Every member that may hold data, and those of them that cannot be read. */
  private everyone(ring: RingSnapshot): { targets: InstanceDesc[]; lost: InstanceDesc[] } {
    return {
      targets: ring.instances.filter((i) => RingIngesterQuerier.readable(ring, i)),
      lost: ring.instances.filter((i) => RingIngesterQuerier.lost(ring, i)),
    };
  }

  async findTraceById(tenantId: string, traceId: Uint8Array, signal?: AbortSignal): Promise<IngesterTrace> {
    const ring = this.deps.ring();
    let targets: InstanceDesc[];
    let lost: InstanceDesc[];
    if (this.deps.queryRelevantIngesters) {
      const { tokens, sets } = this.replicaSets(ring);
      if (tokens.length === 0) return { trace: null, flushedBlocks: [] };
      const set = sets[lowerBound(tokens, tokenForTraceId(traceId)) % tokens.length]!;
      targets = set.filter((i) => RingIngesterQuerier.readable(ring, i));
      lost = set.filter((i) => !RingIngesterQuerier.readable(ring, i));
    } else ({ targets, lost } = this.everyone(ring));
    const parts = await this.ask('trace by ID', targets, lost, (q) => q.findTraceById(tenantId, traceId, signal), signal);
    const traces = parts.map((p) => p.trace).filter((t): t is Trace => t !== null);
    // Replicas hold the same spans: combineTraces keeps each span ID once.
    return { trace: traces.length === 0 ? null : traces.length === 1 ? traces[0]! : combineTraces(traces), flushedBlocks: unionBlocks(parts) };
  }

  async search(tenantId: string, req: SearchRequest, signal?: AbortSignal): Promise<SearchPartial> {
    const { targets, lost } = this.everyone(this.deps.ring());
    const parts = await this.ask('search', targets, lost, (q) => q.search(tenantId, req, signal), signal);
    // One result per trace (replicas find the same traces); what each replica inspected adds up, as in Tempo.
    const byId = new Map<string, TraceSearchMetadata>();
    const metrics = emptySearchMetrics();
    for (const p of parts) {
      addSearchMetrics(metrics, p.metrics);
      for (const t of p.traces) byId.set(t.traceID, mergeResult(byId.get(t.traceID), t));
    }
    return { traces: [...byId.values()].sort(compareSearchResults), metrics, flushedBlocks: unionBlocks(parts) };
  }

  async searchTags(tenantId: string, req: TagsRequest, signal?: AbortSignal): Promise<TagsPartial> {
    const { targets, lost } = this.everyone(this.deps.ring());
    const parts = await this.ask('tag names', targets, lost, (q) => q.searchTags(tenantId, req, signal), signal);
    const names = new Map<TagScope, Set<string>>();
    let inspectedBytes = 0n;
    for (const p of parts) {
      inspectedBytes += p.inspectedBytes;
      for (const [scope, list] of Object.entries(p.names) as [TagScope, string[]][]) {
        const set = names.get(scope) ?? new Set<string>();
        for (const n of list) set.add(n);
        names.set(scope, set);
      }
    }
    return { names: Object.fromEntries([...names].map(([k, v]) => [k, [...v]])), inspectedBytes, flushedBlocks: unionBlocks(parts) };
  }

  async searchTagValues(tenantId: string, req: TagValuesRequest, signal?: AbortSignal): Promise<TagValuesPartial> {
    const { targets, lost } = this.everyone(this.deps.ring());
    const parts = await this.ask('tag values', targets, lost, (q) => q.searchTagValues(tenantId, req, signal), signal);
    const values = new Map<string, TagValue>();
    let inspectedBytes = 0n;
    for (const p of parts) {
      inspectedBytes += p.inspectedBytes;
      for (const v of p.values) values.set(`${v.type}\u0000${v.value}`, v);
    }
    return { values: [...values.values()], inspectedBytes, flushedBlocks: unionBlocks(parts) };
  }

  /**
   * At RF 1 every ingester counts all it holds. At RF > 1 each token range of the ring is given to
   * one replica (readerOf: one serving without a break since before the window), and each ingester counts only traces
   * in its ranges, so a span held by three replicas is counted once. The partials are joined
   * series list to series list: the engine's combiner merges series by key.
   *
   * At RF > 1 with a split (`req.recentAfterNs`, the frontend's query_backend_after), the replicas
   * count only spans starting after it, and each names the blocks it flushed recently as its own
   * (`ownBlocks`, with its token ranges): replicas flush their copies at different moments, so a
   * trace may sit in one replica's block and another's memory; read by each owner for its share,
   * it counts once. The blocks count the spans up to the split.
   */
  async metricsQueryRange(tenantId: string, req: MetricsRequest, signal?: AbortSignal): Promise<MetricsPartial> {
    const split = this.deps.replicationFactor > 1 ? req.recentAfterNs : undefined;
    // A range ending before the split leaves the ingesters an empty window: they skip their memory
    // but still name the blocks they flushed (maybe not in a blocklist yet) for the block part.
    const recentReq: MetricsRequest = split === undefined ? req : { ...req, windowStartNs: split < req.endNs ? split : req.endNs, windowEndNs: req.endNs };
    const answers = await this.metricsPartials(tenantId, recentReq, signal);
    const parts = answers.map((a) => a.part);
    const out: MetricsPartial = { leaves: [], inspectedTraces: 0, inspectedSpans: 0, inspectedBytes: 0, flushedBlocks: unionBlocks(parts), coveredBlocks: [...new Set(parts.flatMap((p) => p.coveredBlocks ?? []))] };
    if (split !== undefined) {
      out.recentAfterNs = split;
      out.ownBlocks = answers.flatMap((a) => (a.part.flushedBlocks ?? []).map((meta) => ({ meta, tokenRanges: a.tokenRanges ?? [] })));
      // Blocks being written are in their writer's memory, which counts only after the split:
      // before it they are read like any block.
      out.coveredBlocks = [];
    }
    for (const p of parts) {
      out.inspectedTraces += p.inspectedTraces;
      out.inspectedSpans += p.inspectedSpans;
      out.inspectedBytes += p.inspectedBytes;
      p.leaves.forEach((leaf, i) => (out.leaves[i] ??= { series: [] }).series.push(...leaf.series));
    }
    return out;
  }

  /** Each answer with the token ranges it was asked for (none at RF 1: all it holds). */
  private async metricsPartials(tenantId: string, req: MetricsRequest, signal?: AbortSignal): Promise<{ part: MetricsPartial; tokenRanges?: number[] }[]> {
    const ring = this.deps.ring();
    const { targets, lost } = this.everyone(ring);
    if (this.deps.replicationFactor <= 1) return (await this.ask('metrics', targets, lost, (q) => q.metricsQueryRange(tenantId, req, signal), signal)).map((part) => ({ part }));
    const { tokens, sets } = this.replicaSets(ring);
    // Range i holds traces with tokens in (token i-1, token i]; the first wraps around.
    const rangeOf = (i: number, into: number[]): void => {
      if (i === 0) {
        if (tokens[tokens.length - 1]! < MAX_TOKEN) addRange(into, tokens[tokens.length - 1]! + 1, MAX_TOKEN);
        addRange(into, 0, tokens[0]!);
      } else addRange(into, tokens[i - 1]! + 1, tokens[i]!);
    };
    const parts: { part: MetricsPartial; tokenRanges: number[] }[] = [];
    const failed = new Map<string, string>();
    let pending = Array.from(tokens, (_, i) => i);
    const windowStartMs = Number((req.windowStartNs !== undefined && req.windowStartNs > 0n ? req.windowStartNs : req.startNs) / 1_000_000n);
    // Each round gives every pending range to a readable replica not failed yet (readerOf); a failed
    // reader's ranges go to another replica in the following round (RF - quorum failures at most).
    while (pending.length > 0) {
      const share = new Map<string, { member: InstanceDesc; ranges: number[]; indexes: number[] }>();
      for (const i of pending) {
        const reader = readerOf(
          sets[i]!.filter((m) => RingIngesterQuerier.readable(ring, m) && !failed.has(m.id)),
          windowStartMs,
        );
        if (!reader) {
          const why = [...failed].map(([id, e]) => `${id} (${e})`).join('; ');
          throw new UnavailableError(`metrics: no replica of a token range of the ingester ring can be read (every replica unhealthy or failed${why ? `: ${why}` : ''})`);
        }
        let entry = share.get(reader.id);
        if (!entry) share.set(reader.id, (entry = { member: reader, ranges: [], indexes: [] }));
        entry.indexes.push(i);
      }
      for (const e of share.values()) {
        for (const i of e.indexes) rangeOf(i, e.ranges);
        e.ranges = sortRanges(e.ranges);
      }
      const entries = [...share.values()];
      const settled = await Promise.allSettled(entries.map((e) => this.deps.client(e.member).metricsQueryRange(tenantId, { ...req, tokenRanges: e.ranges }, signal)));
      signal?.throwIfAborted();
      throwRequestError(settled);
      pending = [];
      settled.forEach((r, k) => {
        const e = entries[k]!;
        if (r.status === 'fulfilled') parts.push({ part: r.value, tokenRanges: e.ranges });
        else {
          failed.set(e.member.id, (r.reason as Error)?.message ?? String(r.reason));
          pending.push(...e.indexes);
        }
      });
      if (failed.size > this.maxErrors) {
        const why = [...failed].map(([id, e]) => `${id} (${e})`).join('; ');
        throw new UnavailableError(`metrics: ${failed.size} ingester(s) could not be read, at most ${this.maxErrors} may fail at replication factor ${this.deps.replicationFactor}: ${why}`);
      }
    }
    if (failed.size > 0) this.logTolerated('metrics', [...failed.keys()]);
    return parts;
  }
}

/**
 * The replica that counts a token range: the first, in ring order, that has taken writes without a
 * break since before the window (servingSinceMs), so it holds every span written in it; else the
 * one serving longest, which missed the least. A replica restarted or stalled during the window
 * missed what was written meanwhile (the writes went to the others): counting its share undercounted.
 */
function readerOf(readers: readonly InstanceDesc[], windowStartMs: number): InstanceDesc | undefined {
  let longest: InstanceDesc | undefined;
  for (const m of readers) {
    const since = m.servingSinceMs ?? 0;
    if (since <= windowStartMs) return m;
    if (!longest || since < (longest.servingSinceMs ?? 0)) longest = m;
  }
  return longest;
}

/**
 * A refusal of the request itself (a 4xx: a bad query, an answer over the message size limit) is
 * the caller's to see as is, not an unavailable ingester: another replica would refuse it too.
 */
function throwRequestError(settled: readonly PromiseSettledResult<unknown>[]): void {
  for (const s of settled) if (s.status === 'rejected' && s.reason instanceof AndanteError && s.reason.httpStatus < 500) throw s.reason;
}

/** Adds [start, end] to a list of pairs, joining it to the last pair when adjacent. */
function addRange(list: number[], start: number, end: number): void {
  if (start > end) return;
  if (list.length > 0 && list[list.length - 1]! + 1 === start) list[list.length - 1] = end;
  else list.push(start, end);
}

function sortRanges(list: number[]): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < list.length; i += 2) pairs.push([list[i]!, list[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [s, e] of pairs) addRange(out, s, e);
  return out;
}

function lowerBound(arr: Uint32Array, value: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Each flushed block once, whichever replicas named it. */
function unionBlocks(parts: readonly { flushedBlocks?: BlockMeta[] }[]): BlockMeta[] {
  const seen = new Map<string, BlockMeta>();
  for (const p of parts) for (const m of p.flushedBlocks ?? []) if (!seen.has(m.blockID)) seen.set(m.blockID, m);
  return [...seen.values()];
}

/** Two replicas' descriptions of one trace: the one that saw more (a replica may have missed a write). */
function mergeResult(a: TraceSearchMetadata | undefined, b: TraceSearchMetadata): TraceSearchMetadata {
  if (!a) return b;
  const matched = (t: TraceSearchMetadata): number => t.spanSets.reduce((n, s) => n + s.matched, 0);
  const spans = (t: TraceSearchMetadata): number => Object.values(t.serviceStats).reduce((n, s) => n + s.spanCount, 0);
  if (matched(b) !== matched(a)) return matched(b) > matched(a) ? b : a;
  return spans(b) > spans(a) ? b : a;
}
