import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '@andante/backend';
import type { Backend, KeyPath } from '@andante/backend';
import { SpanKind, StatusCode, bytesToHex, tokenForTraceId } from '@andante/model';
import type { AnyValue, KeyValue, Span, Trace } from '@andante/model';
import { BackendBlock, newBlockId, writeBlock } from './backend-block.js';
import { READ_DECOMPRESSORS, ZSTD_AVAILABLE } from './block-codecs.js';
import { encodeBlock, encodeBlockWith, tuningFor } from './block-encode.js';
import {
  DATA_NAME,
  META_NAME,
  bloomName,
  listTenants,
  parseRfc3339Nano,
  readBlockMeta,
  rfc3339Nano,
} from './block-meta.js';
import { listBlockMetas } from './blocklist.js';
import { bloomParameters, bloomShardTest, buildBloomShards } from './bloom.js';

const roots: string[] = [];
async function newBackend(): Promise<LocalBackend> {
  const root = await mkdtemp(join(tmpdir(), 'andante-block-'));
  roots.push(root);
  return new LocalBackend(root);
}
afterAll(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

function traceId(n: number, hi = 0x10): Uint8Array {
  const id = new Uint8Array(16);
  id[0] = hi;
  new DataView(id.buffer).setUint32(12, n);
  return id;
}

function spanId(n: number): Uint8Array {
  const id = new Uint8Array(8);
  new DataView(id.buffer).setUint32(4, n + 1);
  return id;
}

const s = (stringValue: string): AnyValue => ({ stringValue });
const kv = (key: string, value: AnyValue): KeyValue => ({ key, value });
const T0 = 1_700_000_000_123_456_789n;

function span(tid: Uint8Array, n: number, parent: number | null, extra: Partial<Span> = {}): Span {
  return {
    traceId: tid,
    spanId: spanId(n),
    traceState: '',
    parentSpanId: parent === null ? new Uint8Array(0) : spanId(parent),
    flags: 0,
    name: `op-${n}`,
    kind: SpanKind.INTERNAL,
    startTimeUnixNano: T0 + BigInt(n) * 1000n,
    endTimeUnixNano: T0 + BigInt(n) * 1000n + 500n,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { message: '', code: StatusCode.UNSET },
    ...extra,
  };
}

function simpleTrace(tid: Uint8Array, spans: number, service = 'svc'): Trace {
  return {
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', s(service))], droppedAttributesCount: 0 },
        scopeSpans: [
          {
            scope: { name: 'lib', version: '1', attributes: [], droppedAttributesCount: 0 },
            spans: Array.from({ length: spans }, (_, i) => span(tid, i, i === 0 ? null : Math.floor((i - 1) / 2))),
            schemaUrl: '',
          },
        ],
        schemaUrl: '',
      },
    ],
  };
}

