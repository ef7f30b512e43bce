// The OpenTelemetry Collector's zipkin exporter carries what Zipkin v2 has no field for in strings,
// and its zipkin receiver reads them back (contrib pkg/translator/zipkin/zipkinv2, read for its
// behaviour, not copied):
//
// - a span event with attributes or dropped attributes becomes an annotation whose value is
//   `name|{json attributes}|droppedAttributesCount` (an event with neither is just its name);
// - link N becomes the tag `otlp.link.N` = `traceId|spanId|traceState|{json attributes}|dropped`.
//
// The receiver splits on `|`: the name (or the IDs and trace state) first, the dropped count last,
// and the JSON object in between (rejoined, so `|` inside it survives). JSON values are typed as
// Go decodes them: strings, booleans, and numbers as int when whole, else double; anything else
// (arrays, objects, null) is skipped by the Collector.
//
// Where this differs, marked "(here)":
// - A value that is not the encoding stays a plain annotation, the whole value as the event name:
//   Zipkin annotations are free text, and `|` in one is legitimate. The Collector instead names
//   the event by the part before the first `|` ("a|b" -> "a") and, when there are 3 or more parts
//   whose middle is not a JSON object or whose last is not a uint32, refuses the whole request
//   (400) — so one odd annotation would lose every span of the batch.
// - An event name that itself holds `|` (the Collector's exporter writes it unescaped, and its
//   receiver then refuses the request) is recovered: later `|` are tried as the name/JSON
//   boundary, the Collector's split (the first `|`) first, so its answers are kept wherever it
//   has one.
// - Arrays and objects become arrayValue / kvlistValue (the Collector's exporter writes array and
//   map attributes as JSON arrays and objects, which its receiver drops); whole numbers beyond the
//   int64 range stay doubles (Go's conversion gives an undefined value there).
// - A malformed `otlp.link.N` tag stays a string attribute (the Collector drops one with fewer than
//   5 parts and refuses the request for bad IDs, JSON or count).

import type { AnyValue, KeyValue, SpanEvent, SpanLink } from '@andante/model';

/** Boundaries tried for an event name holding `|`; bounds the work on a hostile annotation. */
const MAX_SPLITS = 8;
const UINT32_MAX = 0xffff_ffff;
const INT64_LIMIT = 2 ** 63;
const DIGITS = /^[0-9]+$/;
const HEX = /^[0-9a-fA-F]*$/;

class NotEncoded extends Error {}

function typed(v: unknown): AnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') {
    // JSON.parse gives Infinity where Go's decoder refuses the number: not the encoding.
    if (!Number.isFinite(v)) throw new NotEncoded();
    return Number.isInteger(v) && v >= -INT64_LIMIT && v < INT64_LIMIT ? { intValue: BigInt(v) } : { doubleValue: v };
  }
  if (Array.isArray(v)) return { arrayValue: { values: v.map((x) => (x === null ? {} : typed(x))) } };
  if (v !== null && typeof v === 'object') return { kvlistValue: { values: entries(v as Record<string, unknown>) } };
  return {};
}

function entries(obj: Record<string, unknown>): KeyValue[] {
  const out: KeyValue[] = [];
  // null values carry nothing to keep; the Collector skips them too.
  for (const [key, v] of Object.entries(obj)) if (v !== null) out.push({ key, value: typed(v) });
  return out;
}

/** The attributes of a JSON object (`null` is none, as Go decodes it into a map); undefined when not one. */
export function jsonAttributes(text: string): KeyValue[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (parsed === null) return [];
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  try {
    return entries(parsed as Record<string, unknown>);
  } catch (err) {
    if (err instanceof NotEncoded) return undefined;
    throw err;
  }
}

function droppedCount(text: string): number | undefined {
  if (!DIGITS.test(text)) return undefined;
  const n = Number(text);
  return n <= UINT32_MAX ? n : undefined;
}

/** A Zipkin annotation as the span event the Collector's exporter encoded in it, or a plain event. */
export function annotationToEvent(value: string, timeUnixNano: bigint): SpanEvent {
  const plain: SpanEvent = { timeUnixNano, name: value, attributes: [], droppedAttributesCount: 0 };
  const last = value.lastIndexOf('|');
  if (last < 0) return plain;
  const dropped = droppedCount(value.slice(last + 1));
  if (dropped === undefined) return plain;
  const head = value.slice(0, last);
  let bar = head.indexOf('|');
  for (let i = 0; bar >= 0 && i < MAX_SPLITS; i++, bar = head.indexOf('|', bar + 1)) {
    const json = head.slice(bar + 1);
    const start = json.trimStart();
    // Only the Collector's own split (the first `|`) may be `null`; later ones must be an object.
    if (start.startsWith('{') || (i === 0 && start.startsWith('null'))) {
      const attributes = jsonAttributes(json);
      if (attributes) return { timeUnixNano, name: head.slice(0, bar), attributes, droppedAttributesCount: dropped };
    }
  }
  return plain;
}

function linkId(text: string, bytes: 8 | 16): Uint8Array | undefined {
  // The Collector's ID reader strips surrounding quotes and takes "" as the zero (absent) ID.
  const hex = text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
  if (hex === '') return new Uint8Array(0);
  if (hex.length !== bytes * 2 || !HEX.test(hex)) return undefined;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** An `otlp.link.N` tag as the span link it encodes; undefined when it is not the encoding. */
export function tagToLink(value: string): SpanLink | undefined {
  const parts = value.split('|');
  if (parts.length < 5) return undefined;
  const traceId = linkId(parts[0]!, 16);
  const spanId = linkId(parts[1]!, 8);
  const dropped = droppedCount(parts[parts.length - 1]!);
  if (!traceId || !spanId || dropped === undefined) return undefined;
  const attributes = jsonAttributes(parts.slice(3, -1).join('|'));
  if (!attributes) return undefined;
  return { traceId, spanId, traceState: parts[2]!, attributes, droppedAttributesCount: dropped, flags: 0 };
}

/**
 * Moves the `otlp.link.0`, `otlp.link.1`, ... tags (consecutive from 0, at most 128, as the
 * Collector reads them) into links; a malformed one stays in `tags` as an attribute.
 */
export function takeLinks(tags: Map<string, string>): SpanLink[] {
  const links: SpanLink[] = [];
  for (let i = 0; i < 128; i++) {
    const key = `otlp.link.${i}`;
    const value = tags.get(key);
    if (value === undefined) break;
    const link = tagToLink(value);
    if (link) {
      links.push(link);
      tags.delete(key);
    }
  }
  return links;
}
