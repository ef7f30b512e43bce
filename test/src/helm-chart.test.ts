// deploy/helm/andante-distributed checked with the real Helm (v4, built from source by
// scripts/install-test-peers.sh into ~/.cache/andante-tools, or on PATH): `helm lint --strict` and
// `helm template` with the default values and with the seed's values (test/fixtures/helm/seed-values.yaml),
// then the rendered manifests are checked: Services select pods that exist and target ports they
// expose, every config is accepted by `andante -config.verify` with each pod's own args, the IRSA
// annotation is on the ServiceAccount every pod runs as, no manifest holds a credential, containers run
// non-root on a read-only root FS, probes hit /ready, ingesters are an ordered StatefulSet.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, CHART, ROOT, SEED, YAML, andanteContainer, byName, component, findHelm, helmTemplate, isAndante, ofKind, run, workloads, type Obj } from './helm.js';

let helm = '';
const renders = new Map<string, { text: string; docs: Obj[] }>();

async function template(name: string, args: string[], release = 'tempo'): Promise<{ text: string; docs: Obj[] }> {
  const out = await helmTemplate(helm, args, release);
  renders.set(name, out);
  return out;
}

const VALUE_SETS: [string, string[]][] = [
  ['default', []],
  ['seed', ['-f', SEED]],
  ['seed without the generator', ['-f', SEED, '--set', 'metricsGenerator.enabled=false']],
  ['bundled etcd, span-rate HPAs, persistent generator', ['-f', SEED, '--set', 'etcd.enabled=true', '--set', 'distributor.autoscaling.spanRate.enabled=true', '--set', 'metricsGenerator.autoscaling.enabled=true', '--set', 'metricsGenerator.autoscaling.spanRate.enabled=true', '--set', 'metricsGenerator.persistence.enabled=true']],
];

