import { mkdtemp, appendFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { TraceSegment } from '@andante/model';
import { ReadArena, Wal, WalFile, WalReader, replayWalFile } from './wal.js';

function segment(n: number, size = 50): TraceSegment {
  const traceId = new Uint8Array(16);
  traceId[15] = n;
  traceId[0] = 1;
  return {
    traceId,
    bytes: new Uint8Array(size).fill(n),
    spanCount: n + 1,
    startTimeUnixNano: 1_700_000_000_123_456_789n + BigInt(n),
    endTimeUnixNano: 1_700_000_001_123_456_789n + BigInt(n),
  };
}

/** Replays a WAL file and reads each segment's bytes back where the replay says they lie. */
async function replaySegments(path: string): Promise<{ segments: TraceSegment[]; truncatedBytes: number }> {
  const { records, truncatedBytes } = await replayWalFile(path);
  const reader = await WalReader.open(path);
  reader.acquire();
  const bytes = await reader.readMany(records.flatMap((r) => [r.offset, r.length]));
  reader.release();
  await reader.retire();
  const segments = records.map(({ traceId, startTimeUnixNano, endTimeUnixNano, spanCount }, i) => ({ traceId, bytes: bytes[i]!, spanCount, startTimeUnixNano, endTimeUnixNano }));
  return { segments, truncatedBytes };
}

describe('WAL', () => {
  it('says where each appended segment lies, and a WalReader reads them back while open, after the file is deleted too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wal-'));
    const file = await new Wal(dir).create('tenant-a', 'block-1');
    const segs = Array.from({ length: 40 }, (_, i) => segment(i, 10 + i));
    const offsets: number[] = [];
    // Concurrent appends: each reports its places as it is queued, in queue order.
    await Promise.all([0, 10, 20, 30].map((at) => file.append(segs.slice(at, at + 10), offsets)));
    expect(offsets).toHaveLength(40);
    expect(file.intact).toBe(true);
    await file.close();

    const reader = await WalReader.open(file.path);
    expect(reader.acquire()).toBe(true);
    for (const [i, seg] of segs.entries()) expect(await reader.read(offsets[i]!, seg.bytes.byteLength)).toEqual(seg.bytes);
    await expect(reader.read((await stat(file.path)).size - 4, 8)).rejects.toThrow(/past its end/);

    // Retired while a read is allowed: no new reader, but the file stays open, even deleted.
    await reader.retire();
    expect(reader.acquire()).toBe(false);
    await rm(file.path);
    expect(await reader.read(offsets[39]!, segs[39]!.bytes.byteLength)).toEqual(segs[39]!.bytes);
    reader.release();
    await new Promise((r) => setImmediate(r));
    await expect(reader.read(offsets[0]!, 1)).rejects.toThrow();
  });

  it('reads many ranges back in their order, close ones with one read, and says how far the file is written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wal-'));
    const file = await new Wal(dir).create('tenant-a', 'block-1');
    expect(file.written).toBe(0);
    const segs = Array.from({ length: 30 }, (_, i) => segment(i, 20 + 7 * i));
    const offsets: number[] = [];
    const first = file.append(segs.slice(0, 20), offsets);
    expect(file.written).toBe(0); // queued, not written
    await first;
    const afterFirst = file.written;
    expect(afterFirst).toBe(offsets[19]! + segs[19]!.bytes.byteLength);
    // A segment past a large one that is not asked for: too far to share a read.
    const big = segment(99, 5 * 1024 * 1024);
    const far = segment(98, 30);
    await file.append([...segs.slice(20), big, far], offsets);
    expect(file.written).toBeGreaterThan(afterFirst);
    const reader = await WalReader.open(file.path);
    reader.acquire();
    const reads = vi.spyOn(reader, 'read');
    // Out of file order, with a repeat: answered in the order asked.
    const order = [29, 3, 0, 31, 17, 3, 12];
    const all = [...segs, big, far];
    const got = await reader.readMany(order.flatMap((i) => [offsets[i]!, all[i]!.bytes.byteLength]));
    expect(got).toEqual(order.map((i) => all[i]!.bytes));
    expect(reads).toHaveBeenCalledTimes(2);

    // Into an arena: after a reset the next reads reuse its memory.
    const arena = new ReadArena();
    const once = await reader.readMany([offsets[5]!, all[5]!.bytes.byteLength], arena);
    expect(once[0]).toEqual(all[5]!.bytes);
    arena.reset();
    const again = await reader.readMany([offsets[6]!, all[6]!.bytes.byteLength, offsets[7]!, all[7]!.bytes.byteLength], arena);
    expect(again).toEqual([all[6]!.bytes, all[7]!.bytes]);
    expect(again[0]!.buffer).toBe(once[0]!.buffer);
    reader.release();
    await reader.retire();
    await file.close();
  });

  it('replays exactly what was appended, across concurrent appends', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wal-'));
    const wal = new Wal(dir);
    const file = await wal.create('tenant-a', 'block-1');
    await Promise.all(Array.from({ length: 50 }, (_, i) => file.append([segment(i), segment(i + 100, 3)])));
    await file.close();

    const { segments, truncatedBytes } = await replaySegments(file.path);
    expect(truncatedBytes).toBe(0);
    expect(segments).toHaveLength(100);
    const byId = new Map(segments.map((s) => [s.traceId[15], s]));
    expect(byId.get(7)).toEqual(segment(7));
    expect(byId.get(107)).toEqual(segment(107, 3));
    expect(await wal.list()).toEqual([{ tenantId: 'tenant-a', blockId: 'block-1', path: file.path }]);
  });

  it('drops and truncates a torn tail but keeps every whole record', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wal-'));
    const file = await WalFile.open(join(dir, 'x.wal'));
    await file.append([segment(1), segment(2)]);
    await file.close();
    const goodSize = (await stat(file.path)).size;
    // A record header that promises more bytes than follow, as a crash mid-write leaves.
    await appendFile(file.path, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 9, 9]));

    const { segments, truncatedBytes } = await replaySegments(file.path);
    expect(segments.map((s) => s.traceId[15])).toEqual([1, 2]);
    expect(segments[1]).toEqual(segment(2));
    expect(truncatedBytes).toBe(10);
    expect((await stat(file.path)).size).toBe(goodSize);
  });

  it('stops at a record whose checksum does not match', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wal-'));
    const file = await WalFile.open(join(dir, 'x.wal'));
    await file.append([segment(1)]);
    await file.close();
    const second = await WalFile.open(file.path);
    await second.append([segment(2)]);
    await second.close();
    // Corrupt one byte of the second record's segment.
    const size = (await stat(file.path)).size;
    const { open } = await import('node:fs/promises');
    const fh = await open(file.path, 'r+');
    await fh.write(Buffer.from([0xff]), 0, 1, size - 1);
    await fh.close();
    const { segments } = await replaySegments(file.path);
    expect(segments.map((s) => s.traceId[15])).toEqual([1]);
  });

  it('replays a file larger than its read chunk, records across chunk ends and one larger than a chunk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wal-'));
    const file = await WalFile.open(join(dir, 'x.wal'));
    // ~12 MiB of 100 kB records (the 8 MiB chunk ends inside one), then a 9 MiB record, then more.
    const segs = [...Array.from({ length: 120 }, (_, i) => segment(i % 200, 100_003)), segment(200, 9 * 1024 * 1024), ...Array.from({ length: 30 }, (_, i) => segment(i, 77))];
    await file.append(segs);
    await file.close();
    const { segments, truncatedBytes } = await replaySegments(file.path);
    expect(truncatedBytes).toBe(0);
    // Compared as bytes: a deep equality over 21 MB of typed arrays would take minutes.
    expect(segments.map((x) => [x.traceId[15], x.bytes.byteLength])).toEqual(segs.map((x) => [x.traceId[15], x.bytes.byteLength]));
    expect(segments.every((x, i) => Buffer.compare(x.bytes, segs[i]!.bytes) === 0)).toBe(true);
  });
});
