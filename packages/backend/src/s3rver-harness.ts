// An S3 server for tests: s3rver (a devDependency) on 127.0.0.1, a random port and a temp folder,
// with one bucket. index.ts does not import this module, so s3rver never enters production.
//
// s3rver runs behind our own http.Server so a test can stop it and bring it back on the same
// port (S3 outages), make requests fail (5xx, throttling) and see every request it received.
// s3rver gaps closed here, so tests exercise the backend rather than s3rver's bugs:
// - it writes an object straight into its file, so a reader can see half a write and two
//   writers can interleave; S3 never shows either. Requests on one key are therefore
//   serialised (reads share, writes exclude).
// - its ListObjectsV2 is broken twice: continuation tokens use DES, which OpenSSL 3 (Node >= 17)
//   refuses (every truncated page is a 500), and with a delimiter it misses a common prefix
//   whose objects all sit two or more levels down. ListObjectsV2 is answered here instead, from
//   s3rver's own store, behind s3rver's authentication and bucket checks.
// Gaps left open: V4 signatures are not checked (a wrong secret key is accepted; an unknown
// access key is refused with InvalidAccessKeyId), no AbortMultipartUpload (405), no part-size
// minimum, and suffix ranges (bytes=-N) are answered as bytes=0-N.

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultS3Config, type S3Config } from './s3-backend.js';

