import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { DefaultAccess } from '../auth/tenancy.js';
import type { ReplicationConfig } from '../config/broker-config.js';
import { AckType } from '../store/ack-entry.js';
import { newestSnapshotEpoch } from '../store/definitions-recovery.js';
import type { StoreFs } from '../store/store-fs.js';
import { Link } from './link.js';
import { checkPrimaryProof, NONCE_SIZE, standbyResponse } from './link-auth.js';
import { Mirror, type MirrorOptions, type PrimaryKey } from './mirror.js';
import type { Decoder } from '../protocol/decoder.js';
import type { ReplicationStatus } from './replication-status.js';
import { type PromotedJournal, StandbyDirectory } from './standby-directory.js';
import { decodeFrame, FrameType, LinkProtocolError, type ReceivedFrame } from './wire.js';

const HANDSHAKE_MS = 10_000;
const RECONNECT_MS = 1000;
/** Bytes appended to the journal and not yet written past which the standby stops reading from the primary. */
const MAX_UNWRITTEN_BYTES = 64 * 1024 * 1024;
const PROGRESS_MS = 5000;

export interface StandbyOptions extends Omit<MirrorOptions, 'onFailure'> {
  readonly dataDir: string;
  readonly fs: StoreFs;
  readonly log: Logger;
  /** The vhost and user a snapshot without access definitions stands for. */
  readonly defaults: DefaultAccess;
  /** This node's identity, told to the primary (automatic failover names the standby in sync by it). */
  readonly nodeId?: string | undefined;
  /** The journal failed: the standby can keep nothing more. */
  onFailure(err: Error): void;
}

type StandbyState = 'connecting' | 'syncing' | 'in sync';

/**
 * A standby: connects to its primary's replication port (again and again,
 * a second apart, while it cannot), proves the cluster secret, and mirrors
 * what the primary ships into a fresh journal per session (Mirror), telling
 * the primary as each shipped commit becomes durable here. In sync once a
 * session's snapshot is complete and durable.
 */
export class Standby {
  private readonly directory: StandbyDirectory;
  private link: Link | undefined;
  private mirror: Mirror | undefined;
  private state: StandbyState = 'connecting';
  /** The newest epoch this node holds: a primary in an older one is an old primary, refused. */
  private epoch = 0;
  /** The primary's AMQP port, once a session told it. */
  primaryAmqpPort: number | undefined;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Session openings and closings, one after another (a failed one does not stop the next). */
  private work: Promise<void> = Promise.resolve();
  /**
   * Set once a session's snapshot has arrived: settles when the journal
   * is marked complete. Acknowledgements of later commits wait for it, so
   * the primary never counts on a standby whose disk does not yet say it is
   * in sync.
   */
  private syncMarked: Promise<void> | undefined;
  private received = { records: 0, bytes: 0, since: 0, lastProgress: 0 };

  private constructor(
    private readonly config: ReplicationConfig & { readonly standbyOf: { readonly host: string; readonly port: number } },
    private readonly options: StandbyOptions,
  ) {
    this.directory = new StandbyDirectory(options.dataDir, options.fs);
  }

  /** Starts following the primary `config.standbyOf`; the caller holds the data directory's lock. */
  static async start(config: ReplicationConfig, options: StandbyOptions): Promise<Standby> {
    const standbyOf = config.standbyOf;
    if (standbyOf === undefined) throw new Error('a standby needs the address of its primary');
    const standby = new Standby({ ...config, standbyOf }, options);
    for (const dir of standby.directory.journals) standby.epoch = Math.max(standby.epoch, await newestSnapshotEpoch(dir, options.fs));
    options.log.info({ primary: standby.primary, epoch: standby.epoch, complete: standby.directory.complete }, 'replication: starting as a standby');
    standby.connect();
    return standby;
  }

  get primary(): string {
    return `${this.config.standbyOf.host}:${this.config.standbyOf.port}`;
  }

  status(): ReplicationStatus {
    const linked = this.link?.isOpen === true && this.state !== 'connecting';
    return {
      role: 'standby',
      epoch: this.epoch,
      peer: this.primary,
      state: linked ? this.state : this.directory.complete ? 'link down (last in sync)' : 'link down (out of sync)',
    };
  }

