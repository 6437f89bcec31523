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

  /** The expiration property (a per-message TTL), decoded only when there is one. */
  get expiration(): string | undefined {
    return this.has(PropertyFlag.Expiration) ? this.properties.expiration : undefined;
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

/** A message's place in one queue. */
export interface QueuedMessage {
  readonly message: Message;
  /** Position in the queue, so a requeued message goes back to where it was. */
  readonly seq: number;
  redelivered: boolean;
}
