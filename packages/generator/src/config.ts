// The metrics-generator's configuration, with Tempo 2.10's YAML keys and defaults
// (modules/generator/{config.go, registry/config.go, storage/config.go, processor/*/config.go}),
// and the per-tenant `metrics_generator` overrides. Parsers are strict: an unknown key, a wrong
// type or an unknown processor name is an error naming the key's path.

import { defaultMetricsGeneratorLimits, parseDuration } from '@andante/model';
import type { DimensionMappingConfig, FilterPolicyConfig, MetricsGeneratorLimits, PolicyMatchConfig } from '@andante/model';
import { defaultBasicRingConfig, type BasicRingConfig } from '@andante/ring';
import { parseRelabelConfigs, type RelabelConfig } from './relabel.js';

/** Every processor name Tempo 2.10 accepts in `metrics_generator.processors`. */
export const PROCESSOR_NAMES = [
  'service-graphs',
  'span-metrics',
  'local-blocks',
  'span-metrics-count',
  'span-metrics-latency',
  'span-metrics-size',
  'host-info',
] as const;
export type ProcessorName = (typeof PROCESSOR_NAMES)[number];

/** Processors that accept a name but that Andante does not run yet (logged once per tenant). */
export const UNIMPLEMENTED_PROCESSORS: readonly string[] = ['local-blocks', 'host-info'];

export const INTRINSIC_DIMENSIONS = ['service', 'span_name', 'span_kind', 'status_code', 'status_message'] as const;

/** prometheus.ExponentialBuckets(0.002, 2, 14): 2 ms .. 16.384 s. */
export const DEFAULT_SPAN_METRICS_BUCKETS = Array.from({ length: 14 }, (_, i) => 0.002 * 2 ** i);
/** prometheus.ExponentialBuckets(0.1, 2, 8): 0.1 s .. 12.8 s. */
export const DEFAULT_SERVICE_GRAPHS_BUCKETS = Array.from({ length: 8 }, (_, i) => 0.1 * 2 ** i);

export interface SpanMetricsConfig {
  histogram_buckets: number[];
  intrinsic_dimensions: Record<(typeof INTRINSIC_DIMENSIONS)[number], boolean>;
  dimensions: string[];
  dimension_mappings: DimensionMappingConfig[];
  enable_target_info: boolean;
  span_multiplier_key: string;
  filter_policies: FilterPolicyConfig[];
  target_info_excluded_dimensions: string[];
  enable_instance_label: boolean;
}

export interface ServiceGraphsConfig {
  wait: string;
  max_items: number;
  workers: number;
  histogram_buckets: number[];
  dimensions: string[];
  enable_client_server_prefix: boolean;
  enable_messaging_system_latency_histogram: boolean;
  peer_attributes: string[];
  span_multiplier_key: string;
  enable_virtual_node_label: boolean;
  database_name_attributes: string[];
}

export interface RemoteWriteConfig {
  url: string;
  name: string;
  remote_timeout: string;
  headers: Record<string, string>;
  basic_auth: { username: string; password: string } | null;
  authorization: { type: string; credentials: string } | null;
  send_exemplars: boolean;
  /** Prometheus's relabel rules, applied to each series before it is queued for this endpoint. */
  write_relabel_configs: RelabelConfig[];
  /** Prometheus's tls_config: files or inline PEM, server_name, insecure_skip_verify. */
  tls_config: {
    ca_file: string;
    cert_file: string;
    key_file: string;
    ca: string;
    cert: string;
    key: string;
    server_name: string;
    insecure_skip_verify: boolean;
  };
  queue_config: {
    /** Prometheus: samples buffered per shard. Andante's queue holds capacity x max_shards samples. */
    capacity: number;
    max_shards: number;
    max_samples_per_send: number;
    min_backoff: string;
    max_backoff: string;
    retry_on_http_429: boolean;
  };
}

