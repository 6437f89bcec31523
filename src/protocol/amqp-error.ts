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
    readonly detail: string,
    readonly classId = 0,
    readonly methodId = 0,
  ) {
    const text = `${replyCodeName(replyCode)} - ${detail}`;
    super(text);
    this.name = 'AmqpError';
    this.replyText = truncateUtf8(text, MAX_SHORTSTR);
  }

  /** The same error, attributed to the method with this id ((class << 16) | method). */
  withMethod(id: number): AmqpError {
    return new AmqpError(this.replyCode, this.detail, id >>> 16, id & 0xffff);
  }

  get closesConnection(): boolean {
    return isHardError(this.replyCode);
  }
}

/** reply-text is a shortstr on the wire. */
const MAX_SHORTSTR = 255;

/** Cuts at a character boundary: a split multi-byte character would decode to U+FFFD and grow past the limit again. */
function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

function isHardError(replyCode: number): boolean {
  return !SOFT_ERROR_CODES.has(replyCode);
}
