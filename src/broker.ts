import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type AlarmOptions, ResourceAlarms } from './alarm/resource-alarms.js';
import { AccessAdmin } from './auth/access-admin.js';
import type { AccessControl } from './auth/access-control.js';
import { ConnectionLimits } from './auth/connection-limits.js';
import { Tenancy } from './auth/tenancy.js';
import { ConsumerTimeout } from './channel/consumer-timeout.js';
import { type BrokerConfig, DEFAULT_CONFIG, type ReplicationConfig } from './config/broker-config.js';
import { Connection } from './connection/connection.js';
import type { ConnectionContext } from './connection/connection-context.js';
import { HeartbeatClock } from './connection/heartbeat-clock.js';
import { createLogger } from './log/logger.js';
import { ReplyCode } from './protocol/generated/amqp-constants.js';
import { CommandRefusal, type ReplicationControl } from './control/commands.js';
import { ControlServer } from './control/control-server.js';
import { CONTROL_SOCKET } from './control/control-socket.js';
import { createTlsServer } from './connection/tls-listener.js';
import { PageFile } from './paging/page-file.js';
import { Replicator, turnAwayPeers } from './replication/replicator.js';
import type { ReplicationStatus } from './replication/replication-status.js';
import type { PrimaryFence } from './replication/primary-fence.js';
import { Standby } from './replication/standby.js';
import { type PromotedJournal, type PromotionSource, StandbyDirectory } from './replication/standby-directory.js';
import { newestSnapshotEpoch } from './store/definitions-recovery.js';
import { DataDirLock } from './store/data-dir-lock.js';
import { DurableStore, type DurableStoreOptions } from './store/durable-store.js';
import { DEFAULT_SEGMENT_SIZE } from './store/journal.js';
import { nodeStoreFs, type StoreFs } from './store/store-fs.js';
import type { VirtualHost } from './vhost/virtual-host.js';

export interface BrokerOptions extends Partial<BrokerConfig>, AlarmOptions {
  /** A logger to use instead of one made from logLevel. */
  readonly logger?: Logger;
  /** The store's file system; tests pass one that simulates power loss. */
  readonly storeFs?: StoreFs;
  /** Journal segment size in bytes (32 MiB by default); tests use small ones to exercise rotation. */
  readonly segmentSize?: number;
  /** How often the journal looks for a segment to compact (1 s by default); fault tests look more often. */
  readonly compactionLookMs?: number;
  /** Start from a damaged data directory, moving what cannot be read aside, rather than refuse (--force-recover). */
  readonly forceRecover?: boolean;
  /** Automatic failover's node (failover/failover-node.ts): its identity, and what it adds to the replication status. */
  readonly failover?: FailoverHooks;
}

/** What automatic failover tells the broker it runs. */
export interface FailoverHooks {
  /** This data directory's identity, told to the primary by a standby. */
  readonly nodeId: string;
  /** The leader, the epoch and the in-sync record, as etcd last said: shown by the ctl tool. */
  status(): Record<string, string>;
}

/** A promotion by the arbiter: the epoch etcd granted, and the leadership that fences confirms. */
export interface ElectedPromotion {
  readonly epoch: number;
  readonly fence: PrimaryFence;
}

/** What broker.exchangeStats() tells about an exchange. */
export interface ExchangeStats {
  readonly type: string;
  readonly durable: boolean;
  /** Bindings whose source is the exchange. */
  readonly bindings: number;
  /** x-delayed-message exchanges only: messages held until their x-delay is over (the plugin's messages_delayed). */
  readonly messagesDelayed: number | undefined;
}

/** How long a primary shutting down waits for its standby to hold everything. */
const SHUTDOWN_DRAIN_MS = 10_000;

