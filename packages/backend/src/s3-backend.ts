// Object storage on S3 and S3-compatible stores (MinIO, R2, GCS's S3 API, s3rver) through
// @aws-sdk/client-s3. Keys are `<prefix>/<keypath...>/<name>`. A PUT (or a completed multipart
// upload) is atomic on S3, so no temp objects are needed. Retries are ours, not the SDK's: one
// SDK attempt is one HTTP request, so onRequest counts every request S3 bills, and backoff follows
// Tempo's retry_* keys instead of the SDK's shared retry quota, which stops retrying altogether
// during a long outage.

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { AndanteError, GrpcCode, InvalidArgumentError, NotFoundError, UnavailableError, parseDuration, silentLogger, type Logger } from '@andante/model';
import type { Backend, KeyPath } from './backend.js';
import { validateKeyPath, validateSegment } from './key-path.js';

const MiB = 1024 * 1024;
/** S3's smallest part (the last part may be smaller). */
export const S3_MIN_PART_SIZE = 5 * MiB;
const S3_MAX_PART_SIZE = 5 * 1024 * MiB;
const S3_MAX_PARTS = 10_000;
/**
 * Part size when `part_size` is 0. Tempo 2.x leaves 0 to minio-go, which sends objects up to
 * 16 MiB in one PUT and bigger ones in 16 MiB parts; this keeps that behaviour.
 */
export const DEFAULT_PART_SIZE = 16 * MiB;

/** Tempo's `storage.trace.s3` keys (the subset Andante implements), with Tempo's defaults. */
export interface S3Config {
  bucket: string;
  /** Folder inside the bucket for everything Andante writes; may contain '/'. */
  prefix: string;
  /** host[:port] as in Tempo (scheme from `insecure`), or a full URL. Empty: AWS S3 for `region`. */
  endpoint: string;
  /** Empty: inferred from an AWS endpoint, else AWS_REGION / AWS_DEFAULT_REGION, else us-east-1. */
  region: string;
  /** Static credentials (discouraged). Both empty: the SDK's default chain (env, shared files, IRSA, instance role). */
  access_key: string;
  secret_key: string;
  session_token: string;
  /** Use http instead of https for an endpoint given without a scheme. */
  insecure: boolean;
  /** Path-style requests (http://host/bucket/key), which most S3-compatible stores need. */
  forcepathstyle: boolean;
  /** Bytes per multipart part; objects larger than one part go up in parts. 0: 16 MiB. */
  part_size: number;
  /** Attempts per request, the first included (Tempo 3 / minio default 10); 1 disables retries. */
  retry_max_attempts: number;
  /** First backoff, doubled per retry up to retry_backoff_max (Go durations). */
  retry_backoff_initial: string;
  retry_backoff_max: string;
}

export function defaultS3Config(): S3Config {
  return {
    bucket: '',
    prefix: '',
    endpoint: '',
    region: '',
    access_key: '',
    secret_key: '',
    session_token: '',
    insecure: false,
    forcepathstyle: false,
    part_size: 0,
    retry_max_attempts: 10,
    retry_backoff_initial: '200ms',
    retry_backoff_max: '1s',
  };
}

/** Request classes for cost accounting: S3 prices LIST with PUT, and HEAD with GET. */
export type S3RequestOp = 'GET' | 'PUT' | 'POST' | 'LIST' | 'HEAD' | 'DELETE';

export interface S3RequestInfo {
  /** The HTTP method, Tempo's `operation` label of tempodb_backend_request_duration_seconds. */
  method: 'GET' | 'PUT' | 'POST' | 'HEAD' | 'DELETE';
  /** The HTTP status, Tempo's `status_code` label; undefined when no response came (network error). */
  statusCode: number | undefined;
  /** The S3 API, e.g. 'GetObject', 'UploadPart'. */
  command: string;
}

export interface S3BackendOptions {
  /** Called once per HTTP request (each retry counts), for request and latency metrics. */
  onRequest?: (op: S3RequestOp, durationMs: number, ok: boolean, info: S3RequestInfo) => void;
  logger?: Logger;
  /** Keys per ListObjectsV2 page (1..1000, S3's maximum and default). */
  listPageSize?: number;
  /** Parts of one multipart upload in flight at once. */
  multipartConcurrency?: number;
  /** Milliseconds to establish a connection before the attempt fails (and is retried). */
  connectTimeoutMs?: number;
  /** Milliseconds a socket may stay idle mid-request before the attempt fails (and is retried). */
  socketTimeoutMs?: number;
}

