import { describe, expect, it } from 'vitest';
import { ExportResponseType } from '@andante/model/testing';
import { encodeExportTraceServiceResponse, exportResponseToJson } from './export-response.js';

describe('export response', () => {
  const decode = (b: Uint8Array) => ExportResponseType.toObject(ExportResponseType.decode(b), { longs: String });

  it('is empty when nothing was rejected', () => {
    expect(encodeExportTraceServiceResponse(0, '').length).toBe(0);
    expect(exportResponseToJson(0, '')).toBe('{}');
  });

  it('carries partial_success with rejected_spans and error_message', () => {
    const b = encodeExportTraceServiceResponse(3, 'RATE_LIMITED: too fast');
    expect(decode(b)).toEqual({ partialSuccess: { rejectedSpans: '3', errorMessage: 'RATE_LIMITED: too fast' } });
    expect(Buffer.from(encodeExportTraceServiceResponse(300, '')).toString('hex')).toBe('0a0308ac02');
    expect(decode(encodeExportTraceServiceResponse(2 ** 40, ''))).toEqual({ partialSuccess: { rejectedSpans: String(2 ** 40) } });
    expect(exportResponseToJson(3, 'a "quoted" msg')).toBe('{"partialSuccess":{"rejectedSpans":"3","errorMessage":"a \\"quoted\\" msg"}}');
    expect(exportResponseToJson(0, 'warning')).toBe('{"partialSuccess":{"errorMessage":"warning"}}');
  });
});
