import type { FieldTable } from '../protocol/field-value.js';

/**
 * A queue's consumers under x-single-active-consumer: all of them are
 * registered, one (the first to register) gets the messages, the others
 * wait. When the active one goes (cancelled, its channel or connection
 * closed) the next takes over, and with it the remaining messages and those
 * the old one had unacked, requeued to their places.
 *
 * Which one is next depends on the queue type, as in RabbitMQ 3.10: a
 * classic queue takes the waiting consumer of highest consumer priority
 * (x-priority), the earliest registered among equals; a quorum queue the
 * earliest registered, whatever its priority. A newcomer never takes over
 * from an active consumer, whatever its priority.
 *
 * It has ConsumerRing's interface, so the queue dispatches to it alike.
 */
export class SingleActiveConsumers<C extends { readonly priority: number }> {
  /** Registration order. */
  private all: C[] = [];
  private active: C | undefined;

  private constructor(
    /** Quorum queues hand over in registration order and count only the active consumer. */
    private readonly quorum: boolean,
  ) {}

  /** The consumers of a queue declared with x-single-active-consumer true, or undefined. */
  static fromArguments<C extends { readonly priority: number }>(args: FieldTable): SingleActiveConsumers<C> | undefined {
    if (args['x-single-active-consumer'] !== true) return undefined;
    return new SingleActiveConsumers<C>(args['x-queue-type'] === 'quorum');
  }

  get size(): number {
    return this.all.length;
  }

  /** What queue.declare-ok reports: every consumer of a classic queue, only the active one of a quorum queue. */
  get reportedCount(): number {
    return this.quorum ? (this.active === undefined ? 0 : 1) : this.all.length;
  }

  /** RabbitMQ refuses an exclusive basic.consume on a classic single-active-consumer queue even when it has no consumer. */
  get refusesExclusive(): boolean {
    return !this.quorum;
  }

  add(consumer: C): void {
    this.all.push(consumer);
    this.active ??= consumer;
  }

  /** Returns false if the consumer was not there. The caller dispatches: a new active consumer may have taken over. */
  remove(consumer: C): boolean {
    const i = this.all.indexOf(consumer);
    if (i < 0) return false;
    this.all.splice(i, 1);
    if (consumer === this.active) this.active = this.next();
    return true;
  }

  clear(): C[] {
    const all = this.all;
    this.all = [];
    this.active = undefined;
    return all;
  }

  some(predicate: (consumer: C) => boolean): boolean {
    return this.all.some(predicate);
  }

  /** The active consumer if `accepts` lets it through: the others never get a message. */
  pick(accepts: (consumer: C) => boolean): C | undefined {
    const active = this.active;
    return active !== undefined && accepts(active) ? active : undefined;
  }

  [Symbol.iterator](): IterableIterator<C> {
    return this.all[Symbol.iterator]();
  }

  private next(): C | undefined {
    if (this.quorum) return this.all[0];
    let next: C | undefined;
    for (const consumer of this.all) if (next === undefined || consumer.priority > next.priority) next = consumer;
    return next;
  }
}