/** A trace that uses every field and every attribute value type. */
function richTrace(tid: Uint8Array): Trace {
  const every: KeyValue[] = [
    kv('str', s('hello ☃')),
    kv('empty-str', s('')),
    kv('int', { intValue: -9_223_372_036_854_775_808n }),
    kv('int-max', { intValue: 9_223_372_036_854_775_807n }),
    kv('dbl', { doubleValue: 3.141592653589793 }),
    kv('neg-zero', { doubleValue: -0 }),
    kv('nan', { doubleValue: Number.NaN }),
    kv('inf', { doubleValue: Number.NEGATIVE_INFINITY }),
    kv('bool-t', { boolValue: true }),
    kv('bool-f', { boolValue: false }),
    kv('bytes', { bytesValue: new Uint8Array([0, 255, 7]) }),
    kv('empty-bytes', { bytesValue: new Uint8Array(0) }),
    kv('no-value', {}),
    kv('arr', { arrayValue: { values: [s('a'), { intValue: 2n }, { doubleValue: 1.5 }, { boolValue: true }, { arrayValue: { values: [] } }] } }),
    kv('kv', { kvlistValue: { values: [kv('inner', s('x')), kv('deep', { kvlistValue: { values: [kv('b', { bytesValue: new Uint8Array([1]) })] } })] } }),
    kv('str', s('duplicate key keeps its place')),
  ];
  const resourceAttrs: KeyValue[] = [
    kv('k8s.pod.name', s('pod-1')),
    kv('service.name', s('checkout')),
    kv('cluster', { intValue: 5n }), // a dedicated key with the "wrong" type stays generic
    kv('namespace', s('prod')),
    ...every,
  ];
  const root = span(tid, 0, null, {
    kind: SpanKind.SERVER,
    traceState: 'vendor=1',
    flags: 0xffffffff,
    attributes: [
      kv('http.method', s('GET')),
      kv('http.status_code', { intValue: 503n }),
      kv('http.url', s('https://example.com/a?b=c')),
      kv('http.route', s('/a')),
      kv('db.system', { stringValue: 'postgresql' }),
      kv('http.method', s('POST')), // second occurrence stays generic
      ...every,
    ],
    droppedAttributesCount: 4_000_000_000,
    events: [
      { timeUnixNano: T0 + 10n, name: 'exception', attributes: every, droppedAttributesCount: 1 },
      { timeUnixNano: T0 - 5n, name: 'before start', attributes: [], droppedAttributesCount: 0 },
    ],
    droppedEventsCount: 2,
    links: [
      { traceId: traceId(99), spanId: spanId(77), traceState: 'x=y', attributes: every, droppedAttributesCount: 3, flags: 0x80000001 },
    ],
    droppedLinksCount: 7,
    status: { message: 'upstream failed', code: StatusCode.ERROR },
    endTimeUnixNano: 18_446_744_073_709_551_615n, // uint64 max: stays exact
  });
  const child = span(tid, 1, 0, { kind: SpanKind.CLIENT, startTimeUnixNano: T0 - 1000n, attributes: [kv('http.status_code', s('200'))] });
  return {
    resourceSpans: [
      {
        resource: { attributes: resourceAttrs, droppedAttributesCount: 2 },
        scopeSpans: [
          { scope: { name: 'io.opentelemetry.http', version: '1.2.3', attributes: every, droppedAttributesCount: 9 }, spans: [root, child], schemaUrl: 'https://opentelemetry.io/schemas/1.21.0' },
          { scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [span(tid, 2, 1, { startTimeUnixNano: 0n, endTimeUnixNano: 0n })], schemaUrl: '' },
        ],
        schemaUrl: 'https://opentelemetry.io/schemas/1.20.0',
      },
      {
        // No service.name at all, and a resource identical to another one (kept distinct).
        resource: { attributes: [], droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: 'a', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [span(tid, 3, 2)], schemaUrl: '' }],
        schemaUrl: '',
      },
      {
        resource: { attributes: [], droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: 'a', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [span(tid, 4, 42)], schemaUrl: '' }],
        schemaUrl: '',
      },
    ],
  };
}

/** A backend that records the names of the objects read, to check which reads a lookup makes. */
function counting(inner: Backend): Backend & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    write: (k, n, d) => inner.write(k, n, d),
    read: (k, n) => (reads.push(n), inner.read(k, n)),
    readRange: (k, n, o, l) => (reads.push(n), inner.readRange(k, n, o, l)),
    size: (k, n) => inner.size(k, n),
    list: (k) => inner.list(k),
    scanKeys: (k, after, limit) => inner.scanKeys(k, after, limit),
    delete: (k, n) => inner.delete(k, n),
    close: () => inner.close(),
  };
}

async function write(backend: Backend, tenant: string, traces: { traceId: Uint8Array; trace: Trace }[], cfg = {}): Promise<BackendBlock> {
  const meta = await writeBlock(backend, tenant, newBlockId(), traces, cfg);
  return new BackendBlock(backend, meta);
}

