// A real Prometheus (Debian's `prometheus`, installed by .ci/run) started for a test on
// 127.0.0.1 with the remote-write receiver and exemplar storage, and a small recording
// remote_write receiver for what Prometheus does not keep (request headers, refusals).

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { decodeWriteRequest, snappyUncompress, type TimeSeries } from '@andante/generator';
import { freeTcpPort } from './ports.js';
import { waitFor } from './harness.js';


export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusServer {
  readonly url: string;
  readonly writeUrl: string;
  query(promql: string): Promise<PromSample[]>;
  queryExemplars(promql: string, startSec: number, endSec: number): Promise<{ seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string>; value: string; timestamp: number }[] }[]>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Scrapes `targets` (host:port, /metrics) every second as job `job` from now on (config reloaded with SIGHUP); resolves once every target is up. */
  scrape(job: string, targets: string[]): Promise<void>;
  logs(): string;
}

export async function startPrometheus(dir: string): Promise<PrometheusServer> {
  const port = await freeTcpPort();
  const configFile = join(dir, 'prometheus.yml');
  // No scrape jobs until scrape() adds one: the generator's series arrive by remote_write.
  const baseConfig = 'global:\n  scrape_interval: 1h\nstorage:\n  exemplars:\n    max_exemplars: 100000\n';
  writeFileSync(configFile, baseConfig);
  const url = `http://127.0.0.1:${port}`;
  let logs = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const proc = spawn(
      'prometheus',
      [
        '--web.enable-remote-write-receiver',
        '--enable-feature=exemplar-storage',
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--config.file=${configFile}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    exited = new Promise<void>((r) => proc.once('exit', () => r()));
    const spawnError = new Promise<never>((_, reject) => proc.once('error', (err) => reject(new Error(`cannot start prometheus (installed by .ci/run: apt-get install prometheus): ${err.message}`))));
    proc.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
    await Promise.race([
      spawnError,
      waitFor(async () => (await fetch(`${url}/-/ready`)).status === 200, 30_000, () => `prometheus ready; logs:\n${logs}`, 100),
    ]);
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  await launch();

  const api = async (path: string): Promise<unknown> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    async query(promql) {
      const data = (await api(`/api/v1/query?query=${encodeURIComponent(promql)}`)) as { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async queryExemplars(promql, startSec, endSec) {
      return (await api(`/api/v1/query_exemplars?query=${encodeURIComponent(promql)}&start=${startSec}&end=${endSec}`)) as never;
    },
    stop,
    async scrape(job, targets) {
      writeFileSync(configFile, `${baseConfig}scrape_configs:\n  - job_name: ${job}\n    scrape_interval: 1s\n    static_configs:\n      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]\n`);
      child!.kill('SIGHUP');
      await waitFor(
        async () => {
          const data = (await api('/api/v1/targets?state=active')) as { activeTargets: { labels: Record<string, string>; health: string }[] };
          const up = data.activeTargets.filter((t) => t.labels['job'] === job && t.health === 'up');
          return up.length === targets.length;
        },
        30_000,
        () => `scrape targets up; logs:\n${logs}`,
        200,
      );
    },
    /** Same port, same TSDB: what it had is kept. */
    async restart() {
      await stop();
      await launch();
    },
    logs: () => logs,
  };
}

export interface RecordedWrite {
  headers: IncomingHttpHeaders;
  series: TimeSeries[];
}

/** A remote_write receiver that records each request; answers `status` (204 by default). */
export async function startRecordingReceiver(status = 204): Promise<{ url: string; writes: RecordedWrite[]; attempts: () => number; close(): Promise<void> }> {
  const writes: RecordedWrite[] = [];
  let attempts = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      if (status < 300) writes.push({ headers: req.headers, series: decodeWriteRequest(snappyUncompress(Buffer.concat(chunks))) });
      res.writeHead(status).end(status < 300 ? '' : 'bad request: refused by the test receiver');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/api/v1/write`,
    writes,
    attempts: () => attempts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
