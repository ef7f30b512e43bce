// S3-protocol servers for tests, used as they are: s3rver (an npm devDependency, in process) and
// moto_server (PyPI `moto[server]`, a child process; .ci/run installs it). Each starts on
// 127.0.0.1 with a random port and one bucket. Exported as `@andante/backend/testing`, never from
// index.ts, so neither server enters production.
//
// A small front server of ours sits before each, and only wraps: it records every request, and
// answers a request with an S3 error only when a test injected that fault (S3 outages, throttling);
// it can stop and listen again on the same port. Everything else reaches the server unchanged: no
// protocol call is answered on the server's behalf. Known protocol bugs are stated in `bugs`, and
// tests assert Andante copes with them:
// - s3rver 3.7.1: a delimiter listing misses a common prefix whose objects all sit two or more
//   levels down; ListObjectsV2 continuation tokens use DES, which OpenSSL 3 (Node >= 17) refuses,
//   so every truncated V2 page is a 500; an object is written in place, so a reader can see half
//   a write; listings come folder by folder, not in byte order; V4 signatures are not checked (an unknown access key is refused); no
//   AbortMultipartUpload (405); suffix ranges (bytes=-N) are answered as bytes=0-N.
// - moto 5.2.x: accepts any credentials (no IAM unless configured).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Backend, defaultS3Config, type S3Config } from './s3-backend.js';
import { LocalBackend } from './local-backend.js';
import type { Backend } from './backend.js';

export type S3ServerKind = 's3rver' | 'moto';

/** Every server kind the S3 suites run against. */
export const TEST_S3_SERVER_KINDS: readonly S3ServerKind[] = ['s3rver', 'moto'];

/** The moto release .ci/run installs (`pip install 'moto[server]==MOTO_VERSION'`). */
export const MOTO_VERSION = '5.2.1';

/** Protocol bugs of a server, stated by the tests instead of hidden. */
export interface KnownServerBugs {
  /** A delimiter listing misses a folder whose objects all sit two or more levels down. */
  delimiterMissesDeepFolders: boolean;
  /** Every truncated ListObjectsV2 page fails with 500 InternalError. */
  truncatedListV2Fails: boolean;
  /** A read concurrent with a write of the same key can see part of the new object. */
  nonAtomicWrites: boolean;
  /**
   * Listings come folder by folder ("a/x" before "a.txt"), not in S3's UTF-8 byte order
   * ("a.txt" first: '.' < '/').
   */
  keysInFolderOrder: boolean;
}

export interface ServerTraits {
  /** An access key the server does not know is refused (InvalidAccessKeyId). */
  refusesUnknownAccessKeys: boolean;
}

/** What each server gets wrong (see the top of this file), known before it starts. */
export const KNOWN_S3_SERVER_BUGS: Readonly<Record<S3ServerKind, KnownServerBugs>> = {
  s3rver: { delimiterMissesDeepFolders: true, truncatedListV2Fails: true, nonAtomicWrites: true, keysInFolderOrder: true },
  moto: { delimiterMissesDeepFolders: false, truncatedListV2Fails: false, nonAtomicWrites: false, keysInFolderOrder: false },
};

export const S3_SERVER_TRAITS: Readonly<Record<S3ServerKind, ServerTraits>> = {
  s3rver: { refusesUnknownAccessKeys: true },
  moto: { refusesUnknownAccessKeys: false },
};

export interface RecordedS3Request {
  method: string;
  /** Path without the query, e.g. /bucket/tenant/block/data.parquet. */
  path: string;
  query: URLSearchParams;
  /** The Range header, when sent. */
  range: string | undefined;
  status: number;
}

export interface InjectedFault {
  /** How many matching requests fail. */
  count: number;
  status?: number;
  /** The S3 error code in the XML body. */
  code?: string;
  /** Which requests fail; all by default. */
  match?: (req: { method: string; path: string; query: URLSearchParams }) => boolean;
}

