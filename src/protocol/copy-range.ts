/** Ranges up to this many bytes are copied byte by byte. */
const SMALL_RANGE = 64;

/**
 * Copies `src` from `start` to `end` into `target` at `at`. Any Buffer copy
 * of part of a buffer makes a view object first; for the few bytes of a small
 * message a loop is cheaper than that allocation.
 */
export function copyRange(src: Uint8Array, start: number, end: number, target: Uint8Array, at: number): void {
  const n = end - start;
  if (n <= SMALL_RANGE) {
    for (let i = 0; i < n; i++) target[at + i] = src[start + i]!;
  } else {
    target.set(src.subarray(start, end), at);
  }
}
