/**
 * A FIFO over a plain array with a moving head: push and shift are O(1)
 * amortised (Array.prototype.shift is O(n)), and the consumed prefix is
 * dropped once it is most of the array.
 */
export class ArrayDeque<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  /** The element `i` places behind the head (0 is the head). */
  at(i: number): T | undefined {
    return this.items[this.head + i];
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head]!;
    // Release the reference now: a consumed message must not stay reachable.
    (this.items as (T | undefined)[])[this.head++] = undefined;
    if (this.head === this.items.length) this.clear();
    else if (this.head > 4096 && this.head * 2 > this.items.length) this.compact();
    return item;
  }

  /** Keeps, in place and in order, the items `keep` accepts; it sees each once, with its index behind the head. */
  retain(keep: (item: T, index: number) => boolean): void {
    const items = this.items;
    let kept = this.head;
    for (let i = this.head; i < items.length; i++) {
      const item = items[i]!;
      if (keep(item, i - this.head)) items[kept++] = item;
    }
    items.length = kept;
    if (kept === this.head) this.clear();
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  private compact(): void {
    this.items = this.items.slice(this.head);
    this.head = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }
}
