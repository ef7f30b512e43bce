// The built binary given S3 credentials in its YAML file and on its command line never shows them:
// not on any /status page, and not in any log line, whether it starts (local backend, debug logs)
// or fails to start because S3 refuses the credentials it signed with.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3rver, type TestS3Server } from '@andante/backend/testing';
import { BIN_PATH, childEnv, makeConfigYaml, makeTempDir, mergeConfig, removeTempDirs, s3StorageConfig, s3rverEnv } from './harness.js';

const YAML_SECRET = 'yaml-secret-7d41be09c2';
const FLAG_SECRET = 'flag-session-token-a93f5e';

let s3: TestS3Server;

beforeAll(async () => {
  s3 = await startS3rver({ bucket: 'andante-status' });
});

afterAll(async () => {
  await s3?.close();
  removeTempDirs();
});

interface Run {
  output: () => string;
  /** The HTTP port once "andante started" was logged. */
  started: Promise<number>;
  exited: Promise<number | null>;
  stop: () => void;
}

/** Starts the binary with `-config.file=<yaml>` and the session token as a flag; collects stdout and stderr. */
function run(dir: string, name: string, yaml: string, env: Record<string, string | undefined> = {}): Run {
  const configPath = join(dir, `${name}.yaml`);
  writeFileSync(configPath, yaml);
  const child = spawn(process.execPath, [BIN_PATH, `-config.file=${configPath}`, `-storage.trace.s3.session_token=${FLAG_SECRET}`], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv(env),
  });
  let output = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const started = new Promise<number>((resolve, reject) => {
    const onData = (d: string): void => {
      output += d;
      const m = /"msg":"andante started".*"http":(\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.stderr!.setEncoding('utf8').on('data', onData);
    void exited.then(() => reject(new Error(`exited before it started:\n${output}`)));
  });
  started.catch(() => undefined);
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(timer));
  return { output: () => output, started, exited, stop: () => child.kill('SIGTERM') };
}

describe('secrets given in YAML and as flags', () => {
  it('are masked on every /status page and absent from the logs of a running server', async () => {
    const dir = makeTempDir('status-secrets');
    const yaml = makeConfigYaml(dir, {
      server: { log_level: 'debug' },
      storage: { trace: { s3: { bucket: 'unused', access_key: 'AKIDEXAMPLE', secret_key: YAML_SECRET } } },
    });
    const proc = run(dir, 'local', yaml);
    const port = await proc.started;
    const pages = ['/status', '/status/config', '/status/config?mode=diff', '/status/config?mode=defaults', '/status/version', '/status/endpoints'];
    for (const page of pages) {
      const res = await fetch(`http://127.0.0.1:${port}${page}`);
      const body = await res.text();
      expect(res.status, page).toBe(200);
      expect(body, page).not.toContain(YAML_SECRET);
      expect(body, page).not.toContain(FLAG_SECRET);
    }
    const diff = await (await fetch(`http://127.0.0.1:${port}/status/config?mode=diff`)).text();
    expect(diff).toContain('secret_key: "********"');
    expect(diff).toContain('session_token: "********"');
    proc.stop();
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toContain('"msg":"andante stopped"'); // the whole log was read
    expect(proc.output()).not.toContain(YAML_SECRET);
    expect(proc.output()).not.toContain(FLAG_SECRET);
  }, 90_000);

  it('are absent from the logs when S3 refuses the credentials signed with them', async () => {
    const dir = makeTempDir('status-secrets-s3');
    // An access key s3rver does not know: the request, signed with the secret, is refused.
    const yaml = makeConfigYaml(
      dir,
      mergeConfig(s3StorageConfig(s3.port, s3.bucket, 'status'), {
        server: { log_level: 'debug' },
        storage: { trace: { s3: { access_key: 'NOT-A-KEY', secret_key: YAML_SECRET, retry_max_attempts: 1 } } },
      }),
    );
    const proc = run(dir, 's3', yaml, s3rverEnv());
    const code = await proc.exited;
    expect(code, proc.output()).not.toBe(0);
    expect(proc.output()).toMatch(/SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied|403/);
    expect(proc.output()).not.toContain(YAML_SECRET);
    expect(proc.output()).not.toContain(FLAG_SECRET);
  }, 90_000);
});
