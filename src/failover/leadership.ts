import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { PrimaryFence } from '../replication/primary-fence.js';
import type { LeaderRecord } from './arbiter-records.js';
import type { EtcdArbiter } from './etcd-arbiter.js';

/** What a leadership asks of etcd (EtcdArbiter does it). */
export type LeaseKeeper = Pick<EtcdArbiter, 'keepAlive' | 'recordSync' | 'resign' | 'revokeLease'>;

/** A lease as granted: when the request went out, on this process's monotonic clock. */
export interface GrantedLease {
  readonly id: string;
  readonly ttlSeconds: number;
  readonly requestedAt: number;
}

/** A renewal or an in-sync record write that failed (etcd slow or away) is tried again this soon. */
const RETRY_MS = 250;

/** What the in-sync record says, as far as this leadership knows: `undefined` when a write may or may not have landed. */
type SyncState = { readonly inSync: boolean; readonly standby?: string | undefined } | undefined;

/**
 * This node's leadership: the leader key under a lease, renewed every third
 * of the TTL. It is held only until `validUntil`, reckoned on this
 * process's own monotonic clock from when the last successful renewal was
 * *requested*, less a margin: etcd counts a lease's TTL from when the
 * request reached it, later, so the leadership lapses here before etcd can
 * let the lease go and another node win. Every confirm asks holdsLeadership() first,
 * so a process paused past its lease (SIGSTOP, a long GC, a VM stall)
 * confirms nothing when it wakes, whatever its timers have not yet noticed.
 * (Confirms decided before the lapse may still be in the kernel's socket
 * buffers: those messages are durable where the next leader looks.)
 *
 * It is also the primary's fence over confirms without the standby: it
 * keeps etcd's in-sync record up to date, and allows confirming alone only
 * once etcd says, under this leadership, that the standby is out of sync.
 */
export class Leadership implements PrimaryFence {
  private validUntil: number;
  private readonly ttlMs: number;
  private readonly marginMs: number;
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  /** The last renewal failed: the next is tried after RETRY_MS, not a third of the TTL. */
  private renewalFailed = false;
  private ended = false;
  private lapseNoticed = false;
  /**
   * What etcd's in-sync record says (the campaign wrote "alone"), and what
   * it should say. A write of "in sync" makes `recorded` unknown before it
   * is sent, and a failed write leaves it unknown (it may have landed):
   * confirming alone needs etcd to have said "alone" since.
   */
  private recorded: SyncState = { inSync: false };
  private wanted: { readonly inSync: boolean; readonly standby?: string | undefined } = { inSync: false };
  private writing = false;
  private changed: () => void = () => {};
  /**
   * Wall-clock time of the last moment holdsLeadership() said yes (to a
   * confirm, a client's input, or a status query): an upper bound of when
   * this leadership last confirmed anything, logged when it ends, so the
   * fault test can check no two overlap.
   */
  private lastLeadingAt: number | undefined;
  readonly since = Date.now();

  constructor(
    private readonly arbiter: LeaseKeeper,
    private readonly lease: GrantedLease,
    readonly leader: LeaderRecord,
    /** The leader key's create revision: writes under this leadership compare it. */
    readonly revision: string,
    private readonly log: Logger,
    private readonly onLost: (reason: string) => void,
  ) {
    this.ttlMs = lease.ttlSeconds * 1000;
    this.marginMs = Math.max(this.ttlMs / 5, 500);
    this.validUntil = lease.requestedAt + this.ttlMs - this.marginMs;
    this.schedule();
  }

  get epoch(): number {
    return this.leader.epoch;
  }

  holdsLeadership(): boolean {
    if (this.ended) return false;
    if (performance.now() >= this.validUntil) {
      if (!this.lapseNoticed) {
        // Woken past the lease: the timer may not have run yet, so say so now.
        this.lapseNoticed = true;
        setImmediate(() => this.lose(`the lease ran out (${this.ttlMs} ms TTL) before it could be renewed`));
      }
      return false;
    }
    this.lastLeadingAt = Date.now();
    return true;
  }

  mayConfirmAlone(): boolean {
    return !this.wanted.inSync && this.recorded?.inSync === false;
  }

