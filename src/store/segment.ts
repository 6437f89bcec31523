import type { StoreFile } from './store-fs.js';

/** A journal segment: the message records of one .msgs file and the .acks file beside it. */
export class Segment {
  msgs: StoreFile | undefined;
  acks: StoreFile | undefined;
  /** Bytes of the .msgs file, counting appends not yet written. */
  msgsSize = 0;
  /** Where the snapshot of the definitions that starts the segment ends (0 in a segment recovered from disk). */
  snapshotEnd = 0;
  /** Bytes of the .msgs file whose writes have completed: what a read may look at. */
  writtenSize = 0;
  /** Bytes of the .msgs file that a completed commit made durable. */
  syncedSize = 0;
  /** The synced length the .msgs header says, as far as it is on disk. */
  markedSize = 0;
  /** Bytes of the .acks file, counting entries not yet written. */
  acksSize = 0;
  /** (queue, message) pairs stored here that no queue has removed yet; at 0 the segment can go. */
  live = 0;
  /** (queue, message) pairs ever stored here, removed or not: with `live`, how much of the segment is garbage. */
  pairs = 0;
  /** `live` when compaction last looked: unchanged a second later means nobody is draining the segment right now. */
  liveAtLastLook = -1;
  /** `live` when a scan found too much still live to be worth copying: no new look until it changes. */
  keptAtLive = -1;
  /** Its .msgs file's directory entry is on disk (always, for a segment recovery found). */
  fileDurable = false;
  /** Sequence number of the Retired record naming it: the files go once that is on disk. */
  retiredAtSeq: number | undefined;
  /** Compacted: every live record has a durable copy elsewhere, so the files can go. */
  superseded = false;

  constructor(readonly number: number) {}

  static fileName(number: number, kind: 'msgs' | 'acks'): string {
    return `${String(number).padStart(10, '0')}.${kind}`;
  }

  static parseFileName(name: string): { number: number; kind: 'msgs' | 'acks' } | undefined {
    const m = /^(\d{10})\.(msgs|acks)$/.exec(name);
    return m ? { number: Number(m[1]), kind: m[2] as 'msgs' | 'acks' } : undefined;
  }
}
