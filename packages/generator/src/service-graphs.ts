// The service-graphs processor (Tempo's modules/generator/processor/servicegraphs): pairs each
// CLIENT/PRODUCER span (keyed by its span ID) with the SERVER/CONSUMER span whose parent it is
// (keyed by parent span ID). A pair completes an edge client -> server; an edge left unpaired for
// `wait` expires, and becomes a virtual-node edge when the lone span says who the peer was.

import { bytesToHex, type KeyValue } from '@andante/model';
import { SpanView, type GenBatch, type GenSpan } from './span-view.js';
import { SpanKind, StatusCode, parseDuration } from '@andante/model';
import type { ServiceGraphsConfig } from './config.js';
import { LabelBuilder, sanitizeLabelName } from './labels.js';
import { Counter, type Histogram, type HistogramSeries, type ScalarSeries, type TenantRegistry } from './registry.js';
import { pushBatches, type Processor } from './processor.js';
import { findAttributeString, spanDurationSeconds, spanMultiplier, traceIdHexOf } from './span-data.js';

export const SG_REQUEST_TOTAL = 'traces_service_graph_request_total';
export const SG_REQUEST_FAILED_TOTAL = 'traces_service_graph_request_failed_total';
export const SG_REQUEST_SERVER_SECONDS = 'traces_service_graph_request_server_seconds';
export const SG_REQUEST_CLIENT_SECONDS = 'traces_service_graph_request_client_seconds';
export const SG_REQUEST_MESSAGING_SYSTEM_SECONDS = 'traces_service_graph_request_messaging_system_seconds';

export type ConnectionType = '' | 'messaging_system' | 'database' | 'virtual_node';
const CONNECTION_TYPES: readonly ConnectionType[] = ['', 'messaging_system', 'database', 'virtual_node'];

export interface Edge {
  /**
   * The key: the trace ID and the client's span ID (a server span's parent span ID). IDs of the
   * usual lengths (16 bytes; 8, or 0 for a root span) are held as 32-bit words, so finding an edge
   * builds no string; other lengths as hex in `oddKey`.
   */
  k0: number;
  k1: number;
  k2: number;
  k3: number;
  k4: number;
  k5: number;
  idLength: number;
  oddKey: string;
  hash: number;
  /** True when the key's span ID (the parent span ID of a server span) is empty: a root span. */
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
  /** Created when a dimension or the virtual-node label is set (most edges carry none). */
  dimensions: Map<string, string> | undefined;
  peerNode: string;
  spanMultiplier: number;
  expiresAtMs: number;
  /** Waiting in the store. */
  stored: boolean;
  /** Neighbours in the store's insertion order (oldest first), while stored. */
  prev: Edge | undefined;
  next: Edge | undefined;
}

interface EdgeHandles {
  total: ScalarSeries | undefined;
  failed: ScalarSeries | undefined;
  /** The labels, kept to create the _failed_total and messaging series when first needed. */
  failedLb: LabelBuilder;
  server: HistogramSeries | undefined;
  client: HistogramSeries | undefined;
  messaging: HistogramSeries | undefined;
}
const MAX_CACHED_EDGE_HANDLES = 50_000;

export interface ServiceGraphsCounters {
  /** tempo_metrics_generator_processor_service_graphs_edges */
  edges(n: number): void;
  /** tempo_metrics_generator_processor_service_graphs_expired_edges */
  expiredEdges(n: number): void;
  /** tempo_metrics_generator_processor_service_graphs_dropped_spans */
  droppedSpans(n: number): void;
}

/** A little-endian 32-bit word of `b` at `i` (as an int32: a small integer, never a heap number). */
const word = (b: Uint8Array, i: number): number => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
/** Edge objects kept for reuse (an edge lives from its first span to its pair or expiry). */
const MAX_POOLED_EDGES = 4_096;
const MIN_SLOTS = 1_024;

/**
 * Edges waiting for their other half, found by trace ID + span ID and kept oldest first.
 * Every client and server span looks its edge up here, so the table is an open-addressing one
 * keyed by the IDs' 32-bit words (no hex string, no Map entry per span), with linear probing and
 * backward-shift deletion; a doubly linked list keeps insertion order for expiry (wait is the same
 * for every edge, so the oldest expires first). Completed and expired edges are reused.
 */
