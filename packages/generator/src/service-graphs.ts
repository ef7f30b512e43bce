// The service-graphs processor (Tempo's modules/generator/processor/servicegraphs): pairs each
// CLIENT/PRODUCER span (keyed by its span ID) with the SERVER/CONSUMER span whose parent it is
// (keyed by parent span ID). A pair completes an edge client -> server; an edge left unpaired for
// `wait` expires, and becomes a virtual-node edge when the lone span says who the peer was.

import { bytesToHex, type KeyValue } from '@andante/model';
import type { GenBatch, GenSpan } from './span-view.js';
import { SpanKind, StatusCode, parseDuration } from '@andante/model';
import type { ServiceGraphsConfig } from './config.js';
import { LabelBuilder, sanitizeLabelName } from './labels.js';
import type { Counter, Histogram, TenantRegistry } from './registry.js';
import type { Processor } from './processor.js';
import { findAttributeString, spanDurationSeconds, spanMultiplier } from './span-data.js';

export const SG_REQUEST_TOTAL = 'traces_service_graph_request_total';
export const SG_REQUEST_FAILED_TOTAL = 'traces_service_graph_request_failed_total';
export const SG_REQUEST_SERVER_SECONDS = 'traces_service_graph_request_server_seconds';
export const SG_REQUEST_CLIENT_SECONDS = 'traces_service_graph_request_client_seconds';
export const SG_REQUEST_MESSAGING_SYSTEM_SECONDS = 'traces_service_graph_request_messaging_system_seconds';

export type ConnectionType = '' | 'messaging_system' | 'database' | 'virtual_node';

export interface Edge {
  key: string;
  /** True when the key's second half (the parent span ID of a server span) is empty: a root span. */
  rootServer: boolean;
  traceId: string;
  connectionType: ConnectionType;
  clientService: string;
  serverService: string;
  clientLatencySec: number;
  serverLatencySec: number;
  clientEndNano: bigint;
  serverStartNano: bigint;
  failed: boolean;
  dimensions: Map<string, string>;
  peerNode: string;
  spanMultiplier: number;
  expiresAtMs: number;
}

export interface ServiceGraphsCounters {
  /** tempo_metrics_generator_processor_service_graphs_edges */
  edges(n: number): void;
  /** tempo_metrics_generator_processor_service_graphs_expired_edges */
  expiredEdges(n: number): void;
  /** tempo_metrics_generator_processor_service_graphs_dropped_spans */
  droppedSpans(n: number): void;
}

/** Edges waiting for their other half, oldest first (a Map keeps insertion order). */
export class EdgeStore {
  private readonly edges = new Map<string, Edge>();
  constructor(
    private readonly waitMs: number,
    private readonly maxItems: number,
    private readonly onComplete: (e: Edge) => void,
    private readonly onExpire: (e: Edge) => void,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.edges.size;
  }

  /** Applies `update` to the edge under `key` (new or waiting); a complete edge is emitted and removed. Returns 'new', 'updated' or 'dropped' (store full). */
  upsert(key: string, rootServer: boolean, update: (e: Edge) => void): 'new' | 'updated' | 'dropped' {
    const stored = this.edges.get(key);
    if (stored) {
      update(stored);
      if (isComplete(stored)) {
        this.edges.delete(key);
        this.onComplete(stored);
      }
      return 'updated';
    }
    const e = newEdge(key, rootServer, this.now() + this.waitMs);
    update(e);
    if (isComplete(e)) {
      this.onComplete(e);
      return 'new';
    }
    if (this.edges.size >= this.maxItems) return 'dropped';
    this.edges.set(key, e);
    return 'new';
  }

  /** Evicts expired edges from the front. */
  expire(): void {
    const now = this.now();
    for (const [key, e] of this.edges) {
      if (e.expiresAtMs > now) break;
      this.edges.delete(key);
      this.onExpire(e);
    }
  }

  /** Expires everything (shutdown). */
  expireAll(): void {
    for (const e of this.edges.values()) e.expiresAtMs = 0;
    this.expire();
  }
}