describe('block round trip', () => {
  it('reads back every field of every type exactly', async () => {
    const backend = await newBackend();
    const traces = [1, 2, 3].map((n) => ({ traceId: traceId(n), trace: richTrace(traceId(n)) }));
    const block = await write(backend, 'tenant-a', traces);
    for (const t of traces) expect(await block.findTraceById(t.traceId)).toEqual(t.trace);
    // -0 survives (toEqual already distinguishes it; say so explicitly).
    const got = (await block.findTraceById(traceId(2)))!;
    const negZero = got.resourceSpans[0]!.resource.attributes.find((a) => a.key === 'neg-zero')!.value;
    expect(Object.is((negZero as { doubleValue: number }).doubleValue, -0)).toBe(true);
  });

  it('keeps int64 and uint64 values exact', async () => {
    const backend = await newBackend();
    const tid = traceId(5);
    const big = 1_700_000_019_039_756_079n; // parquetjs-lite once returned ...032 for this
    const tr = simpleTrace(tid, 1);
    const sp = tr.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    sp.startTimeUnixNano = big;
    sp.endTimeUnixNano = 18_446_744_073_709_551_615n;
    sp.attributes = [kv('n', { intValue: 9_007_199_254_740_993n }), kv('http.status_code', { intValue: -9_223_372_036_854_775_807n })];
    sp.events = [{ timeUnixNano: 1n, name: 'e', attributes: [], droppedAttributesCount: 0 }];
    const block = await write(backend, 't', [{ traceId: tid, trace: tr }]);
    expect(await block.findTraceById(tid)).toEqual(tr);
  });

  it('finds a trace spread across many row groups and keeps small traces whole', async () => {
    const backend = await newBackend();
    const traces = [
      { traceId: traceId(1), trace: simpleTrace(traceId(1), 3) },
      { traceId: traceId(2), trace: simpleTrace(traceId(2), 95) },
      { traceId: traceId(3), trace: simpleTrace(traceId(3), 4) },
      { traceId: traceId(4), trace: simpleTrace(traceId(4), 4) },
    ];
    const block = await write(backend, 't', traces, { rowGroupSpans: 10, pageSizeBytes: 1024 });
    // 3 | 10x9 + 5 of the big one ... | 4+4: the big trace covers 10 row groups.
    expect(block.meta.totalRecords).toBeGreaterThanOrEqual(11);
    expect(block.meta.totalSpans).toBe(106);
    for (const t of traces) expect(await block.findTraceById(t.traceId)).toEqual(t.trace);
    const all = [];
    for await (const t of block.iterateTraces()) all.push(t);
    expect(all).toEqual(traces);
  });

  it('iterates all traces in ID order', async () => {
    const backend = await newBackend();
    const traces = Array.from({ length: 40 }, (_, i) => ({ traceId: traceId(i * 3), trace: simpleTrace(traceId(i * 3), 1 + (i % 7)) }));
    const block = await write(backend, 't', traces, { rowGroupSpans: 16 });
    const got = [];
    for await (const t of block.iterateTraces()) got.push(t);
    expect(got.map((t) => bytesToHex(t.traceId))).toEqual(traces.map((t) => bytesToHex(t.traceId)));
    expect(got).toEqual(traces);
  });

  it('iterates shared (the compactor\'s merge): the same traces, their IDs views into the block\'s pages', async () => {
    const backend = await newBackend();
    const traces = [1, 2, 3].map((n) => ({ traceId: traceId(n), trace: richTrace(traceId(n)) }));
    const block = await write(backend, 't', traces, { rowGroupSpans: 2 });
    const got = [];
    for await (const t of block.iterateTraces(undefined, { shared: true })) got.push(t);
    expect(got).toEqual(traces);
    const span = got[0]!.trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    // A view: its buffer holds more than the span ID (a copy would own exactly its 8 bytes).
    expect(span.spanId.buffer.byteLength).toBeGreaterThan(span.spanId.byteLength);
    const copied = [];
    for await (const t of block.iterateTraces()) copied.push(t);
    const own = copied[0]!.trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(own.spanId.buffer.byteLength).toBe(own.spanId.byteLength);
  });

  it('asks for the next row group while the traces of the current one are handed out', async () => {
    const backend = await newBackend();
    const traces = Array.from({ length: 30 }, (_, i) => ({ traceId: traceId(i * 3), trace: simpleTrace(traceId(i * 3), 2) }));
    const meta = await writeBlock(backend, 't', newBlockId(), traces, { rowGroupSpans: 10 });
    expect(meta.totalRecords).toBeGreaterThanOrEqual(3);
    let dataReads = 0;
    // The real backend, its data-file range reads counted.
    const counting: Backend = Object.assign(Object.create(backend) as Backend, {
      readRange: (k: KeyPath, n: string, offset: number, length: number) => {
        if (n === DATA_NAME) dataReads++;
        return backend.readRange(k, n, offset, length);
      },
    });
    const block = new BackendBlock(counting, meta);
    for await (const _ of block.iterateTraces()) break; // the footer, read once per block
    dataReads = 0;
    const readsAt: number[] = [];
    for await (const _ of block.iterateTraces()) readsAt.push(dataReads);
    // By the first trace, group 0 was read and group 1 asked for; then one more per group.
    expect(readsAt[0]).toBe(2);
    expect(readsAt.at(-1)).toBe(meta.totalRecords);
  });

  it('iterates a trace-ID range: only its traces, whole, in order, reading only the row groups it meets', async () => {
    const backend = await newBackend();
    // IDs spread over the first byte; one trace spans several row groups.
    const traces = Array.from({ length: 60 }, (_, i) => ({ traceId: traceId(i, 1 + i * 4), trace: simpleTrace(traceId(i, 1 + i * 4), i === 30 ? 40 : 1 + (i % 5)) }));
    const block = await write(backend, 't', traces, { rowGroupSpans: 12, pageSizeBytes: 1024 });
    expect(block.meta.totalRecords).toBeGreaterThan(8);
    const cuts = [0x01, 0x21, 0x40, 0x77, 0x79, 0x7a, 0xff].map((b) => Uint8Array.from([b, ...new Array<number>(15).fill(0)]));
    const seen: Uint8Array[] = [];
    for (let k = 0; k <= cuts.length; k++) {
      const from = k === 0 ? new Uint8Array(0) : cuts[k - 1]!;
      const to = cuts[k];
      let bytes = 0;
      const got = [];
      for await (const t of block.iterateTraces({ from, ...(to ? { to } : {}), onBytes: (n) => void (bytes += n) })) got.push(t);
      const want = traces.filter((t) => Buffer.compare(t.traceId, from) >= 0 && (!to || Buffer.compare(t.traceId, to) < 0));
      expect(got).toEqual(want);
      if (want.length > 0 && want.length < 20) expect(bytes).toBeLessThan(block.meta.size / 2);
      seen.push(...got.map((t) => t.traceId));
    }
    expect(seen).toEqual(traces.map((t) => t.traceId));
  });

  it('keeps span and parent IDs of any length (delta-length encoded)', async () => {
    const backend = await newBackend();
    const odd = (tid: Uint8Array, lengths: number[]): Trace => {
      const tr = simpleTrace(tid, lengths.length);
      tr.resourceSpans[0]!.scopeSpans[0]!.spans.forEach((sp, i) => {
        sp.spanId = new Uint8Array(lengths[i]!).fill(i + 1);
        sp.parentSpanId = i === 0 ? new Uint8Array(0) : new Uint8Array(lengths[i - 1]!).fill(i);
      });
      return tr;
    };
    const traces = [
      { traceId: traceId(1), trace: odd(traceId(1), [0, 0, 0]) }, // a row group of empty span IDs only
      { traceId: traceId(2), trace: odd(traceId(2), [8, 16, 3, 0, 8, 1]) },
    ];
    const block = await write(backend, 't', traces, { rowGroupSpans: 3 });
    for (const t of traces) expect(await block.findTraceById(t.traceId)).toEqual(t.trace);
  });

  it('still reads vAndante1 blocks (SNAPPY, default encodings)', async () => {
    const backend = await newBackend();
    const traces = [1, 2, 3].map((n) => ({ traceId: traceId(n), trace: n === 2 ? richTrace(traceId(n)) : simpleTrace(traceId(n), 5) }));
    const encoded = encodeBlockWith('t', newBlockId(), traces, { rowGroupSpans: 4 }, 0, tuningFor('vAndante1'));
    expect(encoded.meta.format).toBe('vAndante1');
    const { writeEncodedBlock } = await import('./backend-block.js');
    const block = new BackendBlock(backend, await writeEncodedBlock(backend, encoded));
    for (const t of traces) expect(await block.findTraceById(t.traceId)).toEqual(t.trace);
    const all = [];
    for await (const t of block.iterateTraces()) all.push(t);
    expect(all).toEqual(traces);
  });

  it('takes traces from the iterable one at a time', () => {
    // A flush decodes trace by trace: encodeBlock must not collect the iterable first.
    let pulled = 0;
    let maxAhead = 0;
    let encoded = 0;
    const source = function* (): Generator<{ traceId: Uint8Array; trace: Trace }> {
      for (let i = 0; i < 50; i++) {
        pulled++;
        yield { traceId: traceId(i), trace: simpleTrace(traceId(i), 3) };
      }
    };
    const counting = {
      *[Symbol.iterator]() {
        for (const t of source()) {
          maxAhead = Math.max(maxAhead, pulled - encoded);
          yield t;
          encoded++;
        }
      },
    };
    const { meta } = encodeBlock('t', newBlockId(), counting, { rowGroupSpans: 8 });
    expect(meta.totalObjects).toBe(50);
    expect(maxAhead).toBe(1);
  });
});

