import { join } from 'node:path';
import type { Logger } from 'pino';
import { readPriority } from '../queue/message.js';
import { applyAckEntries, type Holders, readAckEntries } from './ack-entry.js';
import type { DamageRepair } from './damage-repair.js';
import { readRecord } from './journal-record.js';
import { ReadBuffer } from './read-buffer.js';
import { Segment } from './segment.js';
import { checkSegmentHeader, encodeSegmentHeader, SEGMENT_HEADER_SIZE, SegmentKind } from './segment-header.js';
import type { StoreFs } from './store-fs.js';

/**
 * A message found in the journal that some queue still holds: where it is,
 * not what it says (queues read it back when they deliver it), so recovering
 * millions of messages costs little memory.
 */
export interface RecoveredMessage extends Holders {
  readonly seq: number;
  readonly segment: number;
  readonly offset: number;
  /** Set when a delayed exchange holds it: when it is due. */
  readonly dueAt: number | undefined;
  /** Its priority property (0 when absent): a priority queue puts it back at its level without reading it again. */
  readonly priority: number;
}

/**
 * Damage to journal data that had been synced (a sealed segment, or the last
 * one below its synced-length marker): not a torn write, so never repaired
 * silently; the broker refuses to start.
 */
export class JournalCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`journal file ${file} is damaged at offset ${offset}: ${reason}. Those bytes had been synced, so this is not a torn write: refusing to start; nothing was changed`);
    this.name = 'JournalCorruptError';
  }
}

/** A journal file in a format this version does not read: refused whole, nothing changed. */
export class JournalFormatError extends Error {
  constructor(file: string, reason: string) {
    super(`journal file ${file} was ${reason}; refusing to start, nothing was changed`);
    this.name = 'JournalFormatError';
  }
}

/** Why a file's header is refused: an older format is not damage. */
function headerError(file: string, check: { reason: string; olderFormat: boolean }): Error {
  return check.olderFormat ? new JournalFormatError(file, check.reason) : new JournalCorruptError(file, 0, check.reason);
}

const PROGRESS_EVERY = 100_000;

/**
 * Replays the journal: reads every segment in order, applies its .acks file,
 * and hands each message queues still hold to `restore`, a segment at a time
 * (so the bookkeeping of a million messages never lives all at once). A bad or short record in the
 * last segment marks the end of what was ever confirmed: the segment is
 * truncated there. The same in an earlier, sealed segment is corruption.
 */
