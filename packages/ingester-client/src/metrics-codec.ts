// The ingester's TraceQL metrics RPC (`/andante.Ingester/MetricsQueryRange`): a query_range job
// over the spans it holds in memory, answered as the engine's mergeable partial (per-interval
// counts, sums, min, max, bucket counts and exemplars) with the blocks it flushed recently and
// the blocks it is flushing now (coveredBlocks: their spans are in the partial already).
//
//   MetricsRequest  { string tenant_id = 1; string query = 2; fixed64 start_ns = 3; fixed64 end_ns = 4;
//                     fixed64 step_ns = 5; bool instant = 6; uint32 exemplars = 7;
//                     fixed64 window_start_ns = 8; fixed64 window_end_ns = 9;
//                     repeated fixed32 token_ranges = 10 [packed] (inclusive start, end pairs); }
//   MetricsPartial  { repeated Leaf leaves = 1; fixed64 inspected_traces = 2; fixed64 inspected_spans = 3;
//                     fixed64 inspected_bytes = 4; repeated bytes flushed_block_meta = 5;
//                     repeated string covered_blocks = 6; }
//   Leaf            { repeated Series series = 1; }
//   Series          { string key = 1; repeated KeyValue labels = 2; packed double count = 3;
//                     packed double sum = 4; min = 5; max = 6 (absent: null); repeated Dist dist = 7;
//                     repeated Exemplar exemplars = 8; }
//   Dist            { packed double buckets = 1 (absent: no distribution in that interval); }
//   Exemplar        { string trace_id = 1; string span_id = 2; double timestamp_ms = 3; double value = 4; }
//
// Per-interval arrays travel as packed doubles written straight from the Float64Array's bytes
// (protobuf doubles are little-endian, as is every platform Node runs on here).

import { endianness } from 'node:os';
import protobuf from 'protobufjs/minimal.js';
import type { BlockMeta, ExemplarPartial, KeyValue, MetricsPartial, MetricsRequest, SeriesPartial } from '@andante/model';
import { I64, LEN, VARINT, decodeKeyValueMessage, encodeKeyValueMessage, lenEnd, malformed, readFixed64, skipField, type Reader } from '@andante/model/wire';
import { decodeWith, expectWireType, i64Tag, lenTag, parseMeta, requireTenant, writeFixed64, writeMetas } from './codec-util.js';
import type { TenantRequest } from './recent-codec.js';

export const METRICS_QUERY_RANGE_METHOD = '/andante.Ingester/MetricsQueryRange';

if (endianness() !== 'LE') throw new Error('the metrics codec writes doubles as little-endian memory: big-endian hosts are not supported');

const varintTag = (field: number): number => (field << 3) | VARINT;

export function encodeMetricsRequest({ tenantId, req }: TenantRequest<MetricsRequest>): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(lenTag(1)).string(tenantId);
  w.uint32(lenTag(2)).string(req.query);
  w.uint32(i64Tag(3));
  writeFixed64(w, req.startNs);
  w.uint32(i64Tag(4));
  writeFixed64(w, req.endNs);
  w.uint32(i64Tag(5));
  writeFixed64(w, req.stepNs);
  w.uint32(varintTag(6)).bool(req.instant);
  w.uint32(varintTag(7)).uint32(req.exemplars);
  if (req.windowStartNs !== undefined && req.windowEndNs !== undefined) {
    w.uint32(i64Tag(8));
    writeFixed64(w, req.windowStartNs);
    w.uint32(i64Tag(9));
    writeFixed64(w, req.windowEndNs);
  }
  if (req.tokenRanges) {
    w.uint32(lenTag(10)).fork();
    for (const t of req.tokenRanges) w.fixed32(t);
    w.ldelim();
  }
  return w.finish();
}

