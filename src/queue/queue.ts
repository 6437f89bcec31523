import type { FieldTable } from '../protocol/field-value.js';
import type { Journal, StoredLocation } from '../store/journal.js';
import { ConsumerRing } from './consumer-ring.js';
import { type DeadLetterRouter, type DeadLetterTarget, deadLetter, deadLetterTarget } from './dead-letter.js';
import { type ExpiringQueue, MessageExpiry, messageTtl } from './expiry.js';
import { IdleExpiry } from './idle-expiry.js';
import { LengthLimit } from './length-limit.js';
import { Message, type QueuedMessage } from './message.js';
import { QueueTimer } from './queue-timer.js';
import { QuorumDeliveries } from './quorum-deliveries.js';
import { readyListFor } from './priority-ready-list.js';
import type { PageSource, Pager, ReadyMessages } from './ready-list.js';
import { SingleActiveConsumers } from './single-active-consumer.js';
import type { DeadLetterReason } from './x-death.js';

/** What a queue needs from a consumer; the channel implements it. */
export interface QueueConsumer {
  readonly tag: string;
  readonly exclusive: boolean;
  /** x-priority: higher-priority consumers get messages first. */
  readonly priority: number;
  /** Whether the consumer can take one more message now (prefetch, flow, socket back-pressure). */
  canTakeMessage(): boolean;
  /** Hands a message over; the consumer owns it from here (ack, requeue). */
  deliver(queue: Queue, qm: QueuedMessage): void;
  /** The queue went away under the consumer. */
  queueDeleted(queue: Queue): void;
}

export interface QueuePersistence {
  readonly id: number;
  readonly journal: Journal;
}

export interface QueueOptions {
  readonly durable: boolean;
  readonly exclusiveOwner: object | undefined;
  readonly autoDelete: boolean;
  readonly arguments: FieldTable;
}

/**
 * A queue's messages and consumers: messages are delivered to consumers in
 * turn, skipping those that cannot take one now, and wait in the ready list
 * otherwise. The x-arguments each have their own small part: message TTL
 * (expiry.ts), length limits (length-limit.ts), dead-lettering
 * (dead-letter.ts) and x-expires (idle-expiry.ts), sharing one timer;
 * x-max-priority picks the ready list (priority-ready-list.ts) and
 * x-single-active-consumer the consumer set (single-active-consumer.ts).
 */
export class Queue {
  private readonly ready: ReadyMessages;
  private readonly consumers: ConsumerRing<QueueConsumer> | SingleActiveConsumers<QueueConsumer>;
  private readonly singleActive: SingleActiveConsumers<QueueConsumer> | undefined;
  private nextSeq = 0;
  private hadConsumer = false;
  private dispatching = false;
  deleted = false;
  /** Router's mark of the last routing that reached this queue: it de-duplicates without a Set. */
  routeMark = 0;
  private store: QueuePersistence | undefined;
  /** Called when the queue should go: an auto-delete queue lost its last consumer, or an x-expires queue went unused. */
  onUnused: ((queue: Queue) => void) | undefined;
  /** Set by the virtual host: how dead letters reach the dead-letter exchange. */
  deadLetters: DeadLetterRouter | undefined;
  /** The queue's one timer, shared by message TTL and x-expires. */
  private readonly timer = new QueueTimer();
  /** Made when the queue has a TTL or first sees a message with an expiration: other queues pay nothing for expiry. */
  private expiry: MessageExpiry | undefined;
  private readonly limit: LengthLimit | undefined;
  private readonly deadLetterTo: DeadLetterTarget | undefined;
  private readonly idle: IdleExpiry | undefined;
  /** Quorum queues: delivery counts and x-delivery-limit; channels ask it what a delivery carries. */
  readonly quorum: QuorumDeliveries | undefined;
  /** Messages recovered after a restart have sequence numbers below this; their TTLs count from `recoveredAt`. */
  private recoveredBelow = 0;
  private recoveredAt = 0;

