// A columnar scan for TraceQL metrics: when every condition of a metrics query can be decided
// exactly on a column (span name, status, kind, duration; resource attributes on the block's
// resource table), no trace is assembled. Per row group: statistics skip groups outside the time
// range or ruled out by a condition; the condition columns make a row mask (the search pushdown's
// own column tests); then only the start-time column, the value column (duration) and the group-by
// columns are decoded and handed to the engine as arrays. Trace and span IDs are decoded only for
// row groups where the engine wants an exemplar. A condition this scan cannot decide exactly makes
// it refuse up front (null): the caller then reads whole traces and lets the engine decide.

import type { AnyValue, FetchCondition, SpanColumnBatch, SpanColumnRef, SpanColumnsRequest } from '@andante/model';
import { bytesToHex, compareBytes, fetchConditionTest } from '@andante/model';
import type { RowGroupIndex } from './block-index.js';
import type { BlockTables } from './block-decode.js';
import { RowGroupScan, anyToScan, statsAllow, type ScanSource } from './block-scan.js';
import type { DecodedChunk } from './column-chunk.js';

export interface SpanColumnsResult {
  inspectedSpans: number;
  inspectedBytes: number;
}

/**
 * A columnar scan over one of several copies of the same spans (replicated blocks): only rows whose
 * trace ID is in [from, to) (and passes `keepTrace`, when given) are seen, and a row is counted only
 * the first time its (trace ID, span ID, kind) appears in `seen`, which the caller shares over every
 * block of the shard. Without `seen` every row of a kept trace counts (one replica's share of its
 * own block, by ring token).
 */
export interface ScanDedup {
  from: Uint8Array;
  to?: Uint8Array;
  seen?: Set<string>;
  keepTrace?: (traceId: Uint8Array) => boolean;
}

const INTRINSIC_COLUMN: Readonly<Record<string, string>> = { name: 'name', status: 'status_code', kind: 'kind', duration: 'duration_nano' };

/** Slack on float64 unix-ns statistics (ulp 256 ns). */
const NS_SLACK = 4096;

function isPlain(v: AnyValue | undefined): boolean {
  return v === undefined || 'stringValue' in v || 'intValue' in v || 'doubleValue' in v || 'boolValue' in v;
}

/** The resource table's value of `key` per entry (first occurrence, as the engine reads it). */
function resourceValues(tables: BlockTables, key: string): (AnyValue | undefined)[] {
  return tables.resources.map((r) => r.attributes.find((a) => a.key === key)?.value);
}

type RowTest = { c: FetchCondition; test: (v: unknown) => boolean; entryOk?: boolean[] };

/** The tests of a request, or null when some condition cannot be decided exactly here. */
function plan(tables: BlockTables, req: SpanColumnsRequest): RowTest[] | null {
  const out: RowTest[] = [];
  for (const c of req.conditions) {
    const test = fetchConditionTest(c);
    if (!test) return null;
    if (c.scope === 'intrinsic') {
      if (!INTRINSIC_COLUMN[c.name]) return null;
      out.push({ c, test });
    } else if (c.scope === 'resource') {
      const vals = resourceValues(tables, c.name);
      // TraceQL matches inside arrays; the column test does not: leave such blocks to the engine.
      if (!vals.every(isPlain)) return null;
      out.push({ c, test, entryOk: vals.map((v) => test(v === undefined ? undefined : anyToScan(v))) });
    } else {
      return null;
    }
  }
  return out;
}

function columnOf(ref: SpanColumnRef): string {
  return ref.scope === 'intrinsic' ? INTRINSIC_COLUMN[ref.name]! : 'resource_ref';
}

/** Whether the columnar scan can answer `req` exactly on this block (nothing is read). */
export function canScanColumns(tables: BlockTables, req: SpanColumnsRequest): boolean {
  return plan(tables, req) !== null;
}

/**
 * Scans a block's columns for a metrics leaf; null (nothing read) when it cannot answer exactly.
 * With `dedup` (and the block's row-group index, to skip groups outside the trace-ID range), only
 * the range's spans not seen before count.
 */
