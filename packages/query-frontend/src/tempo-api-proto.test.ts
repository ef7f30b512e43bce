import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@andante/model';
import {
  decodeSearchRequest,
  decodeSearchTagValuesRequest,
  decodeSearchTagValuesResponse,
  decodeSearchTagValuesV2Response,
  decodeSearchTagsRequest,
  decodeSearchTagsResponse,
  decodeSearchTagsV2Response,
  encodeSearchRequest,
  encodeSearchTagValuesRequest,
  encodeSearchTagValuesResponse,
  encodeSearchTagValuesV2Response,
  encodeSearchTagsRequest,
  encodeSearchTagsResponse,
  encodeSearchTagsV2Response,
  type TempoSearchRequest,
} from './tempo-api-proto.js';

// An independent codec: protobufjs reflection over the messages as grafana/tempo's
// pkg/tempopb/tempo.proto declares them (field names and numbers transcribed from it).
const ORACLE_PROTO = `
syntax = "proto3";
package oracle;
message SearchRequest {
  map<string, string> Tags = 1; uint32 MinDurationMs = 2; uint32 MaxDurationMs = 3; uint32 Limit = 4;
  uint32 start = 5; uint32 end = 6; string Query = 8; uint32 SpansPerSpanSet = 9; repeated string skipASTTransformations = 11;
}
message SearchTagsRequest { string scope = 1; string query = 2; uint32 start = 3; uint32 end = 4; uint32 maxTagsPerScope = 5; uint32 staleValuesThreshold = 6; }
message SearchTagValuesRequest { string tagName = 1; string query = 2; uint32 start = 4; uint32 end = 5; uint32 maxTagValues = 6; uint32 staleValueThreshold = 7; }
message MetadataMetrics { uint64 inspectedBytes = 1; uint32 totalJobs = 2; }
message SearchTagsResponse { repeated string tagNames = 1; MetadataMetrics metrics = 2; }
message SearchTagsV2Response { repeated SearchTagsV2Scope scopes = 1; MetadataMetrics metrics = 2; }
message SearchTagsV2Scope { string name = 1; repeated string tags = 2; }
message SearchTagValuesResponse { repeated string tagValues = 1; MetadataMetrics metrics = 2; }
message TagValue { string type = 1; string value = 2; }
message SearchTagValuesV2Response { repeated TagValue tagValues = 1; MetadataMetrics metrics = 2; }
`;
const root = protobuf.parse(ORACLE_PROTO).root;
const type = (name: string): protobuf.Type => root.lookupType(`oracle.${name}`);
const toObject = (name: string, bytes: Uint8Array): Record<string, unknown> =>
  type(name).toObject(type(name).decode(bytes), { longs: String, defaults: false }) as Record<string, unknown>;
const fromObject = (name: string, obj: Record<string, unknown>): Uint8Array => type(name).encode(type(name).fromObject(obj)).finish();

const REQUEST: TempoSearchRequest = {
  tags: { 'service.name': 'shop', 'http.status_code': '500' },
  minDurationMs: 100,
  maxDurationMs: 5000,
  limit: 20,
  start: 1_700_000_000,
  end: 4_000_000_000, // above 2^31: must survive as uint32
  query: '{ resource.service.name = "shop" }',
  spansPerSpanSet: 3,
};

