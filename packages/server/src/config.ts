// Andante's configuration: Tempo's YAML key names and defaults. The defaults object doubles as
// the schema: a key it lacks is an error naming the key, and a value must have the default's
// type. Durations are Go-style strings. Precedence: defaults < YAML file < command-line flags.
// A key whose default is a Secret holds a secret: it is masked wherever the config is printed.

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { defaultS3StorageConfig, s3BackendConfig, validateS3Config, type S3StorageConfig } from '@andante/backend';
import { defaultBlockConfig } from '@andante/storage';
import { Secret, defaultMetricsGeneratorLimits, parseDuration, type MetricsGeneratorLimits } from '@andante/model';
import { defaultDistributorConfig, readReceiverTls, splitEndpoint, DEFAULT_ZIPKIN_ENDPOINT, type DistributorConfig } from '@andante/distributor';
import { INGESTER_DURATION_KEYS, defaultIngesterModuleConfig, type IngesterModuleConfig } from '@andante/ingester';
import { COMPACTION_DURATION_KEYS, defaultCompactorModuleConfig, type CompactorModuleConfig } from '@andante/compactor';
import { defaultQueryFrontendConfig, type QueryFrontendConfig } from '@andante/query-frontend';
import { QUERIER_DURATION_KEYS, defaultQuerierModuleConfig, validateQuerierModuleConfig, type QuerierModuleConfig } from '@andante/querier';
import {
  GeneratorConfigError,
  defaultGeneratorConfig,
  defaultGeneratorRingConfig,
  parseGeneratorConfig,
  parseGeneratorOverrides,
  validateGeneratorConfig,
  type GeneratorConfig,
} from '@andante/generator';
import {
  BASIC_RING_DURATION_KEYS,
  INGESTER_LIFECYCLER_DURATION_KEYS,
  defaultIngesterLifecyclerConfig,
  validateBasicRingConfig,
  validateIngesterLifecyclerConfig,
  type BasicRingConfig,
  type IngesterLifecyclerConfig,
} from '@andante/ring';
import { redactSecrets } from './redact.js';
import { normalizeTempoDoc } from './config-tempo.js';

/** The user-selectable modules (Tempo's names); `-target` takes one, `all`, or a comma-separated list. */
export const TARGETS = ['all', 'distributor', 'ingester', 'querier', 'query-frontend', 'compactor', 'metrics-generator'] as const;
export type Target = (typeof TARGETS)[number];

/** The basic ring blocks (@andante/ring's BasicRingConfig), by path. */
const BASIC_RING_PATHS = ['metrics_generator.ring', 'compactor.ring', 'distributor.ring'] as const;

export interface LimitsConfig {
  ingestion: { rate_limit_bytes: number; burst_size_bytes: number; max_traces_per_user: number };
  global: { max_bytes_per_trace: number };
  compaction: { block_retention: string };
  read: { max_bytes_per_tag_values_query: number };
  metrics_generator: MetricsGeneratorLimits;
}

