import { describe, expect, it } from 'vitest';
import type { KeyValue, SpanEvent } from '@andante/model';
import { decodeEvents, decodeKeyValues, encodeEvents, encodeKeyValues } from './binary-codec.js';

const kv = (key: string, stringValue: string): KeyValue => ({ key, value: { stringValue } });

describe('binary-codec encoders', () => {
  it('round-trip strings of every kind: short ASCII, non-ASCII, 127 and 128 code units, empty', () => {
    const strings = ['', 'GET', 'héllo', '日本語', '😀 emoji', 'a'.repeat(127), 'b'.repeat(128), 'c'.repeat(5000), '\u0000\u007f'];
    const kvs = strings.map((s, i) => kv(s, strings[strings.length - 1 - i]!));
    expect(decodeKeyValues(encodeKeyValues(kvs))).toEqual(kvs);
  });

  it('writes a string the same bytes as UTF-8 with a varint length', () => {
    for (const s of ['GET', 'é', 'x'.repeat(127), 'x'.repeat(128)]) {
      const utf8 = Buffer.from(s, 'utf8');
      const len = utf8.length < 0x80 ? [utf8.length] : [(utf8.length & 0x7f) | 0x80, utf8.length >> 7];
      // count 1, key, value tag 1 (string), value
      expect(Buffer.from(encodeKeyValues([kv(s, '')]))).toEqual(Buffer.from([1, ...len, ...utf8, 1, 0]));
    }
  });

  it('returns a separate copy per call although the writer is reused', () => {
    const a = encodeKeyValues([kv('k', 'first')]);
    const copy = Buffer.from(a);
    const events: SpanEvent[] = [{ timeUnixNano: 15n, name: 'cache miss', attributes: [kv('tier', 'l2')], droppedAttributesCount: 3 }];
    const b = encodeEvents(events, 10n);
    expect(Buffer.from(a)).toEqual(copy);
    expect(decodeEvents(b, 10n)).toEqual(events);
    // A record past the reuse bound, then small ones again.
    const big = [kv('big', 'z'.repeat(2 << 20))];
    expect(decodeKeyValues(encodeKeyValues(big))).toEqual(big);
    expect(decodeKeyValues(encodeKeyValues([kv('k', 'v')]))).toEqual([kv('k', 'v')]);
  });
});
