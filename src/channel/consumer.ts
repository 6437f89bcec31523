import { shortstrBytes } from '../protocol/encoder.js';
import { type FieldTable, plainValue } from '../protocol/field-value.js';
import type { QueuedMessage } from '../queue/message.js';
import type { Queue, QueueConsumer } from '../queue/queue.js';
import { integerRefusal, invalidArgument } from '../vhost/queue-arguments.js';

/** The channel side of a consumer: where deliveries go and what limits them. */
export interface ConsumerChannel {
  /** Channel-wide limits: closing, global prefetch, socket back-pressure. */
  canDeliver(): boolean;
  deliver(consumer: Consumer, queue: Queue, qm: QueuedMessage): void;
  consumerQueueDeleted(consumer: Consumer): void;
}

export class Consumer implements QueueConsumer {
  /** Messages delivered to this consumer and not yet acked. */
  unacked = 0;
  /** The tag as basic.deliver carries it, encoded once rather than for every delivery. */
  readonly encodedTag: Buffer;

  constructor(
    private readonly channel: ConsumerChannel,
    readonly queue: Queue,
    readonly tag: string,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    /** basic.qos global=false in force when the consumer was created; 0 is no limit. */
    readonly prefetch: number,
    readonly priority: number,
  ) {
    this.encodedTag = shortstrBytes(tag);
  }

  canTakeMessage(): boolean {
    if (!this.noAck && this.prefetch !== 0 && this.unacked >= this.prefetch) return false;
    return this.channel.canDeliver();
  }

  deliver(queue: Queue, qm: QueuedMessage): void {
    this.channel.deliver(this, queue, qm);
  }

  queueDeleted(): void {
    this.channel.consumerQueueDeleted(this);
  }
}

/** basic.consume's x-priority argument (default 0), which RabbitMQ requires to be an integer. */
export function consumerPriority(args: FieldTable, queue: string, vhost: string): number {
  const value = args['x-priority'];
  if (value === undefined) return 0;
  const refusal = integerRefusal(value);
  if (refusal !== undefined) throw invalidArgument('x-priority', queue, vhost, refusal);
  return Number(plainValue(value));
}
