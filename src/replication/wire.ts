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

/** Cuts a byte stream into frames, holding a partial one until the rest arrives. */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingLength = 0;

  /** The frames `chunk` completes, in order; throws LinkProtocolError on a frame no peer of ours sends. */
  push(chunk: Buffer): ReceivedFrame[] {
    let bytes = chunk;
    if (this.pendingLength > 0) {
      this.pending.push(chunk);
      bytes = Buffer.concat(this.pending, this.pendingLength + chunk.length);
      this.pending = [];
      this.pendingLength = 0;
    }
    const frames: ReceivedFrame[] = [];
    let at = 0;
    while (bytes.length - at >= 4) {
      const length = bytes.readUInt32BE(at);
      if (length < 1 || length > MAX_FRAME) throw new LinkProtocolError(`frame length ${length} out of range`);
      if (bytes.length - at - 4 < length) break;
      frames.push({ type: bytes[at + 4]!, payload: bytes.subarray(at + 5, at + 4 + length) });
      at += 4 + length;
    }
    if (at < bytes.length) {
      // A copy: the frames handed out keep views into `bytes`, the rest must not pin more than itself.
      const rest = Buffer.from(bytes.subarray(at));
      this.pending.push(rest);
      this.pendingLength = rest.length;
    }
    return frames;
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
