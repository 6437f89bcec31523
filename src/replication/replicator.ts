import type { Server, Socket } from 'node:net';
import { Encoder } from '../protocol/encoder.js';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ReplicationConfig } from '../config/broker-config.js';
import type { Journal } from '../store/journal.js';
import type { ConfirmGate } from '../store/replication-port.js';
import type { StoreFs } from '../store/store-fs.js';
import { Link } from './link.js';
import { checkStandbyResponse, newNonce, primaryProof } from './link-auth.js';
import { NO_ARBITER, type PrimaryFence } from './primary-fence.js';
import { PrimarySession } from './primary-session.js';
import type { ReplicationStatus } from './replication-status.js';
import { decodeFrame, encodeFrame, FrameType } from './wire.js';

/**
 * While the node is a standby, its replication port (bound at start, so a
 * port in use stops the start, never a promotion) tells whoever connects
 * why it takes no standby, and closes.
 */
export function turnAwayPeers(server: Server, reason: string): void {
  const e = new Encoder();
  encodeFrame(e, FrameType.Refused, (f) => f.bytes(Buffer.from(reason)));
  const refusal = e.take();
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => socket.end(refusal));
}

/** A peer has this long to prove it knows the secret. */
const HANDSHAKE_MS = 10_000;

/** What the primary's replication needs from the broker. */
export interface ReplicatorHost {
  readonly journal: Journal;
  readonly journalDir: string;
  readonly fs: StoreFs;
  readonly log: Logger;
  readonly amqpPort: number;
  /** The arbiter's say over confirms (automatic failover); without one, NO_ARBITER. */
  readonly fence?: PrimaryFence | undefined;
  /** This node's identity under automatic failover: a standby claiming it runs on a copy of this data directory. */
  readonly nodeId?: string | undefined;
}

/**
 * A primary's replication: listens for its standby, ships the journal to it
 * (one standby at a time; a new one that proves the secret replaces the
 * old), and is the journal's confirm gate. While the standby is in sync,
 * confirms wait for its acknowledgement; while it is not, the policy
 * decides: `hold` keeps them waiting until it is back in sync or an
 * operator detaches it, `alone` confirms without it.
 */
export class Replicator implements ConfirmGate {
  private session: PrimarySession | undefined;
  /** An operator said to confirm alone until a standby is back in sync. */
  private detached = false;
  private confirmingAlone = false;
  private closed = false;
  private readonly fence: PrimaryFence;

  private constructor(
    private readonly server: Server,
    private readonly config: ReplicationConfig,
    private readonly host: ReplicatorHost,
  ) {
    this.fence = host.fence ?? NO_ARBITER;
    this.fence.onChange(() => this.changed());
    host.journal.setGate(this);
    this.noteAlone();
  }

  /** Takes over the replication port, bound at start (turnAwayPeers held it meanwhile, on a standby). */
  static start(server: Server, config: ReplicationConfig, host: ReplicatorHost): Replicator {
    const replicator = new Replicator(server, config, host);
    server.removeAllListeners('connection');
    server.on('connection', (socket) => void replicator.accept(socket));
    const address = server.address();
    host.log.info({ port: typeof address === 'object' && address !== null ? address.port : config.port, policy: config.policy }, 'replication: primary listening for its standby');
    return replicator;
  }

  get confirmableCommit(): number {
    if (!this.fence.holdsLeadership()) return -1;
    const session = this.session;
    if (session?.inSync === true) return session.acknowledgedCommit;
    return (this.config.policy === 'alone' || this.detached) && this.fence.mayConfirmAlone() ? Infinity : -1;
  }

  status(): ReplicationStatus {
    const s = this.session;
    return {
      role: 'primary',
      epoch: this.host.journal.epoch,
      policy: this.config.policy,
      peer: s?.peer,
      state: s === undefined ? 'no standby' : s.inSync ? 'in sync' : 'syncing',
      confirming: this.confirmableCommit === Infinity ? 'alone' : s?.inSync === true ? 'with the standby' : 'held until a standby is in sync',
      lag: s?.lag,
    };
  }

  /** The operator's detach: confirm alone until a standby is back in sync (under `hold`). */
  detach(): string {
    if (this.session?.inSync === true) return 'The standby is in sync: confirms go out with it, nothing to detach';
    this.detached = true;
    this.changed();
    return 'Detached the standby: confirming alone until a standby is back in sync';
  }

