// Tag names and values read from a block's tables, dictionaries and key columns must equal what
// collecting from every trace of the block gives: for every scope and every tag the block has
// (strings, exact int64s, doubles, booleans, arrays, events, links, intrinsics).

import { beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '@andante/backend';
import { INTRINSIC_TAGS, collectTagNames, collectTagValues, compareBytes, parseTagRef, type TagScope, type TagValue, type Trace } from '@andante/model';
import { BackendBlock, newBlockId, writeBlock } from '@andante/storage';
import { generateDataset } from '@andante/traceql/testing';
import { makeTempDir } from './harness.js';

let block: BackendBlock;
const stored: Trace[] = [];

beforeAll(async () => {
  const backend = new LocalBackend(makeTempDir('block-tags-'));
  const traces = generateDataset(200, 3)
    .map((trace) => ({ traceId: trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId, trace }))
    .sort((a, b) => compareBytes(a.traceId, b.traceId));
  // A very large int and a string service.name-like key that is also a span attribute.
  const extra = traces[0]!.trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
  extra.attributes.push({ key: 'big', value: { intValue: 2n ** 62n + 1n } }, { key: 'service.name', value: { stringValue: 'span-level' } });
  const meta = await writeBlock(backend, 'tags', newBlockId(), traces, { rowGroupSpans: 96 });
  block = new BackendBlock(backend, meta);
  for await (const { trace } of block.iterateTraces()) stored.push(trace);
});

const sortedValues = (m: Map<string, TagValue>): string[] => [...m.keys()].sort();

describe('block tag names and values without reading traces', () => {
  it('lists the same names per scope as every trace does', async () => {
    const want = new Map<TagScope, Set<string>>();
    for (const t of stored) collectTagNames(t, want);
    const got = new Map<TagScope, Set<string>>();
    await block.tagNames(got);
    for (const scope of ['resource', 'span', 'event', 'link', 'instrumentation'] as const) {
      expect([...(got.get(scope) ?? [])].sort(), scope).toEqual([...(want.get(scope) ?? [])].sort());
    }
    expect(want.get('span')!.size).toBeGreaterThan(10);
    expect(want.get('event')!.size).toBeGreaterThan(0);
  });

  it('gives the same typed values for every tag as every trace does', async () => {
    const names = new Map<TagScope, Set<string>>();
    for (const t of stored) collectTagNames(t, names);
    const refs = [
      ...[...(names.get('span') ?? [])].flatMap((k) => [`span.${k}`, `.${k}`]),
      ...[...(names.get('resource') ?? [])].map((k) => `resource.${k}`),
      ...[...(names.get('event') ?? [])].map((k) => `event.${k}`),
      ...[...(names.get('link') ?? [])].map((k) => `link.${k}`),
      ...[...(names.get('instrumentation') ?? [])].map((k) => `instrumentation.${k}`),
      ...INTRINSIC_TAGS.filter((n) => !['rootName', 'rootServiceName', 'trace:rootName', 'trace:rootService'].includes(n)),
      'span.no_such_key',
    ];
    let answered = 0;
    for (const name of refs) {
      const ref = parseTagRef(name, true);
      const want = new Map<string, TagValue>();
      for (const t of stored) collectTagValues(t, ref, want);
      const got = new Map<string, TagValue>();
      if (!(await block.tagValues(ref, got))) continue;
      answered++;
      expect(sortedValues(got), name).toEqual(sortedValues(want));
    }
    expect(answered).toBeGreaterThan(30);
    const big = new Map<string, TagValue>();
    await block.tagValues(parseTagRef('span.big', true), big);
    expect([...big.values()]).toEqual([{ type: 'int', value: (2n ** 62n + 1n).toString() }]);
  });

  it('leaves root names to the trace-by-trace path', async () => {
    expect(await block.tagValues(parseTagRef('rootServiceName', true), new Map())).toBe(false);
  });
});
