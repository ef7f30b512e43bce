// Search benchmark: starts the built andante (child process), loads N spans over OTLP/gRPC in
// `blocks` chunks (POST /flush after each, so the store holds `blocks` time-disjoint blocks), then
// times GET /api/search for representative TraceQL queries over the whole window with limit 20:
// median and p90 latency over `runs` runs (after one untimed warm-up), spans scanned per second
// (the response's metrics.inspectedSpans / latency) and the server's CPU use while answering.
// Before the last flush it runs the checkout query once over the data still in the ingester.
//
// The data is generated here (seeded, deterministic): traces of ~16 spans with a real parent/child
// topology (frontend → checkout → cart / payments → postgresql, frontend → catalog → postgresql,
// search flows, batch jobs rooted elsewhere), ~10 attributes per span, a route (resource0..39) per
// trace, and checkout server spans that are sometimes slow (> 2 s), failing, or both. The generator
// counts the traces each query must match, so the answers are checked as well as timed.
//
//   pnpm build && node bench/dist/search.js [--spans 1000000 --runs 5 --blocks 4]
//     [--data DIR]          keep the loaded store in DIR (reused on the next run with the same DIR)
//     [--profile DIR]       afterwards, restart the server with --cpu-prof and profile one query
//     [--profileQuery N]    which query (index in the table, default 5: the full evaluation)

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { encodeTrace, mulberry32, type KeyValue, type ResourceSpans, type Span, type SpanEvent } from '@andante/model';
import { bool, dbl, int, resourceAttributes, str } from './payloads.js';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  spans: number;
  runs: number;
  blocks: number;
  batch: number;
  concurrency: number;
  data: string;
  profile: string;
  profileQuery: number;
  profileRuns: number;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { spans: 1_000_000, runs: 5, blocks: 4, batch: 512, concurrency: 4, data: '', profile: '', profileQuery: 5, profileRuns: 3 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '') as keyof Options;
    const value = argv[i + 1];
    if (!(key in o) || value === undefined) throw new Error(`unknown option or missing value: ${argv[i]}`);
    if (typeof o[key] === 'number') {
      const n = Number(value.replace(/_/g, ''));
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${key}: expected a number, got ${value}`);
      (o as unknown as Record<string, number>)[key] = n;
    } else {
      (o as unknown as Record<string, string>)[key] = value;
    }
  }
  if (o.blocks < 1 || o.runs < 1) throw new Error('--blocks and --runs must be >= 1');
  return o;
}

// ---------------------------------------------------------------------------------------------
// Queries

interface Query {
  label: string;
  q: string;
  /** Key of the generator's count of traces this query must match. */
  expect: keyof Expected;
}

const CHECKOUT_QUERY = '{ resource.service.name = "checkout" && duration > 2s && status = error }';

const QUERIES: Query[] = [
  { label: 'dedicated column', q: '{ resource.service.name = "checkout" }', expect: 'checkout' },
  { label: 'regex', q: '{ span.http.url =~ ".*/resource1[0-9]/.*" }', expect: 'regex' },
  { label: 'structural', q: '{ resource.service.name = "frontend" } >> { span.db.system = "postgresql" }', expect: 'structural' },
  { label: 'aggregate', q: '{ resource.service.name = "checkout" } | count() > 3', expect: 'aggregate' },
  { label: 'no match', q: '{ span.http.status_code = 599 }', expect: 'none' },
  // No column narrows it: every trace is read whole and evaluated.
  { label: 'full evaluation, no match', q: '{ } | avg(duration) > 1000h', expect: 'none' },
  { label: 'checkout (issue)', q: CHECKOUT_QUERY, expect: 'slowError' },
  // Traces hold ~16 spans: none has enough rows to be read.
  { label: 'span count, no match', q: '{ } | count() > 1000', expect: 'none' },
];

// ---------------------------------------------------------------------------------------------
// Data generator

/** How many traces each query must match (computed while generating). */
interface Expected {
  traces: number;
  spans: number;
  checkout: number;
  regex: number;
  structural: number;
  aggregate: number;
  none: number;
  slowError: number;
}

const emptyExpected = (): Expected => ({ traces: 0, spans: 0, checkout: 0, regex: 0, structural: 0, aggregate: 0, none: 0, slowError: 0 });

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;
const CONSUMER = 5;
const ERROR = 2;

/** Generates whole traces and groups them, by service, into OTLP export requests. */
class TraceGenerator {
  private readonly rand: () => number;
  private readonly bySvc = new Map<string, Span[]>();
  private batchSpans = 0;
  private traceId = new Uint8Array(16);
  private traceSpans: { service: string; span: Span }[] = [];
  readonly expected = emptyExpected();
  /** Trace IDs (hex) of the checkout query's matches, oldest first (traces start in generation order). */
  readonly slowErrorIds: string[] = [];
  private traceSeq = 0;

  constructor(seed: number) {
    this.rand = mulberry32(seed);
  }

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  private ms(lo: number, hi: number): bigint {
    return BigInt(Math.round((lo + this.rand() * (hi - lo)) * 1e6));
  }
  private hex(bytes: number): string {
    let s = '';
    for (let i = 0; i < bytes; i++) s += this.int(256).toString(16).padStart(2, '0');
    return s;
  }
  private spanId(): Uint8Array {
    const id = new Uint8Array(8);
    for (let i = 0; i < 8; i++) id[i] = this.int(256);
    if (id.every((b) => b === 0)) id[7] = 1;
    return id;
  }

  private emit(
    service: string,
    name: string,
    kind: number,
    parent: Uint8Array,
    start: bigint,
    end: bigint,
    attributes: KeyValue[],
    error = false,
    id = this.spanId(),
  ): Uint8Array {
    attributes.push(str('thread.name', `worker-${this.int(8)}`), bool('sampled', true), dbl('queue.wait_ms', this.int(500) / 100));
    const events: SpanEvent[] = error
      ? [{ timeUnixNano: end - 1000n, name: 'exception', attributes: [str('exception.type', 'UpstreamError'), str('exception.message', 'upstream failed after retries')], droppedAttributesCount: 0 }]
      : [];
    const span: Span = {
      traceId: this.traceId,
      spanId: id,
      traceState: '',
      parentSpanId: parent,
      flags: 1,
      name,
      kind,
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      attributes,
      droppedAttributesCount: 0,
      events,
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: { code: error ? ERROR : 0, message: error ? 'internal error' : '' },
    };
    this.traceSpans.push({ service, span });
    return id;
  }

  private http(method: string, route: string, url: string, status: number): KeyValue[] {
    return [
      str('http.method', method),
      str('http.route', route),
      str('http.url', url),
      int('http.status_code', status),
      str('http.user_agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36'),
      int('http.request_content_length', this.int(20_000)),
      str('request.id', this.hex(12)),
    ];
  }

  private db(system: string, statement: string): KeyValue[] {
    return [str('db.system', system), str('db.name', system === 'redis' ? '0' : 'shop'), str('db.statement', statement), str('net.peer.name', `${system}-primary`), int('net.peer.port', system === 'redis' ? 6379 : 5432)];
  }

  /**
   * A client span in `caller` and the server span it causes in `callee`; `body` runs inside the
   * server span from its start and returns when it is done. Returns the client span's end.
   */
  private call(
    caller: string,
    callee: string,
    method: string,
    route: string,
    url: string,
    parent: Uint8Array,
    start: bigint,
    body: (server: Uint8Array, t: bigint) => bigint,
    opts: { status?: number; error?: boolean } = {},
  ): bigint {
    const clientId = this.spanId();
    const serverId = this.spanId();
    const sStart = start + this.ms(0.05, 0.5);
    const sEnd = body(serverId, sStart + this.ms(0.05, 0.3)) + this.ms(0.05, 0.5);
    const cEnd = sEnd + this.ms(0.05, 0.5);
    const status = opts.status ?? 200;
    const error = opts.error ?? status >= 500;
    this.emit(callee, `${method} ${route}`, SERVER, clientId, sStart, sEnd, this.http(method, route, url, status), error, serverId);
    this.emit(caller, `${method}`, CLIENT, parent, start, cEnd, this.http(method, route, url, status), error, clientId);
    return cEnd;
  }

  private dbCall(service: string, system: string, statement: string, parent: Uint8Array, t: bigint, lo: number, hi: number): bigint {
    const end = t + this.ms(lo, hi);
    this.emit(service, system === 'redis' ? statement.split(' ')[0]! : `${statement.split(' ')[0]} ${system === 'postgresql' ? 'orders' : ''}`.trim(), CLIENT, parent, t, end, this.db(system, statement));
    return end + this.ms(0.01, 0.1);
  }

  /** One trace starting at `t0`; updates the expected answers. */
  private trace(t0: bigint): void {
    this.traceSeq++;
    const id = new Uint8Array(16);
    for (let i = 0; i < 8; i++) id[i] = this.int(256);
    new DataView(id.buffer).setBigUint64(8, BigInt(this.traceSeq));
    this.traceId = id;
    this.traceSpans = [];

    const r = this.int(40);
    const item = this.int(10_000_000);
    const pageUrl = `https://shop.example.com/api/v1/resource${r}/${item}?session=${this.hex(5)}`;
    const kind = this.rand();
    let checkoutSpans = 0;
    let slowError = false;
    let postgresUnderFrontend = false;

    if (kind < 0.75) {
      // Checkout flow: frontend → auth, catalog (→ postgresql), checkout → cart (→ redis),
      // payments (→ postgresql), shipping.
      const root = this.spanId();
      let t = t0 + this.ms(0.2, 1);
      t = this.call('frontend', 'auth', 'POST', '/api/v1/auth/verify', 'http://auth:8080/api/v1/auth/verify', root, t, (_s, u) => u + this.ms(1, 5));
      const lookups = 1 + this.int(3);
      for (let i = 0; i < lookups; i++) {
        const notFound = this.rand() < 0.03;
        t = this.call('frontend', 'catalog', 'GET', `/api/v1/resource${r}/{id}`, pageUrl, root, t, (s, u) => this.dbCall('catalog', 'postgresql', 'SELECT * FROM products WHERE id = $1', s, u, 0.5, 8), { status: notFound ? 404 : 200 });
      }
      postgresUnderFrontend = true;
      const dice = this.rand();
      const slow = dice < 0.002 || (dice >= 0.01 && dice < 0.02); // 0.2 % slow and failing, 1 % slow only
      const failing = dice < 0.002 || (dice >= 0.02 && dice < 0.04); // 2 % failing only
      slowError = slow && failing;
      const extra = this.int(3); // internal checkout spans
      const pays = this.rand() < 0.9;
      const ships = this.rand() < 0.5;
      checkoutSpans = 1 + extra + 1 + (pays ? 1 : 0) + (ships ? 1 : 0);
      t = this.call(
        'frontend',
        'checkout',
        'POST',
        '/api/v1/checkout',
        'http://checkout:8080/api/v1/checkout',
        root,
        t,
        (s, u) => {
          for (let i = 0; i < extra; i++) {
            const end = u + this.ms(0.1, 3);
            this.emit('checkout', i === 0 ? 'validate cart' : 'apply promotions', INTERNAL, s, u, end, [str('code.function', i === 0 ? 'validateCart' : 'applyPromotions')]);
            u = end;
          }
          u = this.call('checkout', 'cart', 'GET', '/api/v1/cart/{id}', `http://cart:8080/api/v1/cart/${item}`, s, u, (c, v) => this.dbCall('cart', 'redis', 'HGETALL cart:{id}', c, v, 0.1, 2));
          if (pays) {
            u = this.call('checkout', 'payments', 'POST', '/api/v1/payments', 'http://payments:8080/api/v1/payments', s, u, (p, v) => {
              const writes = 1 + this.int(2);
              for (let i = 0; i < writes; i++) v = this.dbCall('payments', 'postgresql', 'INSERT INTO payments (order_id, amount) VALUES ($1, $2)', p, v, 1, 15);
              return v;
            });
          }
          if (ships) u = this.call('checkout', 'shipping', 'POST', '/api/v1/shipping/quote', 'http://shipping:8080/api/v1/shipping/quote', s, u, (_p, v) => v + this.ms(2, 30));
          return slow ? u + this.ms(2100, 4500) : u + this.ms(0.5, 5);
        },
        { status: failing ? 500 : 200 },
      );
      this.emit('frontend', 'GET /checkout', SERVER, new Uint8Array(0), t0, t + this.ms(0.1, 1), this.http('GET', `/api/v1/resource${r}/{id}`, pageUrl, failing ? 500 : 200), failing, root);
    } else if (kind < 0.9) {
      // Search flow: frontend → search → catalog → redis (no postgresql, no checkout).
      const root = this.spanId();
      let t = t0 + this.ms(0.2, 1);
      t = this.call('frontend', 'search', 'GET', '/api/v1/search', `http://search:8080/api/v1/search?q=${this.hex(3)}`, root, t, (s, u) =>
        this.call('search', 'catalog', 'GET', `/api/v1/resource${r}/{id}`, pageUrl, s, u, (c, v) => {
          const n = 2 + this.int(4);
          for (let i = 0; i < n; i++) v = this.dbCall('catalog', 'redis', 'GET product:{id}', c, v, 0.1, 1);
          return v;
        }),
      );
      this.emit('frontend', 'GET /search', SERVER, new Uint8Array(0), t0, t + this.ms(0.1, 1), this.http('GET', `/api/v1/resource${r}/{id}`, pageUrl, 200), false, root);
    } else {
      // Batch job rooted in email: postgresql without a frontend ancestor.
      const root = this.spanId();
      let t = t0 + this.ms(0.1, 0.5);
      const n = 1 + this.int(4);
      for (let i = 0; i < n; i++) t = this.dbCall('email', 'postgresql', 'SELECT * FROM outbox WHERE sent = false LIMIT 100', root, t, 1, 20);
      t = this.call('email', 'email', 'POST', '/v3/mail/send', 'https://smtp.example.net/v3/mail/send', root, t, (_s, u) => u + this.ms(20, 200));
      this.emit('email', 'process order.confirmed', CONSUMER, new Uint8Array(0), t0, t + this.ms(0.1, 1), [str('messaging.system', 'kafka'), str('messaging.destination', 'order.confirmed')], false, root);
    }

    const e = this.expected;
    e.traces++;
    e.spans += this.traceSpans.length;
    if (checkoutSpans > 0) e.checkout++;
    if (checkoutSpans > 3) e.aggregate++;
    if (slowError) {
      e.slowError++;
      this.slowErrorIds.push(Buffer.from(this.traceId).toString('hex'));
    }
    if (postgresUnderFrontend) e.structural++;
    if (kind < 0.9 && r >= 10 && r <= 19) e.regex++;
    for (const { service, span } of this.traceSpans) {
      const list = this.bySvc.get(service);
      if (list) list.push(span);
      else this.bySvc.set(service, [span]);
    }
    this.batchSpans += this.traceSpans.length;
  }

  /** Export requests holding about `spans` spans, traces starting evenly from `startNs` every `stepNs`. */
  *batches(spans: number, batch: number, startNs: bigint, stepNs: bigint): Generator<{ bytes: Buffer; spans: number }> {
    let done = 0;
    let t = startNs;
    while (done < spans) {
      this.trace(t);
      t += stepNs;
      if (this.batchSpans >= batch || done + this.batchSpans >= spans) {
        const resourceSpans: ResourceSpans[] = [...this.bySvc].map(([service, list]) => ({
          resource: { attributes: resourceAttributes(service), droppedAttributesCount: 0 },
          scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.57.0', attributes: [], droppedAttributesCount: 0 }, spans: list, schemaUrl: '' }],
          schemaUrl: '',
        }));
        const n = this.batchSpans;
        this.bySvc.clear();
        this.batchSpans = 0;
        done += n;
        yield { bytes: Buffer.from(encodeTrace({ resourceSpans })), spans: n };
      }
    }
  }
}

