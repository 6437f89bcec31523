import { readFully } from './read-buffer.js';
import type { Segment } from './segment.js';

/** Bytes read ahead when a queue reads a stored record back: the records after it usually follow. */
const READ_WINDOW_SIZE = 256 * 1024;

/**
 * Reads records back from segment files through a read-ahead window: queues
 * read back records in journal order, so one read serves a run of them, and
 * nothing is allocated per record (callers copy what they keep).
 */
export class ReadWindow {
  private segment: Segment | undefined;
  private start = 0;
  private length = 0;
  private bytes = Buffer.allocUnsafeSlow(READ_WINDOW_SIZE);

  /** The bytes holding the record at `offset` of the segment's .msgs file, and where in them it starts. */
  read(segment: Segment, offset: number): { bytes: Buffer; at: number } {
    const file = segment.msgs;
    if (file === undefined) throw new Error(`journal segment ${segment.number} has no file yet`);
    const at = offset - this.start;
    const inWindow = this.segment === segment && at >= 0 && at + 4 <= this.length && at + 4 + this.bytes.readUInt32BE(at) <= this.length;
    if (!inWindow) {
      const length = Buffer.allocUnsafe(4);
      readFully(file, length, offset);
      const size = 4 + length.readUInt32BE(0);
      if (this.bytes.length < size) this.bytes = Buffer.allocUnsafeSlow(size);
      this.segment = segment;
      this.start = offset;
      // Only bytes whose writes completed: a record never changes after that, so the window stays valid.
      this.length = readFully(file, this.bytes.subarray(0, Math.max(size, Math.min(this.bytes.length, segment.writtenSize - offset))), offset);
    }
    return { bytes: this.bytes.subarray(0, this.length), at: offset - this.start };
  }
}
