// Write-ahead log of trace segments. One file per (tenant, head block). A push is acknowledged
// only after its records are fsynced; concurrent appends share one write + fdatasync (group
// commit), so durability costs one disk flush per batch of pushes, not per push.
//
// Record layout (little endian):
//   u32 payloadLength | u32 crc32(payload) | payload
//   payload = traceId(16) | u64 startNs | u64 endNs | u32 spanCount | segment bytes
// A torn tail (short record or CRC mismatch) can only come from a write that was never
// acknowledged; replay stops there and truncates it.

import { readSync } from 'node:fs';
import { open, readdir, readFile, rename, rm, mkdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { BlockMeta, TraceSegment } from '@andante/model';

const HEADER_BYTES = 8;
const FIXED_PAYLOAD_BYTES = 16 + 8 + 8 + 4;
const WAL_SUFFIX = '.wal';
const FLUSHED_SUFFIX = '.flushed.json';

interface PendingWrite {
  buffers: Buffer[];
  /** The file's size once this write is done. */
  end: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class WalFile {
  private pending: PendingWrite[] = [];
  private flushing = false;
  private closed = false;
  private bytes: number;
  private failed = false;
  private writtenBytes: number;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    initialBytes: number,
  ) {
    this.bytes = initialBytes;
    this.writtenBytes = initialBytes;
  }

  /** Opens (creating if needed) a WAL file for appending. */
  static async open(path: string): Promise<WalFile> {
    const fh = await open(path, 'a');
    const { size } = await fh.stat();
    return new WalFile(path, fh, size);
  }

  /** Bytes written so far, including records still waiting for their fsync. */
  get size(): number {
    return this.bytes;
  }

  /**
   * Every byte before this offset is written (and fsynced) where `append` said it would be, so a
   * WalReader may read it. It stops moving at a failed write: offsets past one are not to be trusted.
   */
  get written(): number {
    return this.writtenBytes;
  }

  /**
   * True while every append has been written where `append` said it would be: a failed write may
   * leave a partial record, after which offsets past it are not to be read back.
   */
  get intact(): boolean {
    return !this.failed;
  }

  /**
   * Resolves once every record is on disk (fdatasync done). With `offsets`, pushes there, as the
   * call returns, where each segment's bytes will lie in the file (for a WalReader, once written).
   */
  append(segments: readonly TraceSegment[], offsets?: number[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`WAL ${this.path} is closed`));
    const buffers: Buffer[] = [];
    for (const seg of segments) {
      const header = encodeRecordHeader(seg);
      buffers.push(header, Buffer.from(seg.bytes.buffer, seg.bytes.byteOffset, seg.bytes.byteLength));
      offsets?.push(this.bytes + header.length);
      this.bytes += header.length + seg.bytes.byteLength;
    }
    const end = this.bytes;
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ buffers, end, resolve, reject });
      if (!this.flushing) void this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        const buffers = batch.flatMap((p) => p.buffers);
        await writeAll(this.fh, buffers);
        await this.fh.datasync();
        if (!this.failed) this.writtenBytes = batch[batch.length - 1]!.end;
        for (const p of batch) p.resolve();
      } catch (err) {
        this.failed = true;
        for (const p of batch) p.reject(err as Error);
      }
    }
    this.flushing = false;
  }

  /** Waits for queued appends, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing || this.pending.length > 0) await new Promise((r) => setImmediate(r));
    this.closed = true;
    await this.fh.close();
  }

  /** Closes and deletes the file: its block is safely in the backend. */
  async remove(): Promise<void> {
    await this.close();
    await rm(this.path, { force: true });
  }
}

/** Ranges read together by `WalReader.readMany` when no more than this lies between them. */
const COALESCE_GAP_BYTES = 64 * 1024;
/** The largest single read `readMany` makes of ranges lying close together. */
const COALESCE_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Reads segments back from a WAL file by the offsets `WalFile.append` reported (once written). Its
 * descriptor stays open, so the file reads on after it is deleted, until the reader is retired and
 * no read it let begin (acquire) is still going.
 */
export class WalReader {
  private users = 0;
  private retired = false;
  private closing: Promise<void> | null = null;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  static async open(path: string): Promise<WalReader> {
    return new WalReader(path, await open(path, 'r'));
  }

