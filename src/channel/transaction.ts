import type { DelayedMessages, ReturnPath } from '../exchange/delayed-messages.js';
import type { Message } from '../queue/message.js';
import type { Queue } from '../queue/queue.js';
import type { Delivery, Settlement } from './unacked-deliveries.js';

export type TransactionOp =
  | { readonly kind: 'publish'; readonly queues: readonly Queue[]; readonly message: Message; readonly mandatory: boolean }
  | { readonly kind: 'hold'; readonly delayed: DelayedMessages; readonly message: Message; readonly delay: number; readonly returnPath: ReturnPath | undefined }
  | { readonly kind: 'settle'; readonly deliveries: readonly Delivery[]; readonly how: Settlement };

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

  /** A publish a delayed exchange holds: it starts waiting at commit. */
  hold(delayed: DelayedMessages, message: Message, delay: number, returnPath: ReturnPath | undefined): void {
    this.ops.push({ kind: 'hold', delayed, message, delay, returnPath });
  }

  settle(deliveries: readonly Delivery[], how: Settlement): void {
    this.ops.push({ kind: 'settle', deliveries, how });
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
