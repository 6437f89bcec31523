import type { Message } from '../queue/message.js';
import type { Queue } from '../queue/queue.js';
import type { Delivery } from './unacked-deliveries.js';

export type TransactionOp =
  | { readonly kind: 'publish'; readonly queues: readonly Queue[]; readonly message: Message; readonly mandatory: boolean }
  | { readonly kind: 'settle'; readonly deliveries: readonly Delivery[]; readonly requeue: boolean };

/**
 * A tx-mode channel's uncommitted work: publishes are held with the queues
 * they were routed to, and acks or rejects with their deliveries, until
 * commit applies them in order; rollback drops the publishes and hands the
 * deliveries back as unacked.
 */
export class Transaction {
  private ops: TransactionOp[] = [];

  /** `queues` is copied: the publisher reuses its array. */
  publish(queues: readonly Queue[], message: Message, mandatory: boolean): void {
    this.ops.push({ kind: 'publish', queues: [...queues], message, mandatory });
  }

  settle(deliveries: readonly Delivery[], requeue: boolean): void {
    this.ops.push({ kind: 'settle', deliveries, requeue });
  }

  /** The pending work, in the order it arrived; the transaction starts empty again. */
  take(): TransactionOp[] {
    const ops = this.ops;
    this.ops = [];
    return ops;
  }

  /** Drops the publishes; returns the deliveries that must become unacked again. */
  rollback(): Delivery[] {
    return this.take().flatMap((op) => (op.kind === 'settle' ? op.deliveries : []));
  }
}