let tmp = '';
beforeAll(async () => {
  helm = await findHelm();
  expect(existsSync(BIN), `${BIN} is missing: run pnpm build`).toBe(true);
  await mkdir(join(ROOT, '.andante-tmp'), { recursive: true });
  tmp = await mkdtemp(join(ROOT, '.andante-tmp', 'helm-chart-'));
  for (const [name, args] of VALUE_SETS) await template(name, args);
}, 180_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('helm chart: lint and render', () => {
  it.each([['default values', []], ['seed values', ['-f', SEED]]])('helm lint --strict passes with %s', async (_name, args) => {
    const r = await run(helm, ['lint', '--strict', CHART, ...args]);
    expect(r.out).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.out).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(r.code).toBe(0);
  });

  it("renders the seed's objects with tempo-distributed's Service names and ports", () => {
    const { docs } = renders.get('seed')!;
    const ports = (name: string): number[] => (byName(docs, 'Service', name)?.['spec']['ports'] as Obj[] | undefined)?.map((p) => p['port'] as number) ?? [];
    expect(ports('tempo-distributor').sort()).toEqual([3200, 4317, 4318]);
    expect(ports('tempo-query-frontend').sort()).toEqual([3200, 9095]);
    expect(ports('tempo-ingester').sort()).toEqual([3200, 9095]);
    expect(ports('tempo-querier').sort()).toEqual([3200, 9095]);
    expect(ports('tempo-compactor')).toEqual([3200]);
    expect(ports('tempo-metrics-generator').sort()).toEqual([3200, 9095]);
    const discovery = byName(docs, 'Service', 'tempo-query-frontend-discovery')!;
    expect(discovery['spec']).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    expect(ports('tempo-query-frontend-discovery')).toContain(9095);

    expect(workloads(docs).map((w) => `${w['kind']}/${w['metadata']['name']}`).sort()).toEqual([
      'Deployment/tempo-compactor', 'Deployment/tempo-distributor', 'Deployment/tempo-querier', 'Deployment/tempo-query-frontend',
      'StatefulSet/tempo-ingester', 'StatefulSet/tempo-metrics-generator',
    ]);
    // Every component runs the one config, its -target chosen by args.
    for (const w of workloads(docs)) {
      const args = andanteContainer(w)['args'] as string[];
      expect(args.slice(0, 3)).toEqual([`-target=${component(w)}`, '-config.file=/conf/tempo.yaml', '-config.expand-env=true']);
    }
    expect((andanteContainer(byName(docs, 'Deployment', 'tempo-distributor')!)['args'] as string[]).at(-1)).toBe('-ingester_client.remote_timeout=10s');
    expect(ofKind(docs, 'PodDisruptionBudget').map((p) => p['metadata']['name']).sort()).toEqual(
      ['compactor', 'distributor', 'ingester', 'metrics-generator', 'querier', 'query-frontend'].map((c) => `tempo-${c}`),
    );
    expect(ofKind(docs, 'ServiceMonitor')).toHaveLength(6);
    // Per-component values land on their pods.
    const dist = byName(docs, 'Deployment', 'tempo-distributor')!;
    expect(dist['spec']['replicas']).toBeUndefined(); // the HPA owns it
    expect(dist['spec']['template']['spec']).toMatchObject({ nodeSelector: { workload: 'observability' }, tolerations: [{ key: 'dedicated', value: 'observability' }] });
    expect(andanteContainer(dist)['resources']).toEqual({ requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '2Gi' } });
    expect(andanteContainer(byName(docs, 'Deployment', 'tempo-compactor')!)['env']).toEqual([{ name: 'NODE_OPTIONS', value: '--max-old-space-size=3072' }]);
    expect(byName(docs, 'StatefulSet', 'tempo-ingester')!['spec']['template']['spec']['affinity']['podAntiAffinity']).toBeDefined();
    expect(byName(docs, 'Deployment', 'tempo-querier')!['spec']['replicas']).toBe(2);
  });

  it('every Service selects the pods of a workload and targets ports those pods expose', () => {
    for (const [set] of VALUE_SETS) {
      const { docs } = renders.get(set)!;
      const services = ofKind(docs, 'Service');
      expect(services.length, set).toBeGreaterThan(5);
      for (const svc of services) {
        const selector = svc['spec']['selector'] as Record<string, string>;
        expect(Object.keys(selector ?? {}).length, `${set}: ${svc['metadata']['name']} has no selector`).toBeGreaterThan(0);
        const pods = workloads(docs).filter((w) => Object.entries(selector).every(([k, v]) => w['spec']['template']['metadata']['labels'][k] === v));
        expect(pods.length, `${set}: Service ${svc['metadata']['name']} selects no pods`).toBeGreaterThan(0);
        for (const w of pods) {
          // The workload's own selector must match its pods too, or it would manage nothing.
          for (const [k, v] of Object.entries(w['spec']['selector']['matchLabels'] as Record<string, string>)) expect(w['spec']['template']['metadata']['labels'][k]).toBe(v);
          const exposed = (w['spec']['template']['spec']['containers'] as Obj[]).flatMap((c) => (c['ports'] ?? []) as Obj[]);
          for (const p of svc['spec']['ports'] as Obj[]) {
            const ok = exposed.some((e) => e['name'] === p['targetPort'] || e['containerPort'] === p['targetPort']);
            expect(ok, `${set}: Service ${svc['metadata']['name']} port ${p['name']} targets ${p['targetPort']}, which ${w['metadata']['name']} does not expose`).toBe(true);
          }
        }
      }
      // A PDB or HPA must point at something that exists too.
      for (const pdb of ofKind(docs, 'PodDisruptionBudget')) {
        const sel = pdb['spec']['selector']['matchLabels'] as Record<string, string>;
        expect(workloads(docs).some((w) => Object.entries(sel).every(([k, v]) => w['spec']['template']['metadata']['labels'][k] === v)), `${set}: PDB ${pdb['metadata']['name']}`).toBe(true);
      }
      for (const hpa of ofKind(docs, 'HorizontalPodAutoscaler')) {
        const ref = hpa['spec']['scaleTargetRef'];
        expect(byName(docs, ref['kind'], ref['name']), `${set}: HPA ${hpa['metadata']['name']}`).toBeDefined();
      }
    }
  });

  it('every rendered tempo.yaml and overrides.yaml is accepted by andante -config.verify, with each pod\'s own args and env', async () => {
    const jobs: { what: string; args: string[]; env: NodeJS.ProcessEnv }[] = [];
    for (const [set] of VALUE_SETS) {
      const { docs } = renders.get(set)!;
      const config = byName(docs, 'ConfigMap', 'tempo-config')!['data']['tempo.yaml'] as string;
      const overrides = byName(docs, 'ConfigMap', 'tempo-runtime')!['data']['overrides.yaml'] as string;
      const dir = join(tmp, set.replace(/[^a-z]+/g, '-'));
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'tempo.yaml'), config);
      await writeFile(join(dir, 'overrides.yaml'), overrides);
      expect(YAML.parse(config)).toMatchObject({ overrides: { per_tenant_override_config: '/runtime-config/overrides.yaml' } });
      for (const w of workloads(docs).filter(isAndante)) {
        const c = andanteContainer(w);
        // The pod's args with the mounted paths mapped to this test's copies of the ConfigMaps.
        const args = (c['args'] as string[]).map((a) => (a === '-config.file=/conf/tempo.yaml' ? `-config.file=${join(dir, 'tempo.yaml')}` : a));
        args.push('-config.verify', `-overrides.per_tenant_override_config=${join(dir, 'overrides.yaml')}`);
        const env: NodeJS.ProcessEnv = { ...process.env };
        for (const e of (c['env'] ?? []) as Obj[]) if (typeof e['value'] === 'string') env[e['name']] = e['value'];
        jobs.push({ what: `${set}: ${w['metadata']['name']}: ${args.join(' ')}`, args, env });
      }
    }
    expect(jobs.length).toBe(5 + 6 + 5 + 6);
    // Two at a time: each process loads the config code (~1 CPU-s on a loaded machine), and the machine has 2 cores.
    const results: { what: string; code: number; out: string }[] = [];
    const next = async (): Promise<void> => {
      for (let job = jobs.shift(); job; job = jobs.shift()) {
        const r = await run(process.execPath, [BIN, ...job.args], job.env, 300_000);
        results.push({ what: job.what, code: r.code, out: r.out });
      }
    };
    await Promise.all([next(), next()]);
    for (const r of results) expect(r, r.what).toMatchObject({ code: 0, out: 'ok\n' });
    expect(results).toHaveLength(22);
  }, 900_000);

  it('-config.verify refuses what a pod would refuse: a mistyped extraArg, a key Andante does not know in structuredConfig', async () => {
    const cases: [string[], string][] = [
      [['--set', 'distributor.extraArgs[0]=-ingester_client.remote_timout=10s'], 'unknown flag -ingester_client.remote_timout'],
      [['--set', 'tempo.structuredConfig.memcached.host=memcached'], 'unknown configuration key memcached'],
    ];
    for (const [i, [values, message]] of cases.entries()) {
      const { docs } = await template(`refused ${i}`, values);
      const dir = join(tmp, `refused-${i}`);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'tempo.yaml'), byName(docs, 'ConfigMap', 'tempo-config')!['data']['tempo.yaml']);
      const args = (andanteContainer(byName(docs, 'Deployment', 'tempo-distributor')!)['args'] as string[]).map((a) => (a.startsWith('-config.file=') ? `-config.file=${join(dir, 'tempo.yaml')}` : a));
      const r = await run(process.execPath, [BIN, ...args, '-config.verify', '-overrides.per_tenant_override_config='], undefined, 300_000);
      expect(r.code).toBe(1);
      expect(r.out).toContain(message);
    }
  }, 600_000);

  it('puts the IRSA role annotation on the ServiceAccount that every pod runs as', () => {
    const { docs } = renders.get('seed')!;
    const accounts = ofKind(docs, 'ServiceAccount');
    expect(accounts).toHaveLength(1);
    expect(accounts[0]!['metadata']).toMatchObject({ name: 'tempo', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/tempo-traces-s3' } });
    for (const w of workloads(docs)) expect(w['spec']['template']['spec']['serviceAccountName'], w['metadata']['name']).toBe('tempo');
    const cfg = YAML.parse(byName(docs, 'ConfigMap', 'tempo-config')!['data']['tempo.yaml']) as Obj;
    expect(cfg['storage']['trace']).toMatchObject({ backend: 's3', s3: { bucket: 'acme-tempo-traces', region: 'eu-west-1', endpoint: 's3.eu-west-1.amazonaws.com', insecure: false, forcepathstyle: false } });
  });

  it('no manifest holds a credential, and a literal one in the values is refused', async () => {
    const credentialKey = /^(aws_)?(secret_access_key|access_key|access_key_id|secret_key|session_token|password|token)$/i;
    const walk = (node: unknown, path: string, found: string[]): void => {
      if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${path}[${i}]`, found));
      else if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (credentialKey.test(k) && typeof v === 'string' && v !== '' && !/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(v)) found.push(`${path}.${k}`);
          // Configs inside ConfigMaps are YAML text: look inside them too.
          if (typeof v === 'string' && k.endsWith('.yaml')) walk(YAML.parse(v), `${path}.${k}`, found);
          else walk(v, `${path}.${k}`, found);
        }
      }
    };
    for (const [set] of VALUE_SETS) {
      const { text, docs } = renders.get(set)!;
      expect(text, set).not.toMatch(/\b(AKIA|ASIA)[0-9A-Z]{16}\b/);
      expect(text, set).not.toMatch(/aws_secret_access_key|AWS_SECRET_ACCESS_KEY/);
      expect(ofKind(docs, 'Secret'), set).toEqual([]);
      const found: string[] = [];
      docs.forEach((d, i) => walk(d, `${d['kind']}#${i}`, found));
      expect(found, set).toEqual([]);
    }
    // The guard itself: a literal key fails the render with a message saying what to do; an env reference renders.
    const bad = await run(helm, ['template', 'tempo', CHART, '-f', SEED, '--set', 'storage.trace.s3.secret_key=hunter2secret']);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toContain('storage.trace.s3.secret_key: a literal credential would be stored in a ConfigMap');
    expect(bad.out).not.toContain('hunter2secret');
    const badEtcd = await run(helm, ['template', 'tempo', CHART, '--set', 'ring.etcd.password=hunter2secret']);
    expect(badEtcd.code).not.toBe(0);
    expect(badEtcd.out).toContain('ring.etcd.password: a literal credential');
    const viaEnv = await template('secret via env', ['-f', SEED, '--set-string', 'storage.trace.s3.secret_key=${S3_SECRET_KEY}']);
    expect(YAML.parse(byName(viaEnv.docs, 'ConfigMap', 'tempo-config')!['data']['tempo.yaml'])).toMatchObject({ storage: { trace: { s3: { secret_key: '${S3_SECRET_KEY}' } } } });
  });

  it('every container runs as non-root on a read-only root filesystem, without privilege escalation or capabilities', () => {
    for (const [set] of VALUE_SETS) {
      for (const w of workloads(renders.get(set)!.docs)) {
        const pod = w['spec']['template']['spec'];
        const containers = [...(pod['initContainers'] ?? []), ...pod['containers']] as Obj[];
        for (const c of containers) {
          const sc = c['securityContext'] ?? {};
          const where = `${set}: ${w['metadata']['name']}/${c['name']}`;
          expect(sc['runAsNonRoot'] ?? pod['securityContext']?.['runAsNonRoot'], where).toBe(true);
          expect(sc['runAsUser'] ?? pod['securityContext']?.['runAsUser'], where).toBeGreaterThan(0);
          expect(sc['readOnlyRootFilesystem'], where).toBe(true);
          expect(sc['allowPrivilegeEscalation'], where).toBe(false);
          expect(sc['capabilities']?.['drop'], where).toContain('ALL');
          expect(sc['privileged'] ?? false, where).toBe(false);
        }
      }
    }
  });

  it('every Andante workload has readiness, liveness and startup probes on /ready (http-metrics)', () => {
    for (const [set] of VALUE_SETS) {
      const andante = workloads(renders.get(set)!.docs).filter(isAndante);
      expect(andante.length).toBeGreaterThanOrEqual(5);
      for (const w of andante) {
        const c = andanteContainer(w);
        for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
          expect(c[probe]?.['httpGet'], `${set}: ${w['metadata']['name']} ${probe}`).toEqual({ path: '/ready', port: 'http-metrics' });
        }
        expect((c['ports'] as Obj[]).find((p) => p['name'] === 'http-metrics')?.['containerPort']).toBe(3200);
      }
    }
  });

  it('runs ingesters as an ordered StatefulSet with a 300 s grace period and, with persistence, a PVC for the WAL', () => {
    for (const [set] of VALUE_SETS) {
      const ing = byName(renders.get(set)!.docs, 'StatefulSet', 'tempo-ingester')!;
      expect(ing, set).toBeDefined();
      expect(ing['spec']['template']['spec']['terminationGracePeriodSeconds']).toBeGreaterThanOrEqual(300);
      expect(ing['spec']).toMatchObject({ podManagementPolicy: 'OrderedReady', updateStrategy: { type: 'RollingUpdate' }, serviceName: 'tempo-ingester', replicas: 3 });
      const mounts = andanteContainer(ing)['volumeMounts'] as Obj[];
      expect(mounts.find((m) => m['name'] === 'data')?.['mountPath']).toBe('/var/tempo');
    }
    const seed = byName(renders.get('seed')!.docs, 'StatefulSet', 'tempo-ingester')!;
    expect(seed['spec']['volumeClaimTemplates']).toEqual([
      { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'gp3', resources: { requests: { storage: '50Gi' } } } },
    ]);
    expect((seed['spec']['template']['spec']['volumes'] as Obj[]).map((v) => v['name'])).not.toContain('data');
    const plain = byName(renders.get('default')!.docs, 'StatefulSet', 'tempo-ingester')!;
    expect(plain['spec']['volumeClaimTemplates']).toBeUndefined();
    expect((plain['spec']['template']['spec']['volumes'] as Obj[]).find((v) => v['name'] === 'data')).toEqual({ name: 'data', emptyDir: {} });
    // The WAL lives on that volume; the replication factor is 3.
    const cfg = YAML.parse(byName(renders.get('seed')!.docs, 'ConfigMap', 'tempo-config')!['data']['tempo.yaml']) as Obj;
    expect(cfg['storage']['trace']['wal']['path']).toBe('/var/tempo/wal');
    expect(cfg['ingester']['lifecycler']['ring']['replication_factor']).toBe(3);
    expect(cfg['compactor']['compaction']['block_retention']).toBe('720h');
    expect(cfg['overrides']['defaults']).toEqual({
      ingestion: { rate_limit_bytes: 30000000, burst_size_bytes: 40000000, max_traces_per_user: 50000 },
      metrics_generator: { processors: ['service-graphs', 'span-metrics'] },
    });
  });

  it('metricsGenerator.enabled=false removes every metrics-generator object and its config', () => {
    const isGen = (d: Obj): boolean => component(d) === 'metrics-generator' || String(d['metadata']?.['name']).endsWith('-metrics-generator');
    const seed = renders.get('seed')!.docs.filter(isGen).map((d) => d['kind']).sort();
    expect(seed).toEqual(['PodDisruptionBudget', 'Service', 'ServiceMonitor', 'StatefulSet']);
    for (const set of ['default', 'seed without the generator']) {
      const { docs } = renders.get(set)!;
      expect(docs.filter(isGen), set).toEqual([]);
      const cfg = YAML.parse(byName(docs, 'ConfigMap', 'tempo-config')!['data']['tempo.yaml']) as Obj;
      // The distributor still reads the generator ring (empty), so the ring's kvstore stays.
      expect(Object.keys(cfg['metrics_generator']), set).toEqual(['ring']);
    }
    const gen = byName(renders.get('seed')!.docs, 'StatefulSet', 'tempo-metrics-generator')!;
    expect(gen['spec']['template']['spec']['terminationGracePeriodSeconds']).toBe(300);
    const cfg = YAML.parse(byName(renders.get('seed')!.docs, 'ConfigMap', 'tempo-config')!['data']['tempo.yaml']) as Obj;
    expect(cfg['metrics_generator']['storage']).toMatchObject({ path: '/var/tempo/generator/wal', remote_write: [{ url: 'http://prometheus-server.monitoring.svc.cluster.local:80/api/v1/write', send_exemplars: true }] });
  });

  it('rings use the etcd endpoints given, or the bundled single-node etcd when enabled', () => {
    const endpoints = (set: string): unknown[] => {
      const cfg = YAML.parse(byName(renders.get(set)!.docs, 'ConfigMap', 'tempo-config')!['data']['tempo.yaml']) as Obj;
      const rings = [cfg['ingester']['lifecycler']['ring'], cfg['distributor']['ring'], cfg['compactor']['ring'], cfg['metrics_generator']['ring']];
      for (const r of rings) expect(r['kvstore']['store']).toBe('etcd');
      return rings.map((r) => r['kvstore']['etcd']['endpoints']);
    };
    expect(endpoints('default')).toEqual(Array(4).fill(['etcd:2379']));
    expect(endpoints('bundled etcd, span-rate HPAs, persistent generator')).toEqual(Array(4).fill(['tempo-etcd:2379']));
    const { docs } = renders.get('bundled etcd, span-rate HPAs, persistent generator')!;
    expect(byName(docs, 'StatefulSet', 'tempo-etcd')).toBeDefined();
    expect(byName(docs, 'Service', 'tempo-etcd')!['spec']['ports'][0]).toMatchObject({ port: 2379, targetPort: 'client' });
    expect(byName(renders.get('default')!.docs, 'StatefulSet', 'tempo-etcd')).toBeUndefined();
  });

  it('HPAs scale distributors and generators on CPU and, when enabled, on spans per second through the custom metrics API', () => {
    const seed = ofKind(renders.get('seed')!.docs, 'HorizontalPodAutoscaler');
    expect(seed.map((h) => h['metadata']['name'])).toEqual(['tempo-distributor']);
    expect(seed[0]!['spec']).toMatchObject({ minReplicas: 3, maxReplicas: 10, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }] });
    const all = ofKind(renders.get('bundled etcd, span-rate HPAs, persistent generator')!.docs, 'HorizontalPodAutoscaler');
    expect(all.map((h) => `${h['spec']['scaleTargetRef']['kind']}/${h['spec']['scaleTargetRef']['name']}`).sort()).toEqual(['Deployment/tempo-distributor', 'StatefulSet/tempo-metrics-generator']);
    for (const h of all) {
      const pods = (h['spec']['metrics'] as Obj[]).find((m) => m['type'] === 'Pods');
      expect(pods?.['pods']['metric']['name']).toMatch(/^tempo_(distributor|metrics_generator)_spans_received_per_second$/);
      expect(pods?.['pods']['target']).toEqual({ type: 'AverageValue', averageValue: '50k' });
    }
    const gen = byName(renders.get('bundled etcd, span-rate HPAs, persistent generator')!.docs, 'StatefulSet', 'tempo-metrics-generator')!;
    expect(gen['spec']['replicas']).toBeUndefined();
    expect(gen['spec']['volumeClaimTemplates'][0]['metadata']['name']).toBe('data');
  });

  it("renders the queriers' frontend_worker address from the headless discovery Service when switched on", async () => {
    const { docs } = await template('frontend worker', ['--set', 'querier.config.frontend_worker.enabled=true']);
    const cfg = YAML.parse(byName(docs, 'ConfigMap', 'tempo-config')!['data']['tempo.yaml']) as Obj;
    expect(cfg['querier']).toEqual({ frontend_worker: { frontend_address: 'tempo-query-frontend-discovery:9095' } });
    expect(byName(docs, 'Service', 'tempo-query-frontend-discovery')).toBeDefined();
    // Independent of the default, which turns on once the querier accepts the key (then -config.verify covers it).
    const offDocs = (await template('frontend worker off', ['--set', 'querier.config.frontend_worker.enabled=false'])).docs;
    const off = YAML.parse(byName(offDocs, 'ConfigMap', 'tempo-config')!['data']['tempo.yaml']) as Obj;
    expect(off['querier']).toBeUndefined();
  });

  it('merges tempo.structuredConfig over the generated config', async () => {
    const { docs } = await template('structured', ['--set', 'tempo.structuredConfig.ingester.max_block_duration=5m', '--set', 'tempo.structuredConfig.server.log_level=debug']);
    const cfg = YAML.parse(byName(docs, 'ConfigMap', 'tempo-config')!['data']['tempo.yaml']) as Obj;
    expect(cfg['ingester']['max_block_duration']).toBe('5m');
    expect(cfg['ingester']['lifecycler']['ring']['replication_factor']).toBe(3);
    expect(cfg['server']).toMatchObject({ log_level: 'debug', http_listen_port: 3200 });
  });
});