  /**
   * Why a promotion is refused now (undefined: it may go ahead): only a
   * completed sync may be promoted, unless forced. One whose link is down
   * was in sync when it dropped; what the primary confirmed after that
   * (under the `alone` policy, or once detached) it does not have.
   */
  promotionRefusal(force: boolean): string | undefined {
    if (force || this.directory.complete) return undefined;
    const why = this.state === 'syncing' ? 'a sync is under way' : 'no sync with the primary has completed';
    return `this standby is out of sync (${why}): promoting it could lose confirmed messages. Wait until it is in sync, or promote with --force`;
  }

  /** Stops following the primary; the journal is left as a promotion needs it. */
  async stopForPromotion(): Promise<PromotedJournal> {
    await this.close();
    return this.directory.prepareForPromotion();
  }

  /** Stops following the primary, leaving the data directory as it is (a standby shutting down). */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.link?.end('the standby is stopping');
    await this.closeSession();
  }

  private connect(): void {
    if (this.stopped) return;
    const { host, port } = this.config.standbyOf;
    const socket = connect({ host, port });
    const link = new Link(socket, this.options.log, this.config.timeoutMs, (reason) => this.linkEnded(link, reason));
    this.link = link;
    socket.once('connect', () => void this.handshake(link));
  }

  private async handshake(link: Link): Promise<void> {
    const { log } = this.options;
    try {
      const challenge = (await link.expect(FrameType.Challenge, HANDSHAKE_MS)).payload;
      const response = standbyResponse(this.config.secret, challenge);
      link.sendFrame(FrameType.Response, (e) => e.bytes(response));
      const proof = await link.expect(FrameType.Proof, HANDSHAKE_MS);
      if (!checkPrimaryProof(this.config.secret, challenge, response.subarray(0, NONCE_SIZE), proof.payload)) {
        throw new LinkProtocolError('the primary failed to prove the cluster secret');
      }
      link.authenticated();
      link.sendFrame(FrameType.Hello, (e) => {
        e.u32(this.epoch);
        e.shortstr(this.options.nodeId ?? '');
      });
      const session = decodeFrame(await link.expect(FrameType.Session, HANDSHAKE_MS), 'session', (d) => ({
        epoch: d.u32(),
        amqpPort: d.u16(),
        definitions: d.buf.subarray(d.pos, d.end),
      }));
      if (session.epoch < this.epoch) {
        const why = `the primary is in epoch ${session.epoch}, older than this node's ${this.epoch}: it is an old primary, and nothing it sends is taken`;
        log.error({ primary: this.primary }, `replication: ${why}`);
        link.refuse(why);
        return;
      }
      link.pauseReading();
      await this.openSession(session.epoch, session.definitions);
      if (!link.isOpen) return;
      this.primaryAmqpPort = session.amqpPort;
      link.onFrame((frame) => this.apply(link, frame));
      link.resumeReading();
    } catch (err) {
      log.warn({ primary: this.primary, reason: (err as Error).message }, 'replication: could not join the primary');
      link.end((err as Error).message);
    }
  }

  private openSession(epoch: number, definitions: Buffer): Promise<void> {
    const { dataDir: _dataDir, fs, log, defaults, onFailure, ...mirrorOptions } = this.options;
    return this.next(async () => {
      await this.closeMirror();
      // Stopped meanwhile (a promotion): the journal stays as it is.
      if (this.stopped) return;
      await this.directory.beginSync();
      this.syncMarked = undefined;
      this.mirror = await Mirror.begin(this.directory.journal, fs, log, epoch, definitions, defaults, { ...mirrorOptions, onFailure });
      this.epoch = epoch;
      this.state = 'syncing';
      const now = performance.now();
      this.received = { records: 0, bytes: 0, since: now, lastProgress: now };
      log.info({ primary: this.primary, epoch }, 'replication: joined the primary; receiving its snapshot');
    });
  }

  private closeSession(): Promise<void> {
    return this.next(() => this.closeMirror());
  }

  /** Runs `step` after the steps before it, whether they succeeded or not; the caller gets its outcome. */
  private next(step: () => Promise<void>): Promise<void> {
    const run = this.work.then(step);
    this.work = run.catch(() => {});
    return run;
  }

  private async closeMirror(): Promise<void> {
    const mirror = this.mirror;
    this.mirror = undefined;
    if (mirror !== undefined) await mirror.close();
  }

  private apply(link: Link, frame: ReceivedFrame): void {
    const mirror = this.mirror;
    if (mirror === undefined) throw new LinkProtocolError('a frame before the session opened');
    switch (frame.type) {
      case FrameType.SnapshotRecord: {
        const { key, delivered, record } = decodeFrame(frame, 'snapshot record', (d) => {
          const key = readKey(d);
          const delivered: number[] = [];
          for (let n = d.u16(); n > 0; n--) delivered.push(d.u32());
          return { key, delivered, record: d.buf.subarray(d.pos, d.end) };
        });
        mirror.message(key, record, delivered);
        this.count(record.length);
        break;
      }
      case FrameType.SnapshotEnd:
        mirror.snapshotEnded();
        this.syncMarked = new Promise<void>((resolve) => mirror.journal.afterDurable(resolve)).then(() => this.next(() => this.synced(link, mirror)));
        this.syncMarked.catch((err: unknown) => link.end(`could not mark the journal complete: ${(err as Error).message}`));
        break;
      case FrameType.Record: {
        const { key, record } = decodeFrame(frame, 'record', (d) => ({ key: readKey(d), record: d.buf.subarray(d.pos, d.end) }));
        mirror.message(key, record);
        this.count(record.length);
        break;
      }
      case FrameType.Definition:
        mirror.definition(frame.payload);
        break;
      case FrameType.Ack: {
        const { type, queueId, key } = decodeFrame(frame, 'ack', (d) => ({ type: d.u8(), queueId: d.u32(), key: readKey(d) }));
        if (type !== AckType.Removed && type !== AckType.Delivered) throw new LinkProtocolError(`unknown ack type ${type}`);
        mirror.ack(type, queueId, key);
        break;
      }
      case FrameType.Moved: {
        const { from, to } = decodeFrame(frame, 'moved', (d) => ({ from: readKey(d), to: readKey(d) }));
        mirror.moved(from, to);
        break;
      }
      case FrameType.Commit: {
        const number = decodeFrame(frame, 'commit', (d) => d.u64());
        const acknowledge = (): void => void (link.isOpen && link.sendFrame(FrameType.Durable, (e) => e.u64(number)));
        mirror.journal.whenDurable({
          settle: (_seq, ok) => {
            if (!ok) return;
            const marked = this.syncMarked;
            if (marked === undefined) acknowledge();
            else marked.then(acknowledge, () => {});
          },
        });
        break;
      }
      default:
        throw new LinkProtocolError(`unexpected frame type ${frame.type} from the primary`);
    }
    this.holdBackIfBehind(link, mirror);
  }

  /** Reading from the primary waits while the journal here has much unwritten: memory stays bounded. */
  private holdBackIfBehind(link: Link, mirror: Mirror): void {
    if (mirror.journal.unwrittenBytes < MAX_UNWRITTEN_BYTES) return;
    link.pauseReading();
    mirror.journal.afterDurable(() => link.resumeReading());
  }

  private count(bytes: number): void {
    const r = this.received;
    r.records++;
    r.bytes += bytes;
    const now = performance.now();
    if (this.state !== 'syncing' || now - r.lastProgress < PROGRESS_MS) return;
    r.lastProgress = now;
    const seconds = (now - r.since) / 1000;
    this.options.log.info({ records: r.records, bytes: r.bytes, mibPerSecond: +(r.bytes / 1048576 / seconds).toFixed(1) }, 'replication: sync in progress');
  }

  private async synced(link: Link, mirror: Mirror): Promise<void> {
    if (!link.isOpen || this.mirror !== mirror) return;
    await this.directory.endSync();
    this.state = 'in sync';
    const seconds = (performance.now() - this.received.since) / 1000;
    this.options.log.info({ primary: this.primary, epoch: this.epoch, records: this.received.records, bytes: this.received.bytes, seconds: +seconds.toFixed(1) }, 'replication: in sync with the primary');
  }

  private linkEnded(link: Link, reason: string): void {
    if (this.link !== link) return;
    const wasLinked = this.state !== 'connecting';
    this.state = 'connecting';
    if (wasLinked) this.options.log.warn({ primary: this.primary, reason }, 'replication: link to the primary lost; reconnecting');
    void this.closeSession().catch((err: unknown) => this.options.log.error({ err }, 'replication: closing the journal failed'));
    if (!this.stopped) this.reconnectTimer = setTimeout(() => this.connect(), RECONNECT_MS).unref();
  }
}

/** A key on the wire: the u64 segment × 2^32 + offset, read as its two halves. */
function readKey(d: Decoder): PrimaryKey {
  return { segment: d.u32(), offset: d.u32() };
}
