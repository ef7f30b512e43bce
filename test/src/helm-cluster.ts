// Runs what deploy/helm/andante-distributed renders as processes on 127.0.0.1: one `andante` per
// replica of every rendered Deployment and StatefulSet, with the container's command, args and env,
// and the rendered ConfigMaps as files in a temp dir per pod (test/src/cluster.ts starts them).
//
// What has to change for loopback, and nothing else (each a LoopbackRewrite, listed on failure):
// - mount paths (/conf, /runtime-config, /var/tempo, /tmp) -> a directory per pod and volume, in the
//   config, the args and the working directory (the image's WORKDIR);
// - listen ports -> free ports, one set per pod (all pods share 127.0.0.1, where a pod has its own IP);
// - a pod's identity, which in Kubernetes comes from its hostname (the pod name: ring instance IDs)
//   and its IP (the ring address others dial) -> the pod name and 127.0.0.1;
// - Service names (`<release>-query-frontend-discovery:9095`, ...) -> 127.0.0.1 and the remapped port
//   of the one pod the Service selects and the container port its targetPort names; names of the peers
//   (etcd, S3, Prometheus) -> the test's peers. A name that is neither, a Service port that does not
//   exist or a targetPort the pod does not expose fails the test: that is a wiring bug of the chart;
// - S3: the endpoint (AWS, https) -> the test's S3 server, which speaks plain HTTP (insecure: true);
//   the credentials IRSA would give the pod come from AWS_* variables (Cluster: s3.env());
// - env: what the kubelet adds (HOSTNAME = the pod name; fieldRefs resolved for this pod) and
//   TMPDIR -> the pod's /tmp volume (the root filesystem is read-only in the pod).
// The command is the image's ENTRYPOINT (`andante`, the Dockerfile's link to dist/bin.js), with
// the image's ENV (NODE_ENV=production). StatefulSets start OrderedReady, as the controller would.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Cluster, ClusterNode } from './cluster.js';
import { freeTcpPort } from './ports.js';
import { BIN, ROOT, YAML, andanteContainer, component, ofKind, workloads, type Obj } from './helm.js';

/** One change the loopback run makes to what the chart rendered, and why. */
export interface LoopbackRewrite {
  pod: string;
  where: string;
  from: unknown;
  to: unknown;
  why: string;
}

/** A peer the rendered config names outside the chart (etcd, S3, Prometheus), and where it runs here. */
export interface LoopbackPeer {
  host: string;
  port: number;
  localPort: number;
  what: string;
}

/** One pod of a rendered workload, as a process on 127.0.0.1. */
export interface LoopbackPod {
  /** The pod name Kubernetes would give it (StatefulSet: <name>-<ordinal>; Deployment: <name>-<hash>-<suffix>). */
  name: string;
  workload: Obj;
  component: string;
  container: Obj;
  /** containerPort -> the port on 127.0.0.1. */
  ports: Map<number, number>;
  /** The container's port names -> containerPort. */
  portNames: Map<string, number>;
  /** mountPath -> the directory standing in for the volume, longest path first. */
  mounts: [string, string][];
  dir: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  node?: ClusterNode;
}

/** What the image (the repository's Dockerfile, its runtime stage) sets: entrypoint, CMD, WORKDIR, ENV. */
export interface ImageDefaults {
  entrypoint: string[];
  cmd: string[];
  workdir: string;
  env: Record<string, string>;
  /** The executable `andante` names in the image (a link to dist/bin.js). */
  andanteTarget: string;
}

export function readImageDefaults(): ImageDefaults {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const last = (re: RegExp): string | undefined => [...runtime.matchAll(re)].at(-1)?.[1];
  const entrypoint = JSON.parse(last(/^ENTRYPOINT\s+(\[.*\])\s*$/gm) ?? '[]') as string[];
  const cmd = JSON.parse(last(/^CMD\s+(\[.*\])\s*$/gm) ?? '[]') as string[];
  const env: Record<string, string> = {};
  for (const m of runtime.matchAll(/^ENV\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)\s*$/gm)) env[m[1]!] = m[2]!;
  const link = /ln -s (\S+) \/usr\/local\/bin\/andante/.exec(runtime);
  return { entrypoint, cmd, workdir: last(/^WORKDIR\s+(\S+)\s*$/gm) ?? '/', env, andanteTarget: link?.[1] ?? '' };
}

