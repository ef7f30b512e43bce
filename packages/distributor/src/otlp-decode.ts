// The ingest hot path: reads an OTLP ExportTraceServiceRequest without building span objects.
// It records where each resource, scope and span lies in the buffer, plus the few fields the
// distributor needs (IDs, times), so segments can later be cut by copying bytes.
//
// It still walks every nested message (attributes, events, links, status, AnyValue trees) to check
// the wire structure, so whatever it accepts, decodeTrace can decode later: one malformed span must
// not poison a stored trace. Strings are not UTF-8 checked (gogo/protobuf, which Tempo uses, does not
// check them either).
//
// Field numbers (opentelemetry-proto trace/v1/trace.proto, common/v1/common.proto,
// resource/v1/resource.proto):
//   ExportTraceServiceRequest / TracesData / tempopb.Trace: 1 resource_spans
//   ResourceSpans: 1 resource, 2 scope_spans, 3 schema_url
//   ScopeSpans: 1 scope, 2 spans, 3 schema_url
//   Span: 1 trace_id, 2 span_id, 3 trace_state, 4 parent_span_id, 5 name, 6 kind,
//         7 start_time_unix_nano (fixed64), 8 end_time_unix_nano (fixed64), 9 attributes,
//         10 dropped_attributes_count, 11 events, 12 dropped_events_count, 13 links,
//         14 dropped_links_count, 15 status, 16 flags (fixed32)
//   Event: 1 time_unix_nano (fixed64), 2 name, 3 attributes, 4 dropped_attributes_count
//   Link: 1 trace_id, 2 span_id, 3 trace_state, 4 attributes, 5 dropped_attributes_count, 6 flags (fixed32)
//   Status: 2 message, 3 code
//   Resource: 1 attributes, 2 dropped_attributes_count
//   InstrumentationScope: 1 name, 2 version, 3 attributes, 4 dropped_attributes_count
//   KeyValue: 1 key, 2 value; KeyValueList / ArrayValue: 1 values
//   AnyValue: 1 string, 2 bool, 3 int64, 4 double, 5 array, 6 kvlist, 7 bytes

import {
  ANY_VALUE_FIELDS,
  EMPTY_BYTES,
  EVENT_FIELDS,
  KEY_VALUE_FIELDS,
  LINK_FIELDS,
  LIST_FIELDS,
  MAX_DEPTH,
  REQUEST_FIELDS,
  RESOURCE_FIELDS,
  RESOURCE_SPANS_FIELDS,
  Reader,
  SCOPE_FIELDS,
  SCOPE_SPANS_FIELDS,
  SPAN_FIELDS,
  STATUS_FIELDS,
  asInvalidArgument,
  checkEnd,
  lenEnd,
  malformed,
  otherField,
  readFixed64,
  skipField,
} from '@andante/model/wire';

export interface ResourceRef {
  /** Byte range of the encoded Resource message in the buffer; -1 when the field is absent. */
  start: number;
  end: number;
  /** Raw UTF-8 bytes of schema_url (a view of the buffer), possibly empty. */
  schemaUrl: Uint8Array;
}

export interface ScopeRef {
  /** Index into DecodedBatch.resources. */
  resource: number;
  /** Byte range of the encoded InstrumentationScope; -1 when the field is absent. */
  start: number;
  end: number;
  schemaUrl: Uint8Array;
}

export interface SpanRef {
  /** Index into DecodedBatch.scopes. */
  scope: number;
  /** Byte range of the whole encoded Span message (without its tag and length). */
  start: number;
  end: number;
  /** Views of the buffer, whatever length was sent: validating them is the caller's job. */
  traceId: Uint8Array;
  spanId: Uint8Array;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
}

export interface DecodedBatch {
  buffer: Uint8Array;
  resources: ResourceRef[];
  scopes: ScopeRef[];
  spans: SpanRef[];
}

/**
 * Decodes an ExportTraceServiceRequest (or TracesData / tempopb.Trace: same wire layout) into byte
 * ranges. Throws InvalidArgumentError on malformed input.
 */
export function decodeExportRequest(buf: Uint8Array): DecodedBatch {
  const batch: DecodedBatch = { buffer: buf, resources: [], scopes: [], spans: [] };
  const r = new Reader(buf);
  const end = buf.length;
  try {
    while (r.pos < end) {
      const tag = r.tag();
      if (tag === 0x0a) {
        const e = lenEnd(r, end, 'ResourceSpans');
        readResourceSpans(r, e, batch);
      } else {
        otherField(r, tag, end, 'ExportTraceServiceRequest', REQUEST_FIELDS);
      }
    }
  } catch (err) {
    throw asInvalidArgument(err, 'OTLP trace request');
  }
  return batch;
}