/** Average spans per trace of the generator (for spacing traces in time). */
function spansPerTrace(): number {
  const g = new TraceGenerator(1);
  for (const _ of g.batches(50_000, 512, 0n, 1n)) void _;
  return g.expected.spans / g.expected.traces;
}

// ---------------------------------------------------------------------------------------------
// Server

interface Server {
  proc: ChildProcess;
  http: number;
  grpc: number;
  exited: Promise<number | null>;
}

async function writeConfig(dir: string): Promise<string> {
  const cfg = join(dir, 'andante.yaml');
  await writeFile(
    cfg,
    [
      'server: { http_listen_address: 127.0.0.1, http_listen_port: 0, log_level: warn }',
      'distributor: { receivers: { otlp: { protocols: { grpc: { endpoint: "127.0.0.1:0", max_recv_msg_size_mib: 16 } } } } }',
      // Blocks are cut only by POST /flush: one block per chunk. The ingester names every block it
      // flushed for the whole load (complete_block_timeout), so its search (the "ingester only" row)
      // answers from every chunk sent so far, whatever the load takes.
      'ingester: { trace_idle_period: 1h, max_block_duration: 24h, max_block_bytes: 100000000000, complete_block_timeout: 24h }',
      // Compaction would merge the chunks' blocks while the benchmark runs.
      'compactor: { compaction: { compaction_disabled: true } }',
      `storage: { trace: { local: { path: ${join(dir, 'traces')} }, wal: { path: ${join(dir, 'wal')} } } }`,
      'overrides: { defaults: { ingestion: { rate_limit_bytes: 100000000000, burst_size_bytes: 100000000000, max_traces_per_user: 100000000 }, global: { max_bytes_per_trace: 50000000 } } }',
    ].join('\n'),
  );
  return cfg;
}

