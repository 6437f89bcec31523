import { Encoder } from '../protocol/encoder.js';
import type { FieldTable, FieldValue } from '../protocol/field-value.js';
import { encodeBasicProperties } from '../protocol/generated/basic-properties.js';
import { admitted, durableTarget } from './delivery.js';
import { Message } from './message.js';
import type { Queue } from './queue.js';
import { closesAutomaticCycle, type DeadLetterReason, recordDeath } from './x-death.js';

/** A queue's x-dead-letter-exchange and x-dead-letter-routing-key. */
export interface DeadLetterTarget {
  readonly exchange: string;
  /** Replaces the message's routing keys (CC included) when set. */
  readonly routingKey: string | undefined;
}

export function deadLetterTarget(args: FieldTable): DeadLetterTarget | undefined {
  const exchange = args['x-dead-letter-exchange'];
  if (typeof exchange !== 'string') return undefined;
  const routingKey = args['x-dead-letter-routing-key'];
  return { exchange, routingKey: typeof routingKey === 'string' ? routingKey : undefined };
}

/** How a queue reaches its dead-letter exchange: its virtual host routes. */
export interface DeadLetterRouter {
  /** The queues a message reaches from the exchange named, each once; undefined when there is no such exchange. */
  routeFrom(exchange: string, routingKeys: readonly string[], message: Message): Queue[] | undefined;
}

/**
 * The BCC keys of messages that lost their BCC header on arrival: as in
 * RabbitMQ, a message dead-lettered without x-dead-letter-routing-key is
 * routed by every key it was published with. Only messages that had a BCC
 * header have an entry, and it goes with them.
 */
const bccKeys = new WeakMap<Message, readonly string[]>();

export function keepBccKeys(message: Message, keys: readonly string[]): void {
  if (keys.length > 0) bccKeys.set(message, keys);
}

/**
 * Republishes a message that died in `queue` to the queue's dead-letter
 * exchange, as RabbitMQ does: with the death recorded in x-death, without
 * its expiration property, routed by the dead-letter routing key or else by
 * the keys it was published with. A missing exchange drops it. So does a
 * queue it would reach by going round a cycle of expiries and length limits
 * (one with no rejection in it), which would otherwise never end.
 */
export function deadLetter(router: DeadLetterRouter, target: DeadLetterTarget, queue: string, message: Message, reason: DeadLetterReason): void {
  const { expiration, ...properties } = message.properties;
  const cc = stringsIn(properties.headers?.['CC']);
  const { headers, deaths } = recordDeath(properties.headers, {
    reason,
    queue,
    exchange: message.exchange,
    // RabbitMQ reads them from the headers: the CC keys, and BCC only if a message still had one.
    routingKeys: [message.routingKey, ...cc, ...stringsIn(properties.headers?.['BCC'])],
    expiration,
    time: new Date(Math.floor(Date.now() / 1000) * 1000),
  });
  if (target.routingKey !== undefined) delete headers['CC'];
  const e = new Encoder();
  encodeBasicProperties(e, { ...properties, headers });
  const bcc = bccKeys.get(message) ?? [];
  const routingKeys = target.routingKey !== undefined ? [target.routingKey] : [message.routingKey, ...cc, ...bcc];
  const dead = Message.fromParts(target.exchange, routingKeys[0]!, e.take(), message.body);
  if (target.routingKey === undefined) keepBccKeys(dead, bcc);
  const reached = router.routeFrom(target.exchange, routingKeys, dead);
  if (reached === undefined) return;
  const live = reason === 'rejected' ? reached : reached.filter((q) => !closesAutomaticCycle(q.name, deaths));
  const taking = admitted(live, dead);
  const stored = durableTarget(taking);
  if (stored !== undefined && dead.persistent) {
    dead.location = stored.journal.append(stored.ids, dead.exchange, dead.routingKey, dead.rawProperties, dead.body);
  }
  for (const q of taking) q.enqueue(dead);
}

function stringsIn(value: FieldValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
