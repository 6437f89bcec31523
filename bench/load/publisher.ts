/**
 * A publisher on its own connection and channel: the messages are encoded
 * once into a batch of back-to-back publishes, and the hot path writes
 * slices of that batch. Optional publisher confirms (basic.ack / basic.nack
 * read straight off the frame bytes) with a bound on those in flight, an
 * optional fixed rate, and an optional send timestamp in each body.
 */
import { FrameConstant } from '../../src/protocol/generated/amqp-constants.js';
import { MethodId } from '../../src/protocol/generated/amqp-methods.js';
import { bodyOffset, type PublishSpec, publishFrames } from '../amqp/frames.js';
import { RawConnection } from '../amqp/raw-connection.js';
import { withTimeout } from '../with-timeout.js';

const CHANNEL = 1;
/** Bytes per socket write to aim for: large enough to amortise the write, small enough to keep the broker's reads flowing. */
const BATCH_BYTES = 32 * 1024;
const MAX_BATCH = 256;
/** With a fixed rate, how often the publisher looks at the clock. */
const RATE_TICK_MS = 1;

export interface PublisherOptions {
  /** Published in turn, over and over; each must encode to the same number of bytes. */
  readonly messages: readonly PublishSpec[];
  /** Put the channel in confirm mode. */
  readonly confirms: boolean;
  /** Write performance.now() (float64 LE, ms) into each body's first 8 bytes as it is sent. */
  readonly timestamps: boolean;
  readonly timeoutMs: number;
}

export interface PublishRun {
  /** Stop after this many publishes... */
  readonly count: number;
  /** ...or at this performance.now() time, whichever comes first. */
  readonly stopAt: number;
  /** With confirms: most publishes awaiting their confirm at any time. */
  readonly window?: number;
  /** Messages per second, evenly paced; as fast as allowed when absent. */
  readonly rate?: number;
  /** How many more may go now (a bound on how far publishers run ahead of consumers). */
  readonly room?: () => number;
}

export class LoadPublisher {
  /** Publishes written to the socket. */
  published = 0;
  /** Publishes settled by basic.ack. */
  confirmed = 0;
  nacked = 0;

  private readonly batch: Buffer;
  private readonly batchSize: number;
  private readonly messageSize: number;
  private readonly timestampAt: number;
  /** settled[tag & mask] marks a tag confirmed or nacked ahead of `lowest`. */
  private settled = new Uint8Array(0);
  private mask = 0;
  /** Lowest delivery tag not yet settled. */
  private lowest = 1;
  private run: (PublishRun & { startedAt: number; base: number; done: () => void }) | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private onFailure: ((err: Error) => void) | undefined;

  private constructor(
    readonly conn: RawConnection,
    private readonly options: PublisherOptions,
  ) {
    const one = options.messages.map((m) => publishFrames(CHANNEL, m, conn.frameMax));
    this.messageSize = one[0]!.length;
    if (one.some((b) => b.length !== this.messageSize)) throw new Error('every message of a publisher must encode to the same size (pad routing keys)');
    this.timestampAt = bodyOffset(one[0]!);
    if (options.timestamps && one[0]!.length - this.timestampAt < 9) throw new Error('timestamps need bodies of at least 8 bytes');
    // A whole number of rounds through the messages, so every batch cycles them evenly.
    const rounds = Math.max(1, Math.floor(Math.min(MAX_BATCH, BATCH_BYTES / this.messageSize) / one.length));
    this.batchSize = rounds * one.length;
    this.batch = Buffer.concat(Array.from({ length: rounds }, () => one).flat());
    conn.handler = {
      frame: (type, _channel, payload) => this.onFrame(type, payload),
      chunkEnd: () => this.pump(),
      drain: () => this.pump(),
    };
    conn.onFailure((err) => {
      this.stopTicker();
      this.onFailure?.(err);
    });
  }

