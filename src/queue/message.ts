import { Decoder } from '../protocol/decoder.js';
import { decodeBasicProperties, PropertyFlag, type BasicProperties } from '../protocol/generated/basic-properties.js';
import type { Content } from '../protocol/content.js';
import type { StoredLocation } from '../store/journal.js';

/**
 * A published message as the broker keeps it: routing data, the content
 * header's property bytes exactly as received, and the body. Properties stay
 * raw until something needs one, so a message passes through undecoded.
 * One Message is shared by every queue it was routed to.
 *
 * Its content is a range of a buffer it may share with other messages
 * (see Content): a queue of a million small messages keeps no buffer object
 * per message (each would cost about 100 bytes, more than the content).
 */
export class Message implements Content {
  private decoded: BasicProperties | undefined;
  /** Where the journal holds it; set when it went to a durable queue as a persistent message. */
  location: StoredLocation | undefined;

  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    readonly data: Buffer,
    readonly start: number,
    readonly bodyStart: number,
    readonly end: number,
  ) {}

  /** A message made of separate properties and body, copied into a buffer of its own (for messages the broker derives). */
  static fromParts(exchange: string, routingKey: string, rawProperties: Buffer, body: Buffer): Message {
    const data = Buffer.allocUnsafe(rawProperties.length + body.length);
    rawProperties.copy(data, 0);
    body.copy(data, rawProperties.length);
    return new Message(exchange, routingKey, data, 0, rawProperties.length, data.length);
  }

  /** The property flags word and property list: a view, made on each call. */
  get rawProperties(): Buffer {
    return this.data.subarray(this.start, this.bodyStart);
  }

  /** A view, made on each call. */
  get body(): Buffer {
    return this.data.subarray(this.bodyStart, this.end);
  }

  get properties(): BasicProperties {
    return (this.decoded ??= decodeBasicProperties(new Decoder(this.data, this.start, this.bodyStart)));
  }

  get hasHeaders(): boolean {
    return this.has(PropertyFlag.Headers);
  }

  /** The user-id property; the flags word says whether there is one, so most messages stay undecoded. */
  get userId(): string | undefined {
    return this.has(PropertyFlag.UserId) ? this.properties.userId : undefined;
  }

  /**
   * The expiration property (a per-message TTL), read from the raw bytes:
   * a queued message with a TTL does not keep its properties decoded.
   */
  get expiration(): string | undefined {
    if (this.decoded !== undefined || !this.has(PropertyFlag.Expiration)) return this.decoded?.expiration;
    const { data, bodyStart: end } = this;
    const at = skipToExpiration(data, this.start, end);
    const stop = at + 1 + (at < end ? data[at]! : end);
    // Malformed properties are left to the decoder, which refuses them.
    return stop <= end ? data.toString('utf8', at + 1, stop) : this.properties.expiration;
  }

  private has(flag: number): boolean {
    return (this.data.readUInt16BE(this.start) & flag) !== 0;
  }

  /** delivery-mode 2, read straight from the raw properties (this runs for every publish to a durable queue). */
  get persistent(): boolean {
    return readOctetProperty(this.data, this.start, this.bodyStart, PropertyFlag.DeliveryMode) === 2;
  }

  /** The priority property (0 when absent), read straight from the raw properties: priority queues read it for every message. */
  get priority(): number {
    return readPriority(this.data, this.start, this.bodyStart);
  }

  /** Bytes of the body. */
  get size(): number {
    return this.end - this.bodyStart;
  }
}

/**
 * The delivery-mode or priority property (octets) of the properties in
 * `raw` from `start` to `end`, skipping the properties before it without
 * decoding them.
 */
function readOctetProperty(raw: Buffer, start: number, end: number, flag: typeof PropertyFlag.DeliveryMode | typeof PropertyFlag.Priority): number | undefined {
  const flags = raw.readUInt16BE(start);
  if ((flags & flag) === 0) return undefined;
  let at = start + 2;
  if (flags & PropertyFlag.ContentType) at += 1 + raw[at]!;
  if (flags & PropertyFlag.ContentEncoding) at += 1 + raw[at]!;
  if (flags & PropertyFlag.Headers) at += 4 + raw.readUInt32BE(at);
  if (flag === PropertyFlag.Priority && (flags & PropertyFlag.DeliveryMode) !== 0) at += 1;
  return at < end ? raw[at] : undefined;
}

/** The priority property of the properties in `raw` from `start` to `end`; 0 when absent, as RabbitMQ counts a message without one. */
export function readPriority(raw: Buffer, start = 0, end: number = raw.length): number {
  return readOctetProperty(raw, start, end, PropertyFlag.Priority) ?? 0;
}

/** The offset of the expiration shortstr, skipping the seven properties before it without decoding them. */
function skipToExpiration(raw: Buffer, start: number, end: number): number {
  const flags = raw.readUInt16BE(start);
  // A second flags word (never needed in 0-9-1) is the decoder's business.
  if (flags & 1) return end;
  let at = start + 2;
  if (flags & PropertyFlag.ContentType) at += 1 + raw[at]!;
  if (flags & PropertyFlag.ContentEncoding) at += 1 + raw[at]!;
  if (flags & PropertyFlag.Headers) at = at + 4 <= end ? at + 4 + raw.readUInt32BE(at) : end;
  if (flags & PropertyFlag.DeliveryMode) at += 1;
  if (flags & PropertyFlag.Priority) at += 1;
  if (flags & PropertyFlag.CorrelationId) at += 1 + raw[at]!;
  if (flags & PropertyFlag.ReplyTo) at += 1 + raw[at]!;
  return at;
}

/** A message's place in one queue. */
export interface QueuedMessage {
  readonly message: Message;
  /** Position in the queue, so a requeued message goes back to where it was. */
  readonly seq: number;
  redelivered: boolean;
  /**
   * When it expires (ms since the epoch), present only on a message that
   * can: one with an expiration property, or in a queue with x-message-ttl.
   * It costs such a message 24 bytes (a property slot and a boxed double);
   * no timer: the queue has one for all its messages.
   */
  expiresAt?: number;
  /** Quorum queues only: how often it came back (requeued), once it has (quorum-deliveries.ts). */
  deliveryCount?: number;
}
