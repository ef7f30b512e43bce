// Helpers for cross-component and multi-process tests: start Andante as a child process (the
// built binary) or in-process, write configs, talk OTLP (HTTP and gRPC) and read traces back.
//
// Every test gets its own temp dir and port 0 everywhere, so test files can run in parallel.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { Andante, applyYaml, defaultConfig } from '@andante/server';
import { decodeTrace, type Trace } from '@andante/model';

/** /work/main (two levels above test/src or test/dist). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN_PATH = join(REPO_ROOT, 'packages', 'server', 'dist', 'bin.js');
export const MODEL_DIST = join(REPO_ROOT, 'packages', 'model', 'dist', 'index.js');
export const TEST_PACKAGE_JSON = join(REPO_ROOT, 'test', 'package.json');

export interface Ports {
  http: number;
  otlpGrpc: number | null;
  otlpHttp: number | null;
  /** Set when distributor.receivers.zipkin is configured (absent from older log lines). */
  zipkin?: number | null;
}

// ---------------------------------------------------------------------------------------------
// Temp dirs and generic helpers

const tempDirs = new Set<string>();

/** A fresh directory under the OS temp dir; removed by removeTempDirs(). */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `andante-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

export function removeTempDirs(): void {
  for (const dir of [...tempDirs]) removeTempDir(dir);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it returns a truthy value (which is returned) or `timeoutMs` passes. */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  timeoutMs = 10_000,
  what: string | (() => string) = 'condition',
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}${lastErr ? `: last error ${(lastErr as Error).message}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

/** Every file (not directory) under `dir`, as paths relative to it. */
export function listFilesRecursive(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = join(dir, rel);
    if (!existsSync(abs)) return;
    for (const name of readdirSync(abs)) {
      const r = rel ? join(rel, name) : name;
      if (statSync(join(dir, r)).isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** Every entry (files and directories) under `dir`, relative, sorted. */
export function listEntriesRecursive(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = rel ? join(dir, rel) : dir;
    if (!existsSync(abs)) return;
    for (const name of readdirSync(abs)) {
      const r = rel ? join(rel, name) : name;
      out.push(r);
      if (statSync(join(dir, r)).isDirectory()) walk(r);
    }
  };
  walk('');
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// Configuration

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

function deepMerge(dst: Tree, src: Tree): Tree {
  for (const [k, v] of Object.entries(src)) {
    if (isTree(v) && isTree(dst[k])) deepMerge(dst[k] as Tree, v);
    else dst[k] = v;
  }
  return dst;
}

/** The base config of a test instance: every port 0 on 127.0.0.1, storage under `dir`. */
export function baseConfig(dir: string): Tree {
  return {
    multitenancy_enabled: false,
    server: { http_listen_address: '127.0.0.1', http_listen_port: 0, log_level: 'info' },
    distributor: {
      receivers: {
        otlp: {
          protocols: {
            grpc: { endpoint: '127.0.0.1:0' },
            http: { endpoint: '127.0.0.1:0' },
          },
        },
      },
    },
    ingester: { flush_all_on_shutdown: true },
    storage: {
      trace: {
        backend: 'local',
        local: { path: join(dir, 'traces') },
        wal: { path: join(dir, 'wal') },
      },
    },
  };
}

/**
 * The YAML text of a test config: baseConfig(dir) deep-merged with `extra` (same Tempo key
 * names). JSON is valid YAML, so the text is JSON.
 */
export function makeConfigYaml(dir: string, extra: Tree = {}): string {
  return JSON.stringify(deepMerge(baseConfig(dir), structuredClone(extra)), null, 2) + '\n';
}

// ---------------------------------------------------------------------------------------------
// The binary as a child process

export interface AndanteProcess {
  readonly child: ChildProcess;
  readonly ports: Ports;
  readonly configPath: string;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** True until the process has exited. */
  alive(): boolean;
  /** Resolves with the exit code and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, then waits for the exit. */
  kill9(): Promise<void>;
  /** SIGTERM, then waits for the exit (SIGKILL after timeoutMs); resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

export interface StartProcessOptions {
  /** Extra environment variables for the child (undefined removes one), e.g. AWS_ACCESS_KEY_ID. */
  env?: Record<string, string | undefined>;
  /**
   * Run bin.js with exactly these arguments instead of `-config.file=<written config>`: they name
   * their own config file, and `yamlOverrides` is not written (e.g. a Helm-rendered pod's args).
   */
  args?: string[];
  /** The child's working directory (default `dir`). */
  cwd?: string;
}

/** The child's environment: this process's, NODE_ENV=test, then `extra` (undefined deletes). */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test' };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

const liveProcesses = new Set<AndanteProcess>();
let configCounter = 0;

/**
 * Writes a config into `dir` and starts `node packages/server/dist/bin.js -config.file=...`;
 * resolves once it logged "andante started" (with the bound ports).
 */
export async function startProcess(
  dir: string,
  yamlOverrides: Tree = {},
  timeoutMs = 30_000,
  opts: StartProcessOptions = {},
): Promise<AndanteProcess> {
  if (!existsSync(BIN_PATH)) throw new Error(`${BIN_PATH} does not exist: run \`pnpm build\` first`);
  mkdirSync(dir, { recursive: true });
  let configPath: string;
  if (opts.args) {
    configPath = opts.args.find((a) => /^--?config\.file=/.test(a))?.replace(/^--?config\.file=/, '') ?? '';
  } else {
    configPath = join(dir, `andante-${process.pid}-${++configCounter}.yaml`);
    writeFileSync(configPath, makeConfigYaml(dir, yamlOverrides));
  }
  const child = spawn(process.execPath, [BIN_PATH, ...(opts.args ?? [`-config.file=${configPath}`])], {
    cwd: opts.cwd ?? dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv(opts.env),
  });
  let stderr = '';
  let stdout = '';
  let exitedFlag = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      res({ code, signal });
    });
  });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));

  const ports = await new Promise<Ports>((resolvePorts, reject) => {
    let lineBuf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`andante did not log "andante started" within ${timeoutMs} ms; stderr:\n${stderr}\nstdout:\n${stdout}`));
    }, timeoutMs);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      lineBuf += d;
      let nl: number;
      while ((nl = lineBuf.indexOf('\n')) >= 0) {
        const line = lineBuf.slice(0, nl);
        lineBuf = lineBuf.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as { msg?: string; ports?: Ports };
          if (entry.msg === 'andante started' && entry.ports) {
            clearTimeout(timer);
            resolvePorts(entry.ports);
          }
        } catch {
          // not a JSON log line
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`andante exited (code ${code}, signal ${signal}) before it started; stderr:\n${stderr}\nstdout:\n${stdout}`));
    });
  });

  const proc: AndanteProcess = {
    child,
    ports,
    configPath,
    stderr: () => stderr,
    alive: () => !exitedFlag,
    exited,
    async kill9() {
      if (!exitedFlag) child.kill('SIGKILL');
      await exited;
      liveProcesses.delete(proc);
    },
    async stop(stopTimeoutMs = 30_000) {
      if (!exitedFlag) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      const { code } = await exited;
      clearTimeout(timer);
      liveProcesses.delete(proc);
      return code;
    },
  };
  liveProcesses.add(proc);
  return proc;
}

