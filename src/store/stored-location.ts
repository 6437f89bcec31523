/** Where a message record lives: the segment and the record's offset in its .msgs file. */
export interface StoredLocation {
  readonly segment: number;
  readonly offset: number;
}

const TWO_32 = 0x1_0000_0000;

/** segment × 2^32 + offset: a location as one number, exact in a double for any realistic segment count. */
export function packLocation(segment: number, offset: number): number {
  return segment * TWO_32 + offset;
}

export function unpackLocation(packed: number): StoredLocation {
  const segment = Math.floor(packed / TWO_32);
  return { segment, offset: packed - segment * TWO_32 };
}
