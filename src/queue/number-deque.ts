/** Numbers per chunk once a deque outgrows its first: 64 KiB of Float64Array. */
const CHUNK_BITS = 13;
const CHUNK = 1 << CHUNK_BITS;
const MASK = CHUNK - 1;
/** The first chunk starts this small and doubles, so a short deque costs little. */
const FIRST_CHUNK = 16;

/**
 * A FIFO of numbers in fixed chunks of Float64Array: 8 bytes a number, with
 * no spare capacity past the last chunk and no copy of the whole as it grows
 * (a plain array of millions would briefly hold two copies while growing).
 * What it holds is indexed as if every chunk were full size; only the first
 * chunk, while it is the only one, may be physically smaller.
 */
export class NumberDeque {
  private chunks: Float64Array[] = [];
  /** Position of the first number in chunks[0]. */
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  /** The number `i` places behind the head (0 is the head). */
  at(i: number): number | undefined {
    if (i < 0 || i >= this.size) return undefined;
    const at = this.head + i;
    return this.chunks[at >>> CHUNK_BITS]![at & MASK];
  }

  push(n: number): void {
    const at = this.head + this.size;
    const c = at >>> CHUNK_BITS;
    if (c === this.chunks.length) this.chunks.push(new Float64Array(c === 0 ? FIRST_CHUNK : CHUNK));
    let chunk = this.chunks[c]!;
    const i = at & MASK;
    if (i >= chunk.length) {
      const grown = new Float64Array(Math.min(CHUNK, chunk.length * 2));
      grown.set(chunk);
      this.chunks[c] = chunk = grown;
    }
    chunk[i] = n;
    this.size++;
  }

  shift(): number | undefined {
    if (this.size === 0) return undefined;
    const n = this.chunks[0]![this.head]!;
    this.size--;
    if (this.size === 0) this.clear();
    else if (++this.head === CHUNK) {
      this.chunks.shift();
      this.head = 0;
    }
    return n;
  }

  /** Keeps, in order, the numbers `keep` accepts; it sees each once, with its index behind the head. */
  retain(keep: (n: number, index: number) => boolean): void {
    const kept = new NumberDeque();
    for (let i = 0; i < this.size; i++) {
      const n = this.at(i)!;
      if (keep(n, i)) kept.push(n);
    }
    this.chunks = kept.chunks;
    this.head = kept.head;
    this.size = kept.size;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.size = 0;
  }
}
