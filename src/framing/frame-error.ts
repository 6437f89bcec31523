/**
 * A malformed frame on the wire: bad frame-end octet, or a frame larger than
 * the negotiated frame_max. The connection answers it with connection.close
 * 501 FRAME_ERROR and closes the socket; the frame reader that threw it is
 * unusable afterwards.
 */
export class FrameError extends Error {
  readonly replyCode = 501;
  /** The reply-text in RabbitMQ's "NAME - detail" form (always well under 255 bytes). */
  readonly replyText: string;

  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
    this.replyText = `FRAME_ERROR - ${message}`;
  }
}