export interface GeneratorConfig {
  /**
   * What the generator itself reads of its ring block (instance_id, the instance label). The full
   * `metrics_generator.ring` block is @andante/ring's BasicRingConfig, defaults from
   * defaultGeneratorRingConfig(); the server merges it and builds the ring.
   */
  ring: {
    kvstore: { store: string };
    heartbeat_period: string;
    heartbeat_timeout: string;
    instance_id: string;
  };
  processor: {
    span_metrics: SpanMetricsConfig;
    service_graphs: ServiceGraphsConfig;
  };
  registry: {
    collection_interval: string;
    stale_duration: string;
    external_labels: Record<string, string>;
    inject_tenant_id_as: string;
    max_label_name_length: number;
    max_label_value_length: number;
  };
  storage: {
    path: string;
    remote_write: RemoteWriteConfig[];
    remote_write_add_org_id_header: boolean;
    remote_write_flush_deadline: string;
  };
  metrics_ingestion_time_range_slack: string;
}

export function defaultGeneratorConfig(): GeneratorConfig {
  return {
    ring: { kvstore: { store: 'inmemory' }, heartbeat_period: '5s', heartbeat_timeout: '1m', instance_id: 'metrics-generator-0' },
    processor: {
      span_metrics: {
        histogram_buckets: [...DEFAULT_SPAN_METRICS_BUCKETS],
        intrinsic_dimensions: { service: true, span_name: true, span_kind: true, status_code: true, status_message: false },
        dimensions: [],
        dimension_mappings: [],
        enable_target_info: false,
        span_multiplier_key: '',
        filter_policies: [],
        target_info_excluded_dimensions: [],
        enable_instance_label: true,
      },
      service_graphs: {
        wait: '10s',
        max_items: 10_000,
        workers: 10,
        histogram_buckets: [...DEFAULT_SERVICE_GRAPHS_BUCKETS],
        dimensions: [],
        enable_client_server_prefix: false,
        enable_messaging_system_latency_histogram: false,
        peer_attributes: ['peer.service', 'db.name', 'db.system'],
        span_multiplier_key: '',
        enable_virtual_node_label: false,
        database_name_attributes: ['db.namespace', 'db.name', 'db.system'],
      },
    },
    registry: {
      collection_interval: '15s',
      stale_duration: '15m',
      external_labels: {},
      inject_tenant_id_as: '',
      max_label_name_length: 1024,
      max_label_value_length: 2048,
    },
    storage: { path: '', remote_write: [], remote_write_add_org_id_header: true, remote_write_flush_deadline: '1m' },
    metrics_ingestion_time_range_slack: '30s',
  };
}

/** Tempo's `metrics_generator.ring` defaults (pkg/ring.Config): heartbeat_timeout 1m, heartbeat_period 5s. */
export function defaultGeneratorRingConfig(): BasicRingConfig {
  return defaultBasicRingConfig('1m');
}

export function defaultRemoteWriteConfig(): RemoteWriteConfig {
  return {
    url: '',
    name: '',
    remote_timeout: '30s',
    headers: {},
    basic_auth: null,
    authorization: null,
    send_exemplars: false,
    write_relabel_configs: [],
    tls_config: { ca_file: '', cert_file: '', key_file: '', ca: '', cert: '', key: '', server_name: '', insecure_skip_verify: false },
    // Prometheus's queue_config defaults.
    queue_config: { capacity: 10_000, max_shards: 50, max_samples_per_send: 2_000, min_backoff: '30ms', max_backoff: '5s', retry_on_http_429: true },
  };
}

export class GeneratorConfigError extends Error {
  override readonly name = 'GeneratorConfigError';
  readonly code = 'INVALID_GENERATOR_CONFIG';
}

// ---------------------------------------------------------------------------------------------
// Small typed readers; each names the key's path in its error.

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);
const fail = (path: string, what: string, v: unknown): never => {
  throw new GeneratorConfigError(`${path}: expected ${what}, got ${JSON.stringify(v)}`);
};

