// Page codecs compared on the pages a flush really compresses (issue 14: "compare Brotli levels,
// gzip ... and zstd; pick by bytes at rest and CPU per span together"). One block of realistic
// segments is encoded exactly as a flush does (encodeSegmentBlock) while every page handed to
// Brotli is captured with the quality its column uses; then every captured page is compressed and
// decompressed again with each candidate. Reported per candidate: bytes per span of those pages
// (the rest of the file, SNAPPY span IDs, dictionaries' framing and the footer, is the same for
// all), and compression and decompression CPU-µs per span, best of --reps. zstd needs a Node whose
// node:zlib has it (>= 22.15): run this with Node 24 to see it.
//
//   node bench/dist/page-codecs.js [--spans 204800 --reps 3]

import zlib from 'node:zlib';
import { encodeSegmentBlock, newBlockId } from '@andante/storage';
import { segmentTraces } from './segment-traces.js';

interface Page {
  bytes: Uint8Array;
  /** The Brotli quality the column writes it with. */
  quality: number;
}

type Codec = { name: string; compress: (page: Page) => Uint8Array; decompress: (data: Uint8Array, length: number) => Uint8Array };

type ZstdZlib = {
  zstdCompressSync?: (input: Uint8Array, options?: object) => Buffer;
  zstdDecompressSync?: (input: Uint8Array, options?: object) => Buffer;
  constants: Record<string, number>;
};

function option(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

function capturePages(spans: number): { pages: Page[]; spans: number; fileBytes: number } {
  const input = segmentTraces(spans, 512, 20);
  const pages: Page[] = [];
  const original = zlib.brotliCompressSync;
  const capture = (buf: zlib.InputType, options?: zlib.BrotliOptions): Buffer => {
    const quality = options?.params?.[zlib.constants.BROTLI_PARAM_QUALITY] ?? zlib.constants.BROTLI_DEFAULT_QUALITY;
    pages.push({ bytes: Uint8Array.prototype.slice.call(buf as Uint8Array), quality: Number(quality) });
    return original(buf, options);
  };
  (zlib as { brotliCompressSync: typeof capture }).brotliCompressSync = capture;
  try {
    const block = encodeSegmentBlock({ tenantId: 'bench', blockId: newBlockId(), traces: input.traces, cfg: {}, compactionLevel: 0 });
    return { pages, spans: input.spans, fileBytes: block.objects.reduce((n, o) => n + o.data.byteLength, 0) };
  } finally {
    (zlib as { brotliCompressSync: typeof original }).brotliCompressSync = original;
  }
}

function brotli(quality: (page: Page) => number, name: string): Codec {
  return {
    name,
    compress: (page) =>
      zlib.brotliCompressSync(page.bytes, {
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: quality(page), [zlib.constants.BROTLI_PARAM_SIZE_HINT]: page.bytes.byteLength },
      }),
    decompress: (data) => zlib.brotliDecompressSync(data),
  };
}

function candidates(): Codec[] {
  const list: Codec[] = [
    brotli((p) => p.quality, 'BROTLI, per-column quality (today)'),
    brotli(() => 1, 'BROTLI 1'),
    brotli(() => 3, 'BROTLI 3'),
    { name: 'GZIP 1', compress: (p) => zlib.gzipSync(p.bytes, { level: 1 }), decompress: (d) => zlib.gunzipSync(d) },
    { name: 'GZIP 6', compress: (p) => zlib.gzipSync(p.bytes, { level: 6 }), decompress: (d) => zlib.gunzipSync(d) },
  ];
  const z = zlib as unknown as ZstdZlib;
  if (typeof z.zstdCompressSync === 'function' && typeof z.zstdDecompressSync === 'function') {
    const level = z.constants['ZSTD_c_compressionLevel']!;
    for (const l of [-3, -1, 1, 2, 3, 4, 5, 6, 9, 15]) {
      list.push({
        name: `ZSTD ${l}`,
        compress: (p) => z.zstdCompressSync!(p.bytes, { params: { [level]: l } }),
        decompress: (d) => z.zstdDecompressSync!(d),
      });
    }
  }
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
      `${(plain / spans).toFixed(2)} bytes/span before compression${typeof (zlib as unknown as ZstdZlib).zstdCompressSync === 'function' ? '' : ' (no zstd in this Node: run with Node >= 22.15)'}`,
  );
  const qualities = [...new Set(pages.map((p) => p.quality))].sort();
  console.log(`| codec | bytes/span of these pages | ${qualities.map((q) => `quality-${q} columns: bytes/span, compress µs/span`).join(' | ')} | compress CPU-µs/span | decompress CPU-µs/span |`);
  console.log(`|---|---|${qualities.map(() => '---|').join('')}---|---|`);
  for (const codec of candidates()) {
    const out = pages.map((p) => codec.compress(p));
    for (let i = 0; i < pages.length; i++) {
      const back = codec.decompress(out[i]!, pages[i]!.bytes.byteLength);
      if (Buffer.compare(back, pages[i]!.bytes) !== 0) throw new Error(`${codec.name}: page ${i} does not round-trip`);
    }
    const bytes = out.reduce((n, o) => n + o.byteLength, 0);
    const byQuality = qualities.map((q) => out.reduce((n, o, i) => n + (pages[i]!.quality === q ? o.byteLength : 0), 0));
    const compressOf = (q: number): number =>
      cpuUs(() => {
        for (const p of pages) if (p.quality === q) codec.compress(p);
      }, reps);
    const compressByQuality = qualities.map(compressOf);
    const compress = compressByQuality.reduce((a, b) => a + b, 0);
    const decompress = cpuUs(() => {
      for (let i = 0; i < pages.length; i++) codec.decompress(out[i]!, pages[i]!.bytes.byteLength);
    }, reps);
    console.log(
      `| ${codec.name} | ${(bytes / spans).toFixed(2)} | ${byQuality.map((b, i) => `${(b / spans).toFixed(2)}, ${(compressByQuality[i]! / spans).toFixed(2)}`).join(' | ')} | ${(compress / spans).toFixed(2)} | ${(decompress / spans).toFixed(2)} |`,
    );
  }
}

main();