  static async open(url: URL, options: PublisherOptions): Promise<LoadPublisher> {
    const conn = await RawConnection.open(url, { timeoutMs: options.timeoutMs, product: 'bench publisher' });
    try {
      await withTimeout(
        (async () => {
          await conn.openChannel(CHANNEL);
          if (options.confirms) await conn.call(CHANNEL, { id: MethodId.ConfirmSelect, nowait: false }, MethodId.ConfirmSelectOk);
        })(),
        options.timeoutMs,
        'publisher channel',
      );
    } catch (err) {
      await conn.close(0);
      throw err;
    }
    return new LoadPublisher(conn, options);
  }

  get blocked(): boolean {
    return this.conn.blocked;
  }

  /** Publishes still awaiting their confirm. */
  get unsettled(): number {
    return this.options.confirms ? this.published - (this.lowest - 1) : 0;
  }

  /**
   * Publishes until run.count or run.stopAt; resolves once every publish is
   * settled (at once without confirms). Rejects after timeoutMs, or on any
   * connection or channel error.
   */
  publish(run: PublishRun, timeoutMs: number): Promise<void> {
    if (this.conn.failure !== undefined) return Promise.reject(this.conn.failure);
    if (this.options.confirms) {
      if (run.window === undefined) return Promise.reject(new Error('a confirm publisher needs a window'));
      const size = 2 ** Math.ceil(Math.log2(run.window * 2));
      this.settled = new Uint8Array(size);
      this.mask = size - 1;
    }
    const done = new Promise<void>((resolve, reject) => {
      this.onFailure = reject;
      this.run = { ...run, startedAt: performance.now(), base: this.published, done: resolve };
    });
    // The clock moves on without any event from the socket: a fixed rate, and the time bound.
    this.ticker = setInterval(() => this.pump(), run.rate === undefined ? 50 : RATE_TICK_MS);
    this.pump();
    return withTimeout(done, timeoutMs, `publishes (${this.published} written, ${this.confirmed + this.nacked} settled)`).finally(() => {
      this.stopTicker();
      this.run = undefined;
      this.onFailure = undefined;
    });
  }

  close(timeoutMs: number): Promise<void> {
    this.stopTicker();
    return this.conn.close(timeoutMs);
  }

  /** Writes as many publishes as the run allows now. */
  pump(): void {
    const run = this.run;
    if (run === undefined || this.conn.draining || this.conn.failure !== undefined) return;
    const now = performance.now();
    const sent = this.published - run.base;
    if (sent >= run.count || now >= run.stopAt) {
      if (this.unsettled === 0) run.done();
      return;
    }
    let room = run.count - sent;
    if (run.window !== undefined) room = Math.min(room, run.window - this.unsettled);
    if (run.rate !== undefined) room = Math.min(room, Math.floor((run.rate * (now - run.startedAt)) / 1000) - sent);
    if (run.room !== undefined) room = Math.min(room, Math.floor(run.room()));
    // Unpaced, wait for room for a reasonable batch rather than writing one message per ack.
    const minimum = run.rate !== undefined ? 1 : Math.min(this.batchSize, Math.max(1, Math.floor((run.window ?? Infinity) / 4)), run.count - sent);
    if (room < minimum) return;
    while (room > 0 && !this.conn.draining) {
      const n = Math.min(room, this.batchSize);
      this.published += n;
      room -= n;
      this.conn.write(this.slice(n));
    }
  }

  /** The first n publishes of the batch, stamped with the time when timestamps are on. */
  private slice(n: number): Buffer {
    const bytes = this.batch.subarray(0, n * this.messageSize);
    if (!this.options.timestamps) return bytes;
    // socket.write may keep the buffer until it is sent: stamp a copy.
    const out = Buffer.from(bytes);
    const now = performance.now();
    for (let i = 0; i < n; i++) out.writeDoubleLE(now, i * this.messageSize + this.timestampAt);
    return out;
  }

  private onFrame(type: number, payload: Buffer): boolean {
    if (type !== FrameConstant.FRAME_METHOD) return false;
    const id = payload.readUInt32BE(0);
    if (id !== MethodId.BasicAck && id !== MethodId.BasicNack) return false;
    const tag = payload.readUInt32BE(4) * 0x1_0000_0000 + payload.readUInt32BE(8);
    this.settle(tag, (payload[12]! & 1) === 1, id === MethodId.BasicNack);
    return true;
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

  private stopTicker(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
  }
}