export interface AndanteConfig {
  /** One of TARGETS or a comma-separated list of them (`distributor,ingester`). */
  target: string;
  multitenancy_enabled: boolean;
  http_api_prefix: string;
  /** Serve the StreamingQuerier gRPC service (h2c) on the HTTP port, as Grafana's streaming search needs. */
  stream_over_http_enabled: boolean;
  /**
   * Tempo's: after SIGTERM, /ready answers 503 and connections are not kept alive for this long,
   * while everything is still served, so load balancers stop sending work before the stop begins.
   */
  shutdown_delay: string;
  server: {
    http_listen_address: string;
    http_listen_port: number;
    /** Internal gRPC (module-to-module calls); '' listens on every interface, as dskit. */
    grpc_listen_address: string;
    grpc_listen_port: number;
    /** Largest internal gRPC message taken / sent (Tempo raises dskit's 4 MiB to 16 MiB). */
    grpc_server_max_recv_msg_size: number;
    grpc_server_max_send_msg_size: number;
    log_level: 'debug' | 'info' | 'warn' | 'error';
    graceful_shutdown_timeout: string;
  };
  distributor: DistributorConfig;
  /** Tempo's ingester_client: how distributors call ingesters in other processes. */
  ingester_client: { remote_timeout: string };
  /**
   * Tempo's querier (the querier package's keys), with the deadlines of its calls to ingesters in
   * other processes and query_relevant_ingesters.
   */
  querier: QuerierModuleConfig;
  /** Tempo's metrics_generator_client: how distributors call metrics-generators in other processes. */
  metrics_generator_client: { remote_timeout: string };
  /** The ingester's keys, and its ring member's (`lifecycler`, @andante/ring: the lifecycler lives there). */
  ingester: IngesterModuleConfig & { lifecycler: IngesterLifecyclerConfig };
  query_frontend: QueryFrontendConfig;
  compactor: CompactorModuleConfig;
  storage: {
    trace: {
      backend: 'local' | 's3';
      local: { path: string };
      s3: S3StorageConfig;
      wal: { path: string };
      blocklist_poll: string;
      block: { bloom_filter_false_positive: number; bloom_filter_shard_size_bytes: number; row_group_size_spans: number };
    };
  };
  /** The generator package's config; its ring block has the shape every basic ring has (@andante/ring). */
  metrics_generator: GeneratorConfig & { ring: BasicRingConfig };
  overrides: {
    defaults: LimitsConfig;
    per_tenant_override_config: string;
    per_tenant_override_period: string;
  };
}

