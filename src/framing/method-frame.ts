import { AmqpError } from '../protocol/amqp-error.js';
import type { Decoder } from '../protocol/decoder.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import { decodeMethod, methodName, type Method } from '../protocol/generated/amqp-methods.js';

/** The (class << 16) | method id a method frame starts with; 0 when the payload is too short to hold one. */
export function methodIdOf(payload: Buffer): number {
  return payload.length >= 4 ? payload.readUInt32BE(0) : 0;
}

/**
 * Decodes a method frame's payload. As in RabbitMQ, arguments that are cut
 * short or followed by extra bytes are 501 FRAME_ERROR, attributed to the
 * method; a method the specification does not define is 540 NOT_IMPLEMENTED.
 */
export function decodeMethodFrame(decoder: Decoder, payload: Buffer): Method {
  const id = methodIdOf(payload);
  let method: Method | undefined;
  try {
    method = decodeMethod(decoder.reset(payload));
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
