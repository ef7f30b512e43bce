// Object storage on a local folder: <root>/<segment>/.../<name>. Objects are written to a temp
// file in the target folder, fsynced, renamed over the target, and the folder is fsynced, so a
// crash leaves either the old object, the new one, or a hidden temp file: never a torn object.

import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, NotFoundError } from '@andante/model';
import type { Backend, KeyPath } from './backend.js';
import { TEMP_PREFIX, validateKeyPath, validateSegment } from './key-path.js';

/** Files kept open for ranged reads (a search reads one data file in many ranges). */
const OPEN_HANDLES = 64;

const ORPHANED_HANDLES = new FinalizationRegistry<HandleCache>((handles) => void handles.closeAll());

/** How often a write retries when a concurrent delete removed its (emptied) folder meanwhile. */
const WRITE_ATTEMPTS = 5;

export class LocalBackend implements Backend {
  readonly root: string;
  private readonly handles = new HandleCache(OPEN_HANDLES);

  constructor(root: string) {
    if (typeof root !== 'string' || root.length === 0) throw new InvalidArgumentError('local backend root folder is empty');
    this.root = resolve(root);
    // A backend dropped without close() must not leave its files to the garbage collector (Node
    // warns, and means to throw): the registry holds the cache and closes it when the backend goes.
    ORPHANED_HANDLES.register(this, this.handles, this);
  }

  async write(keypath: KeyPath, name: string, data: Uint8Array): Promise<void> {
    const dir = this.dirFor(keypath);
    const target = join(dir, validateSegment(name, 'object name'));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ensureDir(dir);
        await writeAtomic(dir, target, data);
        return;
      } catch (err) {
        // A concurrent delete may have removed the emptied folder between mkdir and open.
        if (code(err) === 'ENOENT' && attempt < WRITE_ATTEMPTS) continue;
        throw err;
      }
    }
  }

  async read(keypath: KeyPath, name: string): Promise<Uint8Array> {
    const path = this.objectPath(keypath, name);
    try {
      const buf = await readFile(path);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      throw mapMissing(err, keypath, name);
    }
  }

  async readRange(keypath: KeyPath, name: string, offset: number, length: number): Promise<Uint8Array> {
    const path = this.objectPath(keypath, name);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new InvalidArgumentError(`invalid range offset=${offset} length=${length}`);
    }
    const handle = await this.handles.acquire(path).catch((err: unknown) => {
      throw mapMissing(err, keypath, name);
    });
    try {
      if (offset + length > handle.size) {
        throw new InvalidArgumentError(
          `range ${offset}+${length} is beyond the end of ${describe(keypath, name)} (${handle.size} bytes)`,
        );
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.fh.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new Error(`short read of ${describe(keypath, name)}`);
        done += bytesRead;
      }
      return out;
    } catch (err) {
      throw mapMissing(err, keypath, name);
    } finally {
      this.handles.release(handle);
    }
  }

  async size(keypath: KeyPath, name: string): Promise<number> {
    const path = this.objectPath(keypath, name);
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new NotFoundError(`object ${describe(keypath, name)} not found`);
      return st.size;
    } catch (err) {
      throw mapMissing(err, keypath, name);
    }
  }

  async list(keypath: KeyPath): Promise<string[]> {
    const dir = this.dirFor(keypath);
    try {
      const names = await readdir(dir);
      return names.filter((n) => !n.startsWith(TEMP_PREFIX)).sort();
    } catch (err) {
      const c = code(err);
      if (c === 'ENOENT' || c === 'ENOTDIR') return [];
      throw err;
    }
  }

  async scanKeys(keypath: KeyPath, startAfter: string, limit: number): Promise<string[]> {
    const out: string[] = [];
    if (limit <= 0) return out;
    // Depth first, entries in key order ("a.txt" < "a/..." since '.' < '/'), skipping folders
    // whose keys all sort at or before startAfter.
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        const c = code(err);
        if (c === 'ENOENT' || c === 'ENOTDIR') return;
        throw err;
      }
      const ordered = entries
        .filter((e) => !e.name.startsWith(TEMP_PREFIX))
        .map((e) => ({ key: rel + e.name + (e.isDirectory() ? '/' : ''), entry: e }))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      for (const { key, entry } of ordered) {
        if (out.length >= limit) return;
        if (entry.isDirectory()) {
          if (key <= startAfter && !startAfter.startsWith(key)) continue;
          await walk(join(dir, entry.name), key);
        } else if (key > startAfter) {
          out.push(key);
        }
      }
    };
    await walk(this.dirFor(keypath), '');
    return out;
  }

  async delete(keypath: KeyPath, name: string): Promise<void> {
    const path = this.objectPath(keypath, name);
    try {
      await unlink(path);
    } catch (err) {
      const c = code(err);
      if (c === 'ENOENT' || c === 'ENOTDIR') return;
      throw err;
    }
    await this.removeEmptyDirs(dirname(path));
  }

  async close(): Promise<void> {
    ORPHANED_HANDLES.unregister(this);
    await this.handles.closeAll();
  }

  private dirFor(keypath: KeyPath): string {
    return join(this.root, ...validateKeyPath(keypath));
  }

  private objectPath(keypath: KeyPath, name: string): string {
    return join(this.dirFor(keypath), validateSegment(name, 'object name'));
  }

  /** Creates `dir` and fsyncs the parent of every folder it created, so the folders survive a crash. */
  private async ensureDir(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true });
    if (first === undefined) return;
    for (let d = dir; ; d = dirname(d)) {
      await fsyncDir(dirname(d));
      if (d === first || d === this.root || dirname(d) === d) break;
    }
  }

  /** Removes folders emptied by a delete, up to but not including the root (best effort). */
  private async removeEmptyDirs(dir: string): Promise<void> {
    for (let d = dir; d !== this.root && d.startsWith(this.root); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return; // not empty (or already gone): stop climbing
      }
    }
  }
}

