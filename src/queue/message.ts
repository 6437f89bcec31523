import { Decoder } from '../protocol/decoder.js';
import { decodeBasicProperties, PropertyFlag, type BasicProperties } from '../protocol/generated/basic-properties.js';
import type { StoredLocation } from '../store/journal.js';

/**
 * A published message as the broker keeps it: routing data, the content
 * header's property bytes exactly as received, and the body. Properties stay
 * raw until something needs one, so a message passes through undecoded.
 * One Message is shared by every queue it was routed to.
 */
export class Message {
  private decoded: BasicProperties | undefined;
  /** Where the journal holds it; set when it went to a durable queue as a persistent message. */
  location: StoredLocation | undefined;

  constructor(
    readonly exchange: string,
    readonly routingKey: string,
    /** Property flags word and property list, as in the content header frame. */
    readonly rawProperties: Buffer,
    readonly body: Buffer,
  ) {}

  get properties(): BasicProperties {
    return (this.decoded ??= decodeBasicProperties(new Decoder(this.rawProperties)));
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
    const raw = this.rawProperties;
    const at = skipToExpiration(raw);
    const end = at + 1 + (raw[at] ?? raw.length);
    // Malformed properties are left to the decoder, which refuses them.
    return end <= raw.length ? raw.toString('utf8', at + 1, end) : this.properties.expiration;
  }

  private has(flag: number): boolean {
    return (this.rawProperties.readUInt16BE(0) & flag) !== 0;
  }

  /** delivery-mode 2, read straight from the raw properties (this runs for every publish to a durable queue). */
  get persistent(): boolean {
    return readDeliveryMode(this.rawProperties) === 2;
  }

  get size(): number {
    return this.body.length;
  }
}

/** The delivery-mode property, skipping the three properties before it without decoding them. */
function readDeliveryMode(raw: Buffer): number | undefined {
  const flags = raw.readUInt16BE(0);
  if ((flags & PropertyFlag.DeliveryMode) === 0) return undefined;
  let at = 2;
  if (flags & PropertyFlag.ContentType) at += 1 + raw[at]!;
  if (flags & PropertyFlag.ContentEncoding) at += 1 + raw[at]!;
  if (flags & PropertyFlag.Headers) at += 4 + raw.readUInt32BE(at);
  return raw[at];
}

/** The offset of the expiration shortstr, skipping the seven properties before it without decoding them. */
function skipToExpiration(raw: Buffer): number {
  const flags = raw.readUInt16BE(0);
  // A second flags word (never needed in 0-9-1) is the decoder's business.
  if (flags & 1) return raw.length;
  let at = 2;
  if (flags & PropertyFlag.ContentType) at += 1 + raw[at]!;
  if (flags & PropertyFlag.ContentEncoding) at += 1 + raw[at]!;
  if (flags & PropertyFlag.Headers) at = at + 4 <= raw.length ? at + 4 + raw.readUInt32BE(at) : raw.length;
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
}
