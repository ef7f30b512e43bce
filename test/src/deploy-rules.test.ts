// deploy/: the Grafana dashboards and Prometheus rules the chart ships. Real promtool (Debian's
// prometheus package, installed by scripts/install-test-peers.sh) checks the rule files and runs the
// unit tests in deploy/alerts/tests/ that make each alert fire and resolve. Every metric name a
// dashboard or rule uses must be one Andante emits: the names are collected here from the prom-client
// definitions in packages/*/src, the generator's traces_* constants and prom-client's default metrics,
// so renaming a metric without updating deploy/ fails this test.

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as promClient from 'prom-client';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ALERTS = join(ROOT, 'deploy/alerts');
const DASHBOARDS = join(ROOT, 'deploy/dashboards');
// yaml is the server's dependency; load it from there.
const serverRequire = createRequire(join(ROOT, 'packages/server/package.json'));
const YAML = serverRequire('yaml') as { parse(s: string): unknown };

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { cwd: ROOT, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      res({ code, out: `${stdout}${stderr}` });
    });
  });
}

function tsSources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...tsSources(p));
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

interface Emitted {
  /** Series names as they appear in Prometheus (histograms as _bucket, _sum, _count). */
  series: Set<string>;
  histograms: Set<string>;
}

async function emittedMetricNames(): Promise<Emitted> {
  const plain = new Set<string>();
  const histograms = new Set<string>();
  const generatorConsts = new Map<string, string>();
  let generatorText = '';
  for (const pkg of readdirSync(join(ROOT, 'packages'))) {
    const src = join(ROOT, 'packages', pkg, 'src');
    if (!statSync(src, { throwIfNoEntry: false })?.isDirectory()) continue;
    for (const file of tsSources(src)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/['"`]((?:tempo|tempodb|andante|prometheus|traces)_[a-z0-9_]+)['"`]/g)) plain.add(m[1]!);
      for (const m of text.matchAll(/new (?:Prom)?Histogram(?:<[^>]*>)?\(\{[^}]*?name:\s*'([a-z0-9_]+)'/g)) histograms.add(m[1]!);
      if (pkg === 'generator') {
        generatorText += text;
        for (const m of text.matchAll(/export const (\w+) = '(traces_[a-z0-9_]+)'/g)) generatorConsts.set(m[1]!, m[2]!);
      }
    }
  }
  // The generator's registry: registry.histogram(CONST, buckets).
  for (const [ident, name] of generatorConsts) if (new RegExp(`\\.histogram\\(\\s*${ident}\\b`).test(generatorText)) histograms.add(name);
  // prom-client's default metrics (the server calls collectDefaultMetrics).
  const registry = new promClient.Registry();
  promClient.collectDefaultMetrics({ register: registry });
  for (const m of await registry.getMetricsAsJSON()) {
    if (String(m.type) === 'histogram') histograms.add(m.name);
    else plain.add(m.name);
  }
  const series = new Set([...plain].filter((n) => !histograms.has(n)));
  for (const h of histograms) for (const s of ['_bucket', '_sum', '_count']) series.add(h + s);
  return { series, histograms };
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'Inf', 'NaN', 'inf', 'nan']);

/** The metric names (and recording-rule names) a PromQL expression selects. */
function metricNames(expr: string): string[] {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out: string[] = [];
  for (const m of s.matchAll(/(?<![\w:$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(\s*\()?/g)) {
    if (m[2] || KEYWORDS.has(m[1]!)) continue;
    out.push(m[1]!);
  }
  return out;
}

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
}
function ruleFiles(): string[] {
  return readdirSync(ALERTS).filter((f) => f.endsWith('.yml')).map((f) => join(ALERTS, f));
}
function rules(): Rule[] {
  return ruleFiles().flatMap((f) => (YAML.parse(readFileSync(f, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules));
}

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; exemplar?: boolean; datasource?: { uid: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}
function dashboardFiles(): string[] {
  return readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'));
}
function dashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as Dashboard;
}
function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

describe('deploy/alerts: Prometheus rules', () => {
  it('promtool check rules passes on every rule file', async () => {
    const files = ruleFiles();
    expect(files.map((f) => f.slice(ALERTS.length + 1)).sort()).toEqual(['andante-operational.rules.yml', 'andante-red.rules.yml', 'andante-slo.rules.yml']);
    const { code, out } = await run('promtool', ['check', 'rules', ...files]);
    expect(out, out).not.toMatch(/FAILED/);
    expect(code, out).toBe(0);
    expect(out.match(/SUCCESS: \d+ rules found/g)).toHaveLength(files.length);
  });

  it('promtool test rules: every alert fires and resolves on synthetic series', async () => {
    const testDir = join(ALERTS, 'tests');
    const files = readdirSync(testDir).filter((f) => f.endsWith('.yml')).map((f) => join(testDir, f));
    const { code, out } = await run('promtool', ['test', 'rules', ...files]);
    expect(code, out).toBe(0);
    expect(out.match(/SUCCESS/g)).toHaveLength(files.length);
    // Each alert has a case where it fires and a later one where it has resolved.
    type AlertTest = { eval_time: string; alertname: string; exp_alerts?: unknown[] };
    const cases = files.flatMap((f) => (YAML.parse(readFileSync(f, 'utf8')) as { tests: { alert_rule_test?: AlertTest[] }[] }).tests.flatMap((t) => t.alert_rule_test ?? []));
    const minutes = (t: string): number => Number(/^(\d+)m$/.exec(t)?.[1] ?? NaN);
    const alerts = rules().filter((r) => r.alert).map((r) => r.alert!);
    expect(alerts.length).toBe(11);
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      const firing = mine.filter((c) => (c.exp_alerts ?? []).length > 0).map((c) => minutes(c.eval_time));
      const resolved = mine.filter((c) => (c.exp_alerts ?? []).length === 0).map((c) => minutes(c.eval_time));
      expect(firing.length, `${alert} never fires in deploy/alerts/tests`).toBeGreaterThan(0);
      expect(Math.max(...resolved), `${alert} does not resolve after firing`).toBeGreaterThan(Math.min(...firing));
    }
  });

  it('every rule expression uses only metric names Andante emits or recording rules that exist', async () => {
    const { series } = await emittedMetricNames();
    const recorded = new Set(rules().filter((r) => r.record).map((r) => r.record!));
    const unknown: string[] = [];
    for (const r of rules()) for (const n of metricNames(r.expr)) if (!series.has(n) && !recorded.has(n)) unknown.push(`${r.record ?? r.alert}: ${n}`);
    expect(unknown).toEqual([]);
  });

  it('every metric docs/production.md names (its scaling signals and checks) is one Andante emits', async () => {
    const { series, histograms } = await emittedMetricNames();
    const guide = readFileSync(join(ROOT, 'docs/production.md'), 'utf8');
    const named = new Set([...guide.matchAll(/\b(?:tempo|tempodb|traces)_[a-z0-9_]*[a-z0-9]\b/g)].map((m) => m[0]));
    expect(named.size).toBeGreaterThan(8);
    expect([...named].filter((n) => !series.has(n) && !histograms.has(n))).toEqual([]);
  });
});

describe('deploy/dashboards: Grafana dashboards', () => {
  it('the metric-name check is not vacuous', async () => {
    const { series, histograms } = await emittedMetricNames();
    expect(metricNames('sum by (le) (rate(a_bucket{x="b_c", y=~"$v"}[$__rate_interval])) / ignoring (reason) group_left sum(b:c:rate5m) > bool 0.5 or label_replace(d, "id", "$1", "e", "(.*)")')).toEqual(['a_bucket', 'b:c:rate5m', 'd']);
    for (const n of ['traces_spanmetrics_calls_total', 'traces_spanmetrics_latency_bucket', 'traces_service_graph_request_server_seconds_bucket', 'tempo_ingester_blocks_flushed_total', 'andante_eventloop_lag_seconds_bucket', 'tempo_request_duration_seconds_bucket', 'process_resident_memory_bytes', 'tempo_metrics_generator_remote_write_samples_dropped_total']) expect(series.has(n), n).toBe(true);
    expect(histograms.has('traces_spanmetrics_latency')).toBe(true);
    // A renamed or histogram base name is not a series.
    for (const n of ['traces_spanmetrics_calls', 'traces_spanmetrics_latency', 'tempo_no_such_metric_bucket']) expect(series.has(n), n).toBe(false);
  });

  it('the JSON files are generate.mjs output', async () => {
    const mod = (await import(pathToFileURL(join(DASHBOARDS, 'generate.mjs')).href)) as { dashboards(): Record<string, unknown> };
    const generated = mod.dashboards();
    expect(dashboardFiles().sort()).toEqual(Object.keys(generated).sort());
    for (const [file, d] of Object.entries(generated)) expect(readFileSync(join(DASHBOARDS, file), 'utf8'), `${file}: run node deploy/dashboards/generate.mjs`).toBe(JSON.stringify(d, null, 2) + '\n');
  });

  it('current schema, datasource variables, exemplars on latency, node graph', () => {
    const byUid = Object.fromEntries(dashboardFiles().map((f) => [dashboard(f).uid, dashboard(f)]));
    expect(Object.keys(byUid).sort()).toEqual(['andante-operational', 'andante-red', 'andante-service-graph']);
    for (const d of Object.values(byUid)) {
      expect(d.schemaVersion).toBeGreaterThanOrEqual(39);
      const vars = Object.fromEntries(d.templating.list.map((v) => [v.name, v]));
      expect(vars['datasource']).toMatchObject({ type: 'datasource', query: 'prometheus' });
      expect(vars['tempo']).toMatchObject({ type: 'datasource', query: 'tempo' });
      for (const p of allPanels(d)) for (const t of p.targets ?? []) expect(t.datasource?.uid, `${d.uid}/${p.title}`).toBe('${datasource}');
    }
    const red = byUid['andante-red']!;
    expect(red.templating.list.find((v) => v.name === 'service')).toMatchObject({ type: 'query', definition: 'label_values(traces_spanmetrics_calls_total, service)' });
    const latency = allPanels(red).find((p) => p.title.startsWith('Latency'))!;
    expect(latency.targets!.map((t) => t.expr.match(/histogram_quantile\(([\d.]+)/)?.[1])).toEqual(['0.5', '0.95', '0.99']);
    expect(latency.targets!.every((t) => t.exemplar === true && t.expr.includes('traces_spanmetrics_latency_bucket'))).toBe(true);
    expect(allPanels(red).some((p) => p.targets?.some((t) => t.expr.includes('status_code="STATUS_CODE_ERROR"')))).toBe(true);
    const sg = allPanels(byUid['andante-service-graph']!);
    expect(sg.map((p) => p.type)).toContain('nodeGraph');
    const sgNames = new Set(sg.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr))));
    for (const n of ['traces_service_graph_request_total', 'traces_service_graph_request_failed_total', 'traces_service_graph_request_server_seconds_bucket']) expect(sgNames.has(n), n).toBe(true);
  });

  it('every panel query and variable uses only metric names Andante emits; recording rules exist', async () => {
    const { series } = await emittedMetricNames();
    const recorded = new Set(rules().filter((r) => r.record).map((r) => r.record!));
    const unknown: string[] = [];
    let checked = 0;
    const usedRecorded = new Set<string>();
    for (const file of dashboardFiles()) {
      const d = dashboard(file);
      for (const p of allPanels(d)) {
        for (const t of p.targets ?? []) {
          const names = metricNames(t.expr);
          expect(names.length, `${file}/${p.title}: ${t.expr}`).toBeGreaterThan(0);
          for (const n of names) {
            checked++;
            if (n.includes(':')) {
              usedRecorded.add(n);
              if (!recorded.has(n)) unknown.push(`${file}/${p.title}: recording rule ${n}`);
            } else if (!series.has(n)) unknown.push(`${file}/${p.title}: ${n}`);
          }
        }
      }
      for (const v of d.templating.list) {
        if (v.type !== 'query') continue;
        const m = /^label_values\((\w+),\s*\w+\)$/.exec((v.query as { query: string }).query);
        expect(m, `${file} variable ${v.name}`).not.toBeNull();
        if (!series.has(m![1]!)) unknown.push(`${file} variable ${v.name}: ${m![1]}`);
      }
    }
    expect(unknown).toEqual([]);
    expect(checked).toBeGreaterThan(50);
    expect(usedRecorded.size).toBeGreaterThan(0);
  });
});
