import { join } from 'node:path';
import { Encoder } from '../protocol/encoder.js';
import { applyAckEntries, type Holders, readAckEntries } from './ack-entry.js';
import { type MessageRecord, readRecord, writeMessageRecord } from './journal-record.js';
import { readFully } from './read-buffer.js';
import type { JournalCut, SegmentAtCut } from './replication-port.js';
import { Segment } from './segment.js';
import { SEGMENT_HEADER_SIZE } from './segment-header.js';
import type { StoreFs } from './store-fs.js';
import { packLocation } from './stored-location.js';

/** A message some queue held at a cut. */
export interface LiveRecord {
  /** Where the record was at the cut (a packed location): what the primary's later acks name it by. */
  readonly key: number;
  /** An enqueue record with the original's epoch, sequence number and content, naming only the queues that held it. */
  readonly bytes: Buffer;
  /** Those of its queues that had delivered it, unacked. */
  readonly delivered: readonly number[];
}

/**
 * The messages queues held at a cut, read back from the segment files as
 * they were then (each .msgs and .acks file up to the cut's lengths), one
 * segment at a time, so memory stays within a segment's size. The rules are
 * recovery's: a compaction copy counts only when its source segment is gone
 * or superseded; a superseded segment is skipped for its copies. Holders
 * that are no longer queues (`isQueue`) are left out.
 */
export async function* liveRecordsAt(
  dir: string,
  fs: StoreFs,
  cut: JournalCut,
  isQueue: (id: number) => boolean,
): AsyncGenerator<{ readonly records: readonly LiveRecord[]; readonly scannedBytes: number }> {
  const authoritative = new Set(cut.segments.flatMap((s) => (s.superseded ? [] : [s.number])));
  for (const segment of cut.segments) {
    if (segment.superseded || segment.msgsEnd <= SEGMENT_HEADER_SIZE) {
      yield { records: [], scannedBytes: segment.msgsEnd };
      continue;
    }
    yield { records: await liveRecordsOf(dir, fs, segment, authoritative, isQueue), scannedBytes: segment.msgsEnd };
  }
}

interface Found extends Holders {
  readonly record: MessageRecord;
}

async function liveRecordsOf(dir: string, fs: StoreFs, segment: SegmentAtCut, authoritative: ReadonlySet<number>, isQueue: (id: number) => boolean): Promise<LiveRecord[]> {
  const msgsPath = join(dir, Segment.fileName(segment.number, 'msgs'));
  const msgs = await readFileStart(fs, msgsPath, segment.msgsEnd);
  if (msgs.length < segment.msgsEnd) throw new Error(`${msgsPath} is shorter (${msgs.length} bytes) than when the standby's snapshot started (${segment.msgsEnd})`);
  const byOffset = new Map<number, Found>();
  for (let offset = SEGMENT_HEADER_SIZE; offset < msgs.length; ) {
    const result = readRecord(msgs, offset);
    if (result.kind === 'end' || result.kind === 'bad') {
      throw new Error(`${msgsPath} offset ${offset}: ${result.kind === 'bad' ? result.reason : 'no record'}, within what was written when the standby's snapshot started`);
    }
    if (result.kind === 'record') {
      const { record } = result;
      const counts = record.movedFrom === undefined || !authoritative.has(record.movedFrom);
      if (counts) byOffset.set(offset, { record, queueIds: record.queueIds.filter(isQueue), delivered: undefined });
    }
    offset += result.size;
  }
  const acksPath = join(dir, Segment.fileName(segment.number, 'acks'));
  if (segment.acksEnd > SEGMENT_HEADER_SIZE && fs.exists(acksPath)) {
    const acks = await readFileStart(fs, acksPath, segment.acksEnd);
    applyAckEntries(readAckEntries(acks, SEGMENT_HEADER_SIZE).entries, byOffset);
  }
  const e = new Encoder();
  const live: LiveRecord[] = [];
  for (const [offset, found] of byOffset) {
    if (found.queueIds.length === 0) continue;
    writeMessageRecord(e, { ...found.record, queueIds: found.queueIds, movedFrom: undefined });
    live.push({ key: packLocation(segment.number, offset), bytes: e.take(), delivered: [...(found.delivered ?? [])] });
  }
  return live;
}

/** The first `length` bytes of a file (fewer if it is shorter). */
async function readFileStart(fs: StoreFs, path: string, length: number): Promise<Buffer> {
  const file = await fs.open(path, false);
  try {
    const bytes = Buffer.allocUnsafe(length);
    return bytes.subarray(0, readFully(file, bytes, 0));
  } finally {
    await file.close();
  }
}
