// One block's part of a tag request, the same inline and on a search worker: without a narrowing
// `q` the block answers from its tables, dictionaries and key columns (no trace is read; a block's
// values count whole, as Tempo's do); with one, or for tags columns cannot answer (root names),
// every trace is read and only the spans the query returns are taken.

import {
  collectTagNames,
  collectTagValues,
  tagSelector,
  type SearchCompiler,
  type TagScope,
  type TagValue,
  type TagsRequest,
  type Trace,
  type SpanSelection,
  type BlockTagsAnswer,
  type BlockTagsJob,
} from '@andante/model';
import type { BackendBlock } from '@andante/storage';


/** Whether `q` narrows anything: blank, `{ }`, `{ true }` and queries that do not compile (Grafana sends half-typed ones) do not. */
export function narrowingQuery(compile: SearchCompiler, query: string): boolean {
  const q = query.trim();
  if (q === '' || /^\{\s*(true\s*)?\}$/.test(q)) return false;
  try {
    compile(q);
    return true;
  } catch {
    return false;
  }
}

export async function blockTags(block: BackendBlock, compile: SearchCompiler, req: TagsRequest, job: BlockTagsJob): Promise<BlockTagsAnswer> {
  const names = new Map<TagScope, Set<string>>();
  const values = new Map<string, TagValue>();
  const answer = (): BlockTagsAnswer => ({ names: [...names].map(([scope, set]) => [scope, [...set]]), values: [...values.values()] });
  if (!narrowingQuery(compile, req.query)) {
    if (job.what === 'names') {
      await block.tagNames(names);
      return answer();
    }
    if (await block.tagValues(job.ref, values)) return answer();
  }
  const select = tagSelector(compile, req.query, req);
  const visit: (trace: Trace, sel: SpanSelection) => void =
    job.what === 'names' ? (trace, sel) => collectTagNames(trace, names, sel) : (trace, sel) => collectTagValues(trace, job.ref, values, sel);
  // Shared: the selector and the collectors only read each trace, and keep strings, not its objects.
  for await (const { trace } of block.iterateTraces(undefined, { shared: true })) {
    const sel = select(trace);
    if (sel) visit(trace, sel);
  }
  return answer();
}
