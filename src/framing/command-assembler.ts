import { AmqpError } from '../protocol/amqp-error.js';
import { Decoder } from '../protocol/decoder.js';
import { ReplyCode } from '../protocol/generated/amqp-constants.js';
import { CONTENT_METHODS, decodeMethod, methodName, type Method } from '../protocol/generated/amqp-methods.js';

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
    this.lastMethodId = payload.length >= 4 ? payload.readUInt32BE(0) : 0;
    const method = decodeMethod(this.decoder.reset(payload));
    if (method === undefined) {
      const id = payload.length >= 4 ? payload.readUInt32BE(0) : 0;
      throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, `${methodName(id)} is not a method of AMQP 0-9-1`, id >>> 16, id & 0xffff);
    }
    if (!CONTENT_METHODS.has(method.id)) {
      this.sink.onCommand(method, undefined, undefined);
      return;
    }
    this.method = method;
    this.state = AWAIT_HEADER;
  }

  headerFrame(payload: Buffer): void {
    if (this.state !== AWAIT_HEADER) {
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, 'content header frame without a content method before it');
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
      const what = this.state === AWAIT_HEADER ? 'before its content header' : 'without a content method';
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, `content body frame ${what}`);
    }
    const total = this.received + payload.length;
    if (total > this.bodySize) {
      throw new AmqpError(
        ReplyCode.FRAME_ERROR,
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
