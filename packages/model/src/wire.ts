// `@andante/model/wire`: protobuf wire-format primitives and the trace codec's building blocks,
// for the packages that own a codec of their own (the distributor's OTLP decoders, the
// query-frontend's Tempo API encoders, the ingester's segment filter). Not for general use: the
// package's main entry has the whole-message codecs.

export {
  Reader,
  VARINT,
  I64,
  LEN,
  I32,
  MAX_DEPTH,
  EMPTY_BYTES,
  malformed,
  asInvalidArgument,
  lenEnd,
  skipField,
  otherField,
  checkEnd,
  readInt64,
  readUint32,
  readFixed64,
  varintSize,
  writeVarint,
  REQUEST_FIELDS,
  RESOURCE_SPANS_FIELDS,
  SCOPE_SPANS_FIELDS,
  SPAN_FIELDS,
  RESOURCE_FIELDS,
  SCOPE_FIELDS,
  KEY_VALUE_FIELDS,
  ANY_VALUE_FIELDS,
  LIST_FIELDS,
  EVENT_FIELDS,
  LINK_FIELDS,
  STATUS_FIELDS,
} from './proto-wire.js';
export { newWriter, sizeTrace, writeTraceContent, decodeKeyValueMessage, encodeKeyValueMessage, str } from './trace-codec.js';
