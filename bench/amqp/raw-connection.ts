/**
 * A bare AMQP 0-9-1 client connection for load generators: the handshake and
 * synchronous setup methods go through the broker's own codecs, and every
 * other frame is offered first, undecoded, to the owner's hot-path handler.
 * Outbound bytes are whatever the owner pre-encoded, written as given.
 */
import { connect, type Socket } from 'node:net';
import { FrameReader } from '../../src/framing/frame-reader.js';
import { Decoder } from '../../src/protocol/decoder.js';
import { FrameConstant } from '../../src/protocol/generated/amqp-constants.js';
import { decodeMethod, type Method, MethodId, methodName } from '../../src/protocol/generated/amqp-methods.js';
import { withTimeout } from '../with-timeout.js';
import { methodFrame, PROTOCOL_HEADER } from './frames.js';

/** The largest frame this client accepts; bodies up to this size travel in one frame. */
const CLIENT_FRAME_MAX = 131072;
const HEARTBEAT_FRAME = Buffer.from([FrameConstant.FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FrameConstant.FRAME_END]);

export interface RawHandler {
  /** Every frame, before any decoding; return true when it was handled. */
  frame?(type: number, channel: number, payload: Buffer): boolean;
  /** After each socket read has been parsed: the time to flush what the frames asked for. */
  chunkEnd?(): void;
  /** The socket accepts writes again. */
  drain?(): void;
}

export interface OpenOptions {
  readonly timeoutMs: number;
  /** Heartbeat interval to ask for, in seconds (0 disables them). */
  readonly heartbeat?: number;
  readonly product?: string;
}

type Waiter = { readonly id: number; readonly resolve: (m: Method) => void; readonly reject: (err: Error) => void };

export class RawConnection {
  handler: RawHandler = {};
  /** Negotiated frame_max. */
  frameMax = CLIENT_FRAME_MAX;
  /** Set while the broker has sent connection.blocked. */
  blocked = false;
  /** Set when socket.write returned false, until 'drain'. */
  draining = false;
  failure: Error | undefined;

  private readonly decoder = new Decoder(Buffer.alloc(0));
  private readonly reader: FrameReader;
  /** The synchronous reply awaited on each channel. */
  private readonly waiters = new Map<number, Waiter>();
  private readonly failureListeners: ((err: Error) => void)[] = [];
  private closing = false;

