/**
 * When the compactor first saw each of a set of things (meta-less block folders, interrupted
 * jobs), so it acts on one only after it has stayed so for a grace period. The Backend interface
 * has no object timestamps; first sight is a safe lower bound of age. Kept in memory: after a
 * restart the grace period starts again, which only delays a deletion.
 */
export class FirstSightings {
  private readonly firstSeen = new Map<string, Map<string, number>>();

  /**
   * Records that `ids` are present in `scope` now, forgets the scope's ids that are not (a folder
   * that gained meta.json starts over if it ever loses it), and returns the ids first seen at
   * least `graceMs` ago.
   */
  observe(scope: string, ids: readonly string[], nowMs: number, graceMs: number): string[] {
    const previous = this.firstSeen.get(scope) ?? new Map<string, number>();
    const current = new Map<string, number>();
    for (const id of ids) current.set(id, previous.get(id) ?? nowMs);
    if (current.size > 0) this.firstSeen.set(scope, current);
    else this.firstSeen.delete(scope);
    return ids.filter((id) => nowMs - current.get(id)! >= graceMs);
  }
}
