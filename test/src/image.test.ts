// The Dockerfile, built and run. buildah builds it as `docker build .` would (the repository as the
// context, .dockerignore applied, both stages), on a local stand-in for node:24-bookworm-slim that
// scripts/node-base-image.sh assembles from Debian and the official Node binary: no container
// registry is reachable from these machines. podman (with runc) then runs the image the way the
// chart's pods run it: read-only root filesystem, the config mounted at /conf, a writable volume
// at /var/tempo owned by the image's user (the chart's fsGroup), an emptyDir-like /tmp, SIGTERM to
// stop. Host networking, so the test reaches its ports on 127.0.0.1.
//
// Two host adaptations, neither part of the image: podman's default ulimits exceed this VM's (it
// has no CAP_SYS_RESOURCE), so lower ones are given; crun refuses the VM's hybrid cgroup layout,
// so runc with the cgroupfs manager runs the container.

import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { REPO_ROOT, fetchTraceProto, flush, getReady, makeTempDir, removeTempDirs, sleep } from './harness.js';
import { freeTcpPort } from './ports.js';

const run = promisify(execFile);
// Keep equal to NODE24_VERSION in scripts/install-test-peers.sh and scripts/test-node24.sh.
const NODE_VERSION = '24.22.3';
// npm as node:24's images carry a recent 11.x.
const NPM_VERSION = '11.6.2';
const IMAGE = `localhost/andante:test-${process.pid}`;
const CONTAINER = `andante-image-test-${process.pid}`;
/** The image's user (the Dockerfile's USER; the chart's runAsUser and fsGroup). */
const IMAGE_UID = 10001;
const PODMAN_HOST = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];
/** Below this VM's limits (see the header). */
const ULIMITS = ['--ulimit', 'nofile=8192:8192', '--ulimit', 'nproc=4096:4096'];

