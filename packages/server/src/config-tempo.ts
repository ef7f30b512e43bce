// Tempo 2.x configuration as users write it. Runs on the parsed YAML before it is merged into the
// defaults, so every Tempo key is either honoured (it is in the schema, or is rewritten here to the
// key that holds the same setting), accepted with no effect (logged at start with the reason), or
// refused with a message naming the key and what to use instead. A key that is neither in the
// schema nor in RULES stays an "unknown configuration key" error (a typo, most likely).
// docs/tempo-config.md is the table of Tempo's keys and their status here.

import { ConfigError } from './config.js';

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v) && v.constructor === Object;

/**
 * How a Tempo key Andante does not hold is treated. Without `use`, it is accepted with no effect
 * (`why` says why that changes nothing that matters). With `use`, it is refused, unless `ok` says
 * the value is one that behaves like Andante (then accepted with no effect).
 */
interface Rule {
  why: string;
  use?: string;
  ok?: (value: unknown) => boolean;
}

/** Empty, false, zero, null, or a mapping/list of only those: a block that turns nothing on. */
export function inert(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.every(inert);
  if (isTree(v)) return Object.values(v).every(inert);
  return false;
}
const isFalse = (v: unknown): boolean => v === false || v === 'false';
const isTrue = (v: unknown): boolean => v === true || v === 'true';
const notEnabled = (v: unknown): boolean => !isTree(v) || !isTrue(v.enabled ?? v.enable);
const noTls = (v: unknown): boolean => !isTree(v) || !isTrue(v.tls_enabled);

const GO_TUNING = 'tuning of Go’s gRPC/HTTP stack; Node’s defaults apply';
const KAFKA = 'part of Tempo’s Kafka-based write path (ingest.enabled), which Andante does not have; writes go through the ingesters';
const NO_CACHE = 'Andante runs no external cache (memcached/redis); blocks are read from the backend with their bloom filters';
const RING_LOCAL = 'the ring address is instance_addr / the first non-loopback IPv4 address';
const INTERNAL_TLS = 'internal gRPC is plaintext here: run it on a private network or behind a service mesh that adds mTLS';
const OWN_BLOCKS = 'Andante writes its own block format (docs/block-format.md), so Tempo’s block and WAL encodings do not apply';
const NOT_RECEIVED = 'Andante receives OTLP and Zipkin only: put an OpenTelemetry Collector with this receiver and the otlp exporter in front';