function newEdge(key: string, rootServer: boolean, expiresAtMs: number): Edge {
  return {
    key,
    rootServer,
    traceId: '',
    connectionType: '',
    clientService: '',
    serverService: '',
    clientLatencySec: 0,
    serverLatencySec: 0,
    clientEndNano: 0n,
    serverStartNano: 0n,
    failed: false,
    dimensions: new Map(),
    peerNode: '',
    spanMultiplier: 1,
    expiresAtMs,
  };
}
const isComplete = (e: Edge): boolean => e.clientService !== '' && e.serverService !== '';

export class ServiceGraphsProcessor implements Processor {
  readonly name = 'service-graphs';
  readonly store: EdgeStore;
  private readonly requestTotal: Counter;
  private readonly requestFailedTotal: Counter;
  private readonly serverSeconds: Histogram;
  private readonly clientSeconds: Histogram;
  private readonly messagingSeconds: Histogram | undefined;
  private readonly dimensions: string[];
  private readonly labelNames = new Map<string, string>();

  constructor(
    private readonly cfg: ServiceGraphsConfig,
    registry: TenantRegistry,
    private readonly counters: ServiceGraphsCounters,
    now: () => number = Date.now,
  ) {
    this.dimensions = cfg.enable_virtual_node_label ? [...cfg.dimensions, 'virtual_node'] : [...cfg.dimensions];
    this.requestTotal = registry.counter(SG_REQUEST_TOTAL);
    this.requestFailedTotal = registry.counter(SG_REQUEST_FAILED_TOTAL);
    this.serverSeconds = registry.histogram(SG_REQUEST_SERVER_SECONDS, cfg.histogram_buckets);
    this.clientSeconds = registry.histogram(SG_REQUEST_CLIENT_SECONDS, cfg.histogram_buckets);
    if (cfg.enable_messaging_system_latency_histogram) this.messagingSeconds = registry.histogram(SG_REQUEST_MESSAGING_SYSTEM_SECONDS, cfg.histogram_buckets);
    this.store = new EdgeStore(parseDuration(cfg.wait), cfg.max_items, (e) => this.onComplete(e), (e) => this.onExpire(e), now);
  }