/** An S3 request failed for a reason retrying will not fix (access denied, no such bucket, ...). */
export class S3BackendError extends AndanteError {
  readonly code = 'BACKEND_ERROR';
  readonly httpStatus = 500;
  readonly grpcCode = GrpcCode.INTERNAL;
  override readonly name = 'S3BackendError';
  constructor(
    message: string,
    /** The S3 error code (NoSuchBucket, AccessDenied, ...) or the network error code. */
    readonly s3Code: string,
    /** HTTP status of S3's answer; undefined when none came. */
    readonly statusCode: number | undefined,
    readonly command: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Validates a config the way a startup should: every message names the `s3.` key. */
export function validateS3Config(cfg: S3Config): void {
  resolveConfig(cfg);
}

interface Resolved {
  bucket: string;
  prefix: readonly string[];
  endpoint: string | undefined;
  region: string;
  partSize: number;
  maxAttempts: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Where requests go, for messages: the endpoint or AWS's regional host. */
  where: string;
}

function resolveConfig(cfg: S3Config): Resolved {
  const bucket = cfg.bucket.trim();
  if (bucket.length === 0) throw new InvalidArgumentError('s3.bucket is empty: name the bucket that holds the blocks');
  if (bucket.includes('/')) throw new InvalidArgumentError(`s3.bucket ${JSON.stringify(bucket)} contains '/': put folders in s3.prefix`);

  const trimmed = cfg.prefix.replace(/^\/+|\/+$/g, '');
  const prefix = trimmed === '' ? [] : trimmed.split('/').map((s) => validateSegment(s, 's3.prefix segment'));

  let endpoint: string | undefined;
  if (cfg.endpoint.trim() !== '') {
    const raw = cfg.endpoint.trim();
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `${cfg.insecure ? 'http' : 'https'}://${raw}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw new InvalidArgumentError(`s3.endpoint ${JSON.stringify(raw)} is neither host[:port] nor a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidArgumentError(`s3.endpoint ${JSON.stringify(raw)}: the scheme must be http or https`);
    }
    endpoint = withScheme.replace(/\/+$/, '');
  }

  const region =
    cfg.region.trim() ||
    regionFromAwsEndpoint(endpoint) ||
    process.env['AWS_REGION'] ||
    process.env['AWS_DEFAULT_REGION'] ||
    // S3-compatible stores ignore the region, but SigV4 needs one.
    'us-east-1';

  if (!Number.isSafeInteger(cfg.part_size) || cfg.part_size < 0) {
    throw new InvalidArgumentError(`s3.part_size ${cfg.part_size} is not a byte count`);
  }
  if (cfg.part_size !== 0 && (cfg.part_size < S3_MIN_PART_SIZE || cfg.part_size > S3_MAX_PART_SIZE)) {
    throw new InvalidArgumentError(
      `s3.part_size ${cfg.part_size} is outside S3's part limits (${S3_MIN_PART_SIZE} bytes = 5 MiB .. 5 GiB); use 0 for the default (16 MiB)`,
    );
  }
  if (!Number.isSafeInteger(cfg.retry_max_attempts) || cfg.retry_max_attempts < 1) {
    throw new InvalidArgumentError(`s3.retry_max_attempts ${cfg.retry_max_attempts} must be at least 1 (1 disables retries)`);
  }
  const backoffInitialMs = parseDurationMs(cfg.retry_backoff_initial, 's3.retry_backoff_initial');
  const backoffMaxMs = parseDurationMs(cfg.retry_backoff_max, 's3.retry_backoff_max');
  if (backoffMaxMs < backoffInitialMs) {
    throw new InvalidArgumentError(`s3.retry_backoff_max (${cfg.retry_backoff_max}) is below s3.retry_backoff_initial (${cfg.retry_backoff_initial})`);
  }

  if ((cfg.access_key === '') !== (cfg.secret_key === '')) {
    const missing = cfg.access_key === '' ? 's3.access_key' : 's3.secret_key';
    throw new InvalidArgumentError(
      `${missing} is empty while its pair is set: give both, or neither to use the default credential chain`,
    );
  }
  if (cfg.session_token !== '' && cfg.access_key === '') {
    throw new InvalidArgumentError('s3.session_token needs s3.access_key and s3.secret_key');
  }

  return {
    bucket,
    prefix,
    endpoint,
    region,
    partSize: cfg.part_size,
    maxAttempts: cfg.retry_max_attempts,
    backoffInitialMs,
    backoffMaxMs,
    where: endpoint ?? `AWS S3 (${region})`,
  };
}

/** s3.eu-west-1.amazonaws.com, s3.dualstack.eu-west-1.amazonaws.com, s3-eu-west-1.amazonaws.com. */
function regionFromAwsEndpoint(endpoint: string | undefined): string | undefined {
  if (!endpoint) return undefined;
  const m = /^s3[.-](?:dualstack\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?$/.exec(new URL(endpoint).hostname);
  return m?.[1];
}

function isAwsEndpoint(endpoint: string | undefined): boolean {
  return endpoint === undefined || /(^|\.)amazonaws\.com(\.cn)?$/.test(new URL(endpoint).hostname);
}

/** Go-style durations ("200ms", "1s", "1m30s"), as Tempo's YAML writes them. */
function parseDurationMs(text: string, key: string): number {
  try {
    return parseDuration(text);
  } catch {
    throw new InvalidArgumentError(`${key} ${JSON.stringify(text)} is not a duration such as 200ms or 1s`);
  }
}

/** What one S3 call is, for metrics, retries and messages. */
interface Call {
  command: string;
  op: S3RequestOp;
  method: S3RequestInfo['method'];
  key?: string;
}

/** Calls on one object, where a 404 means that object is missing (not, say, the bucket). */
const OBJECT_COMMANDS = new Set(['GetObject', 'HeadObject', 'DeleteObject']);

// Codes S3 and compatible stores use for "try again later", whatever the HTTP status.
const RETRYABLE_S3_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'RequestThrottled',
  'RequestTimeout',
  'RequestTimeoutException',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
]);
interface Classified {
  code: string;
  status: number | undefined;
  retryable: boolean;
  notFound: boolean;
  detail: string;
}