async function sh(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${(e.stderr ?? '').slice(-4000)}`);
  }
}

const podman = (args: string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string }> => sh('podman', [...PODMAN_HOST, ...args], timeoutMs);

beforeAll(async () => {
  for (const tool of ['buildah', 'podman', 'runc', 'mmdebstrap']) {
    await sh('sh', ['-c', `command -v ${tool}`]).catch(() => {
      throw new Error(`${tool} is not installed: run scripts/install-test-peers.sh (as root)`);
    });
  }
}, 30_000);

afterAll(async () => {
  await podman(['rm', '-f', '-t', '0', CONTAINER]).catch(() => undefined);
  await sh('buildah', ['rmi', '-f', IMAGE]).catch(() => undefined);
  removeTempDirs();
});

describe('the image (Dockerfile)', () => {
  it('builds from the repository with its two stages', async () => {
    const { stdout } = await sh(join(REPO_ROOT, 'scripts', 'node-base-image.sh'), [NODE_VERSION, NPM_VERSION], 600_000);
    const base = stdout.trim().split('\n').at(-1)!;
    expect(base).toBe(`localhost/andante-node:${NODE_VERSION}-bookworm-slim`);
    await sh('buildah', ['bud', '--quiet', '--isolation', 'chroot', '--network', 'host', '--build-arg', `NODE_IMAGE=${base}`, '--tag', IMAGE, REPO_ROOT], 900_000);
    const config = JSON.parse((await sh('buildah', ['inspect', '--type', 'image', IMAGE])).stdout) as { OCIv1: { config: { User: string; Entrypoint: string[]; Cmd: string[]; WorkingDir: string; Env: string[]; ExposedPorts: Record<string, unknown> } } };
    const c = config.OCIv1.config;
    expect(c.User).toBe(`${IMAGE_UID}:${IMAGE_UID}`);
    expect(c.Entrypoint).toEqual(['andante']);
    expect(c.Cmd).toEqual(['-target=all']);
    expect(c.WorkingDir).toBe('/var/tempo');
    expect(c.Env).toContain('NODE_ENV=production');
    expect(Object.keys(c.ExposedPorts).sort()).toEqual(['3200/tcp', '4317/tcp', '4318/tcp', '9095/tcp']);
  }, 1_200_000);

  it('holds Node 24 and the server with production dependencies only', async () => {
    const inImage = async (script: string): Promise<string> => (await podman(['run', '--rm', '--network', 'host', ...ULIMITS, '--entrypoint', 'sh', IMAGE, '-c', script])).stdout.trim();
    expect(await inImage('node --version')).toBe(`v${NODE_VERSION}`);
    expect(await inImage('readlink -f "$(command -v andante)"')).toBe('/opt/andante/dist/bin.js');
    // Every package pnpm deployed, by name: the server's dependencies, none of the workspace's
    // development tools (the root's and each package's devDependencies). Type packages aside:
    // production libraries declare some as their own dependencies (protobufjs: @types/node).
    const deployed = new Set((await inImage('ls /opt/andante/node_modules/.pnpm')).split('\n').map((entry) => entry.replace(/@[^@]*$/, '').replace('+', '/')));
    expect(deployed.has('prom-client')).toBe(true);
    const devOnly = new Set<string>();
    for (const manifest of [join(REPO_ROOT, 'package.json'), ...readdirSync(join(REPO_ROOT, 'packages')).map((p) => join(REPO_ROOT, 'packages', p, 'package.json'))]) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { devDependencies?: Record<string, string> };
      for (const name of Object.keys(pkg.devDependencies ?? {})) if (!name.startsWith('@andante/') && !name.startsWith('@types/')) devOnly.add(name);
    }
    expect(devOnly.size).toBeGreaterThan(0);
    expect([...devOnly].filter((name) => deployed.has(name))).toEqual([]);
    expect(deployed.has('vitest')).toBe(false);
    expect(deployed.has('typescript')).toBe(false);
  }, 120_000);

  it('runs as the chart runs it: serves OTLP and the API as uid 10001 on a read-only root, keeps blocks on its volume, stops cleanly', async () => {
    const dir = makeTempDir('image');
    const confDir = join(dir, 'conf');
    const dataDir = join(dir, 'var-tempo');
    mkdirSync(confDir);
    mkdirSync(dataDir);
    chownSync(dataDir, IMAGE_UID, IMAGE_UID);
    const ports = { http: await freeTcpPort(), grpc: await freeTcpPort(), otlpGrpc: await freeTcpPort(), otlpHttp: await freeTcpPort() };
    // Ports only: storage keeps its defaults, relative to the image's WORKDIR (/var/tempo).
    writeFileSync(
      join(confDir, 'tempo.yaml'),
      [
        `server: { http_listen_address: 127.0.0.1, http_listen_port: ${ports.http}, grpc_listen_address: 127.0.0.1, grpc_listen_port: ${ports.grpc} }`,
        `distributor: { receivers: { otlp: { protocols: { grpc: { endpoint: "127.0.0.1:${ports.otlpGrpc}" }, http: { endpoint: "127.0.0.1:${ports.otlpHttp}" } } } } }`,
        '',
      ].join('\n'),
    );
    await podman([
      'run', '--detach', '--name', CONTAINER, '--network', 'host', ...ULIMITS,
      '--read-only', '--read-only-tmpfs=false', '--tmpfs', '/tmp',
      '--volume', `${confDir}:/conf:ro`, '--volume', `${dataDir}:/var/tempo`,
      IMAGE, '-target=all', '-config.file=/conf/tempo.yaml',
    ]);
    const deadline = Date.now() + 60_000;
    while ((await getReady(ports.http).catch(() => 0)) !== 200) {
      if (Date.now() > deadline) throw new Error(`the container never answered /ready 200:\n${(await podman(['logs', CONTAINER])).stderr.slice(-4000)}`);
      await sleep(250);
    }

    // The server process is the image's user; its root filesystem refuses writes.
    const pid = Number((await podman(['inspect', '--format', '{{.State.Pid}}', CONTAINER])).stdout.trim());
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(IMAGE_UID));
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('/usr/local/bin/andante');
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain('NODE_ENV=production');
    await expect(podman(['exec', CONTAINER, 'sh', '-c', 'touch /opt/andante/written'])).rejects.toThrow(/Read-only file system/);

    // Traces from the OTel JS SDK over both OTLP transports, read back by ID.
    const traceIds: string[] = [];
    for (const exporter of [new GrpcExporter({ url: `http://127.0.0.1:${ports.otlpGrpc}` }), new ProtoExporter({ url: `http://127.0.0.1:${ports.otlpHttp}/v1/traces` })]) {
      const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'image-test' }), spanProcessors: [new BatchSpanProcessor(exporter)] });
      const tracer = provider.getTracer('image-test');
      const root = tracer.startSpan('GET /checkout');
      root.setStatus({ code: SpanStatusCode.ERROR, message: 'payment declined' });
      root.end();
      traceIds.push(root.spanContext().traceId);
      await provider.forceFlush();
      await provider.shutdown();
    }
    for (const id of traceIds) {
      const got = await fetchTraceProto(ports.http, id);
      expect(got.status, `trace ${id} from the head`).toBe(200);
      expect(got.trace!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.name).toBe('GET /checkout');
    }

    // A flush writes a block on the volume, as the image's user; the traces read back from it.
    await flush(ports.http);
    const blockFiles = (await sh('find', [dataDir, '-name', 'data.parquet', '-user', String(IMAGE_UID)])).stdout.trim().split('\n').filter(Boolean);
    expect(blockFiles.length).toBeGreaterThan(0);
    for (const id of traceIds) expect((await fetchTraceProto(ports.http, id)).status, `trace ${id} after /flush`).toBe(200);

    // SIGTERM (podman stop), as the kubelet stops a pod: a clean exit, 0.
    await podman(['stop', '--time', '60', CONTAINER], 90_000);
    expect((await podman(['inspect', '--format', '{{.State.ExitCode}}', CONTAINER])).stdout.trim()).toBe('0');
    expect((await podman(['logs', CONTAINER])).stderr).toContain('andante stopped');
  }, 180_000);
});
