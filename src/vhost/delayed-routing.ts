import { mayHaveSenderSelectedKeys, senderSelectedKeys, withoutBcc } from '../channel/sender-selected-keys.js';
import type { ReturnPath } from '../exchange/delayed-messages.js';
import type { Exchange } from '../exchange/exchange.js';
import { admitted, durableTarget } from '../queue/delivery.js';
import type { Message } from '../queue/message.js';
import type { Queue } from '../queue/queue.js';
import type { Router } from './router.js';

/**
 * Routes a message a delayed exchange held, now that its delay is over, as
 * a publish would: by its routing key and CC/BCC keys, through the
 * exchange's bindings (and alternate exchange), to every queue that admits
 * it, journaled for the durable ones if persistent. A mandatory message
 * that reaches no queue goes back to its publisher's channel, if that is
 * still open; its confirm was sent when the exchange took it. Returns
 * whether it was journaled.
 */
export function routeDelayed(router: Router, exchange: Exchange, message: Message, returnPath: ReturnPath | undefined): boolean {
  const routingKeys = mayHaveSenderSelectedKeys(message) ? senderSelectedKeys(message.routingKey, message.properties.headers) : [message.routingKey];
  const queues: Queue[] = [];
  router.route(exchange, routingKeys, message, queues);
  if (queues.length === 0) {
    returnPath?.returnUnroutable(message);
    return false;
  }
  const delivered = withoutBcc(message);
  const taking = admitted(queues, delivered);
  const target = durableTarget(taking);
  const journaled = target !== undefined && delivered.persistent;
  if (journaled) delivered.location = target.journal.append(target.ids, delivered.exchange, delivered.routingKey, delivered.rawProperties, delivered.body);
  for (const q of taking) q.enqueue(delivered);
  return journaled;
}