/** Tempo 2.x keys Andante does not hold. `*` matches one path segment; a rule covers the key's sub-tree. */
const RULES: Record<string, Rule> = {
  memory: { why: 'Go’s automemlimit; size Node’s heap with NODE_OPTIONS=--max-old-space-size' },
  internal_server: { why: 'a second HTTP server for probes', use: 'probe /ready on server.http_listen_port', ok: notEnabled },
  usage_report: { why: 'Andante sends no usage reports' },
  cache: { why: NO_CACHE },
  ingest: { why: KAFKA, use: 'leave ingest.enabled false; scale distributors and ingesters instead', ok: notEnabled },
  block_builder: { why: KAFKA },
  backend_scheduler: { why: 'Tempo 2.9’s scheduled compaction; the compactor module compacts here' },
  backend_scheduler_client: { why: 'Tempo 2.9’s scheduled compaction; the compactor module compacts here' },
  backend_worker: { why: 'Tempo 2.9’s scheduled compaction; the compactor module compacts here' },
  live_store: { why: KAFKA },
  live_store_client: { why: KAFKA },
  partition_ring_live_store: { why: KAFKA },

  'server.http_listen_network': { why: 'TCP only', use: 'http_listen_network: tcp', ok: (v) => v === 'tcp' },
  'server.grpc_listen_network': { why: 'TCP only', use: 'grpc_listen_network: tcp', ok: (v) => v === 'tcp' },
  'server.http_listen_conn_limit': { why: GO_TUNING },
  'server.grpc_listen_conn_limit': { why: GO_TUNING },
  'server.grpc_collect_max_streams_by_conn': { why: GO_TUNING },
  'server.proxy_protocol_enabled': { why: 'PROXY protocol', use: 'let the load balancer forward client addresses in headers', ok: (v) => !isTrue(v) },
  'server.tls_cipher_suites': { why: 'the server ports serve plain HTTP/gRPC', use: 'terminate TLS at the ingress or load balancer', ok: inert },
  'server.tls_min_version': { why: 'the server ports serve plain HTTP/gRPC', use: 'terminate TLS at the ingress or load balancer', ok: inert },
  'server.http_tls_config': { why: 'the HTTP port serves plain HTTP', use: 'terminate TLS at the ingress or load balancer; OTLP receivers take distributor.receivers.otlp.protocols.*.tls', ok: inert },
  'server.grpc_tls_config': { why: INTERNAL_TLS, use: 'leave server.grpc_tls_config empty', ok: inert },
  'server.register_instrumentation': { why: '/metrics is always served' },
  'server.report_grpc_codes_in_instrumentation_label_enabled': { why: 'request metrics carry the HTTP status' },
  'server.http_server_read_timeout': { why: GO_TUNING },
  'server.http_server_read_header_timeout': { why: GO_TUNING },
  'server.http_server_write_timeout': { why: GO_TUNING },
  'server.http_server_idle_timeout': { why: GO_TUNING },
  'server.http_log_closed_connections_without_response_enabled': { why: GO_TUNING },
  'server.grpc_server_max_concurrent_streams': { why: GO_TUNING },
  'server.grpc_server_max_connection_idle': { why: GO_TUNING },
  'server.grpc_server_max_connection_age': { why: GO_TUNING },
  'server.grpc_server_max_connection_age_grace': { why: GO_TUNING },
  'server.grpc_server_keepalive_time': { why: GO_TUNING },
  'server.grpc_server_keepalive_timeout': { why: GO_TUNING },
  'server.grpc_server_min_time_between_pings': { why: GO_TUNING },
  'server.grpc_server_ping_without_stream_allowed': { why: GO_TUNING },
  'server.grpc_server_num_workers': { why: GO_TUNING },
  'server.grpc_server_stats_tracking_enabled': { why: GO_TUNING },
  'server.grpc_server_recv_buffer_pools_enabled': { why: GO_TUNING },
  'server.grpc_server_read_buffer_size': { why: GO_TUNING },
  'server.grpc_server_write_buffer_size': { why: GO_TUNING },
  'server.log_format': { why: 'Andante logs one JSON object per line' },
  'server.log_source_ips_enabled': { why: 'request logs carry no source IPs' },
  'server.log_source_ips_full': { why: 'request logs carry no source IPs' },
  'server.log_source_ips_header': { why: 'request logs carry no source IPs' },
  'server.log_source_ips_regex': { why: 'request logs carry no source IPs' },
  'server.log_request_headers': { why: 'request headers are not logged' },
  'server.log_request_at_info_level_enabled': { why: 'requests are counted in metrics, not logged' },
  'server.log_request_exclude_headers_list': { why: 'request headers are not logged' },
  'server.trace_request_headers': { why: 'Andante does not trace itself' },
  'server.trace_request_exclude_headers_list': { why: 'Andante does not trace itself' },
  'server.http_path_prefix': { why: 'a path prefix for every route', use: 'http_api_prefix (the API routes’ prefix)', ok: inert },
  'server.cluster_validation': { why: 'cluster labels on requests', use: 'separate clusters by network or by ring prefix', ok: inert },

  '*.ring.instance_interface_names': { why: RING_LOCAL },
  '*.ring.enable_inet6': { why: RING_LOCAL },
  'ingester.lifecycler.interface_names': { why: RING_LOCAL },
  'ingester.lifecycler.enable_inet6': { why: RING_LOCAL },
  '*.ring.kvstore.consul': { why: 'only used with store: consul, which is refused (use etcd)' },
  '*.ring.kvstore.multi': { why: 'only used with store: multi, which is refused (use etcd)' },
  'ingester.lifecycler.ring.kvstore.consul': { why: 'only used with store: consul, which is refused (use etcd)' },
  'ingester.lifecycler.ring.kvstore.multi': { why: 'only used with store: multi, which is refused (use etcd)' },
  '*.ring.kvstore.etcd.tls_server_name': { why: 'the name in the endpoint is verified', use: 'an etcd endpoint whose host name matches its certificate', ok: inert },
  '*.ring.kvstore.etcd.tls_insecure_skip_verify': { why: 'certificates are always verified', use: 'tls_ca_path with the CA that signed etcd’s certificate', ok: (v) => !isTrue(v) },
  '*.ring.kvstore.etcd.tls_cipher_suites': { why: 'Node’s TLS defaults apply' },
  '*.ring.kvstore.etcd.tls_min_version': { why: 'Node’s TLS defaults apply (TLS 1.2 minimum)' },
  '*.override_ring_key': { why: 'the ring key is fixed per ring' },
  'compactor.ring.wait_stability_min_duration': { why: 'compactors own tenants by the ring as it is; ownership moves at the next cycle' },
  'compactor.ring.wait_stability_max_duration': { why: 'compactors own tenants by the ring as it is; ownership moves at the next cycle' },
  'compactor.ring.wait_active_instance_timeout': { why: 'compactors own tenants by the ring as it is; ownership moves at the next cycle' },
  'metrics_generator.ring_mode': { why: 'the generator ring is the classic ring', use: 'leave ring_mode unset', ok: (v) => inert(v) || v === 'ring' },

  'distributor.forwarders': { why: 'span forwarding to other OTLP endpoints', use: 'fan out with an OpenTelemetry Collector in front', ok: inert },
  'distributor.usage': { why: 'cost attribution usage metrics are not produced' },
  'distributor.ingester_write_path_enabled': { why: 'writes always go to ingesters', use: 'leave it true', ok: (v) => !isFalse(v) },
  'distributor.kafka_write_path_enabled': { why: KAFKA, use: 'leave it false', ok: (v) => !isTrue(v) },
  'distributor.kafka_config': { why: KAFKA },
  'distributor.extend_writes': { why: 'a write that misses a leaving ingester fails instead of extending to the next one; the client retries' },
  'distributor.retry_after_on_resource_exhausted': { why: 'rate-limited pushes answer 429 / RESOURCE_EXHAUSTED without a retry hint; OTLP exporters back off by themselves' },
  'distributor.max_attribute_bytes': { why: 'attribute values are stored whole; bound them with the Collector’s transform processor if needed' },
  'distributor.log_received_spans': { why: 'spans are counted in tempo_distributor_spans_received_total, not logged' },
  'distributor.log_discarded_spans': { why: 'discarded spans are counted in tempo_discarded_spans_total, not logged' },
  'distributor.metric_received_spans': { why: 'tempo_distributor_spans_received_total is always produced' },
  'distributor.receivers.jaeger': { why: 'no Jaeger receiver', use: NOT_RECEIVED },
  'distributor.receivers.opencensus': { why: 'no OpenCensus receiver', use: NOT_RECEIVED },
  'distributor.receivers.kafka': { why: 'no Kafka receiver', use: NOT_RECEIVED },
  'distributor.receivers.otlp.protocols.*.tls.min_version': { why: 'Node’s TLS defaults apply (TLS 1.2 minimum)' },
  'distributor.receivers.otlp.protocols.*.tls.max_version': { why: 'Node’s TLS defaults apply' },
  'distributor.receivers.otlp.protocols.*.tls.cipher_suites': { why: 'Node’s TLS defaults apply' },
  'distributor.receivers.otlp.protocols.*.tls.reload_interval': { why: 'certificate files are read at start: restart to rotate them' },
  'distributor.receivers.otlp.protocols.*.tls.client_ca_file_reload': { why: 'certificate files are read at start: restart to rotate them' },
  'distributor.receivers.otlp.protocols.*.tls.include_system_ca_certs_pool': { why: 'client certificates are checked against client_ca_file only' },
  'distributor.receivers.otlp.protocols.*.tls.ca_file': { why: 'a server’s ca_file is unused by the Collector too; clients are checked against client_ca_file' },
  'distributor.receivers.otlp.protocols.*.tls.cert_pem': { why: 'PEM inline', use: 'cert_file', ok: inert },
  'distributor.receivers.otlp.protocols.*.tls.key_pem': { why: 'PEM inline', use: 'key_file', ok: inert },
  'distributor.receivers.otlp.protocols.*.auth': { why: 'receiver authenticators', use: 'authenticate in an OpenTelemetry Collector in front', ok: inert },
  'distributor.receivers.otlp.protocols.*.include_metadata': { why: 'the tenant is read from X-Scope-OrgID either way' },
  'distributor.receivers.otlp.protocols.grpc.keepalive': { why: GO_TUNING },
  'distributor.receivers.otlp.protocols.grpc.max_concurrent_streams': { why: GO_TUNING },
  'distributor.receivers.otlp.protocols.grpc.read_buffer_size': { why: GO_TUNING },
  'distributor.receivers.otlp.protocols.grpc.write_buffer_size': { why: GO_TUNING },
  'distributor.receivers.otlp.protocols.grpc.transport': { why: 'TCP only', use: 'transport: tcp', ok: (v) => v === 'tcp' },
  'distributor.receivers.otlp.protocols.http.cors': { why: 'browser CORS on the receiver', use: 'send browser spans through an OpenTelemetry Collector with cors set', ok: inert },
  'distributor.receivers.otlp.protocols.http.traces_url_path': { why: 'traces are taken on /v1/traces', use: 'leave it /v1/traces', ok: (v) => inert(v) || v === '/v1/traces' },

  'ingester_client.pool_config': { why: GO_TUNING },
  'ingester_client.grpc_client_config': { why: INTERNAL_TLS, use: 'leave tls_enabled false', ok: noTls },
  'metrics_generator_client.pool_config': { why: GO_TUNING },
  'metrics_generator_client.grpc_client_config': { why: INTERNAL_TLS, use: 'leave tls_enabled false', ok: noTls },

  'querier.search.external_endpoints': { why: 'external (serverless) search', use: 'scale queriers instead', ok: inert },
  'querier.search.external_backend': { why: 'external (serverless) search', use: 'scale queriers instead', ok: inert },
  'querier.search.prefer_self': { why: 'external (serverless) search is not supported' },
  'querier.search.external_hedge_requests_at': { why: 'external (serverless) search is not supported' },
  'querier.search.external_hedge_requests_up_to': { why: 'external (serverless) search is not supported' },
  'querier.trace_by_id.external': { why: 'external trace-by-ID', use: 'leave it unset', ok: (v) => !isTree(v) || inert(v.endpoint) },
  'querier.metrics': { why: 'TraceQL metrics run with the query_frontend.metrics settings' },
  'querier.partition_ring': { why: KAFKA },
  'querier.shuffle_sharding_ingesters_enabled': { why: 'ingester shuffle sharding', use: 'leave it false', ok: (v) => !isTrue(v) },
  'querier.shuffle_sharding_ingesters_lookback_period': { why: 'ingester shuffle sharding is not supported' },

  'query_frontend.querier_forget_delay': { why: 'there is no per-tenant queue' },
  'query_frontend.max_batch_size': { why: 'there is no per-tenant queue' },
  'query_frontend.max_retries': { why: 'a failed job fails its query with the reason; the client retries' },
  'query_frontend.log_query_request_headers': { why: 'request headers are not logged' },
  'query_frontend.search.target_bytes_per_job': { why: 'search jobs are sized by Andante’s own sharding (docs/design.md)' },
  'query_frontend.search.query_backend_after': { why: 'ingesters and blocks are both searched; results are de-duplicated' },
  'query_frontend.search.query_ingesters_until': { why: 'ingesters and blocks are both searched; results are de-duplicated' },
  'query_frontend.search.ingester_shards': { why: 'search jobs are sized by Andante’s own sharding (docs/design.md)' },
  'query_frontend.search.most_recent_shards': { why: 'search jobs are sized by Andante’s own sharding (docs/design.md)' },
  'query_frontend.search.default_spans_per_span_set': { why: 'the spss request parameter sets it; the default is Tempo’s 3' },
  'query_frontend.search.duration_slo': { why: 'SLO counters are not produced (query latency is in tempo_request_duration_seconds)' },
  'query_frontend.search.throughput_bytes_slo': { why: 'SLO counters are not produced (query latency is in tempo_request_duration_seconds)' },
  'query_frontend.search.metadata_slo': { why: 'SLO counters are not produced (query latency is in tempo_request_duration_seconds)' },
  'query_frontend.trace_by_id': { why: 'trace-by-ID reads every block whose bloom filter may hold the ID; no shards to tune' },
  'query_frontend.multi_tenant_queries_enabled': { why: 'an X-Scope-OrgID holding several tenants (a|b) is refused with 400' },
  'query_frontend.response_consumers': { why: GO_TUNING },
  'query_frontend.weights': { why: 'there is no per-tenant queue to weigh jobs in' },
  'query_frontend.mcp_server': { why: 'the MCP server', use: 'leave mcp_server.enabled false', ok: notEnabled },
  'query_frontend.max_grpc_streaming_packet_size': { why: 'streamed responses are sized by server.grpc_server_max_send_msg_size' },
  'query_frontend.max_query_expression_size_bytes': { why: 'TraceQL queries are bounded by the HTTP request size' },
  'query_frontend.query_end_cutoff': { why: 'the newest data is searched too' },
  'query_frontend.rf1_after': { why: KAFKA },

  'compactor.compaction.v2_in_buffer_bytes': { why: OWN_BLOCKS },
  'compactor.compaction.v2_out_buffer_bytes': { why: OWN_BLOCKS },
  'compactor.compaction.v2_prefetch_traces_count': { why: OWN_BLOCKS },
  'compactor.compaction.retention_concurrency': { why: 'retention deletes one block at a time; it is not on a hot path' },
  'compactor.compaction.max_time_per_tenant': { why: 'a compaction cycle visits every owned tenant' },
  'compactor.compaction.block_retention_concurrency': { why: 'retention deletes one block at a time' },

  'ingester.lifecycler.ring.excluded_zones': { why: 'zone exclusion', use: 'leave excluded_zones empty', ok: inert },
  'ingester.lifecycler.observe_period': { why: 'tokens are claimed through the ring store’s compare-and-swap' },
  'ingester.lifecycler.join_after': { why: 'tokens are claimed through the ring store’s compare-and-swap' },
  'ingester.lifecycler.min_ready_duration': { why: '/ready turns ready once the ingester is ACTIVE and its WAL replayed' },
  'ingester.lifecycler.final_sleep': { why: 'the ingester leaves the ring once its flush is done' },
  'ingester.lifecycler.tokens_file_path': { why: 'tokens are kept in the ring store under the ingester id, so a restart with the same id finds them' },
  'ingester.lifecycler.readiness_check_ring_health': { why: '/ready reflects the ingester’s own ring state' },
  'ingester.partition_ring': { why: KAFKA },
  'ingester.flush_op_timeout': { why: 'a flush is retried until it succeeds (docs/design.md)' },
  'ingester.trace_live_period': { why: 'traces are cut by trace_idle_period' },
  'ingester.flush_object_storage': { why: 'ingesters always flush to object storage', use: 'leave it true', ok: (v) => !isFalse(v) },

  'metrics_generator.override_ring_key': { why: 'the ring key is fixed per ring' },
  'metrics_generator.codec': { why: KAFKA },
  'metrics_generator.limiter_type': { why: 'active series are limited by max_active_series' },
  'metrics_generator.ingest_concurrency': { why: KAFKA },
  'metrics_generator.instance_id': { why: 'the generator’s identity is metrics_generator.ring.instance_id' },
  'metrics_generator.leave_consumer_group_on_shutdown': { why: KAFKA },
  'metrics_generator.skip_stale_backlog_on_startup': { why: KAFKA },
  'metrics_generator.assigned_partitions': { why: KAFKA },
  'metrics_generator.processor.host_info': { why: 'the host-info processor', use: 'leave it out of the processors list (span-metrics, service-graphs, local-blocks only)' },
  'metrics_generator.processor.service_graphs.enable_tracestate_span_multiplier': { why: 'spans count once (no sampling-rate multiplier)', use: 'leave it false', ok: (v) => !isTrue(v) },
  'metrics_generator.processor.span_metrics.enable_tracestate_span_multiplier': { why: 'spans count once (no sampling-rate multiplier)', use: 'leave it false', ok: (v) => !isTrue(v) },
  'metrics_generator.processor.service_graphs.filter_policies': { why: 'service-graph filter policies', use: 'filter with span_metrics.filter_policies, or drop spans in the Collector', ok: inert },
  'metrics_generator.storage.wal': { why: 'the generator’s remote-write queue is its own (docs/design.md)' },

  'storage.trace.pool': { why: 'block reads are bounded by the querier’s worker pool' },
  'storage.trace.wal.v2_encoding': { why: OWN_BLOCKS },
  'storage.trace.wal.search_encoding': { why: OWN_BLOCKS },
  'storage.trace.wal.version': { why: OWN_BLOCKS },
  'storage.trace.wal.ingestion_time_range_slack': { why: 'block time ranges come from the spans’ own start and end' },
  'storage.trace.block.version': { why: OWN_BLOCKS },
  'storage.trace.block.search_encoding': { why: OWN_BLOCKS },
  'storage.trace.block.search_page_size_bytes': { why: OWN_BLOCKS },
  'storage.trace.block.v2_index_downsample_bytes': { why: OWN_BLOCKS },
  'storage.trace.block.v2_index_page_size_bytes': { why: OWN_BLOCKS },
  'storage.trace.block.v2_encoding': { why: OWN_BLOCKS },
  'storage.trace.block.encoding': { why: OWN_BLOCKS },
  'storage.trace.block.parquet_row_group_size_bytes': { why: 'row groups are sized in spans: storage.trace.block.row_group_size_spans' },
  'storage.trace.block.parquet_dedicated_columns': { why: OWN_BLOCKS },
  'storage.trace.search': { why: 'search reads are tuned by Andante’s block format, not Tempo’s parquet reader settings' },
  'storage.trace.blocklist_poll_concurrency': { why: 'the blocklist poll lists tenants one by one' },
  'storage.trace.blocklist_poll_tenant_concurrency': { why: 'the blocklist poll lists tenants one by one' },
  'storage.trace.blocklist_poll_fallback': { why: 'every poller lists the bucket; there is no tenant index' },
  'storage.trace.blocklist_poll_tenant_index_builders': { why: 'every poller lists the bucket; there is no tenant index' },
  'storage.trace.blocklist_poll_stale_tenant_index': { why: 'every poller lists the bucket; there is no tenant index' },
  'storage.trace.blocklist_poll_jitter_ms': { why: 'polls are not jittered' },
  'storage.trace.blocklist_poll_tolerate_consecutive_errors': { why: 'a failed poll keeps the previous blocklist' },
  'storage.trace.blocklist_poll_tolerate_tenant_failures': { why: 'a failed poll keeps the previous blocklist' },
  'storage.trace.empty_tenant_deletion_enabled': { why: 'empty tenants are not deleted', use: 'leave it false', ok: (v) => !isTrue(v) },
  'storage.trace.empty_tenant_deletion_age': { why: 'empty tenants are not deleted' },
  'storage.trace.gcs': { why: 'only read with backend: gcs, which is refused (local or s3; GCS serves the S3 protocol through its interoperability API)' },
  'storage.trace.azure': { why: 'only read with backend: azure, which is refused (local or s3)' },
  'storage.trace.cache': { why: NO_CACHE },
  'storage.trace.background_cache': { why: NO_CACHE },
  'storage.trace.memcached': { why: NO_CACHE },
  'storage.trace.redis': { why: NO_CACHE },
  'storage.trace.cache_min_compaction_level': { why: NO_CACHE },
  'storage.trace.cache_max_block_age': { why: NO_CACHE },
  'storage.trace.s3.tls_cert_path': { why: 'client certificates to S3', use: 'authenticate with credentials or the pod’s role (IRSA)', ok: inert },
  'storage.trace.s3.tls_key_path': { why: 'client certificates to S3', use: 'authenticate with credentials or the pod’s role (IRSA)', ok: inert },
  'storage.trace.s3.tls_ca_path': { why: 'a custom CA for S3', use: 'NODE_EXTRA_CA_CERTS=<ca file> in the environment', ok: inert },
  'storage.trace.s3.tls_server_name': { why: 'the endpoint’s host name is verified', use: 'an endpoint whose host name matches its certificate', ok: inert },
  'storage.trace.s3.tls_insecure_skip_verify': { why: 'certificates are always verified', use: 'NODE_EXTRA_CA_CERTS for a private CA, or insecure: true for plain HTTP', ok: (v) => !isTrue(v) },
  'storage.trace.s3.tls_cipher_suites': { why: 'Node’s TLS defaults apply' },
  'storage.trace.s3.tls_min_version': { why: 'Node’s TLS defaults apply (TLS 1.2 minimum)' },
  'storage.trace.s3.hedge_requests_at': { why: 'reads are not hedged; slow reads are retried' },
  'storage.trace.s3.hedge_requests_up_to': { why: 'reads are not hedged; slow reads are retried' },
  'storage.trace.s3.signature_v2': { why: 'requests are signed with SigV4', use: 'leave it false', ok: (v) => !isTrue(v) },
  'storage.trace.s3.enable_dual_stack': { why: 'the endpoint is used as given' },
  'storage.trace.s3.bucket_lookup_type': { why: 'path or virtual-host style is chosen by forcepathstyle' },
  'storage.trace.s3.list_blocks_concurrency': { why: 'the blocklist poll lists tenants one by one' },
  'storage.trace.s3.native_aws_auth_enabled': { why: 'credentials come from access_key/secret_key or the AWS default chain (IRSA, instance role) either way' },
  'storage.trace.s3.tags': { why: 'object tags', use: 'bucket lifecycle rules by prefix', ok: inert },
  'storage.trace.s3.metadata': { why: 'object metadata', use: 'leave it empty', ok: inert },
  'storage.trace.s3.storage_class': { why: 'objects use the bucket’s default class', use: 'a bucket lifecycle rule that transitions objects', ok: inert },
  'storage.trace.s3.sse': { why: 'per-request server-side encryption', use: 'the bucket’s default encryption (SSE-S3 or SSE-KMS)', ok: (v) => !isTree(v) || inert(v.type) },

  'overrides.user_configurable_overrides': { why: 'the user-configurable overrides API', use: 'overrides.per_tenant_override_config', ok: notEnabled },
  'overrides.enable_legacy_overrides': { why: 'the legacy flat form is always accepted (and rewritten to the new form)' },
  'overrides.defaults.ingestion.rate_strategy': { why: 'rate limits are per distributor (local)', use: 'rate_strategy: local with rate_limit_bytes divided by the distributor count', ok: (v) => v === 'local' },
  'overrides.defaults.ingestion.retry_info_enabled': { why: 'rate-limited pushes answer without a retry hint' },
  'overrides.defaults.ingestion.tenant_shard_size': { why: 'each tenant’s traces spread over every ingester', use: 'leave it 0', ok: inert },
  'overrides.defaults.ingestion.max_global_traces_per_user': { why: 'a cluster-wide live-trace limit', use: 'ingestion.max_traces_per_user (per ingester)', ok: inert },
  'overrides.defaults.ingestion.max_attribute_bytes': { why: 'attribute values are stored whole' },
  'overrides.defaults.ingestion.artificial_delay': { why: 'pushes are never delayed on purpose' },
  'overrides.defaults.read.max_blocks_per_tag_values_query': { why: 'tag queries are bounded by max_bytes_per_tag_values_query' },
  'overrides.defaults.read.max_condition_groups_per_tag_query': { why: 'tag queries are bounded by max_bytes_per_tag_values_query' },
  'overrides.defaults.read.max_metrics_duration': { why: 'TraceQL metrics ranges are bounded by query_frontend.metrics.max_duration' },
  'overrides.defaults.read.unsafe_query_hints': { why: 'query hints are ignored' },
  'overrides.defaults.read.left_pad_trace_ids': { why: 'trace IDs are returned as stored' },
  'overrides.defaults.compaction.compaction_disabled': { why: 'per-tenant compaction switch', use: 'run no compactor target', ok: (v) => !isTrue(v) },
  'overrides.defaults.compaction.compaction_window': { why: 'the compactor’s compaction_window applies to every tenant' },
  'overrides.defaults.metrics_generator.ring_size': { why: 'every generator in the ring takes a share of every tenant' },
  'overrides.defaults.metrics_generator.max_active_entities': { why: 'active series are limited by max_active_series' },
  // `both` still yields every classic series Tempo writes (dashboards read those); `native` alone would not.
  'overrides.defaults.metrics_generator.generate_native_histograms': { why: 'classic histograms only (with both, the native ones are not written)', use: 'generate_native_histograms: classic', ok: (v) => v === 'classic' || v === 'both' },
  'overrides.defaults.metrics_generator.native_histogram_bucket_factor': { why: 'classic histograms only' },
  'overrides.defaults.metrics_generator.native_histogram_max_bucket_number': { why: 'classic histograms only' },
  'overrides.defaults.metrics_generator.native_histogram_min_reset_duration': { why: 'classic histograms only' },
  'overrides.defaults.metrics_generator.ingestion_time_range_slack': { why: 'spans are taken whatever their timestamps' },
  'overrides.defaults.metrics_generator.trace_id_label_name': { why: 'exemplars carry trace_id' },
  'overrides.defaults.metrics_generator.remote_write_headers': { why: 'per-tenant remote-write headers', use: 'metrics_generator.storage.remote_write[].headers', ok: inert },
  'overrides.defaults.metrics_generator.forwarder': { why: 'the generator’s forwarder queue is sized by the distributor' },
  'overrides.defaults.metrics_generator.span_name_sanitization': { why: 'span names are used as written' },
  'overrides.defaults.metrics_generator.max_cardinality_per_label': { why: 'active series are limited by max_active_series' },
  'overrides.defaults.metrics_generator.processor.local_blocks': { why: 'local-blocks settings come from metrics_generator.processor.local_blocks' },
  'overrides.defaults.metrics_generator.processor.host_info': { why: 'the host-info processor is not supported' },
  'overrides.defaults.forwarders': { why: 'span forwarding', use: 'fan out with an OpenTelemetry Collector in front', ok: inert },
  'overrides.defaults.storage': { why: OWN_BLOCKS },
  'overrides.defaults.cost_attribution': { why: 'cost attribution usage metrics are not produced' },
};