export function decodeMetricsRequest(buf: Uint8Array): TenantRequest<MetricsRequest> {
  return decodeWith(buf, 'metrics request', (r, end) => {
    let tenantId = '';
    const req: MetricsRequest = { query: '', startNs: 0n, endNs: 0n, stepNs: 0n, instant: false, exemplars: 0 };
    let windowStartNs: bigint | undefined;
    let windowEndNs: bigint | undefined;
    while (r.pos < end) {
      const tag = r.uint32();
      const field = tag >>> 3;
      switch (field) {
        case 1:
        case 2:
          expectWireType(tag, LEN, 'MetricsRequest');
          if (field === 1) tenantId = r.string();
          else req.query = r.string();
          break;
        case 3:
        case 4:
        case 5:
        case 8:
        case 9: {
          expectWireType(tag, I64, 'MetricsRequest');
          const v = readFixed64(r, end, 'MetricsRequest');
          if (field === 3) req.startNs = v;
          else if (field === 4) req.endNs = v;
          else if (field === 5) req.stepNs = v;
          else if (field === 8) windowStartNs = v;
          else windowEndNs = v;
          break;
        }
        case 6:
        case 7:
          expectWireType(tag, VARINT, 'MetricsRequest');
          if (field === 6) req.instant = r.uint32() !== 0;
          else req.exemplars = r.uint32();
          break;
        case 10: {
          expectWireType(tag, LEN, 'MetricsRequest');
          const e = lenEnd(r, end, 'token_ranges');
          if ((e - r.pos) % 8 !== 0) throw malformed('MetricsRequest token_ranges must be pairs of fixed32');
          const ranges: number[] = [];
          while (r.pos < e) ranges.push(r.fixed32());
          for (let i = 0; i < ranges.length; i += 2) if (ranges[i]! > ranges[i + 1]!) throw malformed(`MetricsRequest token range ${ranges[i]}..${ranges[i + 1]} is empty`);
          req.tokenRanges = ranges;
          break;
        }
        default:
          skipField(r, tag, end, 'MetricsRequest');
      }
    }
    requireTenant(tenantId, 'MetricsRequest');
    if (!req.query) throw malformed('MetricsRequest has no query');
    if (req.stepNs <= 0n) throw malformed('MetricsRequest step_ns must be positive');
    if (req.endNs < req.startNs) throw malformed('MetricsRequest end_ns is before start_ns');
    if ((windowStartNs === undefined) !== (windowEndNs === undefined)) throw malformed('MetricsRequest needs both window_start_ns and window_end_ns, or neither');
    if (windowStartNs !== undefined && windowEndNs !== undefined) {
      req.windowStartNs = windowStartNs;
      req.windowEndNs = windowEndNs;
    }
    return { tenantId, req };
  });
}

