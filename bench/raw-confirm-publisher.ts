/**
 * A lean AMQP 0-9-1 load generator for publisher-confirm benchmarks: one
 * connection, one confirm channel, the publish frames encoded once and
 * written in batches, basic.ack / basic.nack frames read straight off the
 * socket. amqplib spends about half a core at 60k confirmed publishes per
 * second, which on a 2-core machine takes CPU from the broker under test.
 */
import { connect, type Socket } from 'node:net';
import { FrameReader } from '../src/framing/frame-reader.js';
import { Decoder } from '../src/protocol/decoder.js';
import { Encoder } from '../src/protocol/encoder.js';
import { FrameConstant } from '../src/protocol/generated/amqp-constants.js';
import { decodeMethod, encodeMethod, type Method, MethodId, methodName } from '../src/protocol/generated/amqp-methods.js';
import { encodeBasicProperties } from '../src/protocol/generated/basic-properties.js';

const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
const CHANNEL = 1;
const FRAME_MAX = 131072;
/** Publishes per socket write: large enough to amortise the write, small enough to keep acks flowing. */
const MAX_BATCH = 64;

export interface PublishRun {
  /** Stop after this many publishes... */
  readonly count: number;
  /** ...or at this performance.now() time, whichever comes first. */
  readonly stopAt: number;
  /** Most publishes awaiting their confirm at any time. */
  readonly window: number;
}

function frame(type: number, channel: number, fill: (e: Encoder) => void): Buffer {
  const e = new Encoder();
  e.u8(type);
  e.u16(channel);
  e.u32(0);
  fill(e);
  e.u8(FrameConstant.FRAME_END);
  const out = Buffer.from(e.take());
  out.writeUInt32BE(out.length - 8, 3);
  return out;
}

function methodFrame(channel: number, m: Method): Buffer {
  return frame(FrameConstant.FRAME_METHOD, channel, (e) => encodeMethod(e, m));
}

/** basic.publish, its content header (delivery-mode 2) and one body frame, as bytes. */
function persistentPublish(queue: string, body: Buffer): Buffer {
  const method = methodFrame(CHANNEL, { id: MethodId.BasicPublish, exchange: '', routingKey: queue, mandatory: false, immediate: false });
  const header = frame(FrameConstant.FRAME_HEADER, CHANNEL, (e) => {
    e.u16(MethodId.BasicPublish >>> 16);
    e.u16(0);
    e.u64(body.length);
    encodeBasicProperties(e, { deliveryMode: 2 });
  });
  const content = frame(FrameConstant.FRAME_BODY, CHANNEL, (e) => e.bytes(body));
  return Buffer.concat([method, header, content]);
}

export class RawConfirmPublisher {
  /** Publishes written to the socket. */
  published = 0;
  /** Publishes settled by basic.ack. */
  confirmed = 0;
  nacked = 0;
  /** Set while the broker has sent connection.blocked. */
  blocked = false;

  private readonly decoder = new Decoder(Buffer.alloc(0));
  private readonly reader: FrameReader;
  /** Next method expected during setup. */
  private expecting: { id: number; resolve: (m: Method) => void } | undefined;
  private failure: Error | undefined;
  private onFailure: ((err: Error) => void) | undefined;
  private readonly batch: Buffer;
  private readonly messageSize: number;
  /** settled[tag & mask] marks a tag confirmed or nacked ahead of `lowest`. */
  private settled = new Uint8Array(0);
  private mask = 0;
  /** Lowest delivery tag not yet settled. */
  private lowest = 1;
  private run: (PublishRun & { done: () => void }) | undefined;
  private draining = false;