function tree(v: unknown, path: string): Tree {
  if (v === null || v === undefined) return {};
  return isTree(v) ? v : fail(path, 'a mapping', v);
}
function checkKeys(t: Tree, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(t)) {
    if (!allowed.includes(k)) throw new GeneratorConfigError(`unknown configuration key ${path}.${k}; known keys: ${allowed.join(', ')}`);
  }
}
function str(v: unknown, path: string): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : fail(path, 'a string', v);
}
function num(v: unknown, path: string, { integer = false, min = -Infinity } = {}): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
    return fail(path, `${integer ? 'an integer' : 'a number'}${min > -Infinity ? ` >= ${min}` : ''}`, v);
  }
  return n;
}
function bool(v: unknown, path: string): boolean {
  if (v === 'true' || v === 'false') return v === 'true';
  return typeof v === 'boolean' ? v : fail(path, 'true or false', v);
}
function dur(v: unknown, path: string): string {
  const s = str(v, path);
  try {
    parseDuration(s);
  } catch (err) {
    throw new GeneratorConfigError(`${path}: ${(err as Error).message}`);
  }
  return s;
}
function list(v: unknown, path: string): unknown[] {
  if (v === null || v === undefined) return [];
  return Array.isArray(v) ? v : fail(path, 'a list', v);
}
const strList = (v: unknown, path: string): string[] => list(v, path).map((x, i) => str(x, `${path}[${i}]`));
function bucketList(v: unknown, path: string): number[] {
  const out = list(v, path).map((x, i) => num(x, `${path}[${i}]`));
  for (let i = 1; i < out.length; i++) {
    if (!(out[i]! > out[i - 1]!)) throw new GeneratorConfigError(`${path}: histogram buckets must be strictly increasing, got ${JSON.stringify(out)}`);
  }
  if (out.length === 0) throw new GeneratorConfigError(`${path}: at least one histogram bucket is needed`);
  return out;
}
function strMap(v: unknown, path: string): Record<string, string> {
  const t = tree(v, path);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(t)) out[k] = str(x, `${path}.${k}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// metrics_generator:

/** Overlays YAML `metrics_generator:` on `base` (defaults, or an already merged config). */
export function parseGeneratorConfig(raw: unknown, base: GeneratorConfig = defaultGeneratorConfig(), path = 'metrics_generator'): GeneratorConfig {
  const cfg = structuredClone(base);
  const t = tree(raw, path);
  checkKeys(t, ['ring', 'processor', 'registry', 'storage', 'metrics_ingestion_time_range_slack'], path);
  if ('ring' in t) {
    const r = tree(t['ring'], `${path}.ring`);
    checkKeys(r, ['kvstore', 'heartbeat_period', 'heartbeat_timeout', 'instance_id'], `${path}.ring`);
    if ('kvstore' in r) {
      const kv = tree(r['kvstore'], `${path}.ring.kvstore`);
      checkKeys(kv, ['store'], `${path}.ring.kvstore`);
      if ('store' in kv) cfg.ring.kvstore.store = str(kv['store'], `${path}.ring.kvstore.store`);
    }
    if ('heartbeat_period' in r) cfg.ring.heartbeat_period = dur(r['heartbeat_period'], `${path}.ring.heartbeat_period`);
    if ('heartbeat_timeout' in r) cfg.ring.heartbeat_timeout = dur(r['heartbeat_timeout'], `${path}.ring.heartbeat_timeout`);
    if ('instance_id' in r) cfg.ring.instance_id = str(r['instance_id'], `${path}.ring.instance_id`);
  }
  if ('processor' in t) {
    const p = tree(t['processor'], `${path}.processor`);
    // local_blocks and host_info are accepted for config compatibility; Andante runs neither yet.
    checkKeys(p, ['span_metrics', 'service_graphs', 'local_blocks', 'host_info'], `${path}.processor`);
    if ('span_metrics' in p) parseSpanMetrics(cfg.processor.span_metrics, p['span_metrics'], `${path}.processor.span_metrics`);
    if ('service_graphs' in p) parseServiceGraphs(cfg.processor.service_graphs, p['service_graphs'], `${path}.processor.service_graphs`);
  }
  if ('registry' in t) {
    const r = tree(t['registry'], `${path}.registry`);
    const rp = `${path}.registry`;
    checkKeys(r, ['collection_interval', 'stale_duration', 'external_labels', 'inject_tenant_id_as', 'max_label_name_length', 'max_label_value_length'], rp);
    if ('collection_interval' in r) cfg.registry.collection_interval = dur(r['collection_interval'], `${rp}.collection_interval`);
    if ('stale_duration' in r) cfg.registry.stale_duration = dur(r['stale_duration'], `${rp}.stale_duration`);
    if ('external_labels' in r) cfg.registry.external_labels = strMap(r['external_labels'], `${rp}.external_labels`);
    if ('inject_tenant_id_as' in r) cfg.registry.inject_tenant_id_as = str(r['inject_tenant_id_as'], `${rp}.inject_tenant_id_as`);
    if ('max_label_name_length' in r) cfg.registry.max_label_name_length = num(r['max_label_name_length'], `${rp}.max_label_name_length`, { integer: true, min: 1 });
    if ('max_label_value_length' in r) cfg.registry.max_label_value_length = num(r['max_label_value_length'], `${rp}.max_label_value_length`, { integer: true, min: 1 });
  }
  if ('storage' in t) {
    const s = tree(t['storage'], `${path}.storage`);
    const sp = `${path}.storage`;
    checkKeys(s, ['path', 'remote_write', 'remote_write_add_org_id_header', 'remote_write_flush_deadline', 'wal'], sp);
    if ('path' in s) cfg.storage.path = str(s['path'], `${sp}.path`);
    if ('remote_write' in s) cfg.storage.remote_write = list(s['remote_write'], `${sp}.remote_write`).map((x, i) => parseRemoteWrite(x, `${sp}.remote_write[${i}]`));
    if ('remote_write_add_org_id_header' in s) cfg.storage.remote_write_add_org_id_header = bool(s['remote_write_add_org_id_header'], `${sp}.remote_write_add_org_id_header`);
    if ('remote_write_flush_deadline' in s) cfg.storage.remote_write_flush_deadline = dur(s['remote_write_flush_deadline'], `${sp}.remote_write_flush_deadline`);
  }
  if ('metrics_ingestion_time_range_slack' in t) cfg.metrics_ingestion_time_range_slack = dur(t['metrics_ingestion_time_range_slack'], `${path}.metrics_ingestion_time_range_slack`);
  validateGeneratorConfig(cfg, path);
  return cfg;
}

/** Checks values a flag may have set after parsing (flags bypass parseGeneratorConfig). */
export function validateGeneratorConfig(cfg: GeneratorConfig, path = 'metrics_generator'): void {
  for (const [key, value] of [
    ['registry.collection_interval', cfg.registry.collection_interval],
    ['registry.stale_duration', cfg.registry.stale_duration],
    ['processor.service_graphs.wait', cfg.processor.service_graphs.wait],
    ['metrics_ingestion_time_range_slack', cfg.metrics_ingestion_time_range_slack],
  ] as const) {
    dur(value, `${path}.${key}`);
  }
  if (parseDuration(cfg.registry.collection_interval) <= 0) throw new GeneratorConfigError(`${path}.registry.collection_interval: must be greater than 0`);
  const sg = cfg.processor.service_graphs;
  if (!Number.isInteger(sg.max_items) || sg.max_items < 1) throw new GeneratorConfigError(`${path}.processor.service_graphs.max_items: expected a positive integer`);
  if (cfg.registry.inject_tenant_id_as !== '' && !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(cfg.registry.inject_tenant_id_as)) {
    throw new GeneratorConfigError(`${path}.registry.inject_tenant_id_as: ${JSON.stringify(cfg.registry.inject_tenant_id_as)} is not a valid Prometheus label name`);
  }
}

function parseSpanMetrics(c: SpanMetricsConfig, raw: unknown, path: string): void {
  const t = tree(raw, path);
  checkKeys(t, ['histogram_buckets', 'intrinsic_dimensions', 'dimensions', 'dimension_mappings', 'enable_target_info', 'span_multiplier_key', 'filter_policies', 'target_info_excluded_dimensions', 'enable_instance_label'], path);
  if ('histogram_buckets' in t) c.histogram_buckets = bucketList(t['histogram_buckets'], `${path}.histogram_buckets`);
  if ('intrinsic_dimensions' in t) c.intrinsic_dimensions = { ...c.intrinsic_dimensions, ...parseIntrinsicDimensions(t['intrinsic_dimensions'], `${path}.intrinsic_dimensions`) };
  if ('dimensions' in t) c.dimensions = strList(t['dimensions'], `${path}.dimensions`);
  if ('dimension_mappings' in t) c.dimension_mappings = parseDimensionMappings(t['dimension_mappings'], `${path}.dimension_mappings`);
  if ('enable_target_info' in t) c.enable_target_info = bool(t['enable_target_info'], `${path}.enable_target_info`);
  if ('span_multiplier_key' in t) c.span_multiplier_key = str(t['span_multiplier_key'], `${path}.span_multiplier_key`);
  if ('filter_policies' in t) c.filter_policies = parseFilterPolicies(t['filter_policies'], `${path}.filter_policies`);
  if ('target_info_excluded_dimensions' in t) c.target_info_excluded_dimensions = strList(t['target_info_excluded_dimensions'], `${path}.target_info_excluded_dimensions`);
  if ('enable_instance_label' in t) c.enable_instance_label = bool(t['enable_instance_label'], `${path}.enable_instance_label`);
}

function parseServiceGraphs(c: ServiceGraphsConfig, raw: unknown, path: string): void {
  const t = tree(raw, path);
  checkKeys(t, ['wait', 'max_items', 'workers', 'histogram_buckets', 'dimensions', 'enable_client_server_prefix', 'enable_messaging_system_latency_histogram', 'peer_attributes', 'span_multiplier_key', 'enable_virtual_node_label', 'database_name_attributes'], path);
  if ('wait' in t) c.wait = dur(t['wait'], `${path}.wait`);
  if ('max_items' in t) c.max_items = num(t['max_items'], `${path}.max_items`, { integer: true, min: 1 });
  if ('workers' in t) c.workers = num(t['workers'], `${path}.workers`, { integer: true, min: 1 });
  if ('histogram_buckets' in t) c.histogram_buckets = bucketList(t['histogram_buckets'], `${path}.histogram_buckets`);
  if ('dimensions' in t) c.dimensions = strList(t['dimensions'], `${path}.dimensions`);
  if ('enable_client_server_prefix' in t) c.enable_client_server_prefix = bool(t['enable_client_server_prefix'], `${path}.enable_client_server_prefix`);
  if ('enable_messaging_system_latency_histogram' in t) c.enable_messaging_system_latency_histogram = bool(t['enable_messaging_system_latency_histogram'], `${path}.enable_messaging_system_latency_histogram`);
  if ('peer_attributes' in t) c.peer_attributes = strList(t['peer_attributes'], `${path}.peer_attributes`);
  if ('span_multiplier_key' in t) c.span_multiplier_key = str(t['span_multiplier_key'], `${path}.span_multiplier_key`);
  if ('enable_virtual_node_label' in t) c.enable_virtual_node_label = bool(t['enable_virtual_node_label'], `${path}.enable_virtual_node_label`);
  if ('database_name_attributes' in t) c.database_name_attributes = strList(t['database_name_attributes'], `${path}.database_name_attributes`);
}

function parseRemoteWrite(raw: unknown, path: string): RemoteWriteConfig {
  const c = defaultRemoteWriteConfig();
  const t = tree(raw, path);
  checkKeys(t, ['url', 'name', 'remote_timeout', 'headers', 'basic_auth', 'authorization', 'send_exemplars', 'write_relabel_configs', 'tls_config', 'queue_config'], path);
  c.url = str(t['url'], `${path}.url`);
  let url: URL;
  try {
    url = new URL(c.url);
  } catch {
    throw new GeneratorConfigError(`${path}.url: ${JSON.stringify(c.url)} is not a URL (expected e.g. http://prometheus:9090/api/v1/write)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new GeneratorConfigError(`${path}.url: only http and https are supported, got ${url.protocol}`);
  c.name = 'name' in t ? str(t['name'], `${path}.name`) : url.host;
  if ('remote_timeout' in t) c.remote_timeout = dur(t['remote_timeout'], `${path}.remote_timeout`);
  if ('headers' in t) c.headers = strMap(t['headers'], `${path}.headers`);
  if ('basic_auth' in t && t['basic_auth'] != null) {
    const b = tree(t['basic_auth'], `${path}.basic_auth`);
    checkKeys(b, ['username', 'password'], `${path}.basic_auth`);
    c.basic_auth = { username: str(b['username'] ?? '', `${path}.basic_auth.username`), password: str(b['password'] ?? '', `${path}.basic_auth.password`) };
  }
  if ('authorization' in t && t['authorization'] != null) {
    const a = tree(t['authorization'], `${path}.authorization`);
    checkKeys(a, ['type', 'credentials'], `${path}.authorization`);
    c.authorization = { type: str(a['type'] ?? 'Bearer', `${path}.authorization.type`), credentials: str(a['credentials'] ?? '', `${path}.authorization.credentials`) };
  }
  if (c.basic_auth && c.authorization) throw new GeneratorConfigError(`${path}: at most one of basic_auth and authorization may be set`);
  if ('send_exemplars' in t) c.send_exemplars = bool(t['send_exemplars'], `${path}.send_exemplars`);
  if ('write_relabel_configs' in t) c.write_relabel_configs = parseRelabelConfigs(t['write_relabel_configs'], `${path}.write_relabel_configs`);
  if ('tls_config' in t && t['tls_config'] != null) {
    const tp = `${path}.tls_config`;
    const tls = tree(t['tls_config'], tp);
    checkKeys(tls, ['ca_file', 'cert_file', 'key_file', 'ca', 'cert', 'key', 'server_name', 'insecure_skip_verify'], tp);
    for (const k of ['ca_file', 'cert_file', 'key_file', 'ca', 'cert', 'key', 'server_name'] as const) if (k in tls) c.tls_config[k] = str(tls[k], `${tp}.${k}`);
    if ('insecure_skip_verify' in tls) c.tls_config.insecure_skip_verify = bool(tls['insecure_skip_verify'], `${tp}.insecure_skip_verify`);
    if ((c.tls_config.cert || c.tls_config.cert_file) && !(c.tls_config.key || c.tls_config.key_file)) throw new GeneratorConfigError(`${tp}: a client certificate needs key or key_file`);
  }
  if ('queue_config' in t) {
    const q = tree(t['queue_config'], `${path}.queue_config`);
    const qp = `${path}.queue_config`;
    checkKeys(q, ['capacity', 'max_shards', 'max_samples_per_send', 'min_backoff', 'max_backoff', 'retry_on_http_429'], qp);
    if ('capacity' in q) c.queue_config.capacity = num(q['capacity'], `${qp}.capacity`, { integer: true, min: 1 });
    if ('max_shards' in q) c.queue_config.max_shards = num(q['max_shards'], `${qp}.max_shards`, { integer: true, min: 1 });
    if ('max_samples_per_send' in q) c.queue_config.max_samples_per_send = num(q['max_samples_per_send'], `${qp}.max_samples_per_send`, { integer: true, min: 1 });
    if ('min_backoff' in q) c.queue_config.min_backoff = dur(q['min_backoff'], `${qp}.min_backoff`);
    if ('max_backoff' in q) c.queue_config.max_backoff = dur(q['max_backoff'], `${qp}.max_backoff`);
    if ('retry_on_http_429' in q) c.queue_config.retry_on_http_429 = bool(q['retry_on_http_429'], `${qp}.retry_on_http_429`);
  }
  return c;
}

function parseIntrinsicDimensions(raw: unknown, path: string): Record<string, boolean> {
  const t = tree(raw, path);
  checkKeys(t, INTRINSIC_DIMENSIONS, path);
  const out: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(t)) out[k] = bool(v, `${path}.${k}`);
  return out;
}

