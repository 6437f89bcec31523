import type { StoredLocation } from '../store/journal.js';
import { ArrayDeque } from './array-deque.js';
import type { Message, QueuedMessage } from './message.js';
import { type PagedEntry, PagedTail } from './paged-tail.js';

/** Reads a message that waited in the journal back into memory. */
export interface PageSource {
  load(location: StoredLocation): Message;
  /** Called with each message read back, which the queue may complete (the expiry of a recovered message). */
  loaded?(qm: QueuedMessage): void;
}

/**
 * Where a queue puts waiting messages that have no journal copy (transient
 * ones, and any in a non-durable queue) while memory is short: the
 * ReadyList writes them here and keeps only their location.
 */
export interface Pager {
  /** Whether waiting messages should go to disk now. */
  readonly paging: boolean;
  /** Writes a message; undefined when it cannot (the disk refused an earlier write): the caller keeps it in memory. */
  write(message: Message): StoredLocation | undefined;
  /** Reads a written message back; its record stays until released. */
  read(location: StoredLocation): Message;
  /** The queue is done with a record (read back, purged, expired): its segment goes once no record in it is wanted. */
  release(location: StoredLocation): void;
}

/** How much of a durable queue stays in memory before persistent messages wait in the journal only. */
export interface MemoryLimit {
  readonly messages: number;
  readonly bytes: number;
}

export const DEFAULT_QUEUE_MEMORY: MemoryLimit = { messages: 4096, bytes: 8 * 1024 * 1024 };

/** What a queue's messages in memory add up to, against its limit: the levels of a priority queue share one. */
export class MemoryUse {
  messages = 0;
  bytes = 0;
  /** Where messages without a journal copy go while memory is short; set for the queues of a broker. */
  pager: Pager | undefined;

  constructor(readonly limit: MemoryLimit = DEFAULT_QUEUE_MEMORY) {}

  /** Whether a persistent message of `size` bytes should wait in the journal only. */
  full(size: number): boolean {
    return this.messages >= this.limit.messages || this.bytes + size > this.limit.bytes;
  }
}

/**
 * The messages of a queue waiting for delivery, as the queue sees them:
 * ReadyList, or PriorityReadyList (priority-ready-list.ts) for a queue with
 * x-max-priority.
 */
export interface ReadyMessages {
  readonly length: number;
  /** Body bytes of the waiting messages. */
  readonly bytes: number;
  /** Reads paged-out messages back; set once the queue has a journal. */
  source: PageSource | undefined;
  /** Takes waiting messages that have no journal copy out of memory while memory is short. */
  pager: Pager | undefined;
  /** Adds a new message; returns false when it went ahead of some that wait (a higher priority). */
  push(qm: QueuedMessage): boolean;
  /** Adds a message recovered from the journal (see ReadyList.pushStored); `priority` is its priority property. */
  pushStored(seq: number, location: StoredLocation, redelivered: boolean, expiresAt: number | undefined, priority: number): void;
  countStoredBytes(): void;
  sortStored(): void;
  requeue(qm: QueuedMessage): void;
  peek(): QueuedMessage | undefined;
  shift(): QueuedMessage | undefined;
  removeWhere(remove: (expiresAt: number) => boolean): QueuedMessage[];
  clear(): number;
  storedLocations(): IterableIterator<StoredLocation>;
}
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
 * messages. While the broker's memory is over its paging threshold (the
 * pager says so), every new message waits in the paged tail, those without
 * a journal copy written to the pager's file.
 */
export class ReadyList implements ReadyMessages {
  private readonly fifo = new ArrayDeque<QueuedMessage>();
  private requeued: QueuedMessage[] = [];
  private readonly paged = new PagedTail();
  /** Bytes of the messages held in memory (FIFO and requeued). */
  private memoryBytes = 0;
  /** The queue's memory, which this list may share with others (the levels of a priority queue). */
  private readonly memory: MemoryUse;
  /** Body bytes of every waiting message, for x-max-length-bytes (recovered ones count from when they are read back). */
  private totalBytes = 0;
  /** Recovered messages (sequence below this) are not in totalBytes until read back. */
  private unsizedBelow = 0;
  source: PageSource | undefined;

  constructor(limit: MemoryLimit | MemoryUse = DEFAULT_QUEUE_MEMORY) {
    this.memory = limit instanceof MemoryUse ? limit : new MemoryUse(limit);
  }

  get length(): number {
    return this.fifo.length + this.requeued.length + this.paged.length;
  }

  /** Body bytes of the waiting messages. */
  get bytes(): number {
    return this.totalBytes;
  }

  get pager(): Pager | undefined {
    return this.memory.pager;
  }

  set pager(pager: Pager | undefined) {
    this.memory.pager = pager;
  }

  /** Appends a message; it always joins the back. */
  push(qm: QueuedMessage): boolean {
    const { location, size } = qm.message;
    this.totalBytes += size;
    const journaled = this.source !== undefined && location !== undefined;
    // Once anything is paged, later messages must queue behind it, whether they can be paged or not.
    if (this.paged.length > 0 || this.memory.pager?.paging === true || (journaled && this.memory.full(size))) {
      this.pushPaged(qm, journaled);
      return true;
    }
    this.fifo.push(qm);
    this.held(1, size);
    return true;
  }

