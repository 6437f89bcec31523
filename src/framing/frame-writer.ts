import type { Content } from '../protocol/content.js';
import { Encoder } from '../protocol/encoder.js';
import { FrameConstant } from '../protocol/generated/amqp-constants.js';
import { encodeMethod, MethodId, type Method } from '../protocol/generated/amqp-methods.js';
import { scheduleFlush } from './flush-scheduler.js';

const FRAME_HEADER_SIZE = 7;
const FRAME_OVERHEAD = 8;
/** Bodies larger than this are written from their own buffer instead of being copied into the chunk. */
const COPY_BODY_LIMIT = 4096;

export interface FrameOutput {
  /** Writes the buffers in order, as one socket write where possible. */
  writeChunks(chunks: readonly Buffer[]): void;
  /** Last chance to add frames (coalesced confirms) to this flush. */
  beforeFlush(): void;
}

/**
 * Encodes outbound frames into one buffer per connection and hands them to
 * the socket once per tick. bufferedBytes lets the connection apply
 * back-pressure before anything reaches the socket.
 */
export class FrameWriter {
  private readonly e = new Encoder();
  private readonly chunks: Buffer[] = [];
  private chunkBytes = 0;
  private flushQueued = false;
  /** Largest frame the client accepts (negotiated frame_max), header and end octet included. */
  frameMax: number = FrameConstant.FRAME_MIN_SIZE;
  /** Set when anything was written since the heartbeat clock last looked. */
  wroteSinceTick = false;

  constructor(private readonly output: FrameOutput) {}

  get bufferedBytes(): number {
    return this.chunkBytes + this.e.length;
  }

  method(channel: number, m: Method): void {
    const at = this.beginFrame(FrameConstant.FRAME_METHOD, channel);
    encodeMethod(this.e, m);
    this.endFrame(at);
  }

  /**
   * basic.deliver written field by field: the hottest frame, so no method
   * object is built. `consumerTag` is the tag's shortstr encoding (shortstrBytes).
   */
  deliver(
    channel: number,
    consumerTag: Buffer,
    deliveryTag: number,
    redelivered: boolean,
    exchange: string,
    routingKey: string,
    content: Content,
  ): void {
    const e = this.e;
    const at = this.beginFrame(FrameConstant.FRAME_METHOD, channel);
    e.u32(MethodId.BasicDeliver);
    e.bytes(consumerTag);
    e.u64(deliveryTag);
    e.u8(redelivered ? 1 : 0);
    e.shortstr(exchange);
    e.shortstr(routingKey);
    this.endFrame(at);
    this.content(channel, content);
  }

  /** Content header and body frames of class basic. */
  content(channel: number, { data, start, bodyStart, end: bodyEnd }: Content): void {
    const e = this.e;
    const at = this.beginFrame(FrameConstant.FRAME_HEADER, channel);
    e.u16(MethodId.BasicPublish >>> 16);
    e.u16(0);
    e.u64(bodyEnd - bodyStart);
    e.range(data, start, bodyStart);
    this.endFrame(at);
    const maxPayload = this.frameMax - FRAME_OVERHEAD;
    for (let offset = bodyStart; offset < bodyEnd; offset += maxPayload) {
      const end = Math.min(bodyEnd, offset + maxPayload);
      const bodyAt = this.beginFrame(FrameConstant.FRAME_BODY, channel);
      if (end - offset <= COPY_BODY_LIMIT) {
        e.range(data, offset, end);
        this.endFrame(bodyAt);
      } else {
        const piece = data.subarray(offset, end);
        // Patch the size now, then put the body itself between header and end octet.
        putFrameSize(e.buf, e.start + bodyAt, piece.length);
        this.pushChunk(e.take());
        this.pushChunk(piece);
        e.u8(FrameConstant.FRAME_END);
      }
    }
  }

  heartbeat(): void {
    const at = this.beginFrame(FrameConstant.FRAME_HEARTBEAT, 0);
    this.endFrame(at);
  }

  /** Raw bytes outside any frame (the protocol header sent back on a version mismatch). */
  raw(bytes: Buffer): void {
    this.e.bytes(bytes);
    this.queueFlush();
  }

  flush(): void {
    this.flushQueued = false;
    this.output.beforeFlush();
    if (this.e.length > 0) this.pushChunk(this.e.take());
    if (this.chunks.length === 0) return;
    const chunks = this.chunks.splice(0, this.chunks.length);
    this.chunkBytes = 0;
    this.output.writeChunks(chunks);
  }

  private pushChunk(b: Buffer): void {
    this.chunks.push(b);
    this.chunkBytes += b.length;
  }

  /** Writes the 7-byte frame header with a zero size; returns its offset relative to the untaken bytes. */
  private beginFrame(type: number, channel: number): number {
    const e = this.e;
    e.ensure(FRAME_HEADER_SIZE);
    const at = e.pos - e.start;
    // Byte stores: writeUInt16BE's range checks cost more than the store on every frame.
    const b = e.buf;
    b[e.pos] = type;
    b[e.pos + 1] = channel >>> 8;
    b[e.pos + 2] = channel;
    e.pos += FRAME_HEADER_SIZE;
    return at;
  }

  private endFrame(relativeAt: number): void {
    const e = this.e;
    const at = e.start + relativeAt;
    putFrameSize(e.buf, at, e.pos - at - FRAME_HEADER_SIZE);
    e.u8(FrameConstant.FRAME_END);
    this.queueFlush();
  }

  /** Makes sure a flush happens this tick even if no frame was written. */
  requestFlush(): void {
    this.queueFlush();
  }

  private queueFlush(): void {
    this.wroteSinceTick = true;
    if (!this.flushQueued) {
      this.flushQueued = true;
      scheduleFlush(this);
    }
  }
}

/** The payload size into the frame header at `frameAt`, by byte stores (writeUInt32BE's range checks cost more on every frame). */
function putFrameSize(buf: Buffer, frameAt: number, size: number): void {
  buf[frameAt + 3] = size >>> 24;
  buf[frameAt + 4] = size >>> 16;
  buf[frameAt + 5] = size >>> 8;
  buf[frameAt + 6] = size;
}