function startServer(dir: string, nodeArgs: string[] = []): Promise<Server> {
  const cfg = join(dir, 'andante.yaml');
  const bin = join(dirname(fileURLToPath(import.meta.url)), '../../packages/server/dist/bin.js');
  const proc = spawn(process.execPath, [...nodeArgs, bin, `-config.file=${cfg}`, '-server.log_level=info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    let buf = '';
    let started = false;
    proc.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        if (line.includes('"level":"error"') || line.includes('"level":"warn"')) process.stderr.write(`  [andante] ${line}\n`);
        if (started || !line.includes('andante started')) continue;
        started = true;
        const ports = JSON.parse(line).ports as { http: number; otlpGrpc: number };
        resolve({ proc, http: ports.http, grpc: ports.otlpGrpc, exited });
      }
    });
    proc.on('exit', (code) => {
      if (!started) reject(new Error(`andante exited (${code}): ${buf}`));
    });
  });
}

async function stopServer(s: Server): Promise<void> {
  if (s.proc.exitCode !== null) return;
  s.proc.kill('SIGTERM');
  const timeout = setTimeout(() => s.proc.kill('SIGKILL'), 120_000);
  await s.exited;
  clearTimeout(timeout);
}

/** User + system CPU seconds of a process (all its threads). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  if (!existsSync(dir)) return 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Load

async function sendAll(client: grpc.Client, payloads: Iterator<{ bytes: Buffer; spans: number }>, concurrency: number): Promise<{ spans: number; bytes: number }> {
  let spans = 0;
  let bytes = 0;
  const worker = async (): Promise<void> => {
    for (let r = payloads.next(); !r.done; r = payloads.next()) {
      const p = r.value;
      await new Promise<void>((resolve, reject) =>
        client.makeUnaryRequest(
          '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
          (b: Buffer) => b,
          (b: Buffer) => b,
          p.bytes,
          (err) => (err ? reject(err) : resolve()),
        ),
      );
      spans += p.spans;
      bytes += p.bytes.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  return { spans, bytes };
}

async function flush(s: Server): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${s.http}/flush`, { method: 'POST' });
  if (res.status !== 204) throw new Error(`/flush answered ${res.status}: ${await res.text()}`);
  return performance.now() - t0;
}

// ---------------------------------------------------------------------------------------------
// Search

interface SearchResult {
  ms: number;
  traces: number;
  inspectedSpans: number;
  inspectedTraces: number;
  completedJobs: number;
  totalJobs: number;
  cpuSec: number;
  traceIds: string[];
}

async function search(s: Server, q: string, window: { start: number; end: number } | null, limit = 20): Promise<SearchResult> {
  const params = new URLSearchParams({ q, limit: String(limit) });
  if (window) {
    params.set('start', String(window.start));
    params.set('end', String(window.end));
  }
  const cpu0 = cpuSeconds(s.proc.pid!);
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${s.http}/api/search?${params}`);
  const text = await res.text();
  const ms = performance.now() - t0;
  const cpuSec = cpuSeconds(s.proc.pid!) - cpu0;
  if (res.status !== 200) throw new Error(`search ${q} answered ${res.status}: ${text}`);
  const body = JSON.parse(text) as { traces?: { traceID: string }[]; metrics?: Record<string, string | number | undefined> };
  const m = body.metrics ?? {};
  return {
    ms,
    traces: body.traces?.length ?? 0,
    inspectedSpans: Number(m.inspectedSpans ?? 0),
    inspectedTraces: Number(m.inspectedTraces ?? 0),
    completedJobs: Number(m.completedJobs ?? 0),
    totalJobs: Number(m.totalJobs ?? 0),
    cpuSec,
    traceIds: (body.traces ?? []).map((t) => t.traceID),
  };
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// ---------------------------------------------------------------------------------------------
// CPU profile summary

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

async function summarizeProfile(dir: string, top = 20): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return ['(no .cpuprofile written)'];
  const newest = (await Promise.all(files.map(async (f) => ({ f, t: (await stat(join(dir, f))).mtimeMs })))).sort((a, b) => b.t - a.t)[0]!.f;
  const prof = JSON.parse(await readFile(join(dir, newest), 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  let idle = 0;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    const n = byId.get(id)!;
    const f = n.callFrame;
    if (f.functionName === '(idle)') idle += dt;
    total += dt;
    const where = f.url ? `${f.url.replace(/^file:\/\//, '').replace(/.*\/(packages|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
    const file = f.url ? where.replace(/:\d+$/, '') : key;
    byFile.set(file, (byFile.get(file) ?? 0) + dt);
  });
  const busy = total - idle;
  const lines = [`profile ${newest}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (main thread)`];
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${((v / busy) * 100).toFixed(1).padStart(5)} %  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  }
  lines.push('  self time by file:');
  for (const [k, v] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 12)) lines.push(`  ${((v / busy) * 100).toFixed(1).padStart(5)} %  ${k}`);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Main

interface StoreMeta {
  spans: number;
  blocks: number;
  expected: Expected;
  window: { start: number; end: number };
  load: { seconds: number; flushMs: number[]; otlpBytes: number; bytesAtRest: number };
  ingesterRun: SearchResult | null;
  /** The checkout query's matches, oldest first. */
  slowErrorIds: string[];
}

