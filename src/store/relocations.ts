import { packLocation as pack, type StoredLocation, unpackLocation as unpack } from './stored-location.js';

/**
 * Where compacted records went. Queues keep the location a message had when
 * they got it (they may hold millions, as bare numbers), so when compaction
 * copies a record elsewhere the journal keeps a forwarding entry from that
 * original location to the copy, and follows it on every read, ack and
 * delivery. A record copied twice still forwards from its original location.
 * The entries for a segment's records go when the segment is deleted: by
 * then no queue holds any of them. A restart needs none of this: queues are
 * rebuilt from the copies' own locations.
 */
export class Relocations {
  /** Original location → where the record is now. */
  private readonly current = new Map<number, number>();
  /** Per segment, offset of a copy in it → the original location queues know it by. */
  private readonly originals = new Map<number, Map<number, number>>();

  /** Where the record queues know as `location` is now. */
  locate(location: StoredLocation): StoredLocation {
    if (this.current.size === 0) return location;
    const now = this.current.get(pack(location.segment, location.offset));
    return now === undefined ? location : unpack(now);
  }

  /** The record at `offset` of segment `from` was copied to `to`, and the copy is durable. */
  moved(from: number, offset: number, to: StoredLocation): void {
    const original = this.originals.get(from)?.get(offset) ?? pack(from, offset);
    this.current.set(original, pack(to.segment, to.offset));
    let copies = this.originals.get(to.segment);
    if (copies === undefined) this.originals.set(to.segment, (copies = new Map()));
    copies.set(to.offset, original);
  }

  /** A segment was deleted: forwarding into it is over (its records are all gone or copied on). */
  forget(segment: number): void {
    const copies = this.originals.get(segment);
    if (copies === undefined) return;
    this.originals.delete(segment);
    for (const [offset, original] of copies) {
      if (this.current.get(original) === pack(segment, offset)) this.current.delete(original);
    }
  }
}
