import { type AckEntry, applyAckEntry, type Holders } from './ack-entry.js';
import { type MessageRecord, readRecord } from './journal-record.js';
import { readFully } from './read-buffer.js';
import { JournalCorruptError } from './recovery.js';
import type { Segment } from './segment.js';
import { SEGMENT_HEADER_SIZE } from './segment-header.js';
import type { StoreFile } from './store-fs.js';
import type { StoredLocation } from './stored-location.js';

/** Bytes of records a compaction step reads: a step must stay short, it holds up the event loop. */
const SLICE_BYTES = 512 * 1024;

/** What a compaction needs of the journal. */
export interface CompactionHost {
  /** Appends a copy of a live record (a Moved one), with a delivered mark for each queue in `delivered`; returns where it went. */
  copy(record: MessageRecord, delivered: ReadonlySet<number> | undefined): StoredLocation;
  segmentExists(number: number): boolean;
}

export type CompactionStep = 'more' | 'copied' | 'kept';

/**
 * Compaction copies the live records of a segment that is mostly garbage to
 * the end of the journal, then the segment is deleted. The copies are Moved
 * records naming their source segment: until that segment is gone they do
 * not count (recovery takes the source and its acks), after it they are the
 * message.
 *
 * It works a slice at a time, between other work: a pass that measures the
 * live bytes (the pair counts that picked the segment are only an estimate),
 * then a pass that copies. It starts from the segment's ack entries as they
 * stand at the end of a commit and is told of every later one (noteAck), so
 * no ack slips between reading a record and copying it; once a record is
 * copied, the journal writes its acks and deliveries to both places, so
 * whichever one recovery ends up with is up to date.
 */
export class Compaction {
  /** Offset of each copied record in the source → where its copy went. */
  readonly copies = new Map<number, StoredLocation>();
  /** Ack entries of the source, by record offset. */
  private readonly acks = new Map<number, AckEntry[]>();
  private copying = false;
  private offset = SEGMENT_HEADER_SIZE;
  private liveBytes = 0;

  constructor(
    readonly source: Segment,
    acks: Iterable<AckEntry>,
    private readonly path: string,
  ) {
    for (const e of acks) this.noteAck(source, e);
  }

  /** Every live record has been copied. */
  get copied(): boolean {
    return this.copying && this.offset >= this.source.msgsSize;
  }

  /** An ack entry was written for a record of `segment`. */
  noteAck(segment: Segment, entry: AckEntry): void {
    if (segment !== this.source) return;
    const list = this.acks.get(entry.offset);
    if (list === undefined) this.acks.set(entry.offset, [entry]);
    else list.push(entry);
  }

  /** Where the record at `offset` of `segment` was copied to, if it was. */
  copyOf(segment: Segment, offset: number): StoredLocation | undefined {
    return segment === this.source ? this.copies.get(offset) : undefined;
  }

  /**
   * Reads the next slice of the source: 'more' to come, 'copied' when every
   * live record is copied, 'kept' when the live records hold too many of
   * the bytes to be worth copying.
   */
  step(host: CompactionHost): CompactionStep {
    const { records, next } = readSlice(this.source.msgs!, this.offset, this.source.msgsSize, this.path);
    for (const { offset, size, record } of records) {
      const holders = this.holdersOf(offset, record, host);
      if (holders === undefined) continue;
      if (this.copying) this.copies.set(offset, host.copy({ ...record, queueIds: holders.queueIds, movedFrom: this.source.number }, holders.delivered));
      else this.liveBytes += size;
    }
    this.offset = next;
    if (next < this.source.msgsSize) return 'more';
    if (this.copying) return 'copied';
    if (this.liveBytes * 2 >= this.source.msgsSize - SEGMENT_HEADER_SIZE) return 'kept';
    this.copying = true;
    this.offset = SEGMENT_HEADER_SIZE;
    return 'more';
  }

  /** The queues still holding a record, or undefined if none does (a copy whose source still exists holds nothing). */
  private holdersOf(offset: number, record: MessageRecord, host: CompactionHost): Holders | undefined {
    if (record.movedFrom !== undefined && host.segmentExists(record.movedFrom)) return undefined;
    const holders: Holders = { queueIds: [...record.queueIds], delivered: undefined };
    for (const e of this.acks.get(offset) ?? []) applyAckEntry(holders, e);
    return holders.queueIds.length > 0 ? holders : undefined;
  }
}

/**
 * A sealed segment worth compacting: fewer than half of the (queue, message)
 * pairs stored in it are live, and none went since the last look (a segment
 * being drained empties by itself; copying it would be wasted work). Records
 * the live counts for the next look.
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

/**
 * The whole records starting in [from, end) of a sealed .msgs file that fit
 * in a slice (at least one, however big); properties and bodies are views
 * into the slice.
 */
function readSlice(file: StoreFile, from: number, end: number, path: string): { records: { offset: number; size: number; record: MessageRecord }[]; next: number } {
  let bytes = Buffer.allocUnsafe(Math.min(SLICE_BYTES, end - from));
  bytes = bytes.subarray(0, readFully(file, bytes, from));
  const first = bytes.length >= 4 ? 4 + bytes.readUInt32BE(0) : 0;
  if (first > bytes.length && first <= end - from) {
    bytes = Buffer.allocUnsafe(first);
    bytes = bytes.subarray(0, readFully(file, bytes, from));
  }
  const records: { offset: number; size: number; record: MessageRecord }[] = [];
  let at = 0;
  while (bytes.length - at >= 4 && at + 4 + bytes.readUInt32BE(at) <= bytes.length) {
    const result = readRecord(bytes, at);
    if (result.kind === 'bad' || result.kind === 'end') throw new JournalCorruptError(path, from + at, result.kind === 'bad' ? result.reason : 'zero bytes where a record should start');
    // Definitions are not copied: the snapshot at the start of every later segment holds them.
    if (result.kind === 'record') records.push({ offset: from + at, size: result.size, record: result.record });
    at += result.size;
  }
  if (at === 0) throw new JournalCorruptError(path, from, 'a record runs past the end of the sealed segment');
  return { records, next: from + at };
}
