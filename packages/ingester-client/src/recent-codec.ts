// The ingester's recent-data query RPCs (what IngesterQuerier asks besides find-by-ID): search,
// tag names and tag values over the traces it holds in memory, each answer with the blocks it
// flushed recently (read-your-writes: the querier reads those blocks too).
//
//   SearchRecentRequest  { string tenant_id = 1; string query = 2; uint32 start_seconds = 3;
//                          uint32 end_seconds = 4; uint32 limit = 5; uint32 spss = 6; }
//   SearchRecentResponse { bytes search_response = 1 (tempopb.SearchResponse: traces, metrics);
//                          repeated bytes flushed_block_meta = 2 (meta.json); }
//   TagsRecentRequest    { string tenant_id = 1; string query = 2; uint32 start_seconds = 3;
//                          uint32 end_seconds = 4; string tag = 5; bool v2 = 6; }  (tag: values only)
//   TagNamesResponse     { repeated ScopeNames scopes = 1; fixed64 inspected_bytes = 2; repeated bytes flushed_block_meta = 3; }
//   ScopeNames           { string scope = 1; repeated string names = 2; }
//   TagValuesResponse    { repeated TypedValue values = 1; fixed64 inspected_bytes = 2; repeated bytes flushed_block_meta = 3; }
//   TypedValue           { string type = 1; string value = 2; }

import protobuf from 'protobufjs/minimal.js';
import {
  TAG_SCOPES,
  decodeSearchResponse,
  encodeSearchResponse,
  type BlockMeta,
  type SearchPartial,
  type SearchRequest,
  type TagScope,
  type TagsPartial,
  type TagsRequest,
  type TagValue,
  type TagValuesPartial,
  type TagValuesRequest,
} from '@andante/model';
import { LEN, VARINT, lenEnd, malformed, readFixed64, skipField } from '@andante/model/wire';
import { decodeWith, expectWireType, i64Tag, lenTag, parseMeta, requireTenant, writeFixed64, writeMetas } from './codec-util.js';

export const SEARCH_RECENT_METHOD = '/andante.Ingester/SearchRecent';
export const SEARCH_TAGS_METHOD = '/andante.Ingester/SearchTags';
export const SEARCH_TAG_VALUES_METHOD = '/andante.Ingester/SearchTagValues';

/** A request as it travels: the IngesterQuerier call's arguments. */
export interface TenantRequest<T> {
  tenantId: string;
  req: T;
}

const varintTag = (field: number): number => (field << 3) | VARINT;
const UINT32_MAX = 0xffff_ffff;

function checkUint32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > UINT32_MAX) throw malformed(`${what} ${v} is not a uint32`);
  return v;
}

export function encodeSearchRecentRequest({ tenantId, req }: TenantRequest<SearchRequest>): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(lenTag(1)).string(tenantId);
  w.uint32(lenTag(2)).string(req.query);
  w.uint32(varintTag(3)).uint32(checkUint32(req.startSeconds, 'start_seconds'));
  w.uint32(varintTag(4)).uint32(checkUint32(req.endSeconds, 'end_seconds'));
  w.uint32(varintTag(5)).uint32(checkUint32(req.limit, 'limit'));
  w.uint32(varintTag(6)).uint32(checkUint32(req.spss, 'spss'));
  return w.finish();
}

export function decodeSearchRecentRequest(buf: Uint8Array): TenantRequest<SearchRequest> {
  return decodeWith(buf, 'search-recent request', (r, end) => {
    let tenantId = '';
    const req: SearchRequest = { query: '', startSeconds: 0, endSeconds: 0, limit: 0, spss: 0 };
    while (r.pos < end) {
      const tag = r.uint32();
      const field = tag >>> 3;
      if (field === 1 || field === 2) {
        expectWireType(tag, LEN, 'SearchRecentRequest');
        if (field === 1) tenantId = r.string();
        else req.query = r.string();
      } else if (field >= 3 && field <= 6) {
        expectWireType(tag, VARINT, 'SearchRecentRequest');
        const v = r.uint32();
        if (field === 3) req.startSeconds = v;
        else if (field === 4) req.endSeconds = v;
        else if (field === 5) req.limit = v;
        else req.spss = v;
      } else skipField(r, tag, end, 'SearchRecentRequest');
    }
    requireTenant(tenantId, 'SearchRecentRequest');
    if (req.limit === 0) throw malformed('SearchRecentRequest has limit 0');
    return { tenantId, req };
  });
}