export class EdgeStore {
  private slots: (Edge | undefined)[] = new Array<Edge | undefined>(MIN_SLOTS).fill(undefined);
  /** Each slot's edge hash (0: empty; a hash of 0 is stored as 1), so a probe past other edges reads only this array. */
  private hashes = new Int32Array(MIN_SLOTS);
  private mask = MIN_SLOTS - 1;
  private count = 0;
  private head: Edge | undefined;
  private tail: Edge | undefined;
  private readonly pool: Edge[] = [];
  constructor(
    private readonly waitMs: number,
    private readonly maxItems: number,
    private readonly onComplete: (e: Edge) => void,
    private readonly onExpire: (e: Edge) => void,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.count;
  }

  /**
   * The edge waiting under this key (trace ID bytes `traceBuf[traceAt, traceAt + traceLength)`,
   * span ID bytes `idBuf[idAt, idAt + idLength)`), or a new one (not stored yet): fill it, then
   * settle() it. The bytes are read here and not kept.
   */
  edgeFor(traceBuf: Uint8Array, traceAt: number, traceLength: number, idBuf: Uint8Array, idAt: number, idLength: number, rootServer: boolean, nowMs: number): Edge {
    let k0 = 0;
    let k1 = 0;
    let k2 = 0;
    let k3 = 0;
    let k4 = 0;
    let k5 = 0;
    let oddKey = '';
    let h: number;
    if (traceLength === 16 && (idLength === 8 || idLength === 0)) {
      k0 = word(traceBuf, traceAt);
      k1 = word(traceBuf, traceAt + 4);
      k2 = word(traceBuf, traceAt + 8);
      k3 = word(traceBuf, traceAt + 12);
      if (idLength === 8) {
        k4 = word(idBuf, idAt);
        k5 = word(idBuf, idAt + 4);
      }
      // Span IDs are random: their words, mixed with the trace's, spread well.
      h = Math.imul(k4 ^ Math.imul(k5, 0x9e3779b1) ^ k0 ^ Math.imul(k3, 0x85ebca6b) ^ idLength, 0xc2b2ae35);
    } else {
      oddKey = bytesToHex(traceBuf.subarray(traceAt, traceAt + traceLength)) + ':' + bytesToHex(idBuf.subarray(idAt, idAt + idLength));
      h = 0x811c9dc5;
      for (let i = 0; i < oddKey.length; i++) h = Math.imul(h ^ oddKey.charCodeAt(i), 0x01000193);
    }
    h = (h ^ (h >>> 16)) | 0 || 1;
    const hashes = this.hashes;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const hi = hashes[i]!;
      if (hi === 0) break;
      if (hi !== h) continue;
      const e = this.slots[i]!;
      if (e.k4 === k4 && e.k5 === k5 && e.k0 === k0 && e.k1 === k1 && e.k2 === k2 && e.k3 === k3 && e.idLength === idLength && e.oddKey === oddKey) return e;
    }
    const e = this.pool.pop() ?? newEdge();
    e.k0 = k0;
    e.k1 = k1;
    e.k2 = k2;
    e.k3 = k3;
    e.k4 = k4;
    e.k5 = k5;
    e.idLength = idLength;
    e.oddKey = oddKey;
    e.hash = h;
    e.rootServer = rootServer;
    e.expiresAtMs = nowMs + this.waitMs;
    return e;
  }

  /** A complete edge is emitted (and removed if it was waiting); an incomplete new one waits, unless the store is full. Returns 'new', 'updated' or 'dropped'. */
  settle(e: Edge): 'new' | 'updated' | 'dropped' {
    const stored = e.stored;
    if (isComplete(e)) {
      if (stored) this.remove(e);
      this.onComplete(e);
      this.recycle(e);
      return stored ? 'updated' : 'new';
    }
    if (stored) return 'updated';
    if (this.count >= this.maxItems) {
      this.recycle(e);
      return 'dropped';
    }
    this.insert(e);
    return 'new';
  }

  /** Evicts expired edges from the front. */
  expire(): void {
    const now = this.now();
    for (let e = this.head; e !== undefined && e.expiresAtMs <= now; e = this.head) {
      this.remove(e);
      this.onExpire(e);
      this.recycle(e);
    }
  }

  /** Expires everything (shutdown). */
  expireAll(): void {
    for (let e = this.head; e !== undefined; e = e.next) e.expiresAtMs = 0;
    this.expire();
  }

  private insert(e: Edge): void {
    if ((this.count + 1) * 2 > this.slots.length) this.grow();
    this.place(e);
    this.count++;
    e.stored = true;
    e.prev = this.tail;
    e.next = undefined;
    if (this.tail) this.tail.next = e;
    else this.head = e;
    this.tail = e;
  }

  private place(e: Edge): void {
    const hashes = this.hashes;
    const mask = this.mask;
    let i = e.hash & mask;
    while (hashes[i] !== 0) i = (i + 1) & mask;
    this.slots[i] = e;
    hashes[i] = e.hash;
  }

  /** Twice the slots, every stored edge placed again (the table stays at most half full). */
  private grow(): void {
    const n = this.slots.length * 2;
    this.slots = new Array<Edge | undefined>(n).fill(undefined);
    this.hashes = new Int32Array(n);
    this.mask = n - 1;
    for (let e = this.head; e !== undefined; e = e.next) this.place(e);
  }

  private remove(e: Edge): void {
    const slots = this.slots;
    const hashes = this.hashes;
    const mask = this.mask;
    let i = e.hash & mask;
    while (slots[i] !== e) {
      if (hashes[i] === 0) throw new Error('service-graphs edge store: stored edge not found');
      i = (i + 1) & mask;
    }
    // Backward-shift deletion: move up every later entry of the probe run that may sit in the hole.
    slots[i] = undefined;
    hashes[i] = 0;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const hj = hashes[j]!;
      if (hj === 0) break;
      const home = hj & mask;
      // The entry at j stays when its home lies cyclically in (i, j].
      if (i <= j ? i < home && home <= j : i < home || home <= j) continue;
      slots[i] = slots[j];
      hashes[i] = hj;
      slots[j] = undefined;
      hashes[j] = 0;
      i = j;
    }
    this.count--;
    e.stored = false;
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = e.next = undefined;
  }

  /** A finished edge (emitted, expired or dropped) back to the pool: nothing keeps it. */
  private recycle(e: Edge): void {
    if (this.pool.length >= MAX_POOLED_EDGES) return;
    e.traceId = '';
    e.connectionType = '';
    e.clientService = '';
    e.serverService = '';
    e.clientLatencySec = 0;
    e.serverLatencySec = 0;
    e.clientEndNano = 0n;
    e.serverStartNano = 0n;
    e.failed = false;
    e.dimensions = undefined;
    e.peerNode = '';
    e.spanMultiplier = 1;
    e.oddKey = '';
    this.pool.push(e);
  }
}

