// A search's conditions judged on tempopb.Trace segments without decoding them: the ingester keeps
// live traces as segments, and decoding every one to search recent data cost ~10 µs a span. This
// walks the wire format, reads only the fields the conditions name (span name, kind, times, status,
// the attributes with the named keys, the resource's) and answers whether the trace may match.
// Conservative like a block scan: what it cannot judge may match, and the engine decides on the
// traces that pass.

import { I32, I64, LEN, Reader, VARINT, readFixed64, readInt64, readUint32 } from '@andante/model/wire';
import { fetchConditionTest, type FetchCondition, type FetchSpansRequest, type FetchTest } from '@andante/model';

type Where = 'name' | 'kind' | 'duration' | 'status' | 'statusMessage' | 'span' | 'resource' | 'spanOrResource';

interface Tested {
  where: Where;
  key: string;
  test: FetchTest;
}

const INTRINSIC_FIELDS: Readonly<Record<string, Where>> = {
  name: 'name',
  kind: 'kind',
  duration: 'duration',
  status: 'status',
  statusMessage: 'statusMessage',
};

/** Where a condition's value sits in a segment, or null when this filter cannot judge it. */
function whereOf(c: FetchCondition): Where | null {
  switch (c.scope) {
    case 'intrinsic':
      return INTRINSIC_FIELDS[c.name] ?? null;
    case 'span':
      return 'span';
    case 'resource':
      return 'resource';
    case 'none':
      return 'spanOrResource';
    default:
      return null;
  }
}

/** Sentinel for values this filter does not read (arrays, maps, bytes): they may satisfy anything. */
const OPAQUE = Symbol('opaque');

/** An AnyValue's plain value (the Reader sits at its first byte; `end` is its end). */
function readAnyValue(r: Reader, end: number): unknown {
  let value: unknown = OPAQUE;
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | LEN:
        value = r.string();
        break;
      case (2 << 3) | VARINT:
        value = r.uint32() !== 0;
        break;
      case (3 << 3) | VARINT:
        value = Number(readInt64(r, end, 'AnyValue.int_value'));
        break;
      case (4 << 3) | I64:
        value = r.double();
        break;
      default:
        r.skipType(tag & 7);
        value = OPAQUE;
    }
  }
  return value;
}

/** Keys to look for, as UTF-8 bytes grouped by length, so other keys are passed over without decoding. */
class KeySet {
  private readonly byLength = new Map<number, { bytes: Uint8Array; key: string }[]>();
  readonly size: number;

  constructor(keys: Iterable<string>) {
    const enc = new TextEncoder();
    let n = 0;
    for (const key of new Set(keys)) {
      const bytes = enc.encode(key);
      const list = this.byLength.get(bytes.length) ?? [];
      list.push({ bytes, key });
      this.byLength.set(bytes.length, list);
      n++;
    }
    this.size = n;
  }

  /** The key whose bytes are buf[start, start + len), or undefined. */
  find(buf: Uint8Array, start: number, len: number): string | undefined {
    const list = this.byLength.get(len);
    if (!list) return undefined;
    outer: for (const { bytes, key } of list) {
      for (let i = 0; i < len; i++) if (buf[start + i] !== bytes[i]) continue outer;
      return key;
    }
    return undefined;
  }
}

/**
 * Reads one KeyValue ([r.pos, end)) when its key is wanted: the key and its plain value; null for
 * other keys (neither key nor value is decoded). Leaves the Reader at `end`.
 */
function readWantedKeyValue(r: Reader, end: number, wanted: KeySet): { key: string; value: unknown } | null {
  let key: string | undefined;
  let value: unknown;
  while (r.pos < end) {
    const t = r.uint32();
    if (t === ((1 << 3) | LEN)) {
      const len = r.uint32();
      key = wanted.find(r.buf, r.pos, len);
      r.pos += len;
      if (key === undefined) break;
    } else if (t === ((2 << 3) | LEN)) {
      const valueEnd = r.uint32() + r.pos;
      value = readAnyValue(r, valueEnd);
      r.pos = valueEnd;
    } else r.skipType(t & 7);
  }
  r.pos = end;
  return key !== undefined ? { key, value } : null;
}

/** What a segment filter answers for a trace that may match (the engine must decide). */
export const MAY_MATCH = -1;

/**
 * A filter over a trace's segments for this request: MAY_MATCH, or the number of spans it judged
 * when none can match (so the caller can count what it inspected). null when it could skip
 * nothing (no pruning, or, for `any`, a condition it cannot judge).
 */
