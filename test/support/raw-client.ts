import { connect as tcpConnect, type Socket } from 'node:net';
import type * as amqp from 'amqplib';
import type { Test } from 'tap';
import type { Broker, BrokerOptions } from '../../src/index.js';
import { FrameReader } from '../../src/framing/frame-reader.js';
import { Decoder } from '../../src/protocol/decoder.js';
import { Encoder } from '../../src/protocol/encoder.js';
import type { FieldTable } from '../../src/protocol/field-value.js';
import { encodeBasicProperties, type BasicProperties } from '../../src/protocol/generated/basic-properties.js';
import {
  decodeMethod,
  encodeMethod,
  MethodId,
  methodName,
  type ChannelClose,
  type ConnectionClose,
  type ConnectionStart,
  type ConnectionTune,
  type Method,
} from '../../src/protocol/generated/amqp-methods.js';
import { connect, withBroker } from './broker.js';

/**
 * A deliberately small AMQP 0-9-1 client for protocol tests: it sends whatever
 * bytes a test builds (valid or not) and reports every frame the broker sends
 * back, decoded with the broker's own codecs. Every wait is bounded.
 */

export const PROTOCOL_HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');

export const FrameType = { method: 1, header: 2, body: 3, heartbeat: 8 } as const;

export interface Frame {
  readonly type: number;
  readonly channel: number;
  readonly payload: Buffer;
}

/** The capabilities amqplib announces, which switch on the broker's optional notifications. */
export const CLIENT_CAPABILITIES: FieldTable = {
  authentication_failure_close: true,
  'connection.blocked': true,
  consumer_cancel_notify: true,
  publisher_confirms: true,
};

export interface HandshakeOptions {
  readonly mechanism?: string;
  /** The SASL response; defaults to PLAIN guest/guest. */
  readonly response?: Buffer;
  readonly clientProperties?: FieldTable;
  /** tune-ok values; each defaults to what the broker offered in connection.tune. */
  readonly channelMax?: number;
  readonly frameMax?: number;
  readonly heartbeat?: number;
  readonly vhost?: string;
}

export interface Handshaken {
  readonly start: ConnectionStart;
  readonly tune: ConnectionTune;
}

const DEFAULT_TIMEOUT = 3000;
/** The broker drops a refused client after about 3 s (its clock ticks once a second). */
const SILENT_CLOSE_TIMEOUT = 6000;

export function plainResponse(user: string, password: string): Buffer {
  return Buffer.from(`\0${user}\0${password}`);
}

/** One frame on the wire; `end` lets a test send a wrong frame-end octet. */
export function frameBytes(type: number, channel: number, payload: Buffer, end = 0xce): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b[0] = type;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(payload.length, 3);
  payload.copy(b, 7);
  b[7 + payload.length] = end;
  return b;
}

/** A method frame's payload, encoded by the broker's generated encoder. */
export function methodPayload(m: Method): Buffer {
  const e = new Encoder();
  encodeMethod(e, m);
  return Buffer.from(e.take());
}

export function methodFrame(channel: number, m: Method): Buffer {
  return frameBytes(FrameType.method, channel, methodPayload(m));
}

/** A content header frame of class basic (or `classId`) announcing `bodySize` bytes. */
export function headerFrame(channel: number, bodySize: number, properties: BasicProperties = {}, classId = 60): Buffer {
  const e = new Encoder();
  e.u16(classId);
  e.u16(0);
  e.u64(bodySize);
  encodeBasicProperties(e, properties);
  return frameBytes(FrameType.header, channel, Buffer.from(e.take()));
}

export function bodyFrame(channel: number, body: Buffer): Buffer {
  return frameBytes(FrameType.body, channel, body);
}

export function heartbeatFrame(): Buffer {
  return frameBytes(FrameType.heartbeat, 0, Buffer.alloc(0));
}

/** basic.publish to the default exchange. */
export function publishMethod(routingKey: string): Method {
  return { id: MethodId.BasicPublish, exchange: '', routingKey, mandatory: false, immediate: false };
}

export class RawClient {
  /** Every byte received, including any that are not frames (a protocol header reply). */
  private readonly chunks: Buffer[] = [];
  private readonly frames: Frame[] = [];
  private waiter: (() => void) | undefined;
  private readonly reader: FrameReader;
  private readerFailed = false;
  private isClosed = false;
  private readonly closedPromise: Promise<void>;

  /** This end's port: the broker logs the client as 127.0.0.1:<localPort>. */
  readonly localPort: number;

