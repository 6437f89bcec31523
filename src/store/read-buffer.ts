/** A read buffer reused from file to file, grown when a file is larger. */
export class ReadBuffer {
  private buf = Buffer.alloc(0);

  /** The whole file; valid until the next call. */
  readAll(file: { size(): number; readSync(target: Buffer, position: number): number }): Buffer {
    const size = file.size();
    if (this.buf.length < size) this.buf = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const n = file.readSync(this.buf.subarray(read, size), read);
      if (n === 0) break;
      read += n;
    }
    return this.buf.subarray(0, read);
  }
}