/** The little of s3rver's (untyped) API used here. */
interface S3rverInstance {
  configureBuckets(): Promise<void>;
  store: { putBucket(name: string): Promise<unknown> };
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
}
type S3rverConstructor = new (options: {
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

/** s3rver's fixed test account. */
export const S3RVER_ACCESS_KEY = 'S3RVER';
export const S3RVER_SECRET_KEY = 'S3RVER';

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
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  readonly directory: string;
  /** Every request answered so far, oldest first (clear with requests.length = 0). */
  readonly requests: RecordedS3Request[];
  /** An S3Config for this server: its endpoint, bucket, s3rver's keys, path style, http. */
  config(overrides?: Partial<S3Config>): S3Config;
  /** Answers the next matching requests with an S3 error instead of serving them. */
  injectFault(fault: InjectedFault): void;
  /** Creates another bucket. */
  createBucket(name: string): Promise<void>;
  /** Stops listening and drops open connections; the data stays for restart(). */
  stop(): Promise<void>;
  /** Listens again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops for good and deletes the temp folder. */
  close(): Promise<void>;
}

// s3rver is CommonJS without types; its deep modules are patched below.
const requireCjs = createRequire(import.meta.url);

/**
 * Starts s3rver on 127.0.0.1 with a temp folder and one bucket (default "andante-test";
 * s3rver wants at least 3 characters).
 */
export async function startS3rver(options: { bucket?: string } = {}): Promise<TestS3Server> {
  const S3rver = requireCjs('s3rver') as S3rverConstructor;
  patchListObjectsV2();
  const bucket = options.bucket ?? 'andante-test';
  const directory = await mkdtemp(join(tmpdir(), 'andante-s3rver-'));
  const s3rver = new S3rver({ silent: true, directory, configureBuckets: [{ name: bucket }] });
  await s3rver.configureBuckets();
  const handle = s3rver.callback();

  const requests: RecordedS3Request[] = [];
  const faults: InjectedFault[] = [];
  const locks = new KeyLocks();

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const info = { method, path: decodeURIComponent(url.pathname), query: url.searchParams };
    res.on('finish', () => {
      requests.push({ ...info, range: req.headers.range, status: res.statusCode });
    });
    const fault = faults.find((f) => f.count > 0 && (f.match?.(info) ?? true));
    if (fault) {
      fault.count--;
      const status = fault.status ?? 503;
      const code = fault.code ?? 'SlowDown';
      // Drain the body first, or the client may see a reset instead of the answer.
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(
          method === 'HEAD'
            ? undefined
            : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected fault</Message></Error>`,
        );
      });
      return;
    }
    // Object requests (/bucket/key) are serialised per key so s3rver looks atomic, as S3 is.
    // Parts of a multipart upload go to their own files, so they need no lock.
    const isObject = info.path.split('/').filter(Boolean).length >= 2 && !info.query.has('partNumber');
    if (!isObject) {
      handle(req, res);
      return;
    }
    const exclusive = method !== 'GET' && method !== 'HEAD';
    void locks.acquire(info.path, exclusive).then((release) => {
      res.once('close', release);
      handle(req, res);
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

  return {
    endpoint,
    port,
    bucket,
    directory,
    requests,
    config: (overrides = {}) => ({
      ...defaultS3Config(),
      bucket,
      endpoint,
      region: 'us-east-1',
      access_key: S3RVER_ACCESS_KEY,
      secret_key: S3RVER_SECRET_KEY,
      insecure: true,
      forcepathstyle: true,
      ...overrides,
    }),
    injectFault: (fault) => {
      faults.push({ ...fault });
    },
    createBucket: async (name) => {
      await s3rver.store.putBucket(name);
    },
    stop,
    restart: async () => {
      if (server) return;
      server = await listen(port);
    },
    close: async () => {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** The slice of s3rver's Koa context and store that ListObjectsV2 needs. */
interface ListContext {
  params: { bucket: string };
  query: Record<string, string | string[] | undefined>;
  store: {
    listObjects(
      bucket: string,
      options: { prefix?: string },
    ): Promise<{ objects: { key: string; size: number; lastModifiedDate: Date; metadata: Record<string, string> }[] }>;
  };
  body: unknown;
}
type S3ErrorConstructor = new (code: string, message: string, detail?: Record<string, string>) => Error;

let listPatched = false;

/**
 * Replaces s3rver's ListObjectsV2 (see the top of this file) with one that follows S3: keys in
 * order, keys under a delimiter folded into common prefixes, MaxKeys counting both, and an
 * opaque continuation token (the last name returned). s3rver's routes call the controller
 * through its module object, so authentication and the NoSuchBucket check still run first.
 */
function patchListObjectsV2(): void {
  if (listPatched) return;
  listPatched = true;
  const controllers = requireCjs('s3rver/lib/controllers/bucket.js') as { getBucket: (ctx: ListContext) => Promise<void> };
  const S3Error = requireCjs('s3rver/lib/models/error.js') as S3ErrorConstructor;
  const original = controllers.getBucket;
  controllers.getBucket = async (ctx: ListContext): Promise<void> => {
    if (ctx.query['list-type'] !== '2') return original(ctx);
    const param = (name: string): string | undefined => {
      const v = ctx.query[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const prefix = param('prefix') ?? '';
    const delimiter = param('delimiter') ?? '';
    const maxKeys = Math.min(1000, Number(param('max-keys') ?? 1000));
    if (!Number.isInteger(maxKeys) || maxKeys < 0) {
      throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range');
    }
    const token = param('continuation-token');
    const after = token !== undefined ? Buffer.from(token, 'base64url').toString('utf8') : (param('start-after') ?? '');

    const { objects } = await ctx.store.listObjects(ctx.params.bucket, prefix !== '' ? { prefix } : {});
    const entries = new Map<string, (typeof objects)[number] | null>(); // null: a common prefix
    for (const o of objects) {
      if (!o.key.startsWith(prefix)) continue;
      const cut = delimiter === '' ? -1 : o.key.indexOf(delimiter, prefix.length);
      if (cut === -1) entries.set(o.key, o);
      else entries.set(o.key.slice(0, cut + delimiter.length), null);
    }
    const names = [...entries.keys()].filter((n) => n > after).sort();
    const page = names.slice(0, maxKeys);
    const truncated = names.length > page.length;
    const contents = page.filter((n) => entries.get(n));
    ctx.body = {
      ListBucketResult: {
        '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
        Name: ctx.params.bucket,
        Prefix: prefix,
        ...(token !== undefined ? { ContinuationToken: token } : {}),
        ...(truncated ? { NextContinuationToken: Buffer.from(page.at(-1)!, 'utf8').toString('base64url') } : {}),
        KeyCount: page.length,
        MaxKeys: maxKeys,
        ...(delimiter !== '' ? { Delimiter: delimiter } : {}),
        IsTruncated: truncated,
        Contents: contents.map((n) => {
          const o = entries.get(n)!;
          return {
            Key: o.key,
            LastModified: o.lastModifiedDate.toISOString(),
            ETag: o.metadata['etag'],
            Size: o.size,
            StorageClass: 'STANDARD',
          };
        }),
        CommonPrefixes: page.filter((n) => entries.get(n) === null).map((n) => ({ Prefix: n })),
      },
    };
  };
}

/** FIFO readers-writer locks by key; a queued writer is never overtaken, so it cannot starve. */
class KeyLocks {
  private readonly state = new Map<string, LockState>();

  acquire(key: string, exclusive: boolean): Promise<() => void> {
    let s = this.state.get(key);
    if (!s) {
      s = { readers: 0, writer: false, queue: [] };
      this.state.set(key, s);
    }
    const entry = s;
    return new Promise((resolve) => {
      entry.queue.push({
        exclusive,
        grant: () => {
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            if (exclusive) entry.writer = false;
            else entry.readers--;
            this.pump(key, entry);
          });
        },
      });
      this.pump(key, entry);
    });
  }

  private pump(key: string, entry: LockState): void {
    for (let head = entry.queue[0]; head; head = entry.queue[0]) {
      if (head.exclusive ? entry.writer || entry.readers > 0 : entry.writer) break;
      entry.queue.shift();
      if (head.exclusive) entry.writer = true;
      else entry.readers++;
      head.grant();
    }
    if (entry.queue.length === 0 && !entry.writer && entry.readers === 0) this.state.delete(key);
  }
}

interface LockState {
  readers: number;
  writer: boolean;
  queue: { exclusive: boolean; grant: () => void }[];
}
