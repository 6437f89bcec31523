import { Message } from '../queue/message.js';
import { QueueTimer } from '../queue/queue-timer.js';
import type { DurabilityWaiter, Journal, StoredLocation } from '../store/journal.js';
import { type Due, DueHeap } from './due-heap.js';
import { delayServed, heldDelay } from './x-delay.js';

/** Where a mandatory message goes back when nothing takes it once its delay is over: the publishing channel, if still open. */
export interface ReturnPath {
  returnUnroutable(message: Message): void;
}

/** A durable delayed exchange's place in the journal: its messages are stored under `id`, like a queue's. */
export interface DelayedPersistence {
  readonly id: number;
  readonly journal: Journal;
}

/** Routes a message whose delay is over; returns whether that wrote it to the journal (for durable queues). */
export type DelayedRoute = (message: Message, returnPath: ReturnPath | undefined) => boolean;

interface HeldMessage extends Due {
  /** Undefined for a message recovered after a restart: it is read back from the journal when due. */
  readonly message: Message | undefined;
  /** Where the journal holds it for this exchange, when it does. */
  readonly location: StoredLocation | undefined;
  readonly returnPath: ReturnPath | undefined;
}

/**
 * The messages an x-delayed-message exchange holds, in a heap by due time,
 * with one timer for the exchange (set for the earliest), never one per
 * message. When a message is due it is routed as the exchange's
 * x-delayed-type routes, with x-delay made negative (see delayServed).
 *
 * A persistent message held by a durable exchange is journaled under the
 * exchange's id with its due time, so it survives a restart (one whose time
 * passed meanwhile is routed right after the start); its record goes once
 * the routed copy is on disk, so a crash in between repeats the message
 * rather than losing it.
 */
export class DelayedMessages {
  private readonly heap = new DueHeap<HeldMessage>();
  private readonly timer = new QueueTimer();
  private nextSeq = 0;
  private persistence: DelayedPersistence | undefined;
  /** The exchange is gone: a transaction committed later must not bring a message to it. */
  private discarded = false;

  constructor(private readonly route: DelayedRoute) {}

  /** Messages waiting for their time (the exchange's messages_delayed). */
  get count(): number {
    return this.heap.size;
  }

  get journalId(): number | undefined {
    return this.persistence?.id;
  }

  /** The exchange is durable and the broker has a store: from now on persistent messages are journaled, and recovered ones start their wait. */
  attach(persistence: DelayedPersistence): void {
    this.persistence = persistence;
    this.arm();
  }

  /** Whether holding the message writes it to the journal (then its confirm waits for the disk). */
  stores(message: Message): boolean {
    return this.persistence !== undefined && message.persistent && !this.discarded;
  }

  /** Holds the message for `delay` ms; a journaled one tells `waiter` when it is on disk. */
  hold(message: Message, delay: number, returnPath: ReturnPath | undefined, waiter?: DurabilityWaiter, waiterSeq = 0): void {
    if (this.discarded) return;
    const dueAt = Date.now() + delay;
    const p = this.stores(message) ? this.persistence : undefined;
    const location = p?.journal.append([p.id], message.exchange, message.routingKey, message.rawProperties, message.body, waiter, waiterSeq, dueAt);
    // A fresh Message: the one published keeps its decoded properties, which a waiting message need not carry.
    const kept = new Message(message.exchange, message.routingKey, message.data, message.start, message.bodyStart, message.end);
    this.heap.push({ dueAt, seq: this.nextSeq++, message: kept, location, returnPath });
    if (this.heap.peek()!.dueAt === dueAt) this.arm();
  }

  /** A message found in the journal at start; it waits from attach() on. `seq` is its journal sequence number, its publish order. */
  restore(seq: number, location: StoredLocation, dueAt: number): void {
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
    this.heap.push({ dueAt, seq, message: undefined, location, returnPath: undefined });
  }

  /** The exchange was deleted: what it held is dropped, and leaves the journal. */
  discardAll(): void {
    this.discarded = true;
    this.timer.stop();
    const p = this.persistence;
    for (const held of this.heap.clear()) if (p !== undefined && held.location !== undefined) p.journal.removed(p.id, held.location);
  }

  /** The broker is closing: nothing may be routed any more; journaled messages wait for the next start. */
  stop(): void {
    this.timer.stop();
  }

  private arm(): void {
    const next = this.heap.peek();
    if (next === undefined) this.timer.clear(this.release);
    else this.timer.set(this.release, next.dueAt);
  }

  /** The timer fired: routes every message now due, in due order (publish order within a millisecond). */
  private readonly release = (): void => {
    const now = Date.now();
    const served: StoredLocation[] = [];
    let journaled = false;
    for (let held = this.heap.peek(); held !== undefined && held.dueAt <= now; held = this.heap.peek()) {
      this.heap.pop();
      if (held.location !== undefined) served.push(held.location);
      try {
        const message = held.message ?? this.readBack(held.location!);
        journaled = this.route(delayServed(message, heldDelay(message.properties.headers)!), held.returnPath) || journaled;
      } catch (err) {
        // A journal read that failed: nothing above a timer can take the error, and the other messages must still go.
        process.emitWarning(err as Error);
      }
    }
    this.forget(served, journaled);
    this.arm();
  };

  private readBack(location: StoredLocation): Message {
    const record = this.persistence!.journal.read(location);
    return Message.fromParts(record.exchange, record.routingKey, record.rawProperties, record.body);
  }

  /** The routed messages leave the journal, once their copies in durable queues are on disk. */
  private forget(served: readonly StoredLocation[], afterSync: boolean): void {
    const p = this.persistence;
    if (p === undefined || served.length === 0) return;
    const remove = (): void => {
      for (const location of served) p.journal.removed(p.id, location);
    };
    if (afterSync) p.journal.afterDurable(remove);
    else remove();
  }
}