export function defaultConfig(): AndanteConfig {
  return {
    target: 'all',
    multitenancy_enabled: false,
    http_api_prefix: '',
    // Tempo: false. On here so Grafana's streaming search works with no extra setting; HTTP/1.1
    // clients of the port see no difference (docs/design.md).
    stream_over_http_enabled: true,
    shutdown_delay: '0s',
    server: {
      http_listen_address: '0.0.0.0',
      http_listen_port: 3200,
      grpc_listen_address: '',
      grpc_listen_port: 9095,
      grpc_server_max_recv_msg_size: 16 * 1024 * 1024,
      grpc_server_max_send_msg_size: 16 * 1024 * 1024,
      log_level: 'info',
      graceful_shutdown_timeout: '30s',
    },
    distributor: defaultDistributorConfig(),
    ingester_client: { remote_timeout: '5s' },
    querier: defaultQuerierModuleConfig(),
    metrics_generator_client: { remote_timeout: '5s' },
    ingester: { ...defaultIngesterModuleConfig(), lifecycler: defaultIngesterLifecyclerConfig() },
    query_frontend: defaultQueryFrontendConfig(),
    compactor: defaultCompactorModuleConfig(),
    storage: {
      trace: {
        backend: 'local',
        local: { path: './data/traces' },
        s3: defaultS3StorageConfig(),
        wal: { path: './data/wal' },
        blocklist_poll: '5m',
        block: {
          bloom_filter_false_positive: defaultBlockConfig.bloomFalsePositive,
          bloom_filter_shard_size_bytes: defaultBlockConfig.bloomShardSizeBytes,
          // Measured in docs/block-format.md: smaller row groups make trace-by-ID reads small.
          row_group_size_spans: defaultBlockConfig.rowGroupSpans,
        },
      },
    },
    metrics_generator: { ...defaultGeneratorConfig(), ring: defaultGeneratorRingConfig() },
    overrides: {
      defaults: {
        ingestion: { rate_limit_bytes: 15_000_000, burst_size_bytes: 20_000_000, max_traces_per_user: 10_000 },
        global: { max_bytes_per_trace: 5_000_000 },
        compaction: { block_retention: '0s' },
        read: { max_bytes_per_tag_values_query: 1_000_000 },
        metrics_generator: defaultMetricsGeneratorLimits(),
      },
      per_tenant_override_config: '',
      per_tenant_override_period: '10s',
    },
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Secret);

/** Keys whose values are durations (validated when loaded). */
const DURATION_KEYS = new Set([
  ...BASIC_RING_PATHS.flatMap((p) => BASIC_RING_DURATION_KEYS.map((k) => `${p}.${k}`)),
  ...INGESTER_LIFECYCLER_DURATION_KEYS.map((k) => `ingester.lifecycler.${k}`),
  'server.graceful_shutdown_timeout',
  'shutdown_delay',
  'ingester_client.remote_timeout',
  ...QUERIER_DURATION_KEYS.map((k) => `querier.${k}`),
  'metrics_generator_client.remote_timeout',
  ...INGESTER_DURATION_KEYS.map((k) => `ingester.${k}`),
  'storage.trace.blocklist_poll',
  'overrides.per_tenant_override_period',
  'overrides.defaults.compaction.block_retention',
  'query_frontend.search.max_duration',
  ...COMPACTION_DURATION_KEYS.map((k) => `compactor.compaction.${k}`),
  'storage.trace.s3.retry_backoff_initial',
  'storage.trace.s3.retry_backoff_max',
]);
/** Sub-trees whose keys may be null (a listed receiver protocol with no settings). */
const OPTIONAL_PROTOCOLS = 'distributor.receivers.otlp.protocols';
/** Off (null) by default; a receivers block that lists it turns it on. */
const ZIPKIN_RECEIVER = 'distributor.receivers.zipkin';

/** Sub-trees with lists and maps, parsed (strictly) by the generator package. */
const GENERATOR_SUBTREES: Record<string, (current: never, raw: unknown, path: string) => unknown> = {
  // The ring block has the same shape as every other ring's, so it is merged here, not by the generator.
  metrics_generator: (current: AndanteConfig['metrics_generator'], raw, path) => {
    const { ring, ...rest } = isTree(raw) ? raw : ({} as Tree);
    const { ring: currentRing, ...currentRest } = current;
    const parsed = parseGeneratorConfig(isTree(raw) ? rest : raw, { ...currentRest, ring: defaultGeneratorConfig().ring }, path);
    if (ring !== undefined) mergeInto(currentRing as unknown as Tree, ring, `${path}.ring`);
    return { ...parsed, ring: currentRing };
  },
  'overrides.defaults.metrics_generator': (current: MetricsGeneratorLimits, raw, path) => parseGeneratorOverrides(raw, current, path),
};

/** Runs a generator parser, reporting its error as a ConfigError. */
export function asConfigError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof GeneratorConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

function asConfigErrorOf(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** Merges `src` into `dst` (both shaped like the defaults), rejecting unknown keys and wrong types. */
function mergeInto(dst: Tree, src: unknown, path: string): void {
  if (!isTree(src)) throw new ConfigError(`${path || 'config'}: expected a mapping, got ${JSON.stringify(src)}`);
  for (const [key, value] of Object.entries(src)) {
    const keyPath = path ? `${path}.${key}` : key;
    if (!(key in dst)) throw new ConfigError(`unknown configuration key ${keyPath} (not a key of Tempo 2.x that Andante knows; docs/tempo-config.md lists them)`);
    const current = dst[key];
    if (keyPath === ZIPKIN_RECEIVER) {
      // Listed (even with no settings): on, at the default endpoint unless one is given.
      dst[key] = { endpoint: DEFAULT_ZIPKIN_ENDPOINT };
      if (value !== null && value !== undefined) mergeInto(dst[key] as Tree, value, keyPath);
      continue;
    }
    if (path === OPTIONAL_PROTOCOLS) {
      const base = defaultConfig().distributor.receivers.otlp.protocols[key as 'grpc' | 'http'];
      dst[key] = { ...base };
      if (value !== null && value !== undefined) mergeInto(dst[key] as Tree, value, keyPath);
      continue;
    }
    const subtree = GENERATOR_SUBTREES[keyPath];
    if (subtree) {
      dst[key] = asConfigError(() => subtree(current as never, value, keyPath));
      continue;
    }
    if (isTree(current)) {
      mergeInto(current, value, keyPath);
      continue;
    }
    dst[key] = coerce(value, current, keyPath);
  }
}

function coerce(value: unknown, current: unknown, keyPath: string): unknown {
  if (Array.isArray(current)) {
    // A list of strings (etcd endpoints); from a flag, comma-separated as dskit's StringSliceCSV.
    const list = typeof value === 'string' ? value.split(',').map((v) => v.trim()).filter((v) => v !== '') : value;
    if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) throw new ConfigError(`${keyPath}: expected a list of strings, got ${JSON.stringify(value)}`);
    return [...list];
  }
  if (current instanceof Secret) {
    // The message must not quote the value: a mistyped secret is still a secret.
    if (typeof value !== 'string' && typeof value !== 'number') throw new ConfigError(`${keyPath}: expected a string`);
    return new Secret(String(value));
  }
  const want = typeof current;
  if (want === 'number') {
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new ConfigError(`${keyPath}: expected a number, got ${JSON.stringify(value)}`);
    return n;
  }
  if (want === 'boolean') {
    if (value === 'true' || value === 'false') return value === 'true';
    if (typeof value !== 'boolean') throw new ConfigError(`${keyPath}: expected true or false, got ${JSON.stringify(value)}`);
    return value;
  }
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new ConfigError(`${keyPath}: expected a string, got ${JSON.stringify(value)}`);
  }
  const s = String(value);
  if (DURATION_KEYS.has(keyPath)) {
    try {
      parseDuration(s);
    } catch (err) {
      throw new ConfigError(`${keyPath}: ${(err as Error).message}`);
    }
  }
  return s;
}

