// The ring in etcd (`kvstore.store: etcd`), through the etcd3 client. Keys under `prefix`:
//   <prefix><ringKey>                     the descriptor (JSON), written only by a transaction that
//                                         compares its mod revision (compare-and-swap)
//   <prefix><ringKey>/heartbeats/<id>     {"timestamp":ms}, bound to the member's own lease
// One watch on <prefix><ringKey> tells members about both without polling.

import { readFileSync } from 'node:fs';
import { Etcd3, EtcdLeaseInvalidError, isRecoverableError, type Lease, type Watcher } from 'etcd3';
import { ExponentialBackoff, handleWhen, noop, retry, type IBackoff } from 'cockatiel';
import type { Logger } from '@andante/model';
import { emptyRingDesc, type RingDesc, type RingKV, type RingState, type RingWatchListener } from './kv.js';

/** Something that holds a secret without printing it (@andante/model's Secret). */
export interface SecretValue {
  reveal(): string;
}

export interface EtcdClientConfig {
  endpoints: string[];
  dialTimeoutMs: number;
  maxRetries: number;
  tlsEnabled: boolean;
  tlsCertPath: string;
  tlsKeyPath: string;
  tlsCaPath: string;
  username: string;
  password: SecretValue;
}

export class EtcdRingKV implements RingKV {
  readonly kind = 'etcd' as const;
  private readonly client: Etcd3;
  private readonly leases = new Map<string, Lease>();
  private readonly hbPrefix: string;
  private readonly ttlSeconds: number;
  private readonly watchers = new Set<Watcher>();

  /**
   * @param key the descriptor's key, `prefix + ringKey` (Tempo: `collectors/ring`)
   * @param leaseTtlMs heartbeat_timeout: a member whose lease is not renewed for this long expires
   */
  constructor(
    cfg: EtcdClientConfig,
    private readonly key: string,
    leaseTtlMs: number,
    private readonly logger: Logger,
  ) {
    if (cfg.endpoints.length === 0) throw new Error('kvstore.etcd.endpoints: at least one endpoint is required when kvstore.store is etcd');
    this.hbPrefix = `${key}/heartbeats/`;
    // etcd grants whole seconds and enforces its own minimum (about 2 s with default timing).
    this.ttlSeconds = Math.max(1, Math.ceil(leaseTtlMs / 1000));
    const scheme = cfg.tlsEnabled ? 'https://' : 'http://';
    const backoff = new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 });
    this.client = new Etcd3({
      hosts: cfg.endpoints.map((e) => (/^https?:\/\//.test(e) ? e : scheme + e)),
      dialTimeout: cfg.dialTimeoutMs,
      // gRPC's reconnect backoff grows to 2 minutes by default; a ring must be back within a heartbeat.
      grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1_000 },
      // https:// alone makes etcd3 use TLS with the system's root CAs; files override them.
      ...(cfg.tlsEnabled && (cfg.tlsCaPath || cfg.tlsCertPath || cfg.tlsKeyPath)
        ? {
            credentials: {
              // null (no CA file): grpc-js falls back to the system's roots, as Tempo does.
              rootCertificate: cfg.tlsCaPath ? readFileSync(cfg.tlsCaPath) : (null as unknown as Buffer),
              ...(cfg.tlsKeyPath ? { privateKey: readFileSync(cfg.tlsKeyPath) } : {}),
              ...(cfg.tlsCertPath ? { certChain: readFileSync(cfg.tlsCertPath) } : {}),
            },
          }
        : {}),
      ...(cfg.username ? { auth: { username: cfg.username, password: cfg.password.reveal() } } : {}),
      // Unary calls fail after dial_timeout instead of hanging on a dead endpoint.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + cfg.dialTimeoutMs }),
      faultHandling: {
        // No circuit breaker: after an etcd restart the next call should go through at once.
        host: () => noop,
        global: retry(handleWhen(isRecoverableError), { maxAttempts: cfg.maxRetries, backoff }),
        // etcd3 calls next() on this itself; its typings name an older cockatiel interface.
        watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2_000 }) as unknown as IBackoff<unknown>,
      },
    });
  }

  async read(): Promise<RingState> {
    const res = await this.client.getAll().prefix(this.key).exec();
    let desc: RingDesc = emptyRingDesc();
    let version = '0';
    const heartbeats = new Map<string, number>();
    for (const kv of res.kvs) {
      const k = kv.key.toString();
      if (k === this.key) {
        desc = parseDesc(kv.value.toString());
        version = kv.mod_revision;
      } else if (k.startsWith(this.hbPrefix)) {
        const ts = Number((JSON.parse(kv.value.toString()) as { timestamp?: unknown }).timestamp);
        if (Number.isFinite(ts)) heartbeats.set(k.slice(this.hbPrefix.length), ts);
      }
    }
    return { desc, version, heartbeats };
  }

  async compareAndSwap(version: string, next: RingDesc): Promise<boolean> {
    // Mod revision 0 matches a key that does not exist yet: the first writer creates it.
    const res = await this.client.if(this.key, 'Mod', '==', version).then(this.client.put(this.key).value(JSON.stringify(next))).commit();
    return res.succeeded;
  }

  async heartbeat(id: string, timestampMs: number): Promise<void> {
    let lease = this.leases.get(id);
    if (lease) {
      try {
        await lease.keepaliveOnce();
      } catch (err) {
        // Expired while we could not reach etcd (or revoked by someone): start a new one.
        if (!(err instanceof EtcdLeaseInvalidError)) throw err;
        this.logger.warn('ring lease expired, granting a new one', { ring: this.key, instance: id });
        this.leases.delete(id);
        lease = undefined;
      }
    }
    if (!lease) {
      const fresh = this.client.lease(this.ttlSeconds, { autoKeepAlive: false });
      // 'lost' also fires when the grant itself fails; the next heartbeat grants again.
      fresh.on('lost', () => undefined);
      try {
        await fresh.grant();
      } catch (err) {
        fresh.release();
        throw err;
      }
      this.leases.set(id, fresh);
      lease = fresh;
    }
    await lease.put(this.hbPrefix + id).value(JSON.stringify({ timestamp: timestampMs }));
  }

  async releaseHeartbeat(id: string): Promise<void> {
    const lease = this.leases.get(id);
    this.leases.delete(id);
    if (lease) await lease.revoke();
    else await this.client.delete().key(this.hbPrefix + id);
  }

  async watch(listener: RingWatchListener): Promise<() => void> {
    const watcher = await this.client.watch().prefix(this.key).create();
    this.watchers.add(watcher);
    const relevant = (k: Buffer): boolean => {
      const s = k.toString();
      return s === this.key || s.startsWith(this.hbPrefix);
    };
    watcher.on('put', (kv) => relevant(kv.key) && listener.onChange());
    watcher.on('delete', (kv) => relevant(kv.key) && listener.onChange());
    watcher.on('disconnected', (err: Error) => listener.onConnection(false, err));
    watcher.on('connected', () => listener.onConnection(true));
    watcher.on('error', (err: Error) => listener.onConnection(false, err));
    return () => {
      this.watchers.delete(watcher);
      void watcher.cancel().catch(() => undefined);
    };
  }

  /** Closes the connection; leases are left to expire (a member that leaves revokes its own first). */
  async close(): Promise<void> {
    for (const w of this.watchers) await w.cancel().catch(() => undefined);
    this.watchers.clear();
    for (const lease of this.leases.values()) lease.release();
    this.leases.clear();
    this.client.close();
  }
}

function parseDesc(text: string): RingDesc {
  const parsed = JSON.parse(text) as Partial<RingDesc>;
  return { members: parsed.members ?? {} };
}
