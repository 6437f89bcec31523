import { AmqpError } from '../protocol/amqp-error.js';
import type { Decoder } from '../protocol/decoder.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import { CONTENT_METHODS, type Method } from '../protocol/generated/amqp-methods.js';
import { decodeMethodFrame, methodIdOf } from './method-frame.js';

export interface CommandSink {
  /** A whole command: a method, and for content methods its properties (raw) and body (owned, copied out of the socket chunks). */
  onCommand(method: Method, rawProperties: Buffer | undefined, body: Buffer | undefined): void;
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
  private rawProperties: Buffer | undefined;
  private body: Buffer | undefined;
  private bodySize = 0;
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

  methodFrame(payload: Buffer): void {
    if (this.state !== AWAIT_METHOD) throw this.unexpectedFrame();
    this.lastMethodId = methodIdOf(payload);
    const method = decodeMethodFrame(this.decoder, payload);
    if (!CONTENT_METHODS.has(method.id)) {
      this.sink.onCommand(method, undefined, undefined);
      return;
    }
    this.method = method;
    this.state = AWAIT_HEADER;
  }

  headerFrame(payload: Buffer): void {
    if (this.state !== AWAIT_HEADER) throw this.unexpectedFrame();
    if (payload.length < CONTENT_HEADER_FIXED + 2) {
      throw new AmqpError(ReplyCode.FRAME_ERROR, 'content header frame too short');
    }
    const d = this.decoder.reset(payload);
    const classId = d.u16();
    d.u16(); // weight, unused
    const bodySize = d.u64();
    const method = this.method!;
    if (classId !== method.id >>> 16) {
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, `expected content header for class ${method.id >>> 16}, got one for class ${classId} instead`);
    }
    this.rawProperties = ownedCopy(payload, CONTENT_HEADER_FIXED);
    if (bodySize > this.maxBodySize) {
      this.reset();
      throw new AmqpError(
        ReplyCode.PRECONDITION_FAILED,
        `message size ${bodySize} is larger than configured max size ${this.maxBodySize}`,
        method.id >>> 16,
        method.id & 0xffff,
      );
    }
    if (bodySize === 0) {
      this.complete(Buffer.alloc(0));
      return;
    }
    this.bodySize = bodySize;
    this.received = 0;
    this.body = undefined;
    this.state = AWAIT_BODY;
  }

  bodyFrame(payload: Buffer): void {
    if (this.state !== AWAIT_BODY) throw this.unexpectedFrame();
    const total = this.received + payload.length;
    if (total > this.bodySize) {
      // RabbitMQ keeps waiting for a body that can never complete and fails
      // with 505 at the next frame; the same error, without the wait.
      throw new AmqpError(
        ReplyCode.UNEXPECTED_FRAME,
        `content body of ${total} bytes exceeds the ${this.bodySize} bytes its header announced`,
      );
    }
    if (total === this.bodySize && this.received === 0) {
      this.complete(ownedCopy(payload, 0));
      return;
    }
    this.body ??= Buffer.allocUnsafe(this.bodySize);
    payload.copy(this.body, this.received);
    this.received = total;
    if (total === this.bodySize) this.complete(this.body);
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

  private complete(body: Buffer): void {
    const method = this.method!;
    const rawProperties = this.rawProperties!;
    this.reset();
    this.sink.onCommand(method, rawProperties, body);
  }

  private reset(): void {
    this.state = AWAIT_METHOD;
    this.method = undefined;
    this.rawProperties = undefined;
    this.body = undefined;
  }
}

/**
 * The payload from `start` on, in memory of its own: the payload is a view
 * into a socket chunk, which a slice kept with the message would pin whole.
 */
function ownedCopy(payload: Buffer, start: number): Buffer {
  const copy = Buffer.allocUnsafe(payload.length - start);
  payload.copy(copy, 0, start);
  return copy;
}