function readResourceSpans(r: Reader, end: number, batch: DecodedBatch): void {
  const resourceIndex = batch.resources.length;
  const res: ResourceRef = { start: -1, end: -1, schemaUrl: EMPTY_BYTES };
  batch.resources.push(res);
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a: {
        // A repeated message field would be merged by protobuf; a byte range cannot express that.
        if (res.start !== -1) throw malformed(`ResourceSpans at offset ${r.pos} has more than one resource field`);
        const e = lenEnd(r, end, 'Resource');
        res.start = r.pos;
        res.end = e;
        validateResource(r, e);
        break;
      }
      case 0x12: {
        const e = lenEnd(r, end, 'ScopeSpans');
        readScopeSpans(r, e, batch, resourceIndex);
        break;
      }
      case 0x1a: {
        const e = lenEnd(r, end, 'ResourceSpans.schema_url');
        res.schemaUrl = r.buf.subarray(r.pos, e);
        r.pos = e;
        break;
      }
      default:
        otherField(r, tag, end, 'ResourceSpans', RESOURCE_SPANS_FIELDS);
    }
  }
  checkEnd(r, end, 'ResourceSpans');
}

function readScopeSpans(r: Reader, end: number, batch: DecodedBatch, resource: number): void {
  const scopeIndex = batch.scopes.length;
  const scope: ScopeRef = { resource, start: -1, end: -1, schemaUrl: EMPTY_BYTES };
  batch.scopes.push(scope);
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a: {
        if (scope.start !== -1) throw malformed(`ScopeSpans at offset ${r.pos} has more than one scope field`);
        const e = lenEnd(r, end, 'InstrumentationScope');
        scope.start = r.pos;
        scope.end = e;
        validateScope(r, e);
        break;
      }
      case 0x12: {
        const e = lenEnd(r, end, 'Span');
        readSpan(r, e, batch, scopeIndex);
        break;
      }
      case 0x1a: {
        const e = lenEnd(r, end, 'ScopeSpans.schema_url');
        scope.schemaUrl = r.buf.subarray(r.pos, e);
        r.pos = e;
        break;
      }
      default:
        otherField(r, tag, end, 'ScopeSpans', SCOPE_SPANS_FIELDS);
    }
  }
  checkEnd(r, end, 'ScopeSpans');
}

function readSpan(r: Reader, end: number, batch: DecodedBatch, scope: number): void {
  const start = r.pos;
  const buf = r.buf;
  let traceId = EMPTY_BYTES;
  let spanId = EMPTY_BYTES;
  let startTime = 0n;
  let endTime = 0n;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a: {
        const e = lenEnd(r, end, 'Span.trace_id');
        traceId = buf.subarray(r.pos, e);
        r.pos = e;
        break;
      }
      case 0x12: {
        const e = lenEnd(r, end, 'Span.span_id');
        spanId = buf.subarray(r.pos, e);
        r.pos = e;
        break;
      }
      case 0x39:
        startTime = readFixed64(r, end, 'Span.start_time_unix_nano');
        break;
      case 0x41:
        endTime = readFixed64(r, end, 'Span.end_time_unix_nano');
        break;
      case 0x1a: // trace_state
      case 0x22: // parent_span_id
      case 0x2a: // name
        r.pos = lenEnd(r, end, 'Span');
        break;
      case 0x30: // kind
      case 0x50: // dropped_attributes_count
      case 0x60: // dropped_events_count
      case 0x70: // dropped_links_count
      case 0x85: // flags (fixed32, field 16)
        skipField(r, tag, end, 'Span');
        break;
      case 0x4a: {
        const e = lenEnd(r, end, 'Span.attributes');
        validateKeyValue(r, e, 0);
        break;
      }
      case 0x5a: {
        const e = lenEnd(r, end, 'Span.events');
        validateEvent(r, e);
        break;
      }
      case 0x6a: {
        const e = lenEnd(r, end, 'Span.links');
        validateLink(r, e);
        break;
      }
      case 0x7a: {
        const e = lenEnd(r, end, 'Span.status');
        validateStatus(r, e);
        break;
      }
      default:
        otherField(r, tag, end, 'Span', SPAN_FIELDS);
    }
  }
  checkEnd(r, end, 'Span');
  batch.spans.push({ scope, start, end, traceId, spanId, startTimeUnixNano: startTime, endTimeUnixNano: endTime });
}

