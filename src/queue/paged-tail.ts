import type { StoredLocation } from '../store/journal.js';
import { ArrayDeque } from './array-deque.js';
import type { QueuedMessage } from './message.js';

const TWO_32 = 0x1_0000_0000;
/**
 * The location slot: a journal location packed into one number (0 and up),
 * IN_MEMORY for a message kept in memory (a transient one queued behind paged
 * ones), or a page file location packed and stored as -2 - packed.
 */
const IN_MEMORY = -1;
const PAGE_FILE_BASE = -2;
/** Numbers per entry: sequence, packed location, redelivered flag. */
const STRIDE = 3;

export type PagedEntry =
  | {
      readonly seq: number;
      readonly location: StoredLocation;
      readonly redelivered: boolean;
      /** When it expires; undefined if never (or not known before it is read back). */
      readonly expiresAt: number | undefined;
      /** The location is in the page file (pager), not the journal. */
      readonly inPageFile: boolean;
      readonly held?: undefined;
    }
  | { readonly held: QueuedMessage };

/**
 * The back of a long queue, kept as numbers only: the sequence, location and
 * redelivered flag of each message, three array slots per message and no
 * object. The messages stay in the journal (persistent ones of a durable
 * queue) or the page file (any other, paged out while memory is short) until
 * they come near the head and are read back. A message with neither copy
 * that arrives behind them waits here too, in memory, so queue order holds.
 *
 * Once a message that can expire is paged, each entry gets a fourth number,
 * its expiry (Infinity for never), in a parallel array: stuck expired
 * messages are found without reading anything back, and a queue where no
 * message expires pays nothing for it.
 */
export class PagedTail {
  private readonly entries = new ArrayDeque<number>();
  private readonly held = new ArrayDeque<QueuedMessage>();
  private expiries: ArrayDeque<number> | undefined;

  get length(): number {
    return this.entries.length / STRIDE;
  }

  push(seq: number, location: StoredLocation, redelivered: boolean, expiresAt?: number, inPageFile = false): void {
    // segment × 2^32 + offset is exact in a double for any realistic segment count.
    const packed = location.segment * TWO_32 + location.offset;
    this.entries.push(seq);
    this.entries.push(inPageFile ? PAGE_FILE_BASE - packed : packed);
    this.entries.push(redelivered ? 1 : 0);
    this.pushExpiry(expiresAt);
  }

  /** Queues a message that has no journal copy behind the paged ones, keeping it in memory. */
  pushHeld(qm: QueuedMessage): void {
    this.entries.push(qm.seq);
    this.entries.push(IN_MEMORY);
    this.entries.push(0);
    this.held.push(qm);
    this.pushExpiry(qm.expiresAt);
  }

  /** The head entry, left in place (reading it back may fail); undefined when empty. */
  peek(): PagedEntry | undefined {
    if (this.entries.length === 0) return undefined;
    return this.entryAt(0, 0);
  }

  /** Removes the head entry. */
  drop(): void {
    if (this.entries.length === 0) return;
    this.entries.shift();
    if (this.entries.shift() === IN_MEMORY) this.held.shift();
    this.entries.shift();
    this.expiries?.shift();
  }

  /**
   * Takes out the entries `remove` picks by their expiry (Infinity: never),
   * which it sees once each, front to back; returns them in order. Only the
   * entries taken out become objects.
   */
  removeWhere(remove: (expiresAt: number) => boolean): PagedEntry[] {
    const count = this.length;
    const expiries = this.expiries;
    const removed: PagedEntry[] = [];
    if (expiries === undefined) {
      // Nothing paged can expire.
      for (let i = 0; i < count; i++) remove(Infinity);
      return removed;
    }
    const kept = new Uint8Array(count);
    const heldKept = new Uint8Array(this.held.length);
    for (let i = 0, h = 0; i < count; i++) {
      const held = this.entries.at(i * STRIDE + 1) === IN_MEMORY;
      if (remove(expiries.at(i)!)) removed.push(this.entryAt(i, h));
      else kept[i] = 1;
      if (held) heldKept[h++] = kept[i]!;
    }
    if (removed.length > 0) {
      this.entries.retain((_, j) => kept[Math.floor(j / STRIDE)] === 1);
      this.held.retain((_, j) => heldKept[j] === 1);
      expiries.retain((_, j) => kept[j] === 1);
    }
    return removed;
  }

  /** Puts the entries in sequence order (recovery may find them out of it). */
  sortBySeq(): void {
    const count = this.length;
    const heldAt = new Int32Array(count).fill(-1);
    for (let i = 0, h = 0; i < count; i++) if (this.entries.at(i * STRIDE + 1) === IN_MEMORY) heldAt[i] = h++;
    const order = Array.from({ length: count }, (_, i) => i);
    order.sort((a, b) => this.entries.at(a * STRIDE)! - this.entries.at(b * STRIDE)!);
    const entries = order.flatMap((i) => [this.entries.at(i * STRIDE)!, this.entries.at(i * STRIDE + 1)!, this.entries.at(i * STRIDE + 2)!]);
    const held = order.flatMap((i) => (heldAt[i]! < 0 ? [] : [this.held.at(heldAt[i]!)!]));
    const expiries = this.expiries === undefined ? undefined : order.map((i) => this.expiries!.at(i)!);
    this.clear();
    for (const n of entries) this.entries.push(n);
    for (const qm of held) this.held.push(qm);
    if (expiries !== undefined) {
      this.expiries = new ArrayDeque<number>();
      for (const e of expiries) this.expiries.push(e);
    }
  }

  /** Journal locations of the entries. */
  *storedLocations(): IterableIterator<StoredLocation> {
    for (let i = 1; i < this.entries.length; i += STRIDE) {
      const packed = this.entries.at(i)!;
      if (packed >= 0) yield unpack(packed);
    }
  }

  /** Page file locations of the entries. */
  *pageFileLocations(): IterableIterator<StoredLocation> {
    for (let i = 1; i < this.entries.length; i += STRIDE) {
      const packed = this.entries.at(i)!;
      if (packed <= PAGE_FILE_BASE) yield unpack(PAGE_FILE_BASE - packed);
    }
  }

  clear(): void {
    this.entries.clear();
    this.held.clear();
    this.expiries = undefined;
  }

  /** Entry `i`, which is held message `h` if it is one. */
  private entryAt(i: number, h: number): PagedEntry {
    const at = i * STRIDE;
    const packed = this.entries.at(at + 1)!;
    if (packed === IN_MEMORY) return { held: this.held.at(h)! };
    const expiresAt = this.expiries?.at(i);
    const inPageFile = packed <= PAGE_FILE_BASE;
    return {
      seq: this.entries.at(at)!,
      location: unpack(inPageFile ? PAGE_FILE_BASE - packed : packed),
      redelivered: this.entries.at(at + 2) === 1,
      expiresAt: expiresAt === Infinity ? undefined : expiresAt,
      inPageFile,
    };
  }

  private pushExpiry(expiresAt: number | undefined): void {
    if (this.expiries === undefined) {
      if (expiresAt === undefined) return;
      this.expiries = new ArrayDeque<number>();
      for (let i = 1; i < this.length; i++) this.expiries.push(Infinity);
    }
    this.expiries.push(expiresAt ?? Infinity);
  }
}

function unpack(packed: number): StoredLocation {
  const segment = Math.floor(packed / TWO_32);
  return { segment, offset: packed - segment * TWO_32 };
}
