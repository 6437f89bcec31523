import type { StoredLocation } from '../store/journal.js';
import { ArrayDeque } from './array-deque.js';
import type { Message, QueuedMessage } from './message.js';
import { PagedTail } from './paged-tail.js';

/** Reads a message that waited in the journal back into memory. */
export interface PageSource {
  load(location: StoredLocation): Message;
}

/** How much of a durable queue stays in memory before persistent messages wait in the journal only. */
export interface MemoryLimit {
  readonly messages: number;
  readonly bytes: number;
}

export const DEFAULT_QUEUE_MEMORY: MemoryLimit = { messages: 4096, bytes: 8 * 1024 * 1024 };
/** Messages read back from the journal at a time when the in-memory part runs dry. */
const PAGE_IN_BATCH = 256;

/**
 * The messages of a queue waiting for delivery, in queue order.
 *
 * New messages append to a FIFO; requeued ones (which RabbitMQ puts back at
 * their original position) go to a small list sorted by sequence. The head is
 * whichever of the two has the lower sequence. For a durable queue (one with
 * a `source`), persistent messages past the memory limit wait in a paged tail
 * that holds only their journal locations, and are read back a batch at a
 * time as the head reaches them: a queue of millions costs numbers, not
 * messages.
 */
export class ReadyList {
  private readonly fifo = new ArrayDeque<QueuedMessage>();
  private requeued: QueuedMessage[] = [];
  private readonly paged = new PagedTail();
  /** Bytes of the messages held in memory (FIFO and requeued). */
  private memoryBytes = 0;
  source: PageSource | undefined;

  constructor(private readonly limit: MemoryLimit = DEFAULT_QUEUE_MEMORY) {}

  get length(): number {
    return this.fifo.length + this.requeued.length + this.paged.length;
  }

  push(qm: QueuedMessage): void {
    const { location, size } = qm.message;
    // Once anything is paged, later messages must queue behind it, whether they can be paged or not.
    if (this.paged.length > 0) {
      if (location === undefined) this.paged.pushHeld(qm);
      else this.paged.push(qm.seq, location, qm.redelivered);
      return;
    }
    if (this.source !== undefined && location !== undefined && this.full(size)) {
      this.paged.push(qm.seq, location, qm.redelivered);
      return;
    }
    this.fifo.push(qm);
    this.memoryBytes += size;
  }

  /**
   * Adds a message known only by its journal location (recovery); it is read
   * back when it nears the head, so `source` must be set before then.
   */
  pushStored(seq: number, location: StoredLocation, redelivered: boolean): void {
    this.paged.push(seq, location, redelivered);
  }

  /** After recovery has pushed every stored message: puts them in publish (sequence) order. */
  sortStored(): void {
    this.paged.sortBySeq();
  }

  /** Puts a message back at the position its sequence number gives it. */
  requeue(qm: QueuedMessage): void {
    const list = this.requeued;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.seq < qm.seq) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, qm);
    this.memoryBytes += qm.message.size;
  }

  peek(): QueuedMessage | undefined {
    if (this.fifo.length === 0 && this.paged.length > 0) this.pageIn();
    const fromFifo = this.fifo.at(0);
    const fromRequeued = this.requeued[0];
    if (fromRequeued === undefined) return fromFifo;
    if (fromFifo === undefined) return fromRequeued;
    return fromRequeued.seq < fromFifo.seq ? fromRequeued : fromFifo;
  }

  shift(): QueuedMessage | undefined {
    const next = this.peek();
    if (next === undefined) return undefined;
    if (next === this.requeued[0]) this.requeued.shift();
    else this.fifo.shift();
    this.memoryBytes -= next.message.size;
    return next;
  }

  /** Removes everything; returns how many messages were dropped. */
  clear(): number {
    const count = this.length;
    this.fifo.clear();
    this.requeued = [];
    this.paged.clear();
    this.memoryBytes = 0;
    return count;
  }

  /** Journal locations of every waiting message that has one, in memory or paged. */
  *storedLocations(): IterableIterator<StoredLocation> {
    for (const qm of this.fifo) if (qm.message.location !== undefined) yield qm.message.location;
    for (const qm of this.requeued) if (qm.message.location !== undefined) yield qm.message.location;
    yield* this.paged.storedLocations();
  }

  private full(size: number): boolean {
    return this.fifo.length >= this.limit.messages || this.memoryBytes + size > this.limit.bytes;
  }

  /** Reads the next batch of paged messages into the FIFO. */
  private pageIn(): void {
    const source = this.source!;
    for (let n = 0; n < PAGE_IN_BATCH && this.paged.length > 0; n++) {
      const entry = this.paged.peek()!;
      // Dropped only once read: a failed read leaves the entry where it was.
      const qm = entry.held ?? { message: source.load(entry.location), seq: entry.seq, redelivered: entry.redelivered };
      this.paged.drop();
      this.fifo.push(qm);
      this.memoryBytes += qm.message.size;
    }
  }
}
