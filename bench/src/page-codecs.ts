// Page codecs compared on the pages a flush really compresses (issue 14: "compare Brotli levels,
// gzip ... and zstd; pick by bytes at rest and CPU per span together"). One block of realistic
// segments is encoded as a flush does, BROTLI only, while every page is captured with its leaf and
// its column's quality (encodeCapturingPages); then every captured page is compressed and
// decompressed again with each candidate. Reported per candidate: bytes per span of those pages
// (the SNAPPY span IDs, the dictionaries' framing and the footer are the same for all) and
// compression and decompression CPU-µs per span, best of --reps; then, per leaf, the cheapest
// candidate for a few prices of one byte per span in CPU-µs per span (how ZSTD_LEAF_CODECS in
// packages/storage/src/block-schema.ts was chosen). zstd needs a Node whose node:zlib has it
// (>= 22.15): run this with Node 24 to see it.
//
//   node bench/dist/page-codecs.js [--spans 204800 --reps 3]

import zlib from 'node:zlib';
import { combineTraces, decodeTrace } from '@andante/model';
import { READ_DECOMPRESSORS, ZSTD_AVAILABLE, brotliCompressorAt, encodeCapturingPages, zstdCompressorAt, type CapturedPage as Page } from '@andante/storage/testing';
import { segmentTraces } from './segment-traces.js';

type Codec = { name: string; compress: (page: Page) => Uint8Array; decompress: (data: Uint8Array, length: number) => Uint8Array };

function option(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

function capturePages(spans: number): { pages: Page[]; spans: number; fileBytes: number } {
  const input = segmentTraces(spans, 512, 20);
  // The traces a flush of these segments holds (the same block bytes as encodeSegmentBlock).
  const traces = input.traces
    .map((t) => ({ traceId: t.traceId, trace: combineTraces([decodeTrace(Buffer.concat(t.segments))]) }))
    .sort((a, b) => Buffer.compare(a.traceId, b.traceId));
  const pages: Page[] = [];
  const block = encodeCapturingPages(traces, (p) => pages.push(p));
  return { pages, spans: input.spans, fileBytes: block.objects.reduce((n, o) => n + o.data.byteLength, 0) };
}

/** The compressors blocks are written with (Brotli's window fitted to the page), read back as blocks are. */
function candidate(name: string, compressorOf: (page: Page) => (input: Uint8Array) => Uint8Array, parquetCodec: 'BROTLI' | 'GZIP' | 'ZSTD'): Codec {
  const decompress = READ_DECOMPRESSORS[parquetCodec]!;
  return { name, compress: (page) => compressorOf(page)(page.bytes), decompress };
}

function candidates(): Codec[] {
  const gzip = (level: number) => (input: Uint8Array) => zlib.gzipSync(input, { level });
  const list: Codec[] = [
    candidate('BROTLI, per-column quality (today)', (p) => brotliCompressorAt(p.quality), 'BROTLI'),
    ...[1, 3, 4, 5].map((q) => candidate(`BROTLI ${q}`, () => brotliCompressorAt(q), 'BROTLI')),
    ...[1, 6].map((l) => candidate(`GZIP ${l}`, () => gzip(l), 'GZIP')),
  ];
  if (ZSTD_AVAILABLE) for (const l of [1, 2, 3, 4, 5, 6, 7, 9]) list.push(candidate(`ZSTD ${l}`, () => zstdCompressorAt(l), 'ZSTD'));
  return list;
}

function cpuUs(run: () => void, reps: number): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = process.cpuUsage();
    run();
    const c = process.cpuUsage(t);
    best = Math.min(best, c.user + c.system);
  }
  return best;
}

