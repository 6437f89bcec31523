import type { FieldTable } from '../protocol/field-value.js';
import type { Journal, StoredLocation } from '../store/journal.js';
import { ConsumerRing } from './consumer-ring.js';
import { Message, type QueuedMessage } from './message.js';
import { type PageSource, ReadyList } from './ready-list.js';

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
 * otherwise.
 */
export class Queue {
  private readonly ready = new ReadyList();
  private readonly consumers = new ConsumerRing<QueueConsumer>();
  private nextSeq = 0;
  private hadConsumer = false;
  private dispatching = false;
  deleted = false;
  /** Router's mark of the last routing that reached this queue: it de-duplicates without a Set. */
  routeMark = 0;
  private store: QueuePersistence | undefined;
  /** Called when an auto-delete queue loses its last consumer. */
  onUnused: ((queue: Queue) => void) | undefined;

  constructor(
    readonly name: string,
    readonly options: QueueOptions,
  ) {}

  /** Set for durable queues when the broker has a store: persistent messages are journaled under `id`. */
  get persistence(): QueuePersistence | undefined {
    return this.store;
  }

  set persistence(p: QueuePersistence | undefined) {
    this.store = p;
    this.ready.source = p === undefined ? undefined : journalPageSource(p.journal);
  }

  get durable(): boolean {
    return this.options.durable;
  }

  get messageCount(): number {
    return this.ready.length;
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  get hasExclusiveConsumer(): boolean {
    return this.consumers.some((c) => c.exclusive);
  }

  enqueue(message: Message): void {
    this.ready.push({ message, seq: this.nextSeq++, redelivered: false });
    if (this.consumers.size > 0) this.dispatch();
  }

  /**
   * Puts back a message recovered from the journal, known by its journal
   * sequence number (publish order); it is read when delivered.
   */
  restore(seq: number, location: StoredLocation, redelivered: boolean): void {
    this.ready.pushStored(seq, location, redelivered);
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
  }

  /** Recovery is over: restored messages take their publish order (compaction may have stored some out of it). */
  restored(): void {
    this.ready.sortStored();
  }

  /**
   * Puts a delivered message back where it was, marked redelivered. The
   * caller dispatches once it has put back everything it is returning.
   */
  requeue(qm: QueuedMessage): void {
    if (this.deleted) {
      this.discard(qm);
      return;
    }
    qm.redelivered = true;
    this.ready.requeue(qm);
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

  /** A message went to a consumer that will ack it: after a crash it comes back marked redelivered. */
  markDelivered(qm: QueuedMessage): void {
    const p = this.persistence;
    if (p !== undefined && qm.message.location !== undefined) p.journal.delivered(p.id, qm.message.location);
  }

  /** Takes the head message for basic.get. */
  take(): QueuedMessage | undefined {
    return this.ready.shift();
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
    if (this.consumers.size === 0 && this.hadConsumer && this.options.autoDelete) this.onUnused?.(this);
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
        const consumer = consumers.pick(canTakeMessage);
        if (consumer === undefined) break;
        consumer.deliver(this, this.ready.shift()!);
      }
    } finally {
      this.dispatching = false;
    }
  }

  private discardReady(): void {
    const p = this.persistence;
    if (p === undefined) return;
    for (const location of this.ready.storedLocations()) p.journal.removed(p.id, location);
  }

  /** Marks the queue deleted and tells its consumers; returns the messages it held. */
  delete(): number {
    this.deleted = true;
    this.discardReady();
    const count = this.ready.clear();
    for (const consumer of this.consumers.clear()) consumer.queueDeleted(this);
    return count;
  }
}

/** Reads paged-out messages of a durable queue back from the journal. */
function journalPageSource(journal: Journal): PageSource {
  return {
    load(location) {
      const record = journal.read(location);
      const message = new Message(record.exchange, record.routingKey, record.rawProperties, record.body);
      message.location = location;
      return message;
    },
  };
}

const canTakeMessage = (consumer: QueueConsumer): boolean => consumer.canTakeMessage();
