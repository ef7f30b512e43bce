// The time grid of a metrics query, with Tempo 2.10's rules (pkg/traceql/engine_metrics.go):
// a range query's start is aligned down and its end up to the step, and one more step is put in
// front (AlignRequest); intervals are right-closed, (start + i*step, start + (i+1)*step], and a
// sample is stamped with its interval's end. So a span exactly on a step boundary counts in the
// interval that ends there, and spans at the requested start and end are both counted. An instant
// query has one interval, [start, end], both ends included, stamped `end`.

const NS_PER_SECOND = 1_000_000_000n;

export interface MetricsRange {
  /** Unix nanoseconds. */
  startNs: bigint;
  endNs: bigint;
  /** Nanoseconds; for an instant query end - start. */
  stepNs: bigint;
  instant: boolean;
}

/**
 * Tempo's DefaultQueryRangeStep: about 240 points over the range, in whole multiples of 5 s (of
 * 1 s below 5 s), at least 1 s.
 */
export function defaultStepNs(startNs: bigint, endNs: bigint): bigint {
  const baseline = (endNs - startNs) / 240n;
  const five = 5n * NS_PER_SECOND;
  let interval = (baseline / five) * five;
  if (interval < five) interval = (baseline / NS_PER_SECOND) * NS_PER_SECOND;
  return interval < NS_PER_SECOND ? NS_PER_SECOND : interval;
}

/** Tempo's AlignRequest: start down and end up to the step, then one step more in front. Instant ranges are left as they are. */
export function alignRange(r: MetricsRange): MetricsRange {
  if (r.instant || r.stepNs <= 0n) return r;
  const step = r.stepNs;
  const start = r.startNs - (r.startNs % step);
  const mod = r.endNs % step;
  const end = mod === 0n ? r.endNs : r.endNs + (step - mod);
  return { startNs: start > step ? start - step : start, endNs: end, stepNs: step, instant: false };
}

/**
 * Maps span start times to intervals of an aligned range. Times are given as offsets from the
 * range's start in ns (exact as float64 for ranges up to 104 days: the caller subtracts in
 * bigint, or storage from the raw int64 words), so boundaries are exact to the nanosecond.
 */
export class IntervalMapper {
  readonly count: number;
  /** Offset of the range's end. */
  private readonly endOff: number;
  private readonly stepF: number;

  constructor(readonly range: MetricsRange) {
    this.endOff = Number(range.endNs - range.startNs);
    if (range.instant) this.count = 1;
    else this.count = range.stepNs > 0n ? Math.max(0, Number((range.endNs - range.startNs) / range.stepNs)) : 0;
    this.stepF = Number(range.stepNs) || 1;
  }

  /** The interval of a span starting `off` ns after the range's start, or -1 outside the range. */
  intervalOf(off: number): number {
    if (this.count === 0) return -1;
    if (this.range.instant) return off >= 0 && off <= this.endOff && this.endOff !== 0 ? 0 : -1;
    if (!(off > 0 && off <= this.endOff)) return -1;
    // Right-closed: a span on a boundary belongs to the interval that ends there.
    const i = Math.ceil(off / this.stepF) - 1;
    return i < 0 ? 0 : i >= this.count ? this.count - 1 : i;
  }

  /** The offset of a unix-ns time from the range's start. */
  offsetOf(tNs: bigint): number {
    return Number(tNs - this.range.startNs);
  }

  /** The sample timestamp of interval i, unix ms (its end; an instant query's end). */
  timestampMs(i: number): bigint {
    const r = this.range;
    const ns = r.instant ? r.endNs : r.startNs + BigInt(i + 1) * r.stepNs;
    return ns / 1_000_000n;
  }

  /** Start and end (unix ns, exact) of intervals [from, to). */
  spanOf(from: number, to: number): { startNs: bigint; endNs: bigint } {
    const r = this.range;
    if (r.instant) return { startNs: r.startNs, endNs: r.endNs };
    return { startNs: r.startNs + BigInt(from) * r.stepNs, endNs: r.startNs + BigInt(to) * r.stepNs };
  }

  /** Length of one interval in seconds (rate's divisor). */
  get stepSeconds(): number {
    const r = this.range;
    return Number(r.instant ? r.endNs - r.startNs : r.stepNs) / 1e9;
  }
}