export function encodeSearchRecentResponse(p: SearchPartial): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(lenTag(1)).bytes(encodeSearchResponse({ traces: p.traces, metrics: p.metrics }));
  writeMetas(w, 2, p.flushedBlocks);
  return w.finish();
}

export function decodeSearchRecentResponse(buf: Uint8Array): SearchPartial {
  return decodeWith(buf, 'search-recent response', (r, end) => {
    let inner: Uint8Array | undefined;
    const flushedBlocks: BlockMeta[] = [];
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === lenTag(1)) inner = r.bytes();
      else if (tag === lenTag(2)) flushedBlocks.push(parseMeta(r.string()));
      else skipField(r, tag, end, 'SearchRecentResponse');
    }
    if (!inner) throw malformed('SearchRecentResponse has no search_response');
    const { traces, metrics } = decodeSearchResponse(inner);
    return { traces, metrics, flushedBlocks };
  });
}

function encodeTagsRequest(tenantId: string, req: TagsRequest, tag?: { tag: string; v2: boolean }): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(lenTag(1)).string(tenantId);
  w.uint32(lenTag(2)).string(req.query);
  w.uint32(varintTag(3)).uint32(checkUint32(req.startSeconds, 'start_seconds'));
  w.uint32(varintTag(4)).uint32(checkUint32(req.endSeconds, 'end_seconds'));
  if (tag) {
    w.uint32(lenTag(5)).string(tag.tag);
    w.uint32(varintTag(6)).bool(tag.v2);
  }
  return w.finish();
}

function decodeTagsRequest(buf: Uint8Array, what: string): TenantRequest<TagsRequest> & { tag?: string; v2: boolean } {
  return decodeWith(buf, what, (r, end) => {
    let tenantId = '';
    let tag: string | undefined;
    let v2 = false;
    const req: TagsRequest = { query: '', startSeconds: 0, endSeconds: 0 };
    while (r.pos < end) {
      const t = r.uint32();
      const field = t >>> 3;
      if (field === 1 || field === 2 || field === 5) {
        expectWireType(t, LEN, 'TagsRecentRequest');
        const s = r.string();
        if (field === 1) tenantId = s;
        else if (field === 2) req.query = s;
        else tag = s;
      } else if (field === 3 || field === 4 || field === 6) {
        expectWireType(t, VARINT, 'TagsRecentRequest');
        const v = r.uint32();
        if (field === 3) req.startSeconds = v;
        else if (field === 4) req.endSeconds = v;
        else v2 = v !== 0;
      } else skipField(r, t, end, 'TagsRecentRequest');
    }
    requireTenant(tenantId, 'TagsRecentRequest');
    return { tenantId, req, ...(tag !== undefined ? { tag } : {}), v2 };
  });
}

export const encodeSearchTagsRecentRequest = ({ tenantId, req }: TenantRequest<TagsRequest>): Uint8Array => encodeTagsRequest(tenantId, req);

export function decodeSearchTagsRecentRequest(buf: Uint8Array): TenantRequest<TagsRequest> {
  const { tenantId, req } = decodeTagsRequest(buf, 'tag names request');
  return { tenantId, req };
}

export const encodeSearchTagValuesRecentRequest = ({ tenantId, req }: TenantRequest<TagValuesRequest>): Uint8Array =>
  encodeTagsRequest(tenantId, { query: req.query, startSeconds: req.startSeconds, endSeconds: req.endSeconds }, { tag: req.tag, v2: req.v2 });

