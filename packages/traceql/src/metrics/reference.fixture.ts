// Test support for TraceQL metrics: a generated dataset of plain span objects (several services,
// known durations and error rates that change over time, spans placed on step boundaries and at
// the range's edges) and a deliberately naive reference that computes the expected series from
// those plain objects with bigint arithmetic, independently of the engine (no shared code: its
// own step alignment, its own exact quantiles by sorting).

import type { AnyValue, KeyValue, Trace } from '@andante/model';
import { mulberry32 } from '@andante/model';

export interface PlainSpan {
  /** 32 hex digits. */
  traceId: string;
  /** 16 hex digits. */
  spanId: string;
  service: string;
  name: string;
  startNs: bigint;
  durationNs: bigint;
  /** 0 unset, 1 ok, 2 error. */
  status: number;
  /** OTLP kind number. */
  kind: number;
  route: string;
}

export const SERVICES = ['checkout', 'cart', 'payments', 'frontend'] as const;
export const NAMES = ['db.query', 'GET /cart', 'POST /pay', 'render'] as const;

export interface DatasetOptions {
  seed: number;
  /** Unix ns of the first span; spans spread over [startNs, startNs + spreadNs). */
  startNs: bigint;
  spreadNs: bigint;
  traces: number;
  /** Extra spans placed exactly at these times (step boundaries, range edges). */
  exactTimesNs?: readonly bigint[];
}

const hex = (n: number, digits: number): string => n.toString(16).padStart(digits, '0');

/**
 * Traces of 1-6 spans. Durations: per name a log-normal-ish spread (1 ms .. 2 s); checkout's
 * db.query gets slower in the second half; errors: payments 20 %, rising to 50 % in the last quarter.
 */
export function generateSpans(o: DatasetOptions): PlainSpan[] {
  const rnd = mulberry32(o.seed);
  const out: PlainSpan[] = [];
  let spanSeq = 1;
  const spread = Number(o.spreadNs);
  for (let t = 0; t < o.traces; t++) {
    const traceId = hex(o.seed & 0xffff, 4) + hex(t + 1, 12) + hex(Math.floor(rnd() * 0xffffffff), 8) + hex(Math.floor(rnd() * 0xffffffff), 8);
    const base = o.startNs + BigInt(Math.floor(rnd() * spread));
    const n = 1 + Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++) {
      const service = SERVICES[Math.floor(rnd() * SERVICES.length)]!;
      const name = NAMES[Math.floor(rnd() * NAMES.length)]!;
      const frac = Number(base - o.startNs) / spread;
      let ms = Math.exp(rnd() * 7.6); // 1 ms .. 2 s
      if (service === 'checkout' && name === 'db.query' && frac > 0.5) ms *= 3;
      const errRate = service === 'payments' ? (frac > 0.75 ? 0.5 : 0.2) : 0.02;
      out.push({
        traceId,
        spanId: hex(spanSeq++, 16),
        service,
        name,
        startNs: base + BigInt(i) * 1_000_000n,
        durationNs: BigInt(Math.floor(ms * 1e6)) + BigInt(i),
        status: rnd() < errRate ? 2 : rnd() < 0.5 ? 1 : 0,
        kind: 1 + Math.floor(rnd() * 3),
        route: `/r/${Math.floor(rnd() * 3)}`,
      });
    }
  }
  for (const [k, ts] of (o.exactTimesNs ?? []).entries()) {
    out.push({
      traceId: hex(0xeeee, 4) + hex(k + 1, 28),
      spanId: hex(spanSeq++, 16),
      service: 'checkout',
      name: 'db.query',
      startNs: ts,
      durationNs: 50_000_000n + BigInt(k),
      status: 2,
      kind: 3,
      route: '/r/0',
    });
  }
  return out;
}

const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
const str = (s: string): AnyValue => ({ stringValue: s });