/** A running broker; from startBroker(). */
export class Broker implements ConnectionContext, ReplicationControl {
  /** Vhosts, users and permissions. */
  readonly tenancy: Tenancy;
  /** Adds and deletes users and vhosts and sets permissions, durably (what rabbitmqctl does). */
  readonly admin: AccessAdmin;
  private readonly limits: ConnectionLimits;
  readonly clock = new HeartbeatClock();
  /** Memory and disk alarms; publishers are blocked while any is raised. */
  readonly alarms: ResourceAlarms;
  readonly consumerTimeout: ConsumerTimeout | undefined;
  readonly clusterName: string;
  private readonly connections = new Set<Connection>();
  private nextConnectionId = 1;
  private server: Server | undefined;
  private tlsServer: Server | undefined;
  /** Durable definitions and the message journal; opened by start(). */
  store: DurableStore | undefined;
  /** The ctl tool's way in; opened by start(). */
  private control: ControlServer | undefined;
  /** Where queues page waiting messages out while memory is over the paging threshold. */
  private readonly pageFile: PageFile;
  /** A primary's replication: its standby's link, and the gate confirms pass. */
  private replicator: Replicator | undefined;
  /** The replication port, bound at start whatever the role. */
  private replicationServer: Server | undefined;
  /**
   * Set while this node is a standby, with the data directory's lock it
   * holds meanwhile; its follower is unset while it waits for etcd to name
   * a primary.
   */
  private standby: { follower: Standby | undefined; primaryAmqp: string | undefined; readonly lock: DataDirLock } | undefined;
  private promoting = false;
  /** Automatic failover's say over confirms, while this node is an elected primary. */
  private fence: PrimaryFence | undefined;

  constructor(
    readonly config: BrokerConfig,
    readonly log: Logger,
    private readonly removeDataDirOnClose: boolean,
    alarmOptions: AlarmOptions,
    private readonly storage: { readonly fs: StoreFs; readonly options: DurableStoreOptions },
    private readonly failover?: FailoverHooks,
  ) {
    this.clusterName = `amqp-broker@${config.host}`;
    this.alarms = new ResourceAlarms(config, alarmOptions, log, (active) => this.onAlarm(active));
    this.pageFile = new PageFile(join(config.dataDir, 'paging'), this.alarms.memory, log);
    // RabbitMQ's loopback_users: guest may log in only from this machine.
    this.tenancy = new Tenancy(new Set(['guest']), this.pageFile);
    this.limits = new ConnectionLimits(this.tenancy.access, this.connections);
    this.admin = new AccessAdmin(this.tenancy, () => this.openStore(), (which, reason) => {
      for (const c of this.connections) if (c.isOpen && which(c)) c.close(ReplyCode.CONNECTION_FORCED, `CONNECTION_FORCED - ${reason}`);
    });
    this.consumerTimeout = config.consumerTimeout > 0 ? new ConsumerTimeout(config.consumerTimeout) : undefined;
  }

