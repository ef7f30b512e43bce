// Reading spans for the processors: attribute lookup and stringification as Tempo does it
// (modules/generator/processor/util), span kind and status names as OTLP's enums print.

import { bytesToHex, type AnyValue, type KeyValue } from '@andante/model';

export const SPAN_KIND_NAMES = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
export const STATUS_CODE_NAMES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

export const spanKindName = (kind: number): string => SPAN_KIND_NAMES[kind] ?? String(kind);
export const statusCodeName = (code: number): string => STATUS_CODE_NAMES[code] ?? String(code);

export function stringifyAnyValue(v: AnyValue): string {
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return v.intValue.toString();
  if ('doubleValue' in v) return String(v.doubleValue);
  if ('boolValue' in v) return v.boolValue ? 'true' : 'false';
  if ('arrayValue' in v) return `[${v.arrayValue.values.map(stringifyAnyValue).join(' ')}]`;
  if ('kvlistValue' in v) return `{${v.kvlistValue.values.map((kv) => `${kv.key}:${stringifyAnyValue(kv.value)}`).join(' ')}}`;
  if ('bytesValue' in v) return Buffer.from(v.bytesValue).toString('base64');
  return '';
}

/** `first` (the resource, as Tempo looks there first), then `second` (the span): the first holding `key` wins. Two fixed parameters: no array per call on the hot path. */
export function findAttribute(key: string, first: readonly KeyValue[], second?: readonly KeyValue[]): AnyValue | undefined {
  for (let i = 0; i < first.length; i++) if (first[i]!.key === key) return first[i]!.value;
  if (second) for (let i = 0; i < second.length; i++) if (second[i]!.key === key) return second[i]!.value;
  return undefined;
}

export function findAttributeString(key: string, first: readonly KeyValue[], second?: readonly KeyValue[]): string | undefined {
  const v = findAttribute(key, first, second);
  return v === undefined ? undefined : stringifyAnyValue(v);
}

/** Tempo's GetSpanMultiplier: a positive double attribute `key` (span, then resource) is a sampling ratio r, counting 1/r. */
export function spanMultiplier(key: string, span: { attributes: readonly KeyValue[] }, resource: readonly KeyValue[]): number {
  if (!key) return 1;
  for (const attrs of [span.attributes, resource]) {
    for (const kv of attrs) {
      if (kv.key === key && 'doubleValue' in kv.value && kv.value.doubleValue > 0) return 1 / kv.value.doubleValue;
    }
  }
  return 1;
}

/** Span duration in seconds; a negative duration counts as 0. */
export function spanDurationSeconds(span: { startTimeUnixNano: bigint; endTimeUnixNano: bigint; durationSeconds?: number }): number {
  const seconds = span.durationSeconds;
  if (seconds !== undefined) return seconds;
  const d = span.endTimeUnixNano - span.startTimeUnixNano;
  return d > 0n ? Number(d) / 1e9 : 0;
}

/** The span's trace ID as hex: the decoder's views cache it per trace; other spans convert each time. */
export function traceIdHexOf(span: { traceId: Uint8Array; traceIdHex?(): string }): string {
  return span.traceIdHex !== undefined ? span.traceIdHex() : bytesToHex(span.traceId);
}
