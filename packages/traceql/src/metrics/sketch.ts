// Mergeable distributions for quantile_over_time and histogram_over_time.
//
// Quantiles: a DDSketch-style log-bucket sketch (Masson et al., VLDB 2019). A positive value v
// falls in bucket i = ceil(log_g(v)) with g = (1 + a) / (1 - a); the bucket is represented by
// 2 g^i / (g + 1), which is within a relative error `a` of every value in (g^(i-1), g^i].
// Negative values use the same buckets on |v|, zero has a count of its own. Merging adds counts,
// so a sketch merged from many jobs equals the sketch of all the values (exact merge). With
// a = 0.5 % an order statistic is known to 0.5 %, and a quantile (linear interpolation between
// the order statistics around rank q * (n - 1)) to the same bound: the target is 1 %.
// Tempo uses powers of two (up to 100 % error); a bucket here costs one Map entry, and a p95 of
// durations spread over 1 ms..10 s touches at most ~920 of them.
//
// Histograms: Tempo's log2 buckets (upper bounds 2^k), exact counts.

export const SKETCH_RELATIVE_ACCURACY = 0.005;
const GAMMA = (1 + SKETCH_RELATIVE_ACCURACY) / (1 - SKETCH_RELATIVE_ACCURACY);
const LN_GAMMA = Math.log(GAMMA);
/** Keys of negative values are this plus the bucket of |v| (bucket indexes stay within +-80,000 for finite doubles). */
const NEG_BASE = 1_000_000;
/** The key of zero (and of values too small to bucket). */
const ZERO_KEY = 2_000_000;
const MIN_POSITIVE = 1e-300;

/** Bucket counts: key -> count. */
export type CountMap = Map<number, number>;

export function sketchKey(v: number): number {
  const a = Math.abs(v);
  if (a < MIN_POSITIVE) return ZERO_KEY;
  const i = Math.ceil(Math.log(a) / LN_GAMMA);
  return v > 0 ? i : NEG_BASE + i;
}

function keyValue(k: number): number {
  if (k === ZERO_KEY) return 0;
  const neg = k > NEG_BASE / 2;
  const i = neg ? k - NEG_BASE : k;
  const v = (2 * Math.pow(GAMMA, i)) / (GAMMA + 1);
  return neg ? -v : v;
}

/** A number that orders keys as their values (no pow per comparison). */
function keyOrder(k: number): number {
  if (k === ZERO_KEY) return 0;
  if (k > NEG_BASE / 2) return -(k - NEG_BASE) - 1e7; // negative: larger |v| first
  return k + 1e7;
}

export function addTo(m: CountMap, key: number, n: number): void {
  m.set(key, (m.get(key) ?? 0) + n);
}

/** A count map as a flat array [key, count, key, count, ...]: structured-clone friendly. */
export function countsToFlat(m: CountMap): Float64Array {
  const out = new Float64Array(m.size * 2);
  let j = 0;
  for (const [k, c] of m) {
    out[j++] = k;
    out[j++] = c;
  }
  return out;
}

export function mergeFlat(into: CountMap, flat: ArrayLike<number>): void {
  for (let j = 0; j + 1 < flat.length; j += 2) addTo(into, flat[j]!, flat[j + 1]!);
}

/** The q-quantile (0..1) of a sketch: linear interpolation between the order statistics around q (n - 1). NaN when empty. */
export function sketchQuantile(m: CountMap, q: number): number {
  let n = 0;
  for (const c of m.values()) n += c;
  if (n === 0) return NaN;
  // Ascending by value: negatives from the largest |v| down, then zero, then positives up.
  const keys = [...m.keys()].sort((a, b) => keyOrder(a) - keyOrder(b));
  const rank = Math.min(Math.max(q, 0), 1) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  let vlo = NaN;
  let vhi = NaN;
  let seen = 0;
  for (const k of keys) {
    seen += m.get(k)!;
    if (Number.isNaN(vlo) && seen > lo) vlo = keyValue(k);
    if (seen > hi) {
      vhi = keyValue(k);
      break;
    }
  }
  return vlo + (rank - lo) * (vhi - vlo);
}

/** Tempo's Log2Bucketize: the next power of two at or above v (as bucket exponent); null below 2 (Tempo's -1 bucket). */
export function log2Bucket(v: number): number | null {
  if (!(v >= 2)) return null;
  return Math.ceil(Math.log2(v));
}
