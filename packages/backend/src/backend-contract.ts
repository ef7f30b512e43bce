// The behaviour every Backend must show, as a vitest suite a backend's test file runs with its own
// factory (local disk here; S3 later). Not exported from index.ts: it imports vitest, which has
// no place in the runtime graph of the packages that depend on @andante/backend.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend, KeyPath } from './backend.js';
import type { KnownServerBugs } from './test-s3-servers.js';

export type BackendFactory = () => Backend | Promise<Backend>;

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

/**
 * `bugs`: protocol bugs of the server under the backend (see test-s3-servers.ts), which the
 * contract states instead of hiding; none for local disk.
 */
export function runBackendContract(name: string, makeBackend: BackendFactory, bugs: Partial<KnownServerBugs> = {}): void {
  describe(`Backend contract: ${name}`, () => {
    const open: Backend[] = [];
    const make = async (): Promise<Backend> => {
      const b = await makeBackend();
      open.push(b);
      return b;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((b) => b.close()));
    });

    it('reads back exactly what was written, including every byte value', async () => {
      const b = await make();
      const data = Uint8Array.from({ length: 256 * 4 }, (_, i) => i % 256);
      await b.write(['tenant-a', 'block-1'], 'data', data);
      expect(await b.read(['tenant-a', 'block-1'], 'data')).toEqual(data);
      expect(await b.size(['tenant-a', 'block-1'], 'data')).toBe(data.length);
    });

    it('writes empty and large objects', async () => {
      const b = await make();
      await b.write(['t'], 'empty', new Uint8Array(0));
      expect(await b.read(['t'], 'empty')).toEqual(new Uint8Array(0));
      expect(await b.size(['t'], 'empty')).toBe(0);
      const big = new Uint8Array(randomBytes(5 * 1024 * 1024));
      await b.write(['t'], 'big', big);
      expect(Buffer.compare(await b.read(['t'], 'big'), big)).toBe(0);
    });

    it('overwrites an existing object', async () => {
      const b = await make();
      await b.write(['t', 'b'], 'x', bytes(1, 2, 3));
      await b.write(['t', 'b'], 'x', bytes(9));
      expect(await b.read(['t', 'b'], 'x')).toEqual(bytes(9));
    });

    it('reads explicit byte ranges', async () => {
      const b = await make();
      const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 251);
      await b.write(['t', 'b'], 'data.parquet', data);
      expect(await b.readRange(['t', 'b'], 'data.parquet', 0, 10)).toEqual(data.subarray(0, 10));
      expect(await b.readRange(['t', 'b'], 'data.parquet', 500, 123)).toEqual(data.subarray(500, 623));
      expect(await b.readRange(['t', 'b'], 'data.parquet', 992, 8)).toEqual(data.subarray(992));
      expect(await b.readRange(['t', 'b'], 'data.parquet', 0, 1000)).toEqual(data);
      expect(await b.readRange(['t', 'b'], 'data.parquet', 1000, 0)).toEqual(new Uint8Array(0));
    });

    it('ranged reads see an object replaced or deleted since the last read', async () => {
      const b = await make();
      await b.write(['t', 'b'], 'o', bytes(1, 2, 3, 4));
      expect(await b.readRange(['t', 'b'], 'o', 1, 2)).toEqual(bytes(2, 3));
      await b.write(['t', 'b'], 'o', bytes(9, 8, 7, 6, 5));
      expect(await b.readRange(['t', 'b'], 'o', 1, 4)).toEqual(bytes(8, 7, 6, 5));
      await b.delete(['t', 'b'], 'o');
      await expectCode(b.readRange(['t', 'b'], 'o', 0, 1), 'NOT_FOUND');
      // Many reads at once of one object (they may share one open file).
      await b.write(['t', 'b'], 'o', Uint8Array.from({ length: 256 }, (_, i) => i));
      const parts = await Promise.all(Array.from({ length: 32 }, (_, i) => b.readRange(['t', 'b'], 'o', i * 8, 8)));
      expect(parts.map((p) => p[0])).toEqual(Array.from({ length: 32 }, (_, i) => i * 8));
    });

    it('rejects a range past the end of the object', async () => {
      const b = await make();
      await b.write(['t'], 'o', new Uint8Array(10));
      await expectCode(b.readRange(['t'], 'o', 5, 6), 'INVALID_ARGUMENT');
      await expectCode(b.readRange(['t'], 'o', -1, 2), 'INVALID_ARGUMENT');
    });

    it('throws NotFoundError for missing objects and folders', async () => {
      const b = await make();
      await b.write(['t', 'b'], 'present', bytes(1));
      for (const [kp, n] of [
        [['t', 'b'], 'absent'],
        [['t', 'nope'], 'present'],
        [['nobody'], 'x'],
        [['t'], 'b'], // a folder is not an object
        [['t', 'b', 'present'], 'x'], // an object is not a folder
      ] as [KeyPath, string][]) {
        await expectCode(b.read(kp, n), 'NOT_FOUND');
        await expectCode(b.readRange(kp, n, 0, 1), 'NOT_FOUND');
        await expectCode(b.size(kp, n), 'NOT_FOUND');
      }
    });

    it('lists immediate children: sub-paths and objects', async () => {
      const b = await make();
      await b.write(['t1', 'b1'], 'meta.json', bytes(1));
      await b.write(['t1', 'b1'], 'data.parquet', bytes(2));
      await b.write(['t1', 'b2'], 'meta.json', bytes(3));
      await b.write(['t1'], 'index.json.gz', bytes(4));
      await b.write(['t2', 'b3'], 'meta.json', bytes(5));
      // t2 holds objects two levels down only (missed by s3rver's delimiter listing; scanKeys finds it).
      expect((await b.list([])).sort()).toEqual(bugs.delimiterMissesDeepFolders ? ['t1'] : ['t1', 't2']);
      expect((await b.list(['t1'])).sort()).toEqual(['b1', 'b2', 'index.json.gz']);
      expect((await b.list(['t1', 'b1'])).sort()).toEqual(['data.parquet', 'meta.json']);
      expect(await b.list(['t1', 'missing'])).toEqual([]);
      expect(await b.list(['nobody', 'at', 'all'])).toEqual([]);
    });

    it('scans keys at any depth in byte order after a marker, and so finds every top-level folder', async () => {
      const b = await make();
      const keys = ['a.txt', 'a/x/1', 'a/x/2', 'a/y', 'a0/z/meta.json', 'b/c/d/e', 'top'];
      for (const k of keys) {
        const parts = k.split('/');
        await b.write(parts.slice(0, -1), parts.at(-1)!, bytes(1));
      }
      // s3rver lists folder by folder; S3 (and the local backend) in byte order.
      const bySegments = (x: string, y: string): number => {
        const [p, q] = [x.split('/'), y.split('/')];
        for (let i = 0; i < Math.min(p.length, q.length); i++) if (p[i] !== q[i]) return p[i]! < q[i]! ? -1 : 1;
        return p.length - q.length;
      };
      const ordered = bugs.keysInFolderOrder ? [...keys].sort(bySegments) : keys;
      const after = (marker: string, n: number): string[] => ordered.filter((k) => k > marker).slice(0, n);
      expect(await b.scanKeys([], '', 100)).toEqual(ordered);
      expect(await b.scanKeys([], '', 2)).toEqual(after('', 2));
      expect(await b.scanKeys([], 'a/x/1', 2)).toEqual(after('a/x/1', 2));
      // "a0" is the first string after every "a/..." key ('0' follows '/'): one call per folder.
      expect(await b.scanKeys([], 'a0', 1)).toEqual(['a0/z/meta.json']);
      expect(await b.scanKeys(['a'], '', 10)).toEqual(['x/1', 'x/2', 'y']);
      expect(await b.scanKeys(['a'], 'x0', 10)).toEqual(['y']);
      expect(await b.scanKeys([], 'top', 10)).toEqual([]);
      expect(await b.scanKeys(['nobody'], '', 10)).toEqual([]);
    });

    it('deletes objects; deleting a missing object is fine', async () => {
      const b = await make();
      await b.write(['t', 'b'], 'x', bytes(1));
      await b.write(['t', 'b'], 'y', bytes(2));
      await b.delete(['t', 'b'], 'x');
      await expectCode(b.read(['t', 'b'], 'x'), 'NOT_FOUND');
      expect(await b.read(['t', 'b'], 'y')).toEqual(bytes(2));
      expect(await b.list(['t', 'b'])).toEqual(['y']);
      await b.delete(['t', 'b'], 'x');
      await b.delete(['t', 'nothing'], 'x');
      await b.delete(['t', 'b'], 'y');
      expect(await b.list(['t', 'b'])).toEqual([]);
      // The key path can be used again after its last object went.
      await b.write(['t', 'b'], 'z', bytes(3));
      expect(await b.read(['t', 'b'], 'z')).toEqual(bytes(3));
    });

    it('keeps concurrent writers to one key whole: the result is one of the writes, never a mix', async () => {
      const b = await make();
      const versions = Array.from({ length: 16 }, (_, i) => new Uint8Array(256 * 1024).fill(i + 1));
      const reads: Promise<Uint8Array | null>[] = [];
      await Promise.all(
        versions.map(async (v, i) => {
          await b.write(['t', 'b'], 'contended', v);
          if (i % 4 === 0) reads.push(b.read(['t', 'b'], 'contended').catch(() => null));
        }),
      );
      const isWhole = (d: Uint8Array): boolean =>
        d.length === 256 * 1024 && d.every((x) => x === d[0]) && d[0]! >= 1 && d[0]! <= 16;
      const raced = await Promise.all(reads);
      // A server that writes objects in place (s3rver: nonAtomicWrites) can answer a read that races
      // a write with a torn object, and can even keep one when two writes interleave (seen once in
      // CI's Node 24 pass): its bug, stated here and checked on the servers that write as S3.
      if (!bugs.nonAtomicWrites) {
        for (const r of raced) if (r) expect(isWhole(r)).toBe(true);
        expect(isWhole(await b.read(['t', 'b'], 'contended'))).toBe(true);
      } else {
        const last = await b.read(['t', 'b'], 'contended');
        expect(last.length).toBe(256 * 1024);
      }
      expect(await b.list(['t', 'b'])).toEqual(['contended']);
    });

    it('runs writes and deletes of sibling keys concurrently', async () => {
      const b = await make();
      await Promise.all(Array.from({ length: 20 }, (_, i) => b.write(['t', `b${i}`], 'o', bytes(i))));
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? b.delete(['t', `b${i}`], 'o') : Promise.resolve())));
      const left = await b.list(['t']);
      expect(left.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `b${i * 2}`).sort());
    });

    const badSegments = ['', '.', '..', 'a/b', '/abs', 'a\\b', '..\\x', 'nul\0byte'];
    it.each(badSegments)('rejects the unsafe segment %j in key paths and names', async (bad) => {
      const b = await make();
      const calls: (() => Promise<unknown>)[] = [
        () => b.write([bad], 'x', bytes(1)),
        () => b.write(['t', bad], 'x', bytes(1)),
        () => b.write(['t'], bad, bytes(1)),
        () => b.read([bad], 'x'),
        () => b.read(['t'], bad),
        () => b.readRange([bad], 'x', 0, 1),
        () => b.size(['t'], bad),
        () => b.list([bad]),
        () => b.list(['t', bad]),
        () => b.delete([bad], 'x'),
        () => b.delete(['t'], bad),
      ];
      for (const call of calls) await expectCode(call(), 'INVALID_ARGUMENT');
    });

    it('never lets a path escape: nothing outside is readable through ..', async () => {
      const b = await make();
      await b.write(['t'], 'secret', bytes(42));
      await expectCode(b.read(['t', 'x', '..'], 'secret'), 'INVALID_ARGUMENT');
      await expectCode(b.read(['..', 't'], 'secret'), 'INVALID_ARGUMENT');
      await expectCode(b.read([], '../t/secret'), 'INVALID_ARGUMENT');
    });
  });
}
