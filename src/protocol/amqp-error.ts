import { replyCodeName, SOFT_ERROR_CODES } from './generated/amqp-constants.js';

/**
 * A protocol error the broker reports to the client. The reply code decides
 * the scope: hard errors close the connection, soft errors only the channel.
 * The text follows RabbitMQ's "NAME - detail" form, which clients show to users.
 */
export class AmqpError extends Error {
  readonly replyText: string;

  constructor(
    readonly replyCode: number,
    detail: string,
    readonly classId = 0,
    readonly methodId = 0,
  ) {
    const text = `${replyCodeName(replyCode)} - ${detail}`;
    super(text);
    this.name = 'AmqpError';
    // reply-text is a shortstr on the wire: at most 255 bytes.
    this.replyText = Buffer.byteLength(text) <= 255 ? text : Buffer.from(text).subarray(0, 255).toString('utf8');
  }

  get closesConnection(): boolean {
    return isHardError(this.replyCode);
  }
}

export function isHardError(replyCode: number): boolean {
  return !SOFT_ERROR_CODES.has(replyCode);
}
