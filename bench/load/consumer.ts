/**
 * A consumer on its own connection, one channel per queue: deliveries are
 * counted straight off the frame bytes (no method objects), acks are
 * written from a template, all of a socket read's acks in one write.
 */
import { FrameConstant } from '../../src/protocol/generated/amqp-constants.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { RawConnection } from '../amqp/raw-connection.js';
import { withTimeout } from '../with-timeout.js';
import { LatencyRecorder } from './latency-recorder.js';

const TWO_32 = 0x1_0000_0000;
/** basic.ack frame: header (7), class+method (4), delivery tag (8), multiple (1), end (1). */
const ACK_FRAME_SIZE = 21;
const ACK_BUFFER_FRAMES = 2048;

export interface ConsumerOptions {
  readonly queues: readonly string[];
  /** basic.consume no-ack: the broker forgets each message as it sends it. */
  readonly noAck: boolean;
  /** basic.qos prefetch-count per channel (0: unlimited). */
  readonly prefetch: number;
  /** Manual ack: 1 acks every message on its own; n > 1 acks with multiple=true every n messages. */
  readonly ackEvery: number;
  /** Expect to read a send timestamp (float64 LE, performance.now() ms) from each body's first 8 bytes. */
  readonly latency: LatencyRecorder | undefined;
  readonly timeoutMs: number;
}

/** Where one channel is in the message it is receiving. */
interface ChannelState {
  deliveryTag: number;
  bodyLeft: number;
  bodyStarted: boolean;
  unacked: number;
}

export class LoadConsumer {
  /** Messages received whole. */
  consumed = 0;
  /** Called after each socket read that completed messages. */
  onProgress: (() => void) | undefined;

  private readonly channels: ChannelState[] = [];
  private readonly acks = Buffer.allocUnsafe(ACK_FRAME_SIZE * ACK_BUFFER_FRAMES);
  private ackBytes = 0;
  private consumedAtLastRead = 0;

  private constructor(
    readonly conn: RawConnection,
    private readonly options: ConsumerOptions,
  ) {
    if (!options.noAck && options.prefetch > 0 && options.ackEvery > options.prefetch) throw new Error('ackEvery above the prefetch would stall');
    conn.handler = {
      frame: (type, channel, payload) => this.onFrame(type, channel, payload),
      chunkEnd: () => this.onChunkEnd(),
    };
  }

  /** Connects, opens a channel per queue (1, 2, …) and starts consuming on each. */
  static async open(url: URL, options: ConsumerOptions): Promise<LoadConsumer> {
    const conn = await RawConnection.open(url, { timeoutMs: options.timeoutMs, product: 'bench consumer' });
    const c = new LoadConsumer(conn, options);
    try {
      await withTimeout(
        Promise.all(
          options.queues.map(async (queue, i) => {
            const channel = i + 1;
            c.channels[channel] = { deliveryTag: 0, bodyLeft: 0, bodyStarted: false, unacked: 0 };
            await conn.openChannel(channel);
            if (options.prefetch > 0) {
              await conn.call(channel, { id: MethodId.BasicQos, prefetchSize: 0, prefetchCount: options.prefetch, global: false }, MethodId.BasicQosOk);
            }
            await conn.call(
              channel,
              { id: MethodId.BasicConsume, queue, consumerTag: `bench-${channel}`, noLocal: false, noAck: options.noAck, exclusive: false, noWait: false, arguments: {} },
              MethodId.BasicConsumeOk,
            );
          }),
        ),
        options.timeoutMs,
        'basic.consume',
      );
    } catch (err) {
      await conn.close(0);
      throw err;
    }
    return c;
  }

  close(timeoutMs: number): Promise<void> {
    return this.conn.close(timeoutMs);
  }

  private onFrame(type: number, channel: number, payload: Buffer): boolean {
    const st = this.channels[channel];
    if (st === undefined) return false;
    switch (type) {
      case FrameConstant.FRAME_METHOD: {
        if (payload.readUInt32BE(0) !== MethodId.BasicDeliver) return false;
        // consumer-tag shortstr, then the delivery tag.
        const at = 5 + payload[4]!;
        st.deliveryTag = payload.readUInt32BE(at) * TWO_32 + payload.readUInt32BE(at + 4);
        return true;
      }
      case FrameConstant.FRAME_HEADER:
        // class (2), weight (2), body size (8).
        st.bodyLeft = payload.readUInt32BE(4) * TWO_32 + payload.readUInt32BE(8);
        st.bodyStarted = false;
        if (st.bodyLeft === 0) this.complete(channel, st);
        return true;
      case FrameConstant.FRAME_BODY:
        if (!st.bodyStarted) {
          st.bodyStarted = true;
          this.options.latency?.sent(payload.readDoubleLE(0));
        }
        st.bodyLeft -= payload.length;
        if (st.bodyLeft <= 0) this.complete(channel, st);
        return true;
    }
    return false;
  }

  private complete(channel: number, st: ChannelState): void {
    this.consumed++;
    if (this.options.noAck) return;
    const every = this.options.ackEvery;
    if (every <= 1) return this.ack(channel, st.deliveryTag, false);
    if (++st.unacked < every) return;
    st.unacked = 0;
    this.ack(channel, st.deliveryTag, true);
  }

  private ack(channel: number, tag: number, multiple: boolean): void {
    if (this.ackBytes === this.acks.length) this.flushAcks();
    const b = this.acks;
    let p = this.ackBytes;
    b[p] = FrameConstant.FRAME_METHOD;
    b.writeUInt16BE(channel, p + 1);
    b.writeUInt32BE(ACK_FRAME_SIZE - 8, p + 3);
    b.writeUInt32BE(MethodId.BasicAck, p + 7);
    const hi = Math.floor(tag / TWO_32);
    b.writeUInt32BE(hi, p + 11);
    b.writeUInt32BE(tag - hi * TWO_32, p + 15);
    b[p + 19] = multiple ? 1 : 0;
    b[p + 20] = FrameConstant.FRAME_END;
    p += ACK_FRAME_SIZE;
    this.ackBytes = p;
  }

  private flushAcks(): void {
    if (this.ackBytes === 0) return;
    // A copy: socket.write may hold on to the buffer until it is sent.
    this.conn.write(Buffer.from(this.acks.subarray(0, this.ackBytes)));
    this.ackBytes = 0;
  }

  private onChunkEnd(): void {
    this.flushAcks();
    if (this.consumed === this.consumedAtLastRead) return;
    this.consumedAtLastRead = this.consumed;
    this.onProgress?.();
  }
}