/** The rules as rows for docs/tempo-config.md (a test keeps that table complete). */
export function tempoKeyRules(): { key: string; status: 'accepted, no effect' | 'refused' | 'refused unless off or default'; why: string; use: string }[] {
  return Object.entries(RULES).map(([key, r]) => ({
    key,
    status: !r.use ? 'accepted, no effect' : r.ok ? 'refused unless off or default' : 'refused',
    why: r.why,
    use: r.use ?? '',
  }));
}

function hasRulesUnder(path: string): boolean {
  const parts = path.split('.');
  return Object.keys(RULES).some((pattern) => {
    const p = pattern.split('.');
    return p.length > parts.length && parts.every((seg, i) => p[i] === '*' || p[i] === seg);
  });
}

function ruleFor(path: string): { pattern: string; rule: Rule } | undefined {
  const parts = path.split('.');
  // The longest pattern that matches a prefix of the path wins.
  for (let n = parts.length; n > 0; n--) {
    for (const [pattern, rule] of Object.entries(RULES)) {
      const p = pattern.split('.');
      if (p.length === n && p.every((seg, i) => seg === '*' || seg === parts[i])) return { pattern, rule };
    }
  }
  return undefined;
}

/**
 * Removes from `doc` every key that `schema` lacks and RULES accepts (noting it), throws for a
 * key RULES refuses, and leaves the rest (in-schema keys, and unknown keys for the merge to refuse).
 * `rulePath` is the path rules are written against; `shownPath` the one messages name.
 */
