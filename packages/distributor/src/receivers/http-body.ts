// A receiver's HTTP body, decompressed: identity or gzip, with the output capped so a small gzip
// bomb cannot allocate past the body limit.

import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { InvalidArgumentError, PayloadTooLargeError, UnsupportedMediaTypeError } from '@andante/model';

const gunzipAsync = promisify(gunzip);

/** `limitName` says in the 413 message which limit was hit, e.g. `max_request_body_size (N bytes)`. */
export async function decompressBody(body: Buffer | undefined, encoding: string | undefined, limit: number, limitName: string): Promise<Buffer> {
  const buf = body ?? Buffer.alloc(0);
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return buf;
  if (enc !== 'gzip') throw new UnsupportedMediaTypeError(`unsupported content encoding ${JSON.stringify(encoding)}: use gzip or none`);
  try {
    return await gunzipAsync(buf, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || (err as Error) instanceof RangeError) {
      throw new PayloadTooLargeError(`decompressed body exceeds ${limitName}`);
    }
    throw new InvalidArgumentError(`invalid gzip body: ${(err as Error).message}`);
  }
}