  constructor(
    readonly name: string,
    readonly options: QueueOptions,
  ) {
    const args = options.arguments;
    this.ready = readyListFor(args);
    this.singleActive = SingleActiveConsumers.fromArguments(args);
    this.consumers = this.singleActive ?? new ConsumerRing();
    const ttl = messageTtl(args);
    if (ttl !== undefined) this.expiry = this.newExpiry(ttl, false);
    this.limit = LengthLimit.fromArguments(args);
    this.deadLetterTo = deadLetterTarget(args);
    this.quorum = QuorumDeliveries.fromArguments(args);
    this.idle = IdleExpiry.fromArguments(args, this.timer, () => {
      // A durable queue waiting for the journal is being recovered: its idle time starts once that is done.
      const recovering = this.options.durable && this.options.exclusiveOwner === undefined && this.store === undefined;
      if (this.consumers.size === 0 && !recovering) this.onUnused?.(this);
    });
  }

  /** Where waiting messages without a journal copy go while memory is short; set by the virtual host. */
  set pager(pager: Pager | undefined) {
    this.ready.pager = pager;
  }

  /** Set for durable queues when the broker has a store: persistent messages are journaled under `id`. */
  get persistence(): QueuePersistence | undefined {
    return this.store;
  }

  set persistence(p: QueuePersistence | undefined) {
    const recovering = this.store === undefined && p !== undefined && this.recoveredBelow > 0;
    this.store = p;
    this.ready.source = p === undefined ? undefined : this.journalPageSource(p.journal);
    if (recovering) this.recovered();
    if (p !== undefined) this.idle?.used();
  }

  get durable(): boolean {
    return this.options.durable;
  }

  get messageCount(): number {
    return this.ready.length;
  }

  get consumerCount(): number {
    return this.singleActive?.reportedCount ?? this.consumers.size;
  }

  /** Whether an exclusive basic.consume is refused: when the queue has consumers, or always on some single-active-consumer queues. */
  get refusesExclusiveConsumer(): boolean {
    return this.consumers.size > 0 || this.singleActive?.refusesExclusive === true;
  }

  get hasExclusiveConsumer(): boolean {
    return this.consumers.some((c) => c.exclusive);
  }

  /**
   * Whether the queue takes a new message. At its length limit with
   * x-overflow reject-publish it refuses it (the publisher gets a nack);
   * reject-publish-dlx also dead-letters it.
   */
  admit(message: Message): boolean {
    const limit = this.limit;
    if (limit === undefined || !limit.rejectsPublish || !limit.wouldOverflow(this.ready.length, this.ready.bytes, message.size)) return true;
    if (limit.overflow === 'reject-publish-dlx') this.deadLetter(message, 'maxlen');
    return false;
  }

  enqueue(message: Message): void {
    const qm = this.entryFor(message);
    // A consumer able to take it gets it before expiry is considered: a TTL of 0 still reaches a waiting consumer.
    if (this.ready.length === 0 && this.consumers.size > 0 && !this.dispatching) {
      const consumer = this.consumers.pick(canTakeMessage);
      if (consumer !== undefined) {
        consumer.deliver(this, qm);
        return;
      }
    }
    const wasEmpty = this.ready.length === 0;
    // A message of higher priority goes ahead of others, which may then expire before it, as behind a requeued one.
    if (this.ready.push(qm)) this.expiry?.added(qm.expiresAt ?? Infinity, wasEmpty);
    else this.expiry?.requeued(qm.expiresAt ?? Infinity, wasEmpty);
    this.dropOverflow();
    if (this.consumers.size > 0) this.dispatch();
    // Not delivered and already expired (TTL 0): it goes now, as in RabbitMQ.
    if (qm.expiresAt !== undefined && qm.expiresAt <= Date.now()) this.expiry!.expire();
  }

  /**
   * Puts back a message recovered from the journal, known by its journal
   * sequence number (publish order) and its priority property; it is read
   * when delivered.
   */
  restore(seq: number, location: StoredLocation, redelivered: boolean, priority: number): void {
    // The journal does not keep arrival times: TTLs of recovered messages count from the restart.
    if (this.recoveredAt === 0) this.recoveredAt = Date.now();
    const ttl = this.expiry?.ttl;
    this.ready.pushStored(seq, location, redelivered, ttl === undefined ? undefined : this.recoveredAt + ttl, priority);
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
  }

