import { parseSaslResponse, SASL_MECHANISMS } from '../auth/sasl.js';
import type { ClientCapabilities } from '../channel/channel-host.js';
import type { FrameWriter } from '../framing/frame-writer.js';
import { AmqpError } from '../protocol/amqp-error.js';
import { FrameConstant, ReplyCode } from '../protocol/generated/amqp-constants.js';
import { MethodId, methodName, type ConnectionStartOk, type ConnectionTuneOk, type Method } from '../protocol/generated/amqp-methods.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import { readClientCapabilities } from './client-capabilities.js';
import type { ConnectionContext } from './connection-context.js';
import { serverProperties } from './server-properties.js';

/** The parts of a connection the handshake drives. */
export interface HandshakePeer {
  readonly writer: FrameWriter;
  readonly remoteAddress: string | undefined;
  capabilities: ClientCapabilities;
  opened(vhost: VirtualHost, channelMax: number, frameMax: number, heartbeat: number): void;
  close(code: number, text: string, classId?: number, methodId?: number): void;
  terminate(): void;
}

type Step = 'start-ok' | 'tune-ok' | 'open' | 'done';

/**
 * connection.start → start-ok → tune → tune-ok → open → open-ok, with
 * authentication and the tune negotiation as RabbitMQ does them.
 */
export class Handshake {
  private step: Step = 'start-ok';
  private channelMax = 0;
  private frameMax = 0;
  private heartbeat = 0;

  constructor(
    private readonly peer: HandshakePeer,
    private readonly ctx: ConnectionContext,
  ) {}

  start(): void {
    this.peer.writer.method(0, {
      id: MethodId.ConnectionStart,
      versionMajor: 0,
      versionMinor: 9,
      serverProperties: serverProperties(this.ctx.clusterName),
      mechanisms: Buffer.from(SASL_MECHANISMS.join(' ')),
      locales: Buffer.from('en_US'),
    });
  }

  onMethod(method: Method): void {
    switch (method.id) {
      case MethodId.ConnectionStartOk:
        this.expect('start-ok', method.id);
        return this.startOk(method);
      case MethodId.ConnectionTuneOk:
        this.expect('tune-ok', method.id);
        return this.tuneOk(method);
      case MethodId.ConnectionOpen:
        this.expect('open', method.id);
        return this.open(method.virtualHost);
      case MethodId.ConnectionUpdateSecret:
        throw new AmqpError(ReplyCode.NOT_ALLOWED, 'update-secret is not supported for this authentication mechanism');
      case MethodId.ConnectionBlocked:
      case MethodId.ConnectionUnblocked:
        // Server-to-client notifications; a client sending them is harmless.
        return;
      default:
        throw new AmqpError(ReplyCode.COMMAND_INVALID, `${methodName(method.id)} is not valid on channel 0`, method.id >>> 16, method.id & 0xffff);
    }
  }

  private expect(step: Step, id: number): void {
    if (this.step !== step) {
      throw new AmqpError(ReplyCode.COMMAND_INVALID, `unexpected ${methodName(id)} during the handshake`, id >>> 16, id & 0xffff);
    }
  }

  private startOk(m: ConnectionStartOk): void {
    this.peer.capabilities = readClientCapabilities(m.clientProperties);
    const credentials = (SASL_MECHANISMS as readonly string[]).includes(m.mechanism)
      ? parseSaslResponse(m.mechanism, m.response)
      : undefined;
    const result = credentials === undefined
      ? { ok: false as const, reason: `unsupported or malformed authentication mechanism '${m.mechanism}'` }
      : this.ctx.users.authenticate(credentials.username, credentials.password, this.peer.remoteAddress);
    if (!result.ok) {
      this.ctx.log.info({ peer: this.peer.remoteAddress }, `authentication failed: ${result.reason}`);
      // Clients that did not announce authentication_failure_close only see the socket close.
      if (this.peer.capabilities.authenticationFailureClose) {
        this.peer.close(ReplyCode.ACCESS_REFUSED, `ACCESS_REFUSED - ${result.reason}`, m.id >>> 16, m.id & 0xffff);
      } else {
        this.peer.terminate();
      }
      return;
    }
    const { config } = this.ctx;
    this.step = 'tune-ok';
    this.peer.writer.method(0, {
      id: MethodId.ConnectionTune,
      channelMax: config.channelMax,
      frameMax: config.frameMax,
      heartbeat: config.heartbeat,
    });
  }

  private tuneOk(m: ConnectionTuneOk): void {
    const { config } = this.ctx;
    const frameMax = m.frameMax === 0 ? config.frameMax : m.frameMax;
    if (frameMax < FrameConstant.FRAME_MIN_SIZE) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED, `frame_max=${m.frameMax} < ${FrameConstant.FRAME_MIN_SIZE} min size`);
    }
    if (frameMax > config.frameMax) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED, `frame_max=${m.frameMax} > ${config.frameMax} max size`);
    }
    const channelMax = m.channelMax === 0 ? config.channelMax : m.channelMax;
    if (channelMax > config.channelMax) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED, `channel_max=${m.channelMax} > ${config.channelMax} max`);
    }
    this.frameMax = frameMax;
    this.channelMax = channelMax;
    this.heartbeat = m.heartbeat;
    this.step = 'open';
  }

  private open(vhostName: string): void {
    const vhost = this.ctx.virtualHost(vhostName);
    if (vhost === undefined) throw new AmqpError(ReplyCode.NOT_ALLOWED, `vhost ${vhostName} not found`);
    this.step = 'done';
    this.peer.writer.method(0, { id: MethodId.ConnectionOpenOk });
    this.peer.opened(vhost, this.channelMax, this.frameMax, this.heartbeat);
  }
}
