import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { type Broker, type BrokerOptions, type FailoverHooks, startBroker } from '../broker.js';
import type { ArbiterConfig } from '../config/broker-config.js';
import { parseHostPort } from '../config/host-port.js';
import { ArbiterRecordError, describeSync, type LeaderRecord, type NodeAddress } from './arbiter-records.js';
import { campaignRefusal } from './election-eligibility.js';
import { type ArbiterState, EtcdArbiter } from './etcd-arbiter.js';
import { Leadership } from './leadership.js';
import { nodeIdentity } from './node-identity.js';

/** How often etcd is read: a vacant leader key is seen this soon after its lease expires. */
const POLL_MS = 250;

/**
 * One node of a pair under automatic failover. It runs a broker that
 * starts as a standby and asks etcd, a few times a second, who leads: it
 * follows the leader; when the leader key is vacant and this node holds
 * every confirmed message (election-eligibility.ts), it campaigns, and on
 * winning promotes its broker in the epoch etcd granted, the leadership
 * fencing every confirm. A leader that loses its lease closes its broker at
 * once (its clients get 320 with the reason) and starts a fresh one as a
 * standby, which then follows whoever won.
 */
export class FailoverNode {
  private leadership: Leadership | undefined;
  private state: ArbiterState | undefined;
  /** Why etcd could not be read the last time (unreachable, or a record that does not check out); undefined when it could. */
  private unreachable: string | undefined;
  /** The last reason this node did not campaign, logged once per change. */
  private waitingBecause: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Settles when the current step (a read, a campaign) is done. */
  private stepping: Promise<void> = Promise.resolve();
  /** Settles when the broker that lost the leadership is closed and its successor started. */
  private restarting: Promise<void> = Promise.resolve();
  /** Counts losses of the leadership: a step that began before one acts on nothing after it. */
  private generation = 0;
  /** The last promotion: a broker that lost the leadership while promoting is closed once that is done. */
  private promotion: Promise<unknown> = Promise.resolve();
  private resolveFailed: (err: Error) => void = () => {};
  /** Resolves with the store's error when a broker of this node failed and closed because of it. */
  readonly failed = new Promise<Error>((resolve) => (this.resolveFailed = resolve));

  private constructor(
    private broker: Broker,
    private readonly arbiter: EtcdArbiter,
    private readonly config: ArbiterConfig,
    private readonly nodeId: string,
    private readonly options: BrokerOptions,
  ) {}

  /** Starts a node: `options.replication.arbiter` says where etcd is. */
  static async start(options: BrokerOptions & { readonly dataDir: string }): Promise<FailoverNode> {
    const config = options.replication?.arbiter;
    if (config === undefined) throw new Error('automatic failover needs etcd (replication.arbiter)');
    const nodeId = nodeIdentity(options.dataDir);
    const arbiter = new EtcdArbiter({ hosts: config.etcd, prefix: config.prefix, requestTimeoutMs: Math.min(1000, (config.leaseTtlSeconds * 1000) / 4) });
    let node: FailoverNode | undefined;
    const broker = await startBroker({ ...options, failover: { nodeId, status: () => node?.status() ?? {} } }).catch((err: unknown) => {
      arbiter.close();
      throw err;
    });
    node = new FailoverNode(broker, arbiter, config, nodeId, options);
    node.watchForFailure(broker);
    node.log.info({ node: nodeId, etcd: arbiter.description, leaseTtlSeconds: config.leaseTtlSeconds }, 'failover: started as a standby; asking etcd who leads');
    node.schedule(0);
    return node;
  }

  /** The broker this node runs now (a new one after each loss of leadership). */
  get current(): Broker {
    return this.broker;
  }

  get id(): string {
    return this.nodeId;
  }

  private get log(): Logger {
    return this.broker.log;
  }

  /** What the ctl tool shows besides the replication status. */
  status(): Record<string, string> {
    const leader = this.state?.leader;
    return {
      node: this.nodeId,
      etcd: this.unreachable === undefined ? this.arbiter.description : `${this.arbiter.description}: cannot be read (${this.unreachable})`,
      leader: leader === undefined ? 'none' : `${leader.id === this.nodeId ? 'this node' : leader.id} (amqp ${leader.amqp}, replication ${leader.replication})`,
      leader_epoch: leader === undefined ? '-' : String(leader.epoch),
      in_sync_record: describeSync(this.state?.sync),
    };
  }

