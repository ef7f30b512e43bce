// A multi-process Andante cluster on 127.0.0.1 for tests and benchmarks (issue 12, "Tests that must
// exist"): a real etcd (Debian's etcd-server) for the rings, a real S3-protocol server (moto_server
// or s3rver) for blocks, then any set of `andante` processes (packages/server/dist/bin.js), each with
// its own -target, config file, WAL directory and internal gRPC port.
//
// Internal gRPC ports are picked before a process starts (not port 0), so a process restarted on the
// same WAL directory comes back at the same ring address, and querier configs can name the frontend.
// HTTP and OTLP ports stay ephemeral (read from the "andante started" log line).
//
// Teardown kills every process this module started (also SIGSTOPped ones, and on the test worker's
// exit), so a failing or timed-out test leaves nothing behind. Logs of every incarnation of a node are
// kept; logTails() is what a failing test prints.

import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpanKind, SpanStatusCode, context as otelContext, trace as otelTrace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Metadata } from '@grpc/grpc-js';
import { startTestS3Server, type S3ServerKind, type TestS3Server } from '@andante/backend/testing';
import { startTestEtcd, type TestEtcd } from '@andante/ring/testing';
import { bytesToHex, type Trace } from '@andante/model';
import { fetchTraceProto, makeTempDir, mergeConfig, startProcess, waitFor, type AndanteProcess } from './harness.js';
import { freeTcpPort } from './ports.js';

type Tree = Record<string, unknown>;


export interface ClusterOptions {
  /** ingester.lifecycler.ring.replication_factor on every process (3 in the topology). */
  replicationFactor?: number;
  /** Every ring's heartbeat_timeout (lease TTL; a member turns UNHEALTHY this long after its last beat). */
  heartbeatTimeout?: string;
  /** Every ring member's heartbeat_period. */
  heartbeatPeriod?: string;
  /** The S3-protocol server (moto_server by default: its own process, correct listings). */
  s3?: S3ServerKind;
  /** The S3 server's bucket (default the test servers' own). */
  bucket?: string;
  multitenancy?: boolean;
  /** Config merged into every process's (Tempo's keys). */
  common?: Tree;
}

export interface NodeSpec {
  /** Unique in the cluster: the instance ID in every ring this process joins. */
  name: string;
  /** -target: one module or a comma-separated list. */
  target: string;
  /** Config merged last (Tempo's keys). */
  extra?: Tree;
  /**
   * Run bin.js with exactly these arguments, which name a config file the caller wrote, instead
   * of the cluster's config (configFor and `extra` are then unused): e.g. a Helm-rendered pod.
   */
  args?: string[];
  /** Environment added to the child's (after the S3 server's credentials). */
  env?: Record<string, string | undefined>;
  /** The child's working directory (default the node's dir). */
  cwd?: string;
}

export interface Shard {
  id: string;
  state: string;
  address: string;
  timestamp: string;
  tokens: number[];
  zone: string;
}

export type RingPage = '/ingester/ring' | '/metrics-generator/ring' | '/compactor/ring' | '/distributor/ring';

const liveNodes = new Set<ClusterNode>();
let exitHookInstalled = false;
/** Kills (synchronously) every node still running when the test worker exits, even abruptly. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const n of liveNodes) n.killNow();
  });
}

/** One andante process of the cluster, across its restarts (same name, WAL dir and gRPC port). */
export class ClusterNode {
  private proc: AndanteProcess | undefined;
  private readonly history: string[] = [];
  private paused = false;

  constructor(
    private readonly cluster: Cluster,
    readonly spec: NodeSpec,
    readonly dir: string,
    readonly grpcPort: number,
  ) {}

  get name(): string {
    return this.spec.name;
  }
  get target(): string {
    return this.spec.target;
  }
  get process(): AndanteProcess {
    if (!this.proc) throw new Error(`${this.name} is not running`);
    return this.proc;
  }
  get http(): number {
    return this.process.ports.http;
  }
  get otlpGrpc(): number {
    return this.process.ports.otlpGrpc!;
  }
  get otlpHttp(): number {
    return this.process.ports.otlpHttp!;
  }
  get pid(): number {
    return this.process.child.pid!;
  }
  alive(): boolean {
    return this.proc?.alive() ?? false;
  }
  /** Running and not SIGSTOPped: answers requests. */
  serving(): boolean {
    return this.alive() && !this.paused;
  }
  /** Everything every incarnation wrote to stderr (the JSON log). */
  log(): string {
    return this.history.join('') + (this.proc?.stderr() ?? '');
  }
  url(path: string): string {
    return `http://127.0.0.1:${this.http}${path}`;
  }

