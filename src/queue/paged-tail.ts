import { packLocation, type StoredLocation, unpackLocation } from '../store/stored-location.js';
import { ArrayDeque } from './array-deque.js';
import type { QueuedMessage } from './message.js';

/** Location slot of an entry kept in memory (a transient message queued behind paged ones). */
const IN_MEMORY = -1;
/** Numbers per entry: sequence, packed location, redelivered flag. */
const STRIDE = 3;

export type PagedEntry =
  | { readonly seq: number; readonly location: StoredLocation; readonly redelivered: boolean; readonly held?: undefined }
  | { readonly held: QueuedMessage };

/**
 * The back of a long durable queue, kept as numbers only: the sequence,
 * journal location and redelivered flag of each message, three array slots per message
 * and no object. The messages stay in the journal until they come near the
 * head and are read back. A message with no journal copy (transient) that
 * arrives behind them waits here too, in memory, so queue order holds.
 */
export class PagedTail {
  private readonly entries = new ArrayDeque<number>();
  private readonly held = new ArrayDeque<QueuedMessage>();

  get length(): number {
    return this.entries.length / STRIDE;
  }

  push(seq: number, location: StoredLocation, redelivered: boolean): void {
    this.entries.push(seq);
    this.entries.push(packLocation(location.segment, location.offset));
    this.entries.push(redelivered ? 1 : 0);
  }

  /** Queues a message that has no journal copy behind the paged ones, keeping it in memory. */
  pushHeld(qm: QueuedMessage): void {
    this.entries.push(qm.seq);
    this.entries.push(IN_MEMORY);
    this.entries.push(0);
    this.held.push(qm);
  }

  /** The head entry, left in place (reading it back may fail); undefined when empty. */
  peek(): PagedEntry | undefined {
    if (this.entries.length === 0) return undefined;
    const packed = this.entries.at(1)!;
    if (packed === IN_MEMORY) return { held: this.held.at(0)! };
    return { seq: this.entries.at(0)!, location: unpackLocation(packed), redelivered: this.entries.at(2) === 1 };
  }

  /** Removes the head entry. */
  drop(): void {
    if (this.entries.length === 0) return;
    this.entries.shift();
    if (this.entries.shift() === IN_MEMORY) this.held.shift();
    this.entries.shift();
  }

  *storedLocations(): IterableIterator<StoredLocation> {
    for (let i = 1; i < this.entries.length; i += STRIDE) {
      const packed = this.entries.at(i)!;
      if (packed !== IN_MEMORY) yield unpackLocation(packed);
    }
  }

  clear(): void {
    this.entries.clear();
    this.held.clear();
  }

  /**
   * Puts the entries in sequence order. Recovery restores messages in
   * journal order, which is publish order except for records compaction
   * copied forward; it calls this before any message is held here.
   */
  sortBySeq(): void {
    const count = this.length;
    let ordered = true;
    for (let i = 1; i < count && ordered; i++) ordered = this.entries.at((i - 1) * STRIDE)! < this.entries.at(i * STRIDE)!;
    if (ordered) return;
    const flat = [...this.entries];
    const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => flat[a * STRIDE]! - flat[b * STRIDE]!);
    this.entries.clear();
    for (const i of order) for (let k = 0; k < STRIDE; k++) this.entries.push(flat[i * STRIDE + k]!);
  }
}
