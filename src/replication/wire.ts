import { Decoder } from '../protocol/decoder.js';
import type { Encoder } from '../protocol/encoder.js';

/**
 * Frames of the replication link (spec/replication.md): u32 length of what
 * follows, u8 type, payload. Integers are big-endian, as everywhere else.
 */
export const FrameType = {
  // The handshake: each side proves it knows the cluster secret.
  Challenge: 1,
  Response: 2,
  Proof: 3,
  /** Either side refuses the other, with the reason (longstr), then closes. */
  Refused: 4,
  /** Standby → primary: u32 the newest epoch the standby holds. */
  Hello: 10,
  /** Primary → standby: u32 epoch, then the definitions at the cut (snapshot payload). */
  Session: 11,
  /** u64 key, u16 n + u32 × n queues that delivered it unacked, then the record (an enqueue naming the queues that hold it). */
  SnapshotRecord: 12,
  /** u64 records sent, u64 bytes sent: every record live at the cut has been sent. */
  SnapshotEnd: 13,
  /** u64 key (where the primary stored it), then the message record as the primary wrote it. */
  Record: 14,
  /** A definition record as the primary wrote it. */
  Definition: 15,
  /** u8 ack type, u32 queue id, u64 key of the record. */
  Ack: 16,
  /** u64 key before, u64 key after: compaction moved the record. */
  Moved: 17,
  /** u64 commit number, u64 sequence number of the newest record it covers. */
  Commit: 18,
  /** Standby → primary: u64 commit number, everything up to which is durable on the standby. */
  Durable: 19,
  /** Either way, when nothing else was sent for a second. */
  Heartbeat: 20,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Bigger than any record the journal writes (a message is at most 128 MiB by default). */
export const MAX_FRAME = 1 << 30;
/** Enough for every frame of the handshake. */
const MAX_HANDSHAKE_FRAME = 4096;

/** A peer broke the link's rules: the link is dropped with this reason, nothing stored. */
export class LinkProtocolError extends Error {
  override readonly name = 'LinkProtocolError';
}

/** Encodes a frame of `type` whose payload `write` puts after its header. */
export function encodeFrame(e: Encoder, type: FrameType, write?: (e: Encoder) => void): void {
  // Relative to the untaken bytes: a write that outgrows the chunk moves them.
  const start = e.pos - e.start;
  e.u32(0);
  e.u8(type);
  write?.(e);
  const at = e.start + start;
  e.buf.writeUInt32BE(e.pos - at - 4, at);
}

/** One frame as received: a decoder over its payload. */
export interface ReceivedFrame {
  readonly type: number;
  readonly payload: Buffer;
}

/**
 * Cuts a byte stream into frames. Frames wholly inside a chunk are views
 * into it; only a frame split across chunks is copied, into a buffer of its
 * own size, so a stream of large chunks is not copied again as it arrives.
 */
export class FrameReader {
  /** The largest frame taken: small until the peer has proved the secret, so a stranger cannot make us buffer much. */
  maxLength = MAX_HANDSHAKE_FRAME;
  /** The frame being completed: its length field so far (4 bytes), then the whole frame once the length is known. */
  private partial: Buffer | undefined;
  private filled = 0;

  /** The frames `chunk` completes, in order; throws LinkProtocolError on a frame no peer of ours sends. */
  push(chunk: Buffer): ReceivedFrame[] {
    const frames: ReceivedFrame[] = [];
    let at = this.partial === undefined ? 0 : this.complete(chunk, frames);
    while (at < chunk.length) {
      if (chunk.length - at < 4) {
        this.start(chunk.subarray(at), 4);
        break;
      }
      const size = 4 + this.frameLength(chunk, at);
      if (chunk.length - at < size) {
        this.start(chunk.subarray(at), size);
        break;
      }
      frames.push({ type: chunk[at + 4]!, payload: chunk.subarray(at + 5, at + size) });
      at += size;
    }
    return frames;
  }

  /** Keeps the start of a frame, in a buffer of `size` bytes. */
  private start(bytes: Buffer, size: number): void {
    this.partial = Buffer.allocUnsafe(size);
    bytes.copy(this.partial);
    this.filled = bytes.length;
  }

  /** Fills the pending frame from the front of `chunk`; returns how many bytes of it that took. */
  private complete(chunk: Buffer, frames: ReceivedFrame[]): number {
    let partial = this.partial!;
    let used = 0;
    if (partial.length === 4) {
      used = Math.min(4 - this.filled, chunk.length);
      chunk.copy(partial, this.filled, 0, used);
      this.filled += used;
      if (this.filled < 4) return used;
      const whole = Buffer.allocUnsafe(4 + this.frameLength(partial, 0));
      partial.copy(whole);
      this.partial = partial = whole;
    }
    const take = Math.min(partial.length - this.filled, chunk.length - used);
    chunk.copy(partial, this.filled, used, used + take);
    this.filled += take;
    used += take;
    if (this.filled === partial.length) {
      frames.push({ type: partial[4]!, payload: partial.subarray(5) });
      this.partial = undefined;
    }
    return used;
  }

  private frameLength(bytes: Buffer, at: number): number {
    const length = bytes.readUInt32BE(at);
    if (length < 1 || length > this.maxLength) throw new LinkProtocolError(`frame length ${length} out of range (at most ${this.maxLength})`);
    return length;
  }
}


/** Runs `read` over a frame's payload, turning a short or malformed payload into a LinkProtocolError. */
export function decodeFrame<T>(frame: ReceivedFrame, what: string, read: (d: Decoder) => T): T {
  try {
    return read(new Decoder(frame.payload));
  } catch (err) {
    if (err instanceof LinkProtocolError) throw err;
    throw new LinkProtocolError(`malformed ${what} frame: ${(err as Error).message}`);
  }
}
