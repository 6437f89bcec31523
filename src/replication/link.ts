import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Encoder } from '../protocol/encoder.js';
import { encodeFrame, FrameReader, FrameType, LinkProtocolError, MAX_FRAME, type ReceivedFrame } from './wire.js';

/** Sent when nothing else was for this long, so the peer can tell a quiet link from a dead one. */
const HEARTBEAT_MS = 1000;
const CHECK_MS = 250;

/**
 * One end of a replication link: frames in and out over a socket, a
 * heartbeat each way, and the link dropped (with one log line) when the peer
 * has been silent for `timeoutMs`, breaks the protocol, or goes away. Time
 * is the monotonic clock, so a changed wall clock drops nothing.
 */
export class Link {
  private readonly reader = new FrameReader();
  /** Reading was paused on purpose (the peer's frames wait in the socket): silence then proves nothing. */
  private readingPaused = false;
  private handler: (frame: ReceivedFrame) => void;
  /** Frames that came after an expected one, before a handler for them was set. */
  private queued: ReceivedFrame[] = [];
  private lastHeard = performance.now();
  private lastSent = performance.now();
  private readonly timer: NodeJS.Timeout;
  private ended = false;
  private readonly heartbeat = Buffer.from([0, 0, 0, 1, FrameType.Heartbeat]);
  /** For the frames sent one at a time: a taken slice is never written over, so one encoder serves them all. */
  private readonly encoder = new Encoder();
  /** Why the link ended, once it has. */
  endReason: string | undefined;

  constructor(
    readonly socket: Socket,
    private readonly log: Logger,
    private readonly timeoutMs: number,
    /** Told once, when the link ends. */
    public onEnd: (reason: string) => void,
  ) {
    this.handler = (frame) => this.unexpected(frame);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('error', (err) => this.end(`socket error: ${err.message}`));
    socket.on('close', () => this.end('the peer closed the link'));
    this.timer = setInterval(() => this.check(), CHECK_MS).unref();
  }

  get peer(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  get isOpen(): boolean {
    return !this.ended;
  }

  /** Bytes handed to the socket and not yet sent: how far behind the peer is reading. */
  get unsentBytes(): number {
    return this.socket.writableLength;
  }

  /** The peer proved the cluster secret: frames of any size a journal record needs are taken from now on. */
  authenticated(): void {
    this.reader.maxLength = MAX_FRAME;
  }

  /** Stops reading from the peer for a while (the caller is busy, or its disk behind). */
  pauseReading(): void {
    this.readingPaused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.readingPaused || this.ended) return;
    this.readingPaused = false;
    this.lastHeard = performance.now();
    this.socket.resume();
  }

  /** Frames go to `handler` from now on (heartbeats never do), starting with any that came since the last expected one. */
  onFrame(handler: (frame: ReceivedFrame) => void): void {
    this.handler = handler;
    const queued = this.queued.splice(0);
    for (const frame of queued) if (!this.dispatch(frame)) return;
  }

  /** The next frame, which must be of `type` and come within `timeoutMs`; a Refused frame rejects with its reason. */
  expect(type: FrameType, timeoutMs: number): Promise<ReceivedFrame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new LinkProtocolError(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const take = (frame: ReceivedFrame): void => {
        clearTimeout(timer);
        // What follows in the same chunk waits for the next expect() or onFrame().
        this.handler = (f) => void this.queued.push(f);
        if (frame.type === FrameType.Refused) reject(new LinkProtocolError(`refused by the peer: ${frame.payload.toString()}`));
        else if (frame.type !== type) reject(new LinkProtocolError(`frame type ${frame.type} where ${type} was expected`));
        else resolve(frame);
      };
      const waiting = this.queued.shift();
      if (waiting !== undefined) take(waiting);
      else this.handler = take;
    });
  }

  /** Sends one or more whole frames. False when the socket's buffer is full (wait for 'drain'). */
  send(bytes: Buffer): boolean {
    if (this.ended) return false;
    this.lastSent = performance.now();
    return this.socket.write(bytes);
  }

  sendFrame(type: FrameType, write?: (e: Encoder) => void): boolean {
    encodeFrame(this.encoder, type, write);
    return this.send(this.encoder.take());
  }

  /** Resolves once the socket's buffer has room again, or the link ended. */
  drained(): Promise<void> {
    if (this.ended || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** Tells the peer why, then drops the link. */
  refuse(reason: string): void {
    this.sendFrame(FrameType.Refused, (e) => e.bytes(Buffer.from(reason)));
    this.socket.end();
    this.end(reason);
  }

  /** Drops the link, logging why once. */
  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.endReason = reason;
    clearInterval(this.timer);
    this.socket.destroySoon();
    this.onEnd(reason);
  }

  private received(chunk: Buffer): void {
    this.lastHeard = performance.now();
    let frames;
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.end((err as Error).message);
      return;
    }
    for (const frame of frames) if (!this.dispatch(frame)) return;
  }

  /** Hands a frame to the handler; false once the link has ended. */
  private dispatch(frame: ReceivedFrame): boolean {
    if (this.ended) return false;
    if (frame.type === FrameType.Heartbeat) return true;
    try {
      this.handler(frame);
      return true;
    } catch (err) {
      if (!(err instanceof LinkProtocolError)) this.log.error({ err }, 'replication frame could not be applied');
      this.end((err as Error).message);
      return false;
    }
  }

  private unexpected(frame: ReceivedFrame): void {
    if (frame.type === FrameType.Refused) throw new LinkProtocolError(`refused by the peer: ${frame.payload.toString()}`);
    throw new LinkProtocolError(`unexpected frame type ${frame.type}`);
  }

  private check(): void {
    const now = performance.now();
    if (this.readingPaused) this.lastHeard = now;
    if (now - this.lastHeard > this.timeoutMs) {
      this.end(`the peer was silent for ${Math.round(now - this.lastHeard)} ms (timeout ${this.timeoutMs} ms)`);
      return;
    }
    if (now - this.lastSent >= HEARTBEAT_MS) this.send(this.heartbeat);
  }
}
