/**
 * AMQP frames encoded once, with the broker's own codecs, for load generators
 * that then write the bytes over and over.
 */
import { Encoder } from '../../src/protocol/encoder.js';
import { FrameConstant } from '../../src/protocol/generated/amqp-constants.js';
import { encodeMethod, type Method, MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { type BasicProperties, encodeBasicProperties } from '../../src/protocol/generated/basic-properties.js';

export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
/** Frame header (type, channel, size) plus the frame-end octet. */
const FRAME_OVERHEAD = 8;

export function frame(type: number, channel: number, fill: (e: Encoder) => void): Buffer {
  const e = new Encoder();
  e.u8(type);
  e.u16(channel);
  e.u32(0);
  fill(e);
  e.u8(FrameConstant.FRAME_END);
  const out = Buffer.from(e.take());
  out.writeUInt32BE(out.length - FRAME_OVERHEAD, 3);
  return out;
}

export function methodFrame(channel: number, m: Method): Buffer {
  return frame(FrameConstant.FRAME_METHOD, channel, (e) => encodeMethod(e, m));
}

/** A content header and the body frames (each at most frameMax bytes, whole) for one message of class basic. */
function contentFrames(channel: number, properties: BasicProperties, body: Buffer, frameMax: number): Buffer {
  const header = frame(FrameConstant.FRAME_HEADER, channel, (e) => {
    e.u16(MethodId.BasicPublish >>> 16);
    e.u16(0);
    e.u64(body.length);
    encodeBasicProperties(e, properties);
  });
  const pieces = [header];
  const maxPayload = frameMax - FRAME_OVERHEAD;
  for (let offset = 0; offset < body.length; offset += maxPayload) {
    const piece = body.subarray(offset, offset + maxPayload);
    pieces.push(frame(FrameConstant.FRAME_BODY, channel, (e) => e.bytes(piece)));
  }
  return Buffer.concat(pieces);
}

export interface PublishSpec {
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: BasicProperties;
  readonly body: Buffer;
  /** Ask for a basic.return when no queue takes it (false when left out). */
  readonly mandatory?: boolean;
}

/** basic.publish with its content frames: one message as the bytes a client writes. */
export function publishFrames(channel: number, p: PublishSpec, frameMax: number): Buffer {
  const method = methodFrame(channel, { id: MethodId.BasicPublish, exchange: p.exchange, routingKey: p.routingKey, mandatory: p.mandatory ?? false, immediate: false });
  return Buffer.concat([method, contentFrames(channel, p.properties, p.body, frameMax)]);
}

/** Offset of the first body byte in publishFrames' output: where a timestamp written into the body lands. */
export function bodyOffset(message: Buffer): number {
  const methodEnd = message.readUInt32BE(3) + FRAME_OVERHEAD;
  const headerEnd = methodEnd + message.readUInt32BE(methodEnd + 3) + FRAME_OVERHEAD;
  return headerEnd + 7;
}