  /** Keeps the file open until the matching release(); false once retired (read nothing then). */
  acquire(): boolean {
    if (this.retired) return false;
    this.users++;
    return true;
  }

  release(): void {
    this.users--;
    if (this.retired && this.users === 0) void this.close();
  }

  /** No new readers; the file closes once the current ones release it. */
  retire(): Promise<void> {
    this.retired = true;
    return this.users === 0 ? this.close() : Promise.resolve();
  }

  /** `length` bytes at `offset`; a short read (a file changed under it) throws. Call between acquire() and release(). */
  async read(offset: number, length: number, arena?: ReadArena): Promise<Uint8Array> {
    const buf = arena ? arena.take(length) : unfilledBytes(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw pastEnd(this.path, offset, length);
      done += bytesRead;
    }
    return buf;
  }

  /**
   * The bytes of every `[offset, length]` pair of `ranges`, in their order. Ranges lying close
   * together in the file are read with one call (a scan's traces were mostly appended one after
   * another); the results are views into that read's buffer, taken from `arena` if given. Call
   * between acquire() and release().
   */
  async readMany(ranges: readonly number[], arena?: ReadArena): Promise<Uint8Array[]> {
    const count = ranges.length / 2;
    const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => ranges[2 * a]! - ranges[2 * b]!);
    const out = new Array<Uint8Array>(count);
    const reads: Promise<void>[] = [];
    for (let i = 0; i < count; ) {
      const start = ranges[2 * order[i]!]!;
      let end = start + ranges[2 * order[i]! + 1]!;
      let j = i + 1;
      for (; j < count; j++) {
        const at = ranges[2 * order[j]!]!;
        const to = Math.max(end, at + ranges[2 * order[j]! + 1]!);
        if (at - end > COALESCE_GAP_BYTES || to - start > COALESCE_MAX_BYTES) break;
        end = to;
      }
      const members = order.slice(i, j);
      reads.push(
        this.read(start, end - start, arena).then((buf) => {
          for (const k of members) out[k] = buf.subarray(ranges[2 * k]! - start, ranges[2 * k]! - start + ranges[2 * k + 1]!);
        }),
      );
      i = j;
    }
    await Promise.all(reads);
    return out;
  }

  private close(): Promise<void> {
    this.closing ??= this.fh.close();
    return this.closing;
  }
}

function pastEnd(path: string, offset: number, length: number): Error {
  return new Error(`WAL ${path}: ${length} bytes at ${offset} run past its end`);
}

/**
 * The bytes of `ranges` ([offset, length] pairs) of the WAL file open as `fd`, concatenated, read
 * synchronously: for a thread that does nothing else meanwhile (an encoder worker).
 */
export function readRangesSync(fd: number, path: string, ranges: readonly number[]): Uint8Array {
  let size = 0;
  for (let i = 1; i < ranges.length; i += 2) size += ranges[i]!;
  const out = unfilledBytes(size);
  let at = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    const length = ranges[i + 1]!;
    for (let done = 0; done < length; ) {
      const n = readSync(fd, out, at + done, length - done, ranges[i]! + done);
      if (n === 0) throw pastEnd(path, ranges[i]!, length);
      done += n;
    }
    at += length;
  }
  return out;
}

/** Bytes not zero-filled first (every byte is read into); a plain Uint8Array, as segments are elsewhere. */
function unfilledBytes(length: number): Uint8Array {
  const unfilled = Buffer.allocUnsafe(length);
  return new Uint8Array(unfilled.buffer, unfilled.byteOffset, length);
}

/**
 * Memory for reads whose results are all dropped before it is used again (a scan's batch of
 * traces, visited and let go): `reset` makes its bytes free for the next batch, so a scan does not
 * allocate (and fault in) fresh memory for every trace it reads.
 */
export class ReadArena {
  private chunk: Uint8Array = new Uint8Array(0);
  private used = 0;