/** Kills every child process this module started that is still running. */
export async function killAllProcesses(): Promise<void> {
  await Promise.all([...liveProcesses].map((p) => p.kill9()));
}

// ---------------------------------------------------------------------------------------------
// In-process

export interface InProcessAndante {
  readonly app: Andante;
  readonly ports: Ports;
  stop(): Promise<void>;
}

const liveApps = new Set<InProcessAndante>();

/** Starts Andante in this process with the same config a child process would get. */
export async function startInProcess(dir: string, extra: Tree = {}): Promise<InProcessAndante> {
  mkdirSync(dir, { recursive: true });
  const cfg = defaultConfig();
  applyYaml(cfg, makeConfigYaml(dir, deepMerge({ server: { log_level: 'warn' } }, structuredClone(extra))));
  const app = new Andante(cfg);
  const ports = await app.start();
  let stopped: Promise<void> | undefined;
  const handle: InProcessAndante = {
    app,
    ports,
    stop() {
      stopped ??= app.stop().finally(() => liveApps.delete(handle));
      return stopped;
    },
  };
  liveApps.add(handle);
  return handle;
}

export async function stopAllInProcess(): Promise<void> {
  await Promise.allSettled([...liveApps].map((a) => a.stop()));
}

// ---------------------------------------------------------------------------------------------
// Minimal protobuf reading (responses the tests inspect)

export interface ProtoField {
  field: number;
  wireType: number;
  /** varint / fixed values */
  int?: bigint;
  /** length-delimited payload */
  bytes?: Uint8Array;
}

