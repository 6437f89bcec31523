import type { TlsOptions } from '../connection/tls-listener.js';

/** The amqps listener: where, and its ssl_options. */
export interface TlsListenerConfig extends TlsOptions {
  readonly port: number;
}

/** Replication policy while the standby is away: hold confirms, or confirm alone. */
export type ReplicationPolicy = 'hold' | 'alone';

/** The replication link (spec/replication.md). */
export interface ReplicationConfig {
  /** Where the link listens: a primary's standby connects here (a standby listens too, for after a promotion). */
  readonly port: number;
  /** The primary's replication address: this node starts as its standby. */
  readonly standbyOf: { readonly host: string; readonly port: number } | undefined;
  /** Both nodes prove they know it when the link opens; it never crosses the link. */
  readonly secret: string;
  /** What a primary does about confirms while its standby is out of sync. */
  readonly policy: ReplicationPolicy;
  /** A peer silent this long (or a standby this late acknowledging) is dropped. */
  readonly timeoutMs: number;
  /** Automatic failover: etcd decides which node is primary (spec/failover.md); none: an operator promotes. */
  readonly arbiter?: ArbiterConfig | undefined;
}

/** Automatic failover's settings. */
export interface ArbiterConfig {
  /** etcd's client URLs (http://host:2379), one per member. */
  readonly etcd: readonly string[];
  /** Every key of this pair starts with it: one etcd can serve several pairs. */
  readonly prefix: string;
  /** The leader's lease: a dead primary is replaced this long after its last renewal, at most. */
  readonly leaseTtlSeconds: number;
  /** host:port the other node (replication) and clients (amqp) reach this one at; by default the bound host and ports. */
  readonly advertise: { readonly amqp?: string | undefined; readonly replication?: string | undefined };
}

export const DEFAULT_ETCD_PREFIX = '/amqp-broker/';
export const DEFAULT_LEASE_TTL_SECONDS = 5;

/** Settings of one broker instance, with RabbitMQ's defaults where it has one. */
export interface BrokerConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logLevel: string;
  /** Largest frame offered in connection.tune. */
  readonly frameMax: number;
  readonly channelMax: number;
  /** Heartbeat interval offered in connection.tune, seconds (0 disables). */
  readonly heartbeat: number;
  readonly maxMessageSize: number;
  /** Seconds a client has to finish the handshake. */
  readonly handshakeTimeout: number;
  /** Unsent output per connection above which deliveries to it pause. */
  readonly connectionOutputLimit: number;
  /**
   * Share of the available memory (RAM, or the cgroup's limit when lower) above which
   * publishers are blocked (RabbitMQ's vm_memory_high_watermark.relative).
   */
  readonly memoryHighWatermark: number;
  /**
   * Share of the memory limit above which waiting messages are paged out to
   * disk, so that memory stays flat (RabbitMQ's vm_memory_high_watermark_paging_ratio).
   */
  readonly memoryPagingRatio: number;
  /** Free bytes on the data directory's file system below which publishers are blocked (RabbitMQ's disk_free_limit). */
  readonly diskFreeLimit: number;
  /**
   * Milliseconds a delivery may wait for its ack before its channel is closed
   * with 406 and its unacked messages requeued (RabbitMQ's consumer_timeout); 0 disables.
   */
  readonly consumerTimeout: number;
  readonly defaultUser: string;
  readonly defaultPassword: string;
  /** Connections the node takes at most, plain and TLS together (RabbitMQ's connection_max); 0: no limit. */
  readonly maxConnections: number;
  /** An amqps listener beside the plain one; none unless a certificate and key are given. */
  readonly tls: TlsListenerConfig | undefined;
  /** Mirroring to (or from) a peer node; none unless a replication port or a primary is given. */
  readonly replication: ReplicationConfig | undefined;
}

export const DEFAULT_CONFIG: Omit<BrokerConfig, 'dataDir'> = {
  host: '0.0.0.0',
  port: 5672,
  logLevel: 'info',
  frameMax: 131072,
  channelMax: 2047,
  heartbeat: 60,
  maxMessageSize: 128 * 1024 * 1024,
  handshakeTimeout: 10,
  connectionOutputLimit: 1024 * 1024,
  memoryHighWatermark: 0.4,
  memoryPagingRatio: 0.5,
  diskFreeLimit: 50_000_000,
  consumerTimeout: 30 * 60 * 1000,
  defaultUser: 'guest',
  defaultPassword: 'guest',
  maxConnections: 0,
  tls: undefined,
  replication: undefined,
};

/** The replication link's port: RabbitMQ's inter-node port, which a node replacing it leaves free. */
export const DEFAULT_REPLICATION_PORT = 25672;

/** How long a silent peer is waited for before the link is dropped. */
export const DEFAULT_REPLICATION_TIMEOUT_MS = 5000;

/** RabbitMQ's amqps port. */
export const DEFAULT_TLS_PORT = 5671;
