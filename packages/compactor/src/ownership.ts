import { tokenForTraceId } from '@andante/model';

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
    const token = tokenForTraceId(new TextEncoder().encode(jobKey));
    return members[token % members.length] === this.self;
  }
}
