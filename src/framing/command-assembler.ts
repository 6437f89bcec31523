import { AmqpError } from '../protocol/amqp-error.js';
import { copyRange } from '../protocol/copy-range.js';
import { contentSlab } from './content-slab.js';
import type { Decoder } from '../protocol/decoder.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import { CONTENT_METHODS, type Method } from '../protocol/generated/amqp-methods.js';
import { decodeMethodFrame, methodIdOf } from './method-frame.js';

export interface CommandSink {
  /**
   * A whole command: a method, and for content methods its content (see
   * Content): copied out of the socket chunks into `data`, which it may
   * share with other messages' contents but never with anything reused.
   */
  onCommand(method: Method, data: Buffer | undefined, start: number, bodyStart: number, end: number): void;
}

const AWAIT_METHOD = 0;
const AWAIT_HEADER = 1;
const AWAIT_BODY = 2;

const CONTENT_HEADER_FIXED = 12;

/**
 * Turns one channel's frames into commands: a method frame alone, or a
 * content method followed by its header frame and body frames. Every size is
 * checked against what the header announced.
 */
export class CommandAssembler {
  private state = AWAIT_METHOD;
  private method: Method | undefined;
  private data: Buffer | undefined;
  private start = 0;
  private bodyStart = 0;
  private end = 0;
  /** The method being processed, for the class and method ids of an error it causes. */
  lastMethodId = 0;
  private received = 0;

  constructor(
    private readonly sink: CommandSink,
    private readonly decoder: Decoder,
    /** Largest body accepted (RabbitMQ's max_message_size). */
    private readonly maxBodySize: number,
  ) {}

  /** True while a content command is half received. */
  get midContent(): boolean {
    return this.state !== AWAIT_METHOD;
  }

  /** A method frame, its payload `buf` from `start` to `end` (as are the other frames'). */
  methodFrame(buf: Buffer, start: number, end: number): void {
    if (this.state !== AWAIT_METHOD) throw this.unexpectedFrame();
    this.lastMethodId = methodIdOf(buf, start, end);
    const method = decodeMethodFrame(this.decoder, buf, start, end);
    if (!CONTENT_METHODS.has(method.id)) {
      this.sink.onCommand(method, undefined, 0, 0, 0);
      return;
    }
    this.method = method;
    this.state = AWAIT_HEADER;
  }

  headerFrame(buf: Buffer, start: number, end: number): void {
    if (this.state !== AWAIT_HEADER) throw this.unexpectedFrame();
    if (end - start < CONTENT_HEADER_FIXED + 2) {
      throw new AmqpError(ReplyCode.FRAME_ERROR, 'content header frame too short');
    }
    const d = this.decoder.reset(buf, start, end);
    const classId = d.u16();
    d.u16(); // weight, unused
    const bodySize = d.u64();
    const method = this.method!;
    if (classId !== method.id >>> 16) {
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, `expected content header for class ${method.id >>> 16}, got one for class ${classId} instead`);
    }
    if (bodySize > this.maxBodySize) {
      this.reset();
      throw new AmqpError(
        ReplyCode.PRECONDITION_FAILED,
        `message size ${bodySize} is larger than configured max size ${this.maxBodySize}`,
        method.id >>> 16,
        method.id & 0xffff,
      );
    }
    // Room for the properties and the body the header announces, side by side.
    const propertiesSize = end - start - CONTENT_HEADER_FIXED;
    const data = contentSlab.take(propertiesSize + bodySize);
    const at = contentSlab.offset;
    copyRange(buf, start + CONTENT_HEADER_FIXED, end, data, at);
    this.data = data;
    this.start = at;
    this.bodyStart = at + propertiesSize;
    this.end = this.bodyStart + bodySize;
    this.received = 0;
    if (bodySize === 0) {
      this.complete();
      return;
    }
    this.state = AWAIT_BODY;
  }

  bodyFrame(buf: Buffer, start: number, end: number): void {
    if (this.state !== AWAIT_BODY) throw this.unexpectedFrame();
    const bodySize = this.end - this.bodyStart;
    const total = this.received + end - start;
    if (total > bodySize) {
      // RabbitMQ keeps waiting for a body that can never complete and fails
      // with 505 at the next frame; the same error, without the wait.
      throw new AmqpError(
        ReplyCode.UNEXPECTED_FRAME,
        `content body of ${total} bytes exceeds the ${bodySize} bytes its header announced`,
      );
    }
    copyRange(buf, start, end, this.data!, this.bodyStart + this.received);
    this.received = total;
    if (total === bodySize) this.complete();
  }

  /**
   * A frame of another kind than the one awaited, in RabbitMQ's words. A
   * content frame with no content method before it is reported, as by
   * RabbitMQ, against no method (0/0).
   */
  private unexpectedFrame(): AmqpError {
    const error = (text: string): AmqpError => new AmqpError(ReplyCode.UNEXPECTED_FRAME, text);
    switch (this.state) {
      case AWAIT_METHOD:
        this.lastMethodId = 0;
        return error('expected method frame, got non method frame instead');
      case AWAIT_HEADER:
        return error(`expected content header for class ${this.method!.id >>> 16}, got non content header frame instead`);
      default:
        return error('expected content body, got non content body frame instead');
    }
  }

  private complete(): void {
    const method = this.method!;
    const data = this.data!;
    this.reset();
    this.sink.onCommand(method, data, this.start, this.bodyStart, this.end);
  }

  private reset(): void {
    this.state = AWAIT_METHOD;
    this.method = undefined;
    this.data = undefined;
  }
}
