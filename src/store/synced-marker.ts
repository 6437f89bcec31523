import type { Segment } from './segment.js';
import { encodeSyncedMarker, SYNCED_MARKER_OFFSET } from './segment-header.js';
import type { StoreFile } from './store-fs.js';

/** How long a quiet journal waits before the commit that only moves the synced-length marker. */
const CATCH_UP_MS = 500;
/** The least time between two marker writes while commits follow each other. */
const INTERVAL_MS = 100;

/**
 * Keeps the active segment's synced-length marker close to what completed
 * commits made durable, so recovery takes damage below it for corruption,
 * not for a torn write. A commit writes the marker with what the commits
 * before it made durable (its own bytes are not durable yet), at most every
 * INTERVAL_MS: a second dirty page slows an fdatasync. A journal gone quiet
 * gets one more commit, CATCH_UP_MS later, that moves only the marker.
 */
export class SyncedMarker {
  private writtenAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  /**
   * Writes the marker of `segment` if it lags and is due (always with
   * `force`, at close); returns the file for the commit to sync and the
   * length written, which the segment's markedSize takes once that sync is
   * done.
   */
  async write(segment: Segment, force: boolean): Promise<{ file: StoreFile; length: number } | undefined> {
    if (segment.msgs === undefined || !lags(segment)) return undefined;
    const now = performance.now();
    if (now - this.writtenAt < INTERVAL_MS && !force) return undefined;
    this.writtenAt = now;
    await segment.msgs.write(encodeSyncedMarker(segment.number, segment.syncedSize), SYNCED_MARKER_OFFSET);
    return { file: segment.msgs, length: segment.syncedSize };
  }

  /** After a commit: if the marker of `segment` still lags, asks for one more commit once the journal is quiet. */
  catchUpLater(segment: Segment, commit: (segment: Segment) => void): void {
    if (this.timer !== undefined || !lags(segment)) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (lags(segment)) commit(segment);
    }, CATCH_UP_MS).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** What completed commits made durable is past what the header says. */
export function lags(segment: Segment): boolean {
  return segment.syncedSize > segment.markedSize;
}