/** The modules `-target` names: `all`, one module, or a comma-separated list (Tempo's syntax). */
export function parseTarget(target: string): Target[] {
  const names = target.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (names.length === 0) throw new ConfigError(`target: empty; one of ${TARGETS.join(', ')}, or a comma-separated list of them`);
  for (const name of names) {
    if (!(TARGETS as readonly string[]).includes(name)) {
      throw new ConfigError(`target: unknown target ${JSON.stringify(name)}; one of ${TARGETS.join(', ')}, or a comma-separated list of them`);
    }
  }
  return [...new Set(names)] as Target[];
}

export function validateConfig(cfg: AndanteConfig): AndanteConfig {
  parseTarget(cfg.target);
  if (!['debug', 'info', 'warn', 'error'].includes(cfg.server.log_level)) throw new ConfigError(`server.log_level: expected debug, info, warn or error`);
  const backend = cfg.storage.trace.backend;
  if (backend !== 'local' && backend !== 's3') throw new ConfigError(`storage.trace.backend: unsupported backend ${JSON.stringify(backend)}; supported: local, s3`);
  if (backend === 's3') {
    if (!cfg.storage.trace.s3.bucket) throw new ConfigError('storage.trace.s3.bucket: required when storage.trace.backend is s3');
    try {
      validateS3Config(s3BackendConfig(cfg.storage.trace.s3));
    } catch (err) {
      throw new ConfigError(`storage.trace.s3: ${(err as Error).message}`);
    }
  }
  asConfigErrorOf(() => validateIngesterLifecyclerConfig(cfg.ingester.lifecycler, 'ingester.lifecycler'));
  const basicRings = { 'metrics_generator.ring': cfg.metrics_generator.ring, 'compactor.ring': cfg.compactor.ring, 'distributor.ring': cfg.distributor.ring };
  for (const [path, ring] of Object.entries(basicRings)) asConfigErrorOf(() => validateBasicRingConfig(ring, path));
  asConfigErrorOf(() => validateQuerierModuleConfig(cfg.querier, 'querier'));
  const outstanding = cfg.query_frontend.max_outstanding_per_tenant;
  if (!Number.isInteger(outstanding) || outstanding < 0) throw new ConfigError(`query_frontend.max_outstanding_per_tenant: expected a non-negative integer (0: unbounded), got ${outstanding}`);
  asConfigError(() => validateGeneratorConfig(cfg.metrics_generator));
  const bloom = cfg.storage.trace.block.bloom_filter_false_positive;
  if (!(bloom > 0 && bloom < 1)) throw new ConfigError('storage.trace.block.bloom_filter_false_positive: expected a value between 0 and 1');
  // Receiver TLS files are read here too, so -config.verify names a missing one.
  for (const [name, protocol] of Object.entries(cfg.distributor.receivers.otlp.protocols)) {
    if (protocol) asConfigErrorOf(() => readReceiverTls(protocol.tls, `distributor.receivers.otlp.protocols.${name}.tls`));
  }
  const zipkin = cfg.distributor.receivers.zipkin;
  if (zipkin) asConfigErrorOf(() => splitEndpoint(zipkin.endpoint, 'distributor.receivers.zipkin.endpoint'));
  return cfg;
}

