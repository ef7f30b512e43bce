import { InvalidArgumentError } from '@andante/model';
import type { KeyPath } from './backend.js';

/**
 * Prefix of the temporary files an atomic write leaves behind only while it runs (or after a
 * crash). Listing hides them, and no key segment may start with it, so they never collide.
 */
export const TEMP_PREFIX = '.andante-tmp-';

/**
 * Throws InvalidArgumentError unless `segment` is safe as one path component on every backend:
 * a separator, `.`/`..` or NUL could walk out of the root or name something else.
 */
export function validateSegment(segment: string, what = 'key segment'): string {
  if (typeof segment !== 'string' || segment.length === 0) {
    throw new InvalidArgumentError(`${what} is empty`);
  }
  if (segment === '.' || segment === '..') {
    throw new InvalidArgumentError(`${what} ${JSON.stringify(segment)} is not allowed`);
  }
  if (segment.includes('/') || segment.includes('\\') || segment.includes('\0')) {
    throw new InvalidArgumentError(`${what} ${JSON.stringify(segment)} contains '/', '\\' or NUL`);
  }
  if (segment.startsWith(TEMP_PREFIX)) {
    throw new InvalidArgumentError(`${what} ${JSON.stringify(segment)} uses the reserved prefix ${TEMP_PREFIX}`);
  }
  return segment;
}

/** Validates every segment of a key path. */
export function validateKeyPath(keypath: KeyPath): readonly string[] {
  if (!Array.isArray(keypath)) throw new InvalidArgumentError('key path must be an array of segments');
  for (const segment of keypath) validateSegment(segment);
  return keypath;
}
