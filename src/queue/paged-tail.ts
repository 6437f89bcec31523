import type { StoredLocation } from '../store/journal.js';
import { ArrayDeque } from './array-deque.js';

const TWO_32 = 0x1_0000_0000;
/** Numbers per entry: sequence, packed location, size, redelivered flag. */
const STRIDE = 4;

/**
 * The back of a long durable queue, kept as numbers only: the sequence,
 * journal location and size of each message, four array slots per message
 * and no object. The messages stay in the journal until they come near the
 * head and are read back.
 */
export class PagedTail {
  private readonly entries = new ArrayDeque<number>();
  private bytes = 0;

  get length(): number {
    return this.entries.length / STRIDE;
  }

  get byteSize(): number {
    return this.bytes;
  }

  push(seq: number, location: StoredLocation, size: number, redelivered: boolean): void {
    // segment × 2^32 + offset is exact in a double for any realistic segment count.
    this.entries.push(seq);
    this.entries.push(location.segment * TWO_32 + location.offset);
    this.entries.push(size);
    this.entries.push(redelivered ? 1 : 0);
    this.bytes += size;
  }

  /** Removes the head entry; undefined when empty. */
  shift(): { seq: number; location: StoredLocation; size: number; redelivered: boolean } | undefined {
    if (this.entries.length === 0) return undefined;
    const seq = this.entries.shift()!;
    const location = unpack(this.entries.shift()!);
    const size = this.entries.shift()!;
    const redelivered = this.entries.shift() === 1;
    this.bytes -= size;
    return { seq, location, size, redelivered };
  }

  *storedLocations(): IterableIterator<StoredLocation> {
    for (let i = 1; i < this.entries.length; i += STRIDE) yield unpack(this.entries.at(i)!);
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

function unpack(packed: number): StoredLocation {
  const segment = Math.floor(packed / TWO_32);
  return { segment, offset: packed - segment * TWO_32 };
}
