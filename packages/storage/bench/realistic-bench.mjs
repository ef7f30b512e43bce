// Block format benchmark on realistic OTLP data (bench/src/payloads.ts: request ids, URLs with ids,
// jittered log-normal durations), through the ingester's flush path: export requests are cut into
// per-trace tempopb.Trace segments (decodeExportRequest + encodeTraceSegment), sorted by trace ID
// and encoded with encodeSegmentBlock (protobuf decode + combine + Parquet), as a flush does.
//
// Prints, per run (fresh process each): OTLP bytes/span ingested, block bytes/span (data.parquet
// and all objects), the ratio, bytes/span per Parquet column, encode spans/s, peak RSS of the
// encode (VmHWM, reset after the input is built) over the RSS before it, trace-by-ID lookup
// p50/p99, iteration time, and an exactness check of the looked-up traces. CPU times (process
// cpuUsage, all threads) are given beside wall times: they suffer less when the machine is shared.
//
//   pnpm build && node packages/storage/bench/realistic-bench.mjs
//   env: SPANS (409600), BATCH (512), SPANS_PER_TRACE (20), RUNS (3), LOOKUPS (200),
//        ROW_GROUP_SPANS, PAGE_SIZE, COLUMNS=1 (print every column), ITERATE=0 (skip iteration),
//        POOL=1 (encode on a BlockEncoderPool worker thread, as the ingester does; RSS is process-wide)

import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const SPANS = Number(process.env.SPANS ?? 409_600);
const BATCH = Number(process.env.BATCH ?? 512);
const SPANS_PER_TRACE = Number(process.env.SPANS_PER_TRACE ?? 20);
const RUNS = Number(process.env.RUNS ?? 3);
const LOOKUPS = Number(process.env.LOOKUPS ?? 200);
const cfg = {};
if (process.env.ROW_GROUP_SPANS) cfg.rowGroupSpans = Number(process.env.ROW_GROUP_SPANS);
if (process.env.PAGE_SIZE) cfg.pageSizeBytes = Number(process.env.PAGE_SIZE);

if (process.argv[2] === '--child') {
  await child();
} else {
  parent();
}

function parent() {
  const results = [];
  for (let i = 0; i < RUNS; i++) {
    const out = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child'], {
      env: process.env,
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    });
    if (out.status !== 0) {
      process.stderr.write(out.stdout);
      process.stderr.write(out.stderr);
      process.exit(1);
    }
    const r = JSON.parse(out.stdout.trim().split('\n').pop());
    results.push(r);
    const { columns, groups, ...rest } = r;
    console.log(`run ${i + 1}: ${JSON.stringify(rest)}`);
  }
  const median = (get) => {
    const v = results.map(get).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  const { columns, groups, ...first } = results[0];
  console.log(`\nmedian of ${RUNS} runs (${SPANS} spans, ${BATCH}/export, ${SPANS_PER_TRACE}/trace, cfg ${JSON.stringify(cfg)}):`);
  for (const k of Object.keys(first)) console.log(`  ${k.padEnd(24)} ${median((r) => r[k])}`);
  console.log('\nbytes/span by column group (median):');
  for (const k of Object.keys(results[0].groups)) console.log(`  ${k.padEnd(24)} ${median((r) => r.groups[k])}`);
  if (process.env.COLUMNS === '1') {
    console.log('\nbytes/span by column (run 1; codec, encodings):');
    for (const c of columns) console.log(`  ${c.path.padEnd(40)} ${String(c.bytesPerSpan).padStart(6)}  ${c.codec} ${c.encodings}`);
  }
}

