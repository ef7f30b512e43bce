// Sharded bloom filter over trace IDs, sized like Tempo's (tempodb/encoding/common/bloom.go):
// m = ceil(-n ln p / ln2^2) bits, k = ceil(ln2 m / n) hashes, shard count = ceil(m / (shardSize*8))
// clamped to [1, 1000], shard = FNV-1 32 of the ID mod shard count, so a lookup reads one shard.
// Unlike Tempo, a shard holds ceil(m / shards) bits instead of always shardSize bytes: small blocks
// get small shards at the same false-positive rate, and a clamped count grows shards instead of
// letting the rate degrade.
//
// Shard object layout: "ABL1" | u32 LE k | u32 LE bit count | bits (bit i at byte i>>3, mask 1<<(i&7)).

import { InvalidArgumentError, tokenForTraceId } from '@andante/model';

const MAGIC = 0x314c4241; // "ABL1" little endian
const HEADER_BYTES = 12;
export const MAX_BLOOM_SHARDS = 1000;

export interface BloomParameters {
  shardCount: number;
  bitsPerShard: number;
  hashCount: number;
}

/** Bloom geometry for `objects` items at false-positive rate `fp`. */
export function bloomParameters(objects: number, fp: number, shardSizeBytes: number): BloomParameters {
  const n = Math.max(1, objects);
  const m = Math.ceil((-n * Math.log(fp)) / (Math.LN2 * Math.LN2));
  const hashCount = Math.max(1, Math.ceil((Math.LN2 * m) / n));
  const shardCount = Math.min(MAX_BLOOM_SHARDS, Math.max(1, Math.ceil(m / (shardSizeBytes * 8))));
  // Whole 64-bit words per shard, as most bloom implementations keep them.
  const bitsPerShard = Math.ceil(m / shardCount / 64) * 64;
  return { shardCount, bitsPerShard, hashCount };
}

export function bloomShardFor(traceId: Uint8Array, shardCount: number): number {
  return tokenForTraceId(traceId) % shardCount;
}

/** Trace IDs without an object per ID (the encoder keeps them in one flat buffer). */
export interface TraceIdSet {
  readonly count: number;
  forEach(fn: (id: Uint8Array) => void): void;
}

/** Builds all shards for a set of trace IDs. */
export function buildBloomShards(traceIds: readonly Uint8Array[] | TraceIdSet, fp: number, shardSizeBytes: number): Uint8Array[] {
  const count = 'count' in traceIds ? traceIds.count : traceIds.length;
  const { shardCount, bitsPerShard, hashCount } = bloomParameters(count, fp, shardSizeBytes);
  const shards = Array.from({ length: shardCount }, () => {
    const buf = new Uint8Array(HEADER_BYTES + bitsPerShard / 8);
    const view = new DataView(buf.buffer);
    view.setUint32(0, MAGIC, true);
    view.setUint32(4, hashCount, true);
    view.setUint32(8, bitsPerShard, true);
    return buf;
  });
  traceIds.forEach((id) => {
    const shard = shards[bloomShardFor(id, shardCount)]!;
    forEachBit(id, hashCount, bitsPerShard, (bit) => {
      shard[HEADER_BYTES + (bit >>> 3)]! |= 1 << (bit & 7);
    });
  });
  return shards;
}

/** True when the shard may contain `traceId`; false means it certainly does not. */
export function bloomShardTest(shard: Uint8Array, traceId: Uint8Array): boolean {
  if (shard.byteLength < HEADER_BYTES) throw new InvalidArgumentError('bloom shard is truncated');
  const view = new DataView(shard.buffer, shard.byteOffset, shard.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new InvalidArgumentError('bloom shard has an unknown format');
  const hashCount = view.getUint32(4, true);
  const bits = view.getUint32(8, true);
  if (bits === 0 || HEADER_BYTES + bits / 8 > shard.byteLength) throw new InvalidArgumentError('bloom shard is truncated');
  let all = true;
  forEachBit(traceId, hashCount, bits, (bit) => {
    if ((shard[HEADER_BYTES + (bit >>> 3)]! & (1 << (bit & 7))) === 0) all = false;
  });
  return all;
}

// Double hashing (Kirsch–Mitzenmacher) from two murmur3 hashes with different seeds. They are
// independent of the FNV-1 hash that chose the shard, so IDs sharing a shard still spread.
function forEachBit(id: Uint8Array, k: number, bits: number, fn: (bit: number) => void): void {
  const h1 = murmur3(id, 0x9747b28c);
  const h2 = (murmur3(id, 0x5bd1e995) | 1) >>> 0; // odd, so the probe sequence never sticks
  for (let i = 0; i < k; i++) fn((h1 + i * h2) % bits);
}

/** MurmurHash3 x86 32-bit. */
function murmur3(data: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const n = data.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = n & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= data[blocks + 2]! << 16;
    if (tail >= 2) k ^= data[blocks + 1]! << 8;
    k ^= data[blocks]!;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