  pushSpans(batches: readonly GenBatch[]): void {
    let dropped = 0;
    let created = 0;
    for (const rs of batches) {
      const resource = rs.resource.attributes;
      const service = findAttributeString('service.name', resource);
      if (service === undefined) continue;
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          let result: 'new' | 'updated' | 'dropped';
          const traceId = bytesToHex(span.traceId);
          const multiplier = spanMultiplier(this.cfg.span_multiplier_key, span, resource);
          if (span.kind === SpanKind.CLIENT || span.kind === SpanKind.PRODUCER) {
            const messaging = span.kind === SpanKind.PRODUCER;
            result = this.store.upsert(`${traceId}-${bytesToHex(span.spanId)}`, false, (e) => {
              e.traceId = traceId;
              e.connectionType = messaging ? 'messaging_system' : '';
              e.clientService = service;
              e.clientLatencySec = spanDurationSeconds(span);
              e.clientEndNano = span.endTimeUnixNano;
              e.failed ||= span.status.code === StatusCode.ERROR;
              this.upsertDimensions('client_', e.dimensions, resource, span.attributes);
              e.spanMultiplier = multiplier;
              this.upsertPeerNode(e, span.attributes);
              this.upsertDatabaseRequest(e, resource, span);
            });
          } else if (span.kind === SpanKind.SERVER || span.kind === SpanKind.CONSUMER) {
            const messaging = span.kind === SpanKind.CONSUMER;
            const parent = bytesToHex(span.parentSpanId);
            result = this.store.upsert(`${traceId}-${parent}`, parent === '', (e) => {
              e.traceId = traceId;
              e.connectionType = messaging ? 'messaging_system' : '';
              e.serverService = service;
              e.serverLatencySec = spanDurationSeconds(span);
              e.serverStartNano = span.startTimeUnixNano;
              e.failed ||= span.status.code === StatusCode.ERROR;
              this.upsertDimensions('server_', e.dimensions, resource, span.attributes);
              e.spanMultiplier = multiplier;
              this.upsertPeerNode(e, span.attributes);
            });
          } else {
            continue; // not part of an edge
          }
          if (result === 'dropped') dropped++;
          else if (result === 'new') created++;
        }
      }
    }
    if (created > 0) this.counters.edges(created);
    if (dropped > 0) this.counters.droppedSpans(dropped);
  }

  tick(): void {
    this.store.expire();
  }

  shutdown(): void {}

  private upsertDimensions(prefix: string, m: Map<string, string>, resource: KeyValue[], spanAttrs: KeyValue[]): void {
    for (const dim of this.cfg.dimensions) {
      const v = findAttributeString(dim, resource, spanAttrs);
      if (v !== undefined) m.set(this.cfg.enable_client_server_prefix ? prefix + dim : dim, v);
    }
  }

  private upsertPeerNode(e: Edge, spanAttrs: KeyValue[]): void {
    for (const key of this.cfg.peer_attributes) {
      const v = findAttributeString(key, spanAttrs);
      if (v !== undefined) {
        e.peerNode = v;
        return;
      }
    }
  }

  /** A client span with a database attribute is a call to a database, named by peer.service, server.address, network.peer.address[:port] or the db attribute. */
  private upsertDatabaseRequest(e: Edge, resource: KeyValue[], span: GenSpan): void {
    let dbName: string | undefined;
    for (const attr of this.cfg.database_name_attributes) {
      dbName = findAttributeString(attr, resource, span.attributes);
      if (dbName !== undefined) break;
    }
    if (dbName === undefined) return;
    e.connectionType = 'database';
    e.serverLatencySec = spanDurationSeconds(span);
    const peer = findAttributeString('peer.service', resource, span.attributes) ?? findAttributeString('server.address', resource, span.attributes);
    if (peer !== undefined) {
      e.serverService = peer;
      return;
    }
    const host = findAttributeString('network.peer.address', resource, span.attributes);
    if (host !== undefined) {
      const port = findAttributeString('network.peer.port', resource, span.attributes);
      e.serverService = port !== undefined ? `${host}:${port}` : host;
      return;
    }
    if (dbName !== '') e.serverService = dbName;
  }

  private labelName(name: string): string {
    let s = this.labelNames.get(name);
    if (s === undefined) this.labelNames.set(name, (s = sanitizeLabelName(name)));
    return s;
  }

  private onComplete(e: Edge): void {
    const lb = new LabelBuilder().add('client', e.clientService).add('server', e.serverService).add('connection_type', e.connectionType);
    for (const dim of this.dimensions) {
      if (this.cfg.enable_client_server_prefix && dim !== 'virtual_node') {
        lb.add(this.labelName(`client_${dim}`), e.dimensions.get(`client_${dim}`) ?? '');
        lb.add(this.labelName(`server_${dim}`), e.dimensions.get(`server_${dim}`) ?? '');
      } else {
        lb.add(this.labelName(dim), e.dimensions.get(dim) ?? '');
      }
    }
    this.requestTotal.inc(lb, e.spanMultiplier, e.traceId);
    if (e.failed) this.requestFailedTotal.inc(lb, e.spanMultiplier, e.traceId);
    this.serverSeconds.observe(lb, e.serverLatencySec, e.traceId, e.spanMultiplier);
    this.clientSeconds.observe(lb, e.clientLatencySec, e.traceId, e.spanMultiplier);
    if (this.messagingSeconds && e.connectionType === 'messaging_system' && e.serverStartNano > e.clientEndNano) {
      this.messagingSeconds.observe(lb, Number(e.serverStartNano - e.clientEndNano) / 1e9, e.traceId, e.spanMultiplier);
    }
  }

  /** An unpaired edge: a root server span was called by `user` (or its peer attribute); a client span with a peer attribute called that peer. */
  private onExpire(e: Edge): void {
    e.connectionType = 'virtual_node';
    if (e.clientService === '') {
      if (e.rootServer) {
        e.clientService = e.peerNode || 'user';
        if (this.cfg.enable_virtual_node_label) e.dimensions.set('virtual_node', 'client');
        this.onComplete(e);
        return;
      }
    } else if (e.serverService === '' && e.peerNode !== '') {
      e.serverService = e.peerNode;
      if (this.cfg.enable_virtual_node_label) e.dimensions.set('virtual_node', 'server');
      this.onComplete(e);
      return;
    }
    this.counters.expiredEdges(1);
  }
}