/** Column -> group for the summary table. */
function groupOf(path) {
  if (path === 'trace_id') return 'trace_id';
  if (path === 'span_id' || path === 'parent_span_id') return 'span/parent ids';
  if (path === 'start_time_unix_nano' || path === 'duration_nano') return 'span times';
  if (path.startsWith('trace_')) return 'trace summary';
  if (['parent_id', 'nested_set_left', 'nested_set_right', 'span_index', 'rs_index', 'ss_index'].includes(path)) return 'nested set + positions';
  if (path.startsWith('attrs_str')) return 'attrs_str';
  if (path === 'http_url') return 'http_url';
  if (path.startsWith('attrs_')) return 'other attrs';
  if (path === 'events' || path === 'links') return 'events/links';
  if (/^(http_|db_system)/.test(path)) return 'dedicated span attrs';
  return 'rest';
}

function cpuMs(u) {
  return (u.user + u.system) / 1000;
}

async function readPeakKb() {
  const status = await readFile('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)[1]);
}

async function child() {
  const { parquetMetadata } = await import('hyparquet');
  const { LocalBackend } = await import('../../backend/dist/index.js');
  const model = await import('../../model/dist/index.js');
  const { BackendBlock, BlockEncoderPool, encodeSegmentBlock, newBlockId, writeEncodedBlock } = await import('../dist/index.js');
  const { encodeBatches } = await import('../../../bench/dist/payloads.js');

  // Input: export requests -> per-trace segments, as the ingester holds them.
  let batches = encodeBatches(Math.ceil(SPANS / BATCH), BATCH, SPANS_PER_TRACE);
  const otlpBytes = batches.reduce((n, b) => n + b.byteLength, 0);
  const byTrace = new Map();
  let spans = 0;
  for (const buf of batches) {
    const batch = model.decodeExportRequest(buf);
    const groups = new Map();
    batch.spans.forEach((s, i) => {
      const key = Buffer.from(s.traceId).toString('hex');
      (groups.get(key) ?? groups.set(key, []).get(key)).push(i);
    });
    for (const [key, idx] of groups) {
      spans += idx.length;
      const e = byTrace.get(key) ?? byTrace.set(key, { traceId: Buffer.from(key, 'hex'), segments: [] }).get(key);
      e.segments.push(model.encodeTraceSegment(batch, idx));
    }
  }
  batches = null;
  const traces = [...byTrace.values()].sort((a, b) => Buffer.compare(a.traceId, b.traceId)).map((t) => ({ traceId: new Uint8Array(t.traceId), segments: t.segments }));
  byTrace.clear();

  const root = await mkdtemp(join(tmpdir(), 'andante-realistic-bench-'));
  try {
    const backend = new LocalBackend(root);
    globalThis.gc?.();
    globalThis.gc?.();
    const rssBeforeMB = process.memoryUsage().rss / 2 ** 20;
    await writeFile('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
    let t = performance.now();
    let cpu = process.cpuUsage();
    const job = { tenantId: 'bench', blockId: newBlockId(), traces, cfg, compactionLevel: 0 };
    let encoded;
    if (process.env.POOL === '1') {
      // As an ingester flushes: on a worker thread (the job is copied to it).
      const pool = new BlockEncoderPool(1);
      encoded = await pool.encode(job);
      await pool.close();
    } else {
      encoded = encodeSegmentBlock(job);
    }
    const encodeMs = performance.now() - t;
    const encodeCpuMs = cpuMs(process.cpuUsage(cpu));
    const peakMB = (await readPeakKb()) / 1024;
    const totalBytes = encoded.objects.reduce((n, o) => n + o.data.byteLength, 0);
    const meta = await writeEncodedBlock(backend, encoded);
    const data = encoded.objects[0].data;

    // Column sizes from the footer.
    const md = parquetMetadata(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    const perColumn = new Map();
    for (const rg of md.row_groups) {
      for (const c of rg.columns) {
        const m = c.meta_data;
        const path = m.path_in_schema.join('.');
        const e = perColumn.get(path) ?? { path, bytes: 0, codec: m.codec, encodings: m.encodings.join('+') };
        e.bytes += Number(m.total_compressed_size);
        perColumn.set(path, e);
      }
    }
    const columns = [...perColumn.values()].sort((a, b) => b.bytes - a.bytes).map((c) => ({ ...c, bytesPerSpan: +(c.bytes / spans).toFixed(2) }));
    const groups = {};
    for (const c of columns) {
      const g = groupOf(c.path.split('.')[0]);
      groups[g] = (groups[g] ?? 0) + c.bytes;
    }
    const columnBytes = columns.reduce((n, c) => n + c.bytes, 0);
    groups['footer+indexes'] = data.byteLength - columnBytes;
    for (const g of Object.keys(groups)) groups[g] = +(groups[g] / spans).toFixed(2);

    // Lookups: a fresh block object so the first one pays footer + index.
    const block = new BackendBlock(backend, meta);
    const pick = Array.from({ length: LOOKUPS }, (_, i) => traces[(i * 7919) % traces.length]);
    const times = [];
    let exact = true;
    let lookupCpuMs = 0;
    for (const { traceId, segments } of pick) {
      const s = performance.now();
      cpu = process.cpuUsage();
      const tr = await block.findTraceById(traceId);
      times.push(performance.now() - s);
      lookupCpuMs += cpuMs(process.cpuUsage(cpu));
      if (!tr) throw new Error('lookup missed a stored trace');
      const want = model.combineTraces([model.decodeTrace(segments.length === 1 ? segments[0] : Buffer.concat(segments))]);
      if (!isDeepStrictEqual(normalise(tr), normalise(want))) exact = false;
    }
    const sorted = times.slice().sort((a, b) => a - b);
    const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

    let iterateMs = 0;
    let iterateCpuMs = 0;
    if (process.env.ITERATE !== '0') {
      globalThis.gc?.();
      t = performance.now();
      cpu = process.cpuUsage();
      let n = 0;
      for await (const _ of new BackendBlock(backend, meta).iterateTraces()) n++;
      iterateMs = performance.now() - t;
      iterateCpuMs = cpuMs(process.cpuUsage(cpu));
      if (n !== traces.length) throw new Error(`iterated ${n} of ${traces.length}`);
    }

    console.log(
      JSON.stringify({
        spans,
        traces: traces.length,
        rowGroups: meta.totalRecords,
        otlpBytesPerSpan: +(otlpBytes / spans).toFixed(1),
        dataBytesPerSpan: +(meta.size / spans).toFixed(2),
        allBytesPerSpan: +(totalBytes / spans).toFixed(2),
        otlpOverBlock: +(otlpBytes / totalBytes).toFixed(2),
        encodeMs: Math.round(encodeMs),
        encodeSpansPerSec: Math.round(spans / (encodeMs / 1000)),
        encodeCpuMs: Math.round(encodeCpuMs),
        encodeSpansPerCpuSec: Math.round(spans / (encodeCpuMs / 1000)),
        rssBeforeMB: Math.round(rssBeforeMB),
        peakRssMB: Math.round(peakMB),
        peakOverBeforeMB: Math.round(peakMB - rssBeforeMB),
        lookupFirstMs: +times[0].toFixed(1),
        lookupP50Ms: +q(0.5).toFixed(1),
        lookupP99Ms: +q(0.99).toFixed(1),
        lookupCpuMeanMs: +(lookupCpuMs / LOOKUPS).toFixed(2),
        iterateMs: Math.round(iterateMs),
        iterateCpuMs: Math.round(iterateCpuMs),
        exact: exact ? 1 : 0,
        groups,
        columns,
      }),
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** The block normalisations (docs/block-format.md, Exactness): empty groups dropped, span traceId = key. */
function normalise(trace) {
  return trace.resourceSpans
    .map((rs) => ({ ...rs, scopeSpans: rs.scopeSpans.filter((ss) => ss.spans.length > 0) }))
    .filter((rs) => rs.scopeSpans.length > 0);
}