/** What the command line says beyond config keys. */
export interface ParsedFlags {
  configFile: string;
  /** `-config.expand-env=true`: expand `${VAR}` and `${VAR:-default}` in the file before parsing (Tempo's flag). */
  expandEnv: boolean;
  /** `-config.verify`: load and validate the config, report, exit (Tempo's flag). */
  verify: boolean;
  overrides: [string, string][];
}

function flagBool(name: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`-${name}: expected true or false, got ${JSON.stringify(value)}`);
}

/** Parses Go-style flags: `-config.file=x`, `--target x`, `-key.path=value` (any config key). */
export function parseFlags(argv: readonly string[]): ParsedFlags {
  let configFile = '';
  let expandEnv = false;
  let verify = false;
  const overrides: [string, string][] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}: flags look like -config.file=andante.yaml`);
    const body = arg.replace(/^--?/, '');
    let [name, value] = body.includes('=') ? [body.slice(0, body.indexOf('=')), body.slice(body.indexOf('=') + 1)] : [body, undefined];
    const isBool = name === 'config.expand-env' || name === 'config.verify';
    if (value === undefined) {
      const next = argv[i + 1];
      // Go's flag package never takes the next argument as a boolean flag's value.
      if (!isBool && next !== undefined && !next.startsWith('-')) value = argv[++i]!;
      else value = 'true'; // a bare boolean flag
    }
    if (name === 'config.file') configFile = value;
    else if (name === 'config.expand-env') expandEnv = flagBool(name, value);
    else if (name === 'config.verify') verify = flagBool(name, value);
    else overrides.push([name!, value]);
  }
  return { configFile, expandEnv, verify, overrides };
}

const ENV_REF = /\$\$|\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)|\$\{/g;

/**
 * Tempo's `-config.expand-env` (drone/envsubst): `${VAR}` and `$VAR` become the variable's value (empty
 * when unset), `${VAR:-default}` the default when unset or empty, `${VAR-default}` when unset,
 * `${VAR:?message}` an error when unset or empty, and `$$` a literal `$`. Runs on the text before
 * YAML parsing, as Tempo does, so a value can hold any YAML.
 */
export function expandEnv(text: string, env: Record<string, string | undefined> = process.env): string {
  return text.replace(ENV_REF, (match: string, braced: string | undefined, bare: string | undefined, offset: number) => {
    if (match === '$$') return '$';
    if (bare !== undefined) return env[bare] ?? '';
    if (braced === undefined) {
      const line = text.slice(0, offset).split('\n').length;
      throw new ConfigError(`config.expand-env: unterminated \${ at line ${line}`);
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])(.*))?$/s.exec(braced);
    if (!m) throw new ConfigError(`config.expand-env: bad variable reference \${${braced}}: expected \${NAME}, \${NAME:-default} or \${NAME:?message}`);
    const [, name, colon, op, arg] = m as unknown as [string, string, string | undefined, string | undefined, string | undefined];
    const value = env[name];
    const missing = value === undefined || (colon === ':' && value === '');
    if (op === '-') return missing ? arg ?? '' : value!;
    if (op === '?') {
      if (missing) throw new ConfigError(`config.expand-env: ${name}: ${arg || 'not set'}`);
      return value!;
    }
    return value ?? '';
  });
}

/** Loads defaults, then the YAML file (if any), then flag overrides; validates the result. */
export function loadConfig(argv: readonly string[], env: Record<string, string | undefined> = process.env): AndanteConfig {
  const { configFile, expandEnv: expand, overrides } = parseFlags(argv);
  const cfg = defaultConfig();
  if (configFile) {
    let text: string;
    try {
      text = readFileSync(configFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(err as Error).message}`);
    }
    applyYaml(cfg, expand ? expandEnv(text, env) : text);
  }
  for (const [name, value] of overrides) applyFlag(cfg, name, value);
  return validateConfig(cfg);
}

