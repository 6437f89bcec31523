import { closeSync, ftruncateSync, mkdirSync, openSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Message } from '../queue/message.js';
import { ReadWindow, type WindowedFile } from '../store/read-window.js';
import type { StoredLocation } from '../store/stored-location.js';
import type { MemoryPressure } from '../alarm/memory-alarm.js';
import type { Pager } from '../queue/ready-list.js';

/** A segment is closed, and a new one begun, once it holds this much: the unit in which disk space comes back. */
const SEGMENT_BYTES = 16 * 1024 * 1024;
/** Records are gathered here and written with one call when it fills or the event loop turns. */
const BUFFER_BYTES = 1024 * 1024;
/** After a failed write (a full disk), how long until the buffered records are tried again. */
const RETRY_MS = 1000;
/**
 * Record header: u32 length of the rest, u32 content length, u32 property
 * bytes, u16 exchange length, u16 routing key length (a name read as UTF-8
 * from invalid bytes can grow past 255 when written again).
 */
const HEADER_BYTES = 16;

/**
 * Messages paged out of memory, in append-only segment files under the
 * data directory. Nothing here is synced or survives the process: these
 * messages were never promised to outlive it, and the directory is emptied
 * at every start. Each segment counts the records queues still want, and is
 * deleted (or, when it is the one being written, rewound) once none is.
 */
export class PageFile implements Pager {
  private segment = 0;
  private fd: number | undefined;
  /** Where in the current segment the buffered records start. */
  private flushedTo = 0;
  private readonly buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private buffered = 0;
  /** Records each segment still holds for some queue. */
  private readonly wanted = new Map<number, number>();
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The error of the last write, while the buffered records could not be written. */
  private failure: Error | undefined;
  /** Reads back through a read-ahead window: queues read their messages in about the order they were written. */
  private readonly window = new ReadWindow();
  /** An older segment open for reading: reads go through one segment after another. */
  private reading: { segment: number; file: FdReader } | undefined;
  /** The segment being written, as the read window reads it. */
  private writingFile: FdReader | undefined;

  constructor(
    private readonly dir: string,
    private readonly pressure: MemoryPressure,
    private readonly log: Logger,
  ) {}

  get paging(): boolean {
    return this.pressure.paging;
  }