function main(): void {
  const argv = process.argv.slice(2);
  const reps = option(argv, 'reps', 3);
  const { pages, spans, fileBytes } = capturePages(option(argv, 'spans', 204_800));
  const plain = pages.reduce((n, p) => n + p.bytes.byteLength, 0);
  console.log(
    `node ${process.version}: ${spans} spans, one block of ${(fileBytes / spans).toFixed(2)} bytes/span; ${pages.length} Brotli pages, ` +
      `${(plain / spans).toFixed(2)} bytes/span before compression${ZSTD_AVAILABLE ? '' : ' (no zstd in this Node: run with Node >= 22.15)'}`,
  );
  const leaves = [...new Set(pages.map((p) => p.leaf))];
  const qualityOf = new Map(pages.map((p) => [p.leaf, p.quality]));
  const qualities = [...new Set(pages.map((p) => p.quality))].sort();
  console.log(`| codec | bytes/span of these pages | ${qualities.map((q) => `quality-${q} columns: bytes/span, compress µs/span`).join(' | ')} | compress CPU-µs/span | decompress CPU-µs/span |`);
  console.log(`|---|---|${qualities.map(() => '---|').join('')}---|---|`);
  /** Per codec and leaf: bytes per span and compression CPU-µs per span. */
  const perLeaf = new Map<string, Map<string, { bytes: number; us: number }>>();
  for (const codec of candidates()) {
    const out = pages.map((p) => codec.compress(p));
    for (let i = 0; i < pages.length; i++) {
      const back = codec.decompress(out[i]!, pages[i]!.bytes.byteLength);
      if (Buffer.compare(back, pages[i]!.bytes) !== 0) throw new Error(`${codec.name}: page ${i} does not round-trip`);
    }
    const leafFigures = new Map<string, { bytes: number; us: number }>();
    for (const leaf of leaves) {
      const own = pages.filter((p) => p.leaf === leaf);
      const bytes = out.reduce((n, o, i) => n + (pages[i]!.leaf === leaf ? o.byteLength : 0), 0);
      const us = cpuUs(() => {
        for (const p of own) codec.compress(p);
      }, reps);
      leafFigures.set(leaf, { bytes: bytes / spans, us: us / spans });
    }
    perLeaf.set(codec.name, leafFigures);
    const sum = (q: number | undefined, k: 'bytes' | 'us'): number => leaves.reduce((n, l) => n + (q === undefined || qualityOf.get(l) === q ? leafFigures.get(l)![k] : 0), 0);
    const decompress = cpuUs(() => {
      for (let i = 0; i < pages.length; i++) codec.decompress(out[i]!, pages[i]!.bytes.byteLength);
    }, reps);
    console.log(
      `| ${codec.name} | ${sum(undefined, 'bytes').toFixed(2)} | ${qualities.map((q) => `${sum(q, 'bytes').toFixed(2)}, ${sum(q, 'us').toFixed(2)}`).join(' | ')} | ${sum(undefined, 'us').toFixed(2)} | ${(decompress / spans).toFixed(2)} |`,
    );
  }
  // Per leaf, the choice that minimises CPU + price x bytes, for a few prices of a byte per span in CPU-µs per span.
  const choices = [...perLeaf.keys()].filter((n) => !n.startsWith('GZIP') && !n.startsWith('BROTLI,'));
  console.log('\nper leaf, cheapest of BROTLI 1/3/4/5 and ZSTD levels at a price of one byte per span in CPU-µs per span:');
  for (const price of [0.25, 0.5, 1, 2, 4]) {
    let bytes = 0;
    let us = 0;
    const picks: string[] = [];
    for (const leaf of leaves) {
      let best = '';
      let bestCost = Infinity;
      for (const name of choices) {
        const f = perLeaf.get(name)!.get(leaf)!;
        const cost = f.us + price * f.bytes;
        if (cost < bestCost) {
          bestCost = cost;
          best = name;
        }
      }
      const f = perLeaf.get(best)!.get(leaf)!;
      bytes += f.bytes;
      us += f.us;
      if (f.bytes > 0.05) picks.push(`${leaf} ${best}`);
    }
    console.log(`  price ${price}: ${bytes.toFixed(2)} bytes/span, ${us.toFixed(2)} µs/span; ${picks.join(', ')}`);
  }
}

main();
