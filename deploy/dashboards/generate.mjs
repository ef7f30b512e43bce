#!/usr/bin/env node
// Writes the Grafana dashboards in this folder (`node deploy/dashboards/generate.mjs`). The JSON files
// are what the chart ships and what a user imports; this script is their source, so the three share
// one panel shape and the test (test/src/deploy-rules.test.ts) checks the files equal its output.
// Every query uses only metric names Andante emits (the same test checks that against packages/*/src).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROM = { type: 'prometheus', uid: '${datasource}' };

function datasourceVars() {
  return [
    { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '', options: [] },
    { name: 'tempo', label: 'Tempo (Andante)', type: 'datasource', query: 'tempo', current: {}, hide: 0, refresh: 1, regex: '', options: [], description: 'Where exemplar trace IDs open.' },
  ];
}

function queryVar(name, label, query, { multi = false, includeAll = false } = {}) {
  return {
    name,
    label,
    type: 'query',
    datasource: PROM,
    definition: query,
    query: { query, refId: `${name}-var` },
    refresh: 2,
    sort: 1,
    multi,
    includeAll,
    current: {},
    options: [],
    hide: 0,
  };
}

let nextId = 1;
const refIds = 'ABCDEFGHIJ';

function target(t, i) {
  return {
    datasource: PROM,
    refId: refIds[i],
    expr: t.expr,
    legendFormat: t.legend ?? '__auto',
    range: t.instant ? false : true,
    instant: Boolean(t.instant),
    ...(t.format ? { format: t.format } : {}),
    ...(t.exemplar ? { exemplar: true } : {}),
  };
}

function timeseries(title, gridPos, targets, { unit = 'short', description, exemplars = false, min } = {}) {
  return {
    id: nextId++,
    type: 'timeseries',
    title,
    ...(description ? { description } : {}),
    datasource: PROM,
    gridPos,
    targets: targets.map((t, i) => target({ ...t, exemplar: exemplars }, i)),
    fieldConfig: {
      defaults: {
        unit,
        ...(min !== undefined ? { min } : {}),
        custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: exemplars ? 'never' : 'auto', spanNulls: false },
        ...(exemplars
          ? { links: [] }
          : {}),
      },
      overrides: [],
    },
    options: { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } },
  };
}

function table(title, gridPos, targets, { transformations = [], overrides = [], description } = {}) {
  return {
    id: nextId++,
    type: 'table',
    title,
    ...(description ? { description } : {}),
    datasource: PROM,
    gridPos,
    targets: targets.map((t, i) => target({ ...t, instant: true, format: 'table' }, i)),
    transformations,
    fieldConfig: { defaults: { custom: { align: 'auto' } }, overrides },
    options: { showHeader: true, cellHeight: 'sm' },
  };
}

function row(title, y) {
  return { id: nextId++, type: 'row', title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] };
}

