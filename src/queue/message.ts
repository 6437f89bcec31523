import { Decoder } from '../protocol/decoder.js';
import { decodeBasicProperties, PropertyFlag, type BasicProperties } from '../protocol/generated/basic-properties.js';
import type { StoredLocation } from '../store/journal.js';

/**
 * A published message as the broker keeps it: routing data, the content
 * header's property bytes exactly as received, and the body. Properties stay
 * raw until something needs one, so a message passes through undecoded.
 * One Message is shared by every queue it was routed to.
 *
 * Properties and body sit in one buffer, properties first: a queue of a
 * million small messages keeps a million buffer objects, not two million
 * (each costs about 100 bytes, more than a small message's content).
 */
export class Message {
  private decoded: BasicProperties | undefined;
  /** Where the journal holds it; set when it went to a durable queue as a persistent message. */
  location: StoredLocation | undefined;

  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    /** The property flags word and property list (as in the content header frame), then the body. */
    readonly content: Buffer,
    /** Where the body starts in `content`. */
    readonly bodyStart: number,
  ) {}

  /** A message made of separate properties and body, copied into one buffer (for messages the broker derives). */
  static fromParts(exchange: string, routingKey: string, rawProperties: Buffer, body: Buffer): Message {
    const content = Buffer.allocUnsafe(rawProperties.length + body.length);
    rawProperties.copy(content, 0);
    body.copy(content, rawProperties.length);
    return new Message(exchange, routingKey, content, rawProperties.length);
  }

  /** The property flags word and property list: a view, made on each call. */
  get rawProperties(): Buffer {
    return this.content.subarray(0, this.bodyStart);
  }

  /** A view, made on each call. */
  get body(): Buffer {
    return this.content.subarray(this.bodyStart);
  }

  get properties(): BasicProperties {
    return (this.decoded ??= decodeBasicProperties(new Decoder(this.content, 0, this.bodyStart)));
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
    const raw = this.content;
    const end = this.bodyStart;
    const at = skipToExpiration(raw, end);
    const stop = at + 1 + (at < end ? raw[at]! : end);
    // Malformed properties are left to the decoder, which refuses them.
    return stop <= end ? raw.toString('utf8', at + 1, stop) : this.properties.expiration;
  }

  private has(flag: number): boolean {
    return (this.content.readUInt16BE(0) & flag) !== 0;
  }

  /** delivery-mode 2, read straight from the raw properties (this runs for every publish to a durable queue). */
  get persistent(): boolean {
    return readOctetProperty(this.content, this.bodyStart, PropertyFlag.DeliveryMode) === 2;
  }

  /** The priority property (0 when absent), read straight from the raw properties: priority queues read it for every message. */
  get priority(): number {
    return readPriority(this.content, this.bodyStart);
  }

  /** Bytes of the body. */
  get size(): number {
    return this.content.length - this.bodyStart;
  }
}

/**
 * The delivery-mode or priority property (octets), skipping the properties
 * before it without decoding them; the properties end at `end`.
 */
function readOctetProperty(raw: Buffer, end: number, flag: typeof PropertyFlag.DeliveryMode | typeof PropertyFlag.Priority): number | undefined {
  const flags = raw.readUInt16BE(0);
  if ((flags & flag) === 0) return undefined;
  let at = 2;
  if (flags & PropertyFlag.ContentType) at += 1 + raw[at]!;
  if (flags & PropertyFlag.ContentEncoding) at += 1 + raw[at]!;
  if (flags & PropertyFlag.Headers) at += 4 + raw.readUInt32BE(at);
  if (flag === PropertyFlag.Priority && (flags & PropertyFlag.DeliveryMode) !== 0) at += 1;
  return at < end ? raw[at] : undefined;
}

/** The priority property of raw properties ending at `end`; 0 when absent, as RabbitMQ counts a message without one. */
export function readPriority(raw: Buffer, end: number = raw.length): number {
  return readOctetProperty(raw, end, PropertyFlag.Priority) ?? 0;
}

/** The offset of the expiration shortstr, skipping the seven properties before it without decoding them. */
function skipToExpiration(raw: Buffer, end: number): number {
  const flags = raw.readUInt16BE(0);
  // A second flags word (never needed in 0-9-1) is the decoder's business.
  if (flags & 1) return end;
  let at = 2;
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