const DEPLOY_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
function podSuffix(seed: string, n: number): string {
  const h = createHash('sha256').update(seed).digest();
  let s = '';
  for (let i = 0; i < n; i++) s += DEPLOY_ALPHABET[h[i]! % DEPLOY_ALPHABET.length];
  return s;
}

/**
 * The pods a workload's controller would create: spec.replicas of them (1, Kubernetes' default,
 * when the field is absent because an HPA owns it: the HPA's scaling is not simulated).
 */
export function podNames(w: Obj): string[] {
  const name = w['metadata']['name'] as string;
  const replicas = (w['spec']['replicas'] as number | undefined) ?? 1;
  const template = podSuffix(JSON.stringify(w['spec']['template']), 10);
  return Array.from({ length: replicas }, (_, i) => (w['kind'] === 'StatefulSet' ? `${name}-${i}` : `${name}-${template}-${podSuffix(`${name}/${i}`, 5)}`));
}

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Service names and the test's peers, resolved to 127.0.0.1 and remapped ports. */
export class LoopbackDns {
  constructor(
    private readonly docs: Obj[],
    private readonly pods: LoopbackPod[],
    private readonly peers: LoopbackPeer[],
    private readonly namespace: string,
  ) {}

  private serviceName(host: string): string {
    for (const suffix of [`.${this.namespace}.svc.cluster.local`, `.${this.namespace}.svc`, `.${this.namespace}`]) {
      if (host.endsWith(suffix)) return host.slice(0, -suffix.length);
    }
    return host;
  }

  /** Every 127.0.0.1 port `host:port` reaches (a Service's: one per selected pod), or an error saying why none. */
  resolveAll(host: string, port: number): number[] {
    const peer = this.peers.find((p) => p.host === host && p.port === port);
    if (peer) return [peer.localPort];
    const name = this.serviceName(host);
    const svc = ofKind(this.docs, 'Service').find((s) => s['metadata']['name'] === name);
    if (!svc) throw new Error(`${host}:${port} is neither a Service the chart renders nor a peer of this test (${this.peers.map((p) => `${p.host}:${p.port}`).join(', ')})`);
    const sp = (svc['spec']['ports'] as Obj[]).find((p) => p['port'] === port);
    if (!sp) throw new Error(`Service ${name} has no port ${port} (it has ${(svc['spec']['ports'] as Obj[]).map((p) => p['port']).join(', ')})`);
    const selector = svc['spec']['selector'] as Record<string, string>;
    const selected = this.pods.filter((p) => Object.entries(selector).every(([k, v]) => p.workload['spec']['template']['metadata']['labels'][k] === v));
    if (selected.length === 0) throw new Error(`Service ${name} selects no pod`);
    const target = sp['targetPort'] ?? port;
    return selected.map((p) => {
      const containerPort = typeof target === 'number' ? target : p.portNames.get(target);
      const local = containerPort === undefined ? undefined : p.ports.get(containerPort);
      if (local === undefined) throw new Error(`Service ${name} port ${port} targets ${target}, which pod ${p.name} does not expose`);
      return local;
    });
  }

  /** The one 127.0.0.1 port `host:port` reaches; a Service with several pods cannot be one loopback address. */
  resolve(host: string, port: number): number {
    const all = this.resolveAll(host, port);
    if (all.length !== 1) throw new Error(`${host}:${port} selects ${all.length} pods; on one loopback address a name can stand for one pod only`);
    return all[0]!;
  }

  /** http(s)://<name>:<port>/path -> every http://127.0.0.1:<port>/path it reaches. */
  urls(url: string): string[] {
    const u = new URL(url);
    const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
    return this.resolveAll(u.hostname, port).map((p) => `http://127.0.0.1:${p}${u.pathname}${u.search}`);
  }

