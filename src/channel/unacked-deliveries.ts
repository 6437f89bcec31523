import { AmqpError } from '../protocol/amqp-error.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import type { QueuedMessage } from '../queue/message.js';
import type { Queue } from '../queue/queue.js';
import type { Consumer } from './consumer.js';

/** How a delivery is finished: acked, rejected without requeue (dead-lettered if its queue says so), or requeued. */
export type Settlement = 'ack' | 'reject' | 'requeue';

export interface Delivery {
  readonly tag: number;
  readonly queue: Queue;
  readonly qm: QueuedMessage;
  /** undefined for basic.get deliveries. */
  readonly consumer: Consumer | undefined;
  /** When it went out (Date.now()), for the consumer timeout; 0 when there is none. */
  readonly deliveredAt: number;
}

/**
 * A channel's deliveries awaiting ack, by delivery tag. Tags only grow, and a
 * Map iterates in insertion order, so "every tag up to N" is a walk from the
 * front that stops at the first larger tag.
 */
export class UnackedDeliveries {
  private deliveries = new Map<number, Delivery>();

  constructor(
    /** Set when deliveries have an ack deadline (consumer-timeout.ts): called whenever the ledger stops being empty. */
    private readonly occupied: (() => void) | undefined = undefined,
  ) {}

  get size(): number {
    return this.deliveries.size;
  }

  /** When the oldest delivery awaiting ack went out; undefined when there is none. */
  get oldestDeliveredAt(): number | undefined {
    for (const d of this.deliveries.values()) return d.deliveredAt;
    return undefined;
  }

  add(tag: number, queue: Queue, qm: QueuedMessage, consumer: Consumer | undefined): void {
    this.deliveries.set(tag, { tag, queue, qm, consumer, deliveredAt: this.occupied === undefined ? 0 : Date.now() });
    if (this.deliveries.size === 1) this.occupied?.();
  }

  /**
   * Removes and returns the delivery `tag`, or with `multiple` every delivery up
   * to it (tag 0 with multiple: all). An unknown tag is a channel error, as in
   * RabbitMQ, and then nothing is removed.
   */
  take(tag: number, multiple: boolean): Delivery[] {
    this.check(tag, multiple);
    if (!multiple) {
      const d = this.deliveries.get(tag)!;
      this.deliveries.delete(tag);
      return [d];
    }
    const taken: Delivery[] = [];
    for (const [t, d] of this.deliveries) {
      if (tag !== 0 && t > tag) break;
      taken.push(d);
      this.deliveries.delete(t);
    }
    return taken;
  }

  private check(tag: number, multiple: boolean): void {
    if (multiple && tag === 0) return;
    if (!this.deliveries.has(tag)) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `unknown delivery tag ${tag}`);
  }

  /** Puts taken deliveries back (a rolled-back transaction), keeping tag order. */
  restore(deliveries: readonly Delivery[]): void {
    const all = [...this.deliveries.values(), ...deliveries].sort((a, b) => a.tag - b.tag);
    this.deliveries = new Map(all.map((d) => [d.tag, d]));
    if (this.deliveries.size > 0) this.occupied?.();
  }
}
