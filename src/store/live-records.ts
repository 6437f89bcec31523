import { join } from 'node:path';
import { applyAckEntries, type Holders, readAckEntries } from './ack-entry.js';
import { type MessageRecord, readRecord } from './journal-record.js';
import { ReadBuffer, readFully } from './read-buffer.js';
import type { JournalCut, SegmentAtCut } from './replication-port.js';
import { Segment } from './segment.js';
import { SEGMENT_HEADER_SIZE } from './segment-header.js';
import type { StoreFs } from './store-fs.js';
import type { StoredLocation } from './stored-location.js';

/** A message some queue held at a cut. */
export interface LiveRecord {
  /** Where the record was at the cut: what the primary's later acks name it by. */
  readonly key: StoredLocation;
  /** The record; its properties and body are views into bytes reused once the caller moves on. */
  readonly record: MessageRecord;
  /** The queues that held it at the cut (a subset of the record's). */
  readonly holders: readonly number[];
  /** Those of them that had delivered it, unacked. */
  readonly delivered: readonly number[];
}

/**
 * The messages queues held at a cut, read back from the segment files as
 * they were then (each .msgs and .acks file up to the cut's lengths), one
 * segment at a time into one reused buffer, so memory stays within a
 * segment's size. The rules are recovery's: a compaction copy counts only
 * when its source segment is gone or superseded; a superseded segment is
 * skipped for its copies. A record's holders are every queue with no
 * Removed entry for it, deleted queues too, exactly as the journal counts
 * them: the primary's later acks and removals name those queues, and the
 * standby's count of holders must come out where the primary's does. After
 * each segment, `scannedBytes` says how far the scan is.
 */
export async function* liveRecordsAt(dir: string, fs: StoreFs, cut: JournalCut): AsyncGenerator<LiveRecord | { readonly scannedBytes: number }> {
  const authoritative = new Set(cut.segments.flatMap((s) => (s.superseded ? [] : [s.number])));
  const buffer = new ReadBuffer();
  for (const segment of cut.segments) {
    if (!segment.superseded && segment.msgsEnd > SEGMENT_HEADER_SIZE) yield* liveRecordsOf(dir, fs, segment, authoritative, buffer);
    yield { scannedBytes: segment.msgsEnd };
  }
}


async function* liveRecordsOf(
  dir: string,
  fs: StoreFs,
  segment: SegmentAtCut,
  authoritative: ReadonlySet<number>,
  buffer: ReadBuffer,
): AsyncGenerator<LiveRecord> {
  const msgsPath = join(dir, Segment.fileName(segment.number, 'msgs'));
  const msgs = await readFileStart(fs, msgsPath, segment.msgsEnd, buffer);
  if (msgs.length < segment.msgsEnd) throw new Error(`${msgsPath} is shorter (${msgs.length} bytes) than when the standby's snapshot started (${segment.msgsEnd})`);
  // Two passes: the holders of every record first (all that lives through the segment's acks), then each
  // live record decoded only as it is handed out, so the decoded records die young.
  const byOffset = new Map<number, Holders>();
  for (let offset = SEGMENT_HEADER_SIZE; offset < msgs.length; ) {
    const result = readRecord(msgs, offset);
    if (result.kind === 'end' || result.kind === 'bad') {
      throw new Error(`${msgsPath} offset ${offset}: ${result.kind === 'bad' ? result.reason : 'no record'}, within what was written when the standby's snapshot started`);
    }
    if (result.kind === 'record') {
      const { movedFrom, queueIds } = result.record;
      if (movedFrom === undefined || !authoritative.has(movedFrom)) byOffset.set(offset, { queueIds: [...queueIds], delivered: undefined });
    }
    offset += result.size;
  }
  const acksPath = join(dir, Segment.fileName(segment.number, 'acks'));
  if (segment.acksEnd > SEGMENT_HEADER_SIZE && fs.exists(acksPath)) {
    const acks = await readFileStart(fs, acksPath, segment.acksEnd, new ReadBuffer());
    applyAckEntries(readAckEntries(acks, SEGMENT_HEADER_SIZE).entries, byOffset);
  }
  for (const [offset, holders] of byOffset) {
    if (holders.queueIds.length === 0) continue;
    const result = readRecord(msgs, offset);
    if (result.kind !== 'record') continue;
    yield { key: { segment: segment.number, offset }, record: result.record, holders: holders.queueIds, delivered: [...(holders.delivered ?? [])] };
  }
}

/** The first `length` bytes of a file (fewer if it is shorter), in `buffer`'s memory. */
async function readFileStart(fs: StoreFs, path: string, length: number, buffer: ReadBuffer): Promise<Buffer> {
  const file = await fs.open(path, false);
  try {
    const bytes = buffer.sized(length);
    return bytes.subarray(0, readFully(file, bytes, 0));
  } finally {
    await file.close();
  }
}