export function compileSegmentFilter(fetch: FetchSpansRequest | undefined): ((segments: readonly Uint8Array[]) => number) | null {
  if (!fetch || fetch.prune === 'none') return null;
  const tested: Tested[] = [];
  let untestable = 0;
  for (const c of fetch.conditions) {
    if (c.op === null) continue;
    const test = fetchConditionTest(c);
    const where = whereOf(c);
    if (test && where) tested.push({ where, key: c.name, test });
    else untestable++;
  }
  // `any`: a condition this filter cannot judge may be the one a span satisfies.
  if (tested.length === 0 || (fetch.prune === 'any' && untestable > 0)) return null;
  const all = fetch.prune === 'all';
  const spanKeys = new KeySet(tested.filter((t) => t.where === 'span' || t.where === 'spanOrResource').map((t) => t.key));
  const resourceKeys = new KeySet(tested.filter((t) => t.where === 'resource' || t.where === 'spanOrResource').map((t) => t.key));

  /** Per tested condition: undefined (not judged yet), or whether some value satisfied it. */
  const resourceOk: boolean[] = new Array(tested.length);
  const spanOk: boolean[] = new Array(tested.length);

  const judge = (values: boolean[], where: 'span' | 'resource', key: string, value: unknown): void => {
    tested.forEach((t, i) => {
      if (t.key !== key) return;
      if (t.where !== where && t.where !== 'spanOrResource') return;
      if (value === OPAQUE || t.test(value)) values[i] = true;
    });
  };

  /** Whether the span just read may satisfy the request. */
  const spanMayMatch = (name: string, kind: number, durationNs: number, status: number, statusMessage: string): boolean => {
    let anyOk = false;
    for (let i = 0; i < tested.length; i++) {
      const t = tested[i]!;
      let ok: boolean;
      switch (t.where) {
        case 'name':
          ok = t.test(name);
          break;
        case 'kind':
          ok = t.test(kind);
          break;
        case 'duration':
          ok = t.test(durationNs);
          break;
        case 'status':
          ok = t.test(status);
          break;
        case 'statusMessage':
          ok = t.test(statusMessage);
          break;
        case 'span':
          ok = spanOk[i] === true || t.test(undefined);
          break;
        case 'resource':
          ok = resourceOk[i] === true || t.test(undefined);
          break;
        case 'spanOrResource':
          ok = spanOk[i] === true || resourceOk[i] === true || t.test(undefined);
          break;
      }
      if (all && !ok) return false;
      if (ok) anyOk = true;
    }
    return all || anyOk;
  };

  let judged = 0;
  const scanSpan = (r: Reader, end: number): boolean => {
    judged++;
    let name = '';
    let kind = 0;
    let start = 0n;
    let stop = 0n;
    let status = 0;
    let statusMessage = '';
    spanOk.fill(false);
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case (5 << 3) | LEN:
          name = r.string();
          break;
        case (6 << 3) | VARINT:
          kind = r.uint32();
          break;
        case (7 << 3) | I64:
          start = readFixed64(r, end, 'Span.start_time_unix_nano');
          break;
        case (8 << 3) | I64:
          stop = readFixed64(r, end, 'Span.end_time_unix_nano');
          break;
        case (9 << 3) | LEN: {
          const kvEnd = r.uint32() + r.pos;
          if (spanKeys.size === 0) {
            r.pos = kvEnd;
            break;
          }
          const kv = readWantedKeyValue(r, kvEnd, spanKeys);
          if (kv) judge(spanOk, 'span', kv.key, kv.value);
          break;
        }
        case (15 << 3) | LEN: {
          const statusEnd = r.uint32() + r.pos;
          while (r.pos < statusEnd) {
            const t = r.uint32();
            if (t === ((2 << 3) | LEN)) statusMessage = r.string();
            else if (t === ((3 << 3) | VARINT)) status = readUint32(r, statusEnd, 'Status.code');
            else r.skipType(t & 7);
          }
          break;
        }
        case (16 << 3) | I32:
          r.skip(4);
          break;
        default:
          r.skipType(tag & 7);
      }
    }
    return spanMayMatch(name, kind, stop > start ? Number(stop - start) : 0, status, statusMessage);
  };

  const scanScopeSpans = (r: Reader, end: number): boolean => {
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === ((2 << 3) | LEN)) {
        const spanEnd = r.uint32() + r.pos;
        if (scanSpan(r, spanEnd)) return true;
        r.pos = spanEnd;
      } else r.skipType(tag & 7);
    }
    return false;
  };

  const scanResourceSpans = (r: Reader, end: number): boolean => {
    resourceOk.fill(false);
    const start = r.pos;
    // The resource first, wherever it sits among the fields, so every span is judged with it.
    if (resourceKeys.size > 0) {
      while (r.pos < end) {
        const tag = r.uint32();
        if (tag !== ((1 << 3) | LEN)) {
          r.skipType(tag & 7);
          continue;
        }
        const resEnd = r.uint32() + r.pos;
        while (r.pos < resEnd) {
          const t = r.uint32();
          if (t !== ((1 << 3) | LEN)) {
            r.skipType(t & 7);
            continue;
          }
          const kv = readWantedKeyValue(r, r.uint32() + r.pos, resourceKeys);
          if (kv) judge(resourceOk, 'resource', kv.key, kv.value);
        }
      }
      r.pos = start;
    }
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === ((2 << 3) | LEN)) {
        const ssEnd = r.uint32() + r.pos;
        if (scanScopeSpans(r, ssEnd)) return true;
        r.pos = ssEnd;
      } else r.skipType(tag & 7);
    }
    return false;
  };

  return (segments) => {
    judged = 0;
    try {
      for (const seg of segments) {
        const r = Reader.create(seg);
        while (r.pos < seg.length) {
          const tag = r.uint32();
          if (tag === ((1 << 3) | LEN)) {
            const rsEnd = r.uint32() + r.pos;
            if (scanResourceSpans(r, rsEnd)) return MAY_MATCH;
            r.pos = rsEnd;
          } else r.skipType(tag & 7);
        }
      }
      return judged;
    } catch {
      return MAY_MATCH; // not judged: the engine decides
    }
  };
}