export function readProtoFields(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const tag = Number(varint());
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (wireType === 0) out.push({ field, wireType, int: varint() });
    else if (wireType === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new Error('truncated length-delimited field');
      out.push({ field, wireType, bytes: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wireType === 1) {
      out.push({ field, wireType, int: Buffer.from(buf.subarray(pos, pos + 8)).readBigUInt64LE() });
      pos += 8;
    } else if (wireType === 5) {
      out.push({ field, wireType, int: BigInt(Buffer.from(buf.subarray(pos, pos + 4)).readUInt32LE()) });
      pos += 4;
    } else throw new Error(`unsupported wire type ${wireType}`);
  }
  return out;
}

/** ExportTraceServiceResponse → its partial_success (zeros when absent). */
export function decodeExportResponse(buf: Uint8Array): { rejectedSpans: number; errorMessage: string; hasPartialSuccess: boolean } {
  let rejectedSpans = 0;
  let errorMessage = '';
  let hasPartialSuccess = false;
  for (const f of readProtoFields(buf)) {
    if (f.field === 1 && f.bytes) {
      hasPartialSuccess = true;
      for (const g of readProtoFields(f.bytes)) {
        if (g.field === 1 && g.int !== undefined) rejectedSpans = Number(BigInt.asIntN(64, g.int));
        if (g.field === 2 && g.bytes) errorMessage = Buffer.from(g.bytes).toString('utf8');
      }
    }
  }
  return { rejectedSpans, errorMessage, hasPartialSuccess };
}

/** google.rpc.Status (OTLP/HTTP protobuf error bodies). */
export function decodeRpcStatus(buf: Uint8Array): { code: number; message: string } {
  let code = 0;
  let message = '';
  for (const f of readProtoFields(buf)) {
    if (f.field === 1 && f.int !== undefined) code = Number(f.int);
    if (f.field === 2 && f.bytes) message = Buffer.from(f.bytes).toString('utf8');
  }
  return { code, message };
}

// ---------------------------------------------------------------------------------------------
// Query API

export interface FetchTraceResult {
  status: number;
  /** The decoded trace when status is 200. */
  trace: Trace | null;
  /** TraceByIDResponse.status / message (v2 only). */
  partialStatus?: number;
  message?: string;
  /** The raw body (text for non-200 answers). */
  body: Uint8Array;
}

/**
 * GET /api/traces/<id> (v1) or /api/v2/traces/<id> (v2) with `Accept: application/protobuf`,
 * decoded with @andante/model's decodeTrace (v2: TraceByIDResponse field 1).
 */
export async function fetchTraceProto(
  httpPort: number,
  traceIdHex: string,
  version: 'v1' | 'v2' = 'v2',
  headers: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<FetchTraceResult> {
  const path = version === 'v1' ? `/api/traces/${traceIdHex}` : `/api/v2/traces/${traceIdHex}`;
  // A read that hangs fails with the trace it was for, instead of hanging the test until its timeout.
  const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, { headers: { Accept: 'application/protobuf', ...headers }, signal: AbortSignal.timeout(timeoutMs) });
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) return { status: res.status, trace: null, body };
  if (version === 'v1') return { status: 200, trace: decodeTrace(body), body };
  let traceBytes: Uint8Array = new Uint8Array(0);
  let partialStatus: number | undefined;
  let message: string | undefined;
  for (const f of readProtoFields(body)) {
    if (f.field === 1 && f.bytes) traceBytes = f.bytes;
    if (f.field === 3 && f.int !== undefined) partialStatus = Number(f.int);
    if (f.field === 4 && f.bytes) message = Buffer.from(f.bytes).toString('utf8');
  }
  const out: FetchTraceResult = { status: 200, trace: decodeTrace(traceBytes), body };
  if (partialStatus !== undefined) out.partialStatus = partialStatus;
  if (message !== undefined) out.message = message;
  return out;
}

/** GET /api/traces/<id> as Tempo's JSON (no Accept header). */
export async function fetchTraceJson(httpPort: number, traceIdHex: string, version: 'v1' | 'v2' = 'v1', headers: Record<string, string> = {}): Promise<{ status: number; json: unknown; text: string }> {
  const path = version === 'v1' ? `/api/traces/${traceIdHex}` : `/api/v2/traces/${traceIdHex}`;
  const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, { headers });
  const text = await res.text();
  let json: unknown = undefined;
  if (res.status === 200) json = JSON.parse(text);
  return { status: res.status, json, text };
}