  /** Starts (or starts again, on the same WAL dir and gRPC port) and waits for /ready. */
  async start(timeoutMs = 120_000): Promise<void> {
    if (this.proc?.alive()) throw new Error(`${this.name} is already running`);
    this.retire();
    const env = { ...this.cluster.s3.env(), ...this.spec.env };
    const exact = this.spec.args ? { args: this.spec.args, ...(this.spec.cwd ? { cwd: this.spec.cwd } : {}) } : {};
    this.proc = await startProcess(this.dir, this.spec.args ? {} : this.cluster.configFor(this), timeoutMs, { env, ...exact });
    this.paused = false;
    liveNodes.add(this);
    installExitHook();
    await waitFor(async () => (await fetch(this.url('/ready'))).status === 200, timeoutMs, () => `${this.name} /ready 200; log tail:\n${this.tail(15)}`, 200);
  }

  /** Config merged last from the next start on: a rollout with a changed setting. */
  reconfigure(extra: Tree): void {
    this.spec.extra = extra;
  }

  /** SIGKILL, then waits for the exit. */
  async kill9(): Promise<void> {
    await this.proc?.kill9();
    liveNodes.delete(this);
  }

  /** SIGTERM and waits for the exit (SIGKILL after timeoutMs); the exit code. */
  async terminate(timeoutMs = 90_000): Promise<number | null> {
    if (this.paused) this.resume();
    const code = (await this.proc?.stop(timeoutMs)) ?? null;
    liveNodes.delete(this);
    return code;
  }

  /** SIGSTOP: a hung process (sockets open, nothing answered, no heartbeats). */
  pause(): void {
    this.process.child.kill('SIGSTOP');
    this.paused = true;
  }
  resume(): void {
    this.process.child.kill('SIGCONT');
    this.paused = false;
  }

