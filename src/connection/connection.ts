import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ChannelHost, ClientCapabilities } from '../channel/channel-host.js';
import { Channel } from '../channel/channel.js';
import { FrameReader, type FrameSink } from '../framing/frame-reader.js';
import { FrameWriter } from '../framing/frame-writer.js';
import { AmqpError } from '../protocol/amqp-error.js';
import { Decoder } from '../protocol/decoder.js';
import { FrameConstant, ReplyCode } from '../protocol/generated/amqp-constants.js';
import { decodeMethod, MethodId, methodName, type Method } from '../protocol/generated/amqp-methods.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import { NO_CAPABILITIES } from './client-capabilities.js';
import type { ConnectionContext } from './connection-context.js';
import { Handshake, type HandshakePeer } from './handshake.js';
import { ProtocolHeader } from './protocol-header.js';

/** Seconds to wait for the client's close-ok before dropping the socket. */
const CLOSE_OK_TIMEOUT = 3;

type State = 'header' | 'handshake' | 'open' | 'closing' | 'closed';

/**
 * One client connection: the socket, the handshake, the channel table,
 * heartbeats, back-pressure and error scoping (soft errors close a channel,
 * hard errors the connection).
 */
export class Connection implements FrameSink, ChannelHost, HandshakePeer {
  readonly writer: FrameWriter;
  readonly log: Logger;
  readonly owner = this;
  capabilities: ClientCapabilities = NO_CAPABILITIES;
  vhost!: VirtualHost;
  private state: State = 'header';
  private readonly header = new ProtocolHeader();
  private readonly reader: FrameReader;
  private readonly decoder = new Decoder(Buffer.alloc(0));
  private readonly handshake: Handshake;
  private readonly channels = new Map<number, Channel>();
  private channelMax = 0;
  private heartbeat = 0;
  private secondsSinceRead = 0;
  private secondsSinceWrite = 0;
  private secondsInState = 0;
  private readSinceTick = false;
  private stalled = false;
  private published = false;
  /** connection.blocked was sent and unblocked is owed. */
  private notifiedBlocked = false;
  private readPaused = false;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: ConnectionContext,
    id: number,
  ) {
    this.log = ctx.log.child({ connection: id, peer: `${socket.remoteAddress}:${socket.remotePort}` });
    this.writer = new FrameWriter({
      writeChunks: (chunks) => this.writeChunks(chunks),
      beforeFlush: () => this.flushConfirms(),
    });
    this.reader = new FrameReader(this, FrameConstant.FRAME_MIN_SIZE);
    this.handshake = new Handshake(this, ctx);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.resumeConsumers());
    socket.on('error', (err) => this.log.debug({ err }, 'socket error'));
    socket.on('close', () => this.onSocketClosed());
    ctx.clock.add(this);
    this.log.debug('connection accepted');
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get maxMessageSize(): number {
    return this.ctx.config.maxMessageSize;
  }

  get congested(): boolean {
    return this.writer.bufferedBytes + this.socket.writableLength > this.ctx.config.connectionOutputLimit;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  consumerStalled(): void {
    this.stalled = true;
  }

  confirmsPending(): void {
    this.writer.requestFlush();
  }

  publishing(): void {
    if (this.published) return;
    this.published = true;
    if (this.ctx.alarm.active) this.pauseReading();
  }

  /** Called by the handshake once connection.open succeeded. */
  opened(vhost: VirtualHost, channelMax: number, frameMax: number, heartbeat: number): void {
    this.vhost = vhost;
    this.channelMax = channelMax;
    this.heartbeat = heartbeat;
    this.reader.maxFrameSize = frameMax;
    this.writer.frameMax = frameMax;
    this.state = 'open';
    this.secondsInState = 0;
    if (this.ctx.alarm.active) this.alarmChanged(true);
  }

  /** Sends connection.close and waits for close-ok; the connection is unusable meanwhile. */
  close(code: number, text: string, classId = 0, methodId = 0): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    this.secondsInState = 0;
    this.releaseChannels();
    this.writer.method(0, { id: MethodId.ConnectionClose, replyCode: code, replyText: text, classId, methodId });
  }

  /** Drops the socket once pending output is written. */
  terminate(): void {
    this.writer.flush();
    this.state = 'closed';
    this.reader.stopped = true;
    this.socket.end();
  }

  // ---- input ------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    this.readSinceTick = true;
    try {
      if (this.state === 'header') {
        const rest = this.header.push(chunk);
        if (rest === undefined) return;
        if (!this.header.valid) {
          this.log.info('unsupported protocol header; replied with AMQP 0-9-1');
          this.writer.raw(ProtocolHeader.SUPPORTED);
          this.terminate();
          return;
        }
        this.state = 'handshake';
        this.handshake.start();
        if (rest.length > 0) this.reader.push(rest);
        return;
      }
      this.reader.push(chunk);
    } catch (err) {
      this.onError(err, 0);
    }
  }

  onFrame(type: number, channelNumber: number, payload: Buffer): void {
    try {
      this.dispatchFrame(type, channelNumber, payload);
    } catch (err) {
      this.onError(err, channelNumber);
    }
  }

  private dispatchFrame(type: number, channelNumber: number, payload: Buffer): void {
    if (this.state === 'closing' || this.state === 'closed') {
      this.whileClosing(type, channelNumber, payload);
      return;
    }
    if (type === FrameConstant.FRAME_HEARTBEAT) {
      if (channelNumber !== 0) throw new AmqpError(ReplyCode.FRAME_ERROR, 'heartbeat frame on a channel other than 0');
      return;
    }
    if (type !== FrameConstant.FRAME_METHOD && type !== FrameConstant.FRAME_HEADER && type !== FrameConstant.FRAME_BODY) {
      throw new AmqpError(ReplyCode.FRAME_ERROR, `unknown frame type ${type}`);
    }
    if (channelNumber === 0) {
      if (type !== FrameConstant.FRAME_METHOD) throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, 'content frame on channel 0');
      this.connectionMethod(this.decode(payload));
      return;
    }
    if (this.state !== 'open') {
      throw new AmqpError(ReplyCode.CHANNEL_ERROR, `frame on channel ${channelNumber} before the connection is open`);
    }
    const channel = this.channels.get(channelNumber);
    if (channel === undefined) {
      this.openChannel(type, channelNumber, payload);
      return;
    }
    if (channel.closing) {
      this.onClosingChannel(channel, type, payload);
      return;
    }
    if (type === FrameConstant.FRAME_METHOD) {
      const id = payload.length >= 4 ? payload.readUInt32BE(0) : 0;
      if (id === MethodId.ChannelClose || id === MethodId.ChannelCloseOk) {
        this.closeChannelByClient(channel, id);
        return;
      }
      channel.assembler.methodFrame(payload);
    } else if (type === FrameConstant.FRAME_HEADER) {
      channel.assembler.headerFrame(payload);
    } else {
      channel.assembler.bodyFrame(payload);
    }
  }

  private decode(payload: Buffer): Method {
    const method = decodeMethod(this.decoder.reset(payload));
    if (method === undefined) {
      const id = payload.length >= 4 ? payload.readUInt32BE(0) : 0;
      throw new AmqpError(ReplyCode.NOT_IMPLEMENTED, `${methodName(id)} is not a method of AMQP 0-9-1`, id >>> 16, id & 0xffff);
    }
    return method;
  }

  private connectionMethod(method: Method): void {
    switch (method.id) {
      case MethodId.ConnectionClose:
        this.log.debug({ code: method.replyCode, text: method.replyText }, 'client closed the connection');
        this.releaseChannels();
        // Before close-ok, so a client that saw its close complete can redeclare the names elsewhere.
        this.vhost?.removeExclusiveQueues(this);
        this.writer.method(0, { id: MethodId.ConnectionCloseOk });
        this.terminate();
        return;
      case MethodId.ConnectionCloseOk:
        this.terminate();
        return;
      default:
        this.handshake.onMethod(method);
    }
  }

  private openChannel(type: number, channelNumber: number, payload: Buffer): void {
    const isOpen = type === FrameConstant.FRAME_METHOD && payload.length >= 4 && payload.readUInt32BE(0) === MethodId.ChannelOpen;
    if (!isOpen) throw new AmqpError(ReplyCode.CHANNEL_ERROR, `expected 'channel.open' on channel ${channelNumber}`);
    if (channelNumber > this.channelMax) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED, `channel ${channelNumber} above the negotiated channel_max ${this.channelMax}`);
    }
    this.channels.set(channelNumber, new Channel(this, channelNumber, this.decoder));
    this.writer.method(channelNumber, { id: MethodId.ChannelOpenOk });
  }

  private closeChannelByClient(channel: Channel, id: number): void {
    if (id === MethodId.ChannelCloseOk) {
      throw new AmqpError(ReplyCode.CHANNEL_ERROR, `unexpected 'channel.close-ok' on channel ${channel.number}`);
    }
    channel.release();
    this.channels.delete(channel.number);
    this.writer.method(channel.number, { id: MethodId.ChannelCloseOk });
  }

  /** After the broker closed a channel: only close-ok (or the client's own close) matter. */
  private onClosingChannel(channel: Channel, type: number, payload: Buffer): void {
    if (type !== FrameConstant.FRAME_METHOD || payload.length < 4) return;
    const id = payload.readUInt32BE(0);
    if (id === MethodId.ChannelCloseOk) {
      this.channels.delete(channel.number);
    } else if (id === MethodId.ChannelClose) {
      this.channels.delete(channel.number);
      this.writer.method(channel.number, { id: MethodId.ChannelCloseOk });
    }
  }

  /** After the broker sent connection.close: wait for close-ok, answer a crossing close. */
  private whileClosing(type: number, channelNumber: number, payload: Buffer): void {
    if (type !== FrameConstant.FRAME_METHOD || channelNumber !== 0 || payload.length < 4) return;
    const id = payload.readUInt32BE(0);
    if (id === MethodId.ConnectionCloseOk) this.terminate();
    else if (id === MethodId.ConnectionClose) {
      this.writer.method(0, { id: MethodId.ConnectionCloseOk });
      this.terminate();
    }
  }

  private onError(err: unknown, channelNumber: number): void {
    if (!(err instanceof AmqpError)) {
      this.log.error({ err }, 'internal error; closing the connection');
      this.close(ReplyCode.INTERNAL_ERROR, 'INTERNAL_ERROR');
      return;
    }
    const channel = this.channels.get(channelNumber);
    const failedMethod = channel?.assembler.lastMethodId ?? 0;
    const classId = err.classId || failedMethod >>> 16;
    const methodId = err.methodId || failedMethod & 0xffff;
    if (err.closesConnection || channel === undefined) {
      this.log.warn({ code: err.replyCode, channel: channelNumber }, `closing connection: ${err.replyText}`);
      this.close(err.replyCode, err.replyText, classId, methodId);
      return;
    }
    this.log.info({ code: err.replyCode, channel: channelNumber }, `closing channel: ${err.replyText}`);
    channel.closing = true;
    channel.release();
    this.writer.method(channelNumber, {
      id: MethodId.ChannelClose,
      replyCode: err.replyCode,
      replyText: err.replyText,
      classId,
      methodId,
    });
  }

  // ---- output and back-pressure ----------------------------------------------

  private writeChunks(chunks: readonly Buffer[]): void {
    if (this.socket.destroyed) return;
    if (chunks.length === 1) {
      this.socket.write(chunks[0]!);
    } else {
      this.socket.cork();
      for (const c of chunks) this.socket.write(c);
      this.socket.uncork();
    }
    if (!this.socket.writableNeedDrain) this.resumeConsumers();
  }

  private flushConfirms(): void {
    for (const channel of this.channels.values()) channel.flushConfirms();
  }

  /** Output drained below the limit: let the queues that were held back deliver again. */
  private resumeConsumers(): void {
    if (!this.stalled || this.congested) return;
    this.stalled = false;
    for (const channel of this.channels.values()) {
      for (const consumer of channel.consumerList) consumer.queue.dispatch();
    }
  }

  // ---- memory alarm -------------------------------------------------------------

  /** The memory alarm changed: block publishers (stop reading them) or let them go. */
  alarmChanged(active: boolean): void {
    if (this.state !== 'open') return;
    if (active) {
      if (this.capabilities.connectionBlocked && !this.notifiedBlocked) {
        this.notifiedBlocked = true;
        this.writer.method(0, { id: MethodId.ConnectionBlocked, reason: 'low on memory' });
      }
      if (this.published) this.pauseReading();
      return;
    }
    if (this.notifiedBlocked) {
      this.notifiedBlocked = false;
      this.writer.method(0, { id: MethodId.ConnectionUnblocked });
    }
    if (this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  private pauseReading(): void {
    if (this.readPaused) return;
    this.readPaused = true;
    this.socket.pause();
    this.log.info('memory alarm: stopped reading from this publisher');
  }

  // ---- timers and teardown --------------------------------------------------------

  /** Once a second, from the shared clock. */
  tick(): void {
    this.secondsInState++;
    this.secondsSinceRead = this.readSinceTick || this.readPaused ? 0 : this.secondsSinceRead + 1;
    this.readSinceTick = false;
    this.secondsSinceWrite = this.writer.wroteSinceTick ? 0 : this.secondsSinceWrite + 1;
    this.writer.wroteSinceTick = false;
    if ((this.state === 'header' || this.state === 'handshake') && this.secondsInState >= this.ctx.config.handshakeTimeout) {
      this.log.info('handshake timeout');
      this.socket.destroy();
      return;
    }
    if (this.state === 'closing' && this.secondsInState >= CLOSE_OK_TIMEOUT) {
      this.socket.destroy();
      return;
    }
    if (this.state !== 'open' || this.heartbeat === 0) return;
    if (this.secondsSinceRead >= this.heartbeat * 2) {
      this.log.warn(`missed heartbeats from client, timeout: ${this.heartbeat}s`);
      this.releaseChannels();
      this.socket.destroy();
      return;
    }
    // Half the interval, so a client checking once per interval always sees traffic.
    if (this.secondsSinceWrite * 2 >= this.heartbeat) this.writer.heartbeat();
  }

  private releaseChannels(): void {
    for (const channel of this.channels.values()) channel.release();
    this.channels.clear();
  }

  private onSocketClosed(): void {
    this.releaseChannels();
    // The vhost is unset when the client left before connection.open.
    this.vhost?.removeExclusiveQueues(this);
    this.state = 'closed';
    this.reader.stopped = true;
    this.ctx.clock.delete(this);
    this.ctx.connectionClosed(this);
    this.log.debug('connection closed');
  }
}