describe('helm chart: NOTES.txt', () => {
  it("prints the seed's validation checklist for the release (helm install --dry-run=client)", async () => {
    const r = await run(helm, ['install', 'tempo', CHART, '-f', SEED, '--namespace', 'tracing', '--dry-run=client']);
    expect(r.code, r.out).toBe(0);
    const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
    for (const line of [
      "curl -s http://tempo-distributor:3200/ingester/ring -H 'Accept: application/json' | jq '.shards[] | {id, state}'",
      "curl -s http://tempo-distributor:3200/metrics-generator/ring -H 'Accept: application/json' | jq '.shards[] | {id, state}'",
      "grep '^tempo_distributor_spans_received_total'",
      'aws s3 ls s3://acme-tempo-traces/ --recursive | grep meta.json',
      'tempo_compactor_blocks_total',
      'traces_spanmetrics_calls_total',
      'gRPC: tempo-distributor.tracing.svc.cluster.local:4317',
      'http://tempo-query-frontend.tracing.svc.cluster.local:3200',
    ]) expect(notes).toContain(line);
    expect(notes).toContain('Expect 3 ingesters ACTIVE (replication factor 3)');
  });
});

describe('helm chart: dashboards and rules from deploy/', () => {
  it("the chart's copies are byte-equal to deploy/dashboards and deploy/alerts", () => {
    const pairs: [string, string, RegExp][] = [
      [join(ROOT, 'deploy/dashboards'), join(CHART, 'dashboards'), /\.json$/],
      [join(ROOT, 'deploy/alerts'), join(CHART, 'rules'), /\.rules\.yml$/],
    ];
    for (const [src, copy, pattern] of pairs) {
      const want = readdirSync(src).filter((f) => pattern.test(f)).sort();
      expect(want.length).toBeGreaterThan(0);
      expect(readdirSync(copy).sort(), `${copy}: run cp ${src}/*${pattern.source.replace(/\\|\$/g, '')} ${copy}/`).toEqual(want);
      for (const f of want) {
        expect(readFileSync(join(copy, f)).equals(readFileSync(join(src, f))), `${copy}/${f} differs from ${src}/${f}: copy it again`).toBe(true);
      }
    }
  });

  it('ships every dashboard in a ConfigMap labelled for the Grafana sidecar and every rule group in a PrometheusRule', () => {
    const { docs } = renders.get('seed')!;
    const cm = byName(docs, 'ConfigMap', 'tempo-dashboards')!;
    expect(cm['metadata']['labels']['grafana_dashboard']).toBe('1');
    const files = readdirSync(join(ROOT, 'deploy/dashboards')).filter((f) => f.endsWith('.json')).sort();
    expect(Object.keys(cm['data']).sort()).toEqual(files);
    for (const f of files) expect(JSON.parse(cm['data'][f])).toEqual(JSON.parse(readFileSync(join(ROOT, 'deploy/dashboards', f), 'utf8')));

    const rule = ofKind(docs, 'PrometheusRule');
    expect(rule).toHaveLength(1);
    expect(rule[0]!['metadata']['labels']['release']).toBe('kube-prometheus-stack');
    const want = readdirSync(join(ROOT, 'deploy/alerts'))
      .filter((f) => f.endsWith('.rules.yml'))
      .sort()
      .flatMap((f) => (YAML.parse(readFileSync(join(ROOT, 'deploy/alerts', f), 'utf8')) as { groups: unknown[] }).groups);
    expect(rule[0]!['spec']['groups']).toEqual(want);
    expect(ofKind(renders.get('default')!.docs, 'PrometheusRule')).toEqual([]);
    expect(ofKind(renders.get('default')!.docs, 'ServiceMonitor')).toEqual([]);
  });
});
