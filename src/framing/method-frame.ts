import { AmqpError } from '../protocol/amqp-error.js';
import type { Decoder } from '../protocol/decoder.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import { decodeMethod, methodName, type Method } from '../protocol/generated/amqp-methods.js';

/** The (class << 16) | method id a method frame's payload (`buf` from `start` to `end`) starts with; 0 when it is too short to hold one. */
export function methodIdOf(buf: Buffer, start: number, end: number): number {
  return end - start >= 4 ? buf.readUInt32BE(start) : 0;
}

/**
 * Decodes a method frame's payload. As in RabbitMQ, arguments that are cut
 * short or followed by extra bytes are 501 FRAME_ERROR, attributed to the
 * method; a method the specification does not define is 540 NOT_IMPLEMENTED.
 */
export function decodeMethodFrame(decoder: Decoder, buf: Buffer, start: number, end: number): Method {
  const id = methodIdOf(buf, start, end);
  let method: Method | undefined;
  try {
    method = decodeMethod(decoder.reset(buf, start, end));
  } catch (err) {
    throw err instanceof AmqpError && err.classId === 0 && id !== 0 ? err.withMethod(id) : err;
  }
  if (method === undefined) {
    throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, `${methodName(id)} is not a method of AMQP 0-9-1`, id >>> 16, id & 0xffff);
  }
  if (decoder.remaining > 0) {
    throw new AmqpError(ReplyCode.FRAME_ERROR, `${decoder.remaining} bytes after the arguments of ${methodName(id)}`, id >>> 16, id & 0xffff);
  }
  return method;
}
