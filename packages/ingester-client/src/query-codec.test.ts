import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, type BlockMeta } from '@andante/model';
import { decodeFindTraceByIdRequest, decodeFindTraceByIdResponse, encodeFindTraceByIdRequest, encodeFindTraceByIdResponse } from './query-codec.js';

const meta: BlockMeta = {
  format: 'vAndante1', blockID: 'b-1', tenantID: 't', startTime: '2026-01-01T00:00:00Z', endTime: '2026-01-01T00:00:01Z',
  totalObjects: 1, totalSpans: 2, size: 10, compactionLevel: 0, totalRecords: 1, bloomShards: 1, footerSize: 5, minID: 'AA==', maxID: 'AA==',
};

describe('ingester find-by-ID codec', () => {
  it('round-trips the request and a response with no trace but flushed block metas', () => {
    const traceId = new Uint8Array(16).fill(9);
    const back = decodeFindTraceByIdRequest(encodeFindTraceByIdRequest({ tenantId: 't', traceId }));
    expect(back.tenantId).toBe('t');
    expect([...back.traceId]).toEqual([...traceId]);
    expect(decodeFindTraceByIdResponse(encodeFindTraceByIdResponse({ trace: null, flushedBlocks: [meta] }))).toEqual({ trace: null, flushedBlocks: [meta] });
  });

  it('refuses a bad trace ID, a missing tenant and a block meta that is not one', () => {
    expect(() => decodeFindTraceByIdRequest(encodeFindTraceByIdRequest({ tenantId: 't', traceId: Uint8Array.of(1) }))).toThrow(InvalidArgumentError);
    expect(() => decodeFindTraceByIdRequest(encodeFindTraceByIdRequest({ tenantId: '', traceId: new Uint8Array(16) }))).toThrow(InvalidArgumentError);
    const notMeta = Buffer.concat([Buffer.from([0x12, 2]), Buffer.from('{}')]);
    expect(() => decodeFindTraceByIdResponse(notMeta)).toThrow(/not a block meta/);
    expect(() => decodeFindTraceByIdResponse(Buffer.from([0x12, 5, 0x7b]))).toThrow(InvalidArgumentError);
  });
});
