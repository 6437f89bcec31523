import type { FieldTable } from '../protocol/field-value.js';
import { integerArgument } from './argument-value.js';
import type { Message, QueuedMessage } from './message.js';
import type { QueueTimer } from './queue-timer.js';

/** How often at most the whole queue is searched for expired messages stuck behind live ones. */
export const SWEEP_INTERVAL = 500;
/** Expired head messages removed per timer run; more wait for the next run, so other work keeps moving. */
const HEAD_BATCH = 2000;

/** What message expiry needs from its queue. */
export interface ExpiringQueue {
  /** The message that would be delivered next, left in place. */
  peekReady(): QueuedMessage | undefined;
  /** Takes the head message, which has expired, out of the queue for good (dead-lettering it if the queue says so). */
  expireHead(): void;
  /**
   * Takes every waiting message `expired` picks out of the queue, wherever
   * it waits, and returns them; `expired` sees the expiry of each waiting
   * message once, in queue order (Infinity for one that never expires).
   */
  removeWhere(expired: (expiresAt: number) => boolean): QueuedMessage[];
  /** Disposes of messages that expired: dead-letters them if the queue says so. */
  expired(messages: readonly QueuedMessage[]): void;
}

/** A queue's x-message-ttl, or undefined. */
export function messageTtl(args: FieldTable): number | undefined {
  return integerArgument(args, 'x-message-ttl');
}

/**
 * Message TTL for one queue, with one timer however many messages wait.
 *
 * A message expires at its arrival plus the queue's TTL or its own
 * expiration, whichever is sooner (as in RabbitMQ), and is then never
 * delivered. When expiries grow along the queue (one TTL for all, or the
 * same expiration on every message) only the head can expire, and the timer
 * follows the head. A message that expires before one ahead of it (a short
 * expiration behind a long one, or behind one that never expires) is
 * "stuck": RabbitMQ leaves it until it reaches the head; here the timer also
 * wakes at its expiry and sweeps the whole queue, at most every
 * SWEEP_INTERVAL, so it goes within a second. Stuck messages are noticed as
 * they arrive by comparing with the latest expiry queued since the queue was
 * last empty: a few numbers per queue, nothing per message.
 */
export class MessageExpiry {
  /** Latest expiry among the messages queued since the queue was last empty or swept (Infinity: one never expires). */
  private latest: number;
  /** Earliest expiry among them: a lower bound for every waiting message. */
  private earliest = Infinity;
  /** Earliest expiry of a message that may be stuck behind one expiring later; Infinity when there is none. */
  private stuckAt = Infinity;
  private lastSweep = -Infinity;
  private readonly run = (): void => this.expire();

  constructor(
    private readonly queue: ExpiringQueue,
    private readonly timer: QueueTimer,
    /** The queue's x-message-ttl. */
    readonly ttl: number | undefined,
    /** Whether messages (which never expire: there was no TTL) wait already. */
    occupied: boolean,
  ) {
    this.latest = occupied ? Infinity : -Infinity;
  }

  /** When a message arriving `now` expires; undefined if it never does. */
  expiryOf(message: Message, now: number): number | undefined {
    const expiration = message.expiration;
    const own = expiration === undefined ? undefined : Number(expiration);
    const ttl = own === undefined ? this.ttl : this.ttl === undefined ? own : Math.min(own, this.ttl);
    return ttl === undefined ? undefined : now + ttl;
  }

  /** A message joined the back of the queue; `wasEmpty` if nothing waited before it. */
  added(expiresAt: number, wasEmpty: boolean): void {
    if (wasEmpty) this.reset();
    this.earliest = Math.min(this.earliest, expiresAt);
    if (expiresAt < this.latest) {
      this.stuck(expiresAt);
      return;
    }
    this.latest = expiresAt;
    if (wasEmpty && expiresAt < Infinity) this.timer.atLatest(this.run, expiresAt);
  }

  /**
   * A message went in ahead of others: a delivered one back to its place
   * near the head, or a new one of higher priority. What waits behind it
   * may now expire before it: unless it expires first of all, the queue is
   * swept once its earliest expiry passes.
   */
  requeued(expiresAt: number, wasEmpty: boolean): void {
    if (wasEmpty) this.reset();
    if (expiresAt > this.earliest) this.stuck(this.earliest);
    this.earliest = Math.min(this.earliest, expiresAt);
    this.latest = Math.max(this.latest, expiresAt);
    if (expiresAt < Infinity) this.timer.atLatest(this.run, expiresAt);
  }

  /** A message read back from the journal after a restart turned out to expire at `expiresAt`, which may be out of order. */
  recovered(expiresAt: number): void {
    this.earliest = Math.min(this.earliest, expiresAt);
    this.stuck(expiresAt);
  }

  /** Whether the message has expired, so must not be delivered. */
  static hasExpired(qm: QueuedMessage, now: number): boolean {
    return qm.expiresAt !== undefined && qm.expiresAt <= now;
  }

  /**
   * Removes what has expired: from the head always, from anywhere when a
   * stuck message is due; then sets the timer for the next expiry.
   */
  expire(): void {
    const now = Date.now();
    for (let n = 0; ; n++) {
      const head = this.queue.peekReady();
      if (head === undefined || !MessageExpiry.hasExpired(head, now)) break;
      if (n === HEAD_BATCH) {
        this.timer.set(this.run, now);
        return;
      }
      this.queue.expireHead();
    }
    if (this.stuckAt <= now && now - this.lastSweep >= SWEEP_INTERVAL) this.sweep(now);
    this.schedule();
  }

  private stuck(expiresAt: number): void {
    if (expiresAt >= this.stuckAt) return;
    this.stuckAt = expiresAt;
    this.timer.atLatest(this.run, Math.max(expiresAt, this.lastSweep + SWEEP_INTERVAL));
  }

  private reset(): void {
    this.latest = -Infinity;
    this.earliest = Infinity;
    this.stuckAt = Infinity;
  }

  /** Removes expired messages wherever they wait, and learns exactly which of the rest are stuck. */
  private sweep(now: number): void {
    this.lastSweep = now;
    let latest = -Infinity;
    let earliest = Infinity;
    let stuckAt = Infinity;
    const removed = this.queue.removeWhere((expiresAt) => {
      if (expiresAt <= now) return true;
      if (expiresAt < latest) stuckAt = Math.min(stuckAt, expiresAt);
      else latest = expiresAt;
      earliest = Math.min(earliest, expiresAt);
      return false;
    });
    this.latest = latest;
    this.earliest = earliest;
    this.stuckAt = stuckAt;
    // Last: dead-lettering may queue messages here again, and they update what the sweep found.
    this.queue.expired(removed);
  }

  private schedule(): void {
    const head = this.queue.peekReady()?.expiresAt ?? Infinity;
    const sweepAt = this.stuckAt === Infinity ? Infinity : Math.max(this.stuckAt, this.lastSweep + SWEEP_INTERVAL);
    const at = Math.min(head, sweepAt);
    if (at === Infinity) this.timer.clear(this.run);
    else this.timer.set(this.run, at);
  }
}