  private constructor(private readonly socket: Socket) {
    this.localPort = socket.localPort ?? 0;
    this.reader = new FrameReader(
      { onFrame: (type, channel, buf, start, end) => this.frames.push({ type, channel, payload: Buffer.from(buf.subarray(start, end)) }) },
      Infinity,
    );
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      if (!this.readerFailed) {
        try {
          this.reader.push(chunk);
        } catch {
          // Not frames (a protocol header reply): the bytes stay readable through received().
          this.readerFailed = true;
        }
      }
      this.wake();
    });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** Connects without sending anything; the socket is destroyed when the test ends. */
  static async connect(t: Pick<Test, 'teardown'>, port: number): Promise<RawClient> {
    const client = await new Promise<RawClient>((resolve, reject) => {
      const socket = tcpConnect({ host: '127.0.0.1', port }, () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new RawClient(socket));
      });
      socket.once('error', reject);
    });
    t.teardown(() => client.destroy());
    return client;
  }

  /** Connects and completes the handshake. */
  static async open(t: Pick<Test, 'teardown'>, port: number, options: HandshakeOptions = {}): Promise<RawClient> {
    const client = await RawClient.connect(t, port);
    await client.handshake(options);
    return client;
  }


  get closed(): boolean {
    return this.isClosed;
  }

  /** All bytes received so far. */
  received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  method(channel: number, m: Method): void {
    this.write(methodFrame(channel, m));
  }

  /** A complete basic.publish to the default exchange: method, header and one body frame. */
  publish(channel: number, routingKey: string, body: Buffer, properties: BasicProperties = {}): void {
    this.write(Buffer.concat([methodFrame(channel, publishMethod(routingKey)), headerFrame(channel, body.length, properties), bodyFrame(channel, body)]));
  }

  /**
   * Writes `bytes` again and again, as fast as the broker reads them (waiting
   * for 'drain' whenever the socket buffer is full), until `stop()` says so
   * or the socket closes. Resolves with how many times it was written.
   */
  async flood(bytes: Buffer, stop: () => boolean): Promise<number> {
    let writes = 0;
    while (!stop() && !this.socket.destroyed) {
      writes++;
      if (!this.socket.write(bytes)) await new Promise((resolve) => this.socket.once('drain', resolve).once('close', resolve));
      else if (writes % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    return writes;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Stops reading the socket, like a client too slow to keep up: the broker's writes back up. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  /** The next frame; rejects if none arrives in time or the socket closes first. */
  async nextFrame(timeout = DEFAULT_TIMEOUT): Promise<Frame> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const frame = this.frames.shift();
      if (frame !== undefined) return frame;
      if (this.isClosed) throw new Error('socket closed while waiting for a frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeout} ms`);
      await this.waitForInput(left);
    }
  }

  /** The next frame that is not a heartbeat, decoded when it is a method frame. */
  async next(timeout = DEFAULT_TIMEOUT): Promise<{ channel: number; frame: Frame; method: Method | undefined }> {
    for (;;) {
      const frame = await this.nextFrame(timeout);
      if (frame.type === FrameType.heartbeat) continue;
      const method = frame.type === FrameType.method ? decodeMethod(new Decoder(frame.payload)) : undefined;
      return { channel: frame.channel, frame, method };
    }
  }

  /** Waits for a method with this id (skipping heartbeats only); fails on anything else. */
  async expectMethod<Id extends Method['id']>(id: Id, channel = 0, timeout = DEFAULT_TIMEOUT): Promise<Extract<Method, { id: Id }>> {
    const got = await this.next(timeout);
    if (got.method?.id !== id || got.channel !== channel) {
      throw new Error(`expected ${methodName(id)} on channel ${channel}, got ${describe(got.frame, got.method)}`);
    }
    return got.method as Extract<Method, { id: Id }>;
  }

  /**
   * Expects connection.close, answers close-ok, and waits for the broker to drop the socket
   * (after a frame error it stops reading, close-ok included, and drops it after 3 s, as RabbitMQ does).
   */
  async expectClose(timeout = DEFAULT_TIMEOUT): Promise<ConnectionClose> {
    const close = await this.expectMethod(MethodId.ConnectionClose, 0, timeout);
    this.method(0, { id: MethodId.ConnectionCloseOk });
    await this.waitClosed(SILENT_CLOSE_TIMEOUT);
    return close;
  }

  /** Expects channel.close on `channel` and answers close-ok. */
  async expectChannelClose(channel: number, timeout = DEFAULT_TIMEOUT): Promise<ChannelClose> {
    const close = await this.expectMethod(MethodId.ChannelClose, channel, timeout);
    this.method(channel, { id: MethodId.ChannelCloseOk });
    return close;
  }

  /** Resolves when the broker closes the socket; rejects after `timeout`. */
  async waitClosed(timeout = DEFAULT_TIMEOUT): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket still open after ${timeout} ms`)), timeout);
    });
    try {
      await Promise.race([this.closedPromise, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Expects the socket to close without any frame other than heartbeats
   * arriving first (how a broker refuses a client it does not trust yet).
   */
  async expectSilentClose(timeout = SILENT_CLOSE_TIMEOUT): Promise<void> {
    await this.waitClosed(timeout);
    for (const frame of this.frames.splice(0)) {
      if (frame.type !== FrameType.heartbeat) {
        throw new Error(`expected a silent close, got ${describe(frame, decodeMethodOf(frame))}`);
      }
    }
  }

  /** Resolves true if nothing but heartbeats arrives within `ms` and the socket stays open. */
  async quietFor(ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return !this.isClosed && this.frames.every((f) => f.type === FrameType.heartbeat);
  }

  /** Frames received and not consumed yet (heartbeats included). */
  pending(): readonly Frame[] {
    return this.frames;
  }

  async handshake(options: HandshakeOptions = {}): Promise<Handshaken> {
    const start = await this.startHandshake(options);
    const tune = await this.expectMethod(MethodId.ConnectionTune);
    this.method(0, {
      id: MethodId.ConnectionTuneOk,
      channelMax: options.channelMax ?? tune.channelMax,
      frameMax: options.frameMax ?? tune.frameMax,
      heartbeat: options.heartbeat ?? 0,
    });
    this.method(0, { id: MethodId.ConnectionOpen, virtualHost: options.vhost ?? '/' });
    await this.expectMethod(MethodId.ConnectionOpenOk);
    return { start, tune };
  }

  /** Protocol header, connection.start, start-ok: what every handshake test begins with. */
  async startHandshake(options: HandshakeOptions = {}): Promise<ConnectionStart> {
    this.write(PROTOCOL_HEADER);
    const start = await this.expectMethod(MethodId.ConnectionStart);
    this.method(0, {
      id: MethodId.ConnectionStartOk,
      clientProperties: options.clientProperties ?? { product: 'raw-client', capabilities: CLIENT_CAPABILITIES },
      mechanism: options.mechanism ?? 'PLAIN',
      response: options.response ?? plainResponse('guest', 'guest'),
      locale: 'en_US',
    });
    return start;
  }

  async openChannel(channel: number): Promise<void> {
    this.method(channel, { id: MethodId.ChannelOpen });
    await this.expectMethod(MethodId.ChannelOpenOk, channel);
  }

  private waitForInput(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve();
      }, ms);
      this.waiter = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve();
      };
    });
  }

  private wake(): void {
    this.waiter?.();
  }
}

function decodeMethodOf(frame: Frame): Method | undefined {
  if (frame.type !== FrameType.method) return undefined;
  try {
    return decodeMethod(new Decoder(frame.payload));
  } catch {
    return undefined;
  }
}

function describe(frame: Frame, method: Method | undefined): string {
  if (method !== undefined) {
    const detail = 'replyCode' in method ? ` ${method.replyCode} ${method.replyText}` : '';
    return `${methodName(method.id)} on channel ${frame.channel}${detail}`;
  }
  return `frame type ${frame.type} on channel ${frame.channel} (${frame.payload.length} bytes)`;
}

export interface RawScene {
  readonly broker: Broker;
  /** An amqplib connection opened before the bad input: it must keep working. */
  readonly bystander: amqp.ChannelModel;
  readonly port: number;
}

/** A broker for one test and an ordinary client on it that every bad input must leave alone. */
export async function rawScene(t: Test, options: BrokerOptions = {}): Promise<RawScene> {
  const broker = await withBroker(t, options);
  // Development aid: AMQP_REFERENCE_PORT=5673 points the raw tests at a real RabbitMQ, to check
  // that they describe its behaviour (tests that rely on broker options then fail there).
  const reference = process.env['AMQP_REFERENCE_PORT'];
  const port = reference === undefined ? broker.port : Number(reference);
  const bystander = await connect(t, broker, { port });
  return { broker, bystander, port };
}