  take(length: number): Uint8Array {
    if (this.used + length > this.chunk.length) {
      // Views already handed out keep the old chunk until they are dropped.
      this.chunk = unfilledBytes(Math.max(length, 2 * this.chunk.length, 1024 * 1024));
      this.used = 0;
    }
    const bytes = this.chunk.subarray(this.used, this.used + length);
    this.used += length;
    return bytes;
  }

  /** Every view taken so far is dropped: their bytes are reused. */
  reset(): void {
    this.used = 0;
  }
}

async function writeAll(fh: FileHandle, buffers: Buffer[]): Promise<void> {
  // writev may write partially; continue from where it stopped.
  let remaining = buffers;
  // IOV_MAX is 1024 on Linux; larger batches go in chunks.
  while (remaining.length > 0) {
    const chunk = remaining.slice(0, 1024);
    const total = chunk.reduce((n, b) => n + b.length, 0);
    const { bytesWritten } = await fh.writev(chunk);
    if (bytesWritten === total) {
      remaining = remaining.slice(chunk.length);
      continue;
    }
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const b of remaining) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      rest.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    remaining = rest;
  }
}

function encodeRecordHeader(seg: TraceSegment): Buffer {
  const head = Buffer.allocUnsafe(HEADER_BYTES + FIXED_PAYLOAD_BYTES);
  const payloadLength = FIXED_PAYLOAD_BYTES + seg.bytes.byteLength;
  head.writeUInt32LE(payloadLength, 0);
  head.set(seg.traceId.subarray(0, 16), HEADER_BYTES);
  head.writeBigUInt64LE(seg.startTimeUnixNano, HEADER_BYTES + 16);
  head.writeBigUInt64LE(seg.endTimeUnixNano, HEADER_BYTES + 24);
  head.writeUInt32LE(seg.spanCount, HEADER_BYTES + 32);
  let crc = crc32(head.subarray(HEADER_BYTES));
  crc = crc32(seg.bytes, crc);
  head.writeUInt32LE(crc, 4);
  return head;
}

/** A segment found in a WAL file: its record's fields, and where its bytes lie (for a WalReader). */
export interface WalRecord {
  traceId: Uint8Array;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  spanCount: number;
  /** Offset of the segment's bytes in the file, as `WalFile.append` reported it. */
  offset: number;
  length: number;
}

export interface WalReplay {
  records: WalRecord[];
  /** Bytes of a torn tail that were dropped (never acknowledged). */
  truncatedBytes: number;
}

/** How much of a WAL file a replay reads at a time (more only for a larger record). */
const REPLAY_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * Checks every record of a WAL file and truncates a torn tail in place. Reads the file a chunk at a
 * time and keeps no segment bytes: a replayed block is read from its file like any sealed one, so a
 * restart with a large WAL does not need it in memory.
 */
export async function replayWalFile(path: string): Promise<WalReplay> {
  const fh = await open(path, 'r+');
  try {
    const { size } = await fh.stat();
    const records: WalRecord[] = [];
    let buf = Buffer.allocUnsafe(Math.max(HEADER_BYTES, Math.min(REPLAY_CHUNK_BYTES, size)));
    let bufStart = 0; // file offset of buf[0]
    let bufLength = 0; // bytes of buf read from the file
    let pos = 0; // file offset of the next record
    /** Makes buf hold the file's bytes [pos, pos + need); false if the file ends first. */
    const hold = async (need: number): Promise<boolean> => {
      if (pos + need > size) return false;
      if (pos + need <= bufStart + bufLength) return true;
      const kept = bufStart + bufLength - pos;
      const into = need > buf.length ? Buffer.allocUnsafe(Math.max(need, 2 * buf.length)) : buf;
      buf.copy(into, 0, pos - bufStart, pos - bufStart + kept);
      buf = into;
      bufStart = pos;
      bufLength = kept;
      while (bufLength < buf.length && bufStart + bufLength < size) {
        const { bytesRead } = await fh.read(buf, bufLength, Math.min(buf.length - bufLength, size - bufStart - bufLength), bufStart + bufLength);
        if (bytesRead === 0) break;
        bufLength += bytesRead;
      }
      return pos + need <= bufStart + bufLength;
    };
    while (await hold(HEADER_BYTES)) {
      const payloadLength = buf.readUInt32LE(pos - bufStart);
      const crc = buf.readUInt32LE(pos - bufStart + 4);
      if (payloadLength < FIXED_PAYLOAD_BYTES || !(await hold(HEADER_BYTES + payloadLength))) break;
      const start = pos - bufStart + HEADER_BYTES;
      const payload = buf.subarray(start, start + payloadLength);
      if (crc32(payload) !== crc) break;
      records.push({
        traceId: new Uint8Array(payload.subarray(0, 16)),
        startTimeUnixNano: payload.readBigUInt64LE(16),
        endTimeUnixNano: payload.readBigUInt64LE(24),
        spanCount: payload.readUInt32LE(32),
        offset: pos + HEADER_BYTES + FIXED_PAYLOAD_BYTES,
        length: payloadLength - FIXED_PAYLOAD_BYTES,
      });
      pos += HEADER_BYTES + payloadLength;
    }
    const truncatedBytes = size - pos;
    if (truncatedBytes > 0) await fh.truncate(pos);
    return { records, truncatedBytes };
  } finally {
    await fh.close();
  }
}

