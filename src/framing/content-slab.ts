/** Contents smaller than this share slabs; larger ones get a buffer of their own. */
const SHARED_BELOW = 4 * 1024;
const SLAB_SIZE = 16 * 1024;

/**
 * Hands out room for message contents. A Buffer object costs about 100
 * bytes of heap, more than a small message's properties and body, and a
 * queue may hold millions of them: small contents are placed one after
 * another in shared slabs instead, and a message keeps the slab and its
 * offsets. A slab stays in memory while any message in it does (as a
 * Buffer.allocUnsafe() pool chunk would, at half the size).
 */
export class ContentSlab {
  private slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
  private used = 0;
  /** Where the last take() placed its bytes. */
  offset = 0;

  /** A buffer with `size` free bytes from `offset` on. */
  take(size: number): Buffer {
    if (size >= SHARED_BELOW) {
      this.offset = 0;
      return Buffer.allocUnsafeSlow(size);
    }
    if (this.used + size > SLAB_SIZE) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      this.used = 0;
    }
    this.offset = this.used;
    this.used += size;
    return this.slab;
  }
}

/** One for the whole process: slabs fill faster than one per connection would. */
export const contentSlab = new ContentSlab();
