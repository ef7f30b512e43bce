// Every kind of block we write is a Parquet file a standard reader opens: pyarrow (Apache Arrow's
// C++ Parquet reader, a second implementation sharing no code with hyparquet) reads data.parquet
// of each, and every leaf column of every row group must equal what our reader returns, read whole
// (hyparquet) and row by row through the offset index (the trace lookup's page selection). Column
// statistics must bound the values exactly (scans prune on them). issue 14 asks for this check
// before the block writer is replaced.
//
// pyarrow runs from a venv that scripts/install-test-peers.sh creates under ~/.cache/andante-tools
// (ANDANTE_TOOLS_DIR moves it).

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeTrace } from '@andante/model';
import { BlockEncoderPool, encodeBlock, encodeSegmentBlock, newBlockId } from '@andante/storage';
import type { BlockConfig, EncodedBlock, TraceEntry } from '@andante/storage';
import {
  STATISTICS_COLUMNS,
  encodeV1Block,
  randomTraces,
  readParquetCanonical,
  readParquetRowsCanonical,
} from '@andante/storage/testing';
import type { Canonical, CanonicalParquet } from '@andante/storage/testing';

// Keep equal to PYARROW_VERSION in scripts/install-test-peers.sh.
const PYARROW_VERSION = '25.0.1';
const PYTHON = join(process.env['ANDANTE_TOOLS_DIR'] ?? join(homedir(), '.cache', 'andante-tools'), `pyarrow-${PYARROW_VERSION}`, 'bin', 'python');

// Canonical values as in @andante/storage/testing's canonicalValue; per column chunk with
// statistics, whether min and max bound the values exactly (UTF-8 strings compare as bytes; byte
// arrays may be truncated to 16 bytes, the min to a prefix and the max rounded up).
const DUMP = String.raw`
import json, struct, sys, math
import pyarrow, pyarrow.parquet as pq
assert pyarrow.__version__ == sys.argv[2], pyarrow.__version__
def canon(v):
    if v is None: return None
    if isinstance(v, bool): return v
    if isinstance(v, int): return 'i%d' % v
    if isinstance(v, float): return 'dNaN' if math.isnan(v) else 'd' + struct.pack('<d', v).hex()
    if isinstance(v, (bytes, bytearray)): return 'b' + bytes(v).hex()
    if isinstance(v, str): return v
    if isinstance(v, list): return [canon(x) for x in v]
    if isinstance(v, dict): return {k: canon(x) for k, x in v.items()}
    raise TypeError(type(v))
def key(v):
    return v.encode('utf-8') if isinstance(v, str) else v
f = pq.ParquetFile(sys.argv[1])
md = f.metadata
out = {'numRows': md.num_rows, 'rowGroups': [], 'stats': []}
for g in range(md.num_row_groups):
    t = f.read_row_group(g)
    cols = {name: [canon(v) for v in t.column(name).to_pylist()] for name in t.column_names}
    out['rowGroups'].append({'numRows': md.row_group(g).num_rows, 'columns': cols})
    rg = md.row_group(g)
    for c in range(rg.num_columns):
        cc = rg.column(c)
        st = cc.statistics
        if st is None or not st.has_min_max: continue
        name = cc.path_in_schema
        vals = [key(v) for v in t.column(name).to_pylist() if v is not None]
        lo, hi = key(st.min), key(st.max)
        if not vals: ok = False
        elif isinstance(lo, bytes):
            # Byte-array bounds may be truncated to 16 bytes (min a prefix, max rounded up).
            ok = lo == min(vals)[:len(lo)] and hi >= max(vals) and (hi == max(vals) or len(hi) <= 16)
        else: ok = lo == min(vals) and hi == max(vals)
        out['stats'].append({'rowGroup': g, 'column': name, 'exact': ok, 'min': repr(st.min)[:40], 'max': repr(st.max)[:40]})
print(json.dumps(out))
`;

interface PyarrowDump extends CanonicalParquet {
  numRows: number;
  stats: { rowGroup: number; column: string; exact: boolean }[];
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => err.push(b));
    p.on('error', (e) => reject(new Error(`${cmd}: ${e.message} (run scripts/install-test-peers.sh to create the pyarrow venv)`)));
    p.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString('utf8')) : reject(new Error(`${cmd} exited ${code}: ${Buffer.concat(err).toString('utf8')}`))));
  });
}

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function pyarrowRead(data: Uint8Array): Promise<PyarrowDump> {
  const dir = await mkdtemp(join(tmpdir(), 'andante-pyarrow-'));
  dirs.push(dir);
  const path = join(dir, 'data.parquet');
  await writeFile(path, data);
  return JSON.parse(await run(PYTHON, ['-c', DUMP, path, PYARROW_VERSION])) as PyarrowDump;
}

/** The first difference between two readers' columns, or null; names the row group, column and row. */
function firstDifference(ours: CanonicalParquet, theirs: CanonicalParquet): string | null {
  if (ours.rowGroups.length !== theirs.rowGroups.length) return `row groups: ${ours.rowGroups.length} vs ${theirs.rowGroups.length}`;
  for (let g = 0; g < ours.rowGroups.length; g++) {
    const a = ours.rowGroups[g]!;
    const b = theirs.rowGroups[g]!;
    if (a.numRows !== b.numRows) return `row group ${g}: ${a.numRows} vs ${b.numRows} rows`;
    const names = Object.keys(b.columns);
    if (Object.keys(a.columns).sort().join() !== [...names].sort().join()) return `row group ${g}: columns differ`;
    for (const name of names) {
      const x = a.columns[name]!;
      const y = b.columns[name]!;
      if (x.length !== a.numRows || y.length !== a.numRows) return `row group ${g} ${name}: ${x.length} / ${y.length} values for ${a.numRows} rows`;
      for (let r = 0; r < x.length; r++) {
        if (JSON.stringify(x[r]) !== JSON.stringify(y[r])) return `row group ${g} ${name} row ${r}: ${JSON.stringify(x[r])} vs ${JSON.stringify(y[r])}`;
      }
    }
  }
  return null;
}