function applyRules(doc: Tree, schema: Tree, rulePath: string, shownPath: string, notes: string[]): void {
  for (const [key, value] of Object.entries(doc)) {
    const rp = rulePath ? `${rulePath}.${key}` : key;
    const sp = shownPath ? `${shownPath}.${key}` : key;
    if (key in schema) {
      const s = schema[key];
      if (isTree(value) && isTree(s)) applyRules(value, s, rp, sp, notes);
      continue;
    }
    const found = ruleFor(rp);
    if (!found) {
      // A block Andante has no schema for (querier, ...) whose keys have rules: apply them, and name
      // the first key left, which nothing accepts.
      if (isTree(value) && hasRulesUnder(rp)) {
        applyRules(value, {}, rp, sp, notes);
        const [left] = Object.keys(value);
        if (left !== undefined) throw new ConfigError(`unknown configuration key ${sp}.${left} (not a key of Tempo 2.x that Andante knows; docs/tempo-config.md lists them)`);
        delete doc[key];
      }
      continue;
    }
    const { rule } = found;
    if (rule.use && !(rule.ok?.(value) ?? false)) throw new ConfigError(`${sp}: not supported by Andante (${rule.why}); ${rule.use}`);
    notes.push(`${sp}: accepted, no effect: ${rule.why}`);
    delete doc[key];
  }
}