describe('tempopb.SearchRequest', () => {
  it('round-trips, and the oracle reads every field under Tempo’s numbers', () => {
    const bytes = encodeSearchRequest(REQUEST);
    expect(decodeSearchRequest(bytes)).toEqual(REQUEST);
    expect(toObject('SearchRequest', bytes)).toEqual({
      Tags: REQUEST.tags,
      MinDurationMs: 100,
      MaxDurationMs: 5000,
      Limit: 20,
      start: 1_700_000_000,
      end: 4_000_000_000,
      Query: REQUEST.query,
      SpansPerSpanSet: 3,
    });
  });

  it('reads what another encoder wrote, skipping fields it does not use', () => {
    const bytes = fromObject('SearchRequest', { Query: '{ }', Limit: 1, start: 10, end: 20, skipASTTransformations: ['x'] });
    expect(decodeSearchRequest(bytes)).toEqual({ tags: {}, minDurationMs: 0, maxDurationMs: 0, limit: 1, start: 10, end: 20, query: '{ }', spansPerSpanSet: 0 });
  });

  it('refuses malformed input with an InvalidArgumentError naming the message', () => {
    expect(() => decodeSearchRequest(Uint8Array.from([0x42, 0x05, 0x61]))).toThrow(InvalidArgumentError);
    expect(() => decodeSearchRequest(Uint8Array.from([0x42, 0x05, 0x61]))).toThrow(/SearchRequest/);
    // Limit (4) sent length-delimited: a known field with the wrong wire type.
    expect(() => decodeSearchRequest(Uint8Array.from([0x22, 0x00]))).toThrow(/wire type/);
  });
});

describe('tempopb tag requests and responses', () => {
  it('round-trip the requests under Tempo’s numbers (SearchTagValuesRequest skips 3)', () => {
    const tags = { scope: 'resource', query: '{ }', start: 1, end: 2, maxTagsPerScope: 10, staleValuesThreshold: 5 };
    expect(decodeSearchTagsRequest(encodeSearchTagsRequest(tags))).toEqual(tags);
    expect(toObject('SearchTagsRequest', encodeSearchTagsRequest(tags))).toEqual(tags);
    const values = { tagName: 'resource.service.name', query: '{ .a = 1 }', start: 3, end: 4, maxTagValues: 7, staleValueThreshold: 9 };
    expect(decodeSearchTagValuesRequest(encodeSearchTagValuesRequest(values))).toEqual(values);
    expect(toObject('SearchTagValuesRequest', encodeSearchTagValuesRequest(values))).toEqual(values);
  });

  it('round-trip the four responses, and the oracle agrees', () => {
    const metrics = { inspectedBytes: 42n };
    const v1 = { tagNames: ['a', 'b'], metrics };
    expect(decodeSearchTagsResponse(encodeSearchTagsResponse(v1))).toEqual(v1);
    expect(toObject('SearchTagsResponse', encodeSearchTagsResponse(v1))).toEqual({ tagNames: ['a', 'b'], metrics: { inspectedBytes: '42' } });

    const v2 = { scopes: [{ name: 'resource', tags: ['service.name'] }, { name: 'span', tags: [] }], metrics: { inspectedBytes: 0n } };
    expect(decodeSearchTagsV2Response(encodeSearchTagsV2Response(v2))).toEqual(v2);
    expect(toObject('SearchTagsV2Response', encodeSearchTagsV2Response(v2))).toEqual({ scopes: [{ name: 'resource', tags: ['service.name'] }, { name: 'span' }], metrics: {} });

    const values = { tagValues: ['x', 'y'], metrics };
    expect(decodeSearchTagValuesResponse(encodeSearchTagValuesResponse(values))).toEqual(values);

    const typed = { tagValues: [{ type: 'string' as const, value: 'shop' }, { type: 'int' as const, value: '200' }], metrics };
    expect(decodeSearchTagValuesV2Response(encodeSearchTagValuesV2Response(typed))).toEqual(typed);
    expect(toObject('SearchTagValuesV2Response', encodeSearchTagValuesV2Response(typed))).toEqual({
      tagValues: [{ type: 'string', value: 'shop' }, { type: 'int', value: '200' }],
      metrics: { inspectedBytes: '42' },
    });
  });

  it('refuses a TagValue type Tempo does not have', () => {
    const bytes = fromObject('SearchTagValuesV2Response', { tagValues: [{ type: 'blob', value: 'x' }] });
    expect(() => decodeSearchTagValuesV2Response(bytes)).toThrow(/TagValue.type "blob"/);
  });
});
