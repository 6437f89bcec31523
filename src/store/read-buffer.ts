import type { StoreFile } from './store-fs.js';

type Readable = Pick<StoreFile, 'size' | 'readSync'>;

/** Fills `target` from `position` on, or as much of it as the file has; returns the bytes read. */
export function readFully(file: Pick<StoreFile, 'readSync'>, target: Buffer, position: number): number {
  let read = 0;
  while (read < target.length) {
    const n = file.readSync(target.subarray(read), position + read);
    if (n === 0) break;
    read += n;
  }
  return read;
}

/** A read buffer reused from file to file, grown when a file is larger. */
export class ReadBuffer {
  private buf = Buffer.alloc(0);

  /** The whole file; valid until the next call. */
  readAll(file: Readable): Buffer {
    const target = this.sized(file.size());
    return target.subarray(0, readFully(file, target, 0));
  }

  /** `size` bytes of the buffer, grown first if it is smaller; valid until the next call. */
  sized(size: number): Buffer {
    if (this.buf.length < size) this.buf = Buffer.allocUnsafe(size);
    return this.buf.subarray(0, size);
  }
}