async function writeAtomic(dir: string, target: string, data: Uint8Array): Promise<void> {
  const tmp = join(dir, TEMP_PREFIX + randomUUID());
  const fh = await open(tmp, 'wx');
  let renamed = false;
  try {
    let done = 0;
    while (done < data.byteLength) {
      const { bytesWritten } = await fh.write(data, done, data.byteLength - done);
      done += bytesWritten;
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, target);
    renamed = true;
    await fsyncDir(dir);
  } finally {
    if (!renamed) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
    }
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function describe(keypath: KeyPath, name: string): string {
  return [...keypath, name].join('/');
}

/** Maps "no such object" errno values to NotFoundError; passes anything else through. */
function mapMissing(err: unknown, keypath: KeyPath, name: string): unknown {
  const c = code(err);
  if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'EISDIR') {
    return new NotFoundError(`object ${describe(keypath, name)} not found`);
  }
  return err;
}

interface OpenFile {
  path: string;
  fh: FileHandle;
  /** Identity of the file this handle reads: a rename over the path makes a new one. */
  ino: number;
  dev: number;
  size: number;
  refs: number;
  evicted: boolean;
}

/**
 * Open handles for ranged reads, least recently used evicted. Opening a file costs more than the
 * read of a small range on most systems, and a block search reads many ranges of one file. Each
 * use checks the path still names the same file (one stat): objects replaced by rename or deleted
 * are seen at once, exactly as without the cache.
 */
class HandleCache {
  private readonly open = new Map<string, OpenFile>();

  constructor(private readonly capacity: number) {}

  async acquire(path: string): Promise<OpenFile> {
    const st = await stat(path);
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a file`), { code: 'EISDIR' });
    const cached = this.open.get(path);
    if (cached && cached.ino === st.ino && cached.dev === st.dev) {
      this.open.delete(path); // most recently used last
      this.open.set(path, cached);
      cached.refs++;
      return cached;
    }
    if (cached) this.evict(cached);
    const fh = await open(path, 'r');
    const fst = await fh.stat();
    const entry: OpenFile = { path, fh, ino: fst.ino, dev: fst.dev, size: fst.size, refs: 1, evicted: false };
    const raced = this.open.get(path);
    if (raced) this.evict(raced);
    this.open.set(path, entry);
    while (this.open.size > this.capacity) this.evict(this.open.values().next().value!);
    return entry;
  }

  release(entry: OpenFile): void {
    entry.refs--;
    if (entry.evicted && entry.refs === 0) void entry.fh.close().catch(() => undefined);
  }

  private evict(entry: OpenFile): void {
    if (this.open.get(entry.path) === entry) this.open.delete(entry.path);
    entry.evicted = true;
    if (entry.refs === 0) void entry.fh.close().catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    const entries = [...this.open.values()];
    this.open.clear();
    for (const e of entries) {
      e.evicted = true;
      if (e.refs === 0) await e.fh.close().catch(() => undefined);
    }
  }
}
