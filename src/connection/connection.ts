import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ResourceAccess } from '../auth/resource-access.js';
import type { ChannelHost, ClientCapabilities } from '../channel/channel-host.js';
import { Channel } from '../channel/channel.js';
import type { ConsumerTimeout } from '../channel/consumer-timeout.js';
import { FrameReader, type FrameSink } from '../framing/frame-reader.js';
import { FrameWriter } from '../framing/frame-writer.js';
import { decodeMethodFrame, methodIdOf } from '../framing/method-frame.js';
import { AmqpError } from '../protocol/amqp-error.js';
import { Decoder } from '../protocol/decoder.js';
import { FrameConstant, ReplyCode } from '../protocol/generated/amqp-constants.js';
import { MethodId, type Method } from '../protocol/generated/amqp-methods.js';
import type { Journal } from '../store/journal.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import { NO_CAPABILITIES } from './client-capabilities.js';
import { TICKS_PER_SECOND } from './heartbeat-clock.js';
import type { ConnectionContext } from './connection-context.js';
import { Handshake, type HandshakePeer, unexpectedMethod } from './handshake.js';
import { ProtocolHeader } from './protocol-header.js';
import { verifiedCertificateName } from './tls-listener.js';

/**
 * Seconds to wait for the client's close-ok before dropping the socket; also
 * how long a refused client waits for its socket to close (RabbitMQ's
 * SILENT_CLOSE_DELAY, which slows down repeated bad logins).
 */
const CLOSE_OK_TIMEOUT = 3;

/**
 * After answering the client's connection.close, RabbitMQ leaves the socket for
 * the client to close, and drops it itself after the heartbeat timeout or 30 s.
 */
const CLOSED_SOCKET_TIMEOUT = 30;

/**
 * RabbitMQ accepts frames up to 8 bytes (one frame's overhead) over frame_max,
 * because quite a few clients count frame_max as the payload size.
 */
const FRAME_SIZE_FUDGE = 8;