  private constructor(
    private readonly socket: Socket,
    queue: string,
    body: Buffer,
  ) {
    const one = persistentPublish(queue, body);
    this.messageSize = one.length;
    this.batch = Buffer.concat(Array.from({ length: MAX_BATCH }, () => one));
    this.reader = new FrameReader({ onFrame: (type, channel, payload) => this.onFrame(type, channel, payload) }, Infinity);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.fail(err as Error);
      }
      this.pump();
    });
    socket.on('drain', () => {
      this.draining = false;
      this.pump();
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed by the broker')));
  }

  /** Opens a connection and a confirm channel that publishes `body` to `queue` through the default exchange. */
  static async open(url: URL, queue: string, body: Buffer, timeoutMs: number): Promise<RawConfirmPublisher> {
    const socket = connect({ host: url.hostname, port: Number(url.port || 5672) });
    const p = new RawConfirmPublisher(socket, queue, body);
    const user = decodeURIComponent(url.username || 'guest');
    const pass = decodeURIComponent(url.password || 'guest');
    const vhost = url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : '/';
    await withTimeout(
      (async () => {
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('error', reject);
        });
        socket.write(PROTOCOL_HEADER);
        await p.expect(MethodId.ConnectionStart);
        p.send({
          id: MethodId.ConnectionStartOk,
          clientProperties: { product: 'durability bench', capabilities: { publisher_confirms: true, 'connection.blocked': true } },
          mechanism: 'PLAIN',
          response: Buffer.from(`\0${user}\0${pass}`),
          locale: 'en_US',
        });
        const tune = await p.expect(MethodId.ConnectionTune);
        const frameMax = tune.frameMax === 0 ? FRAME_MAX : Math.min(tune.frameMax, FRAME_MAX);
        if (body.length > frameMax - 8) throw new Error('this publisher sends each body in one frame: body too large');
        p.send({ id: MethodId.ConnectionTuneOk, channelMax: tune.channelMax, frameMax, heartbeat: 0 });
        p.send({ id: MethodId.ConnectionOpen, virtualHost: vhost });
        await p.expect(MethodId.ConnectionOpenOk);
        p.send({ id: MethodId.ChannelOpen }, CHANNEL);
        await p.expect(MethodId.ChannelOpenOk);
        p.send({ id: MethodId.ConfirmSelect, nowait: false }, CHANNEL);
        await p.expect(MethodId.ConfirmSelectOk);
      })(),
      timeoutMs,
      `AMQP handshake with ${url.host}`,
    ).catch((err: unknown) => {
      socket.destroy();
      throw err;
    });
    return p;
  }

  /**
   * Publishes until run.count or run.stopAt, keeping at most run.window
   * unconfirmed; resolves once every publish is settled (rejects after
   * timeoutMs, or on any connection or channel error).
   */
  publish(run: PublishRun, timeoutMs: number): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const size = 2 ** Math.ceil(Math.log2(run.window * 2));
    this.settled = new Uint8Array(size);
    this.mask = size - 1;
    const base = this.published;
    const done = new Promise<void>((resolve, reject) => {
      this.onFailure = reject;
      this.run = { ...run, count: base + run.count, done: resolve };
    });
    this.pump();
    return withTimeout(done, timeoutMs, `confirms (${this.confirmed + this.nacked} of ${this.published} settled)`).finally(() => {
      this.run = undefined;
      this.onFailure = undefined;
    });
  }

  /** Closes the connection politely (at most timeoutMs), then the socket. */
  async close(timeoutMs: number): Promise<void> {
    if (this.failure === undefined) {
      this.send({ id: MethodId.ConnectionClose, replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 });
      await withTimeout(this.expect(MethodId.ConnectionCloseOk), timeoutMs, 'connection.close-ok').catch(() => {});
    }
    this.failure ??= new Error('closed');
    this.socket.destroy();
  }

  private pump(): void {
    const run = this.run;
    if (run === undefined || this.draining || this.failure !== undefined) return;
    const unsettledSpan = this.published - (this.lowest - 1);
    if (this.published >= run.count || performance.now() >= run.stopAt) {
      if (unsettledSpan === 0) run.done();
      return;
    }
    const room = Math.min(run.window - unsettledSpan, run.count - this.published);
    // Wait for room for a reasonable batch rather than writing one message per ack.
    if (room < Math.min(MAX_BATCH, run.window / 4, run.count - this.published)) return;
    let left = room;
    while (left > 0 && !this.draining) {
      const n = Math.min(left, MAX_BATCH);
      this.published += n;
      left -= n;
      if (!this.socket.write(this.batch.subarray(0, n * this.messageSize))) this.draining = true;
    }
  }

  private onFrame(type: number, channel: number, payload: Buffer): void {
    if (type !== FrameConstant.FRAME_METHOD) return;
    const m = decodeMethod(this.decoder.reset(payload));
    if (m === undefined) throw new Error(`undecodable method on channel ${channel}`);
    switch (m.id) {
      case MethodId.BasicAck:
        this.settle(m.deliveryTag, m.multiple, false);
        return;
      case MethodId.BasicNack:
        this.settle(m.deliveryTag, m.multiple, true);
        return;
      case MethodId.ConnectionBlocked:
        this.blocked = true;
        return;
      case MethodId.ConnectionUnblocked:
        this.blocked = false;
        return;
      case MethodId.ChannelClose:
      case MethodId.ConnectionClose:
        if (this.expecting?.id === MethodId.ConnectionCloseOk) return;
        this.fail(new Error(`${methodName(m.id)} ${m.replyCode} ${m.replyText}`));
        return;
    }
    const waiting = this.expecting;
    if (waiting === undefined || waiting.id !== m.id) {
      this.fail(new Error(`unexpected ${methodName(m.id)}`));
      return;
    }
    this.expecting = undefined;
    waiting.resolve(m);
  }

  private settle(tag: number, multiple: boolean, nack: boolean): void {
    const from = multiple ? this.lowest : tag;
    for (let t = from; t <= tag; t++) {
      if (t < this.lowest || this.settled[t & this.mask] === 1) continue;
      this.settled[t & this.mask] = 1;
      if (nack) this.nacked++;
      else this.confirmed++;
    }
    while (this.settled[this.lowest & this.mask] === 1) {
      this.settled[this.lowest & this.mask] = 0;
      this.lowest++;
    }
  }

  private send(m: Method, channel = 0): void {
    this.socket.write(methodFrame(channel, m));
  }

  private expect<I extends Method['id']>(id: I): Promise<Extract<Method, { id: I }>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.expecting = { id, resolve: resolve as (m: Method) => void };
      this.onFailure = reject;
    });
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.socket.destroy();
    this.onFailure?.(err);
  }
}

export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
