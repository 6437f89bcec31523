import type { Exchange } from '../exchange/exchange.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import { MethodId } from '../protocol/generated/amqp-methods.js';
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

  /** Refuses (406) a message with a CC or BCC header that is not an array, as RabbitMQ does on arrival, transaction or not. */
  check(message: Message): void {
    if (mayHaveSenderSelectedKeys(message)) senderSelectedKeys(message.routingKey, message.properties.headers);
  }

  /** The queues the message reaches, each once; valid until the next call. An unroutable mandatory message is returned here. */
  route(exchange: Exchange, message: Message, mandatory: boolean): readonly Queue[] {
    const routed = this.routed;
    this.host.vhost.router.route(exchange, this.routingKeys(message), message, routed);
    if (routed.length === 0 && mandatory) {
      this.host.writer.method(this.channelNumber, {
        id: MethodId.BasicReturn,
        replyCode: ReplyCode.NO_ROUTE,
        replyText: 'NO_ROUTE',
        exchange: message.exchange,
        routingKey: message.routingKey,
      });
      this.host.writer.content(this.channelNumber, withoutBcc(message).rawProperties, message.body);
    }
    return routed;
  }

  /**
   * Hands the message to its queues. A persistent message for durable queues
   * is journaled once for all of them, and its confirm waits for the disk;
   * any other publish is confirmed at once.
   */
  enqueue(queues: readonly Queue[], message: Message, confirms: ConfirmTracker | undefined): void {
    if (queues.length === 0) {
      confirms?.publish(0);
    } else {
      const delivered = withoutBcc(message);
      this.journal(queues, delivered, confirms);
      for (let i = 0; i < queues.length; i++) queues[i]!.enqueue(delivered);
    }
    if (confirms !== undefined) this.host.confirmsPending();
  }

  /** Journals the message if it must survive a restart; numbers its confirm either way. */
  private journal(queues: readonly Queue[], message: Message, confirms: ConfirmTracker | undefined): void {
    const journal = this.host.journal;
    let ids: number[] | undefined;
    if (journal !== undefined) {
      for (let i = 0; i < queues.length; i++) {
        const p = queues[i]!.persistence;
        if (p !== undefined) (ids ??= []).push(p.id);
      }
    }
    if (ids === undefined || !message.persistent) {
      confirms?.publish(0);
      return;
    }
    const seq = confirms?.publish(1) ?? 0;
    message.location = journal!.append(ids, message.exchange, message.routingKey, message.rawProperties, message.body, confirms, seq);
  }

  private routingKeys(message: Message): readonly string[] {
    if (mayHaveSenderSelectedKeys(message)) return senderSelectedKeys(message.routingKey, message.properties.headers);
    this.ownKey[0] = message.routingKey;
    return this.ownKey;
  }
}