function dashboard({ uid, title, description, tags, vars, panels }) {
  return {
    uid,
    title,
    description,
    tags: ['andante', ...tags],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    timezone: 'browser',
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    fiscalYearStartMonth: 0,
    liveNow: false,
    annotations: { list: [{ builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' }] },
    links: [{ title: 'Andante dashboards', type: 'dashboards', tags: ['andante'], asDropdown: true, includeVars: true, keepTime: true }],
    templating: { list: [...datasourceVars(), ...vars] },
    panels,
  };
}

// RED per service: server and consumer spans are a service's requests (Grafana's APM tables use the same).
const SVC = 'service=~"$service"';
const KIND = 'span_kind=~"SPAN_KIND_SERVER|SPAN_KIND_CONSUMER"';

function red() {
  nextId = 1;
  const w = 8;
  return dashboard({
    uid: 'andante-red',
    title: 'Andante / RED per service',
    description: 'Requests, errors and duration per service from the metrics-generator span-metrics (traces_spanmetrics_*). Latency exemplars open the trace in the Tempo data source.',
    tags: ['red', 'metrics-generator'],
    vars: [queryVar('service', 'Service', 'label_values(traces_spanmetrics_calls_total, service)', { multi: true, includeAll: true })],
    panels: [
      row('$service', 0),
      timeseries('Request rate', { h: 8, w, x: 0, y: 1 }, [{ expr: `sum by (service) (rate(traces_spanmetrics_calls_total{${SVC}, ${KIND}}[$__rate_interval]))`, legend: '{{service}}' }], { unit: 'reqps', min: 0 }),
      timeseries(
        'Error ratio',
        { h: 8, w, x: 8, y: 1 },
        [
          {
            expr: `sum by (service) (rate(traces_spanmetrics_calls_total{${SVC}, ${KIND}, status_code="STATUS_CODE_ERROR"}[$__rate_interval])) / sum by (service) (rate(traces_spanmetrics_calls_total{${SVC}, ${KIND}}[$__rate_interval]))`,
            legend: '{{service}}',
          },
        ],
        { unit: 'percentunit', min: 0, description: 'Share of server/consumer spans with status STATUS_CODE_ERROR. No line for a service means no errors in the window.' },
      ),
      timeseries(
        'Latency p50 / p95 / p99',
        { h: 8, w, x: 16, y: 1 },
        [0.5, 0.95, 0.99].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (service, le) (rate(traces_spanmetrics_latency_bucket{${SVC}, ${KIND}}[$__rate_interval])))`,
          legend: `{{service}} p${Math.round(q * 100)}`,
        })),
        { unit: 's', min: 0, exemplars: true, description: 'Exemplars (traceID) are the latest span per histogram bucket; click one to open the trace in $tempo.' },
      ),
      timeseries(
        'Error budget burn rate (99.9 %, 1h and 6h)',
        { h: 8, w: 12, x: 0, y: 9 },
        [
          { expr: 'service:traces_spanmetrics_error_ratio:rate1h{service=~"$service"} / 0.001', legend: '{{service}} errors 1h' },
          { expr: 'service:traces_spanmetrics_error_ratio:rate6h{service=~"$service"} / 0.001', legend: '{{service}} errors 6h' },
          { expr: 'service:traces_spanmetrics_latency_slow_ratio:rate1h{service=~"$service"} / 0.001', legend: '{{service}} slow 1h' },
        ],
        { min: 0, description: 'From the recording rules in deploy/alerts/andante-red.rules.yml. 14.4 on the 1h line pages (with the 5m window); 1 spends the budget exactly in 30 days.' },
      ),
      timeseries('Span size', { h: 8, w: 12, x: 12, y: 9 }, [{ expr: `sum by (service) (rate(traces_spanmetrics_size_total{${SVC}}[$__rate_interval]))`, legend: '{{service}}' }], { unit: 'Bps', min: 0 }),
      row('Per span name', 17),
      table(
        'Span names',
        { h: 10, w: 24, x: 0, y: 18 },
        [
          { expr: `sum by (service, span_name, span_kind) (rate(traces_spanmetrics_calls_total{${SVC}}[$__rate_interval]))` },
          { expr: `sum by (service, span_name, span_kind) (rate(traces_spanmetrics_calls_total{${SVC}, status_code="STATUS_CODE_ERROR"}[$__rate_interval])) / sum by (service, span_name, span_kind) (rate(traces_spanmetrics_calls_total{${SVC}}[$__rate_interval]))` },
          { expr: `histogram_quantile(0.95, sum by (service, span_name, span_kind, le) (rate(traces_spanmetrics_latency_bucket{${SVC}}[$__rate_interval])))` },
        ],
        {
          transformations: [
            { id: 'merge', options: {} },
            { id: 'organize', options: { excludeByName: { Time: true }, renameByName: { 'Value #A': 'rate (req/s)', 'Value #B': 'error ratio', 'Value #C': 'p95 (s)' } } },
          ],
          overrides: [
            { matcher: { id: 'byName', options: 'error ratio' }, properties: [{ id: 'unit', value: 'percentunit' }] },
            { matcher: { id: 'byName', options: 'p95 (s)' }, properties: [{ id: 'unit', value: 's' }] },
          ],
        },
      ),
    ],
  });
}

// Service graph: Grafana's node graph panel reads two frames, nodes (id, title, mainstat, ...) and
// edges (id, source, target, mainstat, ...), built here from table-format instant queries.
function serviceGraph() {
  nextId = 1;
  const req = 'sum by (client, server, connection_type) (rate(traces_service_graph_request_total[$__rate_interval]))';
  const failed = 'sum by (client, server, connection_type) (rate(traces_service_graph_request_failed_total[$__rate_interval]))';
  // Node graph frames: nodes carry `id`, edges `id`, `source`, `target` (Grafana's field names).
  const nodes =
    'sum by (id) (label_replace(rate(traces_service_graph_request_total[$__rate_interval]), "id", "$1", "server", "(.*)")) or sum by (id) (label_replace(rate(traces_service_graph_request_total[$__rate_interval]), "id", "$1", "client", "(.*)")) * 0';
  const edges = `label_join(label_replace(label_replace(${req.replace('(client, server, connection_type)', '(client, server)')}, "source", "$1", "client", "(.*)"), "target", "$1", "server", "(.*)"), "id", "->", "client", "server")`;
  const p95 = 'histogram_quantile(0.95, sum by (client, server, connection_type, le) (rate(traces_service_graph_request_server_seconds_bucket[$__rate_interval])))';
  return dashboard({
    uid: 'andante-service-graph',
    title: 'Andante / Service graph',
    description: 'Edges between services from the metrics-generator service-graphs processor (traces_service_graph_*), including database and messaging edges.',
    tags: ['service-graph', 'metrics-generator'],
    vars: [],
    panels: [
      {
        id: nextId++,
        type: 'nodeGraph',
        title: 'Service map',
        datasource: PROM,
        gridPos: { h: 14, w: 24, x: 0, y: 0 },
        targets: [
          target({ expr: nodes, instant: true, format: 'table' }, 0),
          target({ expr: edges, instant: true, format: 'table' }, 1),
        ],
        transformations: [{ id: 'organize', options: { excludeByName: { Time: true }, renameByName: { 'Value #A': 'mainstat', 'Value #B': 'mainstat' } } }],
        options: { nodes: { mainStatUnit: 'reqps' }, edges: { mainStatUnit: 'reqps' } },
        description: 'Nodes (A, field id): requests served per second (0 for a node that only sends, such as user). Edges (B, fields id, source, target): requests per second from client to server. Failed rates and latency are in the Edges table.',
      },
      table('Edges', { h: 12, w: 24, x: 0, y: 14 }, [{ expr: req }, { expr: failed }, { expr: p95 }], {
        transformations: [
          { id: 'merge', options: {} },
          { id: 'organize', options: { excludeByName: { Time: true }, renameByName: { 'Value #A': 'rate (req/s)', 'Value #B': 'failed (req/s)', 'Value #C': 'server p95 (s)' } } },
        ],
        overrides: [{ matcher: { id: 'byName', options: 'server p95 (s)' }, properties: [{ id: 'unit', value: 's' }] }],
      }),
      timeseries('Request rate per edge', { h: 8, w: 12, x: 0, y: 26 }, [{ expr: req, legend: '{{client}} -> {{server}}' }], { unit: 'reqps', min: 0 }),
      timeseries('Server latency p95 per edge', { h: 8, w: 12, x: 12, y: 26 }, [{ expr: p95, legend: '{{client}} -> {{server}}' }], { unit: 's', min: 0 }),
    ],
  });
}

function operation() {
  nextId = 1;
  const J = 'job=~"$job"';
  let y = 0;
  const panels = [];
  const addRow = (title, items) => {
    panels.push(row(title, y++));
    items.forEach((p, i) => {
      const w = 24 / items.length;
      panels.push(timeseries(p.title, { h: 8, w, x: i * w, y }, p.targets, p.opts ?? {}));
    });
    y += 8;
  };
  const q = (quantile, metric, by = '') => `histogram_quantile(${quantile}, sum by (le${by}) (rate(${metric}_bucket{${J}}[$__rate_interval])))`;
  addRow('Ingest (distributor)', [
    { title: 'Spans received', targets: [{ expr: `sum by (tenant) (rate(tempo_distributor_spans_received_total{${J}}[$__rate_interval]))`, legend: '{{tenant}}' }], opts: { unit: 'short', min: 0 } },
    { title: 'Bytes received', targets: [{ expr: `sum by (tenant) (rate(tempo_distributor_bytes_received_total{${J}}[$__rate_interval]))`, legend: '{{tenant}}' }], opts: { unit: 'Bps', min: 0 } },
    { title: 'Discarded spans by reason', targets: [{ expr: `sum by (tenant, reason) (rate(tempo_discarded_spans_total{${J}}[$__rate_interval]))`, legend: '{{tenant}} {{reason}}' }], opts: { min: 0 } },
    {
      title: 'Push latency',
      targets: [0.5, 0.99].map((x) => ({ expr: q(x, 'tempo_distributor_push_duration_seconds'), legend: `p${x * 100}` })),
      opts: { unit: 's', min: 0, description: 'tempo_distributor_push_duration_seconds: one OTLP export from decode to WAL acknowledgement.' },
    },
  ]);
  addRow('WAL and live traces (ingester)', [
    { title: 'Unflushed bytes', targets: [{ expr: `sum by (instance) (andante_ingester_unflushed_bytes{${J}})`, legend: '{{instance}}' }], opts: { unit: 'bytes', min: 0, description: 'Bytes held in WAL/head/complete blocks not yet in the backend; refusals start at ingester.max_unflushed_bytes.' } },
    { title: 'Live traces', targets: [{ expr: `sum by (tenant) (tempo_ingester_live_traces{${J}})`, legend: '{{tenant}}' }], opts: { min: 0 } },
    { title: 'Ingester bytes received', targets: [{ expr: `sum by (tenant) (rate(tempo_ingester_bytes_received_total{${J}}[$__rate_interval]))`, legend: '{{tenant}}' }], opts: { unit: 'Bps', min: 0 } },
  ]);
  addRow('Flushes', [
    {
      title: 'Blocks flushed / failed flushes',
      targets: [
        { expr: `sum(rate(tempo_ingester_blocks_flushed_total{${J}}[$__rate_interval]))`, legend: 'flushed' },
        { expr: `sum(rate(tempo_ingester_failed_flushes_total{${J}}[$__rate_interval]))`, legend: 'failed' },
      ],
      opts: { unit: 'ops', min: 0 },
    },
    { title: 'Flush duration', targets: [0.5, 0.99].map((x) => ({ expr: q(x, 'tempo_ingester_flush_duration_seconds'), legend: `p${x * 100}` })), opts: { unit: 's', min: 0 } },
  ]);
  addRow('Blocklist and compactor', [
    { title: 'Blocklist length', targets: [{ expr: `max by (tenant) (tempodb_blocklist_length{${J}})`, legend: '{{tenant}}' }], opts: { min: 0 } },
    {
      title: 'Poll errors / skipped blocks',
      targets: [
        { expr: `sum by (tenant) (increase(tempodb_blocklist_poll_errors_total{${J}}[$__rate_interval]))`, legend: '{{tenant}} poll errors' },
        { expr: `sum by (tenant, reason) (increase(tempodb_blocklist_skipped_blocks_total{${J}}[$__rate_interval]))`, legend: '{{tenant}} skipped {{reason}}' },
      ],
      opts: { min: 0 },
    },
    {
      title: 'Compaction',
      targets: [
        { expr: `sum by (level) (rate(tempodb_compaction_blocks_total{${J}}[$__rate_interval]))`, legend: 'blocks in, level {{level}}' },
        { expr: `sum(rate(tempodb_compaction_errors_total{${J}}[$__rate_interval]))`, legend: 'errors' },
        { expr: `sum(rate(tempodb_retention_deleted_total{${J}}[$__rate_interval]))`, legend: 'retention deleted' },
      ],
      opts: { unit: 'ops', min: 0 },
    },
    { title: 'Compaction bytes written', targets: [{ expr: `sum by (level) (rate(tempodb_compaction_bytes_written_total{${J}}[$__rate_interval]))`, legend: 'level {{level}}' }], opts: { unit: 'Bps', min: 0 } },
  ]);
  addRow('Backend and query latency', [
    {
      title: 'Query latency p99 by route',
      targets: [{ expr: `histogram_quantile(0.99, sum by (le, route) (rate(tempo_request_duration_seconds_bucket{${J}, route=~"api_.*"}[$__rate_interval])))`, legend: '{{route}}' }],
      opts: { unit: 's', min: 0, description: 'tempo_request_duration_seconds: HTTP API requests (trace by ID, search, tags) by route.' },
    },
    {
      title: 'Object storage request latency p99',
      targets: [{ expr: `histogram_quantile(0.99, sum by (le, operation) (rate(tempodb_backend_request_duration_seconds_bucket{${J}}[$__rate_interval])))`, legend: '{{operation}}' }],
      opts: { unit: 's', min: 0, description: 'Only with the S3 backend.' },
    },
    { title: 'Object storage requests', targets: [{ expr: `sum by (operation, status_code) (rate(tempodb_backend_request_duration_seconds_count{${J}}[$__rate_interval]))`, legend: '{{operation}} {{status_code}}' }], opts: { unit: 'reqps', min: 0 } },
  ]);
  addRow('Metrics-generator', [
    {
      title: 'Tap queue',
      targets: [
        { expr: `sum(tempo_distributor_metrics_generator_queue_bytes{${J}})`, legend: 'queued bytes' },
      ],
      opts: { unit: 'bytes', min: 0 },
    },
    {
      title: 'Tap pushes / failures',
      targets: [
        { expr: `sum(rate(tempo_distributor_metrics_generator_pushes_total{${J}}[$__rate_interval]))`, legend: 'pushes' },
        { expr: `sum(rate(tempo_distributor_metrics_generator_pushes_failures_total{${J}}[$__rate_interval]))`, legend: 'generator failures' },
        { expr: `sum(rate(tempo_distributor_queue_pushes_failures_total{${J}}[$__rate_interval]))`, legend: 'queue full' },
      ],
      opts: { unit: 'ops', min: 0 },
    },
    {
      title: 'Active series / limited',
      targets: [
        { expr: `sum by (tenant) (tempo_metrics_generator_registry_active_series{${J}})`, legend: '{{tenant}} active' },
        { expr: `sum by (tenant) (rate(tempo_metrics_generator_registry_series_limited_total{${J}}[$__rate_interval]))`, legend: '{{tenant}} limited/s' },
      ],
      opts: { min: 0 },
    },
    {
      title: 'remote_write',
      targets: [
        { expr: `sum(rate(prometheus_remote_storage_samples_total{${J}}[$__rate_interval]))`, legend: 'sent/s' },
        { expr: `sum(prometheus_remote_storage_samples_pending{${J}})`, legend: 'pending' },
        { expr: `sum by (reason) (rate(tempo_metrics_generator_remote_write_samples_dropped_total{${J}}[$__rate_interval]))`, legend: 'dropped/s {{reason}}' },
      ],
      opts: { min: 0 },
    },
  ]);
  addRow('Process', [
    {
      title: 'Event-loop lag',
      targets: [0.5, 0.99, 0.999].map((x) => ({ expr: q(x, 'andante_eventloop_lag_seconds', ', instance'), legend: `{{instance}} p${x * 100}` })),
      opts: { unit: 's', min: 0, description: 'How long work waited for the event loop (andante_eventloop_lag_seconds, sampled every 10 ms).' },
    },
    { title: 'CPU', targets: [{ expr: `sum by (instance) (rate(process_cpu_seconds_total{${J}}[$__rate_interval]))`, legend: '{{instance}}' }], opts: { unit: 'percentunit', min: 0 } },
    {
      title: 'Memory',
      targets: [
        { expr: `sum by (instance) (process_resident_memory_bytes{${J}})`, legend: '{{instance}} RSS' },
        { expr: `sum by (instance) (nodejs_heap_size_used_bytes{${J}})`, legend: '{{instance}} heap used' },
      ],
      opts: { unit: 'bytes', min: 0 },
    },
  ]);
  return dashboard({
    uid: 'andante-operational',
    title: 'Andante / Operational',
    description: "Andante's own metrics: ingest, WAL, flushes, blocklist, compactor, backend latency, metrics-generator, event loop.",
    tags: ['operational'],
    vars: [queryVar('job', 'Job', 'label_values(tempo_distributor_spans_received_total, job)', { multi: true, includeAll: true })],
    panels,
  });
}

export function dashboards() {
  return { 'andante-red.json': red(), 'andante-service-graph.json': serviceGraph(), 'andante-operational.json': operation() };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = dirname(fileURLToPath(import.meta.url));
  for (const [file, d] of Object.entries(dashboards())) writeFileSync(join(dir, file), JSON.stringify(d, null, 2) + '\n');
}
