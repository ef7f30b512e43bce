// Page codecs and column encodings compared on the same realistic spans (bench/src/payloads.ts),
// in one process: for each variant, data.parquet bytes/span, encode CPU ms (traces already decoded),
// trace-by-ID lookup CPU ms and wall p50 (200 lookups), iterateTraces CPU ms. Variants run
// interleaved, ROUNDS times; the median is printed.
//
//   pnpm build && node packages/storage/bench/codec-bench.mjs
//   env: SPANS (204800), ROUNDS (3), VARIANTS (comma list of the names below), PAGE_SIZE

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const model = await import('../../model/dist/index.js');
const { LocalBackend } = await import('../../backend/dist/index.js');
const { BackendBlock, newBlockId, writeEncodedBlock } = await import('../dist/index.js');
const { encodeBlockWith, tuningFor } = await import('../dist/block-encode.js');
const { WRITE_COMPRESSORS, brotliCompressor, gzipCompressor } = await import('../dist/block-codecs.js');
const { encodeBatches } = await import('../../../bench/dist/payloads.js');

const SPANS = Number(process.env.SPANS ?? 204_800);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const cfg = process.env.PAGE_SIZE ? { pageSizeBytes: Number(process.env.PAGE_SIZE) } : {};

const byTrace = new Map();
for (const buf of encodeBatches(Math.ceil(SPANS / 512), 512, 20)) {
  const batch = model.decodeExportRequest(buf);
  const groups = new Map();
  batch.spans.forEach((s, i) => {
    const key = Buffer.from(s.traceId).toString('hex');
    (groups.get(key) ?? groups.set(key, []).get(key)).push(i);
  });
  for (const [key, idx] of groups) {
    const e = byTrace.get(key) ?? byTrace.set(key, { traceId: new Uint8Array(Buffer.from(key, 'hex')), segments: [] }).get(key);
    e.segments.push(model.encodeTraceSegment(batch, idx));
  }
}
const traces = [...byTrace.values()]
  .sort((a, b) => Buffer.compare(a.traceId, b.traceId))
  .map((t) => ({ traceId: t.traceId, trace: model.combineTraces([model.decodeTrace(Buffer.concat(t.segments))]) }));

const v2 = tuningFor('vAndante2');
const withCodec = (codec, compressor) => ({ ...v2, codec, compressors: { ...WRITE_COMPRESSORS, ...(compressor ? { [codec]: compressor } : {}) } });
const ALL = {
  'v1 (snappy)': tuningFor('vAndante1'),
  'snappy+v2 encodings': { ...v2, codec: 'SNAPPY' },
  'gzip6': withCodec('GZIP'),
  'gzip9': withCodec('GZIP', gzipCompressor(9)),
  'brotli4': withCodec('BROTLI', brotliCompressor(4)),
  'brotli5 (v2)': v2,
  'brotli6': withCodec('BROTLI', brotliCompressor(6)),
  'brotli5, no column encodings': { ...v2, columns: {} },
};
const names = process.env.VARIANTS ? process.env.VARIANTS.split(',') : Object.keys(ALL);
const cpuMs = (u) => (u.user + u.system) / 1000;

const results = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const name of names) {
    const tuning = ALL[name];
    if (!tuning) throw new Error(`unknown variant ${name}; known: ${Object.keys(ALL).join(', ')}`);
    let c = process.cpuUsage();
    const enc = encodeBlockWith('bench', newBlockId(), traces, cfg, 0, tuning);
    const encodeCpuMs = cpuMs(process.cpuUsage(c));
    const dir = mkdtempSync(join(tmpdir(), 'andante-codec-bench-'));
    try {
      const backend = new LocalBackend(dir);
      const meta = await writeEncodedBlock(backend, enc);
      const block = new BackendBlock(backend, meta);
      await block.findTraceById(traces[0].traceId); // footer + index
      const times = [];
      c = process.cpuUsage();
      for (let i = 0; i < 200; i++) {
        const s = performance.now();
        if (!(await block.findTraceById(traces[(i * 7919) % traces.length].traceId))) throw new Error('lookup missed');
        times.push(performance.now() - s);
      }
      const lookupCpuMs = cpuMs(process.cpuUsage(c)) / 200;
      times.sort((a, b) => a - b);
      c = process.cpuUsage();
      for await (const _ of new BackendBlock(backend, meta).iterateTraces());
      const iterateCpuMs = cpuMs(process.cpuUsage(c));
      (results[name] ??= []).push({
        bytesPerSpan: +(meta.size / SPANS).toFixed(2),
        encodeCpuMs: Math.round(encodeCpuMs),
        lookupCpuMs: +lookupCpuMs.toFixed(2),
        lookupP50Ms: +times[100].toFixed(1),
        iterateCpuMs: Math.round(iterateCpuMs),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
console.log(`${SPANS} spans, median of ${ROUNDS} interleaved rounds, cfg ${JSON.stringify(cfg)}`);
for (const [name, rs] of Object.entries(results)) {
  const med = (k) => rs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(rs.length / 2)];
  console.log(`  ${name.padEnd(30)} ${Object.keys(rs[0]).map((k) => `${k}=${med(k)}`).join(' ')}`);
}
