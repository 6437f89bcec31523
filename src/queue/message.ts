import { Decoder } from '../protocol/decoder.js';
import { decodeBasicProperties, PropertyFlag, type BasicProperties } from '../protocol/generated/basic-properties.js';

/**
 * A published message as the broker keeps it: routing data, the content
 * header's property bytes exactly as received, and the body. Properties stay
 * raw until something needs one, so a message passes through undecoded.
 * One Message is shared by every queue it was routed to.
 */
export class Message {
  private decoded: BasicProperties | undefined;

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
    return (this.rawProperties.readUInt16BE(0) & PropertyFlag.Headers) !== 0;
  }

  get size(): number {
    return this.body.length;
  }
}

/** A message's place in one queue. */
export interface QueuedMessage {
  readonly message: Message;
  /** Position in the queue, so a requeued message goes back to where it was. */
  readonly seq: number;
  redelivered: boolean;
}
