import { join } from 'node:path';
import { Decoder } from '../protocol/decoder.js';
import { type DefinitionOp, type Definitions, readDefinitionOp, readSnapshot } from './definition-records.js';
import { readRecord } from './journal-record.js';
import { ReadBuffer } from './read-buffer.js';
import { Segment } from './segment.js';
import { checkSegmentHeader, SEGMENT_HEADER_SIZE, SegmentKind } from './segment-header.js';
import { nextReadableRecord } from './damage-repair.js';
import { readSegmentLists, type SegmentLists } from './segment-manifest.js';
import type { StoreFs } from './store-fs.js';

/** The definitions found in a journal: the newest snapshot and the operations after it, in order; and which segments it must have. */
export interface JournalDefinitions {
  readonly snapshot: Definitions;
  readonly ops: readonly DefinitionOp[];
  /** The segment whose snapshot this is. */
  readonly snapshotSegment: number;
  /** The older segments that existed when the snapshot was written. */
  readonly listedSegments: readonly number[];
  /** Segments retired (to be deleted) after the snapshot. */
  readonly retiredSegments: ReadonlySet<number>;
}

/** A definition record that does not decode although its checksum holds: written wrong, never repaired silently. */
export class DefinitionRecordError extends Error {
  constructor(file: string, offset: number, reason: string) {
    super(`journal file ${file}: the definition record at offset ${offset} does not decode (${reason}); refusing to start`);
    this.name = 'DefinitionRecordError';
  }
}

/**
 * Finds the newest segment that starts with an intact snapshot and reads
 * every definition record from there to the end of the journal. Usually that
 * is the last segment alone; it is the one before when a crash came while the
 * last one's snapshot was being written (the older segment is kept until a
 * newer snapshot is on disk). Stops quietly at a damaged record: recovering
 * the messages afterwards tells a torn tail from corruption and refuses the
 * latter. Undefined when no segment has a snapshot.
 */
export async function recoverDefinitions(dir: string, fs: StoreFs, numbers: readonly number[], skipDamage: boolean): Promise<JournalDefinitions | undefined> {
  const scratch = new ReadBuffer();
  for (let start = numbers.length - 1; start >= 0; start--) {
    const found = await leadingSnapshot(dir, fs, numbers[start]!, scratch);
    if (found === undefined) continue;
    const after = { ops: [] as DefinitionOp[], retired: new Set<number>(found.segments.retiring) };
    for (const number of numbers.slice(start)) await collectOps(dir, fs, number, scratch, after, skipDamage);
    return { snapshot: found.snapshot, ops: after.ops, snapshotSegment: numbers[start]!, listedSegments: found.segments.kept, retiredSegments: after.retired };
  }
  return undefined;
}

async function segmentBytes(dir: string, fs: StoreFs, number: number, scratch: ReadBuffer): Promise<{ path: string; bytes: Buffer } | undefined> {
  const path = join(dir, Segment.fileName(number, 'msgs'));
  const file = await fs.open(path, false);
  try {
    const bytes = scratch.readAll(file);
    return checkSegmentHeader(bytes, SegmentKind.Messages, number).ok ? { path, bytes } : undefined;
  } finally {
    await file.close();
  }
}

/** A snapshot payload: the segment list the journal writes, then the definitions. */
async function leadingSnapshot(dir: string, fs: StoreFs, number: number, scratch: ReadBuffer): Promise<{ snapshot: Definitions; segments: SegmentLists } | undefined> {
  const segment = await segmentBytes(dir, fs, number, scratch);
  if (segment === undefined) return undefined;
  const result = readRecord(segment.bytes, SEGMENT_HEADER_SIZE);
  if (result.kind !== 'definition' || !result.definition.snapshot) return undefined;
  return decode(segment.path, SEGMENT_HEADER_SIZE, () => {
    const d = new Decoder(result.definition.payload);
    const segments = readSegmentLists(d);
    return { segments, snapshot: readSnapshot(d) };
  });
}

/** Collects the segment's definition operations (not its snapshot) and retired segments, up to the first damaged record. */
async function collectOps(
  dir: string,
  fs: StoreFs,
  number: number,
  scratch: ReadBuffer,
  after: { ops: DefinitionOp[]; retired: Set<number> },
  skipDamage: boolean,
): Promise<void> {
  const { ops } = after;
  const segment = await segmentBytes(dir, fs, number, scratch);
  if (segment === undefined) return;
  const { path, bytes } = segment;
  for (let offset = SEGMENT_HEADER_SIZE; ; ) {
    const result = readRecord(bytes, offset);
    if (result.kind === 'end') return;
    if (result.kind === 'bad') {
      // --force-recover steps over damage to the records after it, as recovering the messages will.
      const next = skipDamage ? nextReadableRecord(bytes, offset) : undefined;
      if (next === undefined) return;
      offset = next;
      continue;
    }
    if (result.kind === 'retired') after.retired.add(result.segment);
    if (result.kind === 'definition' && !result.definition.snapshot) {
      const payload = result.definition.payload;
      ops.push(decode(path, offset, () => readDefinitionOp(new Decoder(payload))));
    }
    offset += result.size;
  }
}

function decode<T>(path: string, offset: number, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw new DefinitionRecordError(path, offset, (err as Error).message);
  }
}

/** The numbers of the journal's .msgs files, in order. */
export function segmentNumbers(dir: string, fs: StoreFs): number[] {
  return fs
    .list(dir)
    .flatMap((name) => {
      const f = Segment.parseFileName(name);
      return f?.kind === 'msgs' ? [f.number] : [];
    })
    .sort((a, b) => a - b);
}

/**
 * Whether any segment holds a record at all (or something unreadable that
 * might be one). A journal with none never confirmed anything: a first start
 * cut short before its snapshot reached the disk.
 */
export async function holdsAnyRecord(dir: string, fs: StoreFs, numbers: readonly number[]): Promise<boolean> {
  const scratch = new ReadBuffer();
  for (const number of numbers) {
    const file = await fs.open(join(dir, Segment.fileName(number, 'msgs')), false);
    try {
      const bytes = scratch.readAll(file);
      if (bytes.length <= SEGMENT_HEADER_SIZE) continue;
      if (!checkSegmentHeader(bytes, SegmentKind.Messages, number).ok || readRecord(bytes, SEGMENT_HEADER_SIZE).kind !== 'bad') return true;
    } finally {
      await file.close();
    }
  }
  return false;
}

/**
 * The epoch of the newest snapshot in a journal: what a node holds, as far as
 * replication goes (a promotion writes a snapshot in its new epoch at once).
 * 0 for an empty journal.
 */
export async function newestSnapshotEpoch(dir: string, fs: StoreFs): Promise<number> {
  if (!fs.exists(dir)) return 0;
  const scratch = new ReadBuffer();
  for (const number of segmentNumbers(dir, fs).reverse()) {
    const segment = await segmentBytes(dir, fs, number, scratch);
    const result = segment === undefined ? undefined : readRecord(segment.bytes, SEGMENT_HEADER_SIZE);
    if (result?.kind === 'definition' && result.definition.snapshot) return result.definition.epoch;
  }
  return 0;
}