/** The legacy flat overrides keys (Tempo's LegacyOverrides) and their place in the new form. */
function legacyPath(key: string): string | undefined {
  const fixed: Record<string, string> = {
    ingestion_rate_strategy: 'ingestion.rate_strategy',
    ingestion_rate_limit_bytes: 'ingestion.rate_limit_bytes',
    ingestion_burst_size_bytes: 'ingestion.burst_size_bytes',
    ingestion_tenant_shard_size: 'ingestion.tenant_shard_size',
    ingestion_max_attribute_bytes: 'ingestion.max_attribute_bytes',
    ingestion_artificial_delay: 'ingestion.artificial_delay',
    ingestion_retry_info_enabled: 'ingestion.retry_info_enabled',
    max_traces_per_user: 'ingestion.max_traces_per_user',
    max_global_traces_per_user: 'ingestion.max_global_traces_per_user',
    forwarders: 'forwarders',
    block_retention: 'compaction.block_retention',
    compaction_disabled: 'compaction.compaction_disabled',
    compaction_window: 'compaction.compaction_window',
    max_bytes_per_tag_values_query: 'read.max_bytes_per_tag_values_query',
    max_blocks_per_tag_values_query: 'read.max_blocks_per_tag_values_query',
    max_condition_groups_per_tag_query: 'read.max_condition_groups_per_tag_query',
    max_search_duration: 'read.max_search_duration',
    max_metrics_duration: 'read.max_metrics_duration',
    unsafe_query_hints: 'read.unsafe_query_hints',
    left_pad_trace_ids: 'read.left_pad_trace_ids',
    max_bytes_per_trace: 'global.max_bytes_per_trace',
    parquet_dedicated_columns: 'storage.parquet_dedicated_columns',
    cost_attribution: 'cost_attribution',
    metrics_generator_forwarder_queue_size: 'metrics_generator.forwarder.queue_size',
    metrics_generator_forwarder_workers: 'metrics_generator.forwarder.workers',
    metrics_generator_ingestion_time_range_slack: 'metrics_generator.ingestion_time_range_slack',
  };
  if (fixed[key]) return fixed[key];
  for (const proc of ['span_metrics', 'service_graphs', 'local_blocks', 'host_info']) {
    const prefix = `metrics_generator_processor_${proc}_`;
    if (key.startsWith(prefix)) return `metrics_generator.processor.${proc}.${key.slice(prefix.length)}`;
  }
  if (key.startsWith('metrics_generator_')) return `metrics_generator.${key.slice('metrics_generator_'.length)}`;
  return undefined;
}

