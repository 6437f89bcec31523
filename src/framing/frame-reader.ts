import { AmqpError } from '../protocol/amqp-error.js';
import { FrameConstant, ReplyCode } from '../protocol/generated/amqp-constants.js';

/** Receives every complete frame, in stream order. */
export interface FrameSink {
  /**
   * One complete frame: its payload (without the 7-byte header and the
   * frame-end octet) is `buf` from `start` to `end`. `buf` is often the chunk
   * given to push() (no copy, and no view object made per frame): it is only
   * valid during this call, so the sink copies whatever it keeps (a message
   * body it queues, for instance).
   */
  onFrame(type: number, channel: number, buf: Buffer, start: number, end: number): void;
}

/** Frame header: type (u8), channel (u16 BE), payload size (u32 BE). */
const HEADER_SIZE = 7;
/** Header plus the frame-end octet. */
const OVERHEAD = HEADER_SIZE + 1;
const FRAME_END = 0xce;

/** The spec's frame-min-size: the limit before tune-ok. */
export const FRAME_MIN_SIZE = FrameConstant.FRAME_MIN_SIZE;

// Reader states between chunks.
const ST_HEADER = 0; // expecting (the rest of) a header; headerFill bytes already in `header`
const ST_BODY = 1; // copying a payload that spans chunks into `body`
const ST_END = 2; // payload complete in `body`, waiting for the frame-end octet

/**
 * Splits the inbound byte stream (after the protocol header) into AMQP frames.
 *
 * A frame that lies entirely inside one chunk, or whose header was split but
 * whose payload and end octet lie in one chunk, is delivered as a range of
 * that chunk. A payload that spans chunks is copied once into a buffer allocated
 * at its final size as soon as its header is known. A split header waits in a
 * fixed 7-byte buffer. No pending data is ever re-concatenated.
 *
 * Frame types are not checked here (the connection does that). Errors
 * (AmqpError 501 FRAME_ERROR) are a bad frame-end octet and a frame larger than
 * maxFrameSize, the latter detected from the header alone. After any throw,
 * from the reader or from the sink, the reader ignores further input.
 */
export class FrameReader {
  /**
   * Largest accepted frame, whole (header + payload + end octet). 4096 before
   * tune-ok; the connection raises it to the negotiated frame_max (pass
   * Infinity for "no limit"). A change applies from the next frame header.
   */
  maxFrameSize: number;
  /**
   * Set by the sink (typically inside onFrame) to stop delivery: push()
   * returns at once, and this and every later push() deliver nothing more.
   */
  stopped = false;

  private readonly sink: FrameSink;
  private failed = false;
  private state: number = ST_HEADER;
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private headerFill = 0;
  private pendingType = 0;
  private pendingChannel = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;

  constructor(sink: FrameSink, maxFrameSize: number = FRAME_MIN_SIZE) {
    this.sink = sink;
    this.maxFrameSize = maxFrameSize;
  }

  /** Feeds bytes; calls sink.onFrame synchronously for every complete frame. */
  push(chunk: Buffer): void {
    if (this.stopped || this.failed) return;
    try {
      this.parse(chunk);
    } catch (err) {
      // Whatever threw (a frame error or the sink), the stream position is
      // lost: never parse again.
      this.failed = true;
      this.body = null;
      throw err;
    }
  }

  private parse(chunk: Buffer): void {
    const len = chunk.length;
    let off = 0;
    if (this.state !== ST_HEADER || this.headerFill !== 0) {
      off = this.resume(chunk);
      if (off < 0) return;
    }
    const sink = this.sink;
    while (off < len) {
      if (len - off < HEADER_SIZE) {
        chunk.copy(this.header, 0, off, len);
        this.headerFill = len - off;
        return;
      }
      const size = chunk.readUInt32BE(off + 3);
      if (size > this.maxFrameSize - OVERHEAD) throw tooLarge(size, this.maxFrameSize);
      const start = off + HEADER_SIZE;
      const end = start + size;
      if (end >= len) {
        this.beginBody(chunk, chunk[off]!, chunk.readUInt16BE(off + 1), size, start);
        return;
      }
      if (chunk[end] !== FRAME_END) throw badEnd(chunk[end]!);
      sink.onFrame(chunk[off]!, chunk.readUInt16BE(off + 1), chunk, start, end);
      if (this.stopped) return;
      off = end + 1;
    }
  }

  /**
   * Continues a frame left incomplete by the previous chunk. Returns the
   * offset in `chunk` where the main loop goes on, or -1 when the chunk is
   * used up (or delivery was stopped).
   */
  private resume(chunk: Buffer): number {
    const len = chunk.length;
    if (len === 0) return -1;
    let off = 0;

    if (this.state === ST_HEADER) {
      const need = HEADER_SIZE - this.headerFill;
      if (len < need) {
        chunk.copy(this.header, this.headerFill, 0, len);
        this.headerFill += len;
        return -1;
      }
      const h = this.header;
      chunk.copy(h, this.headerFill, 0, need);
      this.headerFill = 0;
      const size = h.readUInt32BE(3);
      if (size > this.maxFrameSize - OVERHEAD) throw tooLarge(size, this.maxFrameSize);
      const type = h[0]!;
      const channel = h.readUInt16BE(1);
      const end = need + size;
      if (end >= len) {
        this.beginBody(chunk, type, channel, size, need);
        return -1;
      }
      // The payload and end octet are all in this chunk: still zero-copy.
      if (chunk[end] !== FRAME_END) throw badEnd(chunk[end]!);
      this.sink.onFrame(type, channel, chunk, need, end);
      return this.stopped ? -1 : end + 1;
    }

    const body = this.body!;
    if (this.state === ST_BODY) {
      // copy() stops at the end of the target: takes only this frame's bytes.
      off = chunk.copy(body, this.bodyFill, 0, len);
      this.bodyFill += off;
      if (this.bodyFill < body.length) return -1;
      this.state = ST_END;
      if (off >= len) return -1;
    }

    // ST_END
    const octet = chunk[off]!;
    if (octet !== FRAME_END) throw badEnd(octet);
    this.body = null;
    this.state = ST_HEADER;
    this.sink.onFrame(this.pendingType, this.pendingChannel, body, 0, body.length);
    return this.stopped ? -1 : off + 1;
  }

  /** A frame whose payload (or end octet) runs past this chunk: start assembling it. */
  private beginBody(chunk: Buffer, type: number, channel: number, size: number, start: number): void {
    const body = Buffer.allocUnsafe(size);
    const copied = chunk.copy(body, 0, start, chunk.length);
    this.pendingType = type;
    this.pendingChannel = channel;
    this.body = body;
    this.bodyFill = copied;
    this.state = copied === size ? ST_END : ST_BODY;
  }
}

function tooLarge(size: number, max: number): AmqpError {
  return new AmqpError(ReplyCode.FRAME_ERROR, `frame payload of ${size} bytes exceeds frame_max (at most ${max - OVERHEAD} bytes)`);
}

function badEnd(octet: number): AmqpError {
  return new AmqpError(ReplyCode.FRAME_ERROR, `bad frame end octet 0x${octet.toString(16).padStart(2, '0')}, expected 0xce`);
}
