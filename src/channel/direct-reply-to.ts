import { randomBytes } from 'node:crypto';
import { AmqpError } from '../protocol/amqp-error.js';
import { Encoder } from '../protocol/encoder.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import { encodeBasicProperties, PropertyFlag } from '../protocol/generated/basic-properties.js';
import { Message } from '../queue/message.js';
import { Queue } from '../queue/queue.js';
import { Consumer, type ConsumerChannel } from './consumer.js';

/** The pseudo-queue an RPC client consumes from, and puts in reply_to, to get replies without declaring a queue. */
export const REPLY_TO = 'amq.rabbitmq.reply-to';
const REPLY_TO_PREFIX = `${REPLY_TO}.`;

/** What queue.declare answers for the pseudo-queue, or a generated reply name in use, as RabbitMQ does (it counts one consumer). */
export const REPLY_QUEUE_COUNTS = { messageCount: 0, consumerCount: 1 } as const;

/**
 * A channel's direct reply-to consumer (RabbitMQ's "fast reply-to"). The
 * channel consumes from amq.rabbitmq.reply-to with no-ack; each request it
 * publishes with reply_to amq.rabbitmq.reply-to gets reply_to rewritten to
 * a name of its own (amq.rabbitmq.reply-to.<random>), and a reply published
 * to the default exchange with that name as routing key goes straight to
 * this consumer. Behind the name is a queue of the virtual host's reply
 * table (not a declared queue: it cannot be bound, got from or purged), so
 * replies go through the usual delivery path and wait in it only while the
 * socket is congested; they are never journaled, and a reply for a name
 * whose consumer has gone is unroutable (returned when mandatory).
 */
export class DirectReplyTo {
  private consumer: Consumer | undefined;

  constructor(
    /** The channel as this consumer sees it: like its own, without the channel-wide prefetch (RabbitMQ does not count replies). */
    private readonly channel: ConsumerChannel,
    /** The virtual host's reply queues by name, which the default exchange routes to. */
    private readonly replies: Map<string, Queue>,
  ) {}

  /** The consumer, for the channel's list of consumers (back-pressure resumes it like the others). */
  get active(): Consumer | undefined {
    return this.consumer;
  }

  /** basic.consume from amq.rabbitmq.reply-to, with RabbitMQ's refusals. */
  consume(tag: string, noAck: boolean): void {
    if (!noAck) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'reply consumer cannot acknowledge');
    if (this.consumer !== undefined) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'reply consumer already set');
    let name: string;
    do name = `${REPLY_TO_PREFIX}${randomBytes(18).toString('base64url')}`;
    while (this.replies.has(name));
    const queue = new Queue(name, { durable: false, exclusiveOwner: undefined, autoDelete: false, arguments: {} });
    this.consumer = new Consumer(this.channel, queue, tag, true, false, 0, 0);
    this.replies.set(name, queue);
    queue.addConsumer(this.consumer);
  }

  /** basic.cancel: true when `tag` was the reply consumer's (RabbitMQ looks at it before the channel's other consumers). */
  cancel(tag: string): boolean {
    if (this.consumer?.tag !== tag) return false;
    this.release();
    return true;
  }

  /** The consumer goes (cancelled, or its channel closed); replies still waiting for it are dropped. */
  release(): void {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    this.consumer = undefined;
    this.replies.delete(consumer.queue.name);
    // Detached first: deleting a queue tells its consumers, which would send the client a basic.cancel.
    consumer.queue.removeConsumer(consumer);
    consumer.queue.delete();
  }

  /**
   * A published message, with reply_to amq.rabbitmq.reply-to replaced by
   * this consumer's reply name; 406 when the channel has no reply consumer,
   * as in RabbitMQ. Only messages with a reply_to property are decoded.
   */
  rewrite(message: Message): Message {
    if ((message.data.readUInt16BE(message.start) & PropertyFlag.ReplyTo) === 0 || message.properties.replyTo !== REPLY_TO) return message;
    if (this.consumer === undefined) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'fast reply consumer does not exist');
    const e = new Encoder();
    encodeBasicProperties(e, { ...message.properties, replyTo: this.consumer.queue.name });
    return Message.fromParts(message.exchange, message.routingKey, e.take(), message.body);
  }
}

/**
 * queue.declare of the pseudo-queue, or of a reply name: RabbitMQ answers
 * either (passive or not, whatever the flags) with one consumer and no
 * messages, and a reply name nobody consumes from as a missing queue.
 * Undefined for any other name.
 */
export function replyQueueDeclared(name: string, replies: ReadonlyMap<string, Queue>, vhost: string): typeof REPLY_QUEUE_COUNTS | undefined {
  if (name === REPLY_TO) return REPLY_QUEUE_COUNTS;
  if (!name.startsWith(REPLY_TO_PREFIX)) return undefined;
  if (!replies.has(name)) throw new AmqpError(ReplyCode.NOT_FOUND, `no queue '${name}' in vhost '${vhost}'`);
  return REPLY_QUEUE_COUNTS;
}