describe('vAndante2 pages', () => {
  it('writes the chosen page codecs (ZSTD where this Node has it, else BROTLI) and column encodings', async () => {
    const traces = Array.from({ length: 30 }, (_, i) => ({ traceId: traceId(i), trace: richTrace(traceId(i)) }));
    const { objects, meta } = encodeBlock('t', newBlockId(), traces);
    expect(meta.format).toBe('vAndante2');
    const data = objects.find((o) => o.name === DATA_NAME)!.data;
    const { parquetMetadata } = await import('hyparquet');
    const md = parquetMetadata(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
    const chunk = (path: string) => md.row_groups[0]!.columns.find((c) => c.meta_data!.path_in_schema.join('.') === path)!.meta_data!;
    expect(md.key_value_metadata).toContainEqual({ key: 'andante.format', value: 'vAndante2' });
    expect(chunk('span_id')).toMatchObject({ codec: 'SNAPPY', encodings: ['DELTA_LENGTH_BYTE_ARRAY'] });
    const zstdWhereAvailable = ZSTD_AVAILABLE ? 'ZSTD' : 'BROTLI';
    expect(chunk('start_time_unix_nano')).toMatchObject({ codec: zstdWhereAvailable, encodings: ['BYTE_STREAM_SPLIT'] });
    expect(chunk('duration_nano').encodings).toEqual(['BYTE_STREAM_SPLIT']);
    // Per leaf where this Node has zstd (ZSTD_LEAF_CODECS), else BROTLI throughout.
    expect(chunk('trace_id').codec).toBe('BROTLI');
    expect(chunk('name').codec).toBe('BROTLI');
    expect(chunk('http_url').codec).toBe(zstdWhereAvailable);
    expect(chunk('attrs_str.list.element.value').codec).toBe(zstdWhereAvailable);
  });
});

describe('columns for scanning', () => {
  it('fills dedicated, typed-attribute, trace-summary and table columns', async () => {
    const tid = traceId(1);
    const { objects } = encodeBlock('t', newBlockId(), [
      { traceId: tid, trace: richTrace(tid) },
      { traceId: traceId(2), trace: richTrace(traceId(2)) },
    ]);
    const data = objects.find((o) => o.name === DATA_NAME)!.data;
    const file = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
    const { parquetMetadata, parquetReadObjects } = await import('hyparquet');
    const rows = await parquetReadObjects({ file, rowEnd: 5, utf8: false, compressors: READ_DECOMPRESSORS });
    const root = rows.find((r) => r['name'] === 'op-0')!;
    expect(root).toMatchObject({
      trace_root_service_name: 'checkout',
      trace_root_span_name: 'op-0',
      resource_service_name: 'checkout',
      resource_namespace: 'prod',
      resource_cluster: null, // an int value is not a string column value
      resource_k8s_pod_name: 'pod-1',
      scope_name: 'io.opentelemetry.http',
      http_method: 'GET',
      http_status_code: 503n,
      http_url: 'https://example.com/a?b=c',
      http_route: '/a',
      db_system: 'postgresql',
      status_code: StatusCode.ERROR,
      kind: SpanKind.SERVER,
    });
    expect((root['attrs_str'] as { key: string; value: string }[]).slice(0, 2)).toEqual([
      { key: 'http.method', value: 'POST' },
      { key: 'str', value: 'hello ☃' },
    ]);
    expect(root['attrs_int']).toContainEqual({ key: 'int-max', value: 9_223_372_036_854_775_807n });
    expect(root['attrs_bool']).toEqual([
      { key: 'bool-t', value: true },
      { key: 'bool-f', value: false },
    ]);
    // Resources and scopes are stored once per block, not once per span.
    const md = parquetMetadata(file);
    const kv = Object.fromEntries((md.key_value_metadata ?? []).map((e) => [e.key, e.value]));
    const { decodeResourceTable } = await import('./block-tables.js');
    expect(decodeResourceTable(new Uint8Array(Buffer.from(kv['andante.resources']!, 'base64')))).toHaveLength(2);
  });
});

describe('trace lookups that miss', () => {
  it('answers null outside the block ID range, on a bloom negative and on a bloom false positive', async () => {
    const backend = counting(await newBackend());
    const ids = Array.from({ length: 200 }, (_, i) => traceId((i + 1) * 1000)); // 1000, 2000, ... 200000
    const block = await write(backend, 't', ids.map((id) => ({ traceId: id, trace: simpleTrace(id, 2) })));
    const shards = await Promise.all(
      Array.from({ length: block.meta.bloomShards }, (_, i) => backend.read(['t', block.meta.blockID], bloomName(i))),
    );
    const bloomSays = (id: Uint8Array): boolean => bloomShardTest(shards[tokenForTraceId(id) % shards.length]!, id);
    // Absent IDs inside [minID, maxID]: counters that are not multiples of 1000.
    const absent = Array.from({ length: 20_000 }, (_, i) => 1001 + i * 7)
      .filter((n) => n % 1000 !== 0)
      .map((n) => traceId(n));

    backend.reads.length = 0;
    expect(await block.findTraceById(traceId(0))).toBeNull(); // below minID
    expect(await block.findTraceById(traceId(1, 0xff))).toBeNull(); // above maxID
    expect(backend.reads).toEqual([]);

    const negative = absent.find((id) => !bloomSays(id))!;
    expect(await block.findTraceById(negative)).toBeNull();
    expect(backend.reads).toEqual([bloomName(tokenForTraceId(negative) % shards.length)]);

    // A false positive gets past the bloom; the index and the trace_id column must say no.
    const falsePositive = absent.find((id) => bloomSays(id));
    expect(falsePositive).toBeDefined();
    backend.reads.length = 0;
    expect(await block.findTraceById(falsePositive!)).toBeNull();
    expect(backend.reads).toContain(DATA_NAME);

    // And every stored ID is found.
    for (const id of ids.slice(0, 20)) expect((await block.findTraceById(id))?.resourceSpans).toHaveLength(1);
  });

  it('returns null for IDs of other lengths', async () => {
    const backend = await newBackend();
    const block = await write(backend, 't', [{ traceId: traceId(1), trace: simpleTrace(traceId(1), 1) }]);
    expect(await block.findTraceById(new Uint8Array(8))).toBeNull();
  });
});

describe('nested set', () => {
  it('numbers a known tree like Tempo and marks orphans', async () => {
    const backend = await newBackend();
    const tid = traceId(1);
    //        0
    //      /   \
    //     1     2
    //    / \
    //   3   4          5 -> parent 99 (missing)
    const parents = [null, 0, 0, 1, 1, 99];
    const spans = parents.map((p, i) => span(tid, i, p));
    // Stored shuffled: numbering follows the tree, children in stored order.
    const trace: Trace = {
      resourceSpans: [
        {
          resource: { attributes: [], droppedAttributesCount: 0 },
          scopeSpans: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [spans[4]!, spans[0]!, spans[5]!, spans[2]!, spans[1]!, spans[3]!], schemaUrl: '' }],
          schemaUrl: '',
        },
      ],
    };
    const { objects, meta } = encodeBlock('t', newBlockId(), [{ traceId: tid, trace }]);
    for (const o of objects) await backend.write(['t', meta.blockID], o.name, o.data);
    const { parquetReadObjects } = await import('hyparquet');
    const data = await backend.read(['t', meta.blockID], DATA_NAME);
    const rows = await parquetReadObjects({
      file: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
      columns: ['name', 'nested_set_left', 'nested_set_right', 'parent_id', 'trace_root_span_name', 'trace_root_service_name'],
      compressors: READ_DECOMPRESSORS,
    });
    const byName = Object.fromEntries(rows.map((r) => [r['name'], [r['nested_set_left'], r['nested_set_right'], r['parent_id']]]));
    // Children are visited in span order as stored (2 before 1, 4 before 3), like Tempo;
    // parent_id is the parent's left number.
    expect(byName).toEqual({
      'op-0': [1, 10, -1],
      'op-2': [2, 3, 1],
      'op-1': [4, 9, 1],
      'op-4': [5, 6, 4],
      'op-3': [7, 8, 4],
      'op-5': [0, 0, 0],
    });
    expect(rows[0]!['trace_root_span_name']).toBe('op-0');
    expect(rows[0]!['trace_root_service_name']).toBe('');
    // Rows are sorted by start time within the trace.
    expect(rows.map((r) => r['name'])).toEqual(['op-0', 'op-1', 'op-2', 'op-3', 'op-4', 'op-5']);
  });
});