  /** Deletes what an earlier run paged out: none of it is owed to anyone now. */
  open(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  close(): void {
    clearTimeout(this.retryTimer);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.stopReading();
    rmSync(this.dir, { recursive: true, force: true });
  }

  write(message: Message): StoredLocation | undefined {
    const exchange = Buffer.from(message.exchange);
    const routingKey = Buffer.from(message.routingKey);
    const length = HEADER_BYTES + exchange.length + routingKey.length + message.end - message.start;
    const end = this.flushedTo + this.buffered;
    const rotate = this.fd === undefined || (end > 0 && end + length > SEGMENT_BYTES);
    if ((rotate || this.buffered + length > this.buffer.length) && !this.flush()) return undefined;
    if (rotate && !this.startSegment()) return undefined;
    const offset = this.flushedTo + this.buffered;
    // A record larger than the buffer is written on its own, at once.
    const direct = length > this.buffer.length;
    const record = direct ? Buffer.allocUnsafe(length) : this.buffer.subarray(this.buffered, this.buffered + length);
    encodeRecord(record, message, exchange, routingKey);
    if (direct) {
      if (!this.writeAt(record, offset)) return undefined;
      this.flushedTo += length;
    } else {
      this.buffered += length;
      this.scheduleFlush();
    }
    this.wanted.set(this.segment, (this.wanted.get(this.segment) ?? 0) + 1);
    return { segment: this.segment, offset };
  }

  read(location: StoredLocation): Message {
    const { segment, offset } = location;
    const record = segment === this.segment && offset >= this.flushedTo ? this.fromBuffer(offset - this.flushedTo) : this.fromFile(location);
    const contentLength = record.readUInt32BE(0);
    const propertyBytes = record.readUInt32BE(4);
    const exchangeLength = record.readUInt16BE(8);
    const routingKeyLength = record.readUInt16BE(10);
    let at = HEADER_BYTES - 4;
    const exchange = record.toString('utf8', at, (at += exchangeLength));
    const routingKey = record.toString('utf8', at, (at += routingKeyLength));
    return new Message(exchange, routingKey, record, at, at + propertyBytes, at + contentLength);
  }

  release(location: StoredLocation): void {
    const { segment } = location;
    const left = (this.wanted.get(segment) ?? 0) - 1;
    if (left > 0) {
      this.wanted.set(segment, left);
      return;
    }
    this.wanted.delete(segment);
    if (segment !== this.segment) {
      if (this.reading?.segment === segment) this.stopReading();
      unlinkSync(this.segmentPath(segment));
    } else if (this.failure === undefined) {
      this.window.forget(segment);
      // Nothing written here is wanted any more: write over it from the start, a file the page cache already holds,
      // giving the space back when there is much of it (a queue paging steadily would otherwise truncate at every turn).
      if (this.flushedTo > BUFFER_BYTES) ftruncateSync(this.fd!, 0);
      this.flushedTo = 0;
      this.buffered = 0;
    }
  }

  /** Record bytes after the length, copied out of the write buffer (it is reused once written). */
  private fromBuffer(at: number): Buffer {
    const length = this.buffer.readUInt32BE(at);
    return Buffer.from(this.buffer.subarray(at + 4, at + 4 + length));
  }

  private fromFile({ segment, offset }: StoredLocation): Buffer {
    const { bytes, at } =
      segment === this.segment
        ? this.window.read(segment, this.writingFile!, this.flushedTo, offset)
        : this.window.read(segment, this.olderSegment(segment), Infinity, offset);
    const length = bytes.readUInt32BE(at);
    if (at + 4 + length > bytes.length) throw new Error(`paged message in ${this.segmentPath(segment)} at ${offset} is cut short`);
    return Buffer.from(bytes.subarray(at + 4, at + 4 + length));
  }

  /** An older segment, complete, opened for reading unless it is the one read last. */
  private olderSegment(segment: number): FdReader {
    if (this.reading?.segment !== segment) {
      this.stopReading();
      this.reading = { segment, file: new FdReader(openSync(this.segmentPath(segment), 'r')) };
    }
    return this.reading.file;
  }

  private stopReading(): void {
    if (this.reading !== undefined) closeSync(this.reading.file.fd);
    this.reading = undefined;
  }

  /** Closes the segment being written and opens the next; false (the message stays in memory) when the file cannot be made. */
  private startSegment(): boolean {
    if (this.fd !== undefined) {
      const fd = this.fd;
      // Cleared first: a number closed here is soon another file's, which nothing here may touch again.
      this.fd = undefined;
      closeSync(fd);
      // Everything in the closed segment may already have been read back.
      if (!this.wanted.has(this.segment)) unlinkSync(this.segmentPath(this.segment));
      this.segment++;
    }
    try {
      mkdirSync(this.dir, { recursive: true });
      this.fd = openSync(this.segmentPath(this.segment), 'w+');
      this.writingFile = new FdReader(this.fd);
    } catch (err) {
      this.failed(err as Error);
      return false;
    }
    this.flushedTo = 0;
    this.recovered();
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.failure !== undefined) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Writes the buffered records; false (and a retry later) when the disk refuses them. */
  private flush(): boolean {
    if (this.buffered === 0) return true;
    if (!this.writeAt(this.buffer.subarray(0, this.buffered), this.flushedTo)) return false;
    this.flushedTo += this.buffered;
    this.buffered = 0;
    return true;
  }

  private writeAt(bytes: Buffer, position: number): boolean {
    try {
      for (let done = 0; done < bytes.length; ) done += writeSync(this.fd!, bytes, done, bytes.length - done, position + done);
    } catch (err) {
      this.failed(err as Error);
      return false;
    }
    this.recovered();
    return true;
  }

  private failed(err: Error): void {
    if (this.failure === undefined) this.log.warn({ err, dir: this.dir }, 'could not page messages out to disk; keeping them in memory and retrying');
    this.failure = err;
    this.retryLater();
  }

  private recovered(): void {
    if (this.failure !== undefined) this.log.warn({ dir: this.dir }, 'paging messages out to disk again');
    this.failure = undefined;
  }

  private retryLater(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flush();
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  private segmentPath(segment: number): string {
    return join(this.dir, `${segment}.page`);
  }
}

function encodeRecord(record: Buffer, message: Message, exchange: Buffer, routingKey: Buffer): void {
  let at = record.writeUInt32BE(record.length - 4, 0);
  at = record.writeUInt32BE(message.end - message.start, at);
  at = record.writeUInt32BE(message.bodyStart - message.start, at);
  at = record.writeUInt16BE(exchange.length, at);
  at = record.writeUInt16BE(routingKey.length, at);
  at += exchange.copy(record, at);
  at += routingKey.copy(record, at);
  message.data.copy(record, at, message.start, message.end);
}

/** A descriptor as the read window reads it. */
class FdReader implements WindowedFile {
  constructor(readonly fd: number) {}

  readSync(target: Buffer, position: number): number {
    return readSync(this.fd, target, 0, target.length, position);
  }
}