function parseDimensionMappings(raw: unknown, path: string): DimensionMappingConfig[] {
  return list(raw, path).map((x, i) => {
    const p = `${path}[${i}]`;
    const t = tree(x, p);
    checkKeys(t, ['name', 'source_labels', 'join'], p);
    const name = str(t['name'], `${p}.name`);
    if (!name) throw new GeneratorConfigError(`${p}.name: must not be empty`);
    return { name, source_labels: strList(t['source_labels'], `${p}.source_labels`), join: 'join' in t ? str(t['join'], `${p}.join`) : '' };
  });
}

const INTRINSIC_FILTER_KEYS = ['kind', 'name', 'status'];

function parsePolicyMatch(raw: unknown, path: string): PolicyMatchConfig {
  const t = tree(raw, path);
  checkKeys(t, ['match_type', 'attributes'], path);
  const matchType = str(t['match_type'], `${path}.match_type`);
  if (matchType !== 'strict' && matchType !== 'regex') throw new GeneratorConfigError(`${path}.match_type: expected strict or regex, got ${JSON.stringify(matchType)}`);
  const attributes = list(t['attributes'], `${path}.attributes`).map((x, i) => {
    const p = `${path}.attributes[${i}]`;
    const a = tree(x, p);
    checkKeys(a, ['key', 'value'], p);
    const key = str(a['key'], `${p}.key`);
    if (!INTRINSIC_FILTER_KEYS.includes(key) && !key.startsWith('span.') && !key.startsWith('resource.')) {
      throw new GeneratorConfigError(`${p}.key: ${JSON.stringify(key)} must be an intrinsic (${INTRINSIC_FILTER_KEYS.join(', ')}) or start with span. or resource.`);
    }
    const value = a['value'];
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return fail(`${p}.value`, 'a string, number or boolean', value);
    if (matchType === 'regex') {
      try {
        new RegExp(String(value));
      } catch (err) {
        throw new GeneratorConfigError(`${p}.value: invalid regular expression: ${(err as Error).message}`);
      }
    }
    return { key, value };
  });
  return { match_type: matchType, attributes };
}