  url(url: string): string {
    const all = this.urls(url);
    if (all.length !== 1) throw new Error(`${url} reaches ${all.length} pods`);
    return all[0]!;
  }
}

const HOST_PORT = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?):(\d+)$/i;
const URL_RE = /^(https?):\/\/([^/:?#]+)(?::(\d+))?(.*)$/i;

/** Calls `fn` on every string in the tree (arrays included) and stores what it returns; `path` is dotted. */
function mapStrings(node: unknown, path: string, fn: (s: string, path: string) => string): unknown {
  if (typeof node === 'string') return fn(node, path);
  if (Array.isArray(node)) return node.map((v, i) => mapStrings(v, `${path}[${i}]`, fn));
  if (isTree(node)) {
    for (const [k, v] of Object.entries(node)) node[k] = mapStrings(v, path ? `${path}.${k}` : k, fn);
    return node;
  }
  return node;
}

function setPath(cfg: Tree, path: string, value: unknown, pod: LoopbackPod, why: string, rewrites: LoopbackRewrite[]): void {
  const keys = path.split('.');
  let node = cfg;
  for (const k of keys.slice(0, -1)) {
    if (!isTree(node[k])) node[k] = {};
    node = node[k] as Tree;
  }
  const last = keys.at(-1)!;
  rewrites.push({ pod: pod.name, where: `tempo.yaml ${path}`, from: node[last], to: value, why });
  node[last] = value;
}

function getPath(cfg: Tree, path: string): unknown {
  let node: unknown = cfg;
  for (const k of path.split('.')) node = isTree(node) ? node[k] : undefined;
  return node;
}

/** A path under one of the pod's mounts -> the same path under the volume's directory; others unchanged. */
export function mountPath(pod: LoopbackPod, p: string): string {
  for (const [mount, dir] of pod.mounts) {
    if (p === mount) return dir;
    if (p.startsWith(`${mount}/`)) return join(dir, p.slice(mount.length + 1));
  }
  return p;
}

/**
 * Lays out the pods of every rendered Andante workload: names, free ports for each container port,
 * a directory per volume (ConfigMaps written into theirs), args, env and working directory.
 */
export async function planPods(docs: Obj[], rootDir: string, namespace: string, image: ImageDefaults, rewrites: LoopbackRewrite[]): Promise<LoopbackPod[]> {
  const pods: LoopbackPod[] = [];
  for (const w of workloads(docs).filter((d) => component(d) !== 'etcd')) {
    const podSpec = w['spec']['template']['spec'] as Obj;
    const container = andanteContainer(w);
    for (const name of podNames(w)) {
      const dir = join(rootDir, name);
      const ports = new Map<number, number>();
      const portNames = new Map<string, number>();
      for (const p of (container['ports'] ?? []) as Obj[]) {
        ports.set(p['containerPort'], await freeTcpPort());
        if (p['name']) portNames.set(p['name'], p['containerPort']);
      }
      // Volumes: a ConfigMap's keys become files; emptyDir and volumeClaimTemplates an empty dir.
      const mounts: [string, string][] = [];
      for (const m of (container['volumeMounts'] ?? []) as Obj[]) {
        const volDir = join(dir, 'volumes', m['name']);
        mkdirSync(volDir, { recursive: true });
        const vol = ((podSpec['volumes'] ?? []) as Obj[]).find((v) => v['name'] === m['name']);
        const claim = ((w['spec']['volumeClaimTemplates'] ?? []) as Obj[]).find((c) => c['metadata']['name'] === m['name']);
        if (vol?.['configMap']) {
          const cm = ofKind(docs, 'ConfigMap').find((c) => c['metadata']['name'] === vol['configMap']['name']);
          if (!cm) throw new Error(`${name}: volume ${m['name']} names ConfigMap ${vol['configMap']['name']}, which the chart does not render`);
          for (const [k, v] of Object.entries(cm['data'] ?? {})) writeFileSync(join(volDir, k), String(v));
        } else if (!vol?.['emptyDir'] && !claim) {
          throw new Error(`${name}: volume ${m['name']} is neither a ConfigMap, an emptyDir nor a volumeClaimTemplate`);
        }
        mounts.push([m['mountPath'], volDir]);
        rewrites.push({ pod: name, where: `volume ${m['name']}`, from: m['mountPath'], to: volDir, why: 'the volume mount, as a directory of this pod' });
      }
      mounts.sort((a, b) => b[0].length - a[0].length);
      const pod: LoopbackPod = { name, workload: w, component: component(w), container, ports, portNames, mounts, dir, args: [], env: {}, cwd: '' };

      // Command: the container's, else the image's ENTRYPOINT; `andante` is the image's link to dist/bin.js.
      const command = (container['command'] as string[] | undefined) ?? image.entrypoint;
      if (command.length !== 1 || command[0] !== 'andante' || !image.andanteTarget.endsWith('/dist/bin.js')) {
        throw new Error(`${name}: command ${JSON.stringify(command)} (image link ${image.andanteTarget}) is not the andante binary this test runs (${BIN})`);
      }
      // Env: the image's ENV, HOSTNAME (the kubelet sets it to the pod name), then the container's.
      const env: Record<string, string> = { ...image.env, HOSTNAME: name };
      for (const e of (container['env'] ?? []) as Obj[]) {
        if (typeof e['value'] === 'string') env[e['name']] = e['value'];
        else if (e['valueFrom']?.['fieldRef']) {
          const field = e['valueFrom']['fieldRef']['fieldPath'] as string;
          const values: Record<string, string> = {
            'metadata.name': name,
            'metadata.namespace': namespace,
            'status.podIP': '127.0.0.1',
            'status.hostIP': '127.0.0.1',
            'spec.nodeName': 'loopback',
            'spec.serviceAccountName': String(podSpec['serviceAccountName'] ?? 'default'),
          };
          if (values[field] === undefined) throw new Error(`${name}: env ${e['name']} takes fieldRef ${field}, which this test does not resolve`);
          env[e['name']] = values[field]!;
        } else if (e['valueFrom']?.['configMapKeyRef']) {
          const ref = e['valueFrom']['configMapKeyRef'];
          const v = ofKind(docs, 'ConfigMap').find((c) => c['metadata']['name'] === ref['name'])?.['data']?.[ref['key']];
          if (typeof v !== 'string') throw new Error(`${name}: env ${e['name']} takes ConfigMap ${ref['name']} key ${ref['key']}, which the chart does not render`);
          env[e['name']] = v;
        } else throw new Error(`${name}: env ${e['name']} ${JSON.stringify(e['valueFrom'])} is not resolvable here (no Secrets in this test)`);
      }
      if (((container['envFrom'] ?? []) as unknown[]).length > 0) throw new Error(`${name}: envFrom is not resolvable here`);
      // $(VAR) in args expands from the container's env, as the kubelet does.
      const expand = (a: string): string => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env[v] ?? m);
      const rawArgs = ((container['args'] as string[] | undefined) ?? image.cmd).map(expand);
      pod.args = rawArgs.map((a) => {
        const m = /^(--?[A-Za-z0-9_.-]+=)(\/.*)$/.exec(a);
        const out = m ? m[1]! + mountPath(pod, m[2]!) : a;
        if (out !== a) rewrites.push({ pod: name, where: 'args', from: a, to: out, why: 'a mount path' });
        return out;
      });
      // /tmp is an emptyDir in the pod (the root filesystem is read-only): temp files go to its stand-in.
      const tmp = mountPath(pod, '/tmp');
      if (tmp !== '/tmp') {
        env['TMPDIR'] = tmp;
        rewrites.push({ pod: name, where: 'env TMPDIR', from: undefined, to: tmp, why: "the pod's /tmp volume" });
      }
      pod.env = env;
      pod.cwd = mountPath(pod, image.workdir);
      if (pod.cwd === image.workdir) throw new Error(`${name}: the image's WORKDIR ${image.workdir} is on no volume (the root filesystem is read-only)`);
      pods.push(pod);
    }
  }
  return pods;
}

/**
 * The pod's tempo.yaml (the file its -config.file names) rewritten for loopback; the rewrites are
 * appended to `rewrites`. Everything else stays as rendered.
 */
export async function rewriteConfig(pod: LoopbackPod, dns: LoopbackDns, rewrites: LoopbackRewrite[]): Promise<string> {
  const arg = pod.args.find((a) => /^--?config\.file=/.test(a));
  if (!arg) throw new Error(`${pod.name}: no -config.file in ${pod.args.join(' ')}`);
  const file = arg.replace(/^--?config\.file=/, '');
  const cfg = YAML.parse(readFileSync(file, 'utf8')) as Tree;
  const note = (where: string, from: unknown, to: unknown, why: string): void => void rewrites.push({ pod: pod.name, where: `tempo.yaml ${where}`, from, to, why });

  // 1. Mount paths (WAL, generator WAL, local blocks, the overrides file) -> this pod's volume dirs.
  mapStrings(cfg, '', (s, path) => {
    const to = s.startsWith('/') ? mountPath(pod, s) : s;
    if (to !== s) note(path, s, to, 'a mount path');
    return to;
  });

  // 2. Listen addresses: 127.0.0.1 (a pod has its own network namespace; here all share the host's),
  //    each listen port -> this pod's free port for that container port. The HTTP and internal gRPC
  //    ports must be ones the container exposes (probes, Services and the ring dial them).
  const exposed = (containerPort: number, what: string): number => {
    const p = pod.ports.get(containerPort);
    if (p === undefined) throw new Error(`${pod.name}: ${what} listens on ${containerPort}, which the container does not expose (${[...pod.ports.keys()].join(', ')})`);
    return p;
  };
  const httpPort = (getPath(cfg, 'server.http_listen_port') as number | undefined) ?? 3200;
  const grpcPort = (getPath(cfg, 'server.grpc_listen_port') as number | undefined) ?? 9095;
  setPath(cfg, 'server.http_listen_address', '127.0.0.1', pod, 'pods share 127.0.0.1 here', rewrites);
  setPath(cfg, 'server.http_listen_port', exposed(httpPort, 'server.http_listen_port'), pod, 'a free port for this pod', rewrites);
  setPath(cfg, 'server.grpc_listen_address', '127.0.0.1', pod, 'pods share 127.0.0.1 here', rewrites);
  setPath(cfg, 'server.grpc_listen_port', exposed(grpcPort, 'server.grpc_listen_port'), pod, 'a free port for this pod', rewrites);
  for (const proto of ['grpc', 'http']) {
    const path = `distributor.receivers.otlp.protocols.${proto}.endpoint`;
    const ep = getPath(cfg, path);
    if (typeof ep !== 'string') continue;
    const m = HOST_PORT.exec(ep) ?? /^(\[?[0-9a-f:.]*\]?):(\d+)$/i.exec(ep);
    if (!m) throw new Error(`${pod.name}: ${path} ${ep} is not host:port`);
    const port = Number(m.at(-1));
    // Only the distributor opens the receivers; another pod's value is unused, and moved off the shared port all the same.
    const local = pod.ports.get(port) ?? (pod.component === 'distributor' ? exposed(port, path) : await freeTcpPort());
    setPath(cfg, path, `127.0.0.1:${local}`, pod, pod.ports.has(port) ? 'a free port for this pod' : 'unused by this target; off the shared port', rewrites);
  }

  // 3. Identity: Kubernetes gives a pod its name as hostname (every ring's instance ID and the
  //    querier's worker ID by default) and an IP (the ring address, found on eth0 by default).
  for (const path of ['ingester.lifecycler.id', 'distributor.ring.instance_id', 'compactor.ring.instance_id', 'metrics_generator.ring.instance_id', 'querier.frontend_worker.id']) {
    setPath(cfg, path, pod.name, pod, "the pod's hostname, the default here too in Kubernetes", rewrites);
  }
  for (const path of ['ingester.lifecycler.address', 'distributor.ring.instance_addr', 'compactor.ring.instance_addr', 'metrics_generator.ring.instance_addr']) {
    setPath(cfg, path, '127.0.0.1', pod, "the pod's IP, the default in Kubernetes", rewrites);
  }

  // 4. S3: the endpoint (a bare host: https, 443 unless insecure) -> the test's S3 server, which
  //    speaks plain HTTP, so insecure: true. Bucket, region and addressing style stay as rendered;
  //    the credentials, which IRSA gives the pod, come from the environment (Cluster: s3.env()).
  const s3 = getPath(cfg, 'storage.trace.s3') as Tree | undefined;
  if (getPath(cfg, 'storage.trace.backend') === 's3' && s3) {
    const ep = String(s3['endpoint'] ?? '');
    const m = HOST_PORT.exec(ep);
    const host = m ? m[1]! : ep;
    const port = m ? Number(m[3]) : s3['insecure'] ? 80 : 443;
    const local = dns.resolve(host, port);
    setPath(cfg, 'storage.trace.s3.endpoint', `127.0.0.1:${local}`, pod, `${host}:${port} is the test's S3 server`, rewrites);
    if (s3['insecure'] !== true) setPath(cfg, 'storage.trace.s3.insecure', true, pod, "the test's S3 server speaks plain HTTP", rewrites);
  }

  // 5. Every other host:port and URL naming a host (etcd endpoints, the frontend discovery Service,
  //    remote_write URLs, ...) -> 127.0.0.1 and the remapped port; an unknown name fails.
  mapStrings(cfg, '', (s, path) => {
    if (path === 'storage.trace.s3.endpoint') return s;
    const u = URL_RE.exec(s);
    if (u && !isIP(u[2]!)) {
      const port = u[3] ? Number(u[3]) : u[1]!.toLowerCase() === 'https' ? 443 : 80;
      const to = `http://127.0.0.1:${dns.resolve(u[2]!, port)}${u[4] ?? ''}`;
      note(path, s, to, `${u[2]}:${port} on loopback`);
      return to;
    }
    const hp = HOST_PORT.exec(s);
    if (hp && !isIP(hp[1]!) && !/^\d/.test(hp[1]!)) {
      const to = `127.0.0.1:${dns.resolve(hp[1]!, Number(hp[3]))}`;
      note(path, s, to, `${s} on loopback`);
      return to;
    }
    return s;
  });

  const text = YAML.stringify(cfg);
  writeFileSync(file, text);
  return text;
}

/**
 * Plans, configures and starts every pod as a ClusterNode of `cluster` (its etcd and S3 server are
 * the peers; `peers` says which rendered names they stand for). Resolves once all answer /ready.
 */
export async function startChartPods(cluster: Cluster, docs: Obj[], namespace: string, peers: LoopbackPeer[], rewrites: LoopbackRewrite[]): Promise<{ pods: LoopbackPod[]; dns: LoopbackDns }> {
  const pods = await planPods(docs, cluster.dir, namespace, readImageDefaults(), rewrites);
  const dns = new LoopbackDns(docs, pods, peers, namespace);
  for (const pod of pods) {
    await rewriteConfig(pod, dns, rewrites);
    const target = pod.args.find((a) => a.startsWith('-target='))?.slice('-target='.length) ?? 'all';
    pod.node = await cluster.define({ name: pod.name, target, args: pod.args, env: pod.env, cwd: pod.cwd });
  }
  // Workloads start together; a StatefulSet with OrderedReady (its default) starts pod N+1 only once
  // pod N is ready (/ready, the readiness probe), so an ingester that waited for its peers to be
  // ready would hang the rollout here as it would in Kubernetes.
  await Promise.all(
    workloads(docs).filter((w) => component(w) !== 'etcd').map(async (w) => {
      const mine = pods.filter((p) => p.workload === w);
      if (w['kind'] === 'StatefulSet' && w['spec']['podManagementPolicy'] !== 'Parallel') {
        for (const p of mine) await p.node!.start(150_000);
      } else await Promise.all(mine.map((p) => p.node!.start(150_000)));
    }),
  );
  for (const p of pods) {
    const want = p.ports.get(p.portNames.get('http-metrics') ?? -1);
    if (p.node!.http !== want) throw new Error(`${p.name} serves HTTP on ${p.node!.http}, not the remapped ${want}`);
  }
  return { pods, dns };
}