describe('block metas and listing', () => {
  it('writes Tempo meta.json fields', async () => {
    const backend = await newBackend();
    const traces = [1, 2].map((n) => ({ traceId: traceId(n), trace: simpleTrace(traceId(n), 3) }));
    const meta = await writeBlock(backend, 'tenant-a', newBlockId(), traces, {}, 2);
    const json = JSON.parse(new TextDecoder().decode(await backend.read(['tenant-a', meta.blockID], META_NAME)));
    expect(json).toEqual(meta);
    expect(json).toMatchObject({
      format: 'vAndante2',
      tenantID: 'tenant-a',
      totalObjects: 2,
      totalSpans: 6,
      compactionLevel: 2,
      totalRecords: 1,
      bloomShards: 1,
      replicationFactor: 1,
      minID: Buffer.from(traceId(1)).toString('base64'),
      maxID: Buffer.from(traceId(2)).toString('base64'),
      startTime: '2023-11-14T22:13:20.123456789Z',
      endTime: '2023-11-14T22:13:20.123459289Z',
    });
    expect(json.size).toBe(await backend.size(['tenant-a', meta.blockID], DATA_NAME));
    expect(json.footerSize).toBeGreaterThan(0);
  });

  it('lists only blocks whose meta.json exists', async () => {
    const backend = await newBackend();
    const visible = await writeBlock(backend, 'tenant-a', newBlockId(), [{ traceId: traceId(1), trace: simpleTrace(traceId(1), 1) }]);
    // A block whose writer crashed before meta.json.
    const { objects, meta: hidden } = encodeBlock('tenant-a', newBlockId(), [{ traceId: traceId(2), trace: simpleTrace(traceId(2), 1) }]);
    for (const o of objects.filter((o) => o.name !== META_NAME)) await backend.write(['tenant-a', hidden.blockID], o.name, o.data);
    await backend.write(['tenant-a'], 'index.json.gz', new Uint8Array([1]));

    expect((await listBlockMetas(backend, 'tenant-a')).map((m) => m.blockID)).toEqual([visible.blockID]);
    expect(await readBlockMeta(backend, 'tenant-a', hidden.blockID)).toBeNull();
    expect(await readBlockMeta(backend, 'tenant-a', visible.blockID)).toEqual(visible);
  });

  it('keeps tenants apart', async () => {
    const backend = await newBackend();
    const a = await writeBlock(backend, 'tenant-a', newBlockId(), [{ traceId: traceId(1), trace: simpleTrace(traceId(1), 1, 'a') }]);
    const b1 = await writeBlock(backend, 'tenant-b', newBlockId(), [{ traceId: traceId(1), trace: simpleTrace(traceId(1), 2, 'b') }]);
    const b2 = await writeBlock(backend, 'tenant-b', newBlockId(), [{ traceId: traceId(2), trace: simpleTrace(traceId(2), 2, 'b') }]);
    expect((await listTenants(backend)).sort()).toEqual(['tenant-a', 'tenant-b']);
    expect((await listBlockMetas(backend, 'tenant-a')).map((m) => m.blockID)).toEqual([a.blockID]);
    expect((await listBlockMetas(backend, 'tenant-b')).map((m) => m.blockID).sort()).toEqual([b1.blockID, b2.blockID].sort());
    expect(await listBlockMetas(backend, 'tenant-c')).toEqual([]);
    await expect(listBlockMetas(backend, '../x')).rejects.toMatchObject({ code: 'INVALID_TENANT' });
    const blockA = new BackendBlock(backend, a);
    expect((await blockA.findTraceById(traceId(1)))!.resourceSpans[0]!.scopeSpans[0]!.spans).toHaveLength(1);
  });

  it('refuses unknown formats, bad block IDs, unsorted and empty input', async () => {
    const backend = await newBackend();
    const meta = await writeBlock(backend, 't', newBlockId(), [{ traceId: traceId(1), trace: simpleTrace(traceId(1), 1) }]);
    expect(() => new BackendBlock(backend, { ...meta, format: 'vParquet9' })).toThrow(/vParquet9/);
    const one = (n: number): { traceId: Uint8Array; trace: Trace } => ({ traceId: traceId(n), trace: simpleTrace(traceId(n), 1) });
    expect(() => encodeBlock('t', 'not-a-uuid', [one(1)])).toThrow(/UUID/);
    expect(() => encodeBlock('t', newBlockId(), [one(2), one(1)])).toThrow(/sorted/);
    expect(() => encodeBlock('t', newBlockId(), [one(1), one(1)])).toThrow(/sorted/);
    expect(() => encodeBlock('t', newBlockId(), [])).toThrow(/at least one span/);
    expect(() => encodeBlock('../t', newBlockId(), [one(1)])).toThrow();
  });
});