export interface TestS3Server {
  readonly kind: S3ServerKind;
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly bugs: KnownServerBugs;
  readonly traits: ServerTraits;
  /** s3rver's data folder (benchmarks measure objects at rest there); undefined for moto. */
  readonly directory: string | undefined;
  /** Every request answered so far, oldest first (clear with requests.length = 0). */
  readonly requests: RecordedS3Request[];
  /** An S3Config for this server: its endpoint, bucket, keys, path style, http. */
  config(overrides?: Partial<S3Config>): S3Config;
  /** AWS_* environment variables with this server's keys (or the given ones), for child processes. */
  env(accessKey?: string, secretKey?: string): Record<string, string | undefined>;
  /** Every object key of a bucket (default: the server's), sorted, read through the S3 protocol. */
  objectKeys(bucket?: string): Promise<string[]>;
  /** Answers the next matching requests with an S3 error instead of passing them on. */
  injectFault(fault: InjectedFault): void;
  /** Creates another bucket. */
  createBucket(name: string): Promise<void>;
  /** Stops listening and drops open connections; the data stays for restart(). */
  stop(): Promise<void>;
  /** Listens again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops for good and removes its data. */
  close(): Promise<void>;
}

export function startTestS3Server(kind: S3ServerKind, options: { bucket?: string } = {}): Promise<TestS3Server> {
  return kind === 's3rver' ? startS3rver(options) : startMotoServer(options);
}

