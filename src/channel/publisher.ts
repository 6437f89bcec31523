import type { Exchange } from '../exchange/exchange.js';
import { AmqpError } from '../protocol/amqp-error.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import { MethodId } from '../protocol/generated/amqp-methods.js';
import { propertiesProblem } from '../protocol/properties-check.js';
import { admitted, durableTarget } from '../queue/delivery.js';
import { expirationRefusal } from '../queue/expiration.js';
import type { Message } from '../queue/message.js';
import type { Queue } from '../queue/queue.js';
import type { ChannelHost } from './channel-host.js';
import type { ConfirmTracker } from './confirm-tracker.js';
import { mayHaveSenderSelectedKeys, senderSelectedKeys, withoutBcc } from './sender-selected-keys.js';

/**
 * The publish path of a channel: routes a message to its queues (with its
 * CC/BCC keys), returns it when mandatory and unroutable, and hands it to the
 * queues. Nothing here allocates for a message without CC or BCC.
 */
export class Publisher {
  /** Reused for every publish; consumed before the next one. */
  private readonly routed: Queue[] = [];
  private readonly ownKey: string[] = [''];

  constructor(
    private readonly host: ChannelHost,
    private readonly channelNumber: number,
  ) {}

  /**
   * Refuses (406) what RabbitMQ refuses on arrival, transaction or not, in
   * its order: a user-id property naming someone other than the
   * authenticated user (so a consumer can trust it), an expiration that is
   * not a valid TTL, and a CC or BCC header that is not an array.
   */
  check(message: Message): void {
    // Unusable properties are refused now, as RabbitMQ does (541, the connection closes), not when something decodes them later.
    const problem = propertiesProblem(message.data, message.start, message.bodyStart);
    if (problem !== undefined) throw new AmqpError(ReplyCode.INTERNAL_ERROR, `cannot decode the message properties: ${problem}`);
    const userId = message.userId;
    if (userId !== undefined && userId !== this.host.userName) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `user_id property set to '${userId}' but authenticated user was '${this.host.userName}'`);
    }
    const expiration = message.expiration;
    const refusal = expiration === undefined ? undefined : expirationRefusal(expiration);
    if (refusal !== undefined) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid expiration '${expiration}': ${refusal}`);
    if (mayHaveSenderSelectedKeys(message)) senderSelectedKeys(message.routingKey, message.properties.headers);
  }

  /** Routes, returns the message if it is mandatory and unroutable, and hands it to its queues. */
  publish(exchange: Exchange, message: Message, mandatory: boolean, confirms: ConfirmTracker | undefined): void {
    this.deliver(this.route(exchange, message), message, mandatory, confirms);
  }

  /** The queues the message reaches, each once; valid until the next call. */
  route(exchange: Exchange, message: Message): readonly Queue[] {
    this.host.vhost.router.route(exchange, this.routingKeys(message), message, this.routed);
    return this.routed;
  }

  /**
   * A committed transaction's publish, routed when it was published (as
   * RabbitMQ does). A queue deleted since then is looked up again by name,
   * so a queue redeclared meanwhile gets the message; a message left with
   * no queue is returned if mandatory.
   */
  /** Returns whether the message went to the journal (the commit is then durable only after the next sync). */
  commit(queues: readonly Queue[], message: Message, mandatory: boolean): boolean {
    const live: Queue[] = [];
    for (const q of queues) {
      const current = q.deleted ? this.host.vhost.queues.get(q.name) : q;
      if (current !== undefined) live.push(current);
    }
    return this.deliver(live, message, mandatory, undefined);
  }

  /**
   * Hands the message to its queues, after returning it when it is mandatory
   * and has none (the return goes out before its confirm). A persistent
   * message for durable queues is journaled once for all of them, and its
   * confirm waits for the disk; any other publish is confirmed at once. A
   * queue at its length limit with x-overflow reject-publish refuses it: the
   * publisher gets a nack (under confirms), even if other queues took it.
   */
  private deliver(queues: readonly Queue[], message: Message, mandatory: boolean, confirms: ConfirmTracker | undefined): boolean {
    let journaled = false;
    if (queues.length === 0) {
      if (mandatory) this.returnUnroutable(message);
      confirms?.publish(0);
    } else {
      const delivered = withoutBcc(message);
      const taking = admitted(queues, delivered);
      if (taking.length < queues.length && confirms !== undefined) {
        confirms.settle(confirms.publish(1), false);
        journaled = this.journal(taking, delivered, undefined);
      } else {
        journaled = this.journal(taking, delivered, confirms);
      }
      for (let i = 0; i < taking.length; i++) taking[i]!.enqueue(delivered);
    }
    if (confirms !== undefined) this.host.confirmsPending();
    return journaled;
  }

  /** basic.return 312 NO_ROUTE of a mandatory message no queue took (without its BCC header). */
  returnUnroutable(message: Message): void {
    this.host.writer.method(this.channelNumber, {
      id: MethodId.BasicReturn,
      replyCode: ReplyCode.NO_ROUTE,
      replyText: 'NO_ROUTE',
      exchange: message.exchange,
      routingKey: message.routingKey,
    });
    this.host.writer.content(this.channelNumber, withoutBcc(message));
  }

  /** Journals the message if it must survive a restart; numbers its confirm either way. */
  private journal(queues: readonly Queue[], message: Message, confirms: ConfirmTracker | undefined): boolean {
    const target = this.host.journal === undefined ? undefined : durableTarget(queues);
    if (target === undefined || !message.persistent) {
      confirms?.publish(0);
      return false;
    }
    const seq = confirms?.publish(1) ?? 0;
    message.location = target.journal.append(target.ids, message.exchange, message.routingKey, message.rawProperties, message.body, confirms, seq);
    return true;
  }

  private routingKeys(message: Message): readonly string[] {
    if (mayHaveSenderSelectedKeys(message)) return senderSelectedKeys(message.routingKey, message.properties.headers);
    this.ownKey[0] = message.routingKey;
    return this.ownKey;
  }
}
