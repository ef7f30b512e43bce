// Prometheus remote_write 1.0: WriteRequest protobuf, snappy block compression, POST to each
// configured endpoint. One queue per endpoint, bounded in samples (queue_config.capacity x
// max_shards): beyond it the oldest requests are dropped and counted. 5xx, 429 and network errors
// are retried with exponential backoff; other 4xx are dropped and logged with the response body.
// Nothing here is awaited by ingestion: enqueue() returns at once.

import { mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import protobuf from 'protobufjs/minimal.js';
import snappy from 'snappyjs';
import { RateLimitedLog, parseDuration, type Logger } from '@andante/model';
import { GeneratorConfigError, type RemoteWriteConfig } from './config.js';
import type { TimeSeries } from './registry.js';
import { compileRelabel, type Relabeler } from './relabel.js';

/** prometheus.WriteRequest { repeated TimeSeries timeseries = 1; } */
export function encodeWriteRequest(series: readonly TimeSeries[], withExemplars: boolean, traceIdLabel = 'traceID'): Uint8Array {
  const w = protobuf.Writer.create();
  for (const ts of series) {
    w.uint32((1 << 3) | 2).fork();
    for (const [name, value] of ts.labels) writeLabel(w, 1, name, value);
    for (const s of ts.samples) {
      // Sample { double value = 1; int64 timestamp = 2; }
      w.uint32((2 << 3) | 2).fork();
      w.uint32((1 << 3) | 1).double(s.value);
      w.uint32(2 << 3).int64(s.timestampMs);
      w.ldelim();
    }
    if (withExemplars) {
      for (const ex of ts.exemplars) {
        // Exemplar { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
        w.uint32((3 << 3) | 2).fork();
        writeLabel(w, 1, traceIdLabel, ex.traceId);
        w.uint32((2 << 3) | 1).double(ex.value);
        w.uint32(3 << 3).int64(ex.timestampMs);
        w.ldelim();
      }
    }
    w.ldelim();
  }
  return w.finish();
}

function writeLabel(w: protobuf.Writer, field: number, name: string, value: string): void {
  // Label { string name = 1; string value = 2; }
  w.uint32((field << 3) | 2).fork();
  w.uint32((1 << 3) | 2).string(name);
  w.uint32((2 << 3) | 2).string(value);
  w.ldelim();
}

/** Decodes a WriteRequest (the receiving side; tests and tools read what was sent with it). */
export function decodeWriteRequest(buf: Uint8Array, traceIdLabel = 'traceID'): TimeSeries[] {
  const r = protobuf.Reader.create(buf);
  const out: TimeSeries[] = [];
  const readLabel = (end: number): [string, string] => {
    let name = '';
    let value = '';
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag >>> 3 === 1) name = r.string();
      else if (tag >>> 3 === 2) value = r.string();
      else r.skipType(tag & 7);
    }
    return [name, value];
  };
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skipType(tag & 7);
      continue;
    }
    const end = r.uint32() + r.pos;
    const ts: TimeSeries = { labels: [], samples: [], exemplars: [] };
    while (r.pos < end) {
      const t = r.uint32();
      const field = t >>> 3;
      if (field === 1) ts.labels.push(readLabel(r.uint32() + r.pos));
      else if (field === 2 || field === 3) {
        const e = r.uint32() + r.pos;
        let value = 0;
        let timestampMs = 0;
        let traceId = '';
        while (r.pos < e) {
          const ft = r.uint32();
          const f = ft >>> 3;
          if (field === 2 && f === 1) value = r.double();
          else if (field === 2 && f === 2) timestampMs = Number(r.int64());
          else if (field === 3 && f === 1) {
            const [name, v] = readLabel(r.uint32() + r.pos);
            if (name === traceIdLabel) traceId = v;
          } else if (field === 3 && f === 2) value = r.double();
          else if (field === 3 && f === 3) timestampMs = Number(r.int64());
          else r.skipType(ft & 7);
        }
        if (field === 2) ts.samples.push({ value, timestampMs });
        else ts.exemplars.push({ traceId, value, timestampMs });
      } else r.skipType(t & 7);
    }
    out.push(ts);
  }
  return out;
}

