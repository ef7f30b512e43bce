// hyparquet reads through an AsyncBuffer (byteLength + slice). These adapters serve it from a
// Backend with explicit byte ranges only (S3 servers disagree on suffix ranges), and let a reader
// fetch a whole row group in one request and then answer hyparquet's many small slices from memory.

import type { AsyncBuffer } from 'hyparquet';
import type { Backend, KeyPath } from '@andante/backend';

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return b.buffer;
  return b.slice().buffer as ArrayBuffer;
}

/** An AsyncBuffer over one backend object; byteLength from the caller (e.g. meta.size) or Backend.size. */
export async function backendAsyncBuffer(backend: Backend, keypath: KeyPath, name: string, byteLength?: number): Promise<AsyncBuffer> {
  const length = byteLength ?? (await backend.size(keypath, name));
  return {
    byteLength: length,
    slice: async (start: number, end?: number) => {
      const stop = Math.min(end ?? length, length);
      if (stop <= start) return new ArrayBuffer(0);
      return toArrayBuffer(await backend.readRange(keypath, name, start, stop - start));
    },
  };
}

/** An AsyncBuffer that answers slices inside prefetched ranges from memory and the rest from `inner`. */
export class PrefetchedBuffer implements AsyncBuffer {
  private readonly ranges: { start: number; bytes: Uint8Array }[] = [];

  constructor(private readonly inner: AsyncBuffer) {}

  get byteLength(): number {
    return this.inner.byteLength;
  }

  /** Serves [start, start + bytes.length) from bytes already fetched (e.g. a cached region). */
  add(start: number, bytes: Uint8Array): void {
    this.ranges.push({ start, bytes });
  }

  /** Fetches [start, end) in one request. */
  async prefetch(start: number, end: number): Promise<void> {
    if (end <= start) return;
    const bytes = new Uint8Array(await this.inner.slice(start, end));
    this.ranges.push({ start, bytes });
  }

  slice(start: number, end?: number): ArrayBuffer | Promise<ArrayBuffer> {
    const stop = end ?? this.byteLength;
    for (const r of this.ranges) {
      if (start >= r.start && stop <= r.start + r.bytes.length) {
        return r.bytes.slice(start - r.start, stop - r.start).buffer;
      }
    }
    return this.inner.slice(start, stop);
  }
}
