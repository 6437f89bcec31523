import { join } from 'node:path';
import type { Logger } from 'pino';
import { RECORD_OVERHEAD, readRecord, writeSkippedRecord } from './journal-record.js';
import { encodeSyncedMarker, SYNCED_MARKER_OFFSET } from './segment-header.js';
import type { StoreFile, StoreFs } from './store-fs.js';

/** Beside the segments: what --force-recover could not read, kept for an operator to look at. */
const DAMAGED_DIR = 'damaged';

/**
 * What --force-recover does with damage that recovery would otherwise refuse:
 * it moves the unreadable bytes or files aside, into journal/damaged/, and
 * keeps everything readable after them. Nothing is ever deleted; each repair
 * is logged at error level with what it cost.
 */
export class DamageRepair {
  constructor(
    private readonly dir: string,
    private readonly fs: StoreFs,
    private readonly log: Logger,
  ) {}

  /**
   * Copies the damaged bytes from `offset` up to the next readable record
   * aside, then overwrites them in place (in `bytes` and in the file) with a
   * Skipped record, so every offset after them stays valid and recovery goes
   * on there. With no readable record after them, the file is cut at
   * `offset` instead. Returns which it did.
   */
  async setAside(file: StoreFile, segment: number, path: string, bytes: Buffer, offset: number, why: string): Promise<'skipped' | 'truncated'> {
    const next = nextReadableRecord(bytes, offset);
    const end = next ?? bytes.length;
    const keptAt = await this.keep(`${baseName(path)}.${offset}-${end}`, bytes.subarray(offset, end));
    if (next === undefined) {
      await file.truncate(offset);
      await this.lowerMarker(file, segment, offset);
    } else {
      writeSkippedRecord(bytes, offset, end - offset);
      await file.write(bytes.subarray(offset, end), offset);
    }
    await file.datasync();
    this.log.error({ file: path, offset, bytes: end - offset, keptAt, why }, 'force-recover: unreadable journal bytes moved aside; the messages in them are lost, the records after them kept');
    return next === undefined ? 'truncated' : 'skipped';
  }

  /** A file cut below its synced-length marker: the marker comes down with it, so the next start reads it as whole. */
  async lowerMarker(file: StoreFile, segment: number, length: number): Promise<void> {
    await file.write(encodeSyncedMarker(segment, length), SYNCED_MARKER_OFFSET);
    await file.datasync();
  }

  /** Moves a whole file whose header is unreadable aside. */
  async moveAside(path: string, why: string): Promise<void> {
    const target = join(this.damagedDir(), baseName(path));
    await this.fs.rename(path, target);
    await this.fs.syncDir(this.dir);
    this.log.error({ file: path, movedTo: target, why }, 'force-recover: journal file with an unreadable header moved aside; what it held is lost');
  }

  private damagedDir(): string {
    const dir = join(this.dir, DAMAGED_DIR);
    this.fs.mkdir(dir);
    return dir;
  }

  private async keep(name: string, data: Buffer): Promise<string> {
    const dir = this.damagedDir();
    const path = join(dir, name);
    const file = await this.fs.open(path, true);
    try {
      await file.write(data, 0);
      await file.datasync();
    } finally {
      await file.close();
    }
    await this.fs.syncDir(dir);
    return path;
  }
}

/**
 * The first offset after `from` where a whole record with a good checksum
 * starts, far enough on for a Skipped record to fill the gap.
 */
export function nextReadableRecord(bytes: Buffer, from: number): number | undefined {
  for (let at = from + RECORD_OVERHEAD; at + RECORD_OVERHEAD <= bytes.length; at++) {
    const kind = readRecord(bytes, at).kind;
    if (kind !== 'bad' && kind !== 'end') return at;
  }
  return undefined;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
