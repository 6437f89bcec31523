import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Decoder } from '../protocol/decoder.js';
import type { Encoder } from '../protocol/encoder.js';
import type { StoreFs } from './store-fs.js';
import { datasync, syncFailure } from './write-failure.js';

/**
 * Which segment files the journal must have, so that a missing one (an
 * operator's rm, a partial restore from a backup) is refused instead of
 * recovered around, losing its messages quietly:
 *
 * - every snapshot lists the older segments whose files are on disk when it
 *   is written;
 * - a segment is deleted only after a Retired record naming it is on disk
 *   (and a snapshot written meanwhile lists it as retiring), and a crash
 *   before the deletion finishes leaves it for recovery to delete;
 * - NEWEST names the newest segment ever created, written once that
 *   segment's file is on disk, so losing the newest file is seen too.
 */
export interface SegmentLists {
  /** Older segments whose files are on disk and still counted on. */
  readonly kept: readonly number[];
  /** Older segments a Retired record names, whose files may not be deleted yet. */
  readonly retiring: readonly number[];
}

export function writeSegmentLists(e: Encoder, lists: SegmentLists): void {
  for (const numbers of [lists.kept, lists.retiring]) {
    e.u32(numbers.length);
    for (const n of numbers) e.u32(n);
  }
}

export function readSegmentLists(d: Decoder): SegmentLists {
  const read = (): number[] => {
    const count = d.u32();
    const numbers: number[] = [];
    for (let i = 0; i < count; i++) numbers.push(d.u32());
    return numbers;
  };
  const kept = read();
  return { kept, retiring: read() };
}

/** The segments that should be there and are not. */
export function missingSegments(
  present: ReadonlySet<number>,
  snapshotSegment: number,
  listed: readonly number[],
  retired: ReadonlySet<number>,
  newest: number | undefined,
): number[] {
  const expected = new Set(listed.filter((n) => !retired.has(n)));
  // Every segment up to NEWEST was on disk once; from the snapshot's segment on, none is deleted before a newer
  // snapshot is on disk, and recovery would have taken that one. Past NEWEST, a crash may have taken a file
  // whose creation no commit completed: nothing of it was confirmed.
  for (let n = snapshotSegment; n <= (newest ?? 0); n++) expected.add(n);
  return [...expected].filter((n) => !present.has(n)).sort((a, b) => a - b);
}

/** A segment the journal says it has is gone: refused, since its messages would be lost without a word. */
export class MissingSegmentError extends Error {
  constructor(journalDir: string, missing: readonly number[]) {
    super(
      `the journal in ${journalDir} is missing segment file(s) ${missing.map((n) => `${String(n).padStart(10, '0')}.msgs`).join(', ')}, ` +
        'which it still holds records in. Refusing to start; nothing was changed. Put the file(s) back, or start with --force-recover to go on without them.',
    );
    this.name = 'MissingSegmentError';
  }
}

const NEWEST_FILE = 'NEWEST';

/** NEWEST: u32 segment number, u32 CRC-32 of it. Replaced whole (temp file, fdatasync, rename, directory sync). */
export async function writeNewest(dir: string, fs: StoreFs, segment: number): Promise<void> {
  const data = Buffer.allocUnsafe(8);
  data.writeUInt32BE(segment, 0);
  data.writeUInt32BE(crc32(data.subarray(0, 4)), 4);
  const temp = join(dir, `${NEWEST_FILE}.tmp`);
  const file = await fs.open(temp, true);
  try {
    await file.truncate(0);
    await file.write(data, 0);
    await datasync(file);
  } finally {
    await file.close();
  }
  await fs.rename(temp, join(dir, NEWEST_FILE));
  await syncFailure(fs.syncDir(dir));
}

/** The newest segment the journal created, or undefined when NEWEST is missing or unreadable (it is a check, not data). */
export function readNewest(dir: string, fs: StoreFs): number | undefined {
  const path = join(dir, NEWEST_FILE);
  if (!fs.exists(path)) return undefined;
  const data = fs.readFile(path);
  if (data.length !== 8 || crc32(data.subarray(0, 4)) !== data.readUInt32BE(4)) return undefined;
  return data.readUInt32BE(0);
}
