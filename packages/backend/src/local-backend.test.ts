import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBackendContract } from './backend-contract.js';
import { LocalBackend } from './local-backend.js';
import { TEMP_PREFIX } from './key-path.js';

const roots: string[] = [];
async function newRoot(): Promise<string> {
  const parent = await mkdtemp(join(tmpdir(), 'andante-local-'));
  roots.push(parent);
  // The root sits one level down so a test can check that nothing lands beside it.
  return join(parent, 'root');
}
afterAll(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

runBackendContract('LocalBackend', async () => new LocalBackend(await newRoot()));

describe('LocalBackend', () => {
  it('stores objects as files under the root and leaves no temp files', async () => {
    const root = await newRoot();
    const b = new LocalBackend(root);
    await b.write(['tenant', 'block'], 'meta.json', new TextEncoder().encode('{}'));
    expect(await readdir(join(root, 'tenant', 'block'))).toEqual(['meta.json']);
    expect(await readdir(join(root, '..'))).toEqual(['root']);
  });

  it('hides temp files left by a crashed write from listings', async () => {
    const root = await newRoot();
    const b = new LocalBackend(root);
    await mkdir(join(root, 't', 'b'), { recursive: true });
    await writeFile(join(root, 't', 'b', TEMP_PREFIX + 'crashed'), 'partial');
    await b.write(['t', 'b'], 'x', new Uint8Array([1]));
    expect(await b.list(['t', 'b'])).toEqual(['x']);
  });

  it('removes folders emptied by deletes, but never the root', async () => {
    const root = await newRoot();
    const b = new LocalBackend(root);
    await b.write(['t', 'b'], 'x', new Uint8Array([1]));
    await b.delete(['t', 'b'], 'x');
    expect(await readdir(root)).toEqual([]);
  });

  it('treats a missing root as empty', async () => {
    const b = new LocalBackend(join(await newRoot(), 'never-created'));
    expect(await b.list([])).toEqual([]);
    await expect(b.read(['t'], 'x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