  /** The port the broker listens on (the real one when started with port 0). */
  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : this.config.port;
  }

  /** The amqps port (the real one when configured as 0); undefined without TLS. */
  get tlsPort(): number | undefined {
    const address = this.tlsServer?.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  /** An amqp:// URL for clients on this machine. */
  get url(): string {
    const host = this.config.host === '0.0.0.0' ? '127.0.0.1' : this.config.host;
    return `amqp://guest:guest@${host}:${this.port}`;
  }

  /**
   * Changes the memory alarm threshold at run time: a resident size in bytes,
   * or undefined to go back to the configured watermark share of the available memory.
   */
  setMemoryLimit(bytes: number | undefined): void {
    this.alarms.memory.setWatermark(bytes === undefined ? { relative: this.config.memoryHighWatermark } : { absolute: bytes });
  }

  /** Changes the free disk space (bytes) below which the disk alarm is raised, at run time. */
  setDiskFreeLimit(bytes: number): void {
    this.alarms.disk.setLimit(bytes);
  }

  get access(): AccessControl {
    return this.tenancy.access;
  }

  virtualHost(name: string): VirtualHost | undefined {
    return this.tenancy.vhosts.get(name);
  }

  /** An exchange's type, bindings and waiting delayed messages; undefined when there is no such exchange. */
  exchangeStats(vhost: string, name: string): ExchangeStats | undefined {
    const x = this.tenancy.vhosts.get(vhost)?.exchanges.get(name);
    if (x === undefined) return undefined;
    return { type: x.type, durable: x.options.durable, bindings: x.router.bindingCount, messagesDelayed: x.delayed?.count };
  }

  connectionRefusal(user: string, vhost: string): string | undefined {
    return this.limits.connectionRefusal(user, vhost);
  }

  channelRefusal(user: string): string | undefined {
    return this.limits.channelRefusal(user);
  }

  private openStore(): DurableStore {
    if (this.standby !== undefined) throw new CommandRefusal(`this node is a standby: make changes on the primary${this.standby.primaryAmqp === undefined ? '' : ` (${this.standby.primaryAmqp})`}`);
    if (this.store === undefined) throw new Error('the broker has not started');
    return this.store;
  }

  /** The replication port (the real one when configured as 0); undefined when not listening for a standby. */
  get replicationPort(): number | undefined {
    const address = this.replicationServer?.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  get role(): 'primary' | 'standby' {
    return this.standby === undefined ? 'primary' : 'standby';
  }

  serviceRefusal(): string | undefined {
    if (this.promoting) return 'this node is being promoted to primary; try again in a moment';
    const standby = this.standby;
    if (standby === undefined) return undefined;
    if (standby.follower === undefined) return 'this node is a standby waiting for etcd to elect a primary';
    const port = standby.follower.primaryAmqpPort;
    const primary = standby.primaryAmqp ?? `${this.config.replication!.standbyOf!.host}${port === undefined ? '' : `:${port}`}`;
    return `this node is a standby; the primary is ${primary}`;
  }

  /** Whether client input may be acted on now: not once an elected primary's leadership lapsed, even before anything noticed. */
  serving(): boolean {
    return this.fence === undefined || this.fence.holdsLeadership();
  }

  replicationStatus(): ReplicationStatus | undefined {
    const status = this.standby === undefined ? this.replicator?.status() : (this.standby.follower?.status() ?? { role: 'standby', epoch: 0, peer: undefined, state: 'waiting for etcd to elect a primary' });
    return status === undefined ? undefined : { ...status, ...this.failover?.status() };
  }

  detachStandby(): string {
    if (this.replicator === undefined) throw new CommandRefusal('this node is not a primary with a standby');
    return this.replicator.detach();
  }

  /**
   * Makes this standby the primary: it stops following, recovers the
   * mirrored journal as any restart would, in a new epoch, and serves
   * clients (and a standby of its own, on its replication port).
   */
  async promote(force: boolean): Promise<string> {
    if (this.failover !== undefined) throw new CommandRefusal('automatic failover is on: etcd elects the primary (see replication_status)');
    const refusal = this.standby?.follower?.promotionRefusal(force);
    if (refusal !== undefined) throw new CommandRefusal(refusal);
    return this.becomePrimary(undefined, force);
  }

  /** The arbiter's promotion: this standby won the election, and the epoch is etcd's. */
  promoteElected(elected: ElectedPromotion): Promise<string> {
    return this.becomePrimary(elected, false);
  }

  private async becomePrimary(elected: ElectedPromotion | undefined, forced: boolean): Promise<string> {
    const standby = this.standby;
    if (standby === undefined) throw new CommandRefusal('this node is the primary already');
    if (this.promoting) throw new CommandRefusal('a promotion is under way');
    this.promoting = true;
    try {
      let journal: PromotedJournal;
      if (standby.follower !== undefined) journal = await standby.follower.stopForPromotion();
      else journal = await new StandbyDirectory(this.config.dataDir, this.storage.fs).prepareForPromotion();
      this.standby = undefined;
      standby.lock.release();
      this.fence = elected?.fence;
      await this.openAsPrimary(elected === undefined ? { newEpoch: true } : { epoch: elected.epoch });
      const epoch = this.store!.journal.epoch;
      this.log.warn({ epoch, journal, forced, elected: elected !== undefined }, 'replication: promoted to primary');
      return `Promoted to primary in epoch ${epoch} (journal: ${journal})`;
    } finally {
      this.promoting = false;
    }
  }

  /** The journal a promotion would start from now, and its newest epoch: whether this node may stand for election. */
  async promotionSource(): Promise<PromotionSource> {
    const { kind, dir } = new StandbyDirectory(this.config.dataDir, this.storage.fs).promotionSource();
    return { kind, epoch: dir === undefined ? 0 : await newestSnapshotEpoch(dir, this.storage.fs) };
  }

  /**
   * Points this standby at the primary etcd elected: a new follower when
   * the primary is not the one followed now.
   */
  async follow(replication: { readonly host: string; readonly port: number }, primaryAmqp: string): Promise<void> {
    const standby = this.standby;
    const config = this.config.replication;
    if (standby === undefined || config === undefined || this.promoting) return;
    if (standby.follower?.primary === `${replication.host}:${replication.port}`) return;
    const previous = standby.follower;
    standby.follower = undefined;
    await previous?.close();
    if (this.standby !== standby || this.promoting) return;
    standby.primaryAmqp = primaryAmqp;
    turnAwayPeers(this.replicationServer!, `this node is a standby of ${replication.host}:${replication.port}`);
    standby.follower = await this.startFollower({ ...config, standbyOf: replication });
  }

  connectionClosed(connection: object): void {
    this.connections.delete(connection as Connection);
  }

  /** Recovers the data directory, then accepts connections. */
  async start(): Promise<void> {
    const started = Date.now();
    const replication = this.config.replication;
    // Bound first, whatever the role: a port in use stops the start, never a promotion.
    if (replication !== undefined) {
      this.replicationServer = createServer();
      await listenOn(this.replicationServer, replication.port, this.config.host);
    }
    try {
      if (replication?.standbyOf !== undefined || replication?.arbiter !== undefined) {
        await this.startStandby(replication);
      } else {
        await this.openAsPrimary({});
        this.log.info({ ms: Date.now() - started }, 'data directory recovered');
      }
    } catch (err) {
      this.replicationServer?.close();
      throw err;
    }
    await this.listenForControl();
    await this.listen();
  }

  /**
   * Follows the primary (with automatic failover, none until etcd names
   * one), holding the data directory's lock meanwhile; the replication port
   * turns peers away.
   */
  private async startStandby(replication: ReplicationConfig): Promise<void> {
    const primary = replication.standbyOf;
    turnAwayPeers(this.replicationServer!, primary === undefined ? 'this node is a standby waiting for etcd to elect a primary' : `this node is a standby of ${primary.host}:${primary.port}`);
    const lock = DataDirLock.acquire(this.config.dataDir);
    try {
      const follower = primary === undefined ? undefined : await this.startFollower(replication);
      this.standby = { follower, primaryAmqp: undefined, lock };
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  private startFollower(replication: ReplicationConfig): Promise<Standby> {
    const { fs, options } = this.storage;
    return Standby.start(replication, {
      dataDir: this.config.dataDir,
      fs,
      log: this.log,
      defaults: this.defaultAccess,
      nodeId: this.failover?.nodeId,
      segmentSize: options.segmentSize ?? DEFAULT_SEGMENT_SIZE,
      compactionLookMs: options.compactionLookMs,
      onFailure: (err) => this.onStoreFailure(err),
    });
  }

  private get defaultAccess(): { vhost: string; user: string; password: string } {
    return { vhost: '/', user: this.config.defaultUser, password: this.config.defaultPassword };
  }

  /** Recovers the data directory (a promotion: in a new epoch) and, when configured, listens for a standby. */
  private async openAsPrimary(epoch: { readonly newEpoch: true } | { readonly epoch: number } | Record<string, never>): Promise<void> {
    const { fs, options } = this.storage;
    const store = await DurableStore.open(this.config.dataDir, fs, this.log, this.tenancy, this.defaultAccess, { ...options, ...epoch }, (err) => this.onStoreFailure(err));
    this.store = store;
    // Only once the store holds the data directory's lock: another broker's paged messages and socket are not ours to delete.
    this.pageFile.open();
    const replication = this.config.replication;
    if (replication === undefined) return;
    const broker = this;
    this.replicator = Replicator.start(this.replicationServer!, replication, {
      journal: store.journal,
      journalDir: join(this.config.dataDir, 'journal'),
      fs,
      log: this.log,
      get amqpPort() {
        return broker.port;
      },
      fence: this.fence,
      nodeId: this.failover?.nodeId,
    });
  }

  /** The ctl tool's socket; a broker whose data directory path is too long for a Unix socket runs without it. */
  private async listenForControl(): Promise<void> {
    const path = join(this.config.dataDir, CONTROL_SOCKET);
    try {
      this.control = await ControlServer.listen(path, { admin: this.admin, replication: this }, this.log);
    } catch (err) {
      this.log.warn({ err, path }, 'no control socket: the ctl tool cannot reach this broker');
    }
  }

  private async listen(): Promise<void> {
    this.server = createServer((socket) => this.accept(socket));
    await listenOn(this.server, this.config.port, this.config.host);
    const tls = this.config.tls;
    if (tls !== undefined) {
      this.tlsServer = createTlsServer(tls, (socket) => this.accept(socket));
      await listenOn(this.tlsServer, tls.port, this.config.host);
    }
    this.alarms.start();
    this.log.info({ host: this.config.host, port: this.port, tlsPort: this.tlsPort, dataDir: this.config.dataDir }, 'broker listening');
  }

  /**
   * Stops accepting, closes every connection with 320 CONNECTION_FORCED, and
   * releases the data directory. A primary first waits for its standby to
   * hold everything, unless it closes because it lost its leadership
   * (`lostLeadership` then tells its clients why).
   */
  async close(lostLeadership?: string): Promise<void> {
    this.alarms.stop();
    const closed = Promise.all([this.server, this.tlsServer].map((server) => (server ? new Promise<void>((resolve) => server.close(() => resolve())) : undefined)));
    for (const c of this.connections) {
      if (c.isOpen) c.close(ReplyCode.CONNECTION_FORCED, `CONNECTION_FORCED - ${lostLeadership ?? 'broker shutdown'}`);
      c.terminate();
    }
    // After the connections: releasing their channels requeues messages, which may reach others' consumers.
    this.consumerTimeout?.stop();
    await closed;
    // Before the store closes: a TTL or x-expires timer must not reach a closed journal.
    for (const vhost of this.tenancy.vhosts.values()) vhost.stop();
    await this.control?.close();
    if (lostLeadership === undefined) await this.handOverToStandby();
    await this.replicator?.close();
    await this.standby?.follower?.close();
    this.standby?.lock.release();
    // A standby's port; a primary's went with its replicator.
    const replicationServer = this.replicator === undefined ? this.replicationServer : undefined;
    if (replicationServer !== undefined) await new Promise((resolve) => replicationServer.close(resolve));
    await this.store?.close();
    this.pageFile.close();
    if (this.removeDataDirOnClose) rmSync(this.config.dataDir, { recursive: true, force: true });
    this.log.info('broker stopped');
  }

  /** A primary closing waits, a bounded time, for its standby to hold everything it confirmed, and says whether it did. */
  private async handOverToStandby(): Promise<void> {
    const replicator = this.replicator;
    if (replicator === undefined) return;
    const attached = replicator.status().peer !== undefined;
    const inSync = attached && this.store?.journal.failure === undefined && (await replicator.drain(SHUTDOWN_DRAIN_MS));
    if (inSync) this.log.info('replication: the standby holds everything this primary stored');
    else if (!attached) this.log.warn('replication: stopping with no standby attached');
    else this.log.warn({ waitedMs: SHUTDOWN_DRAIN_MS, status: replicator.status() }, 'replication: stopping while the standby is not in sync');
    // Before the link closes: a standby dropping now must not be recorded out of sync, which would keep it from taking over.
    await this.fence?.release();
  }

  private accept(socket: Socket): void {
    const max = this.config.maxConnections;
    if (max > 0 && this.connections.size >= max) {
      // As RabbitMQ's connection_max: the socket is closed before any AMQP is read.
      this.log.warn({ peer: `${socket.remoteAddress}:${socket.remotePort}`, maxConnections: max }, 'connection refused: the node connection limit is reached');
      socket.destroy();
      return;
    }
    const connection = new Connection(socket, this, this.nextConnectionId++);
    this.connections.add(connection);
  }

  /**
   * The journal failed in a way a retry cannot mend (a failed fdatasync, an
   * I/O error): nothing durable can be confirmed any more, so stop serving.
   * `failed` resolves once the broker is closed; the command line then exits
   * with a failure status, so a supervisor restarts it and recovery reads
   * back what is on disk.
   */
  private onStoreFailure(err: Error): void {
    this.log.fatal({ err }, 'durable store failed; closing the broker');
    void this.close().finally(() => this.resolveFailed(err));
  }

  private resolveFailed: (err: Error) => void = () => {};
  /** Resolves with the store's error when it failed and the broker closed because of it. */
  readonly failed = new Promise<Error>((resolve) => (this.resolveFailed = resolve));

  private onAlarm(active: boolean): void {
    for (const c of this.connections) c.alarmChanged(active);
  }
}

/**
 * Starts a broker. Embedded use defaults to 127.0.0.1, a port chosen by the
 * system when port is 0, and a temporary data directory removed on close.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const { memoryLimit, diskCheckMs, logger, storeFs, segmentSize, compactionLookMs, forceRecover, failover, ...overrides } = options;
  const temporaryDataDir = overrides.dataDir === undefined;
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'amqp-broker-'));
  mkdirSync(dataDir, { recursive: true });
  const config: BrokerConfig = {
    ...DEFAULT_CONFIG,
    host: '127.0.0.1',
    port: 0,
    logLevel: 'warn',
    ...overrides,
    dataDir,
  };
  const broker = new Broker(config, logger ?? createLogger(config.logLevel), temporaryDataDir, { memoryLimit, diskCheckMs }, {
    fs: storeFs ?? nodeStoreFs,
    options: { segmentSize, compactionLookMs, forceRecover },
  }, failover);
  await broker.start();
  return broker;
}

function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