/** The new-form groups of Tempo's overrides. */
const NEW_GROUPS = new Set(['ingestion', 'read', 'compaction', 'metrics_generator', 'global', 'forwarders', 'storage', 'cost_attribution']);

/**
 * One tenant's (or the defaults') limits in Tempo's new form, from either form: legacy flat keys
 * are moved to their new place; mixing both forms is refused, as Tempo does (its strict parse of
 * the new form fails on a flat key, and the legacy parse on a group). `read.max_bytes_per_trace`,
 * which the seed's values use, is taken as `global.max_bytes_per_trace`.
 */
export function normalizeLimits(raw: unknown, path: string, notes: string[]): Tree {
  if (raw === null || raw === undefined) return {};
  if (!isTree(raw)) throw new ConfigError(`${path}: expected a mapping`);
  const legacy = Object.keys(raw).filter((k) => legacyPath(k) !== undefined && !NEW_GROUPS.has(k));
  const groups = Object.keys(raw).filter((k) => NEW_GROUPS.has(k) && !(k === 'forwarders' || k === 'cost_attribution'));
  let out: Tree;
  if (legacy.length > 0) {
    if (groups.length > 0) {
      throw new ConfigError(
        `${path}: mixes the legacy flat form (${legacy.join(', ')}) with the new form (${groups.join(', ')}); Tempo refuses this too: write ${legacy.map((k) => `${k} as ${legacyPath(k)}`).join(', ')}`,
      );
    }
    out = {};
    for (const [key, value] of Object.entries(raw)) {
      const target = legacyPath(key);
      if (!target) {
        out[key] = value; // unknown: refused by the merge, naming the key
        continue;
      }
      setPath(out, target.split('.'), value);
    }
    notes.push(`${path}: legacy flat overrides (${legacy.join(', ')}) read as Tempo’s new form (${legacy.map((k) => legacyPath(k)).join(', ')}); Tempo deprecates the flat form`);
  } else {
    out = structuredClone(raw);
  }
  const read = out.read;
  if (isTree(read) && 'max_bytes_per_trace' in read) {
    const global = isTree(out.global) ? out.global : (out.global = {});
    if ('max_bytes_per_trace' in global && global.max_bytes_per_trace !== read.max_bytes_per_trace) {
      throw new ConfigError(`${path}.read.max_bytes_per_trace and ${path}.global.max_bytes_per_trace differ; the limit is global.max_bytes_per_trace: keep that one`);
    }
    global.max_bytes_per_trace = read.max_bytes_per_trace;
    delete read.max_bytes_per_trace;
    if (Object.keys(read).length === 0) delete out.read;
    notes.push(`${path}.read.max_bytes_per_trace: taken as ${path}.global.max_bytes_per_trace, where Tempo keeps this limit`);
  }
  return out;
}