function newEdge(): Edge {
  return {
    k0: 0,
    k1: 0,
    k2: 0,
    k3: 0,
    k4: 0,
    k5: 0,
    idLength: 0,
    oddKey: '',
    hash: 0,
    rootServer: false,
    traceId: '',
    connectionType: '',
    clientService: '',
    serverService: '',
    clientLatencySec: 0,
    serverLatencySec: 0,
    clientEndNano: 0n,
    serverStartNano: 0n,
    failed: false,
    dimensions: undefined,
    peerNode: '',
    spanMultiplier: 1,
    expiresAtMs: 0,
    stored: false,
    prev: undefined,
    next: undefined,
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
  private readonly handleCache = new Map<string, EdgeHandles>();
  /** Edges without dimensions (most): client -> server -> handles per connection type; service names are interned strings, so no key is built. */
  private readonly plainHandles = new Map<string, Map<string, (EdgeHandles | undefined)[]>>();
  private cachedHandles = 0;
  private epoch = -1;

  constructor(
    private readonly cfg: ServiceGraphsConfig,
    private readonly registry: TenantRegistry,
    private readonly counters: ServiceGraphsCounters,
    private readonly now: () => number = Date.now,
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
    pushBatches(this, batches);
  }

  // State of the push in progress (beginPush .. endPush).
  private pushNow = 0;
  private created = 0;
  private dropped = 0;
  private resourceAttrs: KeyValue[] = [];
  /** The resource's service.name; undefined: its spans are not part of any edge. */
  private service: string | undefined;
  private resourceHasDb = false;

  beginPush(): void {
    this.pushNow = this.now();
    this.created = 0;
    this.dropped = 0;
    this.service = undefined;
  }

  resource(resource: GenBatch['resource']): void {
    this.resourceAttrs = resource.attributes;
    // Resources are shared objects (the decoder's cache): what an edge needs of one is worked out once.
    let r = this.resources.get(resource);
    if (r === undefined) {
      r = { service: findAttributeString('service.name', resource.attributes), hasDb: this.cfg.database_name_attributes.some((a) => findAttributeString(a, resource.attributes) !== undefined) };
      this.resources.set(resource, r);
    }
    this.service = r.service;
    this.resourceHasDb = r.hasDb;
  }
  private readonly resources = new WeakMap<object, { service: string | undefined; hasDb: boolean }>();

  span(span: GenSpan): void {
    const service = this.service;
    if (service === undefined) return;
    const kind = span.kind;
    const isClient = kind === SpanKind.CLIENT || kind === SpanKind.PRODUCER;
    if (!isClient && kind !== SpanKind.SERVER && kind !== SpanKind.CONSUMER) return; // not part of an edge
    const store = this.store;
    const resource = this.resourceAttrs;
    const now = this.pushNow;
    const multiplierKey = this.cfg.span_multiplier_key;
    const multiplier = multiplierKey ? spanMultiplier(multiplierKey, span, resource) : 1;
    let e: Edge;
    if (isClient) {
      e = span instanceof SpanView ? store.edgeFor(span.buf, span.traceAt, span.traceEnd - span.traceAt, span.buf, span.spanAt, span.spanEnd - span.spanAt, false, now) : store.edgeFor(span.traceId, 0, span.traceId.length, span.spanId, 0, span.spanId.length, false, now);
      e.traceId = traceIdHexOf(span);
      e.connectionType = kind === SpanKind.PRODUCER ? 'messaging_system' : '';
      e.clientService = service;
      e.clientLatencySec = spanDurationSeconds(span);
      // Read only for the messaging latency (a BigInt per read).
      if (kind === SpanKind.PRODUCER) e.clientEndNano = span.endTimeUnixNano;
      e.failed ||= span.status.code === StatusCode.ERROR;
      if (this.cfg.dimensions.length > 0) this.upsertDimensions('client_', e, resource, span.attributes);
      e.spanMultiplier = multiplier;
      if (span.attributes.length > 0) this.upsertPeerNode(e, span.attributes);
      // A database attribute on the span or its resource (looked for in the resource once per resource).
      if (span.attributes.length > 0 || this.resourceHasDb) this.upsertDatabaseRequest(e, resource, span);
    } else {
      if (span instanceof SpanView) {
        const parentLength = span.parentEnd - span.parentAt;
        e = store.edgeFor(span.buf, span.traceAt, span.traceEnd - span.traceAt, span.buf, span.parentAt, parentLength, parentLength === 0, now);
      } else {
        const parent = span.parentSpanId;
        e = store.edgeFor(span.traceId, 0, span.traceId.length, parent, 0, parent.length, parent.length === 0, now);
      }
      e.traceId = traceIdHexOf(span);
      e.connectionType = kind === SpanKind.CONSUMER ? 'messaging_system' : '';
      e.serverService = service;
      e.serverLatencySec = spanDurationSeconds(span);
      if (kind === SpanKind.CONSUMER) e.serverStartNano = span.startTimeUnixNano;
      e.failed ||= span.status.code === StatusCode.ERROR;
      if (this.cfg.dimensions.length > 0) this.upsertDimensions('server_', e, resource, span.attributes);
      e.spanMultiplier = multiplier;
      if (span.attributes.length > 0) this.upsertPeerNode(e, span.attributes);
    }
    const result = store.settle(e);
    if (result === 'dropped') this.dropped++;
    else if (result === 'new') this.created++;
  }

  endPush(): void {
    if (this.created > 0) this.counters.edges(this.created);
    if (this.dropped > 0) this.counters.droppedSpans(this.dropped);
    this.created = 0;
    this.dropped = 0;
  }

  tick(): void {
    this.store.expire();
  }

  shutdown(): void {}

  private upsertDimensions(prefix: string, e: Edge, resource: KeyValue[], spanAttrs: KeyValue[]): void {
    for (const dim of this.cfg.dimensions) {
      const v = findAttributeString(dim, resource, spanAttrs);
      if (v !== undefined) (e.dimensions ??= new Map()).set(this.cfg.enable_client_server_prefix ? prefix + dim : dim, v);
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
    // The resource was searched once (resourceHasDb); without a database attribute there, only the span's are looked at.
    const first = this.resourceHasDb ? resource : span.attributes;
    const second = this.resourceHasDb ? span.attributes : undefined;
    for (const attr of this.cfg.database_name_attributes) {
      dbName = findAttributeString(attr, first, second);
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

  private labels(e: Edge): LabelBuilder {
    const lb = new LabelBuilder().add('client', e.clientService).add('server', e.serverService).add('connection_type', e.connectionType);
    const dims = e.dimensions;
    for (const dim of this.dimensions) {
      if (this.cfg.enable_client_server_prefix && dim !== 'virtual_node') {
        lb.add(this.labelName(`client_${dim}`), dims?.get(`client_${dim}`) ?? '');
        lb.add(this.labelName(`server_${dim}`), dims?.get(`server_${dim}`) ?? '');
      } else {
        lb.add(this.labelName(dim), dims?.get(dim) ?? '');
      }
    }
    return lb;
  }

  /** The series an edge updates, cached by its label values (see SpanMetricsProcessor.pushSpans). */
  private handles(e: Edge): EdgeHandles {
    if (this.registry.epoch !== this.epoch || this.cachedHandles > MAX_CACHED_EDGE_HANDLES) {
      this.handleCache.clear();
      this.plainHandles.clear();
      this.cachedHandles = 0;
      this.epoch = this.registry.epoch;
    }
    let byType: (EdgeHandles | undefined)[] | undefined;
    let key = '';
    let h: EdgeHandles | undefined;
    const type = CONNECTION_TYPES.indexOf(e.connectionType);
    if (e.dimensions === undefined) {
      let byServer = this.plainHandles.get(e.clientService);
      if (byServer === undefined) this.plainHandles.set(e.clientService, (byServer = new Map()));
      byType = byServer.get(e.serverService);
      if (byType === undefined) byServer.set(e.serverService, (byType = [undefined, undefined, undefined, undefined]));
      h = byType[type];
    } else {
      key = e.clientService + '\xfe' + e.serverService + '\xfe' + e.connectionType;
      for (const [k, v] of e.dimensions) key += '\xfe' + k + '\xff' + v;
      h = this.handleCache.get(key);
    }
    if (h) return h;
    const lb = this.labels(e);
    const now = this.now();
    h = {
      total: this.requestTotal.handle(lb, now),
      // Created on the first failure only: an edge that never fails has no _failed_total series.
      failed: undefined,
      failedLb: lb,
      server: this.serverSeconds.handle(lb, now),
      client: this.clientSeconds.handle(lb, now),
      messaging: undefined,
    };
    // A refused series (max_active_series) is asked for again next time.
    if (h.total && h.server && h.client) {
      if (byType !== undefined) byType[type] = h;
      else this.handleCache.set(key, h);
      this.cachedHandles++;
    }
    return h;
  }

  private onComplete(e: Edge): void {
    const h = this.handles(e);
    const now = this.now();
    const m = e.spanMultiplier;
    if (h.total) Counter.add(h.total, m, e.traceId, now);
    if (e.failed) {
      if (!h.failed?.live) h.failed = this.requestFailedTotal.handle(h.failedLb, now);
      if (h.failed) Counter.add(h.failed, m, e.traceId, now);
    }
    if (h.server) this.serverSeconds.observeSeries(h.server, e.serverLatencySec, e.traceId, m, now);
    if (h.client) this.clientSeconds.observeSeries(h.client, e.clientLatencySec, e.traceId, m, now);
    if (this.messagingSeconds && e.connectionType === 'messaging_system' && e.serverStartNano > e.clientEndNano) {
      if (!h.messaging?.live) h.messaging = this.messagingSeconds.handle(h.failedLb, now);
      if (h.messaging) this.messagingSeconds.observeSeries(h.messaging, Number(e.serverStartNano - e.clientEndNano) / 1e9, e.traceId, m, now);
    }
  }

  /** An unpaired edge: a root server span was called by `user` (or its peer attribute); a client span with a peer attribute called that peer. */
  private onExpire(e: Edge): void {
    e.connectionType = 'virtual_node';
    if (e.clientService === '') {
      if (e.rootServer) {
        e.clientService = e.peerNode || 'user';
        if (this.cfg.enable_virtual_node_label) (e.dimensions ??= new Map()).set('virtual_node', 'client');
        this.onComplete(e);
        return;
      }
    } else if (e.serverService === '' && e.peerNode !== '') {
      e.serverService = e.peerNode;
      if (this.cfg.enable_virtual_node_label) (e.dimensions ??= new Map()).set('virtual_node', 'server');
      this.onComplete(e);
      return;
    }
    this.counters.expiredEdges(1);
  }
}

