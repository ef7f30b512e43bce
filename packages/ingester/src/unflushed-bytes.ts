// The ingester's backlog budget (max_unflushed_bytes): trace bytes acknowledged and not yet in
// the backend, over every tenant (head blocks and cut blocks waiting for their flush). They lie in
// WAL files (in memory only until their append is written), but encoding blocks is slower than
// acknowledging pushes, so without a bound a sustained load above the flush rate grows the WAL,
// the time blocks lag behind and the final flush at a stop without end.

export class UnflushedBytes {
  private held = 0;

  /** `limit` 0 means no limit. */
  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.held;
  }

  add(bytes: number): void {
    this.held += bytes;
  }

  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }

  /**
   * True when `incoming` more bytes would pass the limit. An ingester holding nothing takes any
   * push, so one request larger than the limit is never refused forever.
   */
  refuses(incoming: number): boolean {
    return this.limit > 0 && this.held > 0 && this.held + incoming > this.limit;
  }

  /**
   * A head block this large is cut even before max_block_bytes: the other half of the budget is
   * for blocks being written, so a head alone can never hold the ingester over its limit.
   */
  get headCutBytes(): number {
    return this.limit > 0 ? this.limit / 2 : Infinity;
  }
}