  /** Stops the node: a leader hands over to its standby and gives the leader key up (Broker.close does both). */
  async close(): Promise<void> {
    // From here a lapsing lease restarts nothing: the broker is closing anyway.
    this.closed = true;
    clearTimeout(this.timer);
    await this.stepping;
    await this.restarting;
    await this.broker.close();
    this.arbiter.close();
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.stepping = this.step()
        .catch((err: unknown) => this.log.warn({ reason: (err as Error).message }, 'failover: a step with etcd failed; trying again'))
        .finally(() => this.schedule(POLL_MS));
    }, ms);
  }

  private async step(): Promise<void> {
    // A broker being replaced is nobody to act on.
    await this.restarting;
    const generation = this.generation;
    let state: ArbiterState;
    try {
      state = await this.arbiter.read();
    } catch (err) {
      const reason = (err as Error).message;
      // Logged once, when reading stops working; the ctl tool shows the latest reason.
      if (this.unreachable === undefined) {
        // A record that does not check out: acting on a guess could make two leaders.
        if (err instanceof ArbiterRecordError) this.log.error({ reason }, 'failover: etcd holds a record that does not check out; this node waits until it is mended');
        else this.log.warn({ reason }, 'failover: etcd unreachable');
      }
      this.unreachable = reason;
      return;
    }
    if (this.unreachable !== undefined) this.log.info('failover: etcd read again');
    this.unreachable = undefined;
    this.state = state;
    if (this.closed || generation !== this.generation) return;
    const leader = state.leader;
    if (this.leadership !== undefined) {
      if (leader?.revision !== this.leadership.revision) {
        this.leadership.abandon(`etcd names ${leader === undefined ? 'no leader' : `${leader.id} in epoch ${leader.epoch}`}`);
        await this.restarting;
      }
      return;
    }
    if (leader?.id === this.nodeId && leader.replication !== this.address().replication) {
      if (this.waitingBecause !== 'identity') this.log.error({ leader }, `failover: another node leads under this node's identity (a copied data directory?); this node waits. Give one of them a new identity: stop it and delete node-id from its data directory`);
      this.waitingBecause = 'identity';
      return;
    }
    if (leader?.id === this.nodeId) {
      // This node's key from before a restart: its lease would only keep the pair waiting.
      this.log.info({ epoch: leader.epoch }, 'failover: giving up the leader key of this node\'s previous run');
      await this.arbiter.revokeLease(leader.lease);
      return;
    }
    if (leader !== undefined) {
      this.waitingBecause = undefined;
      await this.broker.follow(parseHostPort('leader replication address', leader.replication), leader.amqp);
      return;
    }
    await this.campaignIfEligible(state);
  }

  private async campaignIfEligible(state: ArbiterState): Promise<void> {
    const local = await this.broker.promotionSource();
    const refusal = campaignRefusal(state.sync, this.nodeId, local);
    if (refusal !== undefined) {
      if (refusal !== this.waitingBecause) this.log.warn({ reason: refusal }, 'failover: the leader key is vacant, but this node may not stand for election');
      this.waitingBecause = refusal;
      return;
    }
    const requestedAt = performance.now();
    const lease = await this.arbiter.grantLease(this.config.leaseTtlSeconds);
    const leader: LeaderRecord = { ...this.address(), epoch: Math.max(state.epoch, local.epoch) + 1 };
    const revision = await this.arbiter.campaign(lease.id, leader, state).catch((err: unknown) => {
      this.arbiter.revokeLease(lease.id).catch(() => {});
      throw err;
    });
    if (revision === undefined) {
      this.log.info({ epoch: leader.epoch }, 'failover: lost the election');
      await this.arbiter.revokeLease(lease.id).catch(() => {});
      return;
    }
    this.log.warn({ epoch: leader.epoch, journal: local.kind, previous: describeSync(state.sync) }, 'failover: won the election; promoting');
    const leadership = new Leadership(this.arbiter, { ...lease, requestedAt }, leader, revision, this.log, (reason) => void this.loseLeadership(reason));
    this.leadership = leadership;
    const generation = this.generation;
    this.promotion = this.broker.promoteElected({ epoch: leader.epoch, fence: leadership });
    try {
      await this.promotion;
    } catch (err) {
      // The journal could not be recovered: nothing can be served from it, so stop, as a store failure does.
      this.log.fatal({ err, epoch: leader.epoch }, 'failover: the promotion failed');
      this.leadership = undefined;
      await leadership.release();
      this.resolveFailed(err as Error);
      return;
    }
    if (generation === this.generation) this.log.warn({ epoch: leader.epoch, since: new Date(leadership.since).toISOString() }, 'failover: serving as the primary');
  }

  /** Closes the broker at once (no confirm goes out after this), then starts a fresh one as a standby. */
  private loseLeadership(reason: string): Promise<void> {
    const leadership = this.leadership;
    if (leadership === undefined) return this.restarting;
    this.leadership = undefined;
    this.generation++;
    // Closing already: the broker's own close is under way, and its fence now confirms nothing.
    if (this.closed) return this.restarting;
    this.log.error({ epoch: leadership.epoch, reason }, 'failover: lost the leadership; closing client connections and starting over as a standby');
    this.restarting = this.restart(`this node lost its leadership (${reason})`).catch((err: unknown) => {
      this.log.fatal({ err }, 'failover: could not start again as a standby');
      this.resolveFailed(err as Error);
    });
    return this.restarting;
  }

  private async restart(reason: string): Promise<void> {
    await this.promotion.catch(() => {});
    await this.broker.close(reason);
    if (this.closed) return;
    this.broker = await startBroker({ ...this.options, failover: this.hooks() });
    this.watchForFailure(this.broker);
  }

  private hooks(): FailoverHooks {
    return { nodeId: this.nodeId, status: () => this.status() };
  }

  private watchForFailure(broker: Broker): void {
    void broker.failed.then((err) => this.resolveFailed(err));
  }

  /** How the other node and clients reach this one. */
  private address(): NodeAddress {
    const { host, port } = this.broker.config;
    const reachable = host === '0.0.0.0' || host === '::' ? hostname() : host;
    return {
      id: this.nodeId,
      amqp: this.config.advertise.amqp ?? `${reachable}:${this.broker.port === 0 ? port : this.broker.port}`,
      replication: this.config.advertise.replication ?? `${reachable}:${this.broker.replicationPort}`,
    };
  }
}