function setPath(tree: Tree, parts: string[], value: unknown): void {
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    if (!isTree(node[part])) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
}

/** A tenant's limits from the per-tenant overrides file: normalized, Tempo-only keys noted or refused. */
export function normalizeTenantLimits(raw: unknown, path: string, schema: Tree, notes: string[]): Tree {
  const out = normalizeLimits(raw, path, notes);
  if (isTree(out.read) && 'max_search_duration' in out.read) {
    throw new ConfigError(`${path}.read.max_search_duration: a per-tenant search range is not supported; query_frontend.search.max_duration (or overrides.defaults.read.max_search_duration) applies to every tenant`);
  }
  applyRules(out, schema, 'overrides.defaults', path, notes);
  return out;
}

const RING_DOC_PATHS = ['ingester.lifecycler.ring', 'metrics_generator.ring', 'compactor.ring', 'distributor.ring'];

function getPath(tree: unknown, path: string): unknown {
  let node = tree;
  for (const part of path.split('.')) {
    if (!isTree(node)) return undefined;
    node = node[part];
  }
  return node;
}

/**
 * Rewrites a parsed Tempo config in place into the keys Andante reads, noting what it accepted
 * without effect and refusing what it cannot honour. `schema` is the defaults tree.
 */
export function normalizeTempoDoc(doc: Tree, schema: Tree, notes: string[]): void {
  // memberlist: accepted; rings here use inmemory or etcd. Refused only where it would change behaviour.
  const memberlist = doc.memberlist;
  const joins = isTree(memberlist) ? memberlist.join_members : undefined;
  const joined = !inert(joins);
  const storeOf = (ringPath: string): unknown => {
    const kv = getPath(doc, `${ringPath}.kvstore`);
    return isTree(kv) ? kv.store : undefined;
  };
  // An explicit memberlist store is the more specific complaint: report it first.
  const ordered = [...RING_DOC_PATHS].sort((a, b) => Number(storeOf(b) === 'memberlist') - Number(storeOf(a) === 'memberlist'));
  for (const ringPath of ordered) {
    const kv = getPath(doc, `${ringPath}.kvstore`);
    const store = isTree(kv) ? kv.store : undefined;
    if (store === 'memberlist') {
      if (joined) {
        throw new ConfigError(`${ringPath}.kvstore.store: memberlist is not supported with memberlist.join_members set: Andante's rings do not gossip, so these processes would not see each other; use etcd (${ringPath}.kvstore.store: etcd with etcd.endpoints)`);
      }
      (kv as Tree).store = 'inmemory';
      notes.push(`${ringPath}.kvstore.store: memberlist with no memberlist.join_members is this process's own ring: using inmemory, which behaves the same`);
    } else if (joined && (store === undefined || store === 'inmemory')) {
      // Tempo's default store is memberlist: with join_members the processes share a ring; here they would not.
      throw new ConfigError(`memberlist.join_members is set, but ${ringPath}.kvstore.store is ${store === undefined ? 'not set (Tempo’s default is memberlist; Andante’s is inmemory)' : 'inmemory'}: Andante's rings do not gossip, so these processes would not see each other; use etcd (${ringPath}.kvstore.store: etcd with etcd.endpoints)`);
    }
  }
  if (memberlist !== undefined) {
    const stores = RING_DOC_PATHS.map((p) => {
      const kv = getPath(doc, `${p}.kvstore`);
      return `${p}: ${(isTree(kv) && typeof kv.store === 'string' ? kv.store : undefined) ?? 'inmemory'}`;
    });
    notes.push(`memberlist: accepted, no effect: Andante's rings do not gossip; each ring uses its kvstore.store (${stores.join(', ')})`);
    delete doc.memberlist;
  }

  const overrides = doc.overrides;
  if (isTree(overrides)) {
    const { defaults, per_tenant_override_config, per_tenant_override_period, user_configurable_overrides, enable_legacy_overrides, ...flat } = overrides;
    const rest: Tree = { per_tenant_override_config, per_tenant_override_period, user_configurable_overrides, enable_legacy_overrides };
    for (const k of Object.keys(rest)) if (rest[k] === undefined) delete rest[k];
    let limits: Tree;
    const stray = Object.keys(flat).find((k) => legacyPath(k) === undefined);
    if (stray !== undefined) throw new ConfigError(`unknown configuration key overrides.${stray} (neither a legacy flat override nor a key of overrides; docs/tempo-config.md lists them)`);
    if (Object.keys(flat).length > 0 && defaults !== undefined) {
      const legacy = Object.keys(flat);
      throw new ConfigError(`overrides: mixes the legacy flat form (${legacy.join(', ')}) with overrides.defaults; Tempo refuses this too: move ${legacy.map((k) => `overrides.${k} to overrides.defaults.${legacyPath(k) ?? k}`).join(', ')}`);
    }
    if (Object.keys(flat).length > 0) limits = normalizeLimits(flat, 'overrides', notes);
    else limits = defaults === undefined ? {} : normalizeLimits(defaults, 'overrides.defaults', notes);
    // The defaults' search range is the frontend's for every tenant: the same setting, held there.
    const read = limits.read;
    if (isTree(read) && 'max_search_duration' in read) {
      const qf = isTree(doc.query_frontend) ? doc.query_frontend : (doc.query_frontend = {});
      const search = isTree(qf.search) ? qf.search : (qf.search = {});
      if ('max_duration' in search && search.max_duration !== read.max_search_duration) {
        throw new ConfigError(`overrides.defaults.read.max_search_duration (${String(read.max_search_duration)}) and query_frontend.search.max_duration (${String(search.max_duration)}) differ; Andante has one search range for every tenant: keep one of them`);
      }
      search.max_duration = read.max_search_duration;
      delete read.max_search_duration;
      if (Object.keys(read).length === 0) delete limits.read;
      notes.push('overrides.defaults.read.max_search_duration: taken as query_frontend.search.max_duration (every tenant’s search range)');
    }
    doc.overrides = Object.keys(limits).length > 0 ? { ...rest, defaults: limits } : rest;
  }

  applyRules(doc, schema, '', '', notes);
}
