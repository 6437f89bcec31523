import type { Decoder } from './decoder.js';
import type { Encoder } from './encoder.js';

/** A u32 count, then each item: how definition snapshots write their lists. */
export function writeList<T>(e: Encoder, items: readonly T[], write: (e: Encoder, item: T) => void): void {
  e.u32(items.length);
  for (const item of items) write(e, item);
}

export function readList<T>(d: Decoder, read: (d: Decoder) => T): T[] {
  const count = d.u32();
  const items: T[] = [];
  for (let i = 0; i < count; i++) items.push(read(d));
  return items;
}
