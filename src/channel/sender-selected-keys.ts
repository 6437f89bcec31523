import { AmqpError } from '../protocol/amqp-error.js';
import { Encoder } from '../protocol/encoder.js';
import type { FieldTable } from '../protocol/field-value.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import { encodeBasicProperties, PropertyFlag } from '../protocol/generated/basic-properties.js';
import { keepBccKeys } from '../queue/dead-letter.js';
import { Message } from '../queue/message.js';
import { typeName } from '../vhost/equivalence.js';

/**
 * RabbitMQ's sender-selected distribution: arrays of routing keys in the CC
 * and BCC headers route the message as if it had been published with each of
 * them too. BCC is removed before the message reaches anyone.
 */
const ROUTING_HEADERS = ['CC', 'BCC'] as const;

/** Size of a field value after its type tag, by tag octet: fixed, or a 4-octet length then that many octets. */
const LENGTH_PREFIXED = -1;
const VALUE_SIZES: Readonly<Record<string, number>> = {
  t: 1, b: 1, B: 1, s: 2, u: 2, I: 4, i: 4, l: 8, f: 4, d: 8, D: 5, T: 8, V: 0,
  S: LENGTH_PREFIXED, x: LENGTH_PREFIXED, A: LENGTH_PREFIXED, F: LENGTH_PREFIXED,
};
const UNKNOWN = -2;
const VALUE_SIZE_BY_TAG = new Int8Array(256).fill(UNKNOWN);
for (const [tag, size] of Object.entries(VALUE_SIZES)) VALUE_SIZE_BY_TAG[tag.charCodeAt(0)] = size;

const C = 0x43;
const B = 0x42;

/**
 * Whether the headers hold CC or BCC, read from the raw property bytes by
 * walking the table's keys, so that most messages are routed without
 * decoding their headers (amqplib sends an empty table with every message).
 * Malformed properties say yes and leave the error to the decoder.
 */
export function mayHaveSenderSelectedKeys(message: Message): boolean {
  if (!message.hasHeaders) return false;
  // The properties in place (no view made per publish): `raw` from `message.start` to `limit`.
  const { data: raw, bodyStart: limit } = message;
  const flags = raw.readUInt16BE(message.start);
  // Bit 0 announces another flags word, which 0-9-1 never needs.
  if ((flags & 1) !== 0) return true;
  let at = message.start + 2;
  if ((flags & PropertyFlag.ContentType) !== 0) at += 1 + (at < limit ? raw[at]! : 0);
  if ((flags & PropertyFlag.ContentEncoding) !== 0) at += 1 + (at < limit ? raw[at]! : 0);
  if (at + 4 > limit) return true;
  const end = at + 4 + raw.readUInt32BE(at);
  if (end > limit) return true;
  for (let i = at + 4; i < end; ) {
    const keyLength = raw[i]!;
    if (keyLength === 2 && raw[i + 1] === C && raw[i + 2] === C) return true;
    if (keyLength === 3 && raw[i + 1] === B && raw[i + 2] === C && raw[i + 3] === C) return true;
    const tagAt = i + 1 + keyLength;
    if (tagAt >= end) return true;
    const size = VALUE_SIZE_BY_TAG[raw[tagAt]!]!;
    if (size === UNKNOWN) return true;
    if (size !== LENGTH_PREFIXED) i = tagAt + 1 + size;
    else if (tagAt + 5 > end) return true;
    else i = tagAt + 5 + raw.readUInt32BE(tagAt + 1);
  }
  return false;
}

/**
 * The routing key followed by the CC and BCC keys. Only string elements are
 * keys (RabbitMQ takes the longstr ones); a CC or BCC that is not an array
 * makes the message invalid, which RabbitMQ answers with 406 when it arrives.
 */
export function senderSelectedKeys(routingKey: string, headers: FieldTable | undefined): string[] {
  const keys = [routingKey];
  if (headers === undefined) return keys;
  for (const name of ROUTING_HEADERS) {
    if (!Object.hasOwn(headers, name)) continue;
    const value = headers[name]!;
    if (!Array.isArray(value)) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid message: {unacceptable_type_in_header,"${name}",${typeName(value)}}`);
    }
    for (const key of value) if (typeof key === 'string') keys.push(key);
  }
  return keys;
}

/** The message as queues and a basic.return carry it: without its BCC header, re-encoded only when it has one. */
export function withoutBcc(message: Message): Message {
  if (!mayHaveSenderSelectedKeys(message)) return message;
  const { headers, ...rest } = message.properties;
  if (headers === undefined || !Object.hasOwn(headers, 'BCC')) return message;
  const kept: FieldTable = { ...headers };
  const bcc = kept['BCC'];
  delete kept['BCC'];
  const e = new Encoder();
  encodeBasicProperties(e, { ...rest, headers: kept });
  const stripped = Message.fromParts(message.exchange, message.routingKey, e.take(), message.body);
  // Dead-lettering without a dead-letter routing key routes by them still, as RabbitMQ does.
  if (Array.isArray(bcc)) keepBccKeys(stripped, bcc.filter((key): key is string => typeof key === 'string'));
  return stripped;
}
