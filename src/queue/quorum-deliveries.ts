import type { Content } from '../protocol/content.js';
import { Decoder } from '../protocol/decoder.js';
import { Encoder } from '../protocol/encoder.js';
import { type FieldTable, type FieldValue, plainValue, TypedValue } from '../protocol/field-value.js';
import { decodeBasicProperties, encodeBasicProperties } from '../protocol/generated/basic-properties.js';
import { typeTag } from '../vhost/equivalence.js';
import type { QueuedMessage } from './message.js';
import { sortedTable } from './x-death.js';

const NUMBER_TAGS: ReadonlySet<string> = new Set(['b', 'B', 's', 'u', 'I', 'i', 'l', 'f', 'd']);

/**
 * What a quorum queue (x-queue-type quorum) does on top of a classic queue
 * here, as RabbitMQ 3.10's quorum queues do:
 *
 * - every return of a message (nack or reject with requeue, basic.recover,
 *   a channel closing with it unacked) counts one delivery more; a message
 *   whose count goes over x-delivery-limit leaves the queue instead, dead-
 *   lettered with reason delivery_limit when the queue has a dead-letter
 *   exchange. A limit of 0 (or below) lets a message be delivered once;
 *   without a numeric limit there is none;
 * - deliveries carry the count in an x-delivery-count header (a long), in a
 *   headers table re-sorted by name: deliveries to consumers once the
 *   message came back at least once, basic.get ones always (0 the first
 *   time). The header is written on the way out, never stored, so a dead-
 *   lettered message does not carry it.
 *
 * The count lives on the queued message, in memory: after a restart it
 * starts again from 0.
 */
export class QuorumDeliveries {
  private constructor(private readonly limit: number) {}

  /** Set for quorum queues only. */
  static fromArguments(args: FieldTable): QuorumDeliveries | undefined {
    if (args['x-queue-type'] !== 'quorum') return undefined;
    return new QuorumDeliveries(deliveryLimit(args['x-delivery-limit']));
  }

  /** The message came back: counts the delivery; true when it is now over the limit and must leave. */
  returned(qm: QueuedMessage): boolean {
    const count = (qm.deliveryCount ?? 0) + 1;
    qm.deliveryCount = count;
    return count > this.limit;
  }

  /** The content a delivery carries: the message's own unless the x-delivery-count header goes in. */
  content(qm: QueuedMessage, basicGet: boolean): Content {
    const m = qm.message;
    const count = qm.deliveryCount ?? 0;
    if (count === 0 && !basicGet) return m;
    // Decoded without caching on the message: a waiting message keeps its properties raw.
    const properties = decodeBasicProperties(new Decoder(m.data, m.start, m.bodyStart));
    const headers = sortedTable({ ...properties.headers, 'x-delivery-count': new TypedValue('l', count) });
    const e = new Encoder();
    encodeBasicProperties(e, { ...properties, headers });
    const rawProperties = e.take();
    const body = m.body;
    const data = Buffer.allocUnsafe(rawProperties.length + body.length);
    data.set(rawProperties, 0);
    data.set(body, rawProperties.length);
    return { data, start: 0, bodyStart: rawProperties.length, end: data.length };
  }
}

/**
 * The limit as RabbitMQ applies it: it compares the count with whatever
 * value it was given, in Erlang's term order, where a number is below any
 * string, boolean or table, so only a number limits anything.
 */
function deliveryLimit(value: FieldValue | undefined): number {
  if (value === undefined || !NUMBER_TAGS.has(typeTag(value))) return Infinity;
  return Number(plainValue(value));
}