describe('bloom filter', () => {
  it('sizes shards like Tempo and keeps the false-positive rate', () => {
    expect(bloomParameters(1, 0.01, 100 * 1024).shardCount).toBe(1);
    // ~9.6 bits per object: 100k objects need 958,506 bits = 2 shards of 100 KiB.
    expect(bloomParameters(100_000, 0.01, 100 * 1024)).toMatchObject({ shardCount: 2, hashCount: 7 });
    expect(bloomParameters(1e9, 0.01, 100 * 1024).shardCount).toBe(1000);

    const ids = Array.from({ length: 20_000 }, (_, i) => traceId(i, 1));
    const shards = buildBloomShards(ids, 0.01, 1024);
    const shardOf = (id: Uint8Array): Uint8Array => shards[tokenForTraceId(id) % shards.length]!;
    expect(ids.every((id) => bloomShardTest(shardOf(id), id))).toBe(true);
    let fp = 0;
    const probes = 50_000;
    for (let i = 0; i < probes; i++) if (bloomShardTest(shardOf(traceId(i, 2)), traceId(i, 2))) fp++;
    expect(fp / probes).toBeLessThan(0.02);
  });
});

describe('RFC3339 times', () => {
  it.each([
    [0n, '1970-01-01T00:00:00Z'],
    [1_500_000_000n, '1970-01-01T00:00:01.5Z'],
    [T0, '2023-11-14T22:13:20.123456789Z'],
  ])('%s <-> %s', (ns, text) => {
    expect(rfc3339Nano(ns)).toBe(text);
    expect(parseRfc3339Nano(text)).toBe(ns);
  });
});