export function decodeSearchTagValuesRecentRequest(buf: Uint8Array): TenantRequest<TagValuesRequest> {
  const { tenantId, req, tag, v2 } = decodeTagsRequest(buf, 'tag values request');
  if (!tag) throw malformed('tag values request: TagsRecentRequest has no tag');
  return { tenantId, req: { ...req, tag, v2 } };
}

export function encodeSearchTagsRecentResponse(p: TagsPartial): Uint8Array {
  const w = protobuf.Writer.create();
  for (const [scope, names] of Object.entries(p.names) as [TagScope, string[] | undefined][]) {
    w.uint32(lenTag(1)).fork();
    w.uint32(lenTag(1)).string(scope);
    for (const n of names ?? []) w.uint32(lenTag(2)).string(n);
    w.ldelim();
  }
  w.uint32(i64Tag(2));
  writeFixed64(w, p.inspectedBytes);
  writeMetas(w, 3, p.flushedBlocks);
  return w.finish();
}

const SCOPES = new Set<string>(TAG_SCOPES);

export function decodeSearchTagsRecentResponse(buf: Uint8Array): TagsPartial {
  return decodeWith(buf, 'tag names response', (r, end) => {
    const names: TagsPartial['names'] = {};
    let inspectedBytes = 0n;
    const flushedBlocks: BlockMeta[] = [];
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === lenTag(1)) {
        const e = lenEnd(r, end, 'ScopeNames');
        let scope = '';
        const list: string[] = [];
        while (r.pos < e) {
          const t = r.uint32();
          if (t === lenTag(1)) scope = r.string();
          else if (t === lenTag(2)) list.push(r.string());
          else skipField(r, t, e, 'ScopeNames');
        }
        if (r.pos !== e) throw malformed('ScopeNames runs past its length');
        if (!SCOPES.has(scope)) throw malformed(`ScopeNames has an unknown scope ${JSON.stringify(scope)}`);
        (names[scope as TagScope] ??= []).push(...list);
      } else if (tag === i64Tag(2)) inspectedBytes = readFixed64(r, end, 'inspected_bytes');
      else if (tag === lenTag(3)) flushedBlocks.push(parseMeta(r.string()));
      else skipField(r, tag, end, 'TagNamesResponse');
    }
    return { names, inspectedBytes, flushedBlocks };
  });
}

const VALUE_TYPES = new Set<string>(['string', 'int', 'float', 'bool', 'keyword']);

export function encodeSearchTagValuesRecentResponse(p: TagValuesPartial): Uint8Array {
  const w = protobuf.Writer.create();
  for (const v of p.values) {
    w.uint32(lenTag(1)).fork();
    w.uint32(lenTag(1)).string(v.type);
    w.uint32(lenTag(2)).string(v.value);
    w.ldelim();
  }
  w.uint32(i64Tag(2));
  writeFixed64(w, p.inspectedBytes);
  writeMetas(w, 3, p.flushedBlocks);
  return w.finish();
}

export function decodeSearchTagValuesRecentResponse(buf: Uint8Array): TagValuesPartial {
  return decodeWith(buf, 'tag values response', (r, end) => {
    const values: TagValue[] = [];
    let inspectedBytes = 0n;
    const flushedBlocks: BlockMeta[] = [];
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === lenTag(1)) {
        const e = lenEnd(r, end, 'TypedValue');
        let type = '';
        let value = '';
        while (r.pos < e) {
          const t = r.uint32();
          if (t === lenTag(1)) type = r.string();
          else if (t === lenTag(2)) value = r.string();
          else skipField(r, t, e, 'TypedValue');
        }
        if (r.pos !== e) throw malformed('TypedValue runs past its length');
        if (!VALUE_TYPES.has(type)) throw malformed(`TypedValue has an unknown type ${JSON.stringify(type)}`);
        values.push({ type: type as TagValue['type'], value });
      } else if (tag === i64Tag(2)) inspectedBytes = readFixed64(r, end, 'inspected_bytes');
      else if (tag === lenTag(3)) flushedBlocks.push(parseMeta(r.string()));
      else skipField(r, tag, end, 'TagValuesResponse');
    }
    return { values, inspectedBytes, flushedBlocks };
  });
}