  standbyInSync(inSync: boolean, standby: string | undefined): void {
    const named = inSync ? standby : undefined;
    // Called on every acknowledgement from the standby: nothing to do unless it changed.
    if (this.wanted.inSync === inSync && this.wanted.standby === named) return;
    this.wanted = { inSync, standby: named };
    void this.writeSyncRecord();
  }

  /** Called when the in-sync record changes what may be confirmed. */
  onChange(changed: () => void): void {
    this.changed = changed;
  }

  /** Ends the leadership here (the broker is closing): the leader key goes at once, so the standby need not wait out the lease. */
  async release(): Promise<void> {
    if (this.ended) return;
    this.end();
    try {
      await this.arbiter.resign(this.revision);
      await this.arbiter.revokeLease(this.lease.id);
    } catch (err) {
      this.log.warn({ err, epoch: this.epoch }, 'failover: could not give the leader key up; it goes when its lease expires');
    }
    this.logEnd('resigned');
  }

  /** Ends the leadership because etcd says another holds the key (or none does): logged as lost, the lease revoked. */
  abandon(reason: string): void {
    if (this.ended) return;
    this.lose(reason);
    this.arbiter.revokeLease(this.lease.id).catch(() => {});
  }

  private end(): void {
    this.ended = true;
    clearTimeout(this.timer);
  }

  private lose(reason: string): void {
    if (this.ended) return;
    this.end();
    this.logEnd(`lost: ${reason}`);
    this.onLost(reason);
  }

  /** One line per leadership: the fault test checks from these that no two overlap. */
  private logEnd(how: string): void {
    const lastLeadingAt = this.lastLeadingAt === undefined ? undefined : new Date(this.lastLeadingAt).toISOString();
    this.log.warn({ epoch: this.epoch, since: new Date(this.since).toISOString(), lastLeadingAt }, `failover: leadership ${how}`);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.ended) return;
    const now = performance.now();
    const renewIn = this.renewing ? Infinity : this.renewalFailed ? RETRY_MS : this.ttlMs / 3;
    this.timer = setTimeout(() => this.tick(), Math.max(0, Math.min(renewIn, this.validUntil - now)));
  }

  private tick(): void {
    if (this.ended) return;
    if (performance.now() >= this.validUntil) {
      this.lose(`the lease could not be renewed for ${this.ttlMs - this.marginMs} ms (etcd unreachable?)`);
      return;
    }
    if (!this.renewing) void this.renew();
    this.schedule();
  }

  private async renew(): Promise<void> {
    this.renewing = true;
    const requestedAt = performance.now();
    try {
      const ttlSeconds = await this.arbiter.keepAlive(this.lease.id);
      if (ttlSeconds <= 0) {
        this.lose('etcd says the lease has expired');
        return;
      }
      this.validUntil = Math.max(this.validUntil, requestedAt + ttlSeconds * 1000 - this.marginMs);
      this.renewalFailed = false;
    } catch (err) {
      this.renewalFailed = true;
      this.log.warn({ reason: (err as Error).message, epoch: this.epoch, msLeft: Math.round(this.validUntil - performance.now()) }, 'failover: lease renewal failed');
    } finally {
      this.renewing = false;
      this.schedule();
    }
  }

  private async writeSyncRecord(): Promise<void> {
    if (this.writing || this.ended) return;
    const wanted = this.wanted;
    const recorded = this.recorded;
    if (recorded !== undefined && wanted.inSync === recorded.inSync && wanted.standby === recorded.standby) return;
    this.writing = true;
    // Once "in sync" may be in etcd, the standby may take over: nothing more may be confirmed alone until "alone" is back.
    if (wanted.inSync) this.recorded = undefined;
    try {
      if (!(await this.arbiter.recordSync(this.revision, { epoch: this.epoch, leader: this.leader.id, ...wanted }))) {
        this.lose("the leader key is no longer this node's");
        return;
      }
      this.recorded = wanted;
      this.log.info({ epoch: this.epoch, inSync: wanted.inSync, standby: wanted.standby }, 'failover: in-sync record written');
      this.changed();
    } catch (err) {
      // It may have landed all the same: `recorded` stays what it could be.
      this.log.warn({ reason: (err as Error).message, epoch: this.epoch }, 'failover: could not write the in-sync record; trying again');
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    } finally {
      this.writing = false;
    }
    void this.writeSyncRecord();
  }
}