  /** Recovery is over: restored messages take their publish order (compaction may have stored some out of it). */
  restored(): void {
    this.ready.sortStored();
    this.recoveredBelow = this.nextSeq;
  }

  /**
   * Puts a delivered message back where it was, marked redelivered (one
   * over a quorum queue's delivery limit leaves instead). The caller
   * dispatches once it has put back everything it is returning.
   */
  requeue(qm: QueuedMessage): void {
    if (this.deleted) {
      this.discard(qm);
      return;
    }
    if (this.quorum?.returned(qm) === true) {
      this.retire(qm, 'delivery_limit');
      return;
    }
    qm.redelivered = true;
    const wasEmpty = this.ready.length === 0;
    this.ready.requeue(qm);
    this.expiry?.requeued(qm.expiresAt ?? Infinity, wasEmpty);
    this.dropOverflow();
  }

  /** The journal holds this message for this queue: finishing it is a disk write. */
  isStored(qm: QueuedMessage): boolean {
    return this.persistence !== undefined && qm.message.location !== undefined;
  }

  /** The queue is done with a message for good (acked, rejected, purged, dropped): the journal forgets it. */
  discard(qm: QueuedMessage): void {
    const p = this.persistence;
    if (p !== undefined && qm.message.location !== undefined) p.journal.removed(p.id, qm.message.location);
  }

  /** A consumer rejected the message without requeue: it is dead-lettered if the queue has a dead-letter exchange, then forgotten. */
  reject(qm: QueuedMessage): void {
    if (this.deleted) this.discard(qm);
    else this.retire(qm, 'rejected');
  }

  /** A message went to a consumer that will ack it: after a crash it comes back marked redelivered. */
  markDelivered(qm: QueuedMessage): void {
    const p = this.persistence;
    if (p !== undefined && qm.message.location !== undefined) p.journal.delivered(p.id, qm.message.location);
  }

  /** Takes the head message for basic.get. */
  take(): QueuedMessage | undefined {
    this.idle?.used();
    while (this.headExpired()) this.expireHead();
    return this.ready.shift();
  }

  /** The queue was declared again (passive or not): x-expires counts from now. */
  redeclared(): void {
    this.idle?.used();
  }

  purge(): number {
    this.discardReady();
    return this.ready.clear();
  }

  addConsumer(consumer: QueueConsumer): void {
    this.consumers.add(consumer);
    this.hadConsumer = true;
    this.dispatch();
  }

  removeConsumer(consumer: QueueConsumer): void {
    if (!this.consumers.remove(consumer)) return;
    if (this.consumers.size > 0) {
      // Another consumer may have become the active one. It starts once the caller is done: a closing channel requeues its unacked messages first, so they reach it in order.
      if (this.singleActive !== undefined) queueMicrotask(() => this.dispatch());
      return;
    }
    this.idle?.used();
    if (this.hadConsumer && this.options.autoDelete) this.onUnused?.(this);
  }

