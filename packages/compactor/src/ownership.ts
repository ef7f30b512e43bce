/**
 * Decides which compactor runs a job, so several compactors never merge the same blocks.
 * A job key names a tenant's compaction window; every member computes the same owner.
 */
export interface JobOwnership {
  owns(jobKey: string): boolean;
}

/** One compactor owns everything (single binary). */
export const ownAllJobs: JobOwnership = { owns: () => true };

/**
 * Stable hashing of job keys over the current compactor set. The members come from the ring in
 * distributed mode; a job moves only when membership changes.
 */
export class HashJobOwnership implements JobOwnership {
  constructor(
    private readonly self: string,
    private readonly members: () => readonly string[],
  ) {}

  owns(jobKey: string): boolean {
    const members = [...this.members()].sort();
    if (members.length === 0) return false;
    return members[jobToken(jobKey) % members.length] === this.self;
  }
}

/** What RingJobOwnership needs of a ring: the one live owner of a token (RingSnapshot has it). */
export interface JobOwnerLookup {
  ownerOf(token: number): string | undefined;
}

/**
 * Tempo's compactor ring: a job key hashes to a token, owned by the first healthy compactor
 * clockwise. When a compactor dies its lease expires, it turns unhealthy, and its jobs fall to the
 * next member clockwise; the others keep theirs. `ring` is read on every call so ownership follows
 * the latest view of the ring.
 */
export class RingJobOwnership implements JobOwnership {
  constructor(
    private readonly self: string,
    private readonly ring: () => JobOwnerLookup,
  ) {}

  owns(jobKey: string): boolean {
    return this.ring().ownerOf(jobToken(jobKey)) === this.self;
  }
}

/**
 * The ring token of a job key: FNV-1a 32 over its UTF-8 bytes, as Tempo's compactor. Not FNV-1 (the
 * trace-ID hash): there the last byte only moves the low 8 bits, so consecutive windows
 * (`t-480001`, `t-480002`, ...) would land next to each other on the ring, on one compactor.
 */
export function jobToken(jobKey: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(jobKey)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}
