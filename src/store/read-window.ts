import { readFully } from './read-buffer.js';
import type { StoreFile } from './store-fs.js';

/** A file records are read back from, each a u32 length and that many bytes. */
export type WindowedFile = Pick<StoreFile, 'readSync'>;

/** Bytes read ahead when a queue reads a stored record back: the records after it usually follow. */
const READ_WINDOW_SIZE = 256 * 1024;

/**
 * Reads records back from segment files through a read-ahead window: queues
 * read back records in the order they were written, so one read serves a run
 * of them, and nothing is allocated per record (callers copy what they keep).
 * A file is known by `key`; a written record never changes, so the window
 * stays valid until its owner says otherwise (forget).
 */
export class ReadWindow {
  private key: unknown;
  private start = 0;
  private length = 0;
  private bytes = Buffer.allocUnsafeSlow(READ_WINDOW_SIZE);

  /**
   * The bytes holding the record at `offset` of the file, and where in them
   * it starts; `writtenSize`: the bytes whose writes have completed, what a
   * read may look at. Nothing is allocated per call but the answer.
   */
  read(key: unknown, file: WindowedFile, writtenSize: number, offset: number): { bytes: Buffer; at: number } {
    const at = offset - this.start;
    const inWindow = this.key === key && at >= 0 && at + 4 <= this.length && at + 4 + this.bytes.readUInt32BE(at) <= this.length;
    if (!inWindow) {
      const length = Buffer.allocUnsafe(4);
      readFully(file, length, offset);
      const size = 4 + length.readUInt32BE(0);
      if (this.bytes.length < size) this.bytes = Buffer.allocUnsafeSlow(size);
      this.key = key;
      this.start = offset;
      // Only bytes whose writes completed: a record never changes after that, so the window stays valid.
      this.length = readFully(file, this.bytes.subarray(0, Math.max(size, Math.min(this.bytes.length, writtenSize - offset))), offset);
    }
    return { bytes: this.bytes.subarray(0, this.length), at: offset - this.start };
  }

  /** The file known by `key` is being written over: nothing read from it before may be served again. */
  forget(key: unknown): void {
    if (this.key === key) this.key = undefined;
  }
}
