// Writes one export's trace segments to their replicas on the ingester ring and resolves at the
// write quorum: each segment goes to the healthy owners of its token (replication_factor of them,
// Tempo's WriteNoExtend), and the export is acknowledged as soon as every segment is durable on
// floor(RF/2)+1 of them. The remaining replica calls finish in the background (their failures are
// counted and logged), so a hung replica does not add its remote_timeout to the client's latency.
// A failed replica call is retried once per segment on the next healthy ingester for its token.

import {
  AndanteError,
  InvalidArgumentError,
  LimitExceededError,
  PayloadTooLargeError,
  RateLimitedLog,
  UnavailableError,
  tokenForTraceId,
  type IngesterPusher,
  type Logger,
  type PushResult,
  type TraceSegment,
} from '@andante/model';
import { RingError, type InstanceDesc, type RingSnapshot } from '@andante/ring';
import type { Counter, Gauge } from 'prom-client';

export interface ReplicaMetrics {
  /** tempo_distributor_ingester_appends_total{ingester} (Tempo's: one per call, by address). */
  appends: Counter<'ingester'>;
  /** tempo_distributor_ingester_append_failures_total{ingester} */
  appendFailures: Counter<'ingester'>;
  /** Replica calls still running after their export was acknowledged. */
  background: Gauge;
  /** Segments re-sent to the next healthy ingester after a replica failed. */
  retries: Counter;
}

export interface ReplicatedPushDeps {
  ring: () => RingSnapshot;
  ingester: (instance: InstanceDesc) => IngesterPusher;
  metrics: ReplicaMetrics;
  logger: Logger;
  /**
   * Calls one ingester may have in flight from this distributor; past it a call to that ingester
   * fails at once (a hung replica would otherwise hold every export's segments until its deadline).
   */
  maxInflightPerIngester: number;
}

/** Refusals that would fail the same way on any ingester: not retried elsewhere. */
const retryable = (err: unknown): boolean => !(err instanceof InvalidArgumentError || err instanceof PayloadTooLargeError);

/** How often one ingester's failures are logged (the rest are counted only). */
const LOG_EVERY_MS = 10_000;

export class ReplicatedPusher {
  private readonly inflight = new Map<string, number>();
  private readonly failureLog = new RateLimitedLog(LOG_EVERY_MS);

  constructor(private readonly deps: ReplicatedPushDeps) {}

  /** Resolves at the write quorum of every segment; rejects as soon as one segment cannot reach it. */
  push(tenantId: string, segments: readonly TraceSegment[]): Promise<PushResult> {
    const ring = this.deps.ring();
    const n = segments.length;
    const tokens = new Uint32Array(n);
    /** Acknowledgements segment k still needs for its quorum. */
    const needed = new Int32Array(n);
    /** Calls in flight that carry segment k. */
    const pending = new Int32Array(n);
    /** Ingesters segment k was sent to (the retry goes elsewhere); built on its first retry. */
    const tried: (Set<string> | InstanceDesc[])[] = new Array<Set<string> | InstanceDesc[]>(n);
    const first = new Map<string, { instance: InstanceDesc; indexes: number[] }>();
    for (let k = 0; k < n; k++) {
      const token = (tokens[k] = tokenForTraceId(segments[k]!.traceId));
      let set;
      try {
        set = ring.replicationSetFor(token);
      } catch (err) {
        if (!(err instanceof RingError)) throw err;
        throw new UnavailableError(
          `not enough healthy ingesters in the ring: ${err.message} (ingester.lifecycler.ring.replication_factor ${ring.replicationFactor}); start more ingesters or wait for them to turn ACTIVE`,
        );
      }
      needed[k] = set.minSuccess;
      tried[k] = set.instances;
      for (const instance of set.instances) {
        let g = first.get(instance.id);
        if (!g) first.set(instance.id, (g = { instance, indexes: [] }));
        g.indexes.push(k);
      }
    }

    return new Promise<PushResult>((resolve, reject) => {
      let unmet = n;
      let settled = false;
      const rejected: PushResult['rejected'] = [];
      let firstError: unknown;
      let limitError: LimitExceededError | undefined;
      /** Calls not finished; those still running when the export settles become background calls. */
      const running = new Set<{ background: boolean }>();

      const settle = (): void => {
        settled = true;
        for (const c of running) {
          c.background = true;
          this.deps.metrics.background.inc();
        }
      };
      const check = (): void => {
        if (settled) return;
        if (unmet === 0) {
          settle();
          resolve({ rejected });
          return;
        }
        for (let k = 0; k < n; k++) {
          if (needed[k]! > pending[k]!) {
            settle();
            // A limit refusal (429) says why better than the transport errors beside it.
            const err = limitError ?? firstError;
            reject(err instanceof AndanteError ? err : new UnavailableError(`could not write to enough ingesters: ${(err as Error | undefined)?.message ?? 'unknown error'}`));
            return;
          }
        }
      };

      const send = (instance: InstanceDesc, indexes: number[], isRetry: boolean): void => {
        for (const k of indexes) pending[k]!++;
        const rec = { background: settled };
        if (rec.background) this.deps.metrics.background.inc();
        running.add(rec);
        const finished = (): void => {
          running.delete(rec);
          if (rec.background) this.deps.metrics.background.dec();
        };
        this.call(instance, tenantId, indexes.map((k) => segments[k]!)).then(
          (res) => {
            finished();
            if (!settled) rejected.push(...res.rejected);
            for (const k of indexes) {
              pending[k]!--;
              if (needed[k]! > 0 && --needed[k]! === 0) unmet--;
            }
            check();
          },
          (err: unknown) => {
            finished();
            firstError ??= err;
            if (err instanceof LimitExceededError) limitError ??= err;
            // Retries are scheduled before this call's segments stop counting as pending, so the
            // quorum check sees them. A background failure is retried too: it keeps RF copies.
            if (!isRetry && retryable(err)) this.retry(instance, indexes, tokens, tried, send);
            for (const k of indexes) pending[k]!--;
            check();
          },
        );
      };

      for (const { instance, indexes } of first.values()) send(instance, indexes, false);
      check();
    });
  }