export async function recoverSegments(
  dir: string,
  fs: StoreFs,
  log: Logger,
  hooks: RecoveryHooks,
  repair: DamageRepair | undefined,
): Promise<{ segments: Segment[]; nextSeq: number; epoch: number }> {
  const { isQueue, restore } = hooks;
  const found = fs.list(dir).flatMap((name) => Segment.parseFileName(name) ?? []);
  // A crash came between a segment's Retired record and its deletion: the deletion is finished, not undone (its
  // acks may lack removals that went to compaction's copies only).
  for (const number of new Set(found.map((f) => f.number))) if (hooks.isRetired(number)) await deleteSegmentFiles(dir, fs, number);
  const files = found.filter((f) => !hooks.isRetired(f.number));
  const numbers = files.flatMap((f) => (f.kind === 'msgs' ? [f.number] : [])).sort((a, b) => a - b);
  const present = new Set(numbers);
  await deleteOrphanAcks(dir, fs, files, present);
  const segments: Segment[] = [];
  let restored = 0;
  // One buffer for every file read: a fresh one per 32 MiB segment is garbage the size of the journal.
  const scratch = new ReadBuffer();
  let nextSeq = 1;
  // The newest epoch any record names: a node carries on in it, and a promotion starts the one after it.
  let epoch = 0;
  let recordsRead = 0;
  const started = Date.now();
  for (const [index, number] of numbers.entries()) {
    const last = index === numbers.length - 1;
    const segment = new Segment(number);
    segment.fileDurable = true;
    const msgsPath = join(dir, Segment.fileName(number, 'msgs'));
    segment.msgs = await fs.open(msgsPath, false);
    const bytes = scratch.readAll(segment.msgs);
    const header = checkSegmentHeader(bytes, SegmentKind.Messages, number);
    if (!header.ok && (repair === undefined || header.olderFormat) && !(last && bytes.length < SEGMENT_HEADER_SIZE)) throw headerError(msgsPath, header);
    if (!header.ok && bytes.length >= SEGMENT_HEADER_SIZE) {
      await segment.msgs.close();
      await repair!.moveAside(msgsPath, header.reason);
      // Gone now: copies compaction made of its records count.
      present.delete(number);
      const acksPath = join(dir, Segment.fileName(number, 'acks'));
      if (fs.exists(acksPath)) await repair!.moveAside(acksPath, 'its segment was moved aside');
      continue;
    }
    if (!header.ok) {
      // The crash came while the newest segment was being created: start it again.
      await segment.msgs.truncate(0);
      await segment.msgs.write(encodeSegmentHeader(SegmentKind.Messages, number), 0);
      await segment.msgs.datasync();
    }
    // In the last segment, the bytes up to the marker were synced: damage there is not a torn tail.
    const synced = header.ok ? header.syncedLength : 0;
    const byOffset = new Map<number, RecoveredMessage>();
    let offset = SEGMENT_HEADER_SIZE;
    for (;;) {
      const result = readRecord(bytes, offset);
      if (result.kind === 'end' && offset === bytes.length) break;
      if (result.kind === 'definition' || result.kind === 'skipped' || result.kind === 'retired') {
        // Definitions and retired segments were read before the messages, by recoverDefinitions.
        const numbered = result.kind === 'definition' ? result.definition : result.kind === 'retired' ? result : undefined;
        if (numbered !== undefined) {
          nextSeq = Math.max(nextSeq, numbered.seq + 1);
          epoch = Math.max(epoch, numbered.epoch);
        }
        offset += result.size;
        continue;
      }
      if (result.kind !== 'record') {
        // Zeros with bytes after them: a hole a crash left (later pages reached the disk, earlier ones not).
        const reason = result.kind === 'bad' ? result.reason : 'zero bytes where a record should start';
        if (!last || offset < synced) {
          const damage = new JournalCorruptError(msgsPath, offset, last ? `${reason}, below the synced length ${synced} the header records` : `${reason}, in a sealed segment`);
          if (repair === undefined) throw damage;
          if ((await repair.setAside(segment.msgs, number, msgsPath, bytes, offset, damage.message)) === 'skipped') continue;
          break;
        }
        log.warn({ file: msgsPath, offset, reason }, 'journal ends in a torn or unsynced record; truncating there');
        // Synced, since this segment is sealed from now on: a later start must not find the torn tail again.
        await segment.msgs.truncate(offset);
        await segment.msgs.datasync();
        break;
      }
      const { record } = result;
      nextSeq = Math.max(nextSeq, record.seq + 1);
      epoch = Math.max(epoch, record.epoch);
      segment.pairs += record.queueIds.length;
      // A compaction copy whose source segment is still here was never switched to: the source, with its acks, holds the message.
      const copyOfPresent = record.movedFrom !== undefined && present.has(record.movedFrom);
      const holders = copyOfPresent ? [] : record.queueIds.filter(isQueue);
      if (holders.length > 0) {
        const priority = readPriority(record.rawProperties);
        byOffset.set(offset, { seq: record.seq, segment: number, offset, queueIds: holders, delivered: undefined, dueAt: record.dueAt, priority });
      }
      offset += result.size;
      if (++recordsRead % PROGRESS_EVERY === 0) {
        log.info({ records: recordsRead, segment: index + 1, segments: numbers.length, ms: Date.now() - started }, 'journal recovery in progress');
      }
    }
    if (offset < synced) {
      const damage = new JournalCorruptError(msgsPath, offset, `the file ends before the synced length ${synced} the header records`);
      if (repair === undefined) throw damage;
      log.error({ file: msgsPath, offset, synced }, 'force-recover: the journal file is shorter than what was synced; what it lost cannot be recovered');
      await repair.lowerMarker(segment.msgs, number, offset);
    }
    segment.msgsSize = Math.max(offset, SEGMENT_HEADER_SIZE);
    segment.writtenSize = segment.msgsSize;
    await applyAcks(dir, fs, segment, byOffset, scratch, repair);
    for (const m of byOffset.values()) {
      if (m.queueIds.length === 0) continue;
      segment.live += m.queueIds.length;
      restored++;
      restore(m);
    }
    segments.push(segment);
  }
  if (numbers.length > 0) {
    log.info({ records: recordsRead, messages: restored, segments: numbers.length, ms: Date.now() - started }, 'journal recovered');
  }
  return { segments, nextSeq, epoch };
}