  /**
   * Waits, at most `ms`, until the standby holds everything the journal
   * has; true when it does. For a shutdown: the standby takes over with
   * every confirmed message.
   */
  async drain(ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    await this.host.journal.flush();
    const target = this.host.journal.lastCommit;
    while (performance.now() < deadline) {
      const s = this.session;
      if (s === undefined) return false;
      if (s.inSync && s.acknowledgedCommit >= target) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Something to acknowledge, should the journal be quiet.
      if (s.inSync) await this.host.journal.flush();
    }
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.session?.end('the primary is shutting down');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async accept(socket: Socket): Promise<void> {
    const { log } = this.host;
    const link = new Link(socket, log, this.config.timeoutMs, () => {});
    try {
      const challenge = newNonce();
      link.sendFrame(FrameType.Challenge, (e) => e.bytes(challenge));
      const response = await link.expect(FrameType.Response, HANDSHAKE_MS);
      const standbyNonce = checkStandbyResponse(this.config.secret, challenge, response.payload);
      if (standbyNonce === undefined) {
        log.warn({ peer: link.peer }, 'replication: a peer failed to prove the cluster secret; link dropped');
        link.end('bad cluster secret');
        return;
      }
      link.authenticated();
      link.sendFrame(FrameType.Proof, (e) => e.bytes(primaryProof(this.config.secret, challenge, standbyNonce)));
      const hello = await link.expect(FrameType.Hello, HANDSHAKE_MS);
      const { standbyEpoch, standbyId } = decodeFrame(hello, 'hello', (d) => ({ standbyEpoch: d.u32(), standbyId: d.shortstr() }));
      const epoch = this.host.journal.epoch;
      if (standbyEpoch > epoch) {
        const why = `the standby holds epoch ${standbyEpoch}, newer than this primary's ${epoch}: this node is an old primary; restart it as a standby of the newer one (--standby-of; under etcd it follows the leader by itself)`;
        log.error({ standby: link.peer }, `replication: ${why}`);
        link.refuse(why);
        return;
      }
      if (this.closed) {
        link.refuse('the primary is shutting down');
        return;
      }
      if (standbyId !== '' && standbyId === this.host.nodeId) {
        const why = `the standby has this primary's node identity ${standbyId}: its data directory is a copy of this node's; stop it, delete node-id from its data directory and start it again`;
        log.error({ standby: link.peer }, `replication: ${why}`);
        link.refuse(why);
        return;
      }
      this.startSession(link, standbyId);
    } catch (err) {
      log.warn({ peer: link.peer, reason: (err as Error).message }, 'replication: handshake failed; link dropped');
      link.end((err as Error).message);
    }
  }

  private startSession(link: Link, standbyId: string): void {
    this.session?.end('replaced by a newer standby link');
    const { journal, journalDir, fs, log, amqpPort } = this.host;
    const session = new PrimarySession(link, standbyId, {
      journal,
      journalDir,
      fs,
      log,
      amqpPort,
      timeoutMs: this.config.timeoutMs,
      changed: () => this.changed(),
      ended: (ended, reason) => {
        if (this.session !== ended) return;
        this.session = undefined;
        log.warn({ standby: ended.peer, reason, policy: this.config.policy, inSync: ended.inSync, lag: ended.lag }, 'replication: standby link dropped');
        this.changed();
      },
    });
    link.onEnd = (reason) => session.end(reason);
    this.session = session;
    log.info({ standby: link.peer }, 'replication: standby connected');
    session.run().catch((err: unknown) => {
      log.error({ err }, 'replication: the snapshot for the standby failed');
      session.end(`snapshot failed: ${(err as Error).message}`);
    });
  }

  private changed(): void {
    const session = this.session;
    if (session?.inSync === true) this.detached = false;
    this.fence.standbyInSync(session?.inSync === true, session?.standbyId);
    this.noteAlone();
    this.host.journal.releaseConfirmed();
  }

  /** Logs each change between confirming with the standby and confirming alone. */
  private noteAlone(): void {
    const alone = this.confirmableCommit === Infinity;
    if (alone === this.confirmingAlone) return;
    this.confirmingAlone = alone;
    const why = this.detached ? 'an operator detached the standby' : `policy ${this.config.policy}`;
    if (alone) this.host.log.warn({ why }, 'replication: confirming alone: messages confirmed now are on this node only until a standby is back in sync');
    else this.host.log.info('replication: confirms wait for the standby again');
  }
}
