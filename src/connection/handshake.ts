import type { Logger } from 'pino';
import { offeredMechanisms, parseSaslResponse } from '../auth/sasl.js';
import type { ClientCapabilities } from '../channel/channel-host.js';
import type { FrameWriter } from '../framing/frame-writer.js';
import { AmqpError } from '../protocol/amqp-error.js';
import { FrameConstant, ReplyCode } from '../protocol/generated/amqp-constants.js';
import { MethodId, type ConnectionStartOk, type ConnectionTuneOk, type Method } from '../protocol/generated/amqp-methods.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import { readClientCapabilities } from './client-capabilities.js';
import type { ConnectionContext } from './connection-context.js';
import { serverProperties } from './server-properties.js';

/** The parts of a connection the handshake drives. */
export interface HandshakePeer {
  readonly writer: FrameWriter;
  readonly log: Logger;
  readonly remoteAddress: string | undefined;
  /** The CN of the client certificate a TLS connection presented and the broker verified; undefined otherwise. */
  readonly certificateName: string | undefined;
  capabilities: ClientCapabilities;
  /** Set once start-ok authenticated the client. */
  userName: string;
  /** tune-ok accepted: the negotiated limits apply from the next frame (0 means no limit). */
  tuned(channelMax: number, frameMax: number, heartbeat: number): void;
  opened(vhost: VirtualHost): void;
  close(code: number, text: string, classId?: number, methodId?: number): void;
  /** Drops the client without a reply, after a delay. */
  refuse(reason: string): void;
}

/** Which method the handshake waits for, named after RabbitMQ's connection states. */
const STATE_NAME = { 'start-ok': 'starting', 'tune-ok': 'tuning', open: 'opening', done: 'running' } as const;
type Step = keyof typeof STATE_NAME;

/** Lowest channel_max a client may ask for (RabbitMQ's CHANNEL_MIN). */
const CHANNEL_MIN = 1;

/** A connection-class method that does not fit the connection's state: 504, as RabbitMQ answers it. */
export function unexpectedMethod(id: number, state: string): AmqpError {
  return new AmqpError(ReplyCode.CHANNEL_ERROR, `unexpected method in connection state ${state}`, id >>> 16, id & 0xffff);
}

/**
 * connection.start → start-ok → tune → tune-ok → open → open-ok, with
 * authentication and the tune negotiation as RabbitMQ does them.
 */
export class Handshake {
  private step: Step = 'start-ok';
  private channelMax = 0;

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
      mechanisms: Buffer.from(offeredMechanisms(this.peer.certificateName).join(' ')),
      locales: Buffer.from('en_US'),
    });
  }

  /**
   * Whether an error at this point is answered with connection.close. Before
   * tune-ok the client is not trusted: RabbitMQ closes the socket without a
   * word (authentication failures are answered by startOk itself), except
   * that a failed tune negotiation is explained.
   */
  answers(err: AmqpError): boolean {
    switch (this.step) {
      case 'start-ok':
        return false;
      case 'tune-ok':
        return err.replyCode === ReplyCode.NOT_ALLOWED;
      default:
        return true;
    }
  }

  onMethod(method: Method): void {
    if (this.step === 'start-ok' && method.id === MethodId.ConnectionStartOk) return this.startOk(method);
    if (this.step === 'tune-ok' && method.id === MethodId.ConnectionTuneOk) return this.tuneOk(method);
    if (this.step === 'open' && method.id === MethodId.ConnectionOpen) return this.open(method.virtualHost);
    throw unexpectedMethod(method.id, STATE_NAME[this.step]);
  }

  private startOk(m: ConnectionStartOk): void {
    this.peer.capabilities = readClientCapabilities(m.clientProperties);
    // Before authentication: a standby has no users to check, and the client is better off elsewhere at once.
    const refusal = this.ctx.serviceRefusal();
    if (refusal !== undefined) {
      this.peer.log.info({ reason: refusal }, 'connection refused');
      this.peer.close(ReplyCode.CONNECTION_FORCED, `CONNECTION_FORCED - ${refusal}`);
      return;
    }
    const certificateName = this.peer.certificateName;
    if (!offeredMechanisms(certificateName).includes(m.mechanism)) {
      throw new AmqpError(ReplyCode.COMMAND_INVALID, `unknown authentication mechanism '${m.mechanism}'`);
    }
    let result;
    if (m.mechanism === 'EXTERNAL') {
      result = this.ctx.access.authenticateExternal(certificateName!, this.peer.remoteAddress);
    } else {
      const credentials = parseSaslResponse(m.mechanism, m.response);
      if (credentials === undefined) throw new AmqpError(ReplyCode.SYNTAX_ERROR, `malformed ${m.mechanism} response`);
      result = this.ctx.access.authenticate(credentials.username, credentials.password, this.peer.remoteAddress);
    }
    if (!result.ok) {
      const reason = `${m.mechanism} login refused: ${result.reason}`;
      // The details stay in the log; clients that announced authentication_failure_close get a
      // generic 403, the others only see the socket close.
      if (this.peer.capabilities.authenticationFailureClose) {
        this.peer.log.info(reason);
        this.peer.close(
          ReplyCode.ACCESS_REFUSED,
          `ACCESS_REFUSED - Login was refused using authentication mechanism ${m.mechanism}. For details see the broker logfile.`,
        );
      } else {
        this.peer.refuse(reason);
      }
      return;
    }
    this.peer.userName = result.user.name;
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
    const frameMax = negotiate('frame_max', m.frameMax, FrameConstant.FRAME_MIN_SIZE, config.frameMax);
    this.channelMax = negotiate('channel_max', m.channelMax, CHANNEL_MIN, config.channelMax);
    this.step = 'open';
    this.peer.tuned(this.channelMax, frameMax, m.heartbeat);
  }

  private open(vhostName: string): void {
    const vhost = this.ctx.virtualHost(vhostName);
    if (vhost === undefined) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED, `vhost ${vhostName} not found`).withMethod(MethodId.ConnectionOpen);
    }
    // Any permission entry, whatever its patterns, lets a user into a vhost, as in RabbitMQ.
    if (!this.ctx.access.mayAccessVhost(this.peer.userName, vhostName)) {
      throw new AmqpError(ReplyCode.NOT_ALLOWED, `access to vhost '${vhostName}' refused for user '${this.peer.userName}'`).withMethod(MethodId.ConnectionOpen);
    }
    const refusal = this.ctx.connectionRefusal(this.peer.userName, vhostName);
    if (refusal !== undefined) throw new AmqpError(ReplyCode.NOT_ALLOWED, refusal).withMethod(MethodId.ConnectionOpen);
    this.step = 'done';
    this.peer.writer.method(0, { id: MethodId.ConnectionOpenOk });
    this.peer.opened(vhost);
  }
}

/**
 * RabbitMQ's rule for a tune-ok value: at least `min`, and when the server
 * has a limit, neither above it nor 0 ("no limit").
 */
function negotiate(field: string, client: number, min: number, server: number): number {
  const fail = (comparison: string, bound: number): never => {
    const detail = client === 0 ? ' (no limit)' : '';
    // RabbitMQ attributes the failure to connection.tune.
    throw new AmqpError(
      ReplyCode.NOT_ALLOWED,
      `negotiated ${field} = ${client}${detail} is ${comparison} allowed value (${bound})`,
    ).withMethod(MethodId.ConnectionTune);
  };
  if (client !== 0 && client < min) return fail('lower than the minimum', min);
  if (server !== 0 && (client === 0 || client > server)) return fail('higher than the maximum', server);
  return client;
}
