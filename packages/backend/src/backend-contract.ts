// The behaviour every Backend must show, as a vitest suite a backend's test file runs with its own
// factory (local disk here; S3 later). Not exported from index.ts: it imports vitest, which has
// no place in the runtime graph of the packages that depend on @andante/backend.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend, KeyPath } from './backend.js';

export type BackendFactory = () => Backend | Promise<Backend>;

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

export function runBackendContract(name: string, makeBackend: BackendFactory): void {
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
      expect((await b.list([])).sort()).toEqual(['t1', 't2']);
      expect((await b.list(['t1'])).sort()).toEqual(['b1', 'b2', 'index.json.gz']);
      expect((await b.list(['t1', 'b1'])).sort()).toEqual(['data.parquet', 'meta.json']);
      expect(await b.list(['t1', 'missing'])).toEqual([]);
      expect(await b.list(['nobody', 'at', 'all'])).toEqual([]);
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
      for (const r of await Promise.all(reads)) if (r) expect(isWhole(r)).toBe(true);
      expect(isWhole(await b.read(['t', 'b'], 'contended'))).toBe(true);
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
