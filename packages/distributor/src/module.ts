// The distributor module: Tempo's `distributor:` keys, its OTLP receivers (gRPC :4317, HTTP
// :4318) and the optional Zipkin receiver (:9411), and the factory the module table calls. Ingesters and metrics-generators are reached
// through the interfaces it is given: in-process objects, or clients.

import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { GeneratorPusher, IngesterPusher, LimitsProvider, Logger } from '@andante/model';
import { defaultBasicRingConfig, type BasicRingConfig, type InstanceDesc, type RingSnapshot } from '@andante/ring';
import type { Service } from '@andante/service';
import { ExportDecoderPool } from './decoder-pool.js';
import { Distributor } from './distributor.js';
import { GeneratorForwarder, generatorPushCounter } from './generator-forwarder.js';
import { GeneratorRingPusher } from './generator-ring-pusher.js';
import { OtlpGrpcReceiver } from './receivers/otlp-grpc.js';
import { createOtlpHttpReceiver } from './receivers/otlp-http.js';
import { createZipkinReceiver, ZIPKIN_MAX_BODY_BYTES } from './receivers/zipkin.js';
import { defaultReceiverTlsConfig, readReceiverTls, type ReceiverTlsConfig } from './receivers/tls.js';

export interface OtlpGrpcProtocolConfig {
  endpoint: string;
  max_recv_msg_size_mib: number;
  tls: ReceiverTlsConfig;
}
export interface OtlpHttpProtocolConfig {
  endpoint: string;
  max_request_body_size: number;
  tls: ReceiverTlsConfig;
}

/** Tempo's `distributor:` block as Andante reads it. */
export interface DistributorConfig {
  receivers: {
    otlp: {
      protocols: {
        /** null when the receivers block lists protocols and this one is not among them. */
        grpc: OtlpGrpcProtocolConfig | null;
        http: OtlpHttpProtocolConfig | null;
      };
    };
    /** Zipkin JSON v2 on POST /api/v2/spans; null (the default) unless the receivers block lists it. */
    zipkin: ZipkinReceiverConfigBlock | null;
  };
  /** Tempo's `distributor.ring`: the distributors' own ring (its member joins with this module; the server builds it). */
  ring: BasicRingConfig;
}

/** `distributor.receivers.zipkin` (the Collector's zipkin receiver keys Andante reads). */
export interface ZipkinReceiverConfigBlock {
  endpoint: string;
}

/** The endpoint a listed `zipkin:` with no settings listens on (the Collector's port 9411, on all interfaces like the OTLP defaults here). */
export const DEFAULT_ZIPKIN_ENDPOINT = '0.0.0.0:9411';

export function defaultDistributorConfig(): DistributorConfig {
  return {
    receivers: {
      otlp: {
        protocols: {
          // The README's one command must accept spans from other hosts/containers, so listen
          // on all interfaces (Tempo's collector default is localhost).
          grpc: { endpoint: '0.0.0.0:4317', max_recv_msg_size_mib: 4, tls: defaultReceiverTlsConfig() },
          http: { endpoint: '0.0.0.0:4318', max_request_body_size: 20 * 1024 * 1024, tls: defaultReceiverTlsConfig() },
        },
      },
      zipkin: null,
    },
    ring: defaultDistributorRingConfig(),
  };
}

/** Tempo's `distributor.ring` defaults: heartbeat_timeout 5m (Tempo's for distributors), heartbeat_period 5s. */
export function defaultDistributorRingConfig(): BasicRingConfig {
  return defaultBasicRingConfig('5m');
}

export interface DistributorModuleDeps {
  /** The ingester ring and a pusher for each member (the in-process ingester, or a client). */
  ring: () => RingSnapshot;
  ingester: (instance: InstanceDesc) => IngesterPusher;
  /**
   * The metrics-generator ring and a pusher for each member; absent when no generator is
   * reachable (spans are then not forwarded, as in Tempo with an empty generator ring).
   */
  generator?: { ring: () => RingSnapshot; client: (instance: InstanceDesc) => GeneratorPusher };
  limits: LimitsProvider;
  registry: Registry;
  logger: Logger;
  multitenancyEnabled: boolean;
}

