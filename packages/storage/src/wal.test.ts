import { mkdtemp, appendFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TraceSegment } from '@andante/model';
import { Wal, WalFile, replayWalFile } from './wal.js';

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

describe('WAL', () => {
  it('replays exactly what was appended, across concurrent appends', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wal-'));
    const wal = new Wal(dir);
    const file = await wal.create('tenant-a', 'block-1');
    await Promise.all(Array.from({ length: 50 }, (_, i) => file.append([segment(i), segment(i + 100, 3)])));
    await file.close();

    const { segments, truncatedBytes } = await replayWalFile(file.path);
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

    const { segments, truncatedBytes } = await replayWalFile(file.path);
    expect(segments.map((s) => s.traceId[15])).toEqual([1, 2]);
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
    const { segments } = await replayWalFile(file.path);
    expect(segments.map((s) => s.traceId[15])).toEqual([1]);
  });
});