// ---- structure checks of the messages the hot path does not decode ----

function validateResource(r: Reader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x0a) {
      const e = lenEnd(r, end, 'Resource.attributes');
      validateKeyValue(r, e, 0);
    } else if (tag === 0x10) {
      skipField(r, tag, end, 'Resource');
    } else {
      otherField(r, tag, end, 'Resource', RESOURCE_FIELDS);
    }
  }
  checkEnd(r, end, 'Resource');
}

function validateScope(r: Reader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a:
      case 0x12:
        r.pos = lenEnd(r, end, 'InstrumentationScope');
        break;
      case 0x1a: {
        const e = lenEnd(r, end, 'InstrumentationScope.attributes');
        validateKeyValue(r, e, 0);
        break;
      }
      case 0x20:
        skipField(r, tag, end, 'InstrumentationScope');
        break;
      default:
        otherField(r, tag, end, 'InstrumentationScope', SCOPE_FIELDS);
    }
  }
  checkEnd(r, end, 'InstrumentationScope');
}

function validateKeyValue(r: Reader, end: number, depth: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x0a) {
      r.pos = lenEnd(r, end, 'KeyValue.key');
    } else if (tag === 0x12) {
      const e = lenEnd(r, end, 'KeyValue.value');
      validateAnyValue(r, e, depth);
    } else {
      otherField(r, tag, end, 'KeyValue', KEY_VALUE_FIELDS);
    }
  }
  checkEnd(r, end, 'KeyValue');
}

function validateAnyValue(r: Reader, end: number, depth: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a: // string_value
      case 0x3a: // bytes_value
        r.pos = lenEnd(r, end, 'AnyValue');
        break;
      case 0x10: // bool_value
      case 0x18: // int_value
      case 0x21: // double_value
        skipField(r, tag, end, 'AnyValue');
        break;
      case 0x2a:
      case 0x32: {
        if (depth >= MAX_DEPTH) throw malformed(`AnyValue nested more than ${MAX_DEPTH} deep`);
        const e = lenEnd(r, end, 'AnyValue');
        validateList(r, e, depth + 1, tag === 0x2a);
        break;
      }
      default:
        otherField(r, tag, end, 'AnyValue', ANY_VALUE_FIELDS);
    }
  }
  checkEnd(r, end, 'AnyValue');
}

/** ArrayValue (values: AnyValue) or KeyValueList (values: KeyValue). */
function validateList(r: Reader, end: number, depth: number, isArray: boolean): void {
  const what = isArray ? 'ArrayValue' : 'KeyValueList';
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x0a) {
      const e = lenEnd(r, end, what);
      if (isArray) validateAnyValue(r, e, depth);
      else validateKeyValue(r, e, depth);
    } else {
      otherField(r, tag, end, what, LIST_FIELDS);
    }
  }
  checkEnd(r, end, what);
}

function validateEvent(r: Reader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x09:
      case 0x20:
        skipField(r, tag, end, 'Span.Event');
        break;
      case 0x12:
        r.pos = lenEnd(r, end, 'Span.Event.name');
        break;
      case 0x1a: {
        const e = lenEnd(r, end, 'Span.Event.attributes');
        validateKeyValue(r, e, 0);
        break;
      }
      default:
        otherField(r, tag, end, 'Span.Event', EVENT_FIELDS);
    }
  }
  checkEnd(r, end, 'Span.Event');
}

function validateLink(r: Reader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a:
      case 0x12:
      case 0x1a:
        r.pos = lenEnd(r, end, 'Span.Link');
        break;
      case 0x22: {
        const e = lenEnd(r, end, 'Span.Link.attributes');
        validateKeyValue(r, e, 0);
        break;
      }
      case 0x28:
      case 0x35:
        skipField(r, tag, end, 'Span.Link');
        break;
      default:
        otherField(r, tag, end, 'Span.Link', LINK_FIELDS);
    }
  }
  checkEnd(r, end, 'Span.Link');
}

function validateStatus(r: Reader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x12) r.pos = lenEnd(r, end, 'Status.message');
    else if (tag === 0x18) skipField(r, tag, end, 'Status');
    else otherField(r, tag, end, 'Status', STATUS_FIELDS);
  }
  checkEnd(r, end, 'Status');
}
