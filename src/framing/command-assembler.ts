import { AmqpError } from '../protocol/amqp-error.js';
import type { Decoder } from '../protocol/decoder.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import { CONTENT_METHODS, methodName, type Method } from '../protocol/generated/amqp-methods.js';
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
    if (this.state !== AWAIT_METHOD) {
      const expected = this.state === AWAIT_HEADER ? 'content header' : 'content body';
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, `expected ${expected} for ${methodName(this.method!.id)}, got method frame`);
    }
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
    if (this.state !== AWAIT_HEADER) {
      // A body is awaited, or no content method came first.
      if (this.state === AWAIT_METHOD) return this.expectedMethod('content header');
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, `expected content body for ${methodName(this.method!.id)}, got a content header`);
    }
    if (payload.length < CONTENT_HEADER_FIXED + 2) {
      throw new AmqpError(ReplyCode.FRAME_ERROR, 'content header frame too short');
    }
    const d = this.decoder.reset(payload);
    const classId = d.u16();
    d.u16(); // weight, unused
    const bodySize = d.u64();
    const method = this.method!;
    if (classId !== method.id >>> 16) {
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, `content header for class ${classId} after ${methodName(method.id)}`);
    }
    // Owned copy: the payload is a view into a socket chunk.
    this.rawProperties = Buffer.from(payload.subarray(CONTENT_HEADER_FIXED));
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
    if (this.state !== AWAIT_BODY) {
      if (this.state === AWAIT_METHOD) return this.expectedMethod('content body');
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, `expected content header for ${methodName(this.method!.id)}, got a content body`);
    }
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
      this.complete(Buffer.from(payload));
      return;
    }
    this.body ??= Buffer.allocUnsafe(this.bodySize);
    payload.copy(this.body, this.received);
    this.received = total;
    if (total === this.bodySize) this.complete(this.body);
  }

  /** A content frame with no content method before it: RabbitMQ reports it against no method (0/0). */
  private expectedMethod(got: string): never {
    this.lastMethodId = 0;
    throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, `expected a method frame, got a ${got}`);
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