const fmt = (n: number, d = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

async function load(o: Options, dir: string): Promise<StoreMeta> {
  await writeConfig(dir);
  const server = await startServer(dir);
  const client = new grpc.Client(`127.0.0.1:${server.grpc}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20 });
  try {
    const perTrace = spansPerTrace();
    const traces = Math.ceil(o.spans / perTrace);
    // The data spans the last 50 minutes (ending a minute ago), oldest chunk first.
    const endNs = BigInt(Date.now() - 60_000) * 1_000_000n;
    const startNs = endNs - 50n * 60n * 1_000_000_000n;
    const stepNs = (endNs - startNs) / BigInt(traces);
    const gen = new TraceGenerator(42);
    const flushMs: number[] = [];
    let otlpBytes = 0;
    let ingesterRun: SearchResult | null = null;
    const t0 = performance.now();
    let chunkStart = startNs;
    for (let b = 0; b < o.blocks; b++) {
      const spans = Math.round(((b + 1) * o.spans) / o.blocks) - Math.round((b * o.spans) / o.blocks);
      const tracesBefore = gen.expected.traces;
      const tc = performance.now();
      const sent = await sendAll(client, gen.batches(spans, o.batch, chunkStart, stepNs), o.concurrency);
      chunkStart += BigInt(gen.expected.traces - tracesBefore) * stepNs;
      otlpBytes += sent.bytes;
      const loadSec = (performance.now() - tc) / 1000;
      if (b === o.blocks - 1) {
        // The last chunk is still in the ingester's memory: the checkout query without start/end
        // goes to the ingesters only, as in Tempo, once. An ingester searches its memory and the
        // blocks it flushed (within complete_block_timeout, see writeConfig), as Tempo's ingesters
        // search their complete blocks: every chunk sent so far answers.
        ingesterRun = await search(server, CHECKOUT_QUERY, null);
      }
      flushMs.push(await flush(server));
      console.log(
        `  chunk ${b + 1}/${o.blocks}: ${fmt(sent.spans)} spans sent in ${loadSec.toFixed(1)} s (${fmt(sent.spans / loadSec)} spans/s incl. generation), flush ${(flushMs.at(-1)! / 1000).toFixed(1)} s, server RSS ${fmt(rssMiB(server.proc.pid!))} MiB`,
      );
    }
    const seconds = (performance.now() - t0) / 1000;
    const window = { start: Math.floor(Number(startNs / 1_000_000_000n)) - 60, end: Math.ceil(Date.now() / 1000) + 60 };
    const bytesAtRest = await dirBytes(join(dir, 'traces'));
    const meta: StoreMeta = { spans: gen.expected.spans, blocks: o.blocks, expected: gen.expected, window, load: { seconds, flushMs, otlpBytes, bytesAtRest }, ingesterRun, slowErrorIds: gen.slowErrorIds };
    await writeFile(join(dir, 'bench-meta.json'), JSON.stringify(meta, null, 1));
    return meta;
  } finally {
    client.close();
    await stopServer(server);
  }
}

interface Row {
  query: Query;
  first: SearchResult;
  runs: SearchResult[];
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const dir = o.data ? resolvePath(o.data) : await mkdtemp(join(tmpdir(), 'andante-search-bench-'));
  await mkdir(dir, { recursive: true });
  console.log(`search benchmark: ${fmt(o.spans)} spans in ${o.blocks} blocks, ${o.runs} timed runs per query (after 1 warm-up), limit 20, store in ${dir}`);
  try {
    let meta: StoreMeta;
    const metaPath = join(dir, 'bench-meta.json');
    if (existsSync(metaPath)) {
      meta = JSON.parse(await readFile(metaPath, 'utf8')) as StoreMeta;
      console.log(`reusing the store in ${dir}: ${fmt(meta.spans)} spans in ${meta.blocks} blocks (loaded earlier)`);
    } else {
      console.log('loading:');
      meta = await load(o, dir);
    }
    const e = meta.expected;
    console.log(
      `store: ${fmt(e.spans)} spans, ${fmt(e.traces)} traces (${(e.spans / e.traces).toFixed(1)} spans/trace), ${meta.blocks} blocks, ` +
        `${fmt(meta.load.bytesAtRest / 1e6, 1)} MB at rest (${(meta.load.bytesAtRest / e.spans).toFixed(1)} B/span; OTLP ${(meta.load.otlpBytes / e.spans).toFixed(1)} B/span); ` +
        `load + flushes ${meta.load.seconds.toFixed(1)} s (flushes ${meta.load.flushMs.map((f) => (f / 1000).toFixed(1)).join(', ')} s)`,
    );

    // Queries over blocks only: a fresh process, nothing in the ingester.
    const server = await startServer(dir);
    const rows: Row[] = [];
    let completeness = '';
    try {
      for (const query of QUERIES) {
        const first = await search(server, query.q, meta.window);
        const runs: SearchResult[] = [];
        for (let i = 0; i < o.runs; i++) runs.push(await search(server, query.q, meta.window));
        rows.push({ query, first, runs });
        const r = runs.at(-1)!;
        console.log(`  ${query.label.padEnd(18)} ${runs.map((x) => x.ms.toFixed(0)).join(' ')} ms; ${r.traces} traces, ${fmt(r.inspectedSpans)} spans inspected, jobs ${r.completedJobs}/${r.totalJobs}`);
      }
      // Completeness: every matching trace of the checkout query, not only 20.
      const all = await search(server, CHECKOUT_QUERY, meta.window, 100_000);
      const want = new Set(meta.slowErrorIds);
      const complete = all.traceIds.length === want.size && all.traceIds.every((id) => want.has(id));
      completeness = `checkout query with limit 100000: ${all.traces} traces returned, ${e.slowError} expected (generator's count), same set: ${complete ? 'yes' : 'NO'}, ${(all.ms / 1000).toFixed(2)} s`;
    } finally {
      await stopServer(server);
    }

    // Table
    const head = ['query', 'returned/matching', 'answer', 'jobs', 'spans inspected', 'first ms', 'median ms', 'p90 ms', 'spans/s (median)', 'spans/s per core', 'server CPU'];
    const table: string[][] = rows.map(({ query, first, runs }) => {
      const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
      const med = median(ms);
      const inspected = median(runs.map((r) => r.inspectedSpans));
      const cores = runs.reduce((n, r) => n + r.cpuSec, 0) / (runs.reduce((n, r) => n + r.ms, 0) / 1000);
      const last = runs.at(-1)!;
      // The same traces every run; for the checkout query, the 20 most recent matches, newest first.
      const same = runs.every((r) => r.traceIds.join() === first.traceIds.join());
      const right = query.q !== CHECKOUT_QUERY || first.traceIds.join() === meta.slowErrorIds.slice(-20).reverse().join();
      return [
        `${query.label}: ${query.q}`,
        `${last.traces}/${fmt(e[query.expect])}`,
        `${same ? 'stable' : 'VARIES'}${query.q === CHECKOUT_QUERY ? (right ? ', top 20 ok' : ', top 20 WRONG') : ''}`,
        `${last.completedJobs}/${last.totalJobs}`,
        fmt(inspected),
        fmt(first.ms),
        fmt(med),
        fmt(percentile(ms, 90)),
        fmt(inspected / (med / 1000)),
        fmt(inspected / median(runs.map((r) => r.cpuSec))),
        `${cores.toFixed(2)} cores`,
      ];
    });
    if (meta.ingesterRun) {
      const r = meta.ingesterRun;
      table.push([
        `ingester only (before /flush, no start/end): ${CHECKOUT_QUERY}`,
        `${r.traces}/${fmt(meta.slowErrorIds.length)}`,
        r.traceIds.join() === meta.slowErrorIds.slice(-20).reverse().join() ? 'top 20 ok' : 'top 20 WRONG',
        `${r.completedJobs}/${r.totalJobs}`,
        fmt(r.inspectedSpans),
        fmt(r.ms),
        '(1 run)',
        '',
        fmt(r.inspectedSpans / (r.ms / 1000)),
        fmt(r.inspectedSpans / r.cpuSec),
        `${(r.cpuSec / (r.ms / 1000)).toFixed(2)} cores`,
      ]);
    }
    const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
    const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ');
    console.log('');
    console.log(line(head));
    console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
    for (const r of table) console.log(line(r));
    console.log('');
    console.log('"returned/matching": traces returned (limit 20) / traces the generator knows match in the store; "answer": whether every run returned the same traces and, for the checkout query, exactly the 20 most recent matches, newest first.');
    console.log(`"jobs" is completedJobs/totalJobs (one per block, plus the ingester's; jobs skipped by the early stop are not completed); p90 of ${o.runs} runs is nearest-rank. spans/s = metrics.inspectedSpans / median latency.`);
    console.log('"server CPU" is the andante process\'s CPU seconds (all threads: block scans run on a worker pool) / wall seconds during the requests; "spans/s per core" = spans inspected / the median of the server CPU seconds of the runs.');
    console.log(completeness);

    if (o.profile) {
      const profDir = resolvePath(o.profile);
      await mkdir(profDir, { recursive: true });
      const query = QUERIES[o.profileQuery]!;
      const prof = await startServer(dir, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
      let times: number[] = [];
      try {
        await search(prof, query.q, meta.window); // warm-up, also profiled
        times = [];
        for (let i = 0; i < o.profileRuns; i++) times.push((await search(prof, query.q, meta.window)).ms);
      } finally {
        await stopServer(prof); // SIGTERM: the profile is written on exit
      }
      console.log(`\nCPU profile of ${query.label} (${query.q}), ${o.profileRuns + 1} runs (${times.map((t) => t.toFixed(0)).join(', ')} ms under the profiler), start-up included:`);
      for (const l of await summarizeProfile(profDir)) console.log(l);
    }
  } finally {
    if (!o.data) await rm(dir, { recursive: true, force: true });
  }
}

await main();