/** What recovery needs from the store: which ids are live queues, where restored messages go, which segments were retired. */
export interface RecoveryHooks {
  /** Whether a queue (or delayed exchange) id still exists: records of others are garbage. */
  isQueue(id: number): boolean;
  /** Receives each message some queue still holds, in journal order. */
  restore(m: RecoveredMessage): void;
  /** Whether a Retired record names the segment: it was being deleted. */
  isRetired(segment: number): boolean;
}

/**
 * Deletes a segment's files: the .msgs file first, durably, so a crash in
 * between leaves an .acks file alone, which recovery deletes, never messages
 * without the acks that removed them.
 */
export async function deleteSegmentFiles(dir: string, fs: StoreFs, number: number): Promise<void> {
  const msgs = join(dir, Segment.fileName(number, 'msgs'));
  const acks = join(dir, Segment.fileName(number, 'acks'));
  if (fs.exists(msgs)) await fs.unlink(msgs);
  if (fs.exists(acks)) {
    await fs.syncDir(dir);
    await fs.unlink(acks);
  }
}

/**
 * Deleting a segment unlinks its .msgs file (durably) before its .acks file:
 * an .acks file alone is what a crash left of a deletion.
 */
async function deleteOrphanAcks(dir: string, fs: StoreFs, files: readonly { number: number; kind: string }[], withMessages: ReadonlySet<number>): Promise<void> {
  for (const f of files) {
    if (f.kind === 'acks' && !withMessages.has(f.number)) await fs.unlink(join(dir, Segment.fileName(f.number, 'acks')));
  }
}

/** Applies a segment's .acks file to its messages, dropping a torn tail. */
async function applyAcks(dir: string, fs: StoreFs, segment: Segment, byOffset: Map<number, RecoveredMessage>, scratch: ReadBuffer, repair: DamageRepair | undefined): Promise<void> {
  const path = join(dir, Segment.fileName(segment.number, 'acks'));
  if (!fs.exists(path)) return;
  segment.acks = await fs.open(path, false);
  const bytes = scratch.readAll(segment.acks);
  const header = checkSegmentHeader(bytes, SegmentKind.Acks, segment.number);
  if (!header.ok) {
    const damaged = bytes.length >= SEGMENT_HEADER_SIZE;
    if (damaged && (repair === undefined || header.olderFormat)) throw headerError(path, header);
    await segment.acks.close();
    segment.acks = undefined;
    // Without its acks, the segment's messages come back (redelivered, not lost).
    if (damaged) await repair!.moveAside(path, header.reason);
    // A creation cut short: the journal makes the file anew on its next ack.
    else await fs.unlink(path);
    return;
  }
  const { entries, validEnd } = readAckEntries(bytes, SEGMENT_HEADER_SIZE);
  if (validEnd < bytes.length) await segment.acks.truncate(validEnd);
  segment.acksSize = validEnd;
  applyAckEntries(entries, byOffset);
}