/** The little of s3rver's (untyped) API used here. */
interface S3rverInstance {
  configureBuckets(): Promise<void>;
  store: { putBucket(name: string): Promise<unknown> };
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type S3rverConstructor = new (options: { silent: boolean; directory: string; configureBuckets: { name: string }[] }) => S3rverInstance;

const requireCjs = createRequire(import.meta.url);

/** s3rver's fixed test account. */
export const S3RVER_ACCESS_KEY = 'S3RVER';
export const S3RVER_SECRET_KEY = 'S3RVER';

/** s3rver on 127.0.0.1 with a temp folder and one bucket (default "andante-test"; at least 3 characters). */
export async function startS3rver(options: { bucket?: string } = {}): Promise<TestS3Server> {
  const S3rver = requireCjs('s3rver') as S3rverConstructor;
  const bucket = options.bucket ?? 'andante-test';
  const directory = await mkdtemp(join(tmpdir(), 'andante-s3rver-'));
  const s3rver = new S3rver({ silent: true, directory, configureBuckets: [{ name: bucket }] });
  await s3rver.configureBuckets();
  return frontServer({
    kind: 's3rver',
    bucket,
    accessKey: S3RVER_ACCESS_KEY,
    secretKey: S3RVER_SECRET_KEY,
    bugs: KNOWN_S3_SERVER_BUGS.s3rver,
    traits: S3_SERVER_TRAITS.s3rver,
    directory,
    handle: s3rver.callback(),
    createBucket: async (name) => {
      await s3rver.store.putBucket(name);
    },
    shutdown: () => rm(directory, { recursive: true, force: true }),
  });
}

/**
 * moto_server (moto[server] from PyPI) as a child process on 127.0.0.1 and a port it picks, with
 * one bucket. Its data lives in its memory, so it goes with the process.
 */
export async function startMotoServer(options: { bucket?: string } = {}): Promise<TestS3Server> {
  const bucket = options.bucket ?? 'andante-test';
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const motoPort = await motoListening(child);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const accessKey = 'andante-moto';
  const secretKey = 'andante-moto-secret';
  const admin = new S3Client({
    endpoint: `http://127.0.0.1:${motoPort}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
  });
  const createBucket = async (name: string): Promise<void> => {
    await admin.send(new CreateBucketCommand({ Bucket: name }));
  };
  await createBucket(bucket);
  return frontServer({
    kind: 'moto',
    bucket,
    accessKey,
    secretKey,
    bugs: KNOWN_S3_SERVER_BUGS.moto,
    traits: S3_SERVER_TRAITS.moto,
    directory: undefined,
    handle: (req, res) => {
      // Passed on byte for byte, headers included (the Host a client signed stays as it was).
      const upstream = httpRequest(
        { host: '127.0.0.1', port: motoPort, method: req.method, path: req.url, headers: req.headers, agent },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      req.pipe(upstream);
    },
    createBucket,
    shutdown: async () => {
      admin.destroy();
      agent.destroy();
      process.off('exit', killOnExit);
      const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
      child.kill('SIGTERM');
      await exited;
    },
  });
}

function motoListening(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (d: Buffer): void => {
      output += d.toString('utf8');
      const m = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    const timer = setTimeout(() => reject(new Error(`moto_server did not start within 20 s: ${output.slice(-500)}`)), 20_000);
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`moto_server could not be started (${err.message}); install it with pip install 'moto[server]==${MOTO_VERSION}' (.ci/run does)`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`moto_server exited with ${code}: ${output.slice(-500)}`));
    });
  });
}

interface FrontOptions {
  kind: S3ServerKind;
  bucket: string;
  accessKey: string;
  secretKey: string;
  bugs: KnownServerBugs;
  traits: ServerTraits;
  directory: string | undefined;
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  createBucket: (name: string) => Promise<void>;
  shutdown: () => Promise<void>;
}

/** Our recording, fault-injecting front on 127.0.0.1 and a random port. */
async function frontServer(o: FrontOptions): Promise<TestS3Server> {
  const requests: RecordedS3Request[] = [];
  const faults: InjectedFault[] = [];

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const info = { method, path: decodeURIComponent(url.pathname), query: url.searchParams };
    res.on('finish', () => {
      requests.push({ ...info, range: req.headers.range, status: res.statusCode });
    });
    const fault = faults.find((f) => f.count > 0 && (f.match?.(info) ?? true));
    if (!fault) {
      o.handle(req, res);
      return;
    }
    fault.count--;
    const status = fault.status ?? 503;
    const code = fault.code ?? 'SlowDown';
    // Drain the body first, or the client may see a reset instead of the answer.
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(
        method === 'HEAD' ? undefined : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected fault</Message></Error>`,
      );
    });
  };

  let server: Server | undefined;
  const listen = (port: number): Promise<Server> =>
    new Promise((resolve, reject) => {
      const s = createServer(onRequest);
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve(s);
      });
    });
  server = await listen(0);
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}`;

  const stop = async (): Promise<void> => {
    const s = server;
    if (!s) return;
    server = undefined;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    // Keep-alive sockets would otherwise keep the "stopped" server answering.
    s.closeAllConnections();
    await closed;
  };
  const config = (overrides: Partial<S3Config> = {}): S3Config => ({
    ...defaultS3Config(),
    bucket: o.bucket,
    endpoint,
    region: 'us-east-1',
    access_key: o.accessKey,
    secret_key: o.secretKey,
    insecure: true,
    forcepathstyle: true,
    ...overrides,
  });

  return {
    kind: o.kind,
    endpoint,
    port,
    bucket: o.bucket,
    accessKey: o.accessKey,
    secretKey: o.secretKey,
    bugs: o.bugs,
    traits: o.traits,
    directory: o.directory,
    requests,
    config,
    env: (accessKey = o.accessKey, secretKey = o.secretKey) => ({
      AWS_ACCESS_KEY_ID: accessKey,
      AWS_SECRET_ACCESS_KEY: secretKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_REGION: undefined,
      AWS_DEFAULT_REGION: undefined,
    }),
    objectKeys: async (bucket = o.bucket) => {
      const backend = new S3Backend(config({ bucket, prefix: '' }));
      try {
        return await backend.scanKeys([], '', Number.MAX_SAFE_INTEGER);
      } finally {
        await backend.close();
      }
    },
    injectFault: (fault) => {
      faults.push({ ...fault });
    },
    createBucket: o.createBucket,
    stop,
    restart: async () => {
      if (server) return;
      server = await listen(port);
    },
    close: async () => {
      await stop();
      await o.shutdown();
    },
  };
}

/**
 * Local disk and every test S3 server as `[name, open]` rows for `describe.each`: each `open()`
 * gives a fresh, empty backend (a new temp folder, or a new prefix in the server's bucket). Call
 * `start` in beforeAll and `close` in afterAll.
 */
export function backendsUnderTest(bucket: string): {
  rows: [string, () => Promise<Backend>][];
  start(): Promise<void>;
  close(): Promise<void>;
} {
  const servers: TestS3Server[] = [];
  const opened: Backend[] = [];
  let runs = 0;
  return {
    rows: [
      ['local', async () => new LocalBackend(await mkdtemp(join(tmpdir(), `${bucket}-`)))],
      ...TEST_S3_SERVER_KINDS.map((kind, i): [string, () => Promise<Backend>] => [
        kind,
        async () => {
          const b = new S3Backend(servers[i]!.config({ prefix: `run-${++runs}` }));
          opened.push(b);
          return b;
        },
      ]),
    ],
    async start() {
      for (const kind of TEST_S3_SERVER_KINDS) servers.push(await startTestS3Server(kind, { bucket }));
    },
    async close() {
      for (const b of opened) await b.close();
      for (const s of servers) await s.close();
    },
  };
}
