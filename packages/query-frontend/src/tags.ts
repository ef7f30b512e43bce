// Tag names and values for Grafana's dropdowns: the frontend's jobs are the ingesters for recent
// data and, with a window, one per block in it (newest first), run by queriers.

import {
  INTRINSIC_TAGS,
  NotFoundError,
  blocksForRequest,
  parseTagRef,
  InvalidArgumentError,
  type BlockLister,
  type BlockTagsAnswer,
  type BlockTagsJob,
  type LimitsProvider,
  type QuerierJobs,
  type TagScope,
  type TagValue,
  type RecentBlocks,
  type TagsRequest,
  type TagValuesRequest,
} from '@andante/model';

export interface TagsServiceDeps {
  blocklist: BlockLister;
  /** Who runs the jobs (ingester fan-out, block jobs on its workers). */
  querier: QuerierJobs;
  /** Per-tenant read.max_bytes_per_tag_values_query; absent: unlimited. */
  limits?: LimitsProvider;
}

export interface TagNamesResult {
  names: Map<TagScope, string[]>;
  inspectedBytes: bigint;
}

export interface TagValuesResult {
  values: TagValue[];
  inspectedBytes: bigint;
}

export class TagsService {
  constructor(private readonly deps: TagsServiceDeps) {}

  /**
   * Refuses an answer larger than read.max_bytes_per_tag_values_query with a 400 that names the
   * limit (Tempo answers an empty list, which Grafana shows as "No options found").
   */
  private checkSize(tenantId: string, strings: readonly string[], what: string): void {
    const max = this.deps.limits?.forTenant(tenantId).maxBytesPerTagValuesQuery ?? 0;
    if (max <= 0) return;
    let bytes = 0;
    for (const s of strings) bytes += Buffer.byteLength(s);
    if (bytes > max) {
      throw new InvalidArgumentError(
        `${what}: ${bytes} bytes exceed max_bytes_per_tag_values_query (${max}); narrow with q, a shorter window or limit, or raise overrides read.max_bytes_per_tag_values_query`,
      );
    }
  }

  /**
   * Each block's part of the request (on the search workers when there are, else inline), and the
   * bytes of the blocks read: those in the window, and those the ingesters flushed recently. A
   * block compacted away meanwhile holds nothing.
   */
  private async scanBlocks(
    tenantId: string,
    req: TagsRequest,
    flushed: readonly RecentBlocks[],
    job: BlockTagsJob,
    take: (part: BlockTagsAnswer) => void,
    signal: AbortSignal | undefined,
  ): Promise<bigint> {
    const metas = blocksForRequest(this.deps.blocklist.blocks(tenantId), flushed.map((f) => f.flushedBlocks), req, this.deps.blocklist.compactedBlocks(tenantId));
    await Promise.all(
      metas.map(async (meta) => {
        try {
          take(await this.deps.querier.blockTags(meta, req, job, signal));
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
        }
      }),
    );
    return metas.reduce((n, m) => n + BigInt(m.size), 0n);
  }

  /** Names per scope, sorted, at most `limit` per scope (0 = all). Intrinsics are Tempo's fixed list. */
  async tagNames(tenantId: string, req: TagsRequest, scopes: readonly TagScope[], limit: number, signal?: AbortSignal): Promise<TagNamesResult> {
    const found = new Map<TagScope, Set<string>>();
    const add = (entries: Iterable<[TagScope, readonly string[]]>): void => {
      for (const [scope, list] of entries) {
        const set = found.get(scope) ?? new Set<string>();
        for (const n of list) set.add(n);
        found.set(scope, set);
      }
    };
    let inspectedBytes = 0n;
    const parts = await this.deps.querier.tagNamesRecent(tenantId, req, signal);
    for (const part of parts) {
      inspectedBytes += part.inspectedBytes;
      add(Object.entries(part.names) as [TagScope, string[]][]);
    }
    inspectedBytes += await this.scanBlocks(tenantId, req, parts, { what: 'names' }, (part) => add(part.names), signal);
    const names = new Map<TagScope, string[]>();
    for (const scope of scopes) {
      const list = scope === 'intrinsic' ? [...INTRINSIC_TAGS] : [...(found.get(scope) ?? [])].sort();
      names.set(scope, limit > 0 ? list.slice(0, limit) : list);
    }
    this.checkSize(tenantId, [...names.values()].flat(), 'tag names');
    return { names, inspectedBytes };
  }

  /** Distinct typed values, sorted by value, at most `limit` (0 = all). */
  async tagValues(tenantId: string, req: TagValuesRequest, limit: number, signal?: AbortSignal): Promise<TagValuesResult> {
    const found = new Map<string, TagValue>();
    let inspectedBytes = 0n;
    const parts = await this.deps.querier.tagValuesRecent(tenantId, req, signal);
    for (const part of parts) {
      inspectedBytes += part.inspectedBytes;
      for (const v of part.values) found.set(`${v.type}\u0000${v.value}`, v);
    }
    const ref = parseTagRef(req.tag, req.v2);
    inspectedBytes += await this.scanBlocks(tenantId, req, parts, { what: 'values', ref }, (part) => {
      for (const v of part.values) found.set(`${v.type}\u0000${v.value}`, v);
    }, signal);
    const values = [...found.values()].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : a.type.localeCompare(b.type)));
    this.checkSize(tenantId, (limit > 0 ? values.slice(0, limit) : values).map((v) => v.value), `values of ${req.tag}`);
    return { values: limit > 0 ? values.slice(0, limit) : values, inspectedBytes };
  }
}