  private constructor(
    readonly socket: Socket,
    /** Names the connection in errors. */
    readonly product: string,
  ) {
    this.reader = new FrameReader({ onFrame: (type, channel, buf, start, end) => this.onFrame(type, channel, buf.subarray(start, end)) }, Infinity);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      this.handler.chunkEnd?.();
    });
    socket.on('drain', () => {
      this.draining = false;
      this.handler.drain?.();
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error(this.closing ? 'connection closed' : 'connection closed by the broker')));
  }

  /** Connects to an amqp:// URL (guest/guest and vhost "/" by default) and completes the handshake. */
  static async open(url: URL, options: OpenOptions): Promise<RawConnection> {
    const socket = connect({ host: url.hostname, port: Number(url.port || 5672) });
    const c = new RawConnection(socket, options.product ?? 'amqp-broker bench');
    const user = decodeURIComponent(url.username || 'guest');
    const pass = decodeURIComponent(url.password || 'guest');
    const vhost = url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : '/';
    const handshake = async (): Promise<void> => {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      const start = c.expect(0, MethodId.ConnectionStart);
      socket.write(PROTOCOL_HEADER);
      await start;
      const tune = c.expect(0, MethodId.ConnectionTune);
      c.send(0, {
        id: MethodId.ConnectionStartOk,
        clientProperties: {
          product: c.product,
          capabilities: { publisher_confirms: true, 'connection.blocked': true, consumer_cancel_notify: true, 'basic.nack': true },
        },
        mechanism: 'PLAIN',
        response: Buffer.from(`\0${user}\0${pass}`),
        locale: 'en_US',
      });
      const t = await tune;
      c.frameMax = t.frameMax === 0 ? CLIENT_FRAME_MAX : Math.min(t.frameMax, CLIENT_FRAME_MAX);
      const heartbeat = options.heartbeat ?? 0;
      c.send(0, { id: MethodId.ConnectionTuneOk, channelMax: t.channelMax, frameMax: c.frameMax, heartbeat: t.heartbeat === 0 ? heartbeat : Math.min(heartbeat, t.heartbeat) });
      await c.call(0, { id: MethodId.ConnectionOpen, virtualHost: vhost }, MethodId.ConnectionOpenOk);
    };
    try {
      await withTimeout(handshake(), options.timeoutMs, `AMQP handshake with ${url.host}`);
    } catch (err) {
      c.fail(err as Error);
      throw err;
    }
    return c;
  }

  /** Calls back once when the connection fails or closes. */
  onFailure(listener: (err: Error) => void): void {
    if (this.failure !== undefined) listener(this.failure);
    else this.failureListeners.push(listener);
  }

  /** Writes pre-encoded bytes; false (and `draining` set) when the socket buffer is full. */
  write(bytes: Buffer): boolean {
    if (this.socket.write(bytes)) return true;
    this.draining = true;
    return false;
  }

  send(channel: number, m: Method): void {
    this.write(methodFrame(channel, m));
  }

  /** Sends a synchronous method and resolves with the reply `replyId` on the same channel. */
  call<I extends Method['id']>(channel: number, m: Method, replyId: I): Promise<Extract<Method, { id: I }>> {
    const reply = this.expect(channel, replyId);
    this.send(channel, m);
    return reply;
  }

  async openChannel(channel: number): Promise<void> {
    await this.call(channel, { id: MethodId.ChannelOpen }, MethodId.ChannelOpenOk);
  }

  /** connection.close, waiting at most timeoutMs for close-ok; then the socket goes. */
  async close(timeoutMs: number): Promise<void> {
    if (this.failure === undefined && !this.closing) {
      this.closing = true;
      await withTimeout(
        this.call(0, { id: MethodId.ConnectionClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 }, MethodId.ConnectionCloseOk),
        timeoutMs,
        'connection.close-ok',
      ).catch(() => {});
    }
    this.closing = true;
    this.fail(new Error('connection closed'));
  }

  private expect<I extends Method['id']>(channel: number, id: I): Promise<Extract<Method, { id: I }>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.waiters.has(channel)) return Promise.reject(new Error(`a second synchronous method on channel ${channel}`));
    return new Promise((resolve, reject) => {
      this.waiters.set(channel, { id, resolve: resolve as (m: Method) => void, reject });
    });
  }

  private onFrame(type: number, channel: number, payload: Buffer): void {
    if (this.handler.frame?.(type, channel, payload) === true) return;
    if (type === FrameConstant.FRAME_HEARTBEAT) {
      this.socket.write(HEARTBEAT_FRAME);
      return;
    }
    if (type !== FrameConstant.FRAME_METHOD) return;
    const m = decodeMethod(this.decoder.reset(payload));
    if (m === undefined) throw new Error(`undecodable method on channel ${channel}`);
    switch (m.id) {
      case MethodId.ConnectionBlocked:
        this.blocked = true;
        return;
      case MethodId.ConnectionUnblocked:
        this.blocked = false;
        return;
      case MethodId.ChannelClose:
      case MethodId.ConnectionClose:
        if (this.closing) return;
        throw new Error(`${this.product}: ${methodName(m.id)} ${m.replyCode} ${m.replyText}`);
    }
    const waiter = this.waiters.get(channel);
    if (waiter === undefined || waiter.id !== m.id) throw new Error(`unexpected ${methodName(m.id)} on channel ${channel}`);
    this.waiters.delete(channel);
    waiter.resolve(m);
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.socket.destroy();
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
    for (const listener of this.failureListeners.splice(0)) listener(err);
  }
}