export interface DistributorService extends Service {
  readonly distributor: Distributor;
  /** The receivers' bound ports (known after start; null for a protocol not configured). */
  ports(): { otlpGrpc: number | null; otlpHttp: number | null; zipkin: number | null };
}

export function splitEndpoint(endpoint: string, key: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  const port = Number(endpoint.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${key}: invalid endpoint ${JSON.stringify(endpoint)}, expected host:port`);
  return { host: endpoint.slice(0, i) || '0.0.0.0', port };
}

function portOf(app: FastifyInstance): number {
  const addr = app.server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

export function createDistributor(config: DistributorConfig, deps: DistributorModuleDeps): DistributorService {
  const decoder = new ExportDecoderPool();
  const g = deps.generator;
  const tap = g
    ? new GeneratorForwarder({
        pusher: new GeneratorRingPusher({ ring: g.ring, client: g.client, onPush: generatorPushCounter(deps.registry) }),
        limits: deps.limits,
        registry: deps.registry,
        logger: deps.logger,
      })
    : undefined;
  const distributor = new Distributor({
    ring: deps.ring,
    ingester: deps.ingester,
    limits: deps.limits,
    registry: deps.registry,
    logger: deps.logger,
    decoder,
    ...(tap ? { tap } : {}),
  });
  const protocols = config.receivers.otlp.protocols;
  let otlpGrpc: OtlpGrpcReceiver | undefined;
  let otlpHttp: FastifyInstance | undefined;
  let zipkin: FastifyInstance | undefined;
  let ports = { otlpGrpc: null as number | null, otlpHttp: null as number | null, zipkin: null as number | null };
  return {
    name: 'distributor',
    distributor,
    ports: () => ports,
    async start() {
      if (protocols.grpc) {
        otlpGrpc = new OtlpGrpcReceiver(
          distributor,
          {
            endpoint: protocols.grpc.endpoint,
            maxRecvMsgSizeMiB: protocols.grpc.max_recv_msg_size_mib,
            multitenancyEnabled: deps.multitenancyEnabled,
            tls: readReceiverTls(protocols.grpc.tls, 'distributor.receivers.otlp.protocols.grpc.tls'),
          },
          deps.logger.child({ component: 'otlp-grpc' }),
        );
        await otlpGrpc.start();
        ports = { ...ports, otlpGrpc: otlpGrpc.port };
      }
      if (protocols.http) {
        const { host, port } = splitEndpoint(protocols.http.endpoint, 'distributor.receivers.otlp.protocols.http.endpoint');
        otlpHttp = createOtlpHttpReceiver(
          distributor,
          {
            host,
            port,
            maxRequestBodyBytes: protocols.http.max_request_body_size,
            multitenancyEnabled: deps.multitenancyEnabled,
            tls: readReceiverTls(protocols.http.tls, 'distributor.receivers.otlp.protocols.http.tls'),
          },
          deps.logger.child({ component: 'otlp-http' }),
        );
        await otlpHttp.listen({ host, port });
        ports = { ...ports, otlpHttp: portOf(otlpHttp) };
      }
      const zipkinConfig = config.receivers.zipkin;
      if (zipkinConfig) {
        const { host, port } = splitEndpoint(zipkinConfig.endpoint, 'distributor.receivers.zipkin.endpoint');
        zipkin = createZipkinReceiver(
          distributor,
          { host, port, maxRequestBodyBytes: protocols.http?.max_request_body_size ?? ZIPKIN_MAX_BODY_BYTES, multitenancyEnabled: deps.multitenancyEnabled },
          deps.logger.child({ component: 'zipkin' }),
        );
        await zipkin.listen({ host, port });
        ports = { ...ports, zipkin: portOf(zipkin) };
      }
    },
    async stop() {
      // Stop taking data first; what the tap holds then goes to the generator in a last push.
      await otlpGrpc?.stop();
      await otlpHttp?.close();
      await zipkin?.close();
      await tap?.stop();
      await decoder.close();
    },
    notReady: () => undefined,
  };
}
