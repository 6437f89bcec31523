import { type AckEntry, applyAckEntries, type Holders } from './ack-entry.js';
import { type MessageRecord, readRecord } from './journal-record.js';
import { JournalCorruptError } from './recovery.js';
import type { Segment } from './segment.js';
import { SEGMENT_HEADER_SIZE } from './segment-header.js';
import type { StoredLocation } from './stored-location.js';

/**
 * Compaction copies the live records of a segment that is mostly garbage to
 * the end of the journal, then deletes the segment. The copies are Moved
 * records naming their source segment: until that segment is gone they do
 * not count (recovery takes the source and its acks), after it they are the
 * message. While copies are on their way to disk, every ack and delivery
 * of a copied record is written to both places, so whichever one recovery
 * ends up with is up to date.
 */
export class Compaction {
  /** Offset of each live record in the source → where its copy went. */
  readonly copies = new Map<number, StoredLocation>();

  constructor(readonly source: Segment) {}

  /** Where the record at `offset` of `segment` is being copied to, if it is. */
  copyOf(segment: Segment, offset: number): StoredLocation | undefined {
    return segment === this.source ? this.copies.get(offset) : undefined;
  }
}

/**
 * A sealed segment worth compacting: fewer than half of the (queue, message)
 * pairs stored in it are live, and none went since the last look a second
 * ago (a segment being drained empties by itself; copying it would be
 * wasted work). Records the live counts for the next look.
 */
export function pickCompactionCandidate(segments: Iterable<Segment>, active: Segment): Segment | undefined {
  let candidate: Segment | undefined;
  for (const segment of segments) {
    const quiet = segment.live === segment.liveAtLastLook;
    segment.liveAtLastLook = segment.live;
    if (segment === active || segment.msgs === undefined || !quiet || segment.live === segment.keptAtLive) continue;
    if (segment.live > 0 && segment.live * 2 < segment.pairs) candidate ??= segment;
  }
  return candidate;
}

export interface LiveRecord extends Holders {
  readonly offset: number;
  /** Properties and body are views into the scanned bytes. */
  readonly record: MessageRecord;
}

/**
 * The records of a sealed segment that some queue still holds, with its ack
 * entries applied, and the bytes they take. A copy whose own source segment
 * still exists is not live (see Compaction). The pair counts are an estimate
 * of garbage; the byte count decides.
 */
export function scanLiveRecords(
  bytes: Buffer,
  acks: Iterable<AckEntry>,
  file: string,
  segmentExists: (number: number) => boolean,
): { records: LiveRecord[]; liveBytes: number } {
  const byOffset = new Map<number, LiveRecord & { size: number }>();
  let offset = SEGMENT_HEADER_SIZE;
  while (offset < bytes.length) {
    const result = readRecord(bytes, offset);
    if (result.kind !== 'record') throw new JournalCorruptError(file, offset, result.kind === 'bad' ? result.reason : 'zero bytes where a record should start');
    const { record, size } = result;
    if (record.movedFrom === undefined || !segmentExists(record.movedFrom)) {
      byOffset.set(offset, { offset, record, size, queueIds: [...record.queueIds], delivered: undefined });
    }
    offset += size;
  }
  applyAckEntries(acks, byOffset);
  const records: LiveRecord[] = [];
  let liveBytes = 0;
  for (const r of byOffset.values()) {
    if (r.queueIds.length === 0) continue;
    records.push(r);
    liveBytes += r.size;
  }
  return { records, liveBytes };
}
