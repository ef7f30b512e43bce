// tempopb.StreamingQuerier, the gRPC service Grafana's Tempo data source calls when search
// streaming is on: Search streams results as jobs finish; the tag methods answer in one message.
// Transport-free: the server package frames these over HTTP/2 (see grpc-over-http2.ts there).

import {
  InvalidArgumentError,
  resolveTenant,
  type SearchResponse,
  type TraceSearchMetadata,
} from '@andante/model';
import { encodeSearchResponse } from '@andante/model';
import {
  decodeSearchRequest,
  decodeSearchTagValuesRequest,
  decodeSearchTagsRequest,
  encodeSearchTagValuesResponse,
  encodeSearchTagValuesV2Response,
  encodeSearchTagsResponse,
  encodeSearchTagsV2Response,
  type TempoSearchTagValuesRequest,
} from '../tempo-api-proto.js';
import type { ServerStreamCall, ServerStreamMethod } from '@andante/service';
import type { SearchService } from '../search.js';
import type { TagsService } from '../tags.js';
import { legacyFiltersToTraceQL } from './search.js';
import { scopesFor, v1TagNames, v1TagValues } from './tags.js';


export interface StreamingQuerierOptions {
  search: SearchService;
  tags: TagsService;
  multitenancyEnabled: boolean;
}

export const STREAMING_QUERIER_SERVICE = 'tempopb.StreamingQuerier';

/**
 * Largest encoded SearchResponse sent in one message: a big answer goes out as several, as
 * Tempo's query_frontend.max_grpc_streaming_packet_size (1 MiB) does; clients cap at 4 MiB.
 */
export const MAX_SEARCH_MESSAGE_BYTES = 1 << 20;

/** Encodes `traces` as one or more SearchResponse messages of at most MAX_SEARCH_MESSAGE_BYTES (each with `metrics`). */
export function encodeSearchMessages(traces: readonly TraceSearchMetadata[], metrics: SearchResponse['metrics']): Uint8Array[] {
  const messages: Uint8Array[] = [];
  let batch: TraceSearchMetadata[] = [];
  let batchBytes = 0;
  for (const t of traces) {
    const bytes = encodeSearchResponse({ traces: [t], metrics }).length;
    if (batch.length > 0 && batchBytes + bytes > MAX_SEARCH_MESSAGE_BYTES) {
      messages.push(encodeSearchResponse({ traces: batch, metrics }));
      batch = [];
      batchBytes = 0;
    }
    batch.push(t);
    batchBytes += bytes;
  }
  if (batch.length > 0 || messages.length === 0) messages.push(encodeSearchResponse({ traces: batch, metrics }));
  return messages;
}

const msDuration = (ms: number): string | undefined => (ms > 0 ? `${ms}ms` : undefined);

/** The service's methods by gRPC path (`/tempopb.StreamingQuerier/Search`, ...). */
export function streamingQuerierMethods(opts: StreamingQuerierOptions): Map<string, ServerStreamMethod> {
  const tenantOf = (call: ServerStreamCall): string => resolveTenant(call.metadata['x-scope-orgid'], opts.multitenancyEnabled);

  // Diffs, as Tempo streams them: each message carries the traces not sent before and the
  // cumulative metrics. Grafana appends, keeps the first copy of a trace ID and shows the last
  // metrics. A partial trace without its root yet waits for the final answer, which describes it
  // from the whole trace.
  const search: ServerStreamMethod = async (call) => {
    const tenantId = tenantOf(call);
    const r = decodeSearchRequest(call.request);
    const query = r.query.trim() ? r.query : legacyFiltersToTraceQL(Object.entries(r.tags), msDuration(r.minDurationMs), msDuration(r.maxDurationMs));
    const request = opts.search.normalize({ query, startSeconds: r.start, endSeconds: r.end, limit: r.limit, spss: r.spansPerSpanSet || undefined });
    const sent = new Set<string>();
    const sendNew = async (traces: readonly TraceSearchMetadata[], metrics: SearchResponse['metrics'], final: boolean): Promise<void> => {
      const fresh = traces.filter((t) => !sent.has(t.traceID) && (final || t.rootServiceName !== ''));
      for (const t of fresh) sent.add(t.traceID);
      for (const message of encodeSearchMessages(fresh, metrics)) await call.send(message);
    };
    let sending = Promise.resolve();
    const final = await opts.search.search(tenantId, request, {
      signal: call.signal,
      onPartial: (sofar) => {
        if (call.signal.aborted) return;
        sending = sending.then(() => sendNew(sofar.traces, sofar.metrics, false));
        sending.catch(() => undefined); // awaited below; this only keeps a failure from going unhandled meanwhile
      },
    });
    await sending;
    await sendNew(final.traces, final.metrics, true);
  };

  const window = (r: { query: string; start: number; end: number }) => ({ query: r.query, startSeconds: r.start, endSeconds: r.end });
  const tagValues = (r: TempoSearchTagValuesRequest, v2: boolean) => {
    if (!r.tagName) throw new InvalidArgumentError('missing tag name: SearchTagValuesRequest.tagName is empty');
    return { ...window(r), query: v2 ? r.query : '', tag: r.tagName, v2 };
  };

  return new Map<string, ServerStreamMethod>([
    [`/${STREAMING_QUERIER_SERVICE}/Search`, search],
    [
      `/${STREAMING_QUERIER_SERVICE}/SearchTags`,
      async (call) => {
        const tenantId = tenantOf(call);
        const r = decodeSearchTagsRequest(call.request);
        const names = await opts.tags.tagNames(tenantId, { ...window(r), query: '' }, scopesFor(r.scope, false), r.maxTagsPerScope, call.signal);
        await call.send(encodeSearchTagsResponse({ tagNames: v1TagNames(names), metrics: { inspectedBytes: names.inspectedBytes } }));
      },
    ],
    [
      `/${STREAMING_QUERIER_SERVICE}/SearchTagsV2`,
      async (call) => {
        const tenantId = tenantOf(call);
        const r = decodeSearchTagsRequest(call.request);
        const names = await opts.tags.tagNames(tenantId, window(r), scopesFor(r.scope, true), r.maxTagsPerScope, call.signal);
        const scopes = [...names.names].map(([name, tags]) => ({ name, tags }));
        await call.send(encodeSearchTagsV2Response({ scopes, metrics: { inspectedBytes: names.inspectedBytes } }));
      },
    ],
    [
      `/${STREAMING_QUERIER_SERVICE}/SearchTagValues`,
      async (call) => {
        const tenantId = tenantOf(call);
        const r = decodeSearchTagValuesRequest(call.request);
        const values = await opts.tags.tagValues(tenantId, tagValues(r, false), r.maxTagValues, call.signal);
        await call.send(encodeSearchTagValuesResponse({ tagValues: v1TagValues(values), metrics: { inspectedBytes: values.inspectedBytes } }));
      },
    ],
    [
      `/${STREAMING_QUERIER_SERVICE}/SearchTagValuesV2`,
      async (call) => {
        const tenantId = tenantOf(call);
        const r = decodeSearchTagValuesRequest(call.request);
        const values = await opts.tags.tagValues(tenantId, tagValues(r, true), r.maxTagValues, call.signal);
        await call.send(encodeSearchTagValuesV2Response({ tagValues: values.values, metrics: { inspectedBytes: values.inspectedBytes } }));
      },
    ],
  ]);
}