export interface WalEntry {
  tenantId: string;
  blockId: string;
  path: string;
}

/** A block written from this WAL folder, remembered so a restarted ingester still names it to readers. */
export interface FlushedRecord {
  tenantId: string;
  meta: BlockMeta;
  flushedMs: number;
  path: string;
}

/**
 * The WAL folder: `<root>/<tenant>/<blockId>.wal`, and `<blockId>.flushed.json` for blocks flushed
 * recently (Tempo's ingesters keep complete blocks on local disk across restarts for the same
 * reason). Tenant IDs are validated by the caller.
 */
export class Wal {
  constructor(readonly root: string) {}

  async create(tenantId: string, blockId: string): Promise<WalFile> {
    await mkdir(join(this.root, tenantId), { recursive: true });
    return WalFile.open(this.pathFor(tenantId, blockId));
  }

  /** Deletes a WAL file once its block is safely in the backend. */
  async removeFile(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  pathFor(tenantId: string, blockId: string): string {
    return join(this.root, tenantId, blockId + WAL_SUFFIX);
  }

  /** Remembers a flushed block; resolves once the record is durable. */
  async recordFlushed(meta: BlockMeta, flushedMs: number): Promise<string> {
    const dir = join(this.root, meta.tenantID);
    const path = join(dir, meta.blockID + FLUSHED_SUFFIX);
    const tmp = `${path}.tmp`;
    await mkdir(dir, { recursive: true });
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(JSON.stringify({ flushedMs, meta }));
      await file.datasync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
    return path;
  }

  /** Flushed-block records left from a previous run; unreadable ones are removed. */
  async listFlushed(): Promise<FlushedRecord[]> {
    const out: FlushedRecord[] = [];
    for (const tenantId of (await readdir(this.root).catch(() => [] as string[])).sort()) {
      for (const f of (await readdir(join(this.root, tenantId)).catch(() => [] as string[])).sort()) {
        if (!f.endsWith(FLUSHED_SUFFIX)) continue;
        const path = join(this.root, tenantId, f);
        try {
          const { flushedMs, meta } = JSON.parse(await readFile(path, 'utf8')) as { flushedMs: number; meta: BlockMeta };
          if (typeof flushedMs !== 'number' || meta?.tenantID !== tenantId) throw new Error('not a flushed-block record');
          out.push({ tenantId, meta, flushedMs, path });
        } catch {
          await rm(path, { force: true }); // a torn record: the block is in the backend's listing anyway
        }
      }
    }
    return out;
  }

  /** Every WAL file left from a previous run, oldest block first within a tenant. */
  async list(): Promise<WalEntry[]> {
    const out: WalEntry[] = [];
    const tenants = await readdir(this.root).catch(() => [] as string[]);
    for (const tenantId of tenants.sort()) {
      const files = await readdir(join(this.root, tenantId)).catch(() => [] as string[]);
      for (const f of files.sort()) {
        if (!f.endsWith(WAL_SUFFIX)) continue;
        out.push({ tenantId, blockId: f.slice(0, -WAL_SUFFIX.length), path: join(this.root, tenantId, f) });
      }
    }
    return out;
  }
}