  /**
   * Adds a message known only by its journal location (recovery); it is read
   * back when it nears the head, so `source` must be set before then.
   */
  pushStored(seq: number, location: StoredLocation, redelivered: boolean, expiresAt?: number): void {
    this.paged.push(seq, location, redelivered, expiresAt);
    this.unsizedBelow = Math.max(this.unsizedBelow, seq + 1);
  }

  /**
   * Counts the bytes of the recovered messages now, reading each back once,
   * rather than as they come near the head: a queue with a byte limit needs
   * them from the start. Call it right after recovery, before any push.
   */
  countStoredBytes(): void {
    for (const location of this.paged.storedLocations()) this.totalBytes += this.source!.load(location).size;
    this.unsizedBelow = 0;
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
    this.held(1, qm.message.size);
    this.totalBytes += qm.message.size;
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
    this.held(-1, -next.message.size);
    this.totalBytes -= next.message.size;
    return next;
  }

  /**
   * Takes out every message `remove` picks, wherever it waits (paged ones are
   * read back), and returns them in queue order. `remove` sees the expiry of
   * each waiting message once, in queue order (Infinity for never).
   */
  removeWhere(remove: (expiresAt: number) => boolean): QueuedMessage[] {
    const removed: QueuedMessage[] = [];
    const inMemory = (qm: QueuedMessage): boolean => {
      if (!remove(qm.expiresAt ?? Infinity)) return true;
      removed.push(qm);
      this.held(-1, -qm.message.size);
      this.totalBytes -= qm.message.size;
      return false;
    };
    if (this.requeued.length > 0) this.requeued = this.requeued.filter(inMemory);
    this.fifo.retain(inMemory);
    for (const entry of this.paged.removeWhere(remove)) {
      const qm = this.load(entry);
      if (entry.held !== undefined || qm.seq >= this.unsizedBelow) this.totalBytes -= qm.message.size;
      removed.push(qm);
    }
    return removed;
  }

  /** Removes everything; returns how many messages were dropped. */
  clear(): number {
    const count = this.length;
    for (const location of this.paged.pageFileLocations()) this.memory.pager!.release(location);
    this.held(-(this.fifo.length + this.requeued.length), -this.memoryBytes);
    this.fifo.clear();
    this.requeued = [];
    this.paged.clear();
    this.totalBytes = 0;
    this.unsizedBelow = 0;
    return count;
  }

  /** Journal locations of every waiting message that has one, in memory or paged. */
  *storedLocations(): IterableIterator<StoredLocation> {
    for (const qm of this.fifo) if (qm.message.location !== undefined) yield qm.message.location;
    for (const qm of this.requeued) if (qm.message.location !== undefined) yield qm.message.location;
    yield* this.paged.storedLocations();
  }

  /** Counts messages coming into memory (or leaving it, negative), here and in the queue's total. */
  private held(messages: number, bytes: number): void {
    this.memoryBytes += bytes;
    this.memory.messages += messages;
    this.memory.bytes += bytes;
  }

  /**
   * Queues a message in the paged tail: by its journal location if it has
   * one, else written to the pager's file while memory is short, else held
   * in memory.
   */
  private pushPaged(qm: QueuedMessage, journaled: boolean): void {
    if (journaled) {
      this.paged.push(qm.seq, qm.message.location!, qm.redelivered, qm.expiresAt);
      return;
    }
    const pager = this.memory.pager;
    const written = pager?.paging === true ? pager.write(qm.message) : undefined;
    if (written === undefined) this.paged.pushHeld(qm);
    else this.paged.push(qm.seq, written, qm.redelivered, qm.expiresAt, true);
  }

  /** Reads the next batch of paged messages into the FIFO. */
  private pageIn(): void {
    for (let n = 0; n < PAGE_IN_BATCH && this.paged.length > 0; n++) {
      const entry = this.paged.peek()!;
      // Dropped only once read: a failed read leaves the entry where it was.
      const qm = this.load(entry);
      this.paged.drop();
      this.fifo.push(qm);
      this.held(1, qm.message.size);
      if (entry.held === undefined && qm.seq < this.unsizedBelow) this.totalBytes += qm.message.size;
    }
  }

  /** The message of a paged entry, read back from the journal or the page file unless it was held in memory. */
  private load(entry: PagedEntry): QueuedMessage {
    if (entry.held !== undefined) return entry.held;
    const message = entry.inPageFile ? this.readPageFile(entry.location) : this.source!.load(entry.location);
    const qm: QueuedMessage =
      entry.expiresAt === undefined
        ? { message, seq: entry.seq, redelivered: entry.redelivered }
        : { message, seq: entry.seq, redelivered: entry.redelivered, expiresAt: entry.expiresAt };
    if (!entry.inPageFile) this.source!.loaded?.(qm);
    return qm;
  }

  /** Reads a message back from the page file, which then forgets it: it is in memory from here on. */
  private readPageFile(location: StoredLocation): Message {
    const pager = this.memory.pager!;
    const message = pager.read(location);
    pager.release(location);
    return message;
  }
}