  /** Re-sends each segment `failed` did not take once to the next healthy ingester for its token, grouped by ingester. */
  private retry(failed: InstanceDesc, indexes: number[], tokens: Uint32Array, tried: (Set<string> | InstanceDesc[])[], send: (i: InstanceDesc, idx: number[], isRetry: boolean) => void): void {
    const ring = this.deps.ring();
    const groups = new Map<string, { instance: InstanceDesc; indexes: number[] }>();
    for (const k of indexes) {
      const t = tried[k]!;
      const ids = t instanceof Set ? t : (tried[k] = new Set(t.map((i) => i.id)));
      const next = ring.nextHealthy(tokens[k]!, ids, failed.id);
      if (!next) continue;
      ids.add(next.id);
      let g = groups.get(next.id);
      if (!g) groups.set(next.id, (g = { instance: next, indexes: [] }));
      g.indexes.push(k);
    }
    for (const { instance, indexes: idx } of groups.values()) {
      this.deps.metrics.retries.inc(idx.length);
      send(instance, idx, true);
    }
  }

  /** One push to one ingester, counted per address as Tempo does; refused at once past the in-flight bound. */
  private call(instance: InstanceDesc, tenantId: string, segments: TraceSegment[]): Promise<PushResult> {
    const label = { ingester: instance.address || instance.id };
    this.deps.metrics.appends.inc(label);
    const inflight = this.inflight.get(instance.id) ?? 0;
    let call: Promise<PushResult>;
    if (inflight >= this.deps.maxInflightPerIngester) {
      call = Promise.reject(new UnavailableError(`ingester ${instance.id} (${instance.address}) has ${inflight} pushes outstanding from this distributor; treated as failed until they finish`));
    } else {
      this.inflight.set(instance.id, inflight + 1);
      // A client that throws instead of rejecting is one failed call, not a failed export.
      call = Promise.resolve()
        .then(() => this.deps.ingester(instance).push({ tenantId, segments }))
        .finally(() => {
          const left = (this.inflight.get(instance.id) ?? 1) - 1;
          if (left > 0) this.inflight.set(instance.id, left);
          else this.inflight.delete(instance.id);
        });
    }
    return call.catch((err: unknown) => {
      this.deps.metrics.appendFailures.inc(label);
      this.logFailure(instance, err);
      throw err;
    });
  }

  /**
   * A limit refusal is counted in tempo_discarded_spans_total; other failures are logged at most
   * once per ingester every LOG_EVERY_MS (a hung replica fails every call until it is UNHEALTHY).
   */
  private logFailure(instance: InstanceDesc, err: unknown): void {
    if (err instanceof LimitExceededError) return;
    this.failureLog.log(instance.id, (suppressed) =>
      this.deps.logger.warn('push to ingester failed', { ingester: instance.id, address: instance.address, err, suppressed_since_last: suppressed }),
    );
  }
}