export function snappyUncompress(data: Uint8Array): Uint8Array {
  return snappy.uncompress(data);
}

function tlsOptions(cfg: RemoteWriteConfig): RequestOptions {
  const t = cfg.tls_config;
  const read = (file: string, what: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new GeneratorConfigError(`remote_write ${cfg.name}: cannot read tls_config.${what} ${file}: ${(err as Error).message}`);
    }
  };
  const out: RequestOptions = { rejectUnauthorized: !t.insecure_skip_verify };
  const ca = t.ca || (t.ca_file && read(t.ca_file, 'ca_file'));
  const cert = t.cert || (t.cert_file && read(t.cert_file, 'cert_file'));
  const key = t.key || (t.key_file && read(t.key_file, 'key_file'));
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  if (t.server_name) out.servername = t.server_name;
  return out;
}

export function snappyCompress(data: Uint8Array): Uint8Array {
  return snappy.compress(data);
}

export interface RemoteWriteMetrics {
  samplesSent(remote: string, tenant: string, n: number): void;
  exemplarsSent(remote: string, tenant: string, n: number): void;
  samplesDropped(remote: string, tenant: string, reason: 'queue_full' | 'http_4xx' | 'shutdown', n: number): void;
  retries(remote: string, tenant: string): void;
  pendingSamples(remote: string, n: number): void;
}

/** One request, encoded and compressed when queued (so retries do not redo it). */
interface Pending {
  tenant: string;
  body: Uint8Array;
  samples: number;
  exemplars: number;
  /** Its file in the WAL directory, when there is one. */
  file?: string;
}

export interface RemoteWriteQueueOptions {
  cfg: RemoteWriteConfig;
  addOrgIdHeader: boolean;
  metrics: RemoteWriteMetrics;
  logger: Logger;
  traceIdLabel?: string;
  /** With storage.path: every queued request is a file here until delivered or dropped, and a restart resends them. */
  walDir?: string;
}

/** One remote_write endpoint's queue and its single sender loop. */
/** Each series with its relabelled labels; those the rules drop are left out. */
function relabelSeries(series: readonly TimeSeries[], relabel: Relabeler): TimeSeries[] {
  const out: TimeSeries[] = [];
  for (const s of series) {
    const labels = relabel(s.labels);
    if (labels) out.push({ ...s, labels });
  }
  return out;
}

export class RemoteWriteQueue {
  private readonly queue: Pending[] = [];
  private queuedSamples = 0;
  private readonly maxSamples: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private sending: Promise<void> | undefined;
  /** Backoff waits, ended early by stop(). */
  private readonly sleepers = new Set<() => void>();
  private abort = new AbortController();
  private stopped = false;
  /** One line per kind (retry, refusal) per 10 s at most: a receiver that is down or refusing every request would flood the log. */
  private readonly limitedLog = new RateLimitedLog();

  private readonly url: URL;
  /** TLS options for https endpoints (files read once, at start). */
  private readonly tls: RequestOptions;

  private walSeq = 0;
  /** write_relabel_configs, or null when there are none. */
  private readonly relabel: Relabeler | null;

  constructor(private readonly opts: RemoteWriteQueueOptions) {
    this.url = new URL(opts.cfg.url);
    this.tls = tlsOptions(opts.cfg);
    this.relabel = compileRelabel(opts.cfg.write_relabel_configs);
    const q = opts.cfg.queue_config;
    this.maxSamples = q.capacity * q.max_shards;
    this.minBackoffMs = parseDuration(q.min_backoff);
    this.maxBackoffMs = parseDuration(q.max_backoff);
    this.timeoutMs = parseDuration(opts.cfg.remote_timeout);
    if (opts.walDir) this.replayWal(opts.walDir);
  }