interface SdkErrorShape {
  name?: string;
  code?: unknown;
  Code?: unknown;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

function classify(err: unknown): Classified {
  const e = (err ?? {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const networkCode = typeof e.code === 'string' ? e.code : undefined;
  const code = (typeof e.Code === 'string' && e.Code) || networkCode || e.name || 'Error';
  // HEAD answers carry no body, so a missing object shows only as 404 / NotFound.
  const notFound = code === 'NoSuchKey' || (status === 404 && (code === 'NotFound' || code === 'UnknownError' || code === 'Unknown'));
  const retryable =
    !notFound &&
    ((status !== undefined && (status >= 500 || status === 429)) ||
      RETRYABLE_S3_CODES.has(code) ||
      e.$retryable !== undefined ||
      // No answer at all: connection refused or reset, DNS, timeouts, a body cut short. Missing
      // credentials are the exception: retrying will not conjure them.
      (status === undefined && e.name !== 'CredentialsProviderError' && !(err instanceof AndanteError)));
  const message = e.message && e.message !== 'UnknownError' ? e.message : '';
  return { code, status, retryable, notFound, detail: message };
}

function describeFailure(c: Classified): string {
  const status = c.status !== undefined ? ` (HTTP ${c.status})` : '';
  return `${c.code}${status}${c.detail && c.detail !== c.code ? `: ${c.detail}` : ''}`;
}

export class S3Backend implements Backend {
  readonly bucket: string;
  private readonly cfg: Resolved;
  private readonly client: S3Client;
  private readonly onRequest: S3BackendOptions['onRequest'];
  private readonly logger: Logger;
  private readonly listPageSize: number;
  private readonly multipartConcurrency: number;
  private closed = false;
  private readonly sleeping = new Set<() => void>();

  constructor(config: S3Config, options: S3BackendOptions = {}) {
    this.cfg = resolveConfig(config);
    this.bucket = this.cfg.bucket;
    this.onRequest = options.onRequest;
    this.logger = (options.logger ?? silentLogger).child({ component: 's3-backend', bucket: this.cfg.bucket });
    this.listPageSize = options.listPageSize ?? 1000;
    if (!Number.isSafeInteger(this.listPageSize) || this.listPageSize < 1 || this.listPageSize > 1000) {
      throw new InvalidArgumentError(`list page size ${this.listPageSize} is outside 1..1000`);
    }
    this.multipartConcurrency = Math.max(1, options.multipartConcurrency ?? 4);

    const clientConfig: S3ClientConfig = {
      region: this.cfg.region,
      forcePathStyle: config.forcepathstyle,
      // Our loop retries (see the top of this file); one SDK attempt is one request.
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: options.connectTimeoutMs ?? 10_000,
        socketTimeout: options.socketTimeoutMs ?? 60_000,
      },
      // Since SDK 3.729 every PUT carries a CRC32 header that R2, GCS and older MinIO reject;
      // keep the extra checksums for AWS itself only.
      requestChecksumCalculation: isAwsEndpoint(this.cfg.endpoint) ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED',
      responseChecksumValidation: isAwsEndpoint(this.cfg.endpoint) ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED',
      // A bucket in another region answers 301; follow it instead of failing.
      followRegionRedirects: true,
    };
    if (this.cfg.endpoint !== undefined) clientConfig.endpoint = this.cfg.endpoint;
    if (config.access_key !== '') {
      clientConfig.credentials = {
        accessKeyId: config.access_key,
        secretAccessKey: config.secret_key,
        ...(config.session_token !== '' ? { sessionToken: config.session_token } : {}),
      };
    }
    // No credentials given: the SDK's default provider chain (env, shared config, web identity, ECS, IMDS).
    this.client = new S3Client(clientConfig);
  }

  /**
   * Checks at startup that the bucket exists and the credentials may use it, with a message that
   * names the bucket, the operation and S3's error code. A refusal that retrying cannot fix is an
   * S3BackendError; an unreachable server, after the configured retries, an UnavailableError.
   */
  async verifyBucket(): Promise<void> {
    const where = `S3 bucket ${JSON.stringify(this.bucket)} is not reachable at ${this.cfg.where}`;
    let failure: Classified;
    try {
      await this.attempts({ command: 'HeadBucket', op: 'HEAD', method: 'HEAD' }, () =>
        this.client.send(new HeadBucketCommand({ Bucket: this.bucket })),
      );
      return;
    } catch (err) {
      failure = classify((err as { cause?: unknown }).cause ?? err);
      if (err instanceof UnavailableError) {
        throw new UnavailableError(`${where}: HeadBucket failed after ${this.cfg.maxAttempts} attempts with ${describeFailure(failure)}`, {
          cause: err,
        });
      }
    }
    // A HEAD answer has no body, so S3's error code (NoSuchBucket, InvalidAccessKeyId, ...) is
    // lost; a ListObjectsV2 under the prefix tells it. Tempo checks with that same listing, and
    // it also passes where a policy grants s3:ListBucket only for the prefix, which HeadBucket
    // (no prefix) cannot satisfy in a shared bucket.
    const prefix = this.cfg.prefix.length > 0 ? this.cfg.prefix.join('/') + '/' : undefined;
    try {
      await this.send({ command: 'ListObjectsV2', op: 'LIST', method: 'GET' }, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1, ...(prefix ? { Prefix: prefix } : {}) })),
      );
      this.logger.warn('HeadBucket was refused but listing under the prefix works; going on', { err: describeFailure(failure) });
      return;
    } catch (err) {
      const probe = classify(err);
      if (probe.status !== undefined && /^(NotFound|Forbidden|UnknownError|Unknown|BadRequest)$/.test(failure.code)) {
        failure = { ...probe, status: failure.status ?? probe.status };
      }
    }
    throw new S3BackendError(`${where}: HeadBucket failed with ${describeFailure(failure)}${hint(failure.code)}`, failure.code, failure.status, 'HeadBucket');
  }

  async write(keypath: KeyPath, name: string, data: Uint8Array): Promise<void> {
    const key = this.key(keypath, name);
    const partSize = this.partSizeFor(data.byteLength);
    if (data.byteLength <= partSize) {
      await this.attempts({ command: 'PutObject', op: 'PUT', method: 'PUT', key }, () =>
        this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: data, ContentLength: data.byteLength })),
      );
      return;
    }
    await this.writeMultipart(key, data, partSize);
  }

  async read(keypath: KeyPath, name: string): Promise<Uint8Array> {
    const key = this.key(keypath, name);
    // The body is read inside the attempt, so a connection lost mid-download is retried too.
    const got = await this.attempts({ command: 'GetObject', op: 'GET', method: 'GET', key }, async () => {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return { $metadata: out.$metadata, body: await bodyBytes(out.Body) };
    });
    return got.body;
  }

  async readRange(keypath: KeyPath, name: string, offset: number, length: number): Promise<Uint8Array> {
    const key = this.key(keypath, name);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new InvalidArgumentError(`invalid range offset=${offset} length=${length}`);
    }
    if (length === 0) {
      // HTTP cannot ask for zero bytes; a HEAD still reports a missing object or a bad offset.
      const size = await this.size(keypath, name);
      if (offset > size) throw beyondEnd(key, offset, length, size);
      return new Uint8Array(0);
    }
    const end = offset + length - 1;
    const call: Call = { command: 'GetObject', op: 'GET', method: 'GET', key };
    let got: { body: Uint8Array; contentRange: string | undefined };
    try {
      got = await this.attempts(call, async () => {
        // Always an explicit first-last range: s3rver answers suffix ranges (bytes=-N) wrongly.
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${offset}-${end}` }));
        return { $metadata: out.$metadata, body: await bodyBytes(out.Body), contentRange: out.ContentRange };
      });
    } catch (err) {
      // A range starting at or past the end: 416 InvalidRange.
      if (err instanceof S3BackendError && err.statusCode === 416) {
        const size = await this.size(keypath, name);
        throw beyondEnd(key, offset, length, size);
      }
      throw err;
    }
    const { body, contentRange } = got;
    if (contentRange === undefined && body.byteLength >= offset + length) {
      // A store that ignored Range sent the whole object.
      return body.subarray(offset, offset + length);
    }
    if (body.byteLength !== length) {
      // S3 clips a range that runs past the end instead of refusing it.
      throw beyondEnd(key, offset, length, totalFromContentRange(contentRange) ?? offset + body.byteLength);
    }
    return body;
  }

  async size(keypath: KeyPath, name: string): Promise<number> {
    const key = this.key(keypath, name);
    const out = await this.attempts({ command: 'HeadObject', op: 'HEAD', method: 'HEAD', key }, () =>
      this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })),
    );
    return out.ContentLength ?? 0;
  }

  async list(keypath: KeyPath): Promise<string[]> {
    const segments = [...this.cfg.prefix, ...validateKeyPath(keypath)];
    const prefix = segments.length === 0 ? '' : segments.join('/') + '/';
    const names = new Set<string>();
    let token: string | undefined;
    do {
      const out = await this.attempts({ command: 'ListObjectsV2', op: 'LIST', method: 'GET', key: prefix }, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Delimiter: '/',
            MaxKeys: this.listPageSize,
            ...(prefix !== '' ? { Prefix: prefix } : {}),
            ...(token !== undefined ? { ContinuationToken: token } : {}),
          }),
        ),
      );
      for (const cp of out.CommonPrefixes ?? []) {
        if (cp.Prefix?.startsWith(prefix)) addName(names, cp.Prefix.slice(prefix.length).replace(/\/$/, ''));
      }
      for (const obj of out.Contents ?? []) {
        if (obj.Key?.startsWith(prefix)) addName(names, obj.Key.slice(prefix.length));
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
    return [...names].sort();
  }

  /**
   * ListObjects (V1) with a Marker and no delimiter: the marker is ours, not a server-made
   * continuation token, so this also works on servers whose V2 tokens are broken (s3rver 3.7.1
   * encrypts them with DES, which OpenSSL 3 refuses: every truncated V2 page is a 500). Every
   * S3-protocol store Andante targets still serves V1.
   */
  async scanKeys(keypath: KeyPath, startAfter: string, limit: number): Promise<string[]> {
    const segments = [...this.cfg.prefix, ...validateKeyPath(keypath)];
    const prefix = segments.length === 0 ? '' : segments.join('/') + '/';
    const out: string[] = [];
    let marker = prefix + startAfter;
    while (out.length < limit) {
      const page = await this.attempts({ command: 'ListObjects', op: 'LIST', method: 'GET', key: prefix }, () =>
        this.client.send(
          new ListObjectsCommand({
            Bucket: this.bucket,
            MaxKeys: Math.min(this.listPageSize, limit - out.length),
            ...(prefix !== '' ? { Prefix: prefix } : {}),
            ...(marker !== '' ? { Marker: marker } : {}),
          }),
        ),
      );
      const keys = (page.Contents ?? []).map((o) => o.Key ?? '').filter((k) => k.startsWith(prefix) && k > marker);
      for (const k of keys) out.push(k.slice(prefix.length));
      if (!page.IsTruncated || keys.length === 0) break;
      marker = keys[keys.length - 1]!;
    }
    return out.slice(0, limit);
  }

  async delete(keypath: KeyPath, name: string): Promise<void> {
    const key = this.key(keypath, name);
    try {
      await this.attempts({ command: 'DeleteObject', op: 'DELETE', method: 'DELETE', key }, () =>
        this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
      );
    } catch (err) {
      // S3 answers 204 for a missing key; some compatible stores say 404.
      if (err instanceof NotFoundError) return;
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.sleeping) wake();
    this.client.destroy();
  }

  /** The object key for keypath/name under the configured prefix; every segment validated. */
  private key(keypath: KeyPath, name: string): string {
    return [...this.cfg.prefix, ...validateKeyPath(keypath), validateSegment(name, 'object name')].join('/');
  }

  private partSizeFor(size: number): number {
    const base = this.cfg.partSize === 0 ? DEFAULT_PART_SIZE : this.cfg.partSize;
    // Grow the parts rather than fail when the object would need more than S3's 10,000.
    return Math.max(base, Math.ceil(size / S3_MAX_PARTS));
  }

  private async writeMultipart(key: string, data: Uint8Array, partSize: number): Promise<void> {
    const created = await this.attempts({ command: 'CreateMultipartUpload', op: 'POST', method: 'POST', key }, () =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key })),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new S3BackendError(`S3 CreateMultipartUpload for ${JSON.stringify(key)} returned no UploadId`, 'NoUploadId', undefined, 'CreateMultipartUpload');
    try {
      const count = Math.ceil(data.byteLength / partSize);
      const parts: CompletedPart[] = new Array(count);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < count) {
          const i = next++;
          const body = data.subarray(i * partSize, Math.min((i + 1) * partSize, data.byteLength));
          const out = await this.attempts({ command: 'UploadPart', op: 'PUT', method: 'PUT', key }, () =>
            this.client.send(
              new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ContentLength: body.byteLength }),
            ),
          );
          parts[i] = { ETag: out.ETag, PartNumber: i + 1 };
        }
      };
      // One failed part stops the others from taking new parts (next jumps past the end).
      await Promise.all(
        Array.from({ length: Math.min(this.multipartConcurrency, count) }, () =>
          worker().catch((err: unknown) => {
            next = count;
            throw err;
          }),
        ),
      );
      await this.attempts({ command: 'CompleteMultipartUpload', op: 'POST', method: 'POST', key }, () =>
        this.client.send(
          new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
        ),
      );
    } catch (err) {
      // Uploaded parts are billed until aborted; a bucket lifecycle rule should still expire
      // incomplete uploads (Tempo's docs recommend one day) in case this abort fails too.
      try {
        await this.send({ command: 'AbortMultipartUpload', op: 'DELETE', method: 'DELETE', key }, () =>
          this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })),
        );
      } catch (abortErr) {
        this.logger.warn('could not abort a failed multipart upload; a lifecycle rule must expire it', {
          key,
          err: describeFailure(classify(abortErr)),
        });
      }
      throw err;
    }
  }

  /**
   * Runs one S3 call with retries and capped exponential backoff, and maps its failure: a missing
   * object to NotFoundError, a transient failure that outlasted the retries to UnavailableError
   * (retry later), anything else to S3BackendError.
   */
  private async attempts<T>(call: Call, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new UnavailableError(`S3 backend for bucket ${JSON.stringify(this.bucket)} is closed`);
      try {
        return await this.send(call, fn);
      } catch (err) {
        // Our own verdicts from inside the attempt (e.g. a range past the end) pass as they are.
        if (err instanceof AndanteError) throw err;
        const c = classify(err);
        const what = `S3 ${call.command}${call.key !== undefined ? ` ${JSON.stringify(call.key)}` : ''} in bucket ${JSON.stringify(this.bucket)}`;
        if (c.notFound && OBJECT_COMMANDS.has(call.command)) throw new NotFoundError(`object ${JSON.stringify(call.key ?? '')} not found in bucket ${JSON.stringify(this.bucket)}`);
        if (!c.retryable) {
          throw new S3BackendError(`${what} failed with ${describeFailure(c)}${hint(c.code)}`, c.code, c.status, call.command, { cause: err });
        }
        if (attempt >= this.cfg.maxAttempts) {
          throw new UnavailableError(`${what} failed after ${attempt} attempt${attempt === 1 ? '' : 's'} at ${this.cfg.where}: ${describeFailure(c)}`, {
            cause: err,
          });
        }
        const ceiling = Math.min(this.cfg.backoffMaxMs, this.cfg.backoffInitialMs * 2 ** (attempt - 1));
        // Half fixed, half random: spreads retries of many writers without ever retrying at once.
        await this.sleep(ceiling / 2 + Math.random() * (ceiling / 2));
      }
    }
  }

  /** One HTTP request, timed and reported. */
  private async send<T>(call: Call, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      const out = await fn();
      this.report(call, start, true, (out as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode);
      return out;
    } catch (err) {
      this.report(call, start, false, (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode);
      throw err;
    }
  }

  private report(call: Call, start: number, ok: boolean, statusCode: number | undefined): void {
    if (!this.onRequest) return;
    try {
      this.onRequest(call.op, performance.now() - start, ok, { method: call.method, statusCode, command: call.command });
    } catch {
      // A metrics hook must never fail a storage request.
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleeping.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleeping.add(wake);
    });
  }
}

function hint(code: string): string {
  switch (code) {
    case 'NoSuchBucket':
      return ' (create the bucket, or fix s3.bucket / s3.endpoint)';
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'InvalidToken':
    case 'ExpiredToken':
      return ' (check s3.access_key / s3.secret_key, or the credentials the default chain found)';
    case 'AccessDenied':
    case 'Forbidden':
      return ' (the credentials need s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on the bucket)';
    case 'CredentialsProviderError':
      return ' (no credentials found: set s3.access_key / s3.secret_key, AWS_* variables, a shared profile, IRSA or an instance role)';
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
      return ' (the bucket is in another region: set s3.region)';
    default:
      return '';
  }
}

function addName(names: Set<string>, name: string): void {
  // Skip names a caller could not pass back (empty folder markers, odd foreign keys).
  try {
    validateSegment(name);
    names.add(name);
  } catch {
    // not ours
  }
}

function beyondEnd(key: string, offset: number, length: number, size: number): InvalidArgumentError {
  return new InvalidArgumentError(`range ${offset}+${length} is beyond the end of ${JSON.stringify(key)} (${size} bytes)`);
}

/** The total size in `Content-Range: bytes a-b/total`, when known. */
function totalFromContentRange(contentRange: string | undefined): number | undefined {
  const m = contentRange ? /\/(\d+)\s*$/.exec(contentRange) : null;
  return m ? Number(m[1]) : undefined;
}

async function bodyBytes(body: unknown): Promise<Uint8Array> {
  if (body === undefined || body === null) return new Uint8Array(0);
  const b = body as { transformToByteArray?: () => Promise<Uint8Array> };
  if (typeof b.transformToByteArray !== 'function') throw new Error('S3 response body is not readable');
  return b.transformToByteArray();
}