/** POST /flush: cuts and writes every block. */
export async function flush(httpPort: number): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/flush`, { method: 'POST' });
  if (res.status >= 300) throw new Error(`POST /flush answered ${res.status}: ${await res.text()}`);
}

export async function getReady(httpPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/ready`);
  await res.arrayBuffer();
  return res.status;
}

/**
 * Sums the samples of a Prometheus metric from /metrics whose labels include `labels`
 * (0 when the series does not exist yet).
 */
export async function getMetric(httpPort: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return sumMetric(text, name, labels);
}

export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const lm of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) got[lm[1]!] = lm[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// OTLP clients

export interface OtlpHttpAnswer {
  status: number;
  headers: Headers;
  body: Uint8Array;
  text(): string;
}

/** POST /v1/traces with raw bytes. */
export async function postOtlpHttp(
  port: number,
  body: Uint8Array | string,
  opts: { contentType?: string; headers?: Record<string, string>; gzip?: boolean } = {},
): Promise<OtlpHttpAnswer> {
  let data: Uint8Array = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.contentType !== undefined) headers['Content-Type'] = opts.contentType;
  else headers['Content-Type'] = typeof body === 'string' ? 'application/json' : 'application/x-protobuf';
  if (opts.gzip) {
    data = gzipSync(data);
    headers['Content-Encoding'] = 'gzip';
  }
  const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', body: data, headers });
  const buf = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body: buf, text: () => Buffer.from(buf).toString('utf8') };
}

const identity = (b: Buffer): Buffer => b;
const TraceServiceClient = grpc.makeGenericClientConstructor(
  {
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  'TraceService',
);

export type GrpcAnswer =
  | { ok: true; response: Uint8Array }
  | { ok: false; code: number; details: string; metadata: grpc.Metadata };

/** A raw OTLP/gRPC TraceService client (bytes in, bytes out). */
export class OtlpGrpcClient {
  private readonly client: grpc.Client;

  constructor(port: number, opts: { gzip?: boolean } = {}) {
    const options: grpc.ChannelOptions = {};
    if (opts.gzip) options['grpc.default_compression_algorithm'] = 2; // gzip
    this.client = new TraceServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
  }

  export(body: Uint8Array, metadata: Record<string, string> = {}, deadlineMs = 10_000): Promise<GrpcAnswer> {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    return new Promise((resolveAnswer) => {
      (this.client as unknown as {
        Export: (req: Buffer, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Buffer) => void) => void;
      }).Export(Buffer.from(body), md, { deadline: Date.now() + deadlineMs }, (err, res) => {
        if (err) resolveAnswer({ ok: false, code: err.code, details: err.details, metadata: err.metadata });
        else resolveAnswer({ ok: true, response: new Uint8Array(res ?? Buffer.alloc(0)) });
      });
    });
  }

  close(): void {
    this.client.close();
  }
}

export const GRPC_STATUS = grpc.status;

// ---------------------------------------------------------------------------------------------
// S3 (s3rver) helpers

/**
 * Every object key in `bucket` of an s3rver started with `directory` (its filesystem store keeps
 * `<directory>/<bucket>/<key>._S3rver_object`), read from disk so nothing is filtered, sorted.
 */
export function s3rverObjectKeys(directory: string, bucket: string): string[] {
  const suffix = '._S3rver_object';
  return listFilesRecursive(join(directory, bucket))
    .filter((f) => f.endsWith(suffix))
    .map((f) => f.slice(0, -suffix.length))
    .sort();
}

/**
 * The `storage.trace` settings of a child process on an s3rver at `port`. No keys in the config:
 * the child finds them in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (see s3rverEnv), the SDK's
 * default credential chain.
 */
export function s3StorageConfig(port: number, bucket: string, prefix: string, s3Extra: Tree = {}): Tree {
  return {
    storage: {
      trace: {
        backend: 's3',
        s3: { bucket, endpoint: `127.0.0.1:${port}`, region: 'us-east-1', insecure: true, forcepathstyle: true, prefix, ...s3Extra },
      },
    },
  };
}

/** An S3 test server's credentials (s3rver's by default) as environment variables, other AWS settings removed. */
export function s3rverEnv(accessKey = 'S3RVER', secretKey = 'S3RVER'): Record<string, string | undefined> {
  return {
    AWS_ACCESS_KEY_ID: accessKey,
    AWS_SECRET_ACCESS_KEY: secretKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/** Deep-merges config trees (later wins), for composing test configs. */
export function mergeConfig(...trees: Tree[]): Tree {
  const out: Tree = {};
  for (const t of trees) deepMerge(out, structuredClone(t));
  return out;
}
