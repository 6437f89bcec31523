import type { QueuedMessage } from './message.js';

/**
 * The messages of a queue waiting for delivery, in queue order.
 *
 * New messages append to a FIFO; requeued ones (which RabbitMQ puts back at
 * their original position) go to a small list sorted by sequence. The head is
 * whichever of the two has the lower sequence, so both operations stay cheap
 * even with millions of messages waiting.
 */
export class ReadyList {
  private fifo: (QueuedMessage | undefined)[] = [];
  private head = 0;
  private requeued: QueuedMessage[] = [];
  private bytes = 0;

  get length(): number {
    return this.fifo.length - this.head + this.requeued.length;
  }

  get byteSize(): number {
    return this.bytes;
  }

  push(qm: QueuedMessage): void {
    this.fifo.push(qm);
    this.bytes += qm.message.size;
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
    this.bytes += qm.message.size;
  }

  peek(): QueuedMessage | undefined {
    const fromFifo = this.fifo[this.head];
    const fromRequeued = this.requeued[0];
    if (fromRequeued === undefined) return fromFifo;
    if (fromFifo === undefined) return fromRequeued;
    return fromRequeued.seq < fromFifo.seq ? fromRequeued : fromFifo;
  }

  shift(): QueuedMessage | undefined {
    const next = this.peek();
    if (next === undefined) return undefined;
    if (next === this.requeued[0]) {
      this.requeued.shift();
    } else {
      this.fifo[this.head++] = undefined;
      this.compact();
    }
    this.bytes -= next.message.size;
    return next;
  }

  /** Removes everything; returns how many messages were dropped. */
  clear(): number {
    const count = this.length;
    this.fifo = [];
    this.head = 0;
    this.requeued = [];
    this.bytes = 0;
    return count;
  }

  /** The waiting messages in queue order, head first. */
  *[Symbol.iterator](): IterableIterator<QueuedMessage> {
    let i = this.head;
    let r = 0;
    for (;;) {
      const fromFifo = this.fifo[i];
      const fromRequeued = this.requeued[r];
      if (fromRequeued !== undefined && (fromFifo === undefined || fromRequeued.seq < fromFifo.seq)) {
        r++;
        yield fromRequeued;
      } else if (fromFifo !== undefined) {
        i++;
        yield fromFifo;
      } else {
        return;
      }
    }
  }

  /** Drops the consumed prefix once it is most of the array, keeping shift O(1) amortised. */
  private compact(): void {
    if (this.head === this.fifo.length) {
      this.fifo = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.head);
      this.head = 0;
    }
  }
}