async function checkBlock(encoded: EncodedBlock): Promise<void> {
  const data = encoded.objects.find((o) => o.name === 'data.parquet')!.data;
  const [theirs, ours] = await Promise.all([pyarrowRead(data), readParquetCanonical(data)]);
  expect(theirs.numRows).toBe(encoded.meta.totalSpans);
  expect(theirs.rowGroups.length).toBe(encoded.meta.totalRecords);
  expect(Object.keys(theirs.rowGroups[0]!.columns).length).toBe(50);
  expect(firstDifference(ours, theirs)).toBeNull();

  // Row by row through the offset index, for a spread of rows in every group.
  for (let g = 0; g < theirs.rowGroups.length; g++) {
    const group = theirs.rowGroups[g]!;
    for (let r = 0; r < group.numRows; r += Math.max(1, Math.floor(group.numRows / 5))) {
      const row = await readParquetRowsCanonical(data, g, r, r + 1);
      for (const [name, values] of Object.entries(group.columns)) {
        expect({ g, r, name, v: row[name]?.[0] }).toEqual({ g, r, name, v: values[r] });
      }
    }
  }

  // Statistics: present on the columns scans prune on, and exact.
  expect(theirs.stats.filter((s) => !s.exact)).toEqual([]);
  for (let g = 0; g < theirs.rowGroups.length; g++) {
    const withStats = new Set(theirs.stats.filter((s) => s.rowGroup === g).map((s) => s.column));
    for (const name of STATISTICS_COLUMNS) {
      const hasValue = theirs.rowGroups[g]!.columns[name]!.some((v) => v !== null);
      if (hasValue) expect({ g, name, stats: withStats.has(name) }).toEqual({ g, name, stats: true });
    }
  }
}

// Small row groups and pages (several of each per block, traces crossing pages), and larger ones
// where dictionaries pay off.
const CONFIGS: [string, Partial<BlockConfig>][] = [
  ['small row groups and pages', { rowGroupSpans: 23, pageSizeBytes: 1024 }],
  ['larger row groups', { rowGroupSpans: 400, pageSizeBytes: 4096 }],
];

function segmentsOf(t: TraceEntry): Uint8Array[] {
  // As an ingester holds a trace: one segment per ResourceSpans.
  return t.trace.resourceSpans.map((rs) => encodeTrace({ resourceSpans: [rs] }));
}

describe('blocks read by an independent Parquet reader (pyarrow)', () => {
  it.each(CONFIGS)('from Trace objects (encodeBlock), %s', async (_, cfg) => {
    await checkBlock(encodeBlock('t', newBlockId(), randomTraces(11, 60), cfg));
  });

  it.each(CONFIGS)('a flush: from segments (encodeSegmentBlock), %s', async (_, cfg) => {
    const traces = randomTraces(12, 60);
    await checkBlock(encodeSegmentBlock({ tenantId: 't', blockId: newBlockId(), traces: traces.map((t) => ({ traceId: t.traceId, segments: segmentsOf(t) })), cfg, compactionLevel: 0 }));
  });

  it.each(CONFIGS)('a compaction: streamed trace by trace (BlockEncoderPool.openStream), %s', async (_, cfg) => {
    const pool = new BlockEncoderPool();
    try {
      const stream = pool.openStream({ tenantId: 't', blockId: newBlockId(), cfg, compactionLevel: 1 });
      for (const t of randomTraces(13, 60)) {
        const wait = stream.write({ traceId: t.traceId, segments: segmentsOf(t) });
        if (wait) await wait;
      }
      await checkBlock(await stream.finish());
    } finally {
      await pool.close();
    }
  });

  it('a vAndante1 block (older builds)', async () => {
    await checkBlock(encodeV1Block('t', newBlockId(), randomTraces(14, 40), CONFIGS[0]![1]));
  });

  it('the comparison fails when one value of one column differs', async () => {
    const data = encodeBlock('t', newBlockId(), randomTraces(15, 10), CONFIGS[0]![1]).objects[0]!.data;
    const theirs = await pyarrowRead(data);
    const ours = await readParquetCanonical(data);
    expect(firstDifference(ours, theirs)).toBeNull();
    const tampered: CanonicalParquet = structuredClone(ours);
    const col = tampered.rowGroups[0]!.columns['duration_nano']!;
    col[0] = `i${BigInt((col[0] as string).slice(1)) + 1n}` as Canonical;
    expect(firstDifference(tampered, theirs)).toMatch(/^row group 0 duration_nano row 0:/);
    const nested: CanonicalParquet = structuredClone(ours);
    const lists = nested.rowGroups[0]!.columns['attrs_str']!;
    const at = lists.findIndex((l) => Array.isArray(l) && l.length > 0);
    (lists[at] as Canonical[]).pop();
    expect(firstDifference(nested, theirs)).toMatch(/attrs_str/);
  });
});