/** What loading noted about the config (Tempo keys accepted without effect, rewritten keys): logged at start. */
const configNotes = new WeakMap<AndanteConfig, string[]>();
export function notesOf(cfg: AndanteConfig): string[] {
  let notes = configNotes.get(cfg);
  if (!notes) configNotes.set(cfg, (notes = []));
  return notes;
}

export function applyYaml(cfg: AndanteConfig, text: string): void {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`invalid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return;
  // Tempo's keys Andante holds elsewhere, accepts without effect, or refuses (config-tempo.ts).
  if (isTree(doc)) normalizeTempoDoc(doc, JSON.parse(JSON.stringify(defaultConfig())) as Tree, notesOf(cfg));
  // A receivers block that lists protocols enables only those, as in Tempo.
  const protocols = (doc as { distributor?: { receivers?: { otlp?: { protocols?: unknown } } } }).distributor?.receivers?.otlp?.protocols;
  if (isTree(protocols)) {
    const p = cfg.distributor.receivers.otlp.protocols;
    if (!('grpc' in protocols)) p.grpc = null;
    if (!('http' in protocols)) p.http = null;
  }
  mergeInto(cfg as unknown as Tree, doc, '');
}

function applyFlag(cfg: AndanteConfig, name: string, value: string): void {
  const parts = name.split('.');
  let node: Tree = cfg as unknown as Tree;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = node[parts[i]!];
    if (!isTree(next)) throw new ConfigError(`unknown flag -${name}`);
    node = next;
  }
  const key = parts[parts.length - 1]!;
  // Lists and mappings (remote_write, dimensions, ...) are set in the YAML file only.
  const cur = node[key];
  if (!(key in node) || (typeof cur === 'object' && cur !== null && !(cur instanceof Secret) && !Array.isArray(cur))) throw new ConfigError(`unknown flag -${name}`);
  node[key] = coerce(value, node[key], name);
}

/**
 * The config as plain data, secrets masked (Tempo's YAMLMarshalUnmarshal): what /status/config
 * prints and diffs.
 */
export function configTree(cfg: AndanteConfig): Tree {
  return redactSecrets(JSON.parse(JSON.stringify(cfg))) as Tree;
}

/**
 * The keys of `actual` whose values differ from `defaults`, nested as in the config (Tempo's
 * util.DiffConfig); a sub-tree appears only if something in it differs.
 */
export function diffConfig(defaults: Tree, actual: Tree): Tree {
  const out: Tree = {};
  for (const [key, value] of Object.entries(actual)) {
    const base = defaults[key];
    if (isTree(value) && isTree(base)) {
      const sub = diffConfig(base, value);
      if (Object.keys(sub).length > 0) out[key] = sub;
    } else if (JSON.stringify(value) !== JSON.stringify(base)) {
      out[key] = value;
    }
  }
  return out;
}

export function durationMs(value: string): number {
  return parseDuration(value);
}