/** 'close-ok-sent': the client closed the connection and the socket waits for it to hang up. */
type State = 'header' | 'handshake' | 'open' | 'closing' | 'close-ok-sent' | 'closed';

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
  userName = '';
  vhost!: VirtualHost;
  /** What the user may do in the vhost; set with it at connection.open. */
  resources!: ResourceAccess;
  private state: State = 'header';
  private readonly header = new ProtocolHeader();
  private readonly reader: FrameReader;
  private readonly decoder = new Decoder(Buffer.alloc(0));
  private readonly handshake: Handshake;
  private readonly channels = new Map<number, Channel>();
  private channelMax = 0;
  private heartbeat = 0;
  private ticksSinceRead = 0;
  private ticksSinceWrite = 0;
  private ticksInState = 0;
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
    this.reader = new FrameReader(this, FrameConstant.FRAME_MIN_SIZE + FRAME_SIZE_FUDGE);
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

  /** The vhost's name once connection.open succeeded. */
  get vhostName(): string | undefined {
    return this.vhost?.name;
  }

  get channelCount(): number {
    return this.channels.size;
  }

  get certificateName(): string | undefined {
    return verifiedCertificateName(this.socket);
  }

  get journal(): Journal | undefined {
    return this.ctx.store?.journal;
  }

  get maxMessageSize(): number {
    return this.ctx.config.maxMessageSize;
  }

  get consumerTimeout(): ConsumerTimeout | undefined {
    return this.ctx.consumerTimeout;
  }

  get congested(): boolean {
    return this.writer.bufferedBytes + this.socket.writableLength > this.ctx.config.connectionOutputLimit;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  private get stopping(): boolean {
    return this.state === 'closing' || this.state === 'close-ok-sent' || this.state === 'closed';
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
    if (this.ctx.alarms.active) this.pauseReading();
  }

  /** Called by the handshake once tune-ok is accepted: the limits apply from the next frame. */
  tuned(channelMax: number, frameMax: number, heartbeat: number): void {
    this.channelMax = channelMax;
    this.heartbeat = heartbeat;
    this.reader.maxFrameSize = frameMax === 0 ? Infinity : frameMax + FRAME_SIZE_FUDGE;
    this.writer.frameMax = frameMax === 0 ? Infinity : frameMax;
  }

  /** Called by the handshake once connection.open succeeded. */
  opened(vhost: VirtualHost): void {
    this.vhost = vhost;
    this.resources = new ResourceAccess(this.ctx.access, this.userName, vhost.name);
    this.state = 'open';
    this.ticksInState = 0;
    if (this.ctx.alarms.active) this.alarmChanged(true);
  }

  /** Sends connection.close and waits for close-ok; the connection is unusable meanwhile. */
  close(code: number, text: string, classId = 0, methodId = 0): void {
    if (this.stopping) return;
    this.state = 'closing';
    this.ticksInState = 0;
    this.releaseChannels();
    this.writer.method(0, { id: MethodId.ConnectionClose, replyCode: code, replyText: text, classId, methodId });
  }

  /** Stops reading and lets the clock drop the socket after CLOSE_OK_TIMEOUT, without a reply. */
  refuse(reason: string): void {
    if (this.stopping) return;
    this.log.info(`refusing the client: ${reason}`);
    this.state = 'closing';
    this.ticksInState = 0;
    this.reader.stopped = true;
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
    if (!this.ctx.serving()) {
      // A primary woken past its lease: its broker is closing; not one more frame is acted on.
      this.terminate();
      return;
    }
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
      this.onError(err);
    }
  }

  onFrame(type: number, channelNumber: number, buf: Buffer, start: number, end: number): void {
    try {
      this.dispatchFrame(type, channelNumber, buf, start, end);
    } catch (err) {
      this.onError(err);
    }
  }

  private dispatchFrame(type: number, channelNumber: number, buf: Buffer, start: number, end: number): void {
    if (this.stopping) {
      this.whileClosing(type, channelNumber, buf, start, end);
      return;
    }
    if (type === FrameConstant.FRAME_HEARTBEAT) {
      if (end !== start) throw new AmqpError(ReplyCode.FRAME_ERROR, `heartbeat frame with a ${end - start}-byte payload`);
      if (channelNumber !== 0) throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, `heartbeat frame on channel ${channelNumber}`);
      return;
    }
    if (type !== FrameConstant.FRAME_METHOD && type !== FrameConstant.FRAME_HEADER && type !== FrameConstant.FRAME_BODY) {
      throw new AmqpError(ReplyCode.FRAME_ERROR, `unknown frame type ${type}`);
    }
    if (channelNumber === 0) {
      if (type !== FrameConstant.FRAME_METHOD) throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, `content frame (type ${type}) on channel 0`);
      this.connectionMethod(decodeMethodFrame(this.decoder, buf, start, end));
      return;
    }
    if (this.state !== 'open') {
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, `frame on channel ${channelNumber} before connection.open`);
    }
    const channel = this.channels.get(channelNumber);
    if (channel === undefined) {
      this.openChannel(type, channelNumber, buf, start, end);
      return;
    }
    if (channel.closing) {
      this.onClosingChannel(channel, type, buf, start, end);
      return;
    }
    try {
      this.channelFrame(channel, type, buf, start, end);
    } catch (err) {
      this.onError(err, channel);
    }
  }

  private channelFrame(channel: Channel, type: number, buf: Buffer, start: number, end: number): void {
    if (type === FrameConstant.FRAME_METHOD) {
      const id = methodIdOf(buf, start, end);
      // Mid-content, channel.close is an unexpected frame like any other method (the assembler says so).
      if ((id === MethodId.ChannelClose || id === MethodId.ChannelCloseOk) && !channel.assembler.midContent) {
        this.closeChannelByClient(channel, buf, start, end);
        return;
      }
      channel.assembler.methodFrame(buf, start, end);
    } else if (type === FrameConstant.FRAME_HEADER) {
      channel.assembler.headerFrame(buf, start, end);
    } else {
      channel.assembler.bodyFrame(buf, start, end);
    }
  }

  private connectionMethod(method: Method): void {
    if (this.state !== 'open') {
      this.handshake.onMethod(method);
      return;
    }
    switch (method.id) {
      case MethodId.ConnectionClose:
        this.log.debug({ code: method.replyCode, text: method.replyText }, 'client closed the connection');
        this.releaseChannels();
        // Gone before close-ok, as in RabbitMQ: a client may reconnect and redeclare them at once.
        this.vhost.removeExclusiveQueues(this);
        this.writer.method(0, { id: MethodId.ConnectionCloseOk });
        this.state = 'close-ok-sent';
        this.ticksInState = 0;
        return;
      case MethodId.ConnectionUpdateSecret:
        // As RabbitMQ's internal user database: the new secret is accepted and changes nothing,
        // since a password, unlike a token, does not expire.
        this.log.info({ reason: method.reason }, 'update-secret accepted');
        this.writer.method(0, { id: MethodId.ConnectionUpdateSecretOk });
        return;
      default:
        throw unexpectedMethod(method.id, 'running');
    }
  }

  /** The first frame on a channel number not in use must be channel.open. */
  private openChannel(type: number, channelNumber: number, buf: Buffer, start: number, end: number): void {
    if (type !== FrameConstant.FRAME_METHOD) {
      throw new AmqpError(ReplyCode.UNEXPECTED_FRAME, 'expected method frame, got non method frame instead');
    }
    const method = decodeMethodFrame(this.decoder, buf, start, end);
    if (method.id !== MethodId.ChannelOpen) {
      throw new AmqpError(ReplyCode.CHANNEL_ERROR, `expected 'channel.open' on channel ${channelNumber}`).withMethod(method.id);
    }
    // Like RabbitMQ, channel_max caps how many channels are open, not the channel numbers.
    if (this.channelMax !== 0 && this.channels.size >= this.channelMax) {
      throw new AmqpError(
        ReplyCode.NOT_ALLOWED,
        `number of channels opened (${this.channels.size}) has reached the negotiated channel_max (${this.channelMax})`,
      );
    }
    const refusal = this.ctx.channelRefusal(this.userName);
    if (refusal !== undefined) throw new AmqpError(ReplyCode.NOT_ALLOWED, refusal);
    this.channels.set(channelNumber, new Channel(this, channelNumber, this.decoder));
    this.writer.method(channelNumber, { id: MethodId.ChannelOpenOk });
  }

  private closeChannelByClient(channel: Channel, buf: Buffer, start: number, end: number): void {
    const method = decodeMethodFrame(this.decoder, buf, start, end);
    if (method.id === MethodId.ChannelCloseOk) {
      // Only valid as the answer to the broker's channel.close; RabbitMQ's words for it otherwise.
      throw new AmqpError(ReplyCode.COMMAND_INVALID, 'unimplemented method').withMethod(method.id);
    }
    const close = (): void => {
      channel.release();
      this.channels.delete(channel.number);
      this.writer.method(channel.number, { id: MethodId.ChannelCloseOk });
    };
    if (!channel.deferClose(close)) close();
  }

  /**
   * After the broker closed a channel: only close-ok frees the number. A crossing
   * channel.close is answered but the number stays taken until close-ok, which the
   * client still owes for the broker's close (as RabbitMQ: amqp091-go sends both).
   */
  private onClosingChannel(channel: Channel, type: number, buf: Buffer, start: number, end: number): void {
    if (type !== FrameConstant.FRAME_METHOD) return;
    const id = methodIdOf(buf, start, end);
    if (id === MethodId.ChannelCloseOk) {
      this.channels.delete(channel.number);
    } else if (id === MethodId.ChannelClose) {
      this.writer.method(channel.number, { id: MethodId.ChannelCloseOk });
    } else if (id === MethodId.ChannelOpen) {
      throw new AmqpError(ReplyCode.CHANNEL_ERROR, `second 'channel.open' seen`).withMethod(id);
    }
  }

  /**
   * After either side closed the connection: close-ok ends it; a further
   * connection.close is answered (amqp091-go sends one per concurrent Close()),
   * and only ends it if the broker's own close is still unanswered.
   */
  private whileClosing(type: number, channelNumber: number, buf: Buffer, start: number, end: number): void {
    if (type !== FrameConstant.FRAME_METHOD || channelNumber !== 0) return;
    const id = methodIdOf(buf, start, end);
    if (id === MethodId.ConnectionCloseOk) this.terminate();
    else if (id === MethodId.ConnectionClose) {
      this.writer.method(0, { id: MethodId.ConnectionCloseOk });
      if (this.state === 'closing') this.terminate();
    }
  }

  /**
   * Answers an error with channel.close (soft errors raised by a channel's
   * commands) or connection.close (everything else). `channel` is given for
   * errors raised while that channel processed a frame.
   */
  commandFailed(channel: Channel, err: unknown): void {
    // Only while it is still this connection's channel: the number may belong to a new one by now.
    if (this.channels.get(channel.number) === channel) this.onError(err, channel);
  }

  private onError(err: unknown, channel?: Channel): void {
    if (!(err instanceof AmqpError)) {
      this.log.error({ err }, 'internal error; closing the connection');
      this.close(ReplyCode.INTERNAL_ERROR, 'INTERNAL_ERROR');
      return;
    }
    if (this.state === 'handshake' && !this.handshake.answers(err)) {
      this.refuse(err.replyText);
      return;
    }
    // An error that names no method is about the method the channel was processing.
    const failedMethod = err.classId === 0 ? (channel?.assembler.lastMethodId ?? 0) : (err.classId << 16) | err.methodId;
    const classId = failedMethod >>> 16;
    const methodId = failedMethod & 0xffff;
    if (err.closesConnection || channel === undefined) {
      this.log.warn({ code: err.replyCode, channel: channel?.number ?? 0 }, `closing connection: ${err.replyText}`);
      this.close(err.replyCode, err.replyText, classId, methodId);
      return;
    }
    const channelNumber = channel.number;
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

  // ---- resource alarms ----------------------------------------------------------

  /** A resource alarm (memory or disk) was raised or all cleared: block publishers (stop reading them) or let them go. */
  alarmChanged(active: boolean): void {
    if (this.state !== 'open') return;
    if (active) {
      if (this.capabilities.connectionBlocked && !this.notifiedBlocked) {
        this.notifiedBlocked = true;
        this.writer.method(0, { id: MethodId.ConnectionBlocked, reason: this.ctx.alarms.reason });
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
    this.log.info('resource alarm: stopped reading from this publisher');
  }

  // ---- timers and teardown --------------------------------------------------------

  /** Twice a second (TICKS_PER_SECOND), from the shared clock. */
  tick(): void {
    this.ticksInState++;
    this.ticksSinceRead = this.readSinceTick || this.readPaused ? 0 : this.ticksSinceRead + 1;
    this.readSinceTick = false;
    this.ticksSinceWrite = this.writer.wroteSinceTick ? 0 : this.ticksSinceWrite + 1;
    this.writer.wroteSinceTick = false;
    // More than the timeout's ticks: the first tick may come at once after the accept, so a client always has the full time.
    if ((this.state === 'header' || this.state === 'handshake') && this.ticksInState > this.ctx.config.handshakeTimeout * TICKS_PER_SECOND) {
      this.log.info('handshake timeout');
      this.socket.destroy();
      return;
    }
    if (this.state === 'closing' && this.ticksInState >= CLOSE_OK_TIMEOUT * TICKS_PER_SECOND) {
      this.socket.destroy();
      return;
    }
    if (this.state === 'close-ok-sent' && this.ticksInState >= Math.min(this.heartbeat || Infinity, CLOSED_SOCKET_TIMEOUT) * TICKS_PER_SECOND) {
      this.socket.destroy();
      return;
    }
    // Heartbeats run from tune-ok on (the handshake sets the interval), as in RabbitMQ.
    if ((this.state !== 'open' && this.state !== 'handshake') || this.heartbeat === 0) return;
    if (this.ticksSinceRead >= this.heartbeat * 2 * TICKS_PER_SECOND) {
      this.log.warn(`missed heartbeats from client, timeout: ${this.heartbeat}s`);
      this.releaseChannels();
      this.socket.destroy();
      return;
    }
    // Nothing was written for up to ticksSinceWrite + 1 ticks: send once that may reach half
    // the interval, as RabbitMQ does, so a client that gives up after one silent interval
    // always sees traffic (with heartbeat = 1: every tick, 500 ms apart).
    if ((this.ticksSinceWrite + 1) * 2 >= this.heartbeat * TICKS_PER_SECOND) this.writer.heartbeat();
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
