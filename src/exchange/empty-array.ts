/**
 * Empties an array that is reused on a hot path, keeping its storage:
 * `a.length = 0` makes V8 drop the backing store, so the next push allocates
 * a new one every time, while pop only ever trims in place.
 */
export function emptyArray(a: unknown[]): void {
  while (a.length > 0) a.pop();
}