  /**
   * Delivers ready messages while some consumer can take one: by priority,
   * round-robin within a priority. Stops when none can; whatever frees
   * capacity (an ack, a drained socket) calls dispatch again.
   */
  dispatch(): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    try {
      const consumers = this.consumers;
      while (this.ready.length > 0 && consumers.size > 0) {
        if (this.headExpired()) {
          this.expireHead();
          continue;
        }
        const consumer = consumers.pick(canTakeMessage);
        if (consumer === undefined) break;
        consumer.deliver(this, this.ready.shift()!);
      }
    } finally {
      this.dispatching = false;
    }
  }

  /** The broker is closing: nothing the queue scheduled may run later. */
  stop(): void {
    this.timer.stop();
  }

  /** When a new message expires, if it can: the queue starts keeping track of expiry at its first such message. */
  private entryFor(message: Message): QueuedMessage {
    const seq = this.nextSeq++;
    const expiry = this.expiry ?? (message.expiration === undefined ? undefined : this.startExpiry());
    const expiresAt = expiry?.expiryOf(message, Date.now());
    return expiresAt === undefined ? { message, seq, redelivered: false } : { message, seq, redelivered: false, expiresAt };
  }

  private startExpiry(): MessageExpiry {
    // What waits already never expires: the queue had no TTL and none of it had an expiration.
    return (this.expiry = this.newExpiry(undefined, this.ready.length > 0));
  }

  private newExpiry(ttl: number | undefined, occupied: boolean): MessageExpiry {
    const queue: ExpiringQueue = {
      peekReady: () => this.ready.peek(),
      expireHead: () => this.expireHead(),
      removeWhere: (expired) => this.ready.removeWhere(expired),
      expired: (messages) => {
        for (const qm of messages) this.retire(qm, 'expired');
      },
    };
    return new MessageExpiry(queue, this.timer, ttl, occupied);
  }

  private expireHead(): void {
    this.retire(this.ready.shift()!, 'expired');
  }

  private headExpired(): boolean {
    if (this.expiry === undefined) return false;
    const head = this.ready.peek();
    return head !== undefined && MessageExpiry.hasExpired(head, Date.now());
  }

  /** x-overflow drop-head: the oldest messages go (dead-lettered as maxlen) until the queue is within its limit. */
  private dropOverflow(): void {
    const limit = this.limit;
    if (limit === undefined || limit.rejectsPublish) return;
    while (limit.exceeded(this.ready.length, this.ready.bytes)) this.retire(this.ready.shift()!, 'maxlen');
  }

  /** A message leaves the queue for good without being delivered: dead-lettered if the queue says so, then forgotten. */
  private retire(qm: QueuedMessage, reason: DeadLetterReason): void {
    try {
      this.deadLetter(qm.message, reason);
    } finally {
      // Out of the queue either way: a message whose properties cannot be decoded is not dead-lettered, but must leave the journal.
      this.discard(qm);
    }
  }

  private deadLetter(message: Message, reason: DeadLetterReason): void {
    if (this.deadLetterTo !== undefined && this.deadLetters !== undefined) deadLetter(this.deadLetters, this.deadLetterTo, this.name, message, reason);
  }

  /**
   * After a restart: a byte limit needs the size of every recovered message
   * now, and their TTL (all the same, from the restart) starts to run.
   * Reading the first ones back now finds their own expirations; those of
   * messages further back are found as they are read.
   */
  private recovered(): void {
    if (this.limit?.countsBytes === true) this.ready.countStoredBytes();
    const ttl = this.expiry?.ttl;
    if (ttl !== undefined && this.ready.length > 0) this.expiry!.added(this.recoveredAt + ttl, true);
    this.ready.peek();
  }

  /**
   * A recovered message read back from the journal: its own expiration was
   * not known until now, and counts from the restart too.
   */
  private recoveredMessageLoaded(qm: QueuedMessage): void {
    if (qm.seq >= this.recoveredBelow) return;
    const expiration = qm.message.expiration;
    if (expiration === undefined) return;
    const expiresAt = this.recoveredAt + Number(expiration);
    if (qm.expiresAt !== undefined && qm.expiresAt <= expiresAt) return;
    qm.expiresAt = expiresAt;
    (this.expiry ?? this.startExpiry()).recovered(expiresAt);
  }

  /** Reads paged-out messages of a durable queue back from the journal. */
  private journalPageSource(journal: Journal): PageSource {
    return {
      load(location) {
        const record = journal.read(location);
        const message = Message.fromParts(record.exchange, record.routingKey, record.rawProperties, record.body);
        message.location = location;
        return message;
      },
      loaded: (qm) => this.recoveredMessageLoaded(qm),
    };
  }

  private discardReady(): void {
    const p = this.persistence;
    if (p === undefined) return;
    for (const location of this.ready.storedLocations()) p.journal.removed(p.id, location);
  }

  /** Marks the queue deleted and tells its consumers; returns the messages it held. */
  delete(): number {
    this.deleted = true;
    this.timer.stop();
    this.discardReady();
    const count = this.ready.clear();
    for (const consumer of this.consumers.clear()) consumer.queueDeleted(this);
    return count;
  }
}

const canTakeMessage = (consumer: QueueConsumer): boolean => consumer.canTakeMessage();