  /** Requests a previous run left queued go first, in their order. */
  private replayWal(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.rwreq')).sort()) {
      const file = join(dir, name);
      this.walSeq = Math.max(this.walSeq, Number.parseInt(name, 10) || 0);
      try {
        const buf = readFileSync(file);
        const headerLen = buf.readUInt32BE(0);
        const header = JSON.parse(buf.subarray(4, 4 + headerLen).toString('utf8')) as { tenant: string; samples: number; exemplars: number };
        this.queue.push({ tenant: header.tenant, samples: header.samples, exemplars: header.exemplars, body: buf.subarray(4 + headerLen), file });
        this.queuedSamples += header.samples;
      } catch (err) {
        this.opts.logger.warn('unreadable remote_write WAL file; removed', { remote: this.name, file, err });
        this.removeFile(file);
      }
    }
    if (this.queue.length > 0) {
      this.opts.logger.info('resending remote_write requests left queued by the previous run', { remote: this.name, requests: this.queue.length, samples: this.queuedSamples });
      this.dropOverBound();
      this.opts.metrics.pendingSamples(this.name, this.queuedSamples);
      this.start();
    }
  }

  private persist(p: Pending): void {
    const dir = this.opts.walDir;
    if (!dir) return;
    const header = Buffer.from(JSON.stringify({ tenant: p.tenant, samples: p.samples, exemplars: p.exemplars }));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(header.byteLength);
    const file = join(dir, `${String(++this.walSeq).padStart(16, '0')}.rwreq`);
    try {
      writeFileSync(file, Buffer.concat([len, header, p.body]));
      p.file = file;
    } catch (err) {
      // The request still goes out from memory; only a restart would lose it.
      this.opts.logger.warn('cannot write the remote_write WAL', { remote: this.name, file, err });
    }
  }

  private removeFile(file: string | undefined): void {
    if (!file) return;
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
  }

  private dropOverBound(): void {
    while (this.queuedSamples > this.maxSamples && this.queue.length > 0) {
      const dropped = this.queue.shift()!;
      this.queuedSamples -= dropped.samples;
      this.removeFile(dropped.file);
      this.opts.metrics.samplesDropped(this.name, dropped.tenant, 'queue_full', dropped.samples);
    }
  }

  get name(): string {
    return this.opts.cfg.name;
  }
  get pendingSamples(): number {
    return this.queuedSamples;
  }

  /** Queues series for `tenant`, cut into requests of at most max_samples_per_send samples. */
  enqueue(tenant: string, all: readonly TimeSeries[]): void {
    const series = this.relabel ? relabelSeries(all, this.relabel) : all;
    if (this.stopped || series.length === 0) return;
    const per = this.opts.cfg.queue_config.max_samples_per_send;
    for (let i = 0; i < series.length; ) {
      const batch: TimeSeries[] = [];
      let samples = 0;
      while (i < series.length && (samples === 0 || samples + series[i]!.samples.length <= per)) {
        samples += series[i]!.samples.length;
        batch.push(series[i++]!);
      }
      const cfg = this.opts.cfg;
      const pending: Pending = {
        tenant,
        body: snappyCompress(encodeWriteRequest(batch, cfg.send_exemplars, this.opts.traceIdLabel)),
        samples,
        exemplars: cfg.send_exemplars ? batch.reduce((n, s) => n + s.exemplars.length, 0) : 0,
      };
      this.persist(pending);
      this.queue.push(pending);
      this.queuedSamples += samples;
    }
    // Oldest first out when over the bound; the request being sent is dropped too (its retry stops).
    this.dropOverBound();
    this.opts.metrics.pendingSamples(this.name, this.queuedSamples);
    this.start();
  }

  private start(): void {
    if (this.sending) return;
    this.sending = this.run().finally(() => {
      this.sending = undefined;
      if (this.queue.length > 0 && !this.stopped) this.start();
    });
  }

  private async run(): Promise<void> {
    let backoff = this.minBackoffMs;
    while (!this.stopped && this.queue.length > 0) {
      const head = this.queue[0]!;
      const outcome = await this.send(head);
      if (outcome === 'stopped') return; // aborted by stop(): neither delivered nor dropped
      if (this.queue[0] !== head) {
        backoff = this.minBackoffMs; // dropped while in flight
        continue;
      }
      if (outcome === 'retry') {
        this.opts.metrics.retries(this.name, head.tenant);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.maxBackoffMs);
        continue;
      }
      this.queue.shift();
      this.removeFile(head.file);
      this.queuedSamples -= head.samples;
      this.opts.metrics.pendingSamples(this.name, this.queuedSamples);
      backoff = this.minBackoffMs;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  private async send(p: Pending): Promise<'ok' | 'retry' | 'dropped' | 'stopped'> {
    const cfg = this.opts.cfg;
    const body = p.body;
    const headers: Record<string, string> = {
      ...cfg.headers,
      'Content-Encoding': 'snappy',
      'Content-Type': 'application/x-protobuf',
      'User-Agent': 'andante-metrics-generator',
      'X-Prometheus-Remote-Write-Version': '0.1.0',
    };
    if (cfg.basic_auth) headers['Authorization'] = `Basic ${Buffer.from(`${cfg.basic_auth.username}:${cfg.basic_auth.password}`).toString('base64')}`;
    if (cfg.authorization) headers['Authorization'] = `${cfg.authorization.type || 'Bearer'} ${cfg.authorization.credentials}`;
    if (this.opts.addOrgIdHeader) headers['X-Scope-OrgID'] = p.tenant;
    let res: { status: number; body: string };
    try {
      res = await this.post(body, headers);
    } catch (err) {
      if (this.stopped) return 'stopped';
      this.logLimited('retry', 'warn', 'remote_write failed; will retry', { tenant: p.tenant, err: (err as Error).message });
      return 'retry';
    }
    const text = res.body;
    if (res.status >= 200 && res.status < 300) {
      this.opts.metrics.samplesSent(this.name, p.tenant, p.samples);
      if (p.exemplars > 0) this.opts.metrics.exemplarsSent(this.name, p.tenant, p.exemplars);
      return 'ok';
    }
    if (res.status >= 500 || (res.status === 429 && cfg.queue_config.retry_on_http_429)) {
      this.logLimited('retry', 'warn', 'remote_write refused; will retry', { tenant: p.tenant, status: res.status, body: text.slice(0, 512) });
      return 'retry';
    }
    this.logLimited('refusal', 'error', 'remote_write refused; dropping the request (not retried)', { tenant: p.tenant, status: res.status, body: text.slice(0, 512) });
    this.opts.metrics.samplesDropped(this.name, p.tenant, 'http_4xx', p.samples);
    return 'dropped';
  }

  /** POSTs with node:http(s) (fetch cannot take TLS options); resolves with the status and up to 4 KiB of body. */
  private post(body: Uint8Array, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const https = this.url.protocol === 'https:';
      const req = (https ? httpsRequest : httpRequest)(
        this.url,
        { method: 'POST', headers: { ...headers, 'Content-Length': String(body.byteLength) }, timeout: this.timeoutMs, signal: this.abort.signal, ...(https ? this.tls : {}) },
        (res: IncomingMessage) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            if (text.length < 4096) text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within remote_timeout ${this.opts.cfg.remote_timeout}`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  private logLimited(kind: 'retry' | 'refusal', level: 'warn' | 'error', msg: string, fields: Record<string, unknown>): void {
    this.limitedLog.log(kind, (suppressed) => this.opts.logger[level](msg, { remote: this.name, ...fields, suppressed_since_last: suppressed }));
  }

  /** Tries to send what is queued for up to `deadlineMs`, then drops the rest (counted). */
  async stop(deadlineMs: number): Promise<void> {
    if (this.sending) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.sending, new Promise<void>((r) => (timer = setTimeout(r, deadlineMs)))]);
      clearTimeout(timer);
    }
    this.stopped = true;
    this.abort.abort();
    for (const wake of [...this.sleepers]) wake();
    await this.sending?.catch(() => undefined);
    // With a WAL the queue waits on disk for the next start; without one it is lost (counted).
    if (!this.opts.walDir) for (const p of this.queue) this.opts.metrics.samplesDropped(this.name, p.tenant, 'shutdown', p.samples);
    this.queue.length = 0;
    this.queuedSamples = 0;
    this.opts.metrics.pendingSamples(this.name, 0);
  }
}