function writeDoubles(w: protobuf.Writer, field: number, a: Float64Array | null): void {
  if (!a) return;
  w.uint32(lenTag(field)).bytes(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

function readDoubles(r: Reader, end: number, what: string): Float64Array {
  const e = lenEnd(r, end, what);
  const n = e - r.pos;
  if (n % 8 !== 0) throw malformed(`${what}: ${n} bytes is not a whole number of doubles`);
  // Copied: the message buffer's offset need not be 8-byte aligned.
  const out = new Float64Array(n / 8);
  new Uint8Array(out.buffer).set(r.buf.subarray(r.pos, e));
  r.pos = e;
  return out;
}

function writeSeries(w: protobuf.Writer, s: SeriesPartial): void {
  w.uint32(lenTag(1)).string(s.key);
  for (const kv of s.labels) w.uint32(lenTag(2)).bytes(encodeKeyValueMessage(kv));
  writeDoubles(w, 3, s.count);
  writeDoubles(w, 4, s.sum);
  writeDoubles(w, 5, s.min);
  writeDoubles(w, 6, s.max);
  for (const d of s.dist ?? []) {
    w.uint32(lenTag(7)).fork();
    writeDoubles(w, 1, d);
    w.ldelim();
  }
  for (const x of s.exemplars) {
    w.uint32(lenTag(8)).fork();
    w.uint32(lenTag(1)).string(x.traceId);
    w.uint32(lenTag(2)).string(x.spanId);
    w.uint32((3 << 3) | I64).double(x.timestampMs);
    w.uint32((4 << 3) | I64).double(x.value);
    w.ldelim();
  }
}

function readSeries(r: Reader, end: number): SeriesPartial {
  let key: string | undefined;
  const labels: KeyValue[] = [];
  let count: Float64Array | undefined;
  let sum: Float64Array | null = null;
  let min: Float64Array | null = null;
  let max: Float64Array | null = null;
  const dist: (Float64Array | null)[] = [];
  const exemplars: ExemplarPartial[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field >= 1 && field <= 8) expectWireType(tag, LEN, 'Series');
    switch (field) {
      case 1: key = r.string(); break;
      case 2: labels.push(decodeKeyValueMessage(r, lenEnd(r, end, 'Series.labels'))); break;
      case 3: count = readDoubles(r, end, 'Series.count'); break;
      case 4: sum = readDoubles(r, end, 'Series.sum'); break;
      case 5: min = readDoubles(r, end, 'Series.min'); break;
      case 6: max = readDoubles(r, end, 'Series.max'); break;
      case 7: {
        const e = lenEnd(r, end, 'Series.dist');
        let d: Float64Array | null = null;
        while (r.pos < e) {
          const t = r.uint32();
          if (t === lenTag(1)) d = readDoubles(r, e, 'Dist.buckets');
          else skipField(r, t, e, 'Dist');
        }
        dist.push(d);
        break;
      }
      case 8: {
        const e = lenEnd(r, end, 'Series.exemplars');
        const x: ExemplarPartial = { traceId: '', spanId: '', timestampMs: 0, value: 0 };
        while (r.pos < e) {
          const t = r.uint32();
          if (t === lenTag(1)) x.traceId = r.string();
          else if (t === lenTag(2)) x.spanId = r.string();
          else if (t === ((3 << 3) | I64)) x.timestampMs = r.double();
          else if (t === ((4 << 3) | I64)) x.value = r.double();
          else skipField(r, t, e, 'Exemplar');
        }
        if (r.pos !== e) throw malformed('Exemplar runs past its length');
        exemplars.push(x);
        break;
      }
      default:
        skipField(r, tag, end, 'Series');
    }
  }
  if (r.pos !== end) throw malformed('Series runs past its length');
  if (key === undefined || !count) throw malformed('Series needs a key and counts');
  for (const [name, a] of [['sum', sum], ['min', min], ['max', max]] as const) {
    if (a && a.length !== count.length) throw malformed(`Series ${name} has ${a.length} intervals, count has ${count.length}`);
  }
  if (dist.length > 0 && dist.length !== count.length) throw malformed(`Series dist has ${dist.length} intervals, count has ${count.length}`);
  return { key, labels, count, sum, min, max, dist: dist.length > 0 ? dist : null, exemplars };
}

export function encodeMetricsPartial(p: MetricsPartial): Uint8Array {
  const w = protobuf.Writer.create();
  for (const leaf of p.leaves) {
    w.uint32(lenTag(1)).fork();
    for (const s of leaf.series) {
      w.uint32(lenTag(1)).fork();
      writeSeries(w, s);
      w.ldelim();
    }
    w.ldelim();
  }
  for (const [field, v] of [[2, p.inspectedTraces], [3, p.inspectedSpans], [4, p.inspectedBytes]] as const) {
    w.uint32(i64Tag(field));
    writeFixed64(w, BigInt(v));
  }
  writeMetas(w, 5, p.flushedBlocks);
  for (const id of p.coveredBlocks ?? []) w.uint32(lenTag(6)).string(id);
  return w.finish();
}

export function decodeMetricsPartial(buf: Uint8Array): MetricsPartial {
  return decodeWith(buf, 'metrics partial', (r, end) => {
    const out: MetricsPartial = { leaves: [], inspectedTraces: 0, inspectedSpans: 0, inspectedBytes: 0 };
    const flushedBlocks: BlockMeta[] = [];
    const coveredBlocks: string[] = [];
    while (r.pos < end) {
      const tag = r.uint32();
      const field = tag >>> 3;
      if (tag === lenTag(1)) {
        const e = lenEnd(r, end, 'Leaf');
        const series: SeriesPartial[] = [];
        while (r.pos < e) {
          const t = r.uint32();
          if (t === lenTag(1)) series.push(readSeries(r, lenEnd(r, e, 'Leaf.series')));
          else skipField(r, t, e, 'Leaf');
        }
        out.leaves.push({ series });
      } else if (field >= 2 && field <= 4) {
        expectWireType(tag, I64, 'MetricsPartial');
        const v = Number(readFixed64(r, end, 'MetricsPartial'));
        if (field === 2) out.inspectedTraces = v;
        else if (field === 3) out.inspectedSpans = v;
        else out.inspectedBytes = v;
      } else if (tag === lenTag(5)) flushedBlocks.push(parseMeta(r.string()));
      else if (tag === lenTag(6)) coveredBlocks.push(r.string());
      else skipField(r, tag, end, 'MetricsPartial');
    }
    return { ...out, flushedBlocks, coveredBlocks };
  });
}