function parseFilterPolicies(raw: unknown, path: string): FilterPolicyConfig[] {
  return list(raw, path).map((x, i) => {
    const p = `${path}[${i}]`;
    const t = tree(x, p);
    checkKeys(t, ['include', 'exclude'], p);
    const out: FilterPolicyConfig = {};
    if (t['include'] != null) out.include = parsePolicyMatch(t['include'], `${p}.include`);
    if (t['exclude'] != null) out.exclude = parsePolicyMatch(t['exclude'], `${p}.exclude`);
    if (!out.include && !out.exclude) throw new GeneratorConfigError(`${p}: a filter policy needs an include or an exclude`);
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// overrides: metrics_generator (per tenant)

/** Overlays one tenant's `metrics_generator:` overrides on `base` (the defaults' overrides). */
export function parseGeneratorOverrides(raw: unknown, base: MetricsGeneratorLimits = defaultMetricsGeneratorLimits(), path = 'metrics_generator'): MetricsGeneratorLimits {
  const out = structuredClone(base);
  const t = tree(raw, path);
  checkKeys(t, ['processors', 'max_active_series', 'collection_interval', 'disable_collection', 'processor', 'generate_native_histograms'], path);
  if ('generate_native_histograms' in t) {
    // Tempo's histogram mode: classic (its default), native or both. Andante writes classic
    // histograms only; a config asking for native ones is refused rather than silently not served.
    const mode = t['generate_native_histograms'];
    if (mode !== 'classic') {
      throw new GeneratorConfigError(
        `${path}.generate_native_histograms: ${JSON.stringify(mode)} is not supported: Andante writes classic histograms only; valid values: [classic] (Tempo also has native and both)`,
      );
    }
  }
  if ('processors' in t) {
    const names = strList(t['processors'], `${path}.processors`);
    for (const name of names) {
      if (!(PROCESSOR_NAMES as readonly string[]).includes(name)) {
        throw new GeneratorConfigError(`${path}.processors: ${JSON.stringify(name)} is not a known processor, valid values: [${PROCESSOR_NAMES.join(' ')}]`);
      }
    }
    out.processors = [...new Set(names)];
  }
  if ('max_active_series' in t) out.max_active_series = num(t['max_active_series'], `${path}.max_active_series`, { integer: true, min: 0 });
  if ('collection_interval' in t) out.collection_interval = dur(t['collection_interval'], `${path}.collection_interval`);
  if ('disable_collection' in t) out.disable_collection = bool(t['disable_collection'], `${path}.disable_collection`);
  if ('processor' in t) {
    const p = tree(t['processor'], `${path}.processor`);
    checkKeys(p, ['span_metrics', 'service_graphs'], `${path}.processor`);
    if ('span_metrics' in p) {
      const sp = `${path}.processor.span_metrics`;
      const s = tree(p['span_metrics'], sp);
      checkKeys(s, ['dimensions', 'intrinsic_dimensions', 'filter_policies', 'histogram_buckets', 'enable_target_info', 'dimension_mappings'], sp);
      const o = out.processor.span_metrics;
      if ('dimensions' in s) o.dimensions = strList(s['dimensions'], `${sp}.dimensions`);
      if ('intrinsic_dimensions' in s) o.intrinsic_dimensions = { ...o.intrinsic_dimensions, ...parseIntrinsicDimensions(s['intrinsic_dimensions'], `${sp}.intrinsic_dimensions`) };
      if ('filter_policies' in s) o.filter_policies = parseFilterPolicies(s['filter_policies'], `${sp}.filter_policies`);
      if ('histogram_buckets' in s) o.histogram_buckets = bucketList(s['histogram_buckets'], `${sp}.histogram_buckets`);
      if ('enable_target_info' in s) o.enable_target_info = bool(s['enable_target_info'], `${sp}.enable_target_info`);
      if ('dimension_mappings' in s) o.dimension_mappings = parseDimensionMappings(s['dimension_mappings'], `${sp}.dimension_mappings`);
    }
    if ('service_graphs' in p) {
      const sp = `${path}.processor.service_graphs`;
      const s = tree(p['service_graphs'], sp);
      checkKeys(s, ['dimensions', 'peer_attributes', 'histogram_buckets', 'enable_client_server_prefix'], sp);
      const o = out.processor.service_graphs;
      if ('dimensions' in s) o.dimensions = strList(s['dimensions'], `${sp}.dimensions`);
      if ('peer_attributes' in s) o.peer_attributes = strList(s['peer_attributes'], `${sp}.peer_attributes`);
      if ('histogram_buckets' in s) o.histogram_buckets = bucketList(s['histogram_buckets'], `${sp}.histogram_buckets`);
      if ('enable_client_server_prefix' in s) o.enable_client_server_prefix = bool(s['enable_client_server_prefix'], `${sp}.enable_client_server_prefix`);
    }
  }
  return out;
}

/** The tenant's effective processor configuration: the generator's, with the tenant's overrides on top (Tempo's copyWithOverrides). */
export function effectiveProcessorConfig(cfg: GeneratorConfig, o: MetricsGeneratorLimits): GeneratorConfig['processor'] {
  const sm = o.processor.span_metrics;
  const sg = o.processor.service_graphs;
  const base = cfg.processor;
  return {
    span_metrics: {
      ...base.span_metrics,
      dimensions: sm.dimensions ?? base.span_metrics.dimensions,
      intrinsic_dimensions: { ...base.span_metrics.intrinsic_dimensions, ...(sm.intrinsic_dimensions ?? {}) },
      filter_policies: sm.filter_policies ?? base.span_metrics.filter_policies,
      histogram_buckets: sm.histogram_buckets ?? base.span_metrics.histogram_buckets,
      enable_target_info: sm.enable_target_info ?? base.span_metrics.enable_target_info,
      dimension_mappings: sm.dimension_mappings ?? base.span_metrics.dimension_mappings,
    },
    service_graphs: {
      ...base.service_graphs,
      dimensions: sg.dimensions ?? base.service_graphs.dimensions,
      peer_attributes: sg.peer_attributes ?? base.service_graphs.peer_attributes,
      histogram_buckets: sg.histogram_buckets ?? base.service_graphs.histogram_buckets,
      enable_client_server_prefix: sg.enable_client_server_prefix ?? base.service_graphs.enable_client_server_prefix,
    },
  };
}