  /** For the exit hook: SIGKILL without waiting. */
  killNow(): void {
    try {
      this.proc?.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  /**
   * The last `lines` log entries (all incarnations), runs of one message (a heartbeat failing
   * every beat) collapsed into their last entry and a count, so a failing test shows what happened.
   */
  tail(lines = 40): string {
    const out: string[] = [];
    let prevMsg: string | undefined;
    let repeats = 0;
    const flush = (): void => {
      if (repeats > 0) out.push(`  ... and ${repeats} more like it`);
      repeats = 0;
    };
    for (const line of this.log().trimEnd().split('\n')) {
      let msg: string | undefined;
      try {
        msg = (JSON.parse(line) as { msg?: string }).msg;
      } catch {
        msg = undefined;
      }
      if (msg !== undefined && msg === prevMsg) {
        repeats++;
        out[out.length - 1] = line;
        continue;
      }
      flush();
      prevMsg = msg;
      out.push(line);
    }
    flush();
    return out.slice(-lines).join('\n');
  }

  private retire(): void {
    if (this.proc) this.history.push(this.proc.stderr(), `--- ${this.name} exited; restarted ---\n`);
    this.proc = undefined;
  }
}

/** etcd + an S3 server + andante processes. */
export class Cluster {
  readonly nodes = new Map<string, ClusterNode>();
  /** Ring keys under this prefix in etcd: clusters of different test files never meet. */
  readonly prefix: string;

  private constructor(
    readonly etcd: TestEtcd,
    readonly s3: TestS3Server,
    readonly dir: string,
    readonly opts: Required<Omit<ClusterOptions, 's3' | 'bucket'>>,
  ) {
    this.prefix = `cluster-${process.pid}-${Date.now().toString(36)}/`;
  }

  static async start(opts: ClusterOptions = {}): Promise<Cluster> {
    const dir = makeTempDir('cluster');
    const [etcd, s3] = await Promise.all([startTestEtcd(), startTestS3Server(opts.s3 ?? 'moto', opts.bucket ? { bucket: opts.bucket } : {})]);
    return new Cluster(etcd, s3, dir, {
      replicationFactor: opts.replicationFactor ?? 3,
      heartbeatTimeout: opts.heartbeatTimeout ?? '5s',
      heartbeatPeriod: opts.heartbeatPeriod ?? '500ms',
      multitenancy: opts.multitenancy ?? false,
      common: opts.common ?? {},
    });
  }

  /** The S3 `storage.trace` settings every process gets (credentials come from s3.env()). */
  storageConfig(): Tree {
    return {
      storage: {
        trace: {
          backend: 's3',
          s3: { bucket: this.s3.bucket, endpoint: `127.0.0.1:${this.s3.port}`, region: 'us-east-1', insecure: true, forcepathstyle: true },
          blocklist_poll: '1s',
        },
      },
    };
  }

  /** A node's full config: rings in etcd, S3, its gRPC port, then the common and its own extras. */
  configFor(node: ClusterNode): Tree {
    const o = this.opts;
    const kvstore = { store: 'etcd', prefix: this.prefix, etcd: { endpoints: [this.etcd.endpoint], dial_timeout: '1s', max_retries: 2 } };
    const basic = { kvstore, heartbeat_period: o.heartbeatPeriod, heartbeat_timeout: o.heartbeatTimeout, instance_id: node.name, instance_addr: '127.0.0.1' };
    return mergeConfig(
      {
        target: node.target,
        multitenancy_enabled: o.multitenancy,
        server: { grpc_listen_address: '127.0.0.1', grpc_listen_port: node.grpcPort },
        ingester: {
          lifecycler: { id: node.name, address: '127.0.0.1', heartbeat_period: o.heartbeatPeriod, ring: { kvstore, heartbeat_timeout: o.heartbeatTimeout, replication_factor: o.replicationFactor } },
        },
        metrics_generator: { ring: basic },
        compactor: { ring: basic },
        distributor: { ring: basic },
      },
      this.storageConfig(),
      o.common,
      node.spec.extra ?? {},
    );
  }

  /** Creates a node (not started). */
  async define(spec: NodeSpec): Promise<ClusterNode> {
    if (this.nodes.has(spec.name)) throw new Error(`node ${spec.name} exists`);
    const dir = join(this.dir, spec.name);
    mkdirSync(dir, { recursive: true });
    const node = new ClusterNode(this, spec, dir, await freeTcpPort());
    this.nodes.set(spec.name, node);
    return node;
  }

  /** Defines and starts nodes, all at once; resolves when every one answers /ready. */
  async add(...specs: NodeSpec[]): Promise<ClusterNode[]> {
    const nodes = await Promise.all(specs.map((s) => this.define(s)));
    await Promise.all(nodes.map((n) => n.start()));
    return nodes;
  }

  node(name: string): ClusterNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  byTarget(target: string): ClusterNode[] {
    return [...this.nodes.values()].filter((n) => n.target === target);
  }

  /** A running node to read ring pages from. */
  anyAlive(prefer?: string): ClusterNode {
    const n = [...this.nodes.values()].find((x) => x.serving() && (!prefer || x.target === prefer)) ?? [...this.nodes.values()].find((x) => x.serving());
    if (!n) throw new Error('no node is running');
    return n;
  }

  /**
   * The ring's members as `page` shows them (JSON), read from `via` or else from the first running
   * node that serves the page (a page is served only where its ring runs).
   */
  async ring(page: RingPage, via?: ClusterNode): Promise<Shard[]> {
    const candidates = via ? [via] : [...this.nodes.values()].filter((n) => n.serving());
    for (const n of candidates) {
      const res = await fetch(n.url(page), { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
      if (res.status === 404 && !via) {
        await res.arrayBuffer();
        continue;
      }
      if (res.status !== 200) throw new Error(`${page} on ${n.name} answered ${res.status}`);
      return ((await res.json()) as { shards: Shard[] }).shards;
    }
    throw new Error(`no running node serves ${page}`);
  }

  /** Waits until `page` (read from `via`) shows exactly these members in these states. */
  async waitRing(page: RingPage, want: Record<string, string>, timeoutMs = 60_000, via?: ClusterNode): Promise<void> {
    const fmt = (s: Record<string, string>): string => Object.entries(s).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',');
    let last = '';
    await waitFor(
      async () => {
        const shards = await this.ring(page, via);
        last = fmt(Object.fromEntries(shards.map((s) => [s.id, s.state])));
        return last === fmt(want);
      },
      timeoutMs,
      () => `${page} = ${fmt(want)} (last seen ${last})`,
      200,
    );
  }

  private etcdDown = false;

  /** SIGKILLs etcd (its data stays); the processes keep their last view of the rings. */
  async killEtcd(): Promise<void> {
    this.etcdDown = true;
    await this.etcd.kill();
  }

  /** Starts etcd again on the same data dir and port. */
  async restartEtcd(): Promise<void> {
    await this.etcd.restart();
    this.etcdDown = false;
  }

  /**
   * Brings the cluster back to full strength after a case that failed midway: etcd up, stopped
   * processes continued, dead ones restarted on their WAL dirs; then waits for `ready` (e.g. every
   * ingester ACTIVE). So one failing case does not fail every later one.
   */
  async heal(ready: () => Promise<void> = async () => {}): Promise<void> {
    if (this.etcdDown) await this.restartEtcd();
    for (const n of this.nodes.values()) if (n.alive() && !n.serving()) n.resume();
    await Promise.all([...this.nodes.values()].filter((n) => !n.alive()).map((n) => n.start()));
    await ready();
  }

  /** The last lines of every node's log, for a failing test. */
  logTails(lines = 30): string {
    return [...this.nodes.values()].map((n) => `===== ${n.name} (${n.target}, ${n.alive() ? 'running' : 'stopped'}) =====\n${n.tail(lines)}`).join('\n');
  }

  /** Kills every process (SIGKILL works on stopped ones too), then etcd and the S3 server. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.nodes.values()].map((n) => n.kill9()));
    await Promise.allSettled([this.etcd.close(), this.s3.close()]);
  }
}

// ---------------------------------------------------------------------------------------------
// Traffic: the real OpenTelemetry JS SDK exporters, recording what each export acknowledged.

/** Collects ended spans instead of exporting them, so each export's batch is ours to track. */
class CollectingProcessor implements SpanProcessor {
  spans: ReadableSpan[] = [];
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.spans.push(span);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
  take(): ReadableSpan[] {
    const out = this.spans;
    this.spans = [];
    return out;
  }
}

export interface TrafficTarget {
  /** The distributor's OTLP/gRPC or OTLP/HTTP port. */
  port: number;
  protocol: 'grpc' | 'http';
}

export interface TrafficOptions {
  /** X-Scope-OrgID (only when multitenancy is on). */
  tenant?: string;
  /** Concurrent export loops per target. */
  concurrency?: number;
  tracesPerExport?: number;
  spansPerTrace?: number;
  /** Pause after each acknowledged export (steady, modest load). */
  pauseMs?: number;
  /** service.name of the spans. */
  service?: string;
}

export interface TrafficStats {
  exports: number;
  acked: number;
  failed: number;
  ackedSpans: number;
  /** The first failures' messages. */
  errors: string[];
}

/**
 * Exports traces through the SDK's OTLP exporters (gRPC to one distributor, HTTP/protobuf to
 * another, as configured) in loops; a trace counts as acknowledged only when its export answered
 * SUCCESS, and then every span ID of it is recorded.
 */
export class SdkTraffic {
  /** traceIdHex -> span IDs of acknowledged exports. */
  readonly acked = new Map<string, Set<string>>();
  /** Trace IDs in acknowledgement order. */
  readonly ackedOrder: string[] = [];
  readonly stats: TrafficStats = { exports: 0, acked: 0, failed: 0, ackedSpans: 0, errors: [] };
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly collector = new CollectingProcessor();
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  private readonly exporters: (GrpcExporter | ProtoExporter)[];
  private readonly o: Required<Omit<TrafficOptions, 'tenant'>> & { tenant: string | undefined };
  private seq = 0;

  constructor(targets: readonly TrafficTarget[], opts: TrafficOptions = {}) {
    this.o = { concurrency: 2, tracesPerExport: 4, spansPerTrace: 3, pauseMs: 20, service: 'cluster-test', ...opts, tenant: opts.tenant };
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': this.o.service, 'deployment.environment': 'cluster-test' }),
      spanProcessors: [this.collector],
    });
    this.tracer = this.provider.getTracer('andante-cluster-test', '1.0.0');
    this.exporters = targets.map((t) => {
      if (t.protocol === 'grpc') {
        const metadata = new Metadata();
        if (this.o.tenant) metadata.set('x-scope-orgid', this.o.tenant);
        return new GrpcExporter({ url: `http://127.0.0.1:${t.port}`, metadata, timeoutMillis: 15_000 });
      }
      return new ProtoExporter({ url: `http://127.0.0.1:${t.port}/v1/traces`, headers: this.o.tenant ? { 'X-Scope-OrgID': this.o.tenant } : {}, timeoutMillis: 15_000 });
    });
  }

  /** Builds `n` traces (a server root with client children) and returns their spans. */
  buildTraces(n: number): ReadableSpan[] {
    for (let t = 0; t < n; t++) {
      const seq = this.seq++;
      const root = this.tracer.startSpan(`GET /orders/${seq % 50}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'cluster.seq': seq, 'http.response.status_code': seq % 10 === 0 ? 500 : 200 } });
      const ctx = otelTrace.setSpan(otelContext.active(), root);
      for (let i = 1; i < this.o.spansPerTrace; i++) {
        const child = this.tracer.startSpan(i % 2 ? 'SELECT orders' : 'redis GET', { kind: SpanKind.CLIENT, attributes: { 'db.system': i % 2 ? 'postgresql' : 'redis', 'cluster.child': i } }, ctx);
        child.end();
      }
      if (seq % 10 === 0) root.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
      root.end();
    }
    return this.collector.take();
  }

  /** Exports a new batch of traces through exporter `i`; true when acknowledged. */
  exportOnce(i: number, traces = this.o.tracesPerExport): Promise<boolean> {
    return this.exportSpans(i, this.buildTraces(traces));
  }

  /** Exports `spans` through exporter `i`, recording them when acknowledged; true then. */
  exportSpans(i: number, spans: ReadableSpan[]): Promise<boolean> {
    this.stats.exports++;
    return new Promise((resolve) => {
      this.exporters[i]!.export(spans, (r) => {
        if (r.code === ExportResultCode.SUCCESS) {
          this.stats.acked++;
          this.stats.ackedSpans += spans.length;
          for (const s of spans) {
            const { traceId, spanId } = s.spanContext();
            let set = this.acked.get(traceId);
            if (!set) {
              set = new Set();
              this.acked.set(traceId, set);
              this.ackedOrder.push(traceId);
            }
            set.add(spanId);
          }
          resolve(true);
        } else {
          this.stats.failed++;
          if (this.stats.errors.length < 10) this.stats.errors.push(`exporter ${i}: ${r.error?.message ?? 'failed'}`);
          resolve(false);
        }
      });
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.exporters.length; i++) {
      for (let c = 0; c < this.o.concurrency; c++) {
        this.loops.push(
          (async () => {
            while (this.running) {
              await this.exportOnce(i);
              if (this.o.pauseMs > 0) await new Promise((r) => setTimeout(r, this.o.pauseMs));
            }
          })(),
        );
      }
    }
  }

  /** Resolves once `n` more exports were acknowledged (the load is flowing). */
  async waitAcked(n: number, timeoutMs = 60_000): Promise<void> {
    const target = this.stats.acked + n;
    await waitFor(() => this.stats.acked >= target, timeoutMs, () => `${n} acknowledged exports (stats ${JSON.stringify(this.stats)})`, 50);
  }

  /** Stops the loops after their export in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  async shutdown(): Promise<void> {
    await this.stop();
    await Promise.allSettled(this.exporters.map((e) => e.shutdown()));
    await this.provider.shutdown();
  }
}

// ---------------------------------------------------------------------------------------------
// Reading back

export interface ReadCheck {
  /** Traces read with every acknowledged span present. */
  complete: number;
  /** IDs answered 404. */
  notFound: string[];
  /** IDs found with acknowledged spans missing (id -> how many). */
  missingSpans: Map<string, number>;
  /** IDs whose answer held a span twice. */
  duplicated: string[];
  /** Other statuses (5xx, network errors), as `id status`. */
  errors: string[];
}

function spanIdsOfTrace(trace: Trace): string[] {
  return trace.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => bytesToHex(s.spanId))));
}

/** GET /api/v2/traces/<id> for each ID (`concurrency` at a time) and checks every acknowledged span. */
export async function checkTraces(httpPort: number, acked: ReadonlyMap<string, ReadonlySet<string>>, ids: readonly string[], opts: { tenant?: string; concurrency?: number } = {}): Promise<ReadCheck> {
  const out: ReadCheck = { complete: 0, notFound: [], missingSpans: new Map(), duplicated: [], errors: [] };
  const headers: Record<string, string> = opts.tenant ? { 'X-Scope-OrgID': opts.tenant } : {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++]!;
      try {
        const res = await fetchTraceProto(httpPort, id, 'v2', headers);
        if (res.status === 404) {
          out.notFound.push(id);
          continue;
        }
        if (res.status !== 200 || !res.trace) {
          out.errors.push(`${id} ${res.status} ${Buffer.from(res.body).toString('utf8').slice(0, 200)}`);
          continue;
        }
        const got = spanIdsOfTrace(res.trace);
        const set = new Set(got);
        if (set.size !== got.length) out.duplicated.push(id);
        const missing = [...(acked.get(id) ?? [])].filter((s) => !set.has(s)).length;
        if (missing > 0) out.missingSpans.set(id, missing);
        else out.complete++;
      } catch (err) {
        out.errors.push(`${id} ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker));
  return out;
}

/** A one-line summary of a ReadCheck for assertion messages. */
export function describeCheck(c: ReadCheck): string {
  return `complete ${c.complete}, 404 ${c.notFound.length} [${c.notFound.slice(0, 5).join(' ')}], missing spans ${c.missingSpans.size}, duplicated ${c.duplicated.length}, errors ${c.errors.length} [${c.errors.slice(0, 3).join(' | ')}]`;
}

/**
 * Reads acknowledged traces back in a loop while something else happens (a rollout): each
 * round reads the IDs acknowledged at least `settleMs` ago that it has not checked in the last
 * round, oldest first, a few at a time; every 404 and every trace missing an acknowledged span is
 * recorded with the time it was seen.
 */
export class ContinuousReader {
  readonly seen: { reads: number; notFound: { id: string; at: number }[]; incomplete: { id: string; at: number }[]; errors: string[] } = { reads: 0, notFound: [], incomplete: [], errors: [] };
  private running = false;
  private loop: Promise<void> | undefined;
  private cursor = 0;

  constructor(
    private readonly port: () => number,
    private readonly traffic: SdkTraffic,
    private readonly opts: { tenant?: string; batch?: number } = {},
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const order = this.traffic.ackedOrder;
        if (order.length === 0) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        // Round-robin over everything acknowledged so far: old IDs are re-read throughout.
        const batch = this.opts.batch ?? 8;
        const ids: string[] = [];
        for (let i = 0; i < batch; i++) ids.push(order[(this.cursor++) % order.length]!);
        const c = await checkTraces(this.port(), this.traffic.acked, ids, { concurrency: 4, ...(this.opts.tenant ? { tenant: this.opts.tenant } : {}) });
        const now = Date.now();
        this.seen.reads += ids.length;
        for (const id of c.notFound) this.seen.notFound.push({ id, at: now });
        for (const id of c.missingSpans.keys()) this.seen.incomplete.push({ id, at: now });
        this.seen.errors.push(...c.errors);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

// ---------------------------------------------------------------------------------------------
// An S3 tap: a pass-through HTTP proxy in front of the S3 server for one process, so a test can see
// (and act on) that process's own requests, e.g. kill a compactor when it starts writing an output.

export interface S3Tap {
  readonly port: number;
  /** The process's requests so far: `METHOD path`. */
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 and forwards every request unchanged to `upstreamPort`. `onRequest` runs
 * before a request is forwarded; when it resolves `false` the request is dropped (its socket
 * destroyed), as a process killed before its write reached the server.
 */
export async function startS3Tap(upstreamPort: number, onRequest: (method: string, path: string) => boolean | Promise<boolean> = () => true): Promise<S3Tap> {
  const requests: string[] = [];
  const server: Server = createHttpServer((req: IncomingMessage, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push(`${req.method} ${path}`);
    void (async () => {
      if (!(await onRequest(req.method ?? 'GET', path))) {
        req.socket.destroy();
        return;
      }
      const up = httpRequest({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', () => req.socket.destroy());
      req.pipe(up);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
