import type { Exchange } from '../exchange/exchange.js';
import { Encoder } from '../protocol/encoder.js';
import type { FieldTable, FieldValue } from '../protocol/field-value.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import { MethodId } from '../protocol/generated/amqp-methods.js';
import { encodeBasicProperties } from '../protocol/generated/basic-properties.js';
import { Message } from '../queue/message.js';
import type { Queue } from '../queue/queue.js';
import type { ChannelHost } from './channel-host.js';

/**
 * The publish path of a channel: routes a message to its queues, returns it
 * when mandatory and unroutable, and hands it to the queues.
 */
export class Publisher {
  /** Reused for every publish; consumed before the next one. */
  private readonly routed = new Set<Queue>();
  private readonly keys: string[] = [''];

  constructor(
    private readonly host: ChannelHost,
    private readonly channelNumber: number,
  ) {}

  /** The queues the message reaches; valid until the next call. An unroutable mandatory message is returned here. */
  route(exchange: Exchange, message: Message, mandatory: boolean): Set<Queue> {
    const routed = this.routed;
    routed.clear();
    const headers = message.hasHeaders ? message.properties.headers : undefined;
    let keys = this.keys;
    keys[0] = message.routingKey;
    if (headers !== undefined && ('CC' in headers || 'BCC' in headers)) {
      keys = [message.routingKey, ...stringList(headers['CC']), ...stringList(headers['BCC'])];
    }
    this.host.vhost.router.route(exchange, keys, headers, routed);
    if (routed.size === 0 && mandatory) {
      this.host.writer.method(this.channelNumber, {
        id: MethodId.BasicReturn,
        replyCode: ReplyCode.NO_ROUTE,
        replyText: 'NO_ROUTE',
        exchange: message.exchange,
        routingKey: message.routingKey,
      });
      this.host.writer.content(this.channelNumber, message.rawProperties, message.body);
    }
    return routed;
  }

  enqueue(queues: Set<Queue>, message: Message): void {
    if (queues.size === 0) return;
    const delivered = message.hasHeaders && 'BCC' in (message.properties.headers ?? {}) ? withoutBcc(message) : message;
    for (const q of queues) q.enqueue(delivered);
  }
}

/** CC and BCC hold routing keys as an array of strings; anything else there is ignored. */
function stringList(value: FieldValue | undefined): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((v) => (typeof v === 'string' ? [v] : Buffer.isBuffer(v) ? [v.toString()] : []));
}

/** BCC keys must not reach consumers: the message is re-encoded without that header. */
function withoutBcc(message: Message): Message {
  const { headers, ...rest } = message.properties;
  const kept: FieldTable = { ...headers };
  delete kept['BCC'];
  const e = new Encoder();
  encodeBasicProperties(e, { ...rest, headers: kept });
  return new Message(message.exchange, message.routingKey, Buffer.from(e.take()), message.body);
}