export async function scanSpanColumns(
  src: Pick<ScanSource, 'metadata' | 'tables' | 'readRange'>,
  req: SpanColumnsRequest,
  visit: (batch: SpanColumnBatch) => Promise<void>,
  dedup?: ScanDedup & { index: RowGroupIndex[] },
): Promise<SpanColumnsResult | null> {
  const tests = plan(src.tables, req);
  if (tests === null) return null;
  const byStart = dedup ? new Map(dedup.index.map((g) => [g.rowStart, g])) : null;
  const groupValues = req.groups.map((g) => (g.scope === 'resource' ? resourceValues(src.tables, g.name) : null));
  const schema = src.metadata.schema;
  const result: SpanColumnsResult = { inspectedSpans: 0, inspectedBytes: 0 };
  const timeCond = (op: '>=' | '<=', value: number): FetchCondition => ({ scope: 'intrinsic', name: 'start', op, value });
  let rowStart = 0;
  for (const rg of src.metadata.row_groups) {
    const rows = Number(rg.num_rows);
    const scan = new RowGroupScan(src, schema, rg, rowStart, rows);
    const g = byStart?.get(rowStart);
    rowStart += rows;
    if (dedup && g && (compareBytes(g.maxID, dedup.from) < 0 || (dedup.to && compareBytes(g.minID, dedup.to) >= 0))) continue;
    // Row groups entirely outside the time range, or ruled out by a condition's statistics.
    if (req.endNs > 0 && !statsAllow(timeCond('<=', req.endNs + NS_SLACK), rg, 'start_time_unix_nano')) continue;
    if (req.startNs > 0 && !statsAllow(timeCond('>=', req.startNs - NS_SLACK), rg, 'start_time_unix_nano')) continue;
    if (tests.some((t) => t.c.scope === 'intrinsic' && !statsAllow(t.c, rg, INTRINSIC_COLUMN[t.c.name]!))) continue;
    result.inspectedSpans += rows;
    const needed = [
      ...tests.map((t) => [t.c.scope === 'intrinsic' ? INTRINSIC_COLUMN[t.c.name]! : 'resource_ref']),
      ['start_time_unix_nano'],
      ...(req.value ? [[columnOf(req.value)]] : []),
      ...req.groups.map((g) => [columnOf(g)]),
      ...(dedup ? [['trace_id'], ...(dedup.seen ? [['span_id'], ['kind']] : [])] : []),
    ];
    scan.prefetch(needed);
    let mask: Uint8Array | null = null;
    let empty = false;
    for (const t of tests) {
      const m = t.entryOk ? await scan.refMask('resource_ref', t.entryOk) : await scan.flatMask(INTRINSIC_COLUMN[t.c.name]!, t.test);
      if (m === null) continue;
      if (mask === null) mask = m;
      else for (let i = 0; i < rows; i++) mask[i]! &= m[i]!;
      if (!mask.includes(1)) {
        empty = true;
        break;
      }
    }
    if (!empty && dedup) {
      // Rows outside the shard, or a copy of a span already counted, are masked out.
      // Span ID and kind only to recognise copies (`seen`); a token share needs the trace ID only.
      const [tid, sid, kind] = await Promise.all([scan.column(['trace_id']), dedup.seen ? scan.column(['span_id']) : null, dedup.seen ? scan.column(['kind']) : null]);
      if (!tid || (dedup.seen && (!sid || !kind))) throw new Error('block lacks the trace_id, span_id or kind column');
      const m = mask ?? new Uint8Array(rows).fill(1);
      // A trace's rows share one decoded value: its range test and hex are worked out once.
      const traceKey: (string | null | undefined)[] = new Array(tid.values.length);
      for (let r = 0; r < rows; r++) {
        if (m[r] === 0) continue;
        const code = tid.codes[r]!;
        let tk = traceKey[code];
        if (tk === undefined) {
          const t = tid.values[code] as Uint8Array;
          const out = compareBytes(t, dedup.from) < 0 || (dedup.to && compareBytes(t, dedup.to) >= 0) || (dedup.keepTrace && !dedup.keepTrace(t));
          tk = traceKey[code] = out ? null : dedup.seen ? bytesToHex(t) : '';
        }
        if (tk === null) {
          m[r] = 0;
          continue;
        }
        if (!dedup.seen || !sid || !kind) continue;
        const key = `${tk}/${bytesToHex(sid.values[sid.codes[r]!] as Uint8Array)}/${String(kind.values[kind.codes[r]!])}`;
        if (dedup.seen.has(key)) m[r] = 0;
        else dedup.seen.add(key);
      }
      mask = m;
      empty = !mask.includes(1);
    }
    if (empty) {
      result.inspectedBytes += scan.bytesRead;
      continue;
    }
    const [starts, value, ...groups] = await Promise.all([
      scan.numbers(['start_time_unix_nano'], { offsetFrom: req.baseNs }),
      req.value ? scan.numbers([columnOf(req.value)]) : null,
      ...req.groups.map((g) => scan.column([columnOf(g)])),
    ]);
    if (!starts) throw new Error('block lacks the start_time_unix_nano column');
    let ids: Promise<[DecodedChunk, DecodedChunk]> | null = null;
    const batch: SpanColumnBatch = {
      rows,
      mask,
      startOffsetNs: starts,
      value,
      groups: groups.map((g, i) => {
        if (!g) throw new Error(`block lacks the ${columnOf(req.groups[i]!)} column`);
        const table = groupValues[i];
        return { codes: g.codes, values: table ? g.values.map((ref) => table[ref as number]) : g.values };
      }),
      ids: async (wanted) => {
        ids ??= Promise.all([scan.column(['trace_id'])!, scan.column(['span_id'])!]);
        const [t, s] = await ids;
        return wanted.map((r) => ({ traceId: t.values[t.codes[r]!] as Uint8Array, spanId: s.values[s.codes[r]!] as Uint8Array }));
      },
    };
    await visit(batch);
    result.inspectedBytes += scan.bytesRead;
  }
  return result;
}
