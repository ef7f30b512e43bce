// Config of one andante process in a multi-process cluster on loopback: its -target, every ring
// in one etcd (a prefix per test), short heartbeats, the internal gRPC port bound by the OS, and
// the ingester ring's replication factor. Merge test-specific keys over it (startProcess does).

export interface ClusterConfigOptions {
  /** The etcd client endpoint (startTestEtcd().endpoint). */
  etcdEndpoint: string;
  /** Keeps this test's rings apart from other tests on the same etcd. */
  prefix: string;
  target: string;
  /** Unique per process: the ring instance IDs derive from it. */
  name: string;
  replicationFactor?: number;
  /** Ring heartbeat timeout (an unheartbeating member turns UNHEALTHY after it). */
  heartbeatTimeout?: string;
}

export function clusterConfig(o: ClusterConfigOptions): Record<string, unknown> {
  const kvstore = { store: 'etcd', prefix: o.prefix, etcd: { endpoints: [o.etcdEndpoint], dial_timeout: '1s', max_retries: 2 } };
  const timeout = o.heartbeatTimeout ?? '3s';
  const basic = (id: string) => ({ kvstore, heartbeat_period: '200ms', heartbeat_timeout: timeout, instance_id: id, instance_addr: '127.0.0.1' });
  return {
    target: o.target,
    server: { grpc_listen_address: '127.0.0.1', grpc_listen_port: 0 },
    ingester: {
      lifecycler: {
        id: `ingester-${o.name}`,
        address: '127.0.0.1',
        heartbeat_period: '200ms',
        ring: { kvstore, heartbeat_timeout: timeout, replication_factor: o.replicationFactor ?? 1 },
      },
    },
    metrics_generator: { ring: basic(`generator-${o.name}`) },
    compactor: { ring: basic(`compactor-${o.name}`) },
    distributor: { ring: basic(`distributor-${o.name}`) },
  };
}