/** The spans as OTLP traces: one ResourceSpans per service within a trace. */
export function spansToTraces(spans: readonly PlainSpan[]): Trace[] {
  const byTrace = new Map<string, PlainSpan[]>();
  for (const s of spans) {
    let l = byTrace.get(s.traceId);
    if (!l) byTrace.set(s.traceId, (l = []));
    l.push(s);
  }
  return [...byTrace.values()].map((list) => {
    const byService = new Map<string, PlainSpan[]>();
    for (const s of list) {
      let l = byService.get(s.service);
      if (!l) byService.set(s.service, (l = []));
      l.push(s);
    }
    return {
      resourceSpans: [...byService].map(([service, ss]) => ({
        resource: { attributes: [{ key: 'service.name', value: str(service) }], droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeSpans: [
          {
            scope: { name: 'test', version: '1', attributes: [], droppedAttributesCount: 0 },
            schemaUrl: '',
            spans: ss.map((s) => ({
              traceId: bytes(s.traceId),
              spanId: bytes(s.spanId),
              traceState: '',
              parentSpanId: new Uint8Array(0),
              flags: 0,
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: s.startNs,
              endTimeUnixNano: s.startNs + s.durationNs,
              attributes: [{ key: 'http.route', value: str(s.route) } as KeyValue],
              droppedAttributesCount: 0,
              events: [],
              droppedEventsCount: 0,
              links: [],
              droppedLinksCount: 0,
              status: { message: '', code: s.status },
            })),
          },
        ],
      })),
    } as unknown as Trace;
  });
}

// ------------------------------------------------------------------------------------------------
// The naive reference.

export interface RefRange {
  startNs: bigint;
  endNs: bigint;
  stepNs: bigint;
}

export type RefFn = 'rate' | 'count_over_time' | 'sum_over_time' | 'min_over_time' | 'max_over_time' | 'avg_over_time' | 'quantile_over_time';

export interface RefQuery {
  filter: (s: PlainSpan) => boolean;
  fn: RefFn;
  /** by(): label key and the span's value (string). */
  by?: { key: string; of: (s: PlainSpan) => string }[];
  quantile?: number;
}

export interface RefSeries {
  /** key=value pairs joined by ',' (sorted), or `__name__=<fn>`. */
  labels: string;
  /** timestampMs -> value */
  samples: Map<bigint, number>;
}

/** Tempo's range rule, written out plainly: align, one step in front, right-closed intervals stamped with their end. */
export function refIntervals(r: RefRange): { first: bigint; count: number } {
  let first = (r.startNs / r.stepNs) * r.stepNs;
  const last = r.endNs % r.stepNs === 0n ? r.endNs : (r.endNs / r.stepNs + 1n) * r.stepNs;
  if (first > r.stepNs) first -= r.stepNs;
  return { first, count: Number((last - first) / r.stepNs) };
}

export function refInterval(r: RefRange, t: bigint): number {
  const { first, count } = refIntervals(r);
  const last = first + BigInt(count) * r.stepNs;
  if (t <= first || t > last) return -1;
  const off = t - first;
  let i = off / r.stepNs;
  if (i * r.stepNs === off) i -= 1n;
  return Number(i);
}

/** The exact quantile: linear interpolation between order statistics at rank q (n - 1). */
export function exactQuantile(values: number[], q: number): number {
  const v = [...values].sort((a, b) => a - b);
  const rank = q * (v.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return v[lo]! + (rank - lo) * (v[hi]! - v[lo]!);
}

export function referenceSeries(spans: readonly PlainSpan[], q: RefQuery, r: RefRange): RefSeries[] {
  const { first, count } = refIntervals(r);
  const groups = new Map<string, Map<number, number[]>>();
  for (const s of spans) {
    if (!q.filter(s)) continue;
    const i = refInterval(r, s.startNs);
    if (i < 0) continue;
    const labels = q.by ? q.by.map((b) => `${b.key}=${b.of(s)}`).sort().join(',') : `__name__=${q.fn}`;
    let g = groups.get(labels);
    if (!g) groups.set(labels, (g = new Map()));
    let vals = g.get(i);
    if (!vals) g.set(i, (vals = []));
    vals.push(Number(s.durationNs) / 1e9);
  }
  const stepS = Number(r.stepNs) / 1e9;
  const out: RefSeries[] = [];
  for (const [labels, g] of groups) {
    const samples = new Map<bigint, number>();
    for (let i = 0; i < count; i++) {
      const ts = (first + BigInt(i + 1) * r.stepNs) / 1_000_000n;
      const vals = g.get(i) ?? [];
      switch (q.fn) {
        case 'rate':
          samples.set(ts, vals.length / stepS);
          break;
        case 'count_over_time':
          samples.set(ts, vals.length);
          break;
        case 'quantile_over_time':
          samples.set(ts, vals.length ? exactQuantile(vals, q.quantile!) : 0);
          break;
        default:
          if (vals.length === 0) break;
          if (q.fn === 'sum_over_time') samples.set(ts, vals.reduce((a, b) => a + b, 0));
          else if (q.fn === 'min_over_time') samples.set(ts, Math.min(...vals));
          else if (q.fn === 'max_over_time') samples.set(ts, Math.max(...vals));
          else samples.set(ts, vals.reduce((a, b) => a + b, 0) / vals.length);
      }
    }
    out.push({ labels, samples });
  }
  return out;
}
