// The real Helm (v4, built from source by scripts/install-test-peers.sh into ~/.cache/andante-tools,
// or on PATH) and deploy/helm/andante-distributed, for the chart's tests: helm-chart.test.ts (lint,
// render, -config.verify) and helm-cluster.test.ts (the rendered workloads run as a cluster).

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART = join(ROOT, 'deploy/helm/andante-distributed');
export const SEED = join(ROOT, 'test/fixtures/helm/seed-values.yaml');
export const BIN = join(ROOT, 'packages/server/dist/bin.js');
// Keep equal to HELM_VERSION in scripts/install-test-peers.sh.
export const HELM_VERSION = 'v4.3.2';
// yaml is the server's dependency; load it from there (as deploy-rules.test.ts does).
export const YAML = createRequire(join(ROOT, 'packages/server/package.json'))('yaml') as {
  parseAllDocuments(s: string): { toJS(): unknown }[];
  parse(s: string): unknown;
  stringify(v: unknown): string;
};

export type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv, timeout = 120_000): Promise<{ code: number; out: string; stdout: string }> {
  return new Promise((res) => {
    execFile(cmd, args, { cwd: ROOT, timeout, maxBuffer: 64 * 1024 * 1024, env: env ?? process.env }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      res({ code, out: `${stdout}${stderr}`, stdout });
    });
  });
}

/** The helm binary: the cached build first, then PATH; a clear failure (never a skip) when neither. */
export async function findHelm(): Promise<string> {
  const cached = join(process.env['ANDANTE_TOOLS_DIR'] ?? join(homedir(), '.cache', 'andante-tools'), `helm-${HELM_VERSION}`, 'helm');
  if (existsSync(cached)) return cached;
  const onPath = await run('helm', ['version', '--short']);
  if (onPath.code === 0 && onPath.out.startsWith('v4.')) return 'helm';
  throw new Error(`Helm ${HELM_VERSION} not found at ${cached} nor on PATH (${onPath.out.trim() || 'no helm'}): run bash scripts/install-test-peers.sh`);
}

export interface Rendered {
  text: string;
  docs: Obj[];
}

/** `helm template <release> <chart> --namespace <ns> <args>`, parsed into its objects. */
export async function helmTemplate(helm: string, args: string[], release = 'tempo', namespace = 'tracing'): Promise<Rendered> {
  const r = await run(helm, ['template', release, CHART, '--namespace', namespace, ...args]);
  if (r.code !== 0) throw new Error(`helm template ${args.join(' ')} failed:\n${r.out}`);
  const docs = YAML.parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter((d) => d && typeof d === 'object');
  return { text: r.stdout, docs };
}

/** The NOTES `helm install --dry-run=client` prints for these values (the seed's validation checklist). */
export async function helmNotes(helm: string, args: string[], release = 'tempo', namespace = 'tracing'): Promise<string> {
  const r = await run(helm, ['install', release, CHART, ...args, '--namespace', namespace, '--dry-run=client']);
  if (r.code !== 0) throw new Error(`helm install --dry-run=client failed:\n${r.out}`);
  const at = r.stdout.indexOf('NOTES:');
  if (at < 0) throw new Error(`helm install --dry-run=client printed no NOTES:\n${r.out}`);
  return r.stdout.slice(at);
}

export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);
export const workloads = (docs: Obj[]): Obj[] => docs.filter((d) => WORKLOAD_KINDS.has(d['kind']));
export const ofKind = (docs: Obj[], kind: string): Obj[] => docs.filter((d) => d['kind'] === kind);
export const byName = (docs: Obj[], kind: string, name: string): Obj | undefined => docs.find((d) => d['kind'] === kind && d['metadata']['name'] === name);
export const component = (d: Obj): string => d['metadata']['labels']?.['app.kubernetes.io/component'] ?? '';
export const andanteContainer = (w: Obj): Obj => (w['spec']['template']['spec']['containers'] as Obj[])[0]!;
export const isAndante = (w: Obj): boolean => component(w) !== 'etcd';
