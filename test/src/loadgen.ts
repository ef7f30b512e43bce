// A self-contained OTLP/gRPC load generator run as its own process
// (`node loadgen.mjs <grpcPort> <model dist index.js> <test package.json> <concurrency>
//  <spansPerTrace> <tracesPerRequest> <pauseMs>`), so a
// test can kill -9 the server while another process is exporting. It writes, for every export
// that the server acknowledged with OK and no rejected spans, one line per trace:
//   ACK <traceIdHex> <spanIdHex>,<spanIdHex>,...
// Only @grpc/grpc-js (resolved from the test package) and the built @andante/model (encodeTrace,
// by file path) are imported.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOADGEN_SOURCE = String.raw`
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const [port, modelDist, testPackageJson, concurrencyArg, spansPerTraceArg, tracesPerRequestArg, pauseMsArg] = process.argv.slice(2);
const tracesPerRequest = Number(tracesPerRequestArg || 2);
const pauseMs = Number(pauseMsArg || 0);
const require = createRequire(testPackageJson);
const grpc = require('@grpc/grpc-js');
const { encodeTrace } = await import(pathToFileURL(modelDist).href);

const identity = (b) => b;
const Client = grpc.makeGenericClientConstructor({
  Export: {
    path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    requestStream: false, responseStream: false,
    requestSerialize: identity, requestDeserialize: identity,
    responseSerialize: identity, responseDeserialize: identity,
  },
}, 'TraceService');
const client = new Client('127.0.0.1:' + port, grpc.credentials.createInsecure());

let stopping = false;
const stats = { requests: 0, acked: 0, ackedTraces: 0, ackedSpans: 0, errors: 0, partial: 0 };
const summary = () => process.stderr.write('SUMMARY ' + JSON.stringify(stats) + '\n');
process.on('SIGTERM', () => { stopping = true; summary(); process.exit(0); });

const hex = (b) => Buffer.from(b).toString('hex');
const newId = (n) => { const b = randomBytes(n); b[0] |= 0x10; return new Uint8Array(b); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const kv = (key, value) => ({ key, value });

function makeRequest(seq) {
  const now = BigInt(Date.now()) * 1000000n;
  const spans = [];
  const traces = [];
  const spansPerTrace = Number(spansPerTraceArg || 4);
  for (let t = 0; t < tracesPerRequest; t++) {
    const traceId = newId(16);
    const root = newId(8);
    const ids = [];
    const n = spansPerTrace + ((seq + t) % 2);
    for (let i = 0; i < n; i++) {
      const spanId = i === 0 ? root : newId(8);
      ids.push(hex(spanId));
      spans.push({
        traceId, spanId, traceState: '', parentSpanId: i === 0 ? new Uint8Array(0) : root, flags: 1,
        name: i === 0 ? 'GET /api/orders/{id}' : 'SELECT orders ' + i,
        kind: i === 0 ? 2 : 3,
        startTimeUnixNano: now + BigInt(i * 1000), endTimeUnixNano: now + BigInt(i * 1000 + 250000),
        attributes: [
          kv('http.method', { stringValue: 'GET' }),
          kv('http.status_code', { intValue: 200n }),
          kv('loadgen.seq', { intValue: BigInt(seq) }),
          kv('loadgen.ratio', { doubleValue: 0.5 }),
          kv('loadgen.ok', { boolValue: true }),
        ],
        droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0,
        status: { code: 0, message: '' },
      });
    }
    traces.push('ACK ' + hex(traceId) + ' ' + ids.join(','));
  }
  const body = encodeTrace({
    resourceSpans: [{
      resource: { attributes: [kv('service.name', { stringValue: 'loadgen' })], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 'loadgen', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
      schemaUrl: '',
    }],
  });
  return { body: Buffer.from(body), lines: traces, spanCount: spans.length };
}

// ExportTraceServiceResponse: 1 partial_success { 1 rejected_spans (int64) }.
function rejectedSpans(buf) {
  let pos = 0;
  const varint = () => { let r = 0n, s = 0n; for (;;) { const b = buf[pos++]; r |= BigInt(b & 0x7f) << s; if (!(b & 0x80)) return r; s += 7n; } };
  while (pos < buf.length) {
    const tag = Number(varint());
    if ((tag & 7) === 2) {
      const len = Number(varint());
      const inner = buf.subarray(pos, pos + len);
      pos += len;
      if (tag >>> 3 === 1) {
        let p = 0;
        const v2 = () => { let r = 0n, s = 0n; for (;;) { const b = inner[p++]; r |= BigInt(b & 0x7f) << s; if (!(b & 0x80)) return r; s += 7n; } };
        while (p < inner.length) {
          const t2 = Number(v2());
          if ((t2 & 7) === 0) { const v = v2(); if (t2 >>> 3 === 1) return Number(v); }
          else if ((t2 & 7) === 2) { p += Number(v2()); }
          else return -1;
        }
      }
    } else if ((tag & 7) === 0) varint();
    else return -1;
  }
  return 0;
}

function exportOnce(body) {
  return new Promise((resolve, reject) => {
    client.Export(body, new grpc.Metadata(), { deadline: Date.now() + 10000 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function worker(w) {
  let seq = w * 1000000;
  while (!stopping) {
    const { body, lines, spanCount } = makeRequest(seq++);
    stats.requests++;
    try {
      const res = await exportOnce(body);
      const rejected = rejectedSpans(res);
      if (rejected !== 0) {
        stats.partial++;
        process.stdout.write('PARTIAL ' + rejected + '\n');
        continue;
      }
      // One write per acknowledged export (synchronous for pipes on Linux).
      process.stdout.write(lines.join('\n') + '\n');
      stats.acked++;
      stats.ackedTraces += lines.length;
      stats.ackedSpans += spanCount;
      if (pauseMs > 0) await sleep(pauseMs);
    } catch (err) {
      stats.errors++;
      if (stats.errors <= 3) process.stderr.write('ERR ' + err.code + ' ' + err.details + '\n');
      await sleep(20);
    }
  }
}

const concurrency = Number(concurrencyArg || 8);
process.stderr.write('LOADGEN STARTED\n');
await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
`;

/** Writes the load generator to `<dir>/loadgen.mjs` and returns its path. */
export function writeLoadGenerator(dir: string): string {
  const path = join(dir, 'loadgen.mjs');
  writeFileSync(path, LOADGEN_SOURCE);
  return path;
}
