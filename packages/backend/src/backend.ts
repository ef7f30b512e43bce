// Object storage as Andante uses it: a few whole-object and ranged operations over keys made of
// validated path segments. Local disk and S3 implement the same interface.

/** Path segments leading to an object, e.g. [tenantId, blockId]. Each segment is validated. */
export type KeyPath = readonly string[];

export interface Backend {
  /** Writes an object atomically: a reader sees all of it or nothing (never a torn object). */
  write(keypath: KeyPath, name: string, data: Uint8Array): Promise<void>;
  /** Reads a whole object; rejects with NotFoundError (from @andante/model) when it does not exist. */
  read(keypath: KeyPath, name: string): Promise<Uint8Array>;
  /** Reads `length` bytes at `offset` (explicit ranges only: S3 servers disagree on suffix ranges). */
  readRange(keypath: KeyPath, name: string, offset: number, length: number): Promise<Uint8Array>;
  /** Object size in bytes; NotFoundError when missing. */
  size(keypath: KeyPath, name: string): Promise<number>;
  /** Names of the immediate children (sub-paths and objects) under keypath; [] when none. */
  list(keypath: KeyPath): Promise<string[]>;
  /**
   * Up to `limit` object keys below keypath at any depth, relative to it ('/'-joined), in byte
   * order, strictly after `startAfter`. A cross-check of `list`: it finds folders whose objects
   * all sit deeper down, which some S3-protocol servers' delimiter listings miss.
   */
  scanKeys(keypath: KeyPath, startAfter: string, limit: number): Promise<string[]>;
  /** Deletes an object; deleting a missing object is not an error. */
  delete(keypath: KeyPath, name: string): Promise<void>;
  close(): Promise<void>;
}
